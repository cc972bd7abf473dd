package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

func newInviteTenant(t *testing.T, o isctest.Options) (*isctest.Server, isc.Config) {
	t.Helper()
	tenant := isctest.NewServer(o)
	t.Cleanup(tenant.Close)
	return tenant, isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret()}
}

func byIdentity(results []inviter.Result) map[string]inviter.Result {
	m := map[string]inviter.Result{}
	for _, r := range results {
		m[r.IdentityID] = r
	}
	return m
}

func openDSN(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestInviteSkipsWhatTheDatabaseKnows: with a database, an identity inviter
// invited or has queued is skipped, the rest are invited and recorded with
// source cli, and Force invites again.
func TestInviteSkipsWhatTheDatabaseKnows(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tenant, iscCfg := newInviteTenant(t, isctest.Options{Users: 10})
			a := tenant.CreateIdentity(isctest.NewIdentity{Name: "Ada Lovelace"})
			queued := tenant.CreateIdentity(isctest.NewIdentity{Name: "Alan Turing"})
			dsn := b.DSN(t)
			db := openDSN(t, dsn)
			if err := queue.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.EnsureIdentity(ctx, queued.ID, time.Time{}, time.Now()); err != nil {
				t.Fatal(err)
			}
			cfg := InviteConfig{ISC: iscCfg, DB: dsn}

			rep, err := Invite(ctx, cfg, []string{a.ID, queued.ID})
			if err != nil {
				t.Fatal(err)
			}
			got := byIdentity(rep.Results)
			if r := got[a.ID]; r.Outcome != inviter.OutcomeInvited {
				t.Errorf("first run, new identity: %s %s", r.Outcome, r.Reason)
			}
			if r := got[queued.ID]; r.Outcome != inviter.OutcomeSkipped || !strings.Contains(r.Reason, "queued in the daemon") {
				t.Errorf("first run, queued identity: %s %s", r.Outcome, r.Reason)
			}

			rep, err = Invite(ctx, cfg, []string{a.ID})
			if err != nil {
				t.Fatal(err)
			}
			if r := rep.Results[0]; len(rep.Results) != 1 || r.Outcome != inviter.OutcomeSkipped ||
				!strings.HasPrefix(r.Reason, "already invited by inviter on ") || !strings.HasSuffix(r.Reason, "; --force invites again") {
				t.Errorf("second run: %+v", rep.Results)
			}
			if n := tenant.InviteCount(a.ID); n != 1 {
				t.Errorf("mailed %d times, want 1", n)
			}
			if n := tenant.InviteCount(queued.ID); n != 0 {
				t.Errorf("the queued identity was mailed %d times", n)
			}
			entries, err := db.Audit(ctx, a.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Outcome != inviter.OutcomeInvited || entries[0].Source != inviter.SourceCLI {
				t.Errorf("audit trail: %+v, want one invited entry from the cli", entries)
			}

			cfg.Force = true
			if _, err := Invite(ctx, cfg, []string{a.ID, queued.ID}); err != nil {
				t.Fatal(err)
			}
			if tenant.InviteCount(a.ID) != 2 || tenant.InviteCount(queued.ID) != 1 {
				t.Errorf("Force: mailed %d and %d times, want 2 and 1", tenant.InviteCount(a.ID), tenant.InviteCount(queued.ID))
			}
		})
	}
}

// TestInviteUnregisteredNarrowsTheList: CreatedAfter and Limit narrow the
// list (oldest first); a dry run only reads.
func TestInviteUnregisteredNarrowsTheList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant, iscCfg := newInviteTenant(t, isctest.Options{Users: 400}) // 40 old unregistered ones
	cutoff := time.Now().Add(-time.Hour)
	fresh := tenant.CreateIdentities(12, nil)
	cfg := InviteConfig{ISC: iscCfg, Unregistered: true, CreatedAfter: cutoff, DryRun: true}

	rep, err := Invite(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	would := 0
	for _, r := range rep.Results {
		if WouldInvite(r) {
			would++
		}
	}
	if would != 12 || len(rep.Results) != 12 || rep.Admitted != 12 {
		t.Errorf("dry run: %d would be invited of %d results, admitted %d; want 12", would, len(rep.Results), rep.Admitted)
	}
	if id := rep.Identities[fresh[0].ID]; id.Name == "" || id.Created.IsZero() {
		t.Errorf("the report lacks what the list showed: %+v", id)
	}
	if n := len(tenant.Invites()); n != 0 {
		t.Fatalf("dry run mailed %d invitations", n)
	}
	for _, c := range tenant.Calls() {
		if c.Method != "GET" && c.Endpoint != "POST /oauth/token" {
			t.Errorf("dry run called %s", c.Endpoint)
		}
	}

	cfg.DryRun, cfg.Limit = false, 5
	if rep, err = Invite(ctx, cfg, nil); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 5 || rep.Admitted != 5 {
		t.Errorf("Limit 5: %d results, admitted %d", len(rep.Results), rep.Admitted)
	}
	var want []string
	for _, f := range fresh[:5] { // the oldest five
		want = append(want, f.ID)
	}
	var mailed []string
	for _, inv := range tenant.Invites() {
		mailed = append(mailed, inv.IdentityID)
	}
	slices.Sort(want)
	slices.Sort(mailed)
	if !slices.Equal(mailed, want) {
		t.Errorf("mailed %v, want the five oldest created after the cut-off %v", mailed, want)
	}
}

