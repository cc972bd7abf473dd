package isc_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

func newClient(t *testing.T, tenant *isctest.Server, mod func(*isc.Config)) *isc.Client {
	t.Helper()
	cfg := isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1}
	if mod != nil {
		mod(&cfg)
	}
	c, err := isc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLookupsUnderATenantURILimit: 250 ids looked up on a tenant that
// answers 414 above 8 KB, and an uncorrelated identity among them, which
// the list hides unless defaultFilter=NONE.
func TestLookupsUnderATenantURILimit(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{MaxURILength: 8192})
	t.Cleanup(tenant.Close)
	ids := make([]string, 0, isc.ListPageSize)
	for i := range isc.ListPageSize {
		ids = append(ids, tenant.CreateIdentity(isctest.NewIdentity{Uncorrelated: i == 7}).ID)
	}
	c := newClient(t, tenant, nil)
	tenant.ResetCalls()
	found, err := c.LookupIdentities(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(ids) {
		t.Errorf("found %d of %d (the uncorrelated one: %v)", len(found), len(ids), found[ids[7]].ID != "")
	}
	if n := tenant.CallCount("GET /v2025/identities"); n != 2 {
		t.Errorf("%d list calls, want 2", n)
	}
}

func TestTenantVariantsThroughTheClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("cc removed", func(t *testing.T) {
		t.Parallel()
		for _, status := range []int{404, 410} {
			tenant := isctest.NewServer(isctest.Options{CCRemoved: status})
			t.Cleanup(tenant.Close)
			_, err := newClient(t, tenant, nil).ListCCUsers(ctx, 0, 250)
			if !errors.Is(err, isc.ErrCCRemoved) || !isc.IsConfigProblem(err) || !strings.Contains(err.Error(), "--api public") {
				t.Errorf("%d: err = %v, want ErrCCRemoved naming --api public", status, err)
			}
		}
	})
	t.Run("deprecated version", func(t *testing.T) {
		t.Parallel()
		tenant := isctest.NewServer(isctest.Options{DeprecatedVersions: []string{"beta"}})
		t.Cleanup(tenant.Close)
		id := tenant.CreateIdentity(isctest.NewIdentity{})
		var beta, v2025 atomic.Int32
		count := func(ep string) {
			if strings.Contains(ep, "/beta/") {
				beta.Add(1)
			} else {
				v2025.Add(1)
			}
		}
		for _, v := range []isc.APIVersion{isc.APIVersionBeta, isc.APIVersionV2025} {
			c := newClient(t, tenant, func(c *isc.Config) { c.APIVersion = v; c.OnDeprecated = count })
			if _, err := c.InviteIdentities(ctx, []string{id.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if beta.Load() != 1 || v2025.Load() != 0 {
			t.Errorf("deprecated answers: beta %d, v2025 %d; want 1 and 0", beta.Load(), v2025.Load())
		}
	})
	t.Run("token without the invite scope", func(t *testing.T) {
		t.Parallel()
		tenant := isctest.NewServer(isctest.Options{Scopes: []string{isctest.ScopeIdentityRead}})
		t.Cleanup(tenant.Close)
		id := tenant.CreateIdentity(isctest.NewIdentity{})
		c := newClient(t, tenant, nil)
		_, err := c.InviteIdentities(ctx, []string{id.ID})
		var ae *isc.AuthError
		if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(err.Error(), isctest.ScopeInvite) {
			t.Errorf("err = %v, want a 403 AuthError naming %s", err, isctest.ScopeInvite)
		}
		if n := len(tenant.Invites()); n != 0 {
			t.Errorf("%d mailed", n)
		}
	})
	for _, v := range isc.APIVersions {
		t.Run("family "+string(v), func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{ServiceVersioned: true})
			t.Cleanup(tenant.Close)
			id := tenant.CreateIdentity(isctest.NewIdentity{})
			c := newClient(t, tenant, func(c *isc.Config) { c.APIVersion = v })
			found, err := c.IdentitiesByID(ctx, []string{id.ID})
			if err != nil || len(found) != 1 {
				t.Fatalf("lookup: %v, %v", found, err)
			}
			ts, err := c.InviteIdentities(ctx, []string{id.ID})
			if err != nil || ts.ID == "" {
				t.Fatalf("invite: %+v, %v", ts, err)
			}
			if got, err := c.TaskStatus(ctx, ts.ID); err != nil || got.ID != ts.ID {
				t.Errorf("task status: %+v, %v", got, err)
			}
			if n := tenant.CallCount(c.InviteEndpoint()); n != 1 {
				t.Errorf("%d calls to %s, want 1", n, c.InviteEndpoint())
			}
			if n := len(tenant.Invites()); n != 1 {
				t.Errorf("%d mailed, want 1", n)
			}
		})
	}
}
