package isc_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// tenantBehaviour is one way a tenant may answer the public invite.
type tenantBehaviour struct {
	name    string
	unknown isctest.UnknownIDMode
	async   bool
}

func tenantBehaviours() []tenantBehaviour {
	var out []tenantBehaviour
	for _, u := range []isctest.UnknownIDMode{isctest.UnknownIDsReject, isctest.UnknownIDsSkip} {
		for _, async := range []bool{false, true} {
			name := "reject"
			if u == isctest.UnknownIDsSkip {
				name = "skip"
			}
			if async {
				name += "/async"
			} else {
				name += "/sync"
			}
			out = append(out, tenantBehaviour{name: name, unknown: u, async: async})
		}
	}
	return out
}

// taskDelay is the asynchronous tasks' run time in these tests; the
// Inviter's first read waits as long (the default ratio: 2 s and 2 s).
const taskDelay = 100 * time.Millisecond

func (b tenantBehaviour) options() isctest.Options {
	o := isctest.Options{Users: 10, UnknownIDs: b.unknown, AsyncTasks: b.async}
	if b.async {
		o.TaskDelay = taskDelay
	}
	return o
}

func newTestInviter(t *testing.T, tenant *isctest.Server, cfg isc.InviterConfig) (*isc.Client, *isc.Inviter) {
	t.Helper()
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	if cfg.TaskPoll == 0 {
		cfg.TaskPoll = taskDelay
	}
	inv, err := isc.NewInviter(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, inv
}

// callsTo counts the tenant's calls whose path contains part.
func callsTo(tenant *isctest.Server, part string) int {
	n := 0
	for _, c := range tenant.Calls() {
		if strings.Contains(c.Path, part) {
			n++
		}
	}
	return n
}

// TestInviterOutcomesUnderTenantBehaviours: under each way a tenant may
// treat unknown ids and run its task, with and without the lookup, every
// identity ISC can mail is invited exactly once and recorded invited, and
// no other identity is recorded invited.
func TestInviterOutcomesUnderTenantBehaviours(t *testing.T) {
	t.Parallel()
	for _, b := range tenantBehaviours() {
		for _, noLookup := range []bool{false, true} {
			name := fmt.Sprintf("%s/lookup=%v", b.name, !noLookup)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tenant := isctest.NewServer(b.options())
				t.Cleanup(tenant.Close)
				type want struct {
					outcome inviter.Outcome
					reason  string // a part of the reason
					mails   int
				}
				wants := map[string]want{}
				var ids []string
				add := func(n isctest.NewIdentity, w want) {
					id := tenant.CreateIdentity(n).ID
					ids = append(ids, id)
					wants[id] = w
				}
				for i := range 60 {
					add(isctest.NewIdentity{}, want{outcome: inviter.OutcomeInvited, mails: 1})
					if i%6 == 0 {
						add(isctest.NewIdentity{VisibleAfter: time.Hour}, want{outcome: inviter.OutcomeNotFound})
					}
					if i%12 == 0 {
						add(isctest.NewIdentity{NoEmail: true}, want{outcome: inviter.OutcomeFailed, reason: "no email"})
					}
				}
				if !noLookup {
					// Without the lookup ISC's task does not report these
					// (it skips them silently), so only the lookup knows.
					for _, st := range []string{"ACTIVE", "LOCKED"} {
						add(isctest.NewIdentity{Status: st}, want{outcome: inviter.OutcomeAlreadyRegistered})
					}
					for _, st := range []string{"DISABLED", "PENDING", "ERROR"} {
						add(isctest.NewIdentity{Status: st}, want{outcome: inviter.OutcomeSkipped, reason: st})
					}
				}
				_, inv := newTestInviter(t, tenant, isc.InviterConfig{NoLookup: noLookup})
				results := inv.Invite(context.Background(), ids)
				if len(results) != len(ids) {
					t.Fatalf("%d results for %d ids", len(results), len(ids))
				}
				for _, r := range results {
					w := wants[r.IdentityID]
					if r.Outcome != w.outcome || !strings.Contains(r.Reason, w.reason) {
						t.Errorf("%s: %s (%s), want %s (%q)", r.IdentityID, r.Outcome, r.Reason, w.outcome, w.reason)
					}
					if n := tenant.InviteCount(r.IdentityID); n != w.mails {
						t.Errorf("%s: mailed %d times, want %d", r.IdentityID, n, w.mails)
					}
					if r.Outcome == inviter.OutcomeInvited && (r.CompletionStatus == "" || r.TaskID == "") {
						t.Errorf("%s: invited without task status (task %q, status %q)", r.IdentityID, r.TaskID, r.CompletionStatus)
					}
				}
			})
		}
	}
}

