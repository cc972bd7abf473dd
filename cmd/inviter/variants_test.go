package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/store"
)

// variantExpect is what should become of one identity of a wave.
type variantExpect struct {
	state   inviter.InviteState
	outcome inviter.Outcome
	reason  string // a part of the last reason; "" for any
	mails   int    // invitation mails the tenant sends it
	// sharer, when set, makes this identity one that shares an email
	// address with identities created before it; it is judged by
	// checkSharer instead of the fields above.
	sharer *sharerExpect
}

// sharerExpect is what may become of an identity sharing an email address
// with identities created before it. Which batch each identity's event
// reaches depends on timing (events are delivered concurrently, batches
// close after a window), and inviter promises, per docs/isc-api.md: of the
// identities of one invite call that share an address only the earliest
// created is sent; one arriving in a later call than an earlier sharer
// fails naming it (the address memory); and when a later call brings an
// identity created earlier than one already sent, the one sent stays
// recorded invited. So the identity either fails naming addr and one of
// earlier, or, only when it went out in an earlier call than first, is
// recorded invited. Either way ISC, which mails only the first identity
// with an address, never mails it.
type sharerExpect struct {
	addr    string
	first   string   // the earliest created identity with addr
	earlier []string // the identities with addr created before this one
}

// checkSharer judges an identity of a shared address (see sharerExpect):
// it returns what is wrong, "" when nothing is.
func checkSharer(ctx context.Context, db *store.DB, tenant *isctest.Server, id string, got store.Identity, want sharerExpect) string {
	if n := tenant.InviteCount(id); n != 0 {
		return fmt.Sprintf("mailed %d times, want 0 (ISC mails only %s)", n, want.first)
	}
	switch got.State {
	case inviter.StateFailed:
		if got.LastOutcome != inviter.OutcomeFailed {
			return fmt.Sprintf("failed with outcome %s", got.LastOutcome)
		}
		for _, e := range want.earlier {
			if strings.Contains(got.LastReason, "shares "+want.addr+" with "+e) {
				return ""
			}
		}
		return fmt.Sprintf("failed (%s), want the reason to name %s and one of %v", got.LastReason, want.addr, want.earlier)
	case inviter.StateInvited:
		mine, err := db.Audit(ctx, id, 1)
		if err != nil || len(mine) == 0 || mine[0].TaskID == "" {
			return fmt.Sprintf("invited; audit %+v (%v), want its task", mine, err)
		}
		for _, e := range want.earlier {
			theirs, err := db.Audit(ctx, e, 1)
			if err != nil || len(theirs) == 0 {
				return fmt.Sprintf("invited; audit of %s %+v (%v)", e, theirs, err)
			}
			if mine[0].BatchID == theirs[0].BatchID || mine[0].TaskID == theirs[0].TaskID {
				return fmt.Sprintf("invited in the call (batch %s, task %s) that had %s, created earlier with the same address", mine[0].BatchID, mine[0].TaskID, e)
			}
		}
		return ""
	}
	return fmt.Sprintf("%s/%s (%s), want failed naming %s, or invited in a call before %s's", got.State, got.LastOutcome, got.LastReason, want.addr, want.first)
}

// variantCell is one tenant behaviour the daemon runs against.
type variantCell struct {
	name    string
	opts    isctest.Options
	api     string
	backend storetest.Backend
	// wave creates the identities (their events are delivered) and says
	// what should become of each.
	wave func(tenant *isctest.Server) map[string]variantExpect
	// check, when set, asserts more (call counts) once every identity has
	// settled.
	check func(t *testing.T, tenant *isctest.Server, m callMeasure)
}

// callMeasure is what a cell cost, counted by the tenant.
type callMeasure struct {
	invited     int
	inviteCalls int // public invite calls
	invite400   int
	lookups     int // GET identities (list)
	taskReads   int
	ccLists     int
	ccInvites   int
	total       int
	// From the audit of the wave's identities: batches is how many
	// batches their jobs went in, sending how many of them made an invite
	// call (recorded a task), full how many held variantBatchSize jobs.
	batches, sending, full int
	// batchBound is the most batches the batcher's design allows for when
	// the events and calls happened (see batchBound).
	batchBound int
}

func (m callMeasure) perInvited() float64 {
	if m.invited == 0 {
		return math.Inf(1)
	}
	return float64(m.total) / float64(m.invited)
}

