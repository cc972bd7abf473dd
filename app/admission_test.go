package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
)

// admissionPolicy is the policy of the three cases: active joiners who are
// not contractors.
var admissionPolicy = []string{"cloudLifecycleState in (active)", "department != Contractors"}

// admissionRig is the daemon's intake, queue (with its real ISC inviter
// and recheck) and reconcile, against a fake tenant, on one database.
type admissionRig struct {
	tenant *isctest.Server
	client *isc.Client
	db     *store.DB
	q      *queue.Queue
	in     intake
	pol    *policy.Policy
	// decided receives the identity id of every invite job that finished
	// deciding: its look at the identity said no, or ISC was asked.
	decided chan string
}

func newAdmissionRig(t *testing.T, open func(testing.TB) *store.DB) *admissionRig {
	t.Helper()
	ctx := context.Background()
	r := &admissionRig{tenant: isctest.NewServer(isctest.Options{Users: 1}), db: open(t), decided: make(chan string, 16)}
	t.Cleanup(r.tenant.Close)
	if err := queue.Migrate(ctx, r.db); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.pol, err = policy.New(policy.Config{Rules: admissionPolicy}); err != nil {
		t.Fatal(err)
	}
	r.client, err = isc.New(ctx, isc.Config{BaseURL: r.tenant.URL(), ClientID: r.tenant.ClientID(), ClientSecret: r.tenant.ClientSecret()})
	if err != nil {
		t.Fatal(err)
	}
	iscInv, err := isc.NewInviter(r.client, isc.InviterConfig{API: inviter.APIPublic})
	if err != nil {
		t.Fatal(err)
	}
	look := recheck(r.client, r.pol)
	cfg := queue.Config{
		API: inviter.APIPublic,
		Recheck: func(ctx context.Context, id string) (admission.Decision, error) {
			d, err := look(ctx, id)
			if err == nil && d.Verdict != admission.Now {
				r.decided <- id
			}
			return d, err
		},
	}
	inv := observedInviter{next: iscInv, onResult: func(res inviter.Result) { r.decided <- res.IdentityID }}
	logger := slog.New(slog.DiscardHandler)
	if r.q, err = queue.New(r.db, cfg, inv, nil, logger); err != nil {
		t.Fatal(err)
	}
	r.in = intake{q: r.q, policy: r.pol, logger: logger}
	return r
}

// work runs the queue until want invite jobs have decided, then stops it
// (Stop writes every outcome before it returns).
func (r *admissionRig) work(t *testing.T, want int) {
	t.Helper()
	ctx := context.Background()
	if err := r.q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(60 * time.Second)
	for range want {
		select {
		case <-r.decided:
		case <-timeout:
			t.Fatalf("fewer than %d invite jobs decided within a minute", want)
		}
	}
	if err := r.q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func (r *admissionRig) changed(t *testing.T, id, attr, from, to string) {
	t.Helper()
	raw := fmt.Appendf(nil, `{"identity":{"type":"IDENTITY","id":%q,"name":"P"},"changes":[{"attribute":%q,"oldValue":%q,"newValue":%q}]}`, id, attr, from, to)
	ev, err := inviter.ParseIdentityAttributesChanged(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.in.AcceptIdentityAttributesChanged(context.Background(), ev, raw, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func forAdmissionBackends(t *testing.T, f func(t *testing.T, open func(testing.TB) *store.DB)) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f(t, b.Open)
		})
	}
}

