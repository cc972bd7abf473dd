package queue

import (
	"fmt"
	"time"
)

// The queue knows a failure by the predicates of package inviter, not by
// the client that made it. These errors report themselves the way a client's
// classified errors do (isc's tests check that its errors do the same).

// rateLimitedError is a call refused for a rate limit: wait is what the
// client passes on, requested what the service asked for before a cap.
type rateLimitedError struct {
	wait, requested time.Duration
}

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("invite: rate limited (retry after %s)", e.wait)
}

func (e *rateLimitedError) RetryWait() time.Duration     { return e.wait }
func (e *rateLimitedError) RequestedWait() time.Duration { return max(e.requested, e.wait) }

// permanentError is an answer about the identities in the call that the
// same call would get again.
type permanentError struct {
	status int
	msg    string
}

func (e *permanentError) Error() string {
	return fmt.Sprintf("invite: answered %d: %s", e.status, e.msg)
}

func (e *permanentError) Permanent() bool { return true }

// configError is a refusal of inviter's own credentials or settings.
type configError struct {
	status int
	msg    string
}

func (e *configError) Error() string {
	return fmt.Sprintf("invite: refused inviter's credentials (%d): %s", e.status, e.msg)
}

func (e *configError) ConfigProblem() bool { return true }
