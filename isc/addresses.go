package isc

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inviter/inviter"
)

// maxRememberedAddresses bounds an Inviter's memory of shared addresses;
// past it the oldest sightings are forgotten first.
const maxRememberedAddresses = 100_000

// mailCandidate is what inviter knows of an identity it may send, for
// comparing email addresses: its address and what orders it by creation.
type mailCandidate struct {
	id      string
	addr    string    // as ISC shows it, trimmed; "" for none
	created time.Time // public path: the identity's creation time (zero: unknown)
	ccID    string    // /cc path: the cc short id
}

func addressKey(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// publicCandidate reads candidates from what a lookup showed.
func publicCandidate(known map[string]inviter.Identity) func(string) mailCandidate {
	return func(id string) mailCandidate {
		f := known[id]
		return mailCandidate{id: id, addr: strings.TrimSpace(f.Email), created: f.Created}
	}
}

// createdBefore orders two identities by creation, an unknown (zero)
// creation time last, ties by id.
func createdBefore(a, b mailCandidate) bool {
	switch {
	case a.created.Equal(b.created):
		return a.id < b.id
	case a.created.IsZero():
		return false
	case b.created.IsZero():
		return true
	}
	return a.created.Before(b.created)
}

// ccBefore orders two /cc list entries by creation. The /cc list carries
// no creation time.
// Inferred: cc short ids are numbers handed out in increasing order as
// users are created (SailPoint's examples show numeric ids, e.g. 1797782),
// so the smaller one is the earlier user; ids that are not numbers, or
// equal, order by identity id.
func ccBefore(a, b mailCandidate) bool {
	na, errA := strconv.ParseUint(a.ccID, 10, 64)
	nb, errB := strconv.ParseUint(b.ccID, 10, 64)
	if errA == nil && errB == nil && na != nb {
		return na < nb
	}
	return a.id < b.id
}

// holdSharedAddresses returns ids without the identities that share an
// email address (compared case-insensitively, trimmed) with an identity
// that comes first by before: another of ids, or one the Inviter saw with
// that address in an earlier call (within RememberAddresses). Those are
// recorded failed (permanent) with a reason naming the address and the
// first identity. cand gives what is known of an id (an empty address is
// never compared); endpoint names the read that showed the addresses.
// inviter makes no extra call to find other identities with an address,
// so it compares only the identities it has seen: when a later call
// brings an identity created earlier than one already sent with its
// address (it became visible later, or its event arrived later: events
// and batches come in any order), that one is sent too and the one sent
// earlier stays recorded invited.
//
// Documented: of several users that share an email address ISC "will
// only send an email to the first user encountered" (SailPoint,
// "Inviting Users to Register",
// documentation.sailpoint.com/saas/help/common/users/inviting_users.html),
// and its task reports nothing about the others, so sending them would
// record invitations ISC never mails.
// Inferred: "first" is the earliest created, ties to the smallest id;
// SailPoint does not say in which order it encounters the users.
func (in *Inviter) holdSharedAddresses(ids []string, res map[string]*inviter.Result, cand func(string) mailCandidate, before func(a, b mailCandidate) bool, endpoint string) []string {
	first := make(map[string]mailCandidate) // address key → the first identity
	cands := make(map[string]mailCandidate, len(ids))
	for _, id := range ids {
		c := cand(id)
		cands[id] = c
		key := addressKey(c.addr)
		if key == "" {
			continue
		}
		if f, ok := first[key]; !ok || before(c, f) {
			first[key] = c
		}
	}
	if in.book != nil {
		in.book.merge(first, cands, before)
	}
	out := ids[:0:0]
	for _, id := range ids {
		c := cands[id]
		f, ok := first[addressKey(c.addr)]
		if c.addr == "" || !ok || f.id == id {
			out = append(out, id)
			continue
		}
		reason := fmt.Sprintf("shares %s with %s; ISC mails only the first identity with an address: give this identity its own email and retry", c.addr, f.id)
		setOutcome(res[id], inviter.OutcomeFailed, reason,
			&PermanentError{Endpoint: endpoint, Status: http.StatusOK, Message: "email address " + c.addr + " is shared with identity " + f.id})
	}
	return out
}

// addressBook remembers, per email address, the earliest created identity
// an Inviter has seen with it, for ttl, at most max addresses. It is safe
// for concurrent use.
type addressBook struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu     sync.Mutex
	byKey  map[string]remembered
	keyOf  map[string]string // identity id → the address key it was remembered under
	sights []sighting        // oldest first, for forgetting
}

type remembered struct {
	cand mailCandidate
	seen time.Time
}

type sighting struct {
	key  string
	seen time.Time
}

func newAddressBook(ttl time.Duration, max int, now func() time.Time) *addressBook {
	if ttl < 0 {
		return nil
	}
	return &addressBook{ttl: ttl, max: max, now: now, byKey: map[string]remembered{}, keyOf: map[string]string{}}
}

// merge makes first (address key → first identity of one call) hold, for
// each address, the first of the call's and the remembered identity, and
// remembers that one. cands are the call's candidates: one shown with a
// different address than remembered is forgotten under the old one.
func (b *addressBook) merge(first map[string]mailCandidate, cands map[string]mailCandidate, before func(a, b mailCandidate) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.forget(now)
	for id, c := range cands {
		if old, ok := b.keyOf[id]; ok && old != addressKey(c.addr) {
			if r := b.byKey[old]; r.cand.id == id {
				delete(b.byKey, old)
			}
			delete(b.keyOf, id)
		}
	}
	for key, f := range first {
		r, ok := b.byKey[key]
		if ok && r.cand.id != f.id && before(r.cand, f) {
			f = r.cand
			first[key] = f
		}
		if ok && r.cand.id != f.id && b.keyOf[r.cand.id] == key {
			delete(b.keyOf, r.cand.id)
		}
		b.byKey[key] = remembered{cand: f, seen: now}
		b.keyOf[f.id] = key
		b.sights = append(b.sights, sighting{key: key, seen: now})
	}
	b.forget(now)
}

// forget drops sightings older than ttl, and the oldest while more than
// max addresses are remembered.
func (b *addressBook) forget(now time.Time) {
	n := 0
	for ; n < len(b.sights); n++ {
		s := b.sights[n]
		if now.Sub(s.seen) < b.ttl && len(b.byKey) <= b.max && len(b.sights)-n <= 2*b.max {
			break
		}
		if r, ok := b.byKey[s.key]; ok && !r.seen.After(s.seen) {
			delete(b.byKey, s.key)
			if b.keyOf[r.cand.id] == s.key {
				delete(b.keyOf, r.cand.id)
			}
		}
	}
	b.sights = b.sights[n:]
}
