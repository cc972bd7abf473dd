package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration of a Policy. The zero Config invites everyone
// now.
type Config struct {
	// Rules are the rules an identity's attributes must all satisfy (AND),
	// each in the syntax of the package documentation. None: everyone.
	Rules []string

	// StartDateAttribute names the attribute holding the start date, such
	// as "startDate". Empty: no scheduling, everyone who matches is invited
	// now.
	StartDateAttribute string

	// InviteDaysBefore is how many calendar days before the start date the
	// identity is invited. Zero means DefaultInviteDaysBefore (7, the
	// lifetime of an ISC invitation, so the link is still valid on the
	// first day); negative (OnStartDate) means on the start date itself.
	// Setting it without StartDateAttribute is an error.
	InviteDaysBefore int

	// Location is the time zone of start dates written without one, and of
	// the DateOnlyHour at which date-only start dates are invited.
	// Nil means UTC.
	Location *time.Location
}

// Policy decides whether and when an identity is invited. The zero Policy,
// and a nil *Policy, invite everyone now. A Policy is immutable and safe for
// concurrent use; its methods do no I/O.
type Policy struct {
	rules     []*rule
	startAttr string
	days      int // effective days before the start date, >= 0
	loc       *time.Location
}

// New returns the Policy of cfg. An error for a rule is a *RuleError naming
// the rule, its index in cfg.Rules and the column of the problem.
func New(cfg Config) (*Policy, error) {
	p := &Policy{startAttr: cfg.StartDateAttribute, loc: cfg.Location}
	for i, s := range cfg.Rules {
		r, err := parseRule(s)
		if err != nil {
			if re, ok := errors.AsType[*RuleError](err); ok {
				re.Index = i + 1
			}
			return nil, err
		}
		p.rules = append(p.rules, r)
	}
	switch {
	case cfg.StartDateAttribute == "" && cfg.InviteDaysBefore != 0:
		return nil, fmt.Errorf("policy: InviteDaysBefore is %d but StartDateAttribute is empty: set the start date attribute to schedule invitations", cfg.InviteDaysBefore)
	case cfg.InviteDaysBefore == 0:
		p.days = DefaultInviteDaysBefore
	case cfg.InviteDaysBefore < 0:
		p.days = 0
	default:
		p.days = cfg.InviteDaysBefore
	}
	if p.loc == nil {
		p.loc = time.UTC
	}
	return p, nil
}

// Decision is what a Policy decided for one identity.
type Decision struct {
	// Invite reports whether to invite the identity. False means skip it.
	Invite bool
	// Reason says why, for the audit trail; always set. For a skipped
	// identity it names the first rule that failed, such as
	// `cloudLifecycleState "inactive" not in [active prehire]`.
	Reason string
	// At is when to invite: zero means now, otherwise the scheduled time
	// (always after the now given to Decide). Zero when Invite is false.
	At time.Time
	// Warning, when not empty, reports a problem that did not stop the
	// decision, such as a malformed start date (the identity is then
	// invited now).
	Warning string
}

const (
	reasonMatches = "matches all rules"
	reasonNoRules = "no rules: everyone is invited"
)

// Decide decides whether and when to invite the identity with attributes
// attrs (the attributes of an Identity Created event, or of an identity
// read from ISC), at time now. An identity that matches all rules is invited
// now, unless the policy schedules by start date and attrs holds a start
// date far enough away: then At is InviteDaysBefore days before it.
// A missing (absent) start date means now; a malformed one means now with a
// Warning.
func (p *Policy) Decide(attrs map[string]any, now time.Time) Decision {
	ok, why := p.Matches(attrs)
	if !ok {
		return Decision{Reason: why}
	}
	if p == nil || p.startAttr == "" {
		return Decision{Invite: true, Reason: why}
	}
	v, has := attrs[p.startAttr]
	if !has || !present(v) {
		return Decision{Invite: true, Reason: why + "; no " + p.startAttr + ": invite now"}
	}
	d, err := parseDate(v, p.loc)
	if err != nil {
		return Decision{
			Invite:  true,
			Reason:  why + "; invite now",
			Warning: fmt.Sprintf("start date %s %s is %v: invited now", p.startAttr, describe(v), err),
		}
	}
	at := inviteAt(d, p.days, p.loc)
	if !at.After(now) {
		return Decision{Invite: true, Reason: fmt.Sprintf("%s; %s %s is less than %s away: invite now", why, p.startAttr, d, daysText(p.days))}
	}
	return Decision{Invite: true, At: at, Reason: fmt.Sprintf("%s; %s %s: invite %s before", why, p.startAttr, d, daysText(p.days))}
}

