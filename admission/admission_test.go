package admission_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/policy"
)

func decider(t *testing.T, cfg policy.Config) admission.Decider {
	t.Helper()
	p, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Decider{Policy: p}
}

func TestChanged(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	rules := []string{"cloudLifecycleState in (active)", "department != Contractors"}
	d := decider(t, policy.Config{Rules: rules})
	scheduled := decider(t, policy.Config{Rules: rules[:1], StartDateAttribute: "startDate"})
	active := policy.Change{Attribute: "cloudLifecycleState", OldValue: "prehire", NewValue: "active"}
	for _, tc := range []struct {
		name    string
		d       admission.Decider
		changes []policy.Change
		want    admission.Verdict
		reason  string
	}{
		{"a rule's attribute is not in the event", d, []policy.Change{active}, admission.LookUp, "[department]"},
		{"every attribute is in the event", d, []policy.Change{active, {Attribute: "department", OldValue: "Contractors", NewValue: "Finance"}}, admission.Now, "matches all rules"},
		{"a contractor made active in one event", d, []policy.Change{active, {Attribute: "department", OldValue: "Sales", NewValue: "Contractors"}}, admission.Unchanged, "Contractors"},
		{"no rule on the change", d, []policy.Change{{Attribute: "title", OldValue: "A", NewValue: "B"}}, admission.Unchanged, "[title]"},
		{"the start date is not in the event", scheduled, []policy.Change{active}, admission.LookUp, "[startDate]"},
		{"a start date ahead in the event", scheduled, []policy.Change{active, {Attribute: "startDate", OldValue: nil, NewValue: "2026-07-01"}}, admission.Later, "startDate"},
		{"no policy", admission.Decider{}, []policy.Change{active}, admission.Unchanged, "no rules"},
	} {
		got := tc.d.Changed(tc.changes, now)
		if got.Verdict != tc.want || !strings.Contains(got.Reason, tc.reason) {
			t.Errorf("%s: %+v, want %s with a reason naming %q", tc.name, got, tc.want, tc.reason)
		}
		if got.Invites() != (tc.want == admission.Now || tc.want == admission.Later) {
			t.Errorf("%s: Invites() = %v", tc.name, got.Invites())
		}
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	d := decider(t, policy.Config{Rules: []string{"department != Contractors"}, StartDateAttribute: "startDate"})
	staff := map[string]any{"department": "Finance"}
	for _, tc := range []struct {
		name string
		id   inviter.Identity
		want admission.Verdict
	}{
		{"unregistered, matching", inviter.Identity{Status: "UNREGISTERED", Attributes: staff}, admission.Now},
		{"registered", inviter.Identity{Status: "ACTIVE", Attributes: staff}, admission.Never},
		{"a status inviter does not invite", inviter.Identity{Status: "SOMETHING", Attributes: staff}, admission.Never},
		{"a contractor", inviter.Identity{Status: "UNREGISTERED", Attributes: map[string]any{"department": "Contractors"}}, admission.Never},
		{"starting in a month", inviter.Identity{Status: "UNREGISTERED", Attributes: map[string]any{"department": "Finance", "startDate": "2026-07-01"}}, admission.Later},
	} {
		got := d.Identity(tc.id, now)
		if got.Verdict != tc.want || got.Reason == "" {
			t.Errorf("%s: %+v, want %s with a reason", tc.name, got, tc.want)
		}
		if tc.want == admission.Later && !got.At.After(now) {
			t.Errorf("%s: At %s not after now", tc.name, got.At)
		}
	}
	if got := d.Identity(inviter.Identity{Status: "SOMETHING"}, now); !inviter.IsStatusSkip(got.Reason) {
		t.Errorf("a status skip's reason %q is not one reconcile decides again", got.Reason)
	}
	if got := (admission.Decider{}).Created(nil, now); got.Verdict != admission.Now {
		t.Errorf("no policy: %+v, want now", got)
	}
}