// TestInviteUnregisteredAppliesThePolicy: the admission decision turns down
// a contractor, puts off an identity whose start date is ahead, and invites
// the rest; identities named by id are invited as asked.
func TestInviteUnregisteredAppliesThePolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant, iscCfg := newInviteTenant(t, isctest.Options{Users: 10})
	cutoff := time.Now().Add(-time.Hour)
	staff := tenant.CreateIdentity(isctest.NewIdentity{Department: "Engineering"})
	contractor := tenant.CreateIdentity(isctest.NewIdentity{Department: "Contractors"})
	start := time.Now().AddDate(0, 0, 40).UTC()
	later := tenant.CreateIdentity(isctest.NewIdentity{Department: "Engineering",
		Attributes: map[string]any{"startDate": start.Format(time.DateOnly)}})
	pol, err := policy.New(policy.Config{Rules: []string{"department != Contractors"}, StartDateAttribute: "startDate"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := InviteConfig{ISC: iscCfg, Unregistered: true, CreatedAfter: cutoff, Policy: pol}

	rep, err := Invite(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := byIdentity(rep.Results)
	if r := got[staff.ID]; r.Outcome != inviter.OutcomeInvited {
		t.Errorf("staff: %s %s", r.Outcome, r.Reason)
	}
	if r := got[contractor.ID]; r.Outcome != inviter.OutcomeSkipped || !strings.Contains(r.Reason, "Contractors") {
		t.Errorf("contractor: %s %s", r.Outcome, r.Reason)
	}
	if r := got[later.ID]; r.Outcome != inviter.OutcomeSkipped || !strings.HasPrefix(r.Reason, "start date: invite on ") ||
		!strings.HasSuffix(r.Reason, "(inviter serve schedules it)") {
		t.Errorf("later start: %s %s", r.Outcome, r.Reason)
	}
	if rep.Admitted != 1 || len(tenant.Invites()) != 1 {
		t.Errorf("admitted %d, mailed %d; want 1 and 1", rep.Admitted, len(tenant.Invites()))
	}

	cfg.Unregistered, cfg.CreatedAfter = false, time.Time{}
	if rep, err = Invite(ctx, cfg, []string{contractor.ID}); err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Outcome != inviter.OutcomeInvited {
		t.Errorf("named contractor: %s %s, want invited as asked", r.Outcome, r.Reason)
	}
}

// TestInviteConfirmsAndReportsProgress: Confirm is asked with the number
// about to be invited, and its refusal invites nobody; Progress hears every
// few batches; a dry run asks nothing.
func TestInviteConfirmsAndReportsProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant, iscCfg := newInviteTenant(t, isctest.Options{Users: 10})
	cutoff := time.Now().Add(-time.Hour)
	tenant.CreateIdentities(12, nil)
	refused := errors.New("not confirmed")
	var asked []int
	var progress [][2]int
	cfg := InviteConfig{ISC: iscCfg, Unregistered: true, CreatedAfter: cutoff, BatchSize: 2,
		Confirm:  func(n int) error { asked = append(asked, n); return refused },
		Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) },
	}

	cfg.DryRun = true
	if _, err := Invite(ctx, cfg, nil); err != nil || len(asked) != 0 {
		t.Fatalf("dry run: %v, Confirm asked %v times", err, asked)
	}
	cfg.DryRun = false
	if _, err := Invite(ctx, cfg, nil); !errors.Is(err, refused) {
		t.Fatalf("refused: err %v, want Confirm's", err)
	}
	if !slices.Equal(asked, []int{12}) || len(tenant.Invites()) != 0 || len(progress) != 0 {
		t.Fatalf("refused: asked %v, mailed %d, progress %v; want asked 12, nobody mailed", asked, len(tenant.Invites()), progress)
	}

	cfg.Confirm = func(int) error { return nil }
	rep, err := Invite(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{0, 12}, {10, 12}, {12, 12}}; !slices.Equal(progress, want) { // 5 batches a step
		t.Errorf("progress %v, want %v", progress, want)
	}
	if len(rep.Results) != 12 || len(tenant.Invites()) != 12 || rep.Failed() != 0 {
		t.Errorf("%d results, %d mailed, %d failed; want 12, 12, 0", len(rep.Results), len(tenant.Invites()), rep.Failed())
	}
}