func measure(tenant *isctest.Server, invited int) callMeasure {
	m := callMeasure{invited: invited}
	for _, c := range tenant.Calls() {
		m.total++
		switch {
		case strings.HasSuffix(c.Path, "/identities/invite"):
			m.inviteCalls++
			if c.Status == 400 {
				m.invite400++
			}
		case strings.Contains(c.Path, "task-status"):
			m.taskReads++
		case c.Path == "/cc/api/user/list":
			m.ccLists++
		case c.Path == "/cc/api/user/invite":
			m.ccInvites++
		case strings.HasSuffix(c.Path, "/identities"):
			m.lookups++
		}
	}
	return m
}

// Variant tenants' shared settings: async tasks take less than the
// Inviter's first task read waits (2 s), so each accepted call costs
// exactly one read.
const variantTaskDelay = 300 * time.Millisecond

// The daemon's batching in the variant cells (serve's defaults, given
// explicitly because batchBound counts on them).
const (
	variantBatchSize   = 100
	variantBatchWindow = 250 * time.Millisecond
)

// measureBatches fills m's batch counts from the audit of the wave's
// identities and the tenant's record of deliveries and calls.
func measureBatches(ctx context.Context, t *testing.T, db *store.DB, tenant *isctest.Server, expects map[string]variantExpect, m *callMeasure) {
	t.Helper()
	size := map[string]int{}
	tasks := map[string]bool{}
	for id := range expects {
		audit, err := db.Audit(ctx, id, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range audit {
			if a.BatchID == "" {
				continue
			}
			size[a.BatchID]++
			if a.TaskID != "" {
				tasks[a.BatchID] = true
			}
		}
	}
	m.batches, m.sending = len(size), len(tasks)
	for _, n := range size {
		if n >= variantBatchSize {
			m.full++
		}
	}
	var first, last time.Time
	for _, d := range tenant.Deliveries() {
		if _, ok := expects[d.IdentityID]; ok && (first.IsZero() || d.At.Before(first)) {
			first = d.At
		}
	}
	for _, c := range tenant.Calls() {
		if c.At.After(last) {
			last = c.At
		}
	}
	m.batchBound = batchBound(first, last, m.full)
}

// batchBound is the most batches the batcher can have made from jobs
// that arrived no earlier than first (the wave's first event delivery)
// whose calls were all made by last (the tenant's last call): a batch that
// is not full is sent a window after its first job arrived, and the next
// batch starts with a job that arrives after that, so such batches are
// sent at least a window apart, the first a window after first; full
// batches go at once. How many batches a wave makes depends on how its
// events and retries spread over time (a loaded machine spreads them),
// so the bound is taken from the times they did take.
func batchBound(first, last time.Time, full int) int {
	if first.IsZero() || last.Before(first) {
		return full
	}
	return int(last.Sub(first)/variantBatchWindow) + full
}

// mainWave: 120 new identities, every 4th visible only 700 ms after its
// event, plus 6 that ISC cannot mail for want of an email address: on the
// public path ISC's task reports them and inviter records them failed with
// ISC's message; on the /cc path, whose invite answer reports nothing per
// user, inviter sees the empty address in the /cc list, does not send them
// and records them failed.
func mainWave(api string) func(*isctest.Server) map[string]variantExpect {
	return func(tenant *isctest.Server) map[string]variantExpect {
		out := map[string]variantExpect{}
		for _, id := range tenant.CreateIdentities(120, func(i int) isctest.NewIdentity {
			if i%4 == 0 {
				return isctest.NewIdentity{VisibleAfter: 700 * time.Millisecond}
			}
			return isctest.NewIdentity{}
		}) {
			out[id.ID] = variantExpect{state: inviter.StateInvited, outcome: inviter.OutcomeInvited, mails: 1}
		}
		for _, id := range tenant.CreateIdentities(6, func(int) isctest.NewIdentity { return isctest.NewIdentity{NoEmail: true} }) {
			out[id.ID] = variantExpect{state: inviter.StateFailed, outcome: inviter.OutcomeFailed, reason: "no email address"}
		}
		return out
	}
}

// sharedWave: two groups of new identities sharing an email address (3
// with one address in different cases, 2 with another), created one
// second apart, and 20 with addresses of their own. ISC mails only the
// first identity of an address: the earliest created of each group is
// invited and mailed once; the others are never mailed and, as
// sharerExpect says, fail naming the address and an earlier sharer, or
// stay recorded invited when their event reached an earlier batch than
// the first's. That each of one call's sharers is held exactly is
// TestInviterSharedAddressSendsTheFirstOnly's (isc), and the memory across
// batches TestVariantSharedAddressAcrossBatches'.
func sharedWave(tenant *isctest.Server) map[string]variantExpect {
	out := map[string]variantExpect{}
	base := time.Now().Add(-time.Minute)
	addrs := []string{"team@example.com", "Team@Example.com", "TEAM@example.com", "pair@example.com", "Pair@example.com"}
	group := tenant.CreateIdentities(len(addrs), func(i int) isctest.NewIdentity {
		return isctest.NewIdentity{Email: addrs[i], Created: base.Add(time.Duration(i) * time.Second)}
	})
	for i, id := range group {
		switch i {
		case 0, 3:
			out[id.ID] = variantExpect{state: inviter.StateInvited, outcome: inviter.OutcomeInvited, mails: 1}
		case 1, 2:
			out[id.ID] = variantExpect{sharer: &sharerExpect{addr: addrs[i], first: group[0].ID, earlier: identityIDs(group[:i])}}
		default:
			out[id.ID] = variantExpect{sharer: &sharerExpect{addr: addrs[i], first: group[3].ID, earlier: identityIDs(group[3:i])}}
		}
	}
	for _, id := range tenant.CreateIdentities(20, nil) {
		out[id.ID] = variantExpect{state: inviter.StateInvited, outcome: inviter.OutcomeInvited, mails: 1}
	}
	return out
}

// statusWave: one new identity in each status of the spec's enum besides
// UNREGISTERED, and 20 unregistered ones.
func statusWave(tenant *isctest.Server) map[string]variantExpect {
	out := map[string]variantExpect{}
	for _, id := range tenant.CreateIdentities(20, nil) {
		out[id.ID] = variantExpect{state: inviter.StateInvited, outcome: inviter.OutcomeInvited, mails: 1}
	}
	for _, st := range []string{"ACTIVE", "REGISTERED", "LOCKED"} {
		id := tenant.CreateIdentity(isctest.NewIdentity{Status: st})
		out[id.ID] = variantExpect{state: inviter.StateSkipped, outcome: inviter.OutcomeAlreadyRegistered, reason: st}
	}
	for _, st := range []string{"PENDING", "WARNING", "ERROR", "DISABLED", "DEACTIVATED", "TERMINATED"} {
		id := tenant.CreateIdentity(isctest.NewIdentity{Status: st})
		out[id.ID] = variantExpect{state: inviter.StateSkipped, outcome: inviter.OutcomeSkipped, reason: st}
	}
	return out
}

func sqlite() storetest.Backend   { return storetest.Backends()[0] }
func postgres() storetest.Backend { return storetest.Backends()[1] }

func orderName(o isctest.CCOrder) string {
	if o == "" {
		return "created"
	}
	return string(o)
}

func unknownName(u isctest.UnknownIDMode) string {
	if u == "" {
		return "reject"
	}
	return string(u)
}

// checkPublicCalls: the lookup keeps unknown ids out of the invite call
// (no 400), each accepted call's task is read exactly once when the tenant
// runs tasks asynchronously and never when it reports them complete, and
// there is a lookup for each invite call.
func checkPublicCalls(async bool) func(*testing.T, *isctest.Server, callMeasure) {
	return func(t *testing.T, _ *isctest.Server, m callMeasure) {
		if m.invite400 != 0 {
			t.Errorf("%d invite calls answered 400, want 0 (the lookup keeps unknown ids out)", m.invite400)
		}
		want := 0
		if async {
			want = m.inviteCalls
		}
		if m.taskReads != want {
			t.Errorf("%d task reads for %d invite calls, want %d", m.taskReads, m.inviteCalls, want)
		}
		if m.lookups < m.inviteCalls {
			t.Errorf("%d lookups for %d invite calls, want at least one each", m.lookups, m.inviteCalls)
		}
		// How many batches the wave makes varies with timing (on a quiet
		// machine its 126 events arrive within ~1 s and make a handful, the
		// late ones retried with 1 s backoff, doubling, until visible; on a
		// loaded one they spread over more windows). What the design
		// promises whatever the timing: batches at least a window apart
		// unless full, one invite call for each batch with ids to send
		// (none refused), and each batch costing at most a lookup, an
		// invite call and a task read (plus the token).
		if m.batches > m.batchBound {
			t.Errorf("%d batches (%d full), want at most %d for the time the wave took (batches a window apart)", m.batches, m.full, m.batchBound)
		}
		if m.inviteCalls != m.sending {
			t.Errorf("%d invite calls for %d batches with ids to send, want one each", m.inviteCalls, m.sending)
		}
		if limit := 3*m.batches + 3; m.total > limit {
			t.Errorf("%d calls in all for %d batches, want at most %d", m.total, m.batches, limit)
		}
	}
}

// checkCCCalls: the directory's list calls on a list of users+wave
// records stay within three full scans per refresh that misses can cause
// while late identities are invisible, plus slack.
func checkCCCalls(users int) func(*testing.T, *isctest.Server, callMeasure) {
	return func(t *testing.T, _ *isctest.Server, m callMeasure) {
		pages := (users + 126 + 248) / 249
		if limit := 3*pages*4 + 20; m.ccLists > limit {
			t.Errorf("%d /cc list calls, want at most %d", m.ccLists, limit)
		}
	}
}

// variantTaskReadDelay is how long a task-status read answers 404 after
// the 202 in the task-read-delay cell: longer than the Inviter's first
// read waits (2 s), shorter than its second (6 s after the 202).
const variantTaskReadDelay = 4 * time.Second

// checkTaskReadDelayCalls: each accepted invite call's task is read twice,
// the first read answered 404, and no invite call is refused.
func checkTaskReadDelayCalls(t *testing.T, tenant *isctest.Server, m callMeasure) {
	t.Helper()
	notFound := 0
	for _, c := range tenant.Calls() {
		if strings.Contains(c.Path, "task-status") && c.Status == 404 {
			notFound++
		}
	}
	if m.invite400 != 0 || m.taskReads != 2*m.inviteCalls || notFound != m.inviteCalls {
		t.Errorf("%d invite calls (%d answered 400), %d task reads of which %d answered 404; want no 400, two reads a call, the first 404",
			m.inviteCalls, m.invite400, m.taskReads, notFound)
	}
}

// checkFoundingCalls: as checkPublicCalls, and no call met a route the
// tenant does not serve (404).
func checkFoundingCalls(t *testing.T, tenant *isctest.Server, m callMeasure) {
	t.Helper()
	checkPublicCalls(true)(t, tenant, m)
	for _, c := range tenant.Calls() {
		if c.Status == 404 {
			t.Errorf("%s %s answered 404: a route the documented API does not have", c.Method, c.Path)
		}
	}
}

// checkListDelayCalls: no invite call is refused (the lookup keeps
// identities the list does not show yet out of it), and each identity
// costs little even though most are looked up more than once: as in
// checkPublicCalls, batches a window apart unless full, and each costing
// at most a lookup, an invite call and a task read.
func checkListDelayCalls(t *testing.T, _ *isctest.Server, m callMeasure) {
	t.Helper()
	if m.invite400 != 0 {
		t.Errorf("%d invite calls answered 400, want 0", m.invite400)
	}
	if m.taskReads != m.inviteCalls {
		t.Errorf("%d task reads for %d invite calls, want one each", m.taskReads, m.inviteCalls)
	}
	if m.batches > m.batchBound {
		t.Errorf("%d batches (%d full), want at most %d for the time the wave took (batches a window apart)", m.batches, m.full, m.batchBound)
	}
	if limit := 3*m.batches + 3; m.total > limit {
		t.Errorf("%d calls in all for %d batches, want at most %d", m.total, m.batches, limit)
	}
}

// TestVariantsInviteRightUnderEveryTenantBehaviour runs the daemon end to
// end (webhook, River, ISC client) against isctest variants: each /cc list
// order × each way of treating unknown ids, with asynchronous tasks; the
// extra identity statuses; scoped tokens; task messages that name no
// identity; tasks complete at once; and a cell of each path on
// PostgreSQL. Every identity ISC can mail is mailed exactly once
// (isctest's record is the judge) and recorded invited; every other one
// ends in the right state, with the right outcome and reason.
func TestVariantsInviteRightUnderEveryTenantBehaviour(t *testing.T) {
	t.Parallel()
	const users = 300
	var cells []variantCell
	for _, order := range []isctest.CCOrder{isctest.CCOrderCreated, isctest.CCOrderName, isctest.CCOrderNewestFirst} {
		for _, unknown := range []isctest.UnknownIDMode{isctest.UnknownIDsReject, isctest.UnknownIDsSkip} {
			opts := isctest.Options{Users: users, CCOrder: order, UnknownIDs: unknown, AsyncTasks: true, TaskDelay: variantTaskDelay}
			for _, api := range []string{"public", "cc"} {
				c := variantCell{
					name: fmt.Sprintf("%s/order=%s/unknown=%s/async", api, orderName(order), unknownName(unknown)),
					opts: opts, api: api, backend: sqlite(), wave: mainWave(api),
				}
				if api == "public" {
					c.check = checkPublicCalls(true)
				} else {
					c.check = checkCCCalls(users)
				}
				cells = append(cells, c)
			}
		}
	}
	cells = append(cells,
		variantCell{name: "public/sync", opts: isctest.Options{Users: users}, api: "public", backend: sqlite(),
			wave: mainWave("public"), check: checkPublicCalls(false)},
		variantCell{name: "public/order=name/unknown=skip/async/postgres", api: "public", backend: postgres(),
			opts: isctest.Options{Users: users, CCOrder: isctest.CCOrderName, UnknownIDs: isctest.UnknownIDsSkip, AsyncTasks: true, TaskDelay: variantTaskDelay},
			wave: mainWave("public"), check: checkPublicCalls(true)},
		variantCell{name: "cc/order=name/postgres", api: "cc", backend: postgres(),
			opts: isctest.Options{Users: users, CCOrder: isctest.CCOrderName}, wave: mainWave("cc"), check: checkCCCalls(users)},
		// Task messages that name no identity: the lookup explains them.
		variantCell{name: "public/messages-without-ids/unknown=skip/async", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, UnknownIDs: isctest.UnknownIDsSkip, AsyncTasks: true, TaskDelay: variantTaskDelay, TaskMessagesWithoutIDs: true},
			wave: mainWave("public"), check: checkPublicCalls(true)},
		variantCell{name: "public/statuses", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, AsyncTasks: true, TaskDelay: variantTaskDelay}, wave: statusWave},
		variantCell{name: "cc/statuses/order=name", api: "cc", backend: sqlite(),
			opts: isctest.Options{Users: users, CCOrder: isctest.CCOrderName}, wave: statusWave},
		// A token with just the scopes the public path documents: all works.
		variantCell{name: "public/scoped/invite+identity+task", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, UnknownIDs: isctest.UnknownIDsSkip, AsyncTasks: true, TaskDelay: variantTaskDelay,
				Scopes: []string{isctest.ScopeInvite, isctest.ScopeIdentityRead, isctest.ScopeTaskRead}},
			wave: mainWave("public"), check: checkPublicCalls(true)},
		// A token that may only invite: no lookup (403), no task read
		// (403). Late ids are found by splitting the 400s; the rest is
		// invited, unverified.
		variantCell{name: "public/scoped/invite-only", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, AsyncTasks: true, TaskDelay: variantTaskDelay, Scopes: []string{isctest.ScopeInvite}},
			wave: func(tenant *isctest.Server) map[string]variantExpect {
				out := map[string]variantExpect{}
				for _, id := range tenant.CreateIdentities(60, func(i int) isctest.NewIdentity {
					if i%4 == 0 {
						return isctest.NewIdentity{VisibleAfter: 700 * time.Millisecond}
					}
					return isctest.NewIdentity{}
				}) {
					out[id.ID] = variantExpect{state: inviter.StateInvited, outcome: inviter.OutcomeInvited, reason: "not verified", mails: 1}
				}
				return out
			}},
		// Identities sharing an email address, on each path.
		variantCell{name: "public/shared-email/async", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, AsyncTasks: true, TaskDelay: variantTaskDelay}, wave: sharedWave},
		variantCell{name: "cc/shared-email/order=name", api: "cc", backend: sqlite(),
			opts: isctest.Options{Users: users, CCOrder: isctest.CCOrderName}, wave: sharedWave},
		// A tenant that serves only the documented routes inviter was
		// built on: the default API family needs nothing else.
		variantCell{name: "public/founding-routes/unknown=skip/async", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, Routes: isctest.FoundingRoutes, UnknownIDs: isctest.UnknownIDsSkip, AsyncTasks: true, TaskDelay: variantTaskDelay},
			wave: mainWave("public"), check: checkFoundingCalls},
		// Lists lag behind gets and invites: the lookup reports a new
		// identity not found until the list shows it; it is retried, and
		// invited once.
		variantCell{name: "public/list-delay/async", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, ListDelay: time.Second, AsyncTasks: true, TaskDelay: variantTaskDelay},
			wave: mainWave("public"), check: checkListDelayCalls},
		// The task status answers 404 for a while after the 202: read
		// again, never taken as "not found".
		variantCell{name: "public/task-read-delay/async", api: "public", backend: sqlite(),
			opts: isctest.Options{Users: users, TaskReadDelay: variantTaskReadDelay, AsyncTasks: true, TaskDelay: variantTaskDelay},
			wave: mainWave("public"), check: checkTaskReadDelayCalls},
	)
	for _, c := range cells {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runVariantCell(t, c)
		})
	}
}

