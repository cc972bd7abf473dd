package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// InviteResult is what the invite scenario measured on one path.
type InviteResult struct {
	// API is the invite path.
	API inviter.API
	// Invited is the wave's identities the tenant mailed; Duplicates those
	// mailed more than once.
	Invited, Duplicates int
	// Calls counts every call the tenant received, token calls included.
	Calls harness.Calls
	// RateLimited is the tenant's 429 answers.
	RateLimited int
	// Wall is the time from the first creation to the last invitation.
	Wall time.Duration
	// P50 and P99 are the times from creation to invitation.
	P50, P99 time.Duration
	// NaiveCalls is the naive baseline's calls; NaiveSampled the events it
	// ran when sampled and extrapolated (0: every event).
	NaiveCalls, NaiveSampled int
}

// CallsPerInvite is the calls per invited identity.
func (r InviteResult) CallsPerInvite() float64 {
	return float64(r.Calls.Total) / float64(max(r.Invited, 1))
}

// Ratio is the calls ÷ the naive baseline's.
func (r InviteResult) Ratio() float64 { return float64(r.Calls.Total) / float64(max(r.NaiveCalls, 1)) }

// Invite measures the daemon on one invite path: a tenant of cfg.Users
// identities subscribes the daemon to its Identity Created trigger, then
// cfg.Events identities are created in a burst; the tenant counts every
// call and each invitation. Progress lines go to progress.
func Invite(ctx context.Context, cfg Config, api inviter.API, progress io.Writer) (InviteResult, error) {
	res := InviteResult{API: api}
	r, err := harness.Start(ctx, cfg.rigOptions(api, cfg.Users))
	if err != nil {
		return res, err
	}
	defer r.Close()
	// The calls of this setup are not counted.
	if _, err := r.Subscribe(ctx, "inviter bench"); err != nil {
		return res, err
	}
	if cfg.Faults {
		r.Tenant.SetFaults(harness.StandardFaults())
	}
	r.Tenant.ResetCalls()

	// The burst: every identity created at once, each event delivered by
	// the tenant as it is created.
	w, err := r.CreateWave(ctx, harness.WaveOptions{Size: cfg.Events, Identity: func(int) isctest.NewIdentity {
		return isctest.NewIdentity{Department: "Engineering", VisibleAfter: cfg.LateVisibility}
	}})
	if err != nil {
		return res, err
	}
	last, err := r.WaitInvited(ctx, w, harness.WaitOptions{Timeout: cfg.Timeout, Progress: func(n int) {
		fmt.Fprintf(progress, "  %5.1fs invited %d/%d, calls %d\n", time.Since(w.Start).Seconds(), n, cfg.Events, r.Tenant.CallCount(""))
	}})
	if err != nil {
		return res, err
	}
	res.Wall = last.Sub(w.Start)
	// Stop the daemon before counting, so that every call it makes is in.
	if err := r.Stop(); err != nil {
		return res, fmt.Errorf("the daemon stopped with an error: %w", err)
	}
	t := r.Tally(w)
	res.Invited, res.Duplicates = t.Invited, t.Duplicates
	res.P50, res.P99 = t.Percentile(50), t.Percentile(99)
	res.Calls = r.Calls()
	res.RateLimited = r.Tenant.RateLimited()
	return res, nil
}

// Naive measures a naive baseline on a fresh tenant with the scenario's
// users and events, and returns its calls (extrapolated from the sample,
// which it returns too, for a sampled run; 0 means all events ran). The
// naive code starts once every new identity is visible, which spares it
// the retries a late identity would cost it: the baseline is counted in
// its favour.
func Naive(ctx context.Context, cfg Config, api inviter.API) (calls, sampled int, err error) {
	o := cfg.rigOptions(api, cfg.Users)
	tenant := harness.NewTenant(o)
	defer tenant.Close()
	if cfg.Faults {
		tenant.SetFaults(harness.StandardFaults())
	}
	wave := tenant.CreateIdentities(cfg.Events, func(int) isctest.NewIdentity {
		return isctest.NewIdentity{Department: "Engineering", VisibleAfter: cfg.LateVisibility}
	})
	if cfg.LateVisibility > 0 {
		select {
		case <-time.After(cfg.LateVisibility):
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
	ids := make([]string, len(wave))
	for i, w := range wave {
		ids[i] = w.ID
	}
	if api == inviter.APICC && cfg.NaiveSample > 0 && cfg.NaiveSample < len(ids) {
		sampled = cfg.NaiveSample
		sample := make([]string, sampled)
		for i := range sample {
			sample[i] = ids[i*len(ids)/sampled]
		}
		ids = sample
	}
	tenant.ResetCalls()
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	c, err := isc.New(cctx, harness.ClientConfig(tenant, o))
	if err != nil {
		return 0, 0, err
	}
	if api == inviter.APICC {
		err = naiveCC(cctx, c, ids, cfg.NaiveWorkers)
	} else {
		err = naivePublic(cctx, c, ids, cfg.NaiveWorkers)
	}
	if err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		if tenant.InviteCount(id) == 0 {
			return 0, 0, fmt.Errorf("the naive %s code did not invite %s", api, id)
		}
	}
	calls = tenant.CallCount("")
	if sampled > 0 {
		tokens := tenant.CallCount("POST /oauth/token")
		calls = tokens + int(math.Round(float64(calls-tokens)*float64(cfg.Events)/float64(sampled)))
	}
	return calls, sampled, nil
}

// naiveAttempts is how many times the naive code sends one call again after
// an error the client's own retries did not cure.
const naiveAttempts = 5

// naivePublic is the obvious public-API integration: one invite call per
// event, from a few workers.
func naivePublic(ctx context.Context, c *isc.Client, ids []string, workers int) error {
	return forEachID(ctx, ids, workers, func(id string) error {
		return retryNaive(ctx, func() error {
			_, err := c.InviteIdentities(ctx, []string{id})
			return err
		})
	})
}

// naiveCC is the forum answer's algorithm: for each event, page
// /cc/api/user/list from offset 0 until an item's externalId is the
// event's identity id, then invite that item's short id.
func naiveCC(ctx context.Context, c *isc.Client, ids []string, workers int) error {
	return forEachID(ctx, ids, workers, func(id string) error {
		for start := 0; ; start += isc.CCPageSize {
			var page isc.CCUserPage
			err := retryNaive(ctx, func() error {
				var err error
				page, err = c.ListCCUsers(ctx, start, isc.CCPageSize)
				return err
			})
			if err != nil {
				return err
			}
			for _, u := range page.Items {
				if u.ExternalID == id {
					return retryNaive(ctx, func() error { return c.InviteCC(ctx, []string{u.ID}) })
				}
			}
			if len(page.Items) == 0 || start+len(page.Items) >= page.Total {
				return fmt.Errorf("identity %s is not in /cc/api/user/list", id)
			}
		}
	})
}

func retryNaive(ctx context.Context, f func() error) error {
	var err error
	for range naiveAttempts {
		if err = f(); err == nil || isc.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// forEachID calls f for every id from workers goroutines and returns the
// first error.
func forEachID(ctx context.Context, ids []string, workers int, f func(string) error) error {
	next := make(chan string)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range workers {
		wg.Go(func() {
			for id := range next {
				if err := f(id); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
feed:
	for _, id := range ids {
		select {
		case next <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}
