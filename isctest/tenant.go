package isctest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Identity status values (Identity.Status, the v2025 identityStatus and the
// cloudStatus attribute).
const (
	statusUnregistered = "UNREGISTERED"
	statusActive       = "ACTIVE"
	statusRegistered   = "REGISTERED"
)

// IdentityStatuses are the values of the identityStatus enum of the v2025
// Identity schema (components/schemas/Identity/properties/identityStatus),
// the statuses NewIdentity.Status and Options.StatusMix accept.
var IdentityStatuses = []string{
	"UNREGISTERED", "REGISTERED", "PENDING", "WARNING", "DISABLED",
	"ACTIVE", "DEACTIVATED", "TERMINATED", "ERROR", "LOCKED",
}

// validStatus reports whether st is a value of the identityStatus enum.
func validStatus(st string) bool { return slices.Contains(IdentityStatuses, st) }

// CheckStatuses returns an error naming the first of statuses that is not
// a value of IdentityStatuses; nil when every one is.
func CheckStatuses(statuses []string) error {
	for _, st := range statuses {
		if !validStatus(st) {
			return fmt.Errorf("unknown status %q (want one of %s)", st, strings.Join(IdentityStatuses, ", "))
		}
	}
	return nil
}

// NewIdentity describes an identity to create with CreateIdentity.
type NewIdentity struct {
	// Name is the display name, e.g. "John Doe". Default "User <cc id>".
	Name string
	// Email is the work email. Default <alias>@example.com.
	Email string
	// Department fills the department attribute.
	Department string
	// LifecycleState is the cloud lifecycle state. Default "active".
	LifecycleState string
	// Attributes are extra identity attributes; they override the
	// generated ones (uid, firstname, lastname, displayName, email,
	// department, cloudLifecycleState…) except cloudStatus.
	Attributes map[string]any
	// Registered makes the identity registered (Status ACTIVE) from the start.
	Registered bool
	// Status, when set, is the identity's status: any value of
	// IdentityStatuses (e.g. "LOCKED", "PENDING"). It overrides Registered.
	// An unknown value panics, as a programming error.
	Status string
	// NoEmail gives the identity no email address. ISC cannot mail it: an
	// invite task that names it ends ERROR with a message naming it.
	NoEmail bool
	// Uncorrelated makes the identity uncorrelated (no account on an
	// authoritative source). The identities lists hide it unless
	// defaultFilter=NONE, as the spec documents.
	Uncorrelated bool
	// Created is the creation time; zero means now.
	Created time.Time
	// VisibleAfter, when positive, replaces Options.VisibilityDelay for this
	// identity: some identities of a wave show in lists later than others.
	VisibleAfter time.Duration
}

// Identity is an identity of the fake tenant.
type Identity struct {
	// ID is the identity id: 32 lowercase hex digits.
	ID string
	// CCID is the legacy cc short id: numeric, increasing from 100000.
	CCID string
	// Name is the display name.
	Name string
	// Alias is the account name, e.g. "john.doe".
	Alias string
	// Email is the work email.
	Email string
	// LifecycleState is the cloud lifecycle state, e.g. "active".
	LifecycleState string
	// Status is the identity status: "UNREGISTERED", "ACTIVE" (registered)
	// or another value of IdentityStatuses.
	Status string
	// Uncorrelated reports that the identity has no correlated account.
	Uncorrelated bool
	// Created is the creation time.
	Created time.Time
	// VisibleAt is when the identity starts to show in lists and gets and
	// can be invited: CreateIdentity's time plus Options.VisibilityDelay.
	VisibleAt time.Time
	// Attributes are the identity attributes, as events and the v2025 API
	// carry them.
	Attributes map[string]any
}

// identity is the tenant's record of an identity.
type identity struct {
	Identity
	modified time.Time
	nameKey  string // lower-case name, the /cc list's name order (CCOrderName only)
	seq      int    // creation sequence, from 0
}

func (id *identity) snapshot() Identity {
	out := id.Identity
	out.Attributes = maps.Clone(id.Attributes)
	return out
}

func (id *identity) registered() bool { return id.Status != statusUnregistered }

// registeredStatus reports whether the status means registration done: the
// cloudStatus filter value "REGISTERED" matches these.
func registeredStatus(st string) bool { return st == statusActive || st == statusRegistered }

func (id *identity) visible(now time.Time) bool { return !now.Before(id.VisibleAt) }

// CreateIdentity creates an identity, as an aggregation would, and returns
// it. It shows in lists, gets and invites after Options.VisibilityDelay.
// If trigger subscriptions to idn:identity-created exist, the event is
// delivered to each enabled one whose filter matches, asynchronously and
// right away (before the identity is visible), once, with no retry
// (FIRE_AND_FORGET, as ISC does), with the subscription's authentication.
func (s *Server) CreateIdentity(n NewIdentity) Identity {
	s.mu.Lock()
	delay := s.opts.VisibilityDelay
	if n.VisibleAfter > 0 {
		delay = n.VisibleAfter
	}
	id := s.addIdentityLocked(n, s.now(), delay)
	snap := id.snapshot()
	subs := s.matchingSubsLocked(triggerIdentityCreated, nil)
	s.mu.Unlock()

	if len(subs) > 0 {
		body := identityCreatedPayload(snap)
		for _, sub := range subs {
			if !filterMatches(sub.Filter, body, s.opts.Logger) {
				continue
			}
			s.deliver(sub, snap.ID, body)
		}
	}
	return snap
}

// CreateIdentities creates n identities, the i-th from f(i) (f may be nil
// for all defaults), and returns them in order.
func (s *Server) CreateIdentities(n int, f func(i int) NewIdentity) []Identity {
	out := make([]Identity, 0, n)
	for i := range n {
		var ni NewIdentity
		if f != nil {
			ni = f(i)
		}
		out = append(out, s.CreateIdentity(ni))
	}
	return out
}

// createUsers creates the pre-existing identities of Options.Users.
func (s *Server) createUsers(n int) {
	departments := []string{"Engineering", "Sales", "Finance", "HR", "Operations"}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.bulk = true
	mix, shared := s.opts.StatusMix, s.opts.SharedEmailUsers
	registered := 0
	for i := range n {
		ni := NewIdentity{
			Name:       fmt.Sprintf("Existing User %d", i+1),
			Department: departments[i%len(departments)],
			Registered: (i+1)%10 != 0,
			Created:    now.Add(-30 * 24 * time.Hour),
		}
		if ni.Registered && len(mix) > 0 {
			ni.Status = mix[registered%len(mix)]
			registered++
		}
		if !ni.Registered && shared > 0 {
			// One millisecond apart, in creation order: the first created
			// of the address is told by its created time (ISC's times
			// are in milliseconds), not only by the tenant's sequence.
			ni.Email = sharedEmail
			ni.Created = ni.Created.Add(time.Duration(s.opts.SharedEmailUsers-shared) * time.Millisecond)
			shared--
		}
		s.addIdentityLocked(ni, now, 0)
	}
	s.bulk = false
	if s.byName != nil {
		slices.SortFunc(s.byName, compareByName)
	}
	s.listGen++
}

// sharedEmail is the address of Options.SharedEmailUsers.
const sharedEmail = "shared.mailbox@example.com"

// compareByName orders the /cc list by name: lower-case name, then
// creation.
func compareByName(a, b *identity) int {
	if c := strings.Compare(a.nameKey, b.nameKey); c != 0 {
		return c
	}
	return a.seq - b.seq
}

func (s *Server) addIdentityLocked(n NewIdentity, now time.Time, delay time.Duration) *identity {
	ccid := strconv.Itoa(s.nextCCID)
	s.nextCCID++
	name := n.Name
	if name == "" {
		name = "User " + ccid
	}
	alias := aliasFor(name, n.Email)
	email := n.Email
	if email == "" && !n.NoEmail {
		// Inferred convenience: every fake identity gets a work email.
		email = alias + "@example.com"
	}
	lcs := n.LifecycleState
	if lcs == "" {
		lcs = "active"
	}
	created := n.Created
	if created.IsZero() {
		created = now
	}
	status := statusUnregistered
	if n.Registered {
		status = statusActive
	}
	if n.Status != "" {
		if !validStatus(n.Status) {
			panic(fmt.Sprintf("isctest: unknown identity status %q", n.Status))
		}
		status = n.Status
	}
	first, last, _ := strings.Cut(name, " ")
	attrs := map[string]any{
		"uid":                      alias,
		"firstname":                first,
		"lastname":                 last,
		"displayName":              name,
		"email":                    email,
		"department":               n.Department,
		"identificationNumber":     ccid,
		"cloudLifecycleState":      lcs,
		"cloudAuthoritativeSource": "fake-hr-source",
	}
	maps.Copy(attrs, n.Attributes)
	attrs["cloudStatus"] = status
	attrs["internalCloudStatus"] = status

	id := &identity{
		Identity: Identity{
			ID:             newHexID(),
			CCID:           ccid,
			Name:           name,
			Alias:          alias,
			Email:          email,
			LifecycleState: lcs,
			Status:         status,
			Created:        created,
			VisibleAt:      now.Add(delay),
			Attributes:     attrs,
			Uncorrelated:   n.Uncorrelated,
		},
		modified: now,
		seq:      len(s.identities),
	}
	if email == "" {
		delete(attrs, "email")
	}
	s.identities = append(s.identities, id)
	s.listGen++
	s.byID[id.ID] = id
	s.byCCID[ccid] = id
	// Only addresses given explicitly count as shared: two identities
	// whose generated addresses collide (same name) are both mailed.
	if key := strings.ToLower(n.Email); key != "" {
		if _, ok := s.firstByEmail[key]; !ok {
			s.firstByEmail[key] = id
		}
	}
	if s.byName != nil {
		id.nameKey = strings.ToLower(name)
		if s.bulk {
			s.byName = append(s.byName, id)
		} else {
			i, _ := slices.BinarySearchFunc(s.byName, id, compareByName)
			s.byName = slices.Insert(s.byName, i, id)
		}
	}
	return id
}

// aliasFor derives the account name: the email's local part, or the name
// in lower case with dots for spaces.
func aliasFor(name, email string) string {
	if local, _, ok := strings.Cut(email, "@"); ok && local != "" {
		return local
	}
	return strings.ToLower(strings.Join(strings.Fields(name), "."))
}

// Register marks the identity registered (Status ACTIVE), as if its person
// completed registration. It reports whether the identity exists.
func (s *Server) Register(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ident, ok := s.byID[id]
	if !ok {
		return false
	}
	ident.Status = statusActive
	ident.Attributes["cloudStatus"] = statusActive
	ident.Attributes["internalCloudStatus"] = statusActive
	ident.modified = s.now()
	return true
}

// Identity returns the identity with id, visible yet or not, and reports
// whether it exists.
func (s *Server) Identity(id string) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ident, ok := s.byID[id]
	if !ok {
		return Identity{}, false
	}
	return ident.snapshot(), true
}

