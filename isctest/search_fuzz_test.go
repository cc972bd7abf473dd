package isctest

import (
	"strings"
	"testing"
	"time"
)

// FuzzSearchQuery checks that the search's query parser never panics, and
// that a query it accepts means the same in parentheses and the opposite
// after NOT.
func FuzzSearchQuery(f *testing.F) {
	for _, q := range []string{
		"*", "status:UNREGISTERED", `created:{"2026-01-01T00:00:00.000Z" TO *}`,
		"created:[now-7d TO now] AND NOT status:ACTIVE", "created:>=2026-01-01", "name:a* OR (email:\"x@y\" && -id:1)",
		"created:>now-1M/d", "attributes.cloudStatus:UNREGISTERED", "created:[* TO 2026-02-01]", "((", "a:", `"`, "created:{",
	} {
		f.Add(q)
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ids := []*identity{
		{Identity: Identity{ID: "a1", Name: "Ann Lee", Alias: "ann.lee", Email: "ann@example.com", Status: "UNREGISTERED",
			Created: now.Add(-48 * time.Hour), LifecycleState: "active", Attributes: map[string]any{"cloudStatus": "UNREGISTERED"}}, modified: now},
		{Identity: Identity{ID: "b2", Name: "Bo", Alias: "bo", Status: "ACTIVE", Created: now, LifecycleState: "inactive",
			Attributes: map[string]any{"cloudStatus": "ACTIVE", "n": 3}}, modified: now},
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseSearchQuery(s, now)
		if err != nil || strings.TrimSpace(s) == "" {
			return // an empty query matches everything; "()" is not a query
		}
		grouped, err := parseSearchQuery("("+s+")", now)
		if err != nil {
			t.Fatalf("%q parses, (%s) does not: %v", s, s, err)
		}
		negated, err := parseSearchQuery("NOT ("+s+")", now)
		if err != nil {
			t.Fatalf("%q parses, NOT (%s) does not: %v", s, s, err)
		}
		for _, id := range ids {
			m := q.match(id)
			if grouped.match(id) != m || negated.match(id) == m {
				t.Fatalf("%q on %s: %v, grouped %v, negated %v", s, id.ID, m, grouped.match(id), negated.match(id))
			}
		}
	})
}