// TestInviterBurstCost: a burst of 2,000 mailable identities, sent as the
// queue sends them (20 concurrent batches of 100), costs at most 0.035
// calls per invited identity under each tenant behaviour, token included:
// one lookup and one invite per batch, and one task read per batch when
// the task runs asynchronously.
func TestInviterBurstCost(t *testing.T) {
	t.Parallel()
	const n, batch = 2000, 100
	for _, b := range tenantBehaviours() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			opts := b.options()
			opts.RateLimit = -1
			tenant := isctest.NewServer(opts)
			t.Cleanup(tenant.Close)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = tenant.CreateIdentity(isctest.NewIdentity{}).ID
			}
			tenant.ResetCalls()
			_, inv := newTestInviter(t, tenant, isc.InviterConfig{BatchSize: batch})
			var mu sync.Mutex
			invited := 0
			var wg sync.WaitGroup
			for i := 0; i < n; i += batch {
				wg.Go(func() {
					for _, r := range inv.Invite(context.Background(), ids[i:i+batch]) {
						if r.Outcome == inviter.OutcomeInvited {
							mu.Lock()
							invited++
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			if invited != n || len(tenant.Invites()) != n {
				t.Fatalf("%d recorded invited, %d mailed; want %d", invited, len(tenant.Invites()), n)
			}
			calls := tenant.CallCount("")
			want := 1 + 2*n/batch // token, a lookup and an invite per batch
			if b.async {
				want += n / batch // one task read per batch
			}
			t.Logf("%s: %d calls for %d invited = %.4f per invited (token %d, lookups %d, invites %d, task reads %d)", b.name, calls, invited,
				float64(calls)/float64(invited), callsTo(tenant, "/oauth/token"), callsTo(tenant, "/identities")-callsTo(tenant, "/invite"), callsTo(tenant, "/invite"), callsTo(tenant, "task-status"))
			if calls != want {
				t.Errorf("%d calls, want %d", calls, want)
			}
			if per := float64(calls) / float64(invited); per > 0.035 {
				t.Errorf("%.4f calls per invited identity, want at most 0.035", per)
			}
		})
	}
}

// TestInviterTaskNeverCompletes: a task still running after TaskWait: ISC
// accepted the invitation, so the ids are invited, unverified, and never
// sent again.
func TestInviterTaskNeverCompletes(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10, AsyncTasks: true, TaskDelay: time.Hour})
	t.Cleanup(tenant.Close)
	ids := []string{tenant.CreateIdentity(isctest.NewIdentity{}).ID, tenant.CreateIdentity(isctest.NewIdentity{}).ID}
	_, inv := newTestInviter(t, tenant, isc.InviterConfig{TaskPoll: 20 * time.Millisecond, TaskWait: 200 * time.Millisecond})
	tenant.ResetCalls()
	for _, r := range inv.Invite(context.Background(), ids) {
		if r.Outcome != inviter.OutcomeInvited || r.CompletionStatus != "" || !strings.Contains(r.Reason, "not verified") {
			t.Errorf("%s: %s %q (%s), want invited, no completion status, not verified", r.IdentityID, r.Outcome, r.CompletionStatus, r.Reason)
		}
	}
	// Reads at 20, 60 and 140 ms; the next would be past 200 ms.
	if n := callsTo(tenant, "task-status"); n < 3 || n > 4 {
		t.Errorf("%d task reads, want 3 or 4 (doubling waits within TaskWait)", n)
	}
	if n := callsTo(tenant, "/invite"); n != 1 {
		t.Errorf("%d invite calls, want 1", n)
	}
}