// Identities returns every identity, visible yet or not, in creation order.
func (s *Server) Identities() []Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Identity, len(s.identities))
	for i, id := range s.identities {
		out[i] = id.snapshot()
	}
	return out
}

// visibleLocked returns the identities the API shows now, in creation order.
func (s *Server) visibleLocked() []*identity { return s.visibleOf(s.identities) }

// visibleOf returns the identities of list the API shows now, in order.
func (s *Server) visibleOf(list []*identity) []*identity {
	now := s.now()
	out := make([]*identity, 0, len(list))
	for _, id := range list {
		if id.visible(now) {
			out = append(out, id)
		}
	}
	return out
}

// Invite is one invitation mail the tenant sent.
type Invite struct {
	// IdentityID is the invited identity's id.
	IdentityID string
	// CCID is the invited identity's cc short id.
	CCID string
	// API is the path that sent it: "public" or "cc".
	API string
	// At is when it was sent, by the tenant's clock.
	At time.Time
	// TaskID is the id of the public API's task; empty for cc.
	TaskID string
}

// recordInvitesLocked mails every mailable identity of ids: ISC sends the
// invitation only to unregistered identities (Options.MailableStatuses) and
// skips the others silently. It returns the identities that could not be
// mailed for want of an email address.
//
// Documented: "This task will send an invitation email only for
// unregistered identities" (the invite operation's description in the
// beta and v2025 specs); of several users that share an email address
// "IdentityNow will only send an email to the first user encountered when
// it searches the source system" (SailPoint's "Inviting Users to Register"
// page, documentation.sailpoint.com/saas/help/common/users/inviting_users.html).
// Inferred: "first" is the first created, and the others are skipped
// silently, as registered ones are; an identity with no email address is
// not mailed, and the task reports it.
func (s *Server) recordInvitesLocked(ids []*identity, api, taskID string, at time.Time) (noEmail []*identity) {
	for _, id := range ids {
		if !s.mailable(id.Status) {
			continue
		}
		if id.Email == "" {
			noEmail = append(noEmail, id)
			continue
		}
		if first := s.firstByEmail[strings.ToLower(id.Email)]; first != nil && first != id {
			continue
		}
		s.invites = append(s.invites, Invite{IdentityID: id.ID, CCID: id.CCID, API: api, At: at, TaskID: taskID})
		close(s.invited)
		s.invited = make(chan struct{})
	}
	return noEmail
}

// WaitInvited blocks until every identity in ids has been mailed at least
// once, or ctx is done; then it returns an error saying how many are still
// missing.
func (s *Server) WaitInvited(ctx context.Context, ids []string) error {
	for {
		s.mu.Lock()
		mailed := make(map[string]bool, len(s.invites))
		for _, inv := range s.invites {
			mailed[inv.IdentityID] = true
		}
		ch := s.invited
		s.mu.Unlock()
		missing := 0
		for _, id := range ids {
			if !mailed[id] {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d identities not mailed: %w", missing, len(ids), ctx.Err())
		}
	}
}

// mailable reports whether an invitation is sent to an identity with status.
func (s *Server) mailable(status string) bool {
	if len(s.opts.MailableStatuses) == 0 {
		return status == statusUnregistered
	}
	return slices.Contains(s.opts.MailableStatuses, status)
}

// Invites returns one record per invitation mail sent (to unregistered
// identities only), oldest first.
func (s *Server) Invites() []Invite {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Invite(nil), s.invites...)
}

// InviteCount returns the number of invitation mails sent to identityID.
func (s *Server) InviteCount(identityID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, inv := range s.invites {
		if inv.IdentityID == identityID {
			n++
		}
	}
	return n
}
