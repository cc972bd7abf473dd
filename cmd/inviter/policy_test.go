package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/queue"
)

// TestServePolicyScheduleAndLifecycle drives serve with a policy: a
// filtered-out identity is skipped with its reason, a start date 30 days
// away is scheduled 23 days on, and a lifecycle change to a configured
// state enqueues while other changes do not.
func TestServePolicyScheduleAndLifecycle(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{Users: 10})
	t.Cleanup(tenant.Close)
	d := startServe(t, tenant, dsn, "--policy", "cloudLifecycleState in (active, prehire)",
		"--start-date-attribute", "startDate", "--reconcile-every", "0")
	auth := "Bearer " + d.token
	// Its Created event says inactive; the tenant shows it as the change
	// below left it (active), as the job that reads it before inviting sees.
	inactive := tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "active"})
	other := tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "inactive"})
	prehire := tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "prehire"})
	now := time.Now()
	start := now.Add(30 * 24 * time.Hour).UTC().Format("2006-01-02")

	created := func(id, state, startDate string) []byte {
		return fmt.Appendf(nil, `{"identity":{"type":"IDENTITY","id":%q,"name":"P"},"attributes":{"cloudLifecycleState":%q,"startDate":%q}}`, id, state, startDate)
	}
	for _, body := range [][]byte{
		created(inactive.ID, "inactive", ""),
		created(other.ID, "inactive", ""),
		created(prehire.ID, "prehire", start),
	} {
		if code, msg := post(t, d, auth, "application/json", body); code != 200 {
			t.Fatalf("delivery: %d %s", code, msg)
		}
	}
	changed := func(id, attr, from, to string) []byte {
		return fmt.Appendf(nil, `{"identity":{"type":"IDENTITY","id":%q,"name":"P"},"changes":[{"attribute":%q,"oldValue":%q,"newValue":%q}]}`, id, attr, from, to)
	}
	postChange := func(body []byte) {
		t.Helper()
		req := d.url + "/hooks/identity-attributes-changed"
		code, msg := postTo(t, req, auth, body)
		if code != 200 {
			t.Fatalf("attributes changed: %d %s", code, msg)
		}
	}
	postChange(changed(inactive.ID, "cloudLifecycleState", "inactive", "active"))
	postChange(changed(other.ID, "department", "Sales", "Finance"))

	waitInvited(t, tenant, []string{inactive.ID}, 30*time.Second)
	db := reopen(t, d, dsn) // stopped: no invitation can follow
	if n := tenant.InviteCount(other.ID); n != 0 {
		t.Errorf("a department change invited %s", other.ID)
	}
	if n := tenant.InviteCount(prehire.ID); n != 0 {
		t.Errorf("the prehire starting in 30 days was invited now")
	}
	ctx := context.Background()
	audit, err := db.Audit(ctx, other.ID, 10)
	if err != nil || len(audit) != 1 || audit[0].Outcome != inviter.OutcomeSkipped || !strings.Contains(audit[0].Reason, "inactive") {
		t.Errorf("filtered-out identity's audit: %+v %v", audit, err)
	}
	q, err := queue.New(db, queue.Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := q.ListJobs(ctx, "scheduled", 10)
	if err != nil || len(jobs) != 1 || jobs[0].IdentityID != prehire.ID {
		t.Fatalf("scheduled jobs: %+v %v, want the prehire's", jobs, err)
	}
	want := now.Add(23 * 24 * time.Hour)
	if at := jobs[0].ScheduledAt; at.Before(want.Add(-24*time.Hour)) || at.After(want.Add(24*time.Hour)) {
		t.Errorf("prehire scheduled at %s, want about %s (7 days before the start)", at, want)
	}
}
