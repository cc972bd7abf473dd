package isc

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter"
)

// TestErrorsClassify: each of the client's errors reports its kind through
// the predicates of package inviter, which is all the queue asks.
func TestErrorsClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		err                          error
		permanent, transient, config bool
		rateLimited                  bool
	}{
		{name: "permanent", err: &PermanentError{Endpoint: "e", Status: 400}, permanent: true},
		{name: "transient", err: &TransientError{Endpoint: "e", Status: 503, Err: errors.New("x")}, transient: true},
		{name: "rate limited", err: &RateLimitedError{Endpoint: "e", RetryAfter: time.Minute, Requested: time.Hour}, transient: true, rateLimited: true},
		{name: "auth", err: &AuthError{Endpoint: "e", Status: 401}, config: true},
		{name: "redirect", err: &RedirectError{Endpoint: "e", Status: 302}, config: true},
		{name: "route", err: &RouteError{Endpoint: "e", Status: 404}, config: true},
		{name: "cc removed", err: &ccRemovedError{Endpoint: "e", Status: 410}, config: true},
		{name: "cc removed, bare", err: ErrCCRemoved, config: true},
		{name: "wrapped permanent", err: fmt.Errorf("inviting: %w", &PermanentError{Endpoint: "e", Status: 404}), permanent: true},
		{name: "unclassified", err: errors.New("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := inviter.IsPermanent(tt.err); got != tt.permanent || IsPermanent(tt.err) != got {
				t.Errorf("IsPermanent = %v (isc %v), want %v", got, IsPermanent(tt.err), tt.permanent)
			}
			if got := inviter.IsTransient(tt.err); got != tt.transient || IsTransient(tt.err) != got {
				t.Errorf("IsTransient = %v (isc %v), want %v", got, IsTransient(tt.err), tt.transient)
			}
			if got := inviter.IsConfigProblem(tt.err); got != tt.config || IsConfigProblem(tt.err) != got {
				t.Errorf("IsConfigProblem = %v (isc %v), want %v", got, IsConfigProblem(tt.err), tt.config)
			}
			if _, ok := inviter.RetryAfter(tt.err); ok != tt.rateLimited {
				t.Errorf("RetryAfter ok = %v, want %v", ok, tt.rateLimited)
			}
		})
	}
}

func TestRateLimitedErrorWaits(t *testing.T) {
	t.Parallel()
	capped := &RateLimitedError{Endpoint: "e", RetryAfter: 10 * time.Minute, Requested: 24 * time.Hour}
	if w, ok := RetryAfter(fmt.Errorf("x: %w", capped)); !ok || w != 10*time.Minute {
		t.Errorf("RetryAfter = %s, %v", w, ok)
	}
	if r := inviter.RequestedRetryAfter(capped); r != 24*time.Hour {
		t.Errorf("RequestedRetryAfter = %s, want 24h", r)
	}
	if r := inviter.RequestedRetryAfter(&RateLimitedError{RetryAfter: time.Minute}); r != time.Minute {
		t.Errorf("RequestedRetryAfter without Requested = %s, want the wait", r)
	}
}
