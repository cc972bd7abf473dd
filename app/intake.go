package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
)

// intake adapts the queue to the webhook, applying the admission decision
// (package admission): whom to invite (a skip is recorded with its reason)
// and when (a start date far away schedules the job).
type intake struct {
	q          *queue.Queue
	policy     *policy.Policy
	logger     *slog.Logger
	onDelivery func(inviter.IdentityCreated, bool)
}

func (i intake) AcceptIdentityCreated(ctx context.Context, ev inviter.IdentityCreated, raw []byte, receivedAt time.Time) (bool, error) {
	if ev.IsTest() {
		return i.acceptTest(ctx, ev.Identity, inviter.SourceEvent, raw, receivedAt)
	}
	res, err := i.q.AcceptDeliveryWith(ctx, ev.Identity, raw, receivedAt, i.createdOptions(ctx, ev, receivedAt))
	if err != nil {
		return false, err
	}
	if i.onDelivery != nil {
		i.onDelivery(ev, res.Duplicate)
	}
	return res.Duplicate, nil
}

// createdOptions is what the admission decision makes of an Identity
// Created event.
func (i intake) createdOptions(ctx context.Context, ev inviter.IdentityCreated, receivedAt time.Time) queue.AcceptOptions {
	return i.options(ctx, ev.Identity.ID, admission.Decider{Policy: i.policy}.Created(ev.Attributes, receivedAt), inviter.SourceEvent)
}

// options turns an admission decision about a delivery into what the
// queue stores: a skip, a job now, later, or after a look at the
// identity, or the delivery alone.
func (i intake) options(ctx context.Context, id string, d admission.Decision, source inviter.Source) queue.AcceptOptions {
	opts := queue.AcceptOptions{Source: source}
	if d.Warning != "" {
		i.logger.WarnContext(ctx, "policy warning", "identity_id", id, "warning", d.Warning)
	}
	switch d.Verdict {
	case admission.Never:
		opts.SkipReason = d.Reason
	case admission.Later:
		opts.ScheduledAt = d.At
		i.logger.InfoContext(ctx, "invite scheduled", "identity_id", id, "at", d.At, "reason", d.Reason)
	case admission.LookUp:
		opts.Recheck = true
		i.logger.InfoContext(ctx, "invite enqueued; the identity is read first", "identity_id", id, "reason", d.Reason)
	case admission.Unchanged:
		opts.NoJob = true
	}
	return opts
}

// acceptTest stores a delivery of one of ISC's sample identities (its
// "Test subscription" payload) as a test delivery: answered 200, no invite
// job; checkTestDelivery then looks whether the tenant knows the identity.
func (i intake) acceptTest(ctx context.Context, identity inviter.IdentityRef, source inviter.Source, raw []byte, receivedAt time.Time) (bool, error) {
	if _, err := i.q.AcceptDeliveryWith(ctx, identity, raw, receivedAt, queue.AcceptOptions{Source: source, Test: true}); err != nil {
		return false, err
	}
	i.logger.InfoContext(ctx, "test delivery from ISC stored (ISC's sample identity); nobody invited unless the tenant knows it", "identity_id", identity.ID, "source", source)
	return true, nil
}

// checkTestDelivery decides a delivery of one of ISC's sample identities:
// one GET of the identity. ISC does not know it: a test. ISC knows it: a
// real joiner, admitted as the policy decides for any delivery.
func checkTestDelivery(c *isc.Client, in intake) func(context.Context, queue.TestDelivery) (bool, queue.AcceptOptions, error) {
	return func(ctx context.Context, d queue.TestDelivery) (bool, queue.AcceptOptions, error) {
		_, err := c.GetIdentity(ctx, d.Identity.ID)
		switch {
		case isc.IsNotFound(err):
			return false, queue.AcceptOptions{}, nil
		case err != nil:
			return false, queue.AcceptOptions{}, err
		}
		if d.Source == inviter.SourceAttributes {
			ev, err := inviter.ParseIdentityAttributesChanged(d.Payload)
			if err != nil {
				return true, queue.AcceptOptions{}, fmt.Errorf("reading the stored delivery %d: %w", d.DeliveryID, err)
			}
			return true, in.changedOptions(ctx, ev, d.ReceivedAt), nil
		}
		ev, err := inviter.ParseIdentityCreated(d.Payload)
		if err != nil {
			return true, queue.AcceptOptions{}, fmt.Errorf("reading the stored delivery %d: %w", d.DeliveryID, err)
		}
		return true, in.createdOptions(ctx, ev, d.ReceivedAt), nil
	}
}

// AcceptIdentityAttributesChanged enqueues the identity when the change
// made it match the rules on the changed attributes; it stores the
// delivery either way. The change event carries only the changed
// attributes, so unless they hold every attribute the policy reads, the
// job reads the identity (one GET) and applies the whole policy before it
// invites. A change that leads to nothing writes no identity row.
func (i intake) AcceptIdentityAttributesChanged(ctx context.Context, ev inviter.IdentityAttributesChanged, raw []byte, receivedAt time.Time) (bool, error) {
	if ev.IsTest() {
		return i.acceptTest(ctx, ev.Identity, inviter.SourceAttributes, raw, receivedAt)
	}
	res, err := i.q.AcceptDeliveryWith(ctx, ev.Identity, raw, receivedAt, i.changedOptions(ctx, ev, receivedAt))
	if err != nil {
		return false, err
	}
	return res.Duplicate, nil
}

// changedOptions is what the admission decision makes of an Identity
// Attributes Changed event.
func (i intake) changedOptions(ctx context.Context, ev inviter.IdentityAttributesChanged, receivedAt time.Time) queue.AcceptOptions {
	changes := make([]policy.Change, len(ev.Changes))
	for k, c := range ev.Changes {
		changes[k] = policy.Change{Attribute: c.Attribute, OldValue: c.OldValue, NewValue: c.NewValue}
	}
	return i.options(ctx, ev.Identity.ID, admission.Decider{Policy: i.policy}.Changed(changes, receivedAt), inviter.SourceAttributes)
}