// variantAdmin is a client of every variant tenant with all scopes: the
// test subscribes with it, whatever the daemon's token may do.
var variantAdmin = isctest.Client{ID: "variant-admin", Secret: "variant-admin-secret"}

func runVariantCell(t *testing.T, c variantCell) {
	dsn := c.backend.DSN(t)
	c.opts.Clients = append(c.opts.Clients, variantAdmin)
	tenant := isctest.NewServer(c.opts)
	t.Cleanup(tenant.Close)
	d := startServe(t, tenant, dsn, "--api", c.api, "--reconcile-every", "0",
		"--batch-size", fmt.Sprint(variantBatchSize), "--batch-window", variantBatchWindow.String())
	subscribeAs(t, tenant, d, variantAdmin)
	tenant.ResetCalls()
	expects := c.wave(tenant)

	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	settled := waitSettled(t, db, tenant, expects, 2*time.Minute)

	invited := 0
	for id, want := range expects {
		got := settled[id]
		if want.sharer != nil {
			if problem := checkSharer(context.Background(), db, tenant, id, got, *want.sharer); problem != "" {
				t.Errorf("%s: %s", id, problem)
			}
			if got.State == inviter.StateInvited {
				invited++
			}
			continue
		}
		if got.State != want.state || got.LastOutcome != want.outcome || !strings.Contains(got.LastReason, want.reason) {
			t.Errorf("%s: %s/%s (%s), want %s/%s (%q)", id, got.State, got.LastOutcome, got.LastReason, want.state, want.outcome, want.reason)
		}
		if n := tenant.InviteCount(id); n != want.mails {
			t.Errorf("%s: mailed %d times, want %d", id, n, want.mails)
		}
		if got.State == inviter.StateInvited {
			invited++
			if c.api == "public" {
				a, err := db.Audit(context.Background(), id, 1)
				if err != nil || len(a) == 0 || a[0].TaskID == "" {
					t.Errorf("%s: audit %+v (%v), want the task id", id, a, err)
				} else if a[0].CompletionStatus == "" && !strings.Contains(want.reason, "not verified") {
					t.Errorf("%s: audit without completion status: %+v", id, a[0])
				}
			}
		}
	}
	m := measure(tenant, invited)
	measureBatches(context.Background(), t, db, tenant, expects, &m)
	t.Logf("%s: %d invited; %d calls = %.3f per invited (invite %d, 400s %d, lookups %d, task reads %d, cc lists %d, cc invites %d); %d batches (%d sending, %d full, at most %d)",
		c.name, invited, m.total, m.perInvited(), m.inviteCalls, m.invite400, m.lookups, m.taskReads, m.ccLists, m.ccInvites, m.batches, m.sending, m.full, m.batchBound)
	if c.check != nil {
		c.check(t, tenant, m)
	}
}