func daysText(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// Matches reports whether attrs satisfy all rules, ignoring the start date.
// The string is the reason: "matches all rules", or why not, naming the
// first rule that failed.
func (p *Policy) Matches(attrs map[string]any) (bool, string) {
	if p == nil || len(p.rules) == 0 {
		return true, reasonNoRules
	}
	for _, r := range p.rules {
		v, ok := attrs[r.attr]
		if holds, why := r.eval(v, ok); !holds {
			return false, why
		}
	}
	return true, reasonMatches
}

// Change is one entry of the changes of an Identity Attributes Changed event
// (idn:identity-attributes-changed); it decodes from the event's JSON.
type Change struct {
	Attribute string `json:"attribute"`
	OldValue  any    `json:"oldValue"`
	NewValue  any    `json:"newValue"`
}

// BecameEligible reports whether the changes of an Identity Attributes
// Changed event made the identity match the rules when it did not before.
//
// The event carries only what changed, so the rules are evaluated on what
// is known: before on the old values, after on the new values, and a rule on
// an attribute the changes do not name is unknown and left out on both
// sides (as if it held). Hence BecameEligible is true when at least one rule
// is on a changed attribute, every such rule holds after the change, and at
// least one of them failed before it. It is false when no rule is on a
// changed attribute, when a rule fails after the change, or when the rules
// held before too (for example a change from one allowed lifecycle state to
// another). A policy without rules matched before any change, so
// BecameEligible is false.
//
// Because the other rules are not checked, a caller that goes on to invite
// should call Decide with the identity's full attributes when it can read
// them, which also applies the start date: BecameEligible ignores it.
// An attribute named more than once takes its first OldValue and last
// NewValue. The string is the reason.
func (p *Policy) BecameEligible(changes []Change) (bool, string) {
	if p == nil || len(p.rules) == 0 {
		return false, "no rules: the identity matched before the change"
	}
	before := make(map[string]any, len(changes))
	after := make(map[string]any, len(changes))
	for _, c := range changes {
		if _, seen := before[c.Attribute]; !seen {
			before[c.Attribute] = c.OldValue
		}
		after[c.Attribute] = c.NewValue
	}
	var relevant []string
	failedBefore := ""
	for _, r := range p.rules {
		old, changed := before[r.attr]
		if !changed {
			continue
		}
		if !slices.Contains(relevant, r.attr) {
			relevant = append(relevant, r.attr)
		}
		if holds, why := r.eval(after[r.attr], true); !holds {
			return false, "does not match after the change: " + why
		}
		if failedBefore == "" {
			if holds, why := r.eval(old, true); !holds {
				failedBefore = why
			}
		}
	}
	if len(relevant) == 0 {
		names := make([]string, 0, len(after))
		for a := range after {
			names = append(names, a)
		}
		slices.Sort(names)
		return false, "no rule is on the changed attributes [" + strings.Join(names, " ") + "]"
	}
	if failedBefore == "" {
		return false, "matched before the change: already eligible"
	}
	return true, "now matches the rules on [" + strings.Join(relevant, " ") + "]; before the change " + failedBefore
}

// Attributes lists the attributes the policy reads: those of its rules and
// the start date attribute, each once, in the order of the rules. An
// identity's facts that hold all of them are enough for Decide.
func (p *Policy) Attributes() []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, r := range p.rules {
		if !slices.Contains(out, r.attr) {
			out = append(out, r.attr)
		}
	}
	if p.startAttr != "" && !slices.Contains(out, p.startAttr) {
		out = append(out, p.startAttr)
	}
	return out
}

// HasRules reports whether the policy has rules on attributes, so that an
// attribute change can make an identity eligible (the Identity Attributes
// Changed trigger is then worth subscribing to).
func (p *Policy) HasRules() bool { return p != nil && len(p.rules) > 0 }

// String summarises the policy for logs and the status page, such as
// `invite if cloudLifecycleState in (active, prehire) and department != Contractors;
// 7 days before startDate (date-only at 09:00 UTC)`.
func (p *Policy) String() string {
	if p == nil {
		return "invite everyone now"
	}
	var b strings.Builder
	if len(p.rules) == 0 {
		b.WriteString("invite everyone")
	} else {
		b.WriteString("invite if ")
		for i, r := range p.rules {
			if i > 0 {
				b.WriteString(" and ")
			}
			b.WriteString(r.String())
		}
	}
	if p.startAttr == "" {
		b.WriteString(" now")
		return b.String()
	}
	loc := p.loc
	if loc == nil {
		loc = time.UTC
	}
	if p.days == 0 {
		fmt.Fprintf(&b, "; on %s", p.startAttr)
	} else {
		fmt.Fprintf(&b, "; %s before %s", daysText(p.days), p.startAttr)
	}
	fmt.Fprintf(&b, " (date-only at %02d:00 %s)", DateOnlyHour, loc)
	return b.String()
}
