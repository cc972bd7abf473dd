package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/inviter/inviter/isctest"
)

// WaveOptions describes a wave of new identities.
type WaveOptions struct {
	// Size is the number of new identities.
	Size int
	// Identity describes the i-th identity of the wave; nil: isctest's
	// defaults.
	Identity func(i int) isctest.NewIdentity
	// Burst and Pause, when both positive, create the wave Burst identities
	// at a time with Pause between two bursts, as an aggregation does.
	Burst int
	Pause time.Duration
	// InFlight, when positive, is the most of the wave's events the tenant
	// has unanswered at once: a creation waits for an earlier delivery to
	// finish. ISC delivers a large aggregation's events over time; the
	// fake tenant gives each event one attempt with a 10 s timeout.
	InFlight int
}

// A Wave is a set of identities created in the tenant, whose Identity
// Created events the tenant delivers to its subscribers as each is created.
type Wave struct {
	// IDs are the identities' ids in creation order.
	IDs []string
	// Created is each identity's creation time, by id.
	Created map[string]time.Time
	// Start is when the wave's creation began.
	Start time.Time

	deliveriesBefore int // the tenant's delivery attempts before the wave
}

// CreateWave creates a wave of new identities in the tenant as o
// describes. It returns early, with the identities created so far, when ctx
// ends.
func (r *Rig) CreateWave(ctx context.Context, o WaveOptions) (*Wave, error) {
	w := &Wave{Created: make(map[string]time.Time, o.Size), deliveriesBefore: len(r.Tenant.Deliveries()), Start: time.Now()}
	for i := range o.Size {
		if o.InFlight > 0 && i >= o.InFlight {
			if err := r.Tenant.WaitDeliveries(ctx, w.deliveriesBefore+i-o.InFlight+1); err != nil {
				return w, err
			}
		}
		var n isctest.NewIdentity
		if o.Identity != nil {
			n = o.Identity(i)
		}
		id := r.Tenant.CreateIdentity(n)
		w.IDs = append(w.IDs, id.ID)
		w.Created[id.ID] = id.Created
		if o.Burst > 0 && o.Pause > 0 && i%o.Burst == o.Burst-1 && i < o.Size-1 {
			select {
			case <-time.After(o.Pause):
			case <-ctx.Done():
				return w, ctx.Err()
			}
		}
	}
	return w, nil
}

// WaitDelivered waits until the tenant has made one delivery attempt for
// each identity of w (the tenant having one subscription), and returns how
// many of them the daemon did not answer 200: the fake tenant never
// delivers an event again.
func (r *Rig) WaitDelivered(ctx context.Context, w *Wave) (lost int, err error) {
	if err := r.Tenant.WaitDeliveries(ctx, w.deliveriesBefore+len(w.IDs)); err != nil {
		return 0, err
	}
	for _, d := range r.Tenant.Deliveries()[w.deliveriesBefore:] {
		if d.Status != http.StatusOK {
			lost++
		}
	}
	return lost, nil
}

// WaitOptions tunes WaitInvited.
type WaitOptions struct {
	// Timeout bounds the wait; 0: until ctx ends.
	Timeout time.Duration
	// Progress, when set, is called about every ProgressEvery while the
	// wait lasts, with how many of the wave's identities the tenant has
	// mailed.
	Progress func(invited int)
	// ProgressEvery is the period of Progress. Default 5 s.
	ProgressEvery time.Duration
}

// A TimeoutError is a wave not wholly invited within WaitOptions.Timeout.
type TimeoutError struct {
	Timeout        time.Duration
	Invited, Total int
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s: %d of %d identities invited", e.Timeout, e.Invited, e.Total)
}

