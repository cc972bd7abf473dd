package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzAttrs are attribute sets every parsed rule is evaluated against.
var fuzzAttrs = []map[string]any{
	nil,
	{"cloudLifecycleState": "active", "department": "Sales", "count": 3.0, "startDate": "2026-04-01"},
	{"cloudLifecycleState": nil, "tags": []any{"a", 1.0, true, nil}, "manager": map[string]any{"id": "x"}},
	{"": "", "a b": "c\"d", "é": "ü", "startDate": "2026-04-01T09:00:00Z"},
}

// FuzzParseRule checks that any rule text either parses or is refused with
// a *RuleError, that a parsed rule's canonical form (String) parses back
// to the same rule, and that evaluating it never panics.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"cloudLifecycleState in (active, prehire)",
		`department != "Contractors"`,
		"cloudLifecycleState IN (active,prehire)",
		"email present", "manager absent",
		`email ~ "@example\.com$"`, `title !~ "(?i)intern"`,
		`"odd name" = "a \"quoted\" value"`,
		"count = 3", "startDate not in (2026-01-01, \"x, y\")",
		"= x", "a in (", `a ~ "("`, "a present extra", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRule(s)
		if err != nil {
			if _, ok := errors.AsType[*RuleError](err); !ok {
				t.Fatalf("parseRule(%q) = %v (%T), want a *RuleError", s, err, err)
			}
			return
		}
		canon := r.String()
		r2, err := parseRule(canon)
		if err != nil {
			t.Fatalf("parseRule(%q) ok, but its String %q does not parse: %v", s, canon, err)
		}
		if got := r2.String(); got != canon {
			t.Fatalf("parseRule(%q).String() = %q, which parses to %q", s, canon, got)
		}
		p := &Policy{rules: []*rule{r}}
		for _, attrs := range fuzzAttrs {
			p.Matches(attrs)
			p.Decide(attrs, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		}
		_ = p.String()
	})
}

// FuzzParseFile checks that any policy file either loads or is refused
// with an error naming the file, and that a loaded one builds a Policy or
// is refused by New, never panicking.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"# invite active joiners\ncloudLifecycleState in (active, prehire)\nstart-date-attribute: startDate\ninvite-days-before: 3\ntimezone: Europe/Berlin\n",
		"\uFEFFdepartment != Contractors # not them\n",
		"invite-days-before: 0\nstart-date-attribute: startDate\n",
		"timezone: Nowhere/City\n", "invite-days-before: x\n", "start-date-attribute: a\nstart-date-attribute: b\n",
		"a = \"unterminated\n", "\n\n  \t\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseFile("policy.conf", data)
		if err != nil {
			if !strings.Contains(err.Error(), "policy.conf") {
				t.Fatalf("parseFile error %q does not name the file", err)
			}
			return
		}
		p, err := New(cfg)
		if err != nil {
			return
		}
		for _, attrs := range fuzzAttrs {
			p.Decide(attrs, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		}
	})
}
