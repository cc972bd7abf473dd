package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/inviter/inviter/internal/harness"
)

// randomToken returns a fresh webhook bearer token.
func randomToken() string { return harness.NewToken() }

// TestDemo runs inviter demo end to end on a small tenant, through the app
// package: it subscribes, creates the wave and prints a summary in which
// every new identity was invited exactly once.
func TestDemo(t *testing.T) {
	t.Parallel()
	for _, api := range []string{"public", "cc"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			r := runInviter(t, testContext(t), nil, "demo", "--api", api, "--users", "200", "--new", "40",
				"--visibility-delay", "300ms", "--timeout", "1m")
			if r.err != nil {
				t.Fatalf("demo: %v\n%s%s", r.err, r.stdout, r.stderr)
			}
			for _, want := range []string{
				"subscribed to idn:identity-created (subscription ",
				"faults on: 5 % of API calls answer 5xx, 2 % are reset",
				"creating 40 new identities…",
				"  new identities        40\n",
				"  events delivered      40\n",
				"  invited exactly once  40   (more than once: 0)\n",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("the output lacks %q:\n%s", want, r.stdout)
				}
			}
			header := regexp.MustCompile(`(?m)^fake tenant http://127\.0\.0\.1:\d+ with 200 users; daemon on http://127\.0\.0\.1:\d+ \(SQLite \S+inviter\.db, ` + api + ` API\)$`)
			if !header.MatchString(r.stdout) {
				t.Errorf("no header line:\n%s", r.stdout)
			}
			if got := strings.Count(r.stdout, "  event     "); got != 5 {
				t.Errorf("%d event lines, want the first 5:\n%s", got, r.stdout)
			}
		})
	}
}

func TestDemoFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"demo", "--new", "0"},
		{"demo", "--users", "-1"},
		{"demo", "--api", "soap"},
	} {
		r := runInviter(t, testContext(t), nil, args...)
		if exitCode(r.err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, exitCode(r.err), r.err)
		}
	}
}