// WaitInvited waits until the tenant has mailed every identity of w at
// least once, and returns when the last of those first mails went out. It
// fails with a *TimeoutError after o.Timeout, and when the daemon ends or
// ctx does.
func (r *Rig) WaitInvited(ctx context.Context, w *Wave, o WaitOptions) (last time.Time, err error) {
	var deadline <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	// Each look copies the tenant's invitations: look less often at large
	// waves, so that the wait does not take the daemon's CPU.
	tick := time.NewTicker(max(20*time.Millisecond, time.Duration(len(w.Created))*10*time.Microsecond))
	defer tick.Stop()
	lastReport := time.Now()
	for {
		seen := make(map[string]bool, len(w.Created))
		last = time.Time{}
		for _, inv := range r.Tenant.Invites() {
			if _, ok := w.Created[inv.IdentityID]; !ok || seen[inv.IdentityID] {
				continue
			}
			seen[inv.IdentityID] = true
			if inv.At.After(last) {
				last = inv.At
			}
		}
		if len(seen) == len(w.Created) {
			return last, nil
		}
		if o.Progress != nil && time.Since(lastReport) >= o.ProgressEvery {
			lastReport = time.Now()
			o.Progress(len(seen))
		}
		select {
		case <-tick.C:
		case <-deadline:
			return last, &TimeoutError{Timeout: o.Timeout, Invited: len(seen), Total: len(w.Created)}
		case <-r.Done():
			if err := r.Stop(); err != nil {
				return last, fmt.Errorf("the daemon stopped: %w", err)
			}
			return last, errors.New("the daemon stopped")
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
}

// Tally is what the tenant recorded of a wave's invitations.
type Tally struct {
	// Invited is the number of the wave's identities mailed at least once.
	Invited int
	// Duplicates is the number of them mailed more than once.
	Duplicates int
	// Latencies are the times from each invited identity's creation to its
	// first mail, shortest first.
	Latencies []time.Duration
	// Last is when the last of those first mails went out.
	Last time.Time
}

// Percentile returns the p-th percentile (nearest rank) of the latencies;
// 0 when there are none.
func (t Tally) Percentile(p float64) time.Duration { return Percentile(t.Latencies, p) }

// Tally counts the tenant's invitations of w's identities.
func (r *Rig) Tally(w *Wave) Tally {
	first := map[string]time.Time{}
	count := map[string]int{}
	for _, inv := range r.Tenant.Invites() {
		if _, ok := w.Created[inv.IdentityID]; !ok {
			continue
		}
		count[inv.IdentityID]++
		if at, ok := first[inv.IdentityID]; !ok || inv.At.Before(at) {
			first[inv.IdentityID] = inv.At
		}
	}
	var t Tally
	t.Latencies = make([]time.Duration, 0, len(first))
	for id, at := range first {
		t.Invited++
		if count[id] > 1 {
			t.Duplicates++
		}
		t.Latencies = append(t.Latencies, at.Sub(w.Created[id]))
		if at.After(t.Last) {
			t.Last = at
		}
	}
	slices.Sort(t.Latencies)
	return t
}

// Percentile returns the p-th percentile (nearest rank) of d, which it
// sorts; 0 when d is empty.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// Calls counts API calls a tenant received, by kind.
type Calls struct {
	// Total is every call, token calls included.
	Total int
	// Invite, List, Token and Other are the invite calls (public or cc),
	// the identity and /cc user lists, the token calls and the rest; they
	// add up to Total.
	Invite, List, Token, Other int
	// ByEndpoint counts the calls by isctest endpoint ("GET /v2025/identities").
	ByEndpoint map[string]int
}

// CountCalls counts calls by kind.
func CountCalls(calls []isctest.Call) Calls {
	c := Calls{ByEndpoint: map[string]int{}}
	for _, call := range calls {
		c.Total++
		c.ByEndpoint[call.Endpoint]++
		method, path, _ := strings.Cut(call.Endpoint, " ")
		switch {
		case path == "/oauth/token":
			c.Token++
		case method == http.MethodPost && strings.HasSuffix(path, "/invite"):
			c.Invite++
		case method == http.MethodGet && (strings.HasSuffix(path, "/list") || strings.HasSuffix(path, "/identities")):
			c.List++
		default:
			c.Other++
		}
	}
	return c
}

// Calls counts the calls the tenant has received since it started or since
// Tenant.ResetCalls.
func (r *Rig) Calls() Calls { return CountCalls(r.Tenant.Calls()) }