// waitSettled polls the database until every identity of expects has left
// the pending state (or within passes: the failure says how many of the
// pending identities' event deliveries the tenant saw fail), and returns
// the identities.
func waitSettled(t *testing.T, db *store.DB, tenant *isctest.Server, expects map[string]variantExpect, within time.Duration) map[string]store.Identity {
	t.Helper()
	deadline := time.Now().Add(within)
	out := make(map[string]store.Identity, len(expects))
	for {
		pending := 0
		for id := range expects {
			if got, ok := out[id]; ok && got.State != inviter.StatePending {
				continue
			}
			got, err := db.Identity(context.Background(), id)
			if err != nil || got.State == inviter.StatePending || got.State == "" {
				pending++
				continue
			}
			out[id] = got
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			undelivered := 0
			for _, d := range tenant.Deliveries() {
				if _, done := out[d.IdentityID]; !done && (d.Err != nil || d.Status/100 != 2) {
					if _, ours := expects[d.IdentityID]; ours {
						undelivered++
					}
				}
			}
			t.Fatalf("%d of %d identities still pending after %s (%d of their event deliveries failed)", pending, len(expects), within, undelivered)
		}
		time.Sleep(100 * time.Millisecond) // polling an outside process's database
	}
}

// subscribeAs points the tenant's Identity Created trigger at d, with
// client's credentials.
func subscribeAs(t *testing.T, tenant *isctest.Server, d *daemon, client isctest.Client) {
	t.Helper()
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: client.ID, ClientSecret: client.Secret, Retries: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSubscription(context.Background(), isc.Subscription{
		Name: "inviter variants", TriggerID: isc.TriggerIdentityCreated, Type: "HTTP", Enabled: true,
		HTTPConfig: &isc.HTTPConfig{URL: d.url + "/hooks/identity-created", HTTPDispatchMode: "SYNC",
			HTTPAuthenticationType: "BEARER_TOKEN", BearerTokenAuthConfig: &isc.BearerConfig{BearerToken: d.token}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVariantCCRemoved: a tenant whose /cc API is gone (404 or 410):
// `inviter invite --api cc` and `inviter serve --api cc` stop with a
// message that says so and names --api public, and no one is mailed.
func TestVariantCCRemoved(t *testing.T) {
	t.Parallel()
	for _, status := range []int{404, 410} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 50, CCRemoved: status})
			t.Cleanup(tenant.Close)
			ids := identityIDs(tenant.CreateIdentities(3, nil))

			res := runInviter(t, testContext(t), tenantEnv(tenant), append([]string{"invite", "--api", "cc", "--db", storetest.SQLiteDSN(t), "--yes"}, ids...)...)
			if res.err == nil || exitCode(res.err) != 2 || !strings.Contains(res.err.Error(), "--api public") || strings.Contains(res.stdout, "failed") {
				t.Errorf("invite --api cc: err %v (exit %d), stdout %q; want exit 2 naming --api public before any identity is recorded", res.err, exitCode(res.err), res.stdout)
			}

			env := tenantEnv(tenant)
			env["INVITER_WEBHOOK_TOKEN"] = randomToken()
			res = runInviter(t, testContext(t), env, serveArgs("127.0.0.1:0", storetest.SQLiteDSN(t), "--api", "cc")...)
			if res.err == nil || exitCode(res.err) != 2 || !strings.Contains(res.err.Error(), "--api public") || !strings.Contains(res.err.Error(), "/cc API is gone") {
				t.Errorf("serve --api cc: err %v (exit %d), want exit 2 saying the /cc API is gone and naming --api public", res.err, exitCode(res.err))
			}
			if n := len(tenant.Invites()); n != 0 {
				t.Errorf("%d mailed, want 0", n)
			}
		})
	}
}

