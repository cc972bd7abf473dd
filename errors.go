package inviter

import (
	"errors"
	"time"
)

// The queue decides what to do with a failed call by asking its error, not
// by knowing which client made it: an error says what kind of failure it is
// by a method, and the predicates below look for that method anywhere in the
// error's chain (errors.Unwrap, and Unwrap() []error).

// RateLimited is implemented by the error of a call that the remote service
// refused for its rate limit (ISC's 429 Too Many Requests).
type RateLimited interface {
	error
	// RetryWait returns how long to wait before sending the call again:
	// what the service asked for, capped by the client; zero when the
	// service named no wait.
	RetryWait() time.Duration
	// RequestedWait returns the wait the service asked for before the
	// client's cap; at least RetryWait.
	RequestedWait() time.Duration
}

// PermanentFailure is implemented by the error of a call that fails the
// same way when sent again unchanged (ISC's 4xx answers about the
// identities in the call). Permanent reports whether the error is one.
type PermanentFailure interface {
	Permanent() bool
}

// TransientFailure is implemented by the error of a call that may pass when
// sent again (a 5xx answer, a timeout, a reset connection).
// Transient reports whether the error is one.
type TransientFailure interface {
	Transient() bool
}

// ConfigFailure is implemented by the error of a call refused because of
// inviter's own configuration (its credentials, their rights, the base URL,
// the API path) rather than the identities in the call: the call succeeds
// unchanged once an operator fixes the setting. ConfigProblem reports
// whether the error is one.
type ConfigFailure interface {
	ConfigProblem() bool
}

// RetryAfter returns the wait a RateLimited error in err's chain asks for
// (RetryWait), and whether there is one.
func RetryAfter(err error) (time.Duration, bool) {
	var r RateLimited
	if errors.As(err, &r) {
		return r.RetryWait(), true
	}
	return 0, false
}

// RequestedRetryAfter returns the wait a RateLimited error in err's chain
// asked for before the client's cap (RequestedWait), or zero when there is
// none.
func RequestedRetryAfter(err error) time.Duration {
	var r RateLimited
	if errors.As(err, &r) {
		return r.RequestedWait()
	}
	return 0
}

// IsPermanent reports whether an error in err's chain is a PermanentFailure
// whose Permanent method reports true.
func IsPermanent(err error) bool {
	return anyInChain(err, func(e error) bool {
		p, ok := e.(PermanentFailure)
		return ok && p.Permanent()
	})
}

// IsTransient reports whether err is worth retrying: an error in its chain
// is a TransientFailure whose Transient method reports true, or is
// RateLimited.
func IsTransient(err error) bool {
	if _, ok := RetryAfter(err); ok {
		return true
	}
	return anyInChain(err, func(e error) bool {
		t, ok := e.(TransientFailure)
		return ok && t.Transient()
	})
}

// IsConfigProblem reports whether an error in err's chain is a
// ConfigFailure whose ConfigProblem method reports true.
func IsConfigProblem(err error) bool {
	return anyInChain(err, func(e error) bool {
		c, ok := e.(ConfigFailure)
		return ok && c.ConfigProblem()
	})
}

// anyInChain reports whether match holds for err or any error it wraps,
// depth first as errors.As walks the tree.
func anyInChain(err error, match func(error) bool) bool {
	for err != nil {
		if match(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if anyInChain(e, match) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// TransientError is a failure that may pass when the call is made again,
// made by inviter itself rather than by a client: an answer missing for an
// identity, a panic in the code that sends invites.
type TransientError struct {
	Op  string // what failed, e.g. "invite"; may be empty
	Err error  // why; must not be nil
}

// Error returns Op and Err's message, as "op: message".
func (e *TransientError) Error() string {
	if e.Op == "" {
		return e.Err.Error()
	}
	return e.Op + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *TransientError) Unwrap() error { return e.Err }

// Transient reports true: the failure may pass when the call is made again.
func (e *TransientError) Transient() bool { return true }
