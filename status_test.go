package inviter

import (
	"strings"
	"testing"
)

func TestClassifyStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status string
		want   StatusClass
	}{
		{"UNREGISTERED", StatusInvitable},
		{"unregistered", StatusInvitable},
		{" PENDING ", StatusUnknown},
		{"", StatusInvitable},
		{"ACTIVE", StatusRegistered},
		{"REGISTERED", StatusRegistered},
		{"LOCKED", StatusRegistered},
		{"ERROR", StatusUnknown},
		{"WARNING", StatusUnknown},
		{"DISABLED", StatusUnknown},
		{"DEACTIVATED", StatusUnknown},
		{"TERMINATED", StatusUnknown},
		{"SOMETHING_NEW", StatusUnknown},
	}
	for _, c := range cases {
		got, reason := ClassifyStatus(c.status)
		if got != c.want {
			t.Errorf("ClassifyStatus(%q) = %s, want %s", c.status, got, c.want)
		}
		if reason == "" {
			t.Errorf("ClassifyStatus(%q): empty reason", c.status)
		}
		if got == StatusUnknown && !strings.Contains(reason, strings.ToUpper(strings.TrimSpace(c.status))) {
			t.Errorf("ClassifyStatus(%q): reason %q does not name the status", c.status, reason)
		}
		if IsStatusSkip(reason) != (got == StatusUnknown) {
			t.Errorf("IsStatusSkip(%q) = %v for class %s", reason, IsStatusSkip(reason), got)
		}
	}
}

// TestStatusTableCoversTheSpecEnum: every identityStatus value of the
// v2025 and beta specs has a row (a value missing would be skipped as
// unknown, which the table should say on purpose).
func TestStatusTableCoversTheSpecEnum(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"UNREGISTERED", "REGISTERED", "PENDING", "WARNING", "DISABLED", "ACTIVE", "DEACTIVATED", "TERMINATED", "ERROR", "LOCKED"} {
		if _, ok := statusTable[s]; !ok {
			t.Errorf("status %s has no row in the table", s)
		}
	}
}

func TestIdentityRegisteredFollowsTheTable(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]bool{"UNREGISTERED": false, "PENDING": false, "DISABLED": false, "ACTIVE": true, "LOCKED": true, "": false} {
		if got := (Identity{Status: status}).Registered(); got != want {
			t.Errorf("Identity{Status: %q}.Registered() = %v, want %v", status, got, want)
		}
	}
}