// TestInviterTaskUnreadable: a token without idn:task-management:read: the
// first read is refused and not repeated; the invitation stands,
// unverified.
func TestInviterTaskUnreadable(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10, AsyncTasks: true, TaskDelay: taskDelay,
		Scopes: []string{isctest.ScopeInvite, isctest.ScopeIdentityRead}})
	t.Cleanup(tenant.Close)
	id := tenant.CreateIdentity(isctest.NewIdentity{}).ID
	_, inv := newTestInviter(t, tenant, isc.InviterConfig{})
	tenant.ResetCalls()
	r := inv.Invite(context.Background(), []string{id})[0]
	if r.Outcome != inviter.OutcomeInvited || !strings.Contains(r.Reason, "could not be read") {
		t.Errorf("%s (%s), want invited, status could not be read", r.Outcome, r.Reason)
	}
	if n := callsTo(tenant, "task-status"); n != 1 {
		t.Errorf("%d task reads, want 1", n)
	}
	if n := tenant.InviteCount(id); n != 1 {
		t.Errorf("mailed %d times, want 1", n)
	}
}

// TestInviterWithoutIdentityRead: a token that may invite and read tasks
// but not list identities: the lookup's 403 leaves the task's report to go
// by, and a skipped id is still not recorded invited.
func TestInviterWithoutIdentityRead(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10, UnknownIDs: isctest.UnknownIDsSkip, AsyncTasks: true, TaskDelay: taskDelay,
		Scopes: []string{isctest.ScopeInvite, isctest.ScopeTaskRead}})
	t.Cleanup(tenant.Close)
	ok := tenant.CreateIdentity(isctest.NewIdentity{}).ID
	late := tenant.CreateIdentity(isctest.NewIdentity{VisibleAfter: time.Hour}).ID
	_, inv := newTestInviter(t, tenant, isc.InviterConfig{})
	for _, r := range inv.Invite(context.Background(), []string{ok, late}) {
		want := inviter.OutcomeInvited
		if r.IdentityID == late {
			want = inviter.OutcomeNotFound
		}
		if r.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", r.IdentityID, r.Outcome, r.Reason, want)
		}
	}
	if n := len(tenant.Invites()); n != 1 {
		t.Errorf("%d mailed, want 1", n)
	}
}

