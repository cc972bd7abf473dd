package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule string
		want string // canonical form
	}{
		{"department = Sales", "department = Sales"},
		{"department=Sales", "department = Sales"},
		{"department == Sales", "department = Sales"},
		{"  department   =   Human Resources  ", "department = Human Resources"},
		{"department != Contractors", "department != Contractors"},
		{"cloudLifecycleState in (active, prehire)", "cloudLifecycleState in (active, prehire)"},
		{"cloudLifecycleState IN(active,prehire)", "cloudLifecycleState in (active, prehire)"},
		{"cloudLifecycleState not in (inactive)", "cloudLifecycleState not in (inactive)"},
		{"cloudLifecycleState NOT   In (inactive)", "cloudLifecycleState not in (inactive)"},
		{"email present", "email present"},
		{"email PRESENT", "email present"},
		{"email absent", "email absent"},
		{`email ~ @example\.com$`, `email ~ @example\.com$`},
		{`email =~ x`, `email ~ x`},
		{`email !~ ^T`, `email !~ ^T`},
		{`department = "Sales, EMEA"`, `department = Sales, EMEA`},
		{`department in ("Sales, EMEA", "R&D (Lab)", IT)`, `department in ("Sales, EMEA", "R&D (Lab)", IT)`},
		{`department in ("Human Resources", IT)`, `department in ("Human Resources", IT)`},
		{`tag in (#1, a"b)`, `tag in ("#1", a"b)`},
		{`department = ""`, `department = ""`},
		{`department = "  padded "`, `department = "  padded "`},
		{`"display name" = Jane`, `"display name" = Jane`},
		{`name = "Jane \"JD\" Doe"`, `name = Jane "JD" Doe`},
		{`path = "C:\\dir"`, `path = C:\dir`},
		{`id ~ "^\d+$"`, `id ~ ^\d+$`},
		{`department = R&D # research`, `department = R&D`},
		{`code = A#1`, `code = A#1`},
		{`code = "# not a comment"`, `code = "# not a comment"`},
		{`cloudLifecycleState in (active) # joiners`, `cloudLifecycleState in (active)`},
		{`email present # must have a mail`, `email present`},
		{`name = O'Brien`, `name = O'Brien`},
		{`über = ja`, `über = ja`},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			r, err := parseRule(tt.rule)
			if err != nil {
				t.Fatalf("parseRule(%q): %v", tt.rule, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("parseRule(%q).String() = %q, want %q", tt.rule, got, tt.want)
			}
			// The canonical form parses back to itself.
			r2, err := parseRule(r.String())
			if err != nil {
				t.Fatalf("parseRule(%q) (canonical): %v", r.String(), err)
			}
			if r2.String() != r.String() {
				t.Errorf("round trip: %q, then %q", r.String(), r2.String())
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule   string
		column int
		msg    string // substring of RuleError.Msg
	}{
		{"", 1, "empty rule"},
		{"   # just a comment", 4, "empty rule"},
		{"= Sales", 1, "expected an attribute name"},
		{"department", 11, "expected an operator"},
		{"department is Sales", 12, `expected an operator (=, !=, ~, !~, in, not in, present, absent) after "department", got "is"`},
		{"department =", 13, "missing value"},
		{"department = # comment", 14, "missing value"},
		{"department !=   ", 17, "missing value"},
		{`department = "Sales`, 14, "unterminated quoted string"},
		{`"department = Sales`, 1, "unterminated quoted string"},
		{`"" = x`, 1, "empty attribute name"},
		{`department = "Sales" extra`, 22, `unexpected "extra"`},
		{"cloudLifecycleState in active", 24, `expected "(" to start the list`},
		{"cloudLifecycleState in (active, prehire", 24, `missing ")"`},
		{"cloudLifecycleState in ()", 25, "empty list"},
		{"cloudLifecycleState in (a,,b)", 27, "empty value in the list"},
		{"cloudLifecycleState in (a,)", 27, `empty value before ")"`},
		{`cloudLifecycleState in (a "b")`, 27, `expected "," or ")"`},
		{`cloudLifecycleState in (active prehire)`, 32, `expected "," or ")" in the list, got "prehire)" (write a value that holds spaces in quotes)`},
		{`department in (Human Resources, IT)`, 22, `got "Resources,"`},
		{"cloudLifecycleState in (a) b", 28, `unexpected "b"`},
		{"cloudLifecycleState not (a)", 21, `expected "not in"`},
		{"email present yes", 15, `unexpected "yes"`},
		{"email ~ (", 9, "invalid regular expression: missing closing ): `(`"},
		{"email ~ [a-", 9, "invalid regular expression"},
		{"über ist x", 6, "expected an operator"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			_, err := parseRule(tt.rule)
			re, ok := errors.AsType[*RuleError](err)
			if !ok {
				t.Fatalf("parseRule(%q) = %v, want a *RuleError", tt.rule, err)
			}
			if re.Column != tt.column || !strings.Contains(re.Msg, tt.msg) || re.Rule != tt.rule {
				t.Errorf("parseRule(%q) = column %d, %q (rule %q); want column %d, %q", tt.rule, re.Column, re.Msg, re.Rule, tt.column, tt.msg)
			}
		})
	}
}

func TestNewErrorNamesRule(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Rules: []string{"email present", "department in (Sales"}})
	if err == nil {
		t.Fatal("New: no error")
	}
	want := `policy rule 2 "department in (Sales": column 15: missing ")" to close the list`
	if err.Error() != want {
		t.Errorf("New: %v\nwant %s", err, want)
	}
	re, ok := errors.AsType[*RuleError](err)
	if !ok || re.Index != 2 || re.Column != 15 {
		t.Errorf("New: %#v, want a *RuleError with Index 2, Column 15", err)
	}
}
