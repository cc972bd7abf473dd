package subscription

import (
	"context"
	"fmt"

	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/web"
)

// Action is what a Change did.
type Action string

// The actions of a Change.
const (
	Created          Action = "created"
	Updated          Action = "updated"
	RemovedDuplicate Action = "removed duplicate"
	Removed          Action = "removed"
)

// Change is one subscription Upsert or Remove created, updated or
// removed. A removed duplicate has only its ID.
type Change struct {
	Action  Action
	ID      string
	Trigger string
	URL     string
}

// Result is what Upsert did, and the subscriptions it found sending the
// same triggers to other URLs (see Elsewhere).
type Result struct {
	Changes   []Change
	Elsewhere []isc.Subscription
}

// Upsert creates each target's subscription (see Subscription), or
// updates the one that already sends that trigger to that URL and removes
// any further copies: running it twice leaves one subscription per target.
// On an error, the Result holds the changes made until then.
func Upsert(ctx context.Context, c *isc.Client, name string, auth web.Auth, targets []Target) (Result, error) {
	var res Result
	subs, err := c.ListSubscriptions(ctx)
	if err != nil {
		return res, fmt.Errorf("listing the trigger subscriptions: %w", err)
	}
	for _, t := range targets {
		want := Subscription(name, auth, t)
		same := Matching(subs, t)
		if len(same) == 0 {
			got, err := c.CreateSubscription(ctx, want)
			if err != nil {
				return res, fmt.Errorf("subscribing to %s: %w", Label(t.Trigger), err)
			}
			res.Changes = append(res.Changes, Change{Created, got.ID, t.Trigger, t.URL})
			continue
		}
		got, err := c.UpdateSubscription(ctx, same[0].ID, want)
		if err != nil {
			return res, fmt.Errorf("updating subscription %s: %w", same[0].ID, err)
		}
		res.Changes = append(res.Changes, Change{Updated, got.ID, t.Trigger, t.URL})
		for _, extra := range same[1:] {
			if err := c.DeleteSubscription(ctx, extra.ID); err != nil {
				return res, fmt.Errorf("removing the duplicate subscription %s: %w", extra.ID, err)
			}
			res.Changes = append(res.Changes, Change{Action: RemovedDuplicate, ID: extra.ID})
		}
	}
	res.Elsewhere = Elsewhere(subs, targets)
	return res, nil
}

// Remove deletes the subscriptions that send the targets' triggers to
// their URLs. A single target stands for its URL's both triggers, whatever
// the policy says now. On an error, the changes made until then come back
// with it.
func Remove(ctx context.Context, c *isc.Client, targets []Target) ([]Change, error) {
	subs, err := c.ListSubscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the trigger subscriptions: %w", err)
	}
	if len(targets) == 1 {
		if all, err := Targets(targets[0].URL, true); err == nil {
			targets = all
		}
	}
	var out []Change
	for _, t := range targets {
		for _, s := range Matching(subs, t) {
			if err := c.DeleteSubscription(ctx, s.ID); err != nil {
				return out, fmt.Errorf("removing subscription %s: %w", s.ID, err)
			}
			out = append(out, Change{Removed, s.ID, s.TriggerID, t.URL})
		}
	}
	return out, nil
}

// Test asks ISC to send a test event of each trigger to its subscribers,
// and returns the triggers it asked for until the first error.
func Test(ctx context.Context, c *isc.Client, triggers []string) ([]string, error) {
	var sent []string
	for _, t := range triggers {
		if err := c.TestInvocation(ctx, t, nil); err != nil {
			return sent, fmt.Errorf("asking ISC for a test %s event: %w", Label(t), err)
		}
		sent = append(sent, t)
	}
	return sent, nil
}

// Record is a subscription as inviter lists it (no secrets: ISC never
// returns them).
type Record struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Trigger  string `json:"trigger"`
	Enabled  bool   `json:"enabled"`
	URL      string `json:"url"`
	Dispatch string `json:"dispatch"`
	Auth     string `json:"auth"`
}

// List returns the tenant's subscriptions to the triggers inviter uses
// (Identity Created, Identity Attributes Changed); an empty, non-nil slice
// when there are none.
func List(ctx context.Context, c *isc.Client) ([]Record, error) {
	subs, err := c.ListSubscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the trigger subscriptions: %w", err)
	}
	recs := []Record{}
	for _, s := range subs {
		if s.TriggerID != isc.TriggerIdentityCreated && s.TriggerID != isc.TriggerIdentityAttributesChanged {
			continue
		}
		r := Record{ID: s.ID, Name: s.Name, Trigger: s.TriggerID, Enabled: s.Enabled}
		if hc := s.HTTPConfig; hc != nil {
			r.URL, r.Dispatch, r.Auth = hc.URL, hc.HTTPDispatchMode, hc.HTTPAuthenticationType
		}
		recs = append(recs, r)
	}
	return recs, nil
}