// TestAttributeChangeAppliesTheWholePolicy: a contractor whose lifecycle
// state becomes active matches the rule on the changed attribute but not
// the one on department, which the change event does not carry: the job
// reads the identity (one GET) and skips it; a staff member's same change
// is invited.
func TestAttributeChangeAppliesTheWholePolicy(t *testing.T) {
	forAdmissionBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		r := newAdmissionRig(t, open)
		contractor := r.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "active", Department: "Contractors"})
		staff := r.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "active", Department: "Finance"})
		r.changed(t, contractor.ID, "cloudLifecycleState", "prehire", "active")
		r.changed(t, staff.ID, "cloudLifecycleState", "prehire", "active")
		getsBefore := r.tenant.CallCount("GET /v2025/identities/{id}")
		r.work(t, 2)

		if n := r.tenant.InviteCount(contractor.ID); n != 0 {
			t.Errorf("the contractor made active was invited %d times; department != Contractors must hold too", n)
		}
		if n := r.tenant.InviteCount(staff.ID); n != 1 {
			t.Errorf("the staff member made active was invited %d times, want 1", n)
		}
		ctx := context.Background()
		c, err := r.db.Identity(ctx, contractor.ID)
		if err != nil || c.State != inviter.StateSkipped || !strings.Contains(c.LastReason, "Contractors") {
			t.Errorf("contractor's row: %+v %v; want skipped naming the department rule", c, err)
		}
		if gets := r.tenant.CallCount("GET /v2025/identities/{id}") - getsBefore; gets != 2 {
			t.Errorf("%d GETs of an identity, want one per change event (2)", gets)
		}
	})
}

// TestAttributeChangeWithoutInviteLeavesReconcileToFind: an attribute
// change that does not make the identity eligible stores the delivery and
// nothing about the identity, so reconcile still invites an identity whose
// Identity Created event was missed.
func TestAttributeChangeWithoutInviteLeavesReconcileToFind(t *testing.T) {
	forAdmissionBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		r := newAdmissionRig(t, open)
		ctx := context.Background()
		cutoff := time.Now().Add(-time.Hour)
		missed := r.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "active", Department: "Finance"})
		r.changed(t, missed.ID, "title", "Analyst", "Senior Analyst")
		if _, err := r.db.Identity(ctx, missed.ID); err == nil {
			t.Errorf("an attribute change that invites nobody wrote an identity row")
		}

		rec := &reconcile.Reconciler{ISC: r.client, DB: r.db, Queue: r.q, Policy: r.pol, Since: cutoff}
		rep, err := rec.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Enqueued != 1 || rep.Known != 0 {
			t.Fatalf("reconcile: %s; want the identity whose Created event was missed enqueued", rep)
		}
		r.work(t, 1)
		if n := r.tenant.InviteCount(missed.ID); n != 1 {
			t.Errorf("the missed identity was invited %d times, want 1", n)
		}
	})
}

// TestReinviteAppliesThePolicy: of two identities whose invitations
// expired unused, the one that became a contractor meanwhile is not
// invited again (recorded with the reason), the other is.
func TestReinviteAppliesThePolicy(t *testing.T) {
	forAdmissionBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		r := newAdmissionRig(t, open)
		ctx := context.Background()
		contractor := r.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "active", Department: "Contractors"})
		staff := r.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "active", Department: "Finance"})
		invitedAt := time.Now().Add(-8 * 24 * time.Hour)
		for _, id := range []string{contractor.ID, staff.ID} {
			if err := r.db.Record(ctx, store.Decision{
				AuditEntry: store.AuditEntry{IdentityID: id, At: invitedAt, Outcome: inviter.OutcomeInvited, API: inviter.APIPublic, Source: inviter.SourceEvent},
				State:      inviter.StateInvited,
			}); err != nil {
				t.Fatal(err)
			}
		}

		ri := &reconcile.Reinviter{ISC: r.client, DB: r.db, Queue: r.q, MaxReinvites: 2, Policy: r.pol}
		rep, err := ri.Reinvite(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Due != 2 || rep.Enqueued != 1 || rep.Skipped != 1 {
			t.Fatalf("re-invite: %+v; want 2 due, the staff member enqueued, the contractor skipped", rep)
		}
		c, err := r.db.Identity(ctx, contractor.ID)
		if err != nil || c.State != inviter.StateSkipped || !strings.Contains(c.LastReason, "Contractors") {
			t.Errorf("contractor's row: %+v %v; want skipped naming the department rule", c, err)
		}
		r.work(t, 1)
		if n := r.tenant.InviteCount(contractor.ID); n != 0 {
			t.Errorf("the contractor was invited again (%d)", n)
		}
		if n := r.tenant.InviteCount(staff.ID); n != 1 {
			t.Errorf("the staff member was invited again %d times, want 1", n)
		}
	})
}