// TestVariantInviteUnregisteredSharedAddress: `inviter invite
// --unregistered` against a tenant whose unregistered users include three
// sharing one address: on each path the first of them is mailed, the
// other two are reported failed naming the address, and every identity
// reported invited is mailed exactly once.
func TestVariantInviteUnregisteredSharedAddress(t *testing.T) {
	t.Parallel()
	for _, api := range []string{"public", "cc"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 60, SharedEmailUsers: 3})
			t.Cleanup(tenant.Close)
			unregistered := 0
			for _, id := range tenant.Identities() {
				if id.Status == "UNREGISTERED" {
					unregistered++
				}
			}
			res := runInviter(t, testContext(t), tenantEnv(tenant), "invite", "--api", api, "--unregistered", "--yes", "--db", storetest.SQLiteDSN(t))
			out := res.stdout + res.stderr
			if n := strings.Count(out, "shares shared.mailbox@example.com with "); n != 2 {
				t.Errorf("%d identities reported sharing the address, want 2; output:\n%s", n, out)
			}
			if res.err == nil || exitCode(res.err) != 1 {
				t.Errorf("exit %v, want 1 (two could not be invited)", res.err)
			}
			mails := map[string]int{}
			for _, inv := range tenant.Invites() {
				mails[inv.IdentityID]++
			}
			if len(mails) != unregistered-2 {
				t.Errorf("%d mailed of %d unregistered, want all but 2", len(mails), unregistered)
			}
			for id, n := range mails {
				if n != 1 {
					t.Errorf("%s mailed %d times", id, n)
				}
			}
		})
	}
}

