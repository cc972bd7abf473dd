// Package admission decides, for one identity, whether inviter should invite
// it now, later (and when) or never, and why.
//
// Every path that can lead to an invitation asks the same Decider: the
// intake (Identity Created and Identity Attributes Changed events), the
// look at an identity before a scheduled or looked-up invite, reconcile,
// re-invites and the CLI. The Decider applies the whole invite policy
// (package policy) and the identity status table (inviter.ClassifyStatus);
// it does no I/O. When the facts at hand lack an attribute the policy
// reads (an attribute change carries only what changed), it answers
// LookUp: the caller reads the identity (one GET) and asks Identity.
package admission

import (
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/policy"
)

// Verdict is what a Decision says to do with an identity.
type Verdict string

const (
	// Now invites the identity at once.
	Now Verdict = "now"
	// Later invites the identity at Decision.At (a start date ahead).
	Later Verdict = "later"
	// Never does not invite the identity; the reason is recorded as a
	// skip. It is final for the facts it saw: reconcile asks again when
	// ISC shows the identity unregistered.
	Never Verdict = "never"
	// LookUp means the facts at hand do not hold every attribute the
	// policy reads: read the identity from ISC (one GET) and decide with
	// Identity before inviting.
	LookUp Verdict = "look up"
	// Unchanged means the delivery changes nothing about the identity (an
	// attribute change that did not make it eligible): no invitation and
	// nothing recorded about the identity, so that reconcile still finds
	// it if it was never invited.
	Unchanged Verdict = "unchanged"
)

// Decision is the answer for one identity.
type Decision struct {
	Verdict Verdict
	// At is when to invite; set only for Later (always after the now the
	// Decider was given).
	At time.Time
	// Reason says why, for the audit trail and logs; always set.
	Reason string
	// Warning, when set, is a problem that did not stop the decision, such
	// as a start date that cannot be read (the identity is invited now).
	Warning string
}

// Invites reports whether the decision leads to an invitation (Now or
// Later).
func (d Decision) Invites() bool { return d.Verdict == Now || d.Verdict == Later }

// Decider decides with one policy. The zero Decider (no policy) invites
// every unregistered identity now. It is safe for concurrent use.
type Decider struct {
	// Policy is the invite policy; nil invites everyone now.
	Policy *policy.Policy
}

// Created decides for an Identity Created event, whose attributes are the
// new identity's (an attribute the event lacks is absent). A new identity
// has not registered, so no status is checked.
func (d Decider) Created(attrs map[string]any, now time.Time) Decision {
	return d.attributes(attrs, now)
}

// Changed decides for an Identity Attributes Changed event, which carries
// only the changed attributes. A change that did not make the identity
// match the rules (policy.BecameEligible) is Unchanged. One that did is
// decided on the whole policy: by the changed values when they hold every
// attribute the policy reads, and otherwise LookUp, naming the attributes
// the event did not carry.
func (d Decider) Changed(changes []policy.Change, now time.Time) Decision {
	eligible, why := d.Policy.BecameEligible(changes)
	if !eligible {
		return Decision{Verdict: Unchanged, Reason: "attribute change: " + why}
	}
	after := make(map[string]any, len(changes))
	for _, c := range changes {
		after[c.Attribute] = c.NewValue
	}
	var missing []string
	for _, a := range d.Policy.Attributes() {
		if _, ok := after[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return Decision{Verdict: LookUp, Reason: "attribute change: " + why +
			"; the event does not carry [" + strings.Join(missing, " ") + "]: the identity is read before it is invited"}
	}
	dec := d.attributes(after, now)
	dec.Reason = "attribute change: " + why + "; " + dec.Reason
	return dec
}

// Identity decides for an identity read from ISC: a registered identity,
// or one in a status inviter does not invite, is Never (the reason of a
// status skip satisfies inviter.IsStatusSkip); otherwise the policy
// decides on its attributes.
func (d Decider) Identity(id inviter.Identity, now time.Time) Decision {
	switch class, reason := id.StatusClass(); class {
	case inviter.StatusRegistered:
		return Decision{Verdict: Never, Reason: reason}
	case inviter.StatusUnknown:
		return Decision{Verdict: Never, Reason: reason}
	}
	return d.attributes(id.Attributes, now)
}

func (d Decider) attributes(attrs map[string]any, now time.Time) Decision {
	pd := d.Policy.Decide(attrs, now)
	switch {
	case !pd.Invite:
		return Decision{Verdict: Never, Reason: pd.Reason, Warning: pd.Warning}
	case !pd.At.IsZero():
		return Decision{Verdict: Later, At: pd.At, Reason: pd.Reason, Warning: pd.Warning}
	}
	return Decision{Verdict: Now, Reason: pd.Reason, Warning: pd.Warning}
}
