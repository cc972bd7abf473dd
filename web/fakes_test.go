package web_test

import (
	"context"
	"sync"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/web"
)

// Intake is a fake web.Intake. AcceptIdentityCreatedFn answers the calls,
// which are also recorded; a nil func accepts everything as new.
type Intake struct {
	AcceptIdentityCreatedFn func(ctx context.Context, ev inviter.IdentityCreated, raw []byte, receivedAt time.Time) (bool, error)
	AcceptAttributesFn      func(ctx context.Context, ev inviter.IdentityAttributesChanged, raw []byte, receivedAt time.Time) (bool, error)

	mu        sync.Mutex
	calls     []IntakeCall
	attrCalls []inviter.IdentityAttributesChanged
}

// IntakeCall records one call of Intake.AcceptIdentityCreated.
type IntakeCall struct {
	Event      inviter.IdentityCreated
	Raw        []byte
	ReceivedAt time.Time
}

var _ web.Intake = (*Intake)(nil)

// AcceptIdentityCreated implements web.Intake.
func (f *Intake) AcceptIdentityCreated(ctx context.Context, ev inviter.IdentityCreated, raw []byte, receivedAt time.Time) (bool, error) {
	f.mu.Lock()
	f.calls = append(f.calls, IntakeCall{Event: ev, Raw: raw, ReceivedAt: receivedAt})
	f.mu.Unlock()
	if f.AcceptIdentityCreatedFn == nil {
		return false, nil
	}
	return f.AcceptIdentityCreatedFn(ctx, ev, raw, receivedAt)
}

// AcceptIdentityAttributesChanged implements web.Intake; a nil
// AcceptAttributesFn accepts everything as queued.
func (f *Intake) AcceptIdentityAttributesChanged(ctx context.Context, ev inviter.IdentityAttributesChanged, raw []byte, receivedAt time.Time) (bool, error) {
	f.mu.Lock()
	f.attrCalls = append(f.attrCalls, ev)
	f.mu.Unlock()
	if f.AcceptAttributesFn == nil {
		return false, nil
	}
	return f.AcceptAttributesFn(ctx, ev, raw, receivedAt)
}

// AttributeCalls returns the Identity Attributes Changed events accepted so far.
func (f *Intake) AttributeCalls() []inviter.IdentityAttributesChanged {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]inviter.IdentityAttributesChanged(nil), f.attrCalls...)
}

// Reset forgets the calls so far.
func (f *Intake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.attrCalls = nil, nil
}

// Calls returns the calls so far.
func (f *Intake) Calls() []IntakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]IntakeCall(nil), f.calls...)
}

// Readiness is a fake web.Readiness; a nil ReadyFn reports ready.
type Readiness struct {
	ReadyFn func(ctx context.Context) error
}

// Ready implements web.Readiness.
func (f *Readiness) Ready(ctx context.Context) error {
	if f.ReadyFn == nil {
		return nil
	}
	return f.ReadyFn(ctx)
}

// StatusSource is a fake web.StatusSource; a nil StatusFn returns a zero Status.
type StatusSource struct {
	StatusFn func(ctx context.Context) (web.Status, error)
}

// Status implements web.StatusSource.
func (f *StatusSource) Status(ctx context.Context) (web.Status, error) {
	if f.StatusFn == nil {
		return web.Status{}, nil
	}
	return f.StatusFn(ctx)
}