// TestInviteNamedIdentities: repeated and blank ids are dropped; through
// faults on both paths every identity is invited once, a registered one is
// reported, an unknown one is not found.
func TestInviteNamedIdentities(t *testing.T) {
	t.Parallel()
	for _, api := range []inviter.API{inviter.APIPublic, inviter.APICC} {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			tenant, iscCfg := newInviteTenant(t, isctest.Options{Users: 600})
			fresh := tenant.CreateIdentities(40, nil)
			registered := tenant.CreateIdentity(isctest.NewIdentity{Registered: true})
			tenant.SetFaults(isctest.Faults{ErrorRate: 0.2, ResetRate: 0.1, Seed: 3})
			const unknown = "2c9180000000000000000000000dead0"
			ids := []string{fresh[0].ID, " " + fresh[0].ID, ""}
			for _, id := range fresh {
				ids = append(ids, id.ID)
			}
			ids = append(ids, registered.ID, unknown)
			iscCfg.Retries = 5

			rep, err := Invite(context.Background(), InviteConfig{ISC: iscCfg, API: api, BatchSize: 10}, ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != len(fresh)+2 || rep.Failed() != 1 {
				t.Errorf("%d results, %d failed; want %d and 1 (the unknown id)", len(rep.Results), rep.Failed(), len(fresh)+2)
			}
			got := byIdentity(rep.Results)
			for _, id := range fresh {
				if r := got[id.ID]; r.Outcome != inviter.OutcomeInvited || r.API != api {
					t.Errorf("%s: %s %s (%s)", id.ID, r.Outcome, r.Reason, r.API)
				}
				if n := tenant.InviteCount(id.ID); n != 1 {
					t.Errorf("%s mailed %d times, want 1", id.ID, n)
				}
			}
			if r := got[registered.ID]; r.Outcome != inviter.OutcomeAlreadyRegistered {
				t.Errorf("registered identity: %s %s", r.Outcome, r.Reason)
			}
			if r := got[unknown]; r.Outcome != inviter.OutcomeNotFound {
				t.Errorf("unknown identity: %s %s", r.Outcome, r.Reason)
			}
		})
	}
}

// TestInviteDryRunLooksNamedIdentitiesUp: a dry run reports what ISC shows
// of named identities (the /cc path their cc ids) and sends nothing.
func TestInviteDryRunLooksNamedIdentitiesUp(t *testing.T) {
	t.Parallel()
	for _, api := range []inviter.API{inviter.APIPublic, inviter.APICC} {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			tenant, iscCfg := newInviteTenant(t, isctest.Options{Users: 20})
			id := tenant.CreateIdentity(isctest.NewIdentity{Name: "Grace Hopper"})
			registered := tenant.CreateIdentity(isctest.NewIdentity{Registered: true})
			const unknown = "2c9180000000000000000000000dead0"
			rep, err := Invite(context.Background(), InviteConfig{ISC: iscCfg, API: api, DryRun: true}, []string{id.ID, registered.ID, unknown})
			if err != nil {
				t.Fatal(err)
			}
			got := byIdentity(rep.Results)
			if r := got[id.ID]; !WouldInvite(r) || (api == inviter.APICC) != (r.CCID != "") {
				t.Errorf("new identity: %+v", r)
			}
			if api == inviter.APIPublic && rep.Identities[id.ID].Name != "Grace Hopper" {
				t.Errorf("the lookup's answer is not reported: %+v", rep.Identities[id.ID])
			}
			if r := got[registered.ID]; r.Outcome != inviter.OutcomeAlreadyRegistered {
				t.Errorf("registered identity: %+v", r)
			}
			if r := got[unknown]; r.Outcome != inviter.OutcomeNotFound || rep.Failed() != 1 {
				t.Errorf("unknown identity: %+v", r)
			}
			if n := len(tenant.Invites()); n != 0 {
				t.Errorf("a dry run mailed %d invitations", n)
			}
		})
	}
}

func TestInviteRejectsIDsWithUnregistered(t *testing.T) {
	t.Parallel()
	_, iscCfg := newInviteTenant(t, isctest.Options{Users: 1})
	if _, err := Invite(context.Background(), InviteConfig{ISC: iscCfg, Unregistered: true}, []string{"x"}); err == nil {
		t.Fatal("ids with Unregistered: no error")
	}
}