// TestVariantMissingInviteRouteIsAConfigProblem: serve with an API family
// whose invite route the tenant does not serve (--api-version v2025
// against a tenant serving only the documented routes): the invite's 404
// for identities ISC lists is a configuration problem. The jobs wait
// (state pending, audit "configuration problem", error kind config), they
// do not run out as "not visible yet", and no one is mailed.
func TestVariantMissingInviteRouteIsAConfigProblem(t *testing.T) {
	t.Parallel()
	dsn := sqlite().DSN(t)
	tenant := isctest.NewServer(isctest.Options{Users: 50, Routes: isctest.FoundingRoutes, Clients: []isctest.Client{variantAdmin}})
	t.Cleanup(tenant.Close)
	d := startServe(t, tenant, dsn, "--api", "public", "--api-version", "v2025", "--reconcile-every", "0")
	subscribeAs(t, tenant, d, variantAdmin)
	ids := identityIDs(tenant.CreateIdentities(10, nil))

	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for {
			a, err := db.Audit(context.Background(), id, 1)
			if err == nil && len(a) > 0 && a[0].ErrorKind != "" {
				if a[0].ErrorKind != store.ErrorKindConfig || !strings.Contains(a[0].Reason, "configuration problem") || !strings.Contains(a[0].Reason, "--api-version") {
					t.Fatalf("%s: audit %q (kind %s), want a configuration problem naming --api-version", id, a[0].Reason, a[0].ErrorKind)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no failure recorded within a minute (audit %+v, %v)", id, a, err)
			}
			time.Sleep(100 * time.Millisecond) // polling an outside process's database
		}
		got, err := db.Identity(context.Background(), id)
		if err != nil || got.State != inviter.StatePending {
			t.Errorf("%s: state %s (%v), want pending", id, got.State, err)
		}
	}
	if n := len(tenant.Invites()); n != 0 {
		t.Errorf("%d mailed, want 0", n)
	}
}

