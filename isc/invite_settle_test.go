package isc

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/inviter/inviter"
)

// settleCase is a completed task as some tenant may report it.
func settleTask(t *testing.T, status string, messages ...string) TaskStatus {
	t.Helper()
	ts := TaskStatus{ID: "task1", CompletionStatus: &status}
	for _, m := range messages {
		var tm TaskStatusMessage
		if err := json.Unmarshal([]byte(m), &tm); err != nil {
			t.Fatal(err)
		}
		ts.Messages = append(ts.Messages, tm)
	}
	return ts
}

// TestSettleByTheTask: what each completed task means for the ids of the
// call, including tasks whose messages cannot be matched to ids.
func TestSettleByTheTask(t *testing.T) {
	t.Parallel()
	const a, b, c = "2c9180835d2e5168015d32f890ca1581", "2c9180835d2e5168015d32f890ca1582", "2c9180835d2e5168015d32f890ca1583"
	type want struct {
		outcome inviter.Outcome
		reason  string
	}
	cases := []struct {
		name  string
		task  TaskStatus
		known map[string]inviter.Identity
		want  map[string]want
	}{
		{"error naming no id, explained by the lookup", settleTask(t, "ERROR", `{"type":"ERROR","key":"k","localizedText":{"locale":"en-US","message":"An identity has no email address"}}`),
			map[string]inviter.Identity{a: {ID: a, Email: "a@example.com"}, b: {ID: b}, c: {ID: c, Email: "c@example.com"}},
			map[string]want{a: {inviter.OutcomeInvited, ""}, b: {inviter.OutcomeFailed, "no email address"}, c: {inviter.OutcomeInvited, ""}}},
		{"error naming no id, not explained (two without email, one message)", settleTask(t, "ERROR", `{"type":"ERROR","key":"k"}`),
			map[string]inviter.Identity{a: {ID: a, Email: "a@example.com"}, b: {ID: b}, c: {ID: c}},
			map[string]want{a: {inviter.OutcomeFailed, "unknown"}, b: {inviter.OutcomeFailed, "unknown"}, c: {inviter.OutcomeFailed, "unknown"}}},
		{"success", settleTask(t, "SUCCESS"), nil,
			map[string]want{a: {inviter.OutcomeInvited, ""}, b: {inviter.OutcomeInvited, ""}, c: {inviter.OutcomeInvited, ""}}},
		{"success with an informational message", settleTask(t, "SUCCESS", `{"type":"INFO","key":"x","localizedText":{"locale":"en-US","message":"3 identities invited"}}`), nil,
			map[string]want{a: {inviter.OutcomeInvited, ""}, b: {inviter.OutcomeInvited, ""}, c: {inviter.OutcomeInvited, ""}}},
		{"warning naming the skipped id in parameters", settleTask(t, "WARNING", `{"type":"WARN","key":"k","parameters":[{"id":"`+b+`"}]}`), nil,
			map[string]want{a: {inviter.OutcomeInvited, ""}, b: {inviter.OutcomeNotFound, "ISC skipped"}, c: {inviter.OutcomeInvited, ""}}},
		{"error naming the id in its text", settleTask(t, "ERROR", `{"type":"ERROR","key":"k","localizedText":{"locale":"en-US","message":"Identity `+c+` has no email address"}}`), nil,
			map[string]want{a: {inviter.OutcomeInvited, ""}, b: {inviter.OutcomeInvited, ""}, c: {inviter.OutcomeFailed, "has no email address"}}},
		{"warning whose message names no id", settleTask(t, "WARNING", `{"type":"WARN","key":"idn.invite.skipped","localizedText":{"locale":"en-US","message":"1 identity was skipped"}}`), nil,
			map[string]want{a: {inviter.OutcomeFailed, "unknown"}, b: {inviter.OutcomeFailed, "unknown"}, c: {inviter.OutcomeFailed, "1 identity was skipped"}}},
		{"warning, one message matched and one not", settleTask(t, "WARNING", `{"type":"WARN","parameters":[{"id":"`+a+`"}]}`, `{"type":"WARN","key":"something"}`), nil,
			map[string]want{a: {inviter.OutcomeNotFound, "ISC skipped"}, b: {inviter.OutcomeFailed, "something"}, c: {inviter.OutcomeFailed, "unknown"}}},
		{"error without messages", settleTask(t, "ERROR"), nil,
			map[string]want{a: {inviter.OutcomeFailed, "no messages"}, b: {inviter.OutcomeFailed, "no messages"}, c: {inviter.OutcomeFailed, "no messages"}}},
		{"terminated", settleTask(t, "TERMINATED"), nil,
			map[string]want{a: {inviter.OutcomeFailed, "TERMINATED"}, b: {inviter.OutcomeFailed, "TERMINATED"}, c: {inviter.OutcomeFailed, "TERMINATED"}}},
		{"no task named", TaskStatus{}, nil,
			map[string]want{a: {inviter.OutcomeInvited, "not verified"}, b: {inviter.OutcomeInvited, "not verified"}, c: {inviter.OutcomeInvited, "not verified"}}},
	}
	for _, tc := range cases {
		in := &Inviter{cfg: InviterConfig{TaskWait: 1}}
		batch := []string{a, b, c}
		res := map[string]*inviter.Result{}
		for _, id := range batch {
			res[id] = &inviter.Result{IdentityID: id}
		}
		in.settle(context.Background(), tc.task, batch, res, tc.known)
		for id, w := range tc.want {
			r := res[id]
			if r.Outcome != w.outcome || !strings.Contains(r.Reason, w.reason) {
				t.Errorf("%s: %s: %s (%s), want %s (%q)", tc.name, id, r.Outcome, r.Reason, w.outcome, w.reason)
			}
			if r.Outcome == inviter.OutcomeFailed && !IsPermanent(r.Err) {
				t.Errorf("%s: %s: failed with %v, want a permanent error (never sent again by the queue)", tc.name, id, r.Err)
			}
			if tc.task.CompletionStatus != nil && r.CompletionStatus != *tc.task.CompletionStatus {
				t.Errorf("%s: %s: completion status %q", tc.name, id, r.CompletionStatus)
			}
		}
	}
}
