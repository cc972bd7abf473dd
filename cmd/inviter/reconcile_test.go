package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
)

// TestReconcileCatchesMissedEvents: identities whose events never arrived
// are found by `inviter reconcile` and by serve's periodic reconcile, and
// the backlog from before the database's first start is left alone.
func TestReconcileCatchesMissedEvents(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{Users: 200}) // 20 unregistered from 30 days ago
	t.Cleanup(tenant.Close)
	env := tenantEnv(tenant)
	if res := runInviter(t, testContext(t), env, "migrate", "--db", dsn); res.err != nil {
		t.Fatalf("migrate: %v\n%s", res.err, res.stderr)
	}
	missed := identityIDs(tenant.CreateIdentities(7, nil)) // no subscription: their events are lost

	res := runInviter(t, testContext(t), env, "reconcile", "--db", dsn, "-o", "json")
	if res.err != nil {
		t.Fatalf("reconcile: %v\n%s", res.err, res.stderr)
	}
	var rep struct {
		Reconcile struct {
			Source       string `json:"source"`
			Listed       int    `json:"listed"`
			BeforeCutoff int    `json:"before_cutoff"`
			Enqueued     int    `json:"enqueued"`
		} `json:"reconcile"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	r := rep.Reconcile
	// The search returns only identities created after the cut-off: the
	// backlog is never even listed.
	if r.Source != "search" || r.Listed != 7 || r.BeforeCutoff != 0 || r.Enqueued != 7 {
		t.Errorf("report %+v, want a search finding 7, none before the cut-off, 7 enqueued", r)
	}

	// Two more are missed while inviter is down; serve's reconcile at start
	// finds them, and sends all nine.
	missed = append(missed, identityIDs(tenant.CreateIdentities(2, nil))...)
	d := startServe(t, tenant, dsn, "--reconcile-every", "1h")
	waitInvited(t, tenant, missed, time.Minute)
	assertInvitedOnce(t, tenant, missed, d)
	if n := len(tenant.Invites()); n != len(missed) {
		t.Errorf("%d invitations, want %d: the backlog must be left alone", n, len(missed))
	}
}
