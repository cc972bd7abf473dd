package inviter_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter"
)

type rateLimited struct{ wait, requested time.Duration }

func (e rateLimited) Error() string                { return "rate limited" }
func (e rateLimited) RetryWait() time.Duration     { return e.wait }
func (e rateLimited) RequestedWait() time.Duration { return e.requested }

type kind struct{ permanent, transient, config bool }

func (k kind) Error() string {
	return fmt.Sprintf("%+v", struct{ P, T, C bool }{k.permanent, k.transient, k.config})
}
func (k kind) Permanent() bool     { return k.permanent }
func (k kind) Transient() bool     { return k.transient }
func (k kind) ConfigProblem() bool { return k.config }

func TestPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		err                          error
		permanent, transient, config bool
		wait, requested              time.Duration
		rateLimited                  bool
	}{
		{name: "nil"},
		{name: "plain", err: errors.New("boom")},
		{name: "permanent", err: kind{permanent: true}, permanent: true},
		{name: "transient", err: kind{transient: true}, transient: true},
		{name: "config", err: kind{config: true}, config: true},
		{name: "reports false", err: kind{}},
		{name: "wrapped", err: fmt.Errorf("reading: %w", kind{config: true}), config: true},
		{name: "a false one over a true one", err: fmt.Errorf("%w: %w", kind{}, kind{permanent: true}), permanent: true},
		{name: "joined", err: errors.Join(errors.New("x"), fmt.Errorf("y: %w", kind{transient: true})), transient: true},
		{name: "rate limited", err: fmt.Errorf("call: %w", rateLimited{wait: time.Minute, requested: time.Hour}),
			transient: true, rateLimited: true, wait: time.Minute, requested: time.Hour},
		{name: "own transient", err: &inviter.TransientError{Op: "invite", Err: errors.New("no result")}, transient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := inviter.IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			if got := inviter.IsTransient(tt.err); got != tt.transient {
				t.Errorf("IsTransient = %v, want %v", got, tt.transient)
			}
			if got := inviter.IsConfigProblem(tt.err); got != tt.config {
				t.Errorf("IsConfigProblem = %v, want %v", got, tt.config)
			}
			if wait, ok := inviter.RetryAfter(tt.err); ok != tt.rateLimited || wait != tt.wait {
				t.Errorf("RetryAfter = %s, %v; want %s, %v", wait, ok, tt.wait, tt.rateLimited)
			}
			if got := inviter.RequestedRetryAfter(tt.err); got != tt.requested {
				t.Errorf("RequestedRetryAfter = %s, want %s", got, tt.requested)
			}
		})
	}
}

func TestTransientErrorMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("no result for identity")
	err := &inviter.TransientError{Op: "invite", Err: cause}
	if err.Error() != "invite: no result for identity" || !errors.Is(err, cause) {
		t.Errorf("err = %q, wrapping cause: %v", err, errors.Is(err, cause))
	}
	if got := (&inviter.TransientError{Err: cause}).Error(); got != "no result for identity" {
		t.Errorf("without Op: %q", got)
	}
}
