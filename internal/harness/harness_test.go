package harness_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start starts a rig and closes it when t ends.
func start(t *testing.T, ctx context.Context, o harness.Options) *harness.Rig {
	t.Helper()
	r, err := harness.Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// inviteWave subscribes the rig's daemon, creates a wave of n identities and
// waits until the tenant has mailed each; it returns the tally.
func inviteWave(t *testing.T, ctx context.Context, r *harness.Rig, n int, faults *isctest.Faults) harness.Tally {
	t.Helper()
	sub, err := r.Subscribe(ctx, "harness test")
	if err != nil {
		t.Fatal(err)
	}
	if sub.ID == "" {
		t.Fatal("the subscription has no id")
	}
	if faults != nil {
		r.Tenant.SetFaults(*faults)
	}
	w, err := r.CreateWave(ctx, harness.WaveOptions{Size: n, Identity: func(i int) isctest.NewIdentity {
		return isctest.NewIdentity{Department: []string{"Sales", "Engineering"}[i%2]}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.IDs) != n || len(w.Created) != n {
		t.Fatalf("wave of %d ids, %d created, want %d", len(w.IDs), len(w.Created), n)
	}
	lost, err := r.WaitDelivered(ctx, w)
	if err != nil || lost != 0 {
		t.Fatalf("WaitDelivered: %d lost, %v", lost, err)
	}
	last, err := r.WaitInvited(ctx, w, harness.WaitOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Stop before counting, so that every call the daemon makes is in.
	if err := r.Stop(); err != nil {
		t.Fatalf("the daemon stopped with %v", err)
	}
	tally := r.Tally(w)
	if tally.Invited != n || tally.Duplicates != 0 {
		t.Fatalf("invited %d (%d more than once), want %d exactly once", tally.Invited, tally.Duplicates, n)
	}
	if !tally.Last.Equal(last) || len(tally.Latencies) != n || tally.Percentile(50) <= 0 {
		t.Fatalf("tally last %s (wait said %s), %d latencies, p50 %s", tally.Last, last, len(tally.Latencies), tally.Percentile(50))
	}
	for _, id := range w.IDs {
		if got := r.Tenant.InviteCount(id); got != 1 {
			t.Fatalf("%s mailed %d times", id, got)
		}
	}
	return tally
}

func TestWaveInvitedOnce(t *testing.T) {
	t.Parallel()
	for _, api := range []inviter.API{inviter.APIPublic, inviter.APICC} {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			var results atomic.Int64
			r := start(t, ctx, harness.Options{
				Users: 200, API: api, BatchWindow: 50 * time.Millisecond, DirectoryRefresh: 100 * time.Millisecond,
				OnResult: func(res inviter.Result) {
					if res.Outcome == inviter.OutcomeInvited {
						results.Add(1)
					}
				},
			})
			r.Tenant.ResetCalls()
			inviteWave(t, ctx, r, 30, nil)
			calls := r.Calls()
			if calls.Invite == 0 || calls.Token == 0 || calls.Total != calls.Invite+calls.List+calls.Token+calls.Other {
				t.Fatalf("calls %+v: want invite and token calls, adding up", calls)
			}
			if api == inviter.APICC && calls.List == 0 {
				t.Fatalf("cc path made no list call: %+v", calls.ByEndpoint)
			}
			if got := results.Load(); got != 30 {
				t.Fatalf("OnResult saw %d invited results, want 30", got)
			}
		})
	}
}

// TestWaveUnderFaults: with a third of the tenant's API calls failing, the
// daemon's retries still invite each identity once.
func TestWaveUnderFaults(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := start(t, ctx, harness.Options{Users: 100, BatchWindow: 50 * time.Millisecond})
	faults := isctest.Faults{ErrorRate: 0.2, ResetRate: 0.1, Seed: 7}
	inviteWave(t, ctx, r, 20, &faults)
	if r.Tenant.CallCount("") == 0 {
		t.Fatal("no calls recorded")
	}
}

// TestWaitInvitedTimesOut: registered identities are never mailed, so the
// wait ends with a TimeoutError that counts them.
func TestWaitInvitedTimesOut(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := start(t, ctx, harness.Options{BatchWindow: 50 * time.Millisecond})
	if _, err := r.Subscribe(ctx, "harness test"); err != nil {
		t.Fatal(err)
	}
	w, err := r.CreateWave(ctx, harness.WaveOptions{Size: 3, Identity: func(int) isctest.NewIdentity {
		return isctest.NewIdentity{Registered: true}
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.WaitInvited(ctx, w, harness.WaitOptions{Timeout: 300 * time.Millisecond})
	var te *harness.TimeoutError
	if !errors.As(err, &te) || te.Invited != 0 || te.Total != 3 {
		t.Fatalf("WaitInvited: %v, want a timeout with 0 of 3 invited", err)
	}
}

// TestPost posts deliveries straight to the webhook from several senders,
// on PostgreSQL when INVITER_TEST_POSTGRES_URL is set and on SQLite.
func TestPost(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			o := harness.Options{BatchWindow: 50 * time.Millisecond}
			if backend == "postgres" {
				o.DB = storetest.PostgresDSN(t)
			}
			var delivered atomic.Int64
			o.OnDelivery = func(inviter.IdentityCreated, bool) { delivered.Add(1) }
			r := start(t, ctx, o)
			ids := r.Tenant.CreateIdentities(40, nil)
			payloads := make([][]byte, len(ids))
			for i, id := range ids {
				var err error
				if payloads[i], err = harness.Payload(id); err != nil {
					t.Fatal(err)
				}
			}
			p, err := r.Post(ctx, payloads, 4)
			if err != nil {
				t.Fatal(err)
			}
			if p.Sent != 40 || len(p.Acked) != 40 || p.Failed() != 0 || p.Wall <= 0 {
				t.Fatalf("posted %d, acked %d, failed %d, wall %s", p.Sent, len(p.Acked), p.Failed(), p.Wall)
			}
			if got := delivered.Load(); got != 40 {
				t.Fatalf("the daemon took %d deliveries, want 40", got)
			}
			// A payload that is not an event is refused, and not stored.
			p, err = r.Post(ctx, [][]byte{[]byte(`{"identity":`)}, 1)
			if err != nil || p.Sent != 1 || p.Failed() != 1 {
				t.Fatalf("a broken payload: %d sent, %d failed, %v", p.Sent, p.Failed(), err)
			}
			if got := delivered.Load(); got != 40 {
				t.Fatalf("the daemon took %d deliveries after the broken one, want 40", got)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	d := []time.Duration{5, 1, 4, 2, 3}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 3}, {99, 5}, {0, 1}, {20, 1}, {21, 2}} {
		if got := harness.Percentile(d, c.p); got != c.want {
			t.Errorf("p%.0f = %d, want %d", c.p, got, c.want)
		}
	}
	if got := harness.Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of none = %d", got)
	}
}

func TestCountCalls(t *testing.T) {
	t.Parallel()
	calls := []isctest.Call{
		{Endpoint: "POST /oauth/token", Path: "/oauth/token"},
		{Endpoint: "POST /beta/identities/invite"},
		{Endpoint: "POST /cc/api/user/invite"},
		{Endpoint: "GET /cc/api/user/list"},
		{Endpoint: "GET /v2025/identities"},
		{Endpoint: "GET /v2025/identities/{id}"},
	}
	c := harness.CountCalls(calls)
	if c.Total != 6 || c.Token != 1 || c.Invite != 2 || c.List != 2 || c.Other != 1 || c.ByEndpoint["GET /cc/api/user/list"] != 1 {
		t.Fatalf("%+v", c)
	}
}
