package isc_test

import (
	"context"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// TestInviterLateVisibility: a batch holding identities ISC does not show
// yet costs one lookup and one invite call for the visible ones.
func TestInviterLateVisibility(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10})
	t.Cleanup(tenant.Close)
	var ids []string
	late := map[string]bool{}
	for i := range 100 {
		n := isctest.NewIdentity{}
		if i%10 == 0 {
			n.VisibleAfter = time.Hour
		}
		id := tenant.CreateIdentity(n)
		ids = append(ids, id.ID)
		late[id.ID] = n.VisibleAfter > 0
	}
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := isc.NewInviter(c, isc.InviterConfig{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	tenant.ResetCalls()
	for _, r := range inv.Invite(context.Background(), ids) {
		want := inviter.OutcomeInvited
		if late[r.IdentityID] {
			want = inviter.OutcomeNotFound
		}
		if r.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", r.IdentityID, r.Outcome, r.Reason, want)
		}
	}
	if n := tenant.CallCount(c.InviteEndpoint()); n != 1 {
		t.Errorf("%d invite calls, want 1 (the visible 90)", n)
	}
	if n := tenant.CallCount("GET /v2025/identities"); n != 1 {
		t.Errorf("%d list calls, want 1 lookup", n)
	}
	if n := len(tenant.Invites()); n != 90 {
		t.Errorf("%d mailed, want 90", n)
	}
}

// TestInviterNothingVisibleYet: a batch of identities none of which ISC
// shows yet costs one lookup and no invite, and reports them all not found.
func TestInviterNothingVisibleYet(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10, VisibilityDelay: time.Hour})
	t.Cleanup(tenant.Close)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = tenant.CreateIdentity(isctest.NewIdentity{}).ID
	}
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := isc.NewInviter(c, isc.InviterConfig{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	tenant.ResetCalls()
	for _, r := range inv.Invite(context.Background(), ids) {
		if r.Outcome != inviter.OutcomeNotFound {
			t.Errorf("%s: %s, want not_found", r.IdentityID, r.Outcome)
		}
	}
	if n, l := tenant.CallCount(c.InviteEndpoint()), tenant.CallCount("GET /v2025/identities"); n != 0 || l != 1 {
		t.Errorf("%d invite and %d list calls, want 0 and 1", n, l)
	}
}