// TestInviterCCBurstCost: the /cc path for a burst of 2,000 new identities
// among 2,000 users, under each list order: one scan of the list
// (overlapping pages: 1 + ceil(3,750/249) = 17 calls), shared by the 20
// concurrent batches, and one invite call per batch.
func TestInviterCCBurstCost(t *testing.T) {
	t.Parallel()
	const users, n, batch = 2000, 2000, 100
	for _, order := range []isctest.CCOrder{isctest.CCOrderCreated, isctest.CCOrderName, isctest.CCOrderNewestFirst} {
		name := string(order)
		if name == "" {
			name = "created"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: users, CCOrder: order, RateLimit: -1})
			t.Cleanup(tenant.Close)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = tenant.CreateIdentity(isctest.NewIdentity{}).ID
			}
			tenant.ResetCalls()
			c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
			if err != nil {
				t.Fatal(err)
			}
			dir := isc.NewDirectory(c, isc.DirectoryOptions{})
			inv, err := isc.NewInviter(c, isc.InviterConfig{API: inviter.APICC, BatchSize: batch, Directory: dir})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			invited := 0
			var wg sync.WaitGroup
			for i := 0; i < n; i += batch {
				wg.Go(func() {
					for _, r := range inv.Invite(context.Background(), ids[i:i+batch]) {
						if r.Outcome == inviter.OutcomeInvited {
							mu.Lock()
							invited++
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			if invited != n || len(tenant.Invites()) != n {
				t.Fatalf("%d recorded invited, %d mailed; want %d", invited, len(tenant.Invites()), n)
			}
			calls := tenant.CallCount("")
			t.Logf("cc/%s: %d calls for %d invited = %.4f per invited (list %d, invite %d)", name, calls, invited, float64(calls)/float64(invited),
				callsTo(tenant, "/cc/api/user/list"), callsTo(tenant, "/cc/api/user/invite"))
			if want := 1 + 17 + n/batch; calls != want {
				t.Errorf("%d calls, want %d (token, one scan, an invite per batch)", calls, want)
			}
		})
	}
}

// TestInviterTaskMessagesWithoutIDs: a tenant whose task messages name no
// identity. With the lookup, ERROR messages are matched to the ids ISC
// lists without an email address, and the rest is invited. Without it,
// nothing says which ids were mailed: they are failed as unknown, and
// none is sent twice.
func TestInviterTaskMessagesWithoutIDs(t *testing.T) {
	t.Parallel()
	for _, noLookup := range []bool{false, true} {
		t.Run(fmt.Sprintf("lookup=%v", !noLookup), func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 10, AsyncTasks: true, TaskDelay: taskDelay, TaskMessagesWithoutIDs: true})
			t.Cleanup(tenant.Close)
			var ids []string
			noEmail := map[string]bool{}
			for i := range 30 {
				id := tenant.CreateIdentity(isctest.NewIdentity{NoEmail: i%10 == 0}).ID
				ids = append(ids, id)
				noEmail[id] = i%10 == 0
			}
			_, inv := newTestInviter(t, tenant, isc.InviterConfig{NoLookup: noLookup})
			for _, r := range inv.Invite(context.Background(), ids) {
				want, reason := inviter.OutcomeInvited, ""
				switch {
				case noLookup:
					want, reason = inviter.OutcomeFailed, "unknown"
				case noEmail[r.IdentityID]:
					want, reason = inviter.OutcomeFailed, "no email address"
				}
				if r.Outcome != want || !strings.Contains(r.Reason, reason) {
					t.Errorf("%s: %s (%s), want %s (%q)", r.IdentityID, r.Outcome, r.Reason, want, reason)
				}
				mails := 1
				if noEmail[r.IdentityID] {
					mails = 0
				}
				if n := tenant.InviteCount(r.IdentityID); n != mails {
					t.Errorf("%s: mailed %d times, want %d", r.IdentityID, n, mails)
				}
			}
		})
	}
}

// TestInviterManyBatchesInOneCall: one Invite of 500 ids (as the CLI
// sends a list) under asynchronous tasks: five invite calls, each task
// read once, every id invited once.
func TestInviterManyBatchesInOneCall(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10, AsyncTasks: true, TaskDelay: taskDelay, RateLimit: -1})
	t.Cleanup(tenant.Close)
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = tenant.CreateIdentity(isctest.NewIdentity{}).ID
	}
	_, inv := newTestInviter(t, tenant, isc.InviterConfig{BatchSize: 100})
	tenant.ResetCalls()
	for _, r := range inv.Invite(context.Background(), ids) {
		if r.Outcome != inviter.OutcomeInvited || r.CompletionStatus != "SUCCESS" || tenant.InviteCount(r.IdentityID) != 1 {
			t.Errorf("%s: %s %q (%s), mailed %d", r.IdentityID, r.Outcome, r.CompletionStatus, r.Reason, tenant.InviteCount(r.IdentityID))
		}
	}
	if inv, reads, lookups := callsTo(tenant, "/invite"), callsTo(tenant, "task-status"), callsTo(tenant, "/identities")-callsTo(tenant, "/invite"); inv != 5 || reads != 5 || lookups != 4 {
		// Lookups: 250 ids a chunk, each split in two to keep the URI of
		// "id in (…)" under 8 KB.
		t.Errorf("%d invite calls, %d task reads, %d lookups; want 5, 5 and 4", inv, reads, lookups)
	}
}