// TestVariantSharedAddressAcrossBatches: identities sharing an address
// whose events reach serve in different batches: the first is invited;
// the later ones, in a later batch, fail naming it (inviter remembers the
// address), and only the first is mailed. On each path.
func TestVariantSharedAddressAcrossBatches(t *testing.T) {
	t.Parallel()
	for _, api := range []string{"public", "cc"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			dsn := sqlite().DSN(t)
			tenant := isctest.NewServer(isctest.Options{Users: 50, Clients: []isctest.Client{variantAdmin}})
			t.Cleanup(tenant.Close)
			d := startServe(t, tenant, dsn, "--api", api, "--reconcile-every", "0")
			subscribeAs(t, tenant, d, variantAdmin)
			db, err := store.Open(context.Background(), dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })

			first := tenant.CreateIdentity(isctest.NewIdentity{Email: "desk@example.com"})
			waitSettled(t, db, tenant, map[string]variantExpect{first.ID: {}}, time.Minute)
			later := map[string]variantExpect{}
			for _, id := range tenant.CreateIdentities(2, func(int) isctest.NewIdentity { return isctest.NewIdentity{Email: "Desk@example.com"} }) {
				later[id.ID] = variantExpect{state: inviter.StateFailed, outcome: inviter.OutcomeFailed, reason: "shares Desk@example.com with " + first.ID}
			}
			later[tenant.CreateIdentity(isctest.NewIdentity{}).ID] = variantExpect{state: inviter.StateInvited, outcome: inviter.OutcomeInvited, mails: 1}
			settled := waitSettled(t, db, tenant, later, time.Minute)
			if got, _ := db.Identity(context.Background(), first.ID); got.State != inviter.StateInvited || tenant.InviteCount(first.ID) != 1 {
				t.Errorf("first %s: %s, mailed %d; want invited once", first.ID, got.State, tenant.InviteCount(first.ID))
			}
			for id, want := range later {
				got := settled[id]
				if got.State != want.state || !strings.Contains(got.LastReason, want.reason) || tenant.InviteCount(id) != want.mails {
					t.Errorf("%s: %s %q, mailed %d; want %s %q, mailed %d", id, got.State, got.LastReason, tenant.InviteCount(id), want.state, want.reason, want.mails)
				}
			}
		})
	}
}
