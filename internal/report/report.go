// Package report renders what inviter's one-shot commands report (status,
// audit trail, jobs and retried jobs, invite and reconcile results, a
// database copy, trigger subscriptions, doctor checks): aligned tables for
// people, JSON and CSV for scripts, with the record types that fix the
// JSON's field names.
package report

import "github.com/inviter/inviter/queue"

// JobStates returns the job states in the order the reports show them:
// River's, except that a job that gave up (River's cancelled or discarded)
// is "failed", as the identity is.
func JobStates() []string {
	return []string{"available", "scheduled", "running", "retryable", "completed", queue.StateFailed, "pending"}
}

// jobState is the state the reports show for River's state s.
func jobState(s string) string {
	if queue.Failed(s) {
		return queue.StateFailed
	}
	return s
}

// shownState is River's state s for people: "failed (cancelled)" for a job
// that gave up.
func shownState(s string) string {
	if t := jobState(s); t != s {
		return t + " (" + s + ")"
	}
	return s
}
