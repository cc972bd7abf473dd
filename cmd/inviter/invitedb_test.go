package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isctest"
)

func TestInviteTwiceOnOneDatabaseMailsOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{Users: 50})
	t.Cleanup(tenant.Close)
	a := tenant.CreateIdentity(isctest.NewIdentity{Name: "Ada Lovelace"})
	b := tenant.CreateIdentity(isctest.NewIdentity{Name: "Alan Turing"})
	env := tenantEnv(tenant)
	env["INVITER_DB"] = filepath.Join(t.TempDir(), "inviter.db")

	first := runInviter(t, ctx, env, "invite", a.ID, b.ID)
	if first.err != nil || !strings.Contains(first.stdout, "2 invited") {
		t.Fatalf("first invite: %v\n%s%s", first.err, first.stdout, first.stderr)
	}
	second := runInviter(t, ctx, env, "invite", a.ID, b.ID)
	if second.err != nil || !strings.Contains(second.stdout, "already invited by inviter") || !strings.Contains(second.stdout, "0 invited") {
		t.Fatalf("second invite: %v\n%s%s", second.err, second.stdout, second.stderr)
	}
	for _, id := range []string{a.ID, b.ID} {
		if n := tenant.InviteCount(id); n != 1 {
			t.Errorf("%s mailed %d times, want 1", id, n)
		}
	}
	// The audit trail has the decision, from the command line.
	audit := runInviter(t, ctx, env, "audit", "--identity", a.ID, "-o", "json")
	if audit.err != nil || !strings.Contains(audit.stdout, `"outcome": "invited"`) || !strings.Contains(audit.stdout, `"source": "cli"`) {
		t.Fatalf("audit: %v\n%s", audit.err, audit.stdout)
	}
	// --force invites again.
	if r := runInviter(t, ctx, env, "invite", "--force", a.ID); r.err != nil || tenant.InviteCount(a.ID) != 2 {
		t.Fatalf("--force: %v, mailed %d times\n%s", r.err, tenant.InviteCount(a.ID), r.stderr)
	}
}

func TestInviteUnregisteredWithoutYesOffATerminalInvitesNobody(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{Users: 100})
	t.Cleanup(tenant.Close)
	tenant.CreateIdentities(3, nil)
	r := runInviter(t, ctx, tenantEnv(tenant), "invite", "--unregistered")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "--yes") {
		t.Fatalf("exit %d (%v), want 2 asking for --yes", exitCode(r.err), r.err)
	}
	if n := len(tenant.Invites()); n != 0 {
		t.Fatalf("%d invitations sent without confirmation", n)
	}
	r = runInviter(t, ctx, tenantEnv(tenant), "invite", "--unregistered", "--yes", "-o", "json")
	if r.err != nil {
		t.Fatalf("--yes: %v\n%s", r.err, r.stderr)
	}
	var results []inviter.Result
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
		t.Fatal(err)
	}
	// 100 users, every tenth unregistered, and the three new ones.
	if n := len(tenant.Invites()); n != 13 || len(results) != 13 || !strings.Contains(r.stderr, "13 invited") {
		t.Fatalf("--yes: %d invitations, %d results, stderr %q; want 13", n, len(results), r.stderr)
	}
}

func TestInviteDryRunShowsNameEmailCreated(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	id := tenant.CreateIdentity(isctest.NewIdentity{Name: "Grace Hopper", Email: "grace@example.com"})
	for _, args := range [][]string{{"invite", "--dry-run", id.ID}, {"invite", "--dry-run", "--unregistered", "--created-after", "2000-01-01"}} {
		r := runInviter(t, testContext(t), tenantEnv(tenant), args...)
		if r.err != nil {
			t.Fatalf("%v: %v\n%s", args, r.err, r.stderr)
		}
		created := id.Created.UTC().Format("2006-01-02")
		for _, want := range []string{"Grace Hopper", "grace@example.com", created, "would invite", "dry run: 1 would be invited"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
	if n := len(tenant.Invites()); n != 0 {
		t.Fatalf("a dry run sent %d invitations", n)
	}
}
