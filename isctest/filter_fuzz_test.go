package isctest

import (
	"strings"
	"testing"
)

// FuzzParseFilter checks that any `filters` text either parses or is
// refused with an error (never a panic), and that a parsed filter can be
// evaluated against any item, its negation giving the other answer.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`id eq "2c9180835d2e5168015d32f890ca1581"`,
		`id in ("a","b","c")`,
		`name sw "Jo" and not (email eq "x@example.com" or correlated eq true)`,
		`cloudStatus eq "UNREGISTERED"`,
		`NAME sw "a"`, `name SW "a"`, `id in ()`, `id in ("a",)`, `id eq`, `(id eq "a"`,
		`id eq "unterminated`, `id eq "esc\"aped\\"`, `not not id eq a`, `id eq a or`, "",
	} {
		f.Add(s)
	}
	fields := identityFilterFields()
	items := []map[string][]string{
		{},
		{"id": {"a"}, "name": {"John Smith"}, "email": {"x@example.com"}, "correlated": {"true"}},
		{"id": {"2c9180835d2e5168015d32f890ca1581"}, "name": {""}, "alias": {"jo", "JO"}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := parseFilter(s, fields)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("parseFilter(%q): empty error", s)
			}
			return
		}
		if expr == nil {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("parseFilter(%q) = nil, nil for a filter that is not blank", s)
			}
			return
		}
		for _, item := range items {
			get := func(field string) []string { return item[field] }
			got := expr.match(get)
			if neg := (notExpr{expr}).match(get); neg == got {
				t.Fatalf("parseFilter(%q) matches %v both ways", s, item)
			}
		}
	})
}
