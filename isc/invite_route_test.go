package isc_test

import (
	"context"
	"errors"
	"testing"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// TestInviterMissingInviteRoute: a tenant that does not serve the
// configured family's invite route (404, naming no identity) while its
// identity list shows the identities: every id fails with a *RouteError,
// a configuration problem (the jobs wait for the setting to be fixed),
// never "not found", and one invite call a batch is spent finding out.
func TestInviterMissingInviteRoute(t *testing.T) {
	t.Parallel()
	for _, lookup := range []bool{true, false} {
		name := "lookup"
		if !lookup {
			name = "no-lookup"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 10, Routes: isctest.FoundingRoutes})
			t.Cleanup(tenant.Close)
			ids := identityIDs(tenant.CreateIdentities(30, nil))
			c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(),
				RateLimit: -1, APIVersion: isc.APIVersionV2025})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := isc.NewInviter(c, isc.InviterConfig{BatchSize: 100, NoLookup: !lookup})
			if err != nil {
				t.Fatal(err)
			}
			tenant.ResetCalls()
			for _, r := range inv.Invite(context.Background(), ids) {
				var route *isc.RouteError
				if r.Outcome != inviter.OutcomeFailed || !errors.As(r.Err, &route) || !isc.IsConfigProblem(r.Err) {
					t.Fatalf("%s: %s %q (%v), want failed with a RouteError (configuration problem)", r.IdentityID, r.Outcome, r.Reason, r.Err)
				}
			}
			if n := tenant.CallCount(c.InviteEndpoint()); n != 1 {
				t.Errorf("%d invite calls, want 1", n)
			}
			if n := len(tenant.Invites()); n != 0 {
				t.Errorf("%d mailed", n)
			}
		})
	}
}
