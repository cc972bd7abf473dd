package isc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// newCCInviter returns an Inviter on the /cc path over tenant.
func newCCInviter(t *testing.T, tenant *isctest.Server) *isc.Inviter {
	t.Helper()
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := isc.NewInviter(c, isc.InviterConfig{API: inviter.APICC, BatchSize: 100, Directory: isc.NewDirectory(c, isc.DirectoryOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestInviterCCNoEmailIsNotSent: the /cc invite's answer says nothing of
// each user, so an identity the /cc list shows without an email address is
// not sent: it is recorded failed (permanent) with a reason that says what
// to do, and the others of the call are invited.
func TestInviterCCNoEmailIsNotSent(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 20})
	t.Cleanup(tenant.Close)
	noMail := identityIDs(tenant.CreateIdentities(3, func(int) isctest.NewIdentity { return isctest.NewIdentity{NoEmail: true} }))
	mail := identityIDs(tenant.CreateIdentities(4, nil))
	inv := newCCInviter(t, tenant)
	tenant.ResetCalls()

	isNoMail := map[string]bool{}
	for _, id := range noMail {
		isNoMail[id] = true
	}
	for _, r := range inv.Invite(context.Background(), append(append([]string{}, noMail...), mail...)) {
		if isNoMail[r.IdentityID] {
			if r.Outcome != inviter.OutcomeFailed || !strings.Contains(r.Reason, "no email address") || !strings.Contains(r.Reason, "inviter jobs retry") || !isc.IsPermanent(r.Err) {
				t.Errorf("%s (no email): %s %q (%v), want failed, permanent, saying there is no email address", r.IdentityID, r.Outcome, r.Reason, r.Err)
			}
			continue
		}
		if r.Outcome != inviter.OutcomeInvited || tenant.InviteCount(r.IdentityID) != 1 {
			t.Errorf("%s: %s %q, mailed %d; want invited once", r.IdentityID, r.Outcome, r.Reason, tenant.InviteCount(r.IdentityID))
		}
	}
	for _, c := range tenant.Calls() {
		if c.Path == "/cc/api/user/invite" && c.Status != 200 {
			t.Errorf("cc invite answered %d", c.Status)
		}
	}
	if n := tenant.CallCount("POST /cc/api/user/invite"); n != 1 {
		t.Errorf("%d cc invite calls, want 1", n)
	}
}

// TestInviterSharedAddressSendsTheFirstOnly: identities of one call that
// share an email address (in any case, with spaces around it): ISC mails
// only the first, so only the earliest created is sent and the others are
// recorded failed (permanent), naming the address and the identity sent.
// On both paths, whatever order the ids come in.
func TestInviterSharedAddressSendsTheFirstOnly(t *testing.T) {
	t.Parallel()
	for _, api := range []inviter.API{inviter.APIPublic, inviter.APICC} {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 20})
			t.Cleanup(tenant.Close)
			base := time.Now().Add(-time.Hour)
			addrs := []string{"shared@example.com", "Shared@Example.com", " shared@example.com", "SHARED@example.com"}
			shared := tenant.CreateIdentities(len(addrs), func(i int) isctest.NewIdentity {
				return isctest.NewIdentity{Email: addrs[i], Created: base.Add(time.Duration(i) * time.Minute)}
			})
			other := tenant.CreateIdentities(2, func(i int) isctest.NewIdentity {
				return isctest.NewIdentity{Email: "pair@example.com", Created: base.Add(time.Duration(i) * time.Second)}
			})
			single := identityIDs(tenant.CreateIdentities(3, nil))
			// The latest first, so that the order of the call does not decide.
			ids := []string{shared[3].ID, other[1].ID, shared[1].ID, shared[2].ID, shared[0].ID, other[0].ID}
			ids = append(ids, single...)

			var inv *isc.Inviter
			if api == inviter.APICC {
				inv = newCCInviter(t, tenant)
			} else {
				_, inv = newTestInviter(t, tenant, isc.InviterConfig{})
			}
			firstOf := map[string]string{shared[0].ID: "", other[0].ID: ""}
			for _, s := range shared[1:] {
				firstOf[s.ID] = shared[0].ID
			}
			firstOf[other[1].ID] = other[0].ID
			for _, r := range inv.Invite(context.Background(), ids) {
				first, isShared := firstOf[r.IdentityID]
				switch {
				case isShared && first != "":
					addr := "shares shared@example.com with "
					if r.IdentityID == other[1].ID {
						addr = "shares pair@example.com with "
					}
					if r.Outcome != inviter.OutcomeFailed || !strings.Contains(strings.ToLower(r.Reason), addr+first) || !isc.IsPermanent(r.Err) {
						t.Errorf("%s: %s %q (%v), want failed, permanent, sharing with %s", r.IdentityID, r.Outcome, r.Reason, r.Err, first)
					}
					if n := tenant.InviteCount(r.IdentityID); n != 0 {
						t.Errorf("%s: mailed %d, want 0", r.IdentityID, n)
					}
				default:
					if r.Outcome != inviter.OutcomeInvited || r.Reason != "" || tenant.InviteCount(r.IdentityID) != 1 {
						t.Errorf("%s: %s %q, mailed %d; want invited once", r.IdentityID, r.Outcome, r.Reason, tenant.InviteCount(r.IdentityID))
					}
				}
			}
			if n := len(tenant.Invites()); n != 2+len(single) {
				t.Errorf("%d mailed, want %d", n, 2+len(single))
			}
		})
	}
}

// identityIDs returns the ids of identities, in order.
func identityIDs(ids []isctest.Identity) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.ID
	}
	return out
}

// TestInviterSharedAddressTies: of identities created at the same moment
// (ISC's times are in milliseconds) the smallest id is sent.
func TestInviterSharedAddressTies(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10})
	t.Cleanup(tenant.Close)
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	ids := identityIDs(tenant.CreateIdentities(3, func(int) isctest.NewIdentity {
		return isctest.NewIdentity{Email: "tie@example.com", Created: at}
	}))
	smallest := ids[0]
	for _, id := range ids {
		smallest = min(smallest, id)
	}
	_, inv := newTestInviter(t, tenant, isc.InviterConfig{})
	for _, r := range inv.Invite(context.Background(), ids) {
		sent := r.Outcome != inviter.OutcomeFailed
		if sent != (r.IdentityID == smallest) {
			t.Errorf("%s: %s %q; want only %s sent", r.IdentityID, r.Outcome, r.Reason, smallest)
		}
	}
}

// TestInviterSharedEmailUsers: isctest's pre-existing users that share an
// address, invited together on each path, and on the public path also as
// `inviter invite --unregistered` does (no lookup: what the list showed is
// given as Listed): every identity recorded invited is mailed once, and
// the others sharing the address are failed, not mailed.
func TestInviterSharedEmailUsers(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"public", "public-listed", "cc"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 60, SharedEmailUsers: 3})
			t.Cleanup(tenant.Close)
			var ids []string
			for _, id := range tenant.Identities() {
				if id.Status == "UNREGISTERED" {
					ids = append(ids, id.ID)
				}
			}
			var inv *isc.Inviter
			switch mode {
			case "cc":
				inv = newCCInviter(t, tenant)
			case "public-listed":
				c, _ := newTestInviter(t, tenant, isc.InviterConfig{})
				listed := map[string]inviter.Identity{}
				if err := c.EachUnregistered(context.Background(), func(page []inviter.Identity) error {
					for _, f := range page {
						listed[f.ID] = f
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				_, inv = newTestInviter(t, tenant, isc.InviterConfig{NoLookup: true, Listed: listed})
				tenant.ResetCalls()
				defer func() {
					if n := tenant.CallCount("GET /v2025/identities"); n != 0 {
						t.Errorf("%d lookups with Listed, want 0", n)
					}
				}()
			default:
				_, inv = newTestInviter(t, tenant, isc.InviterConfig{})
			}
			failed := 0
			for _, r := range inv.Invite(context.Background(), ids) {
				n := tenant.InviteCount(r.IdentityID)
				switch r.Outcome {
				case inviter.OutcomeInvited:
					if n != 1 {
						t.Errorf("%s: recorded invited, mailed %d", r.IdentityID, n)
					}
				case inviter.OutcomeFailed:
					failed++
					if n != 0 || !strings.Contains(r.Reason, "shares shared.mailbox@example.com with ") {
						t.Errorf("%s: failed %q, mailed %d; want a shared address named, not mailed", r.IdentityID, r.Reason, n)
					}
				default:
					t.Errorf("%s: %s %q", r.IdentityID, r.Outcome, r.Reason)
				}
			}
			if failed != 2 || len(tenant.Invites()) != len(ids)-2 {
				t.Errorf("%d failed, %d mailed of %d; want 2 failed, the rest mailed", failed, len(tenant.Invites()), len(ids))
			}
		})
	}
}

// TestInviterSharedAddressAcrossCalls: identities sharing an address that
// reach the Inviter in different calls (batches): a later call's sharers
// fail naming the first identity of the address seen earlier, on both
// paths; once the memory's time has passed, or with the memory off, only
// the ids of one call are compared.
func TestInviterSharedAddressAcrossCalls(t *testing.T) {
	t.Parallel()
	for _, api := range []inviter.API{inviter.APIPublic, inviter.APICC} {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 20})
			t.Cleanup(tenant.Close)
			base := time.Now().Add(-time.Hour)
			s := identityIDs(tenant.CreateIdentities(5, func(i int) isctest.NewIdentity {
				return isctest.NewIdentity{Email: "team@example.com", Created: base.Add(time.Duration(i) * time.Minute)}
			}))
			now := time.Now()
			clock := func() time.Time { return now }
			newInv := func(remember time.Duration) *isc.Inviter {
				c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
				if err != nil {
					t.Fatal(err)
				}
				cfg := isc.InviterConfig{API: api, BatchSize: 100, RememberAddresses: remember, Now: clock, TaskPoll: taskDelay}
				if api == inviter.APICC {
					cfg.Directory = isc.NewDirectory(c, isc.DirectoryOptions{})
				}
				inv, err := isc.NewInviter(c, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return inv
			}
			inv := newInv(0)
			if r := inv.Invite(context.Background(), []string{s[0]}); r[0].Outcome != inviter.OutcomeInvited {
				t.Fatalf("first call: %+v", r[0])
			}
			for _, r := range inv.Invite(context.Background(), []string{s[2], s[1], s[3]}) {
				if r.Outcome != inviter.OutcomeFailed || !strings.Contains(r.Reason, "shares team@example.com with "+s[0]) {
					t.Errorf("%s in a later call: %s %q, want failed naming %s", r.IdentityID, r.Outcome, r.Reason, s[0])
				}
			}
			if n := len(tenant.Invites()); n != 1 || tenant.InviteCount(s[0]) != 1 {
				t.Errorf("%d mailed, want only %s", n, s[0])
			}
			// A day later the memory has let the address go.
			now = now.Add(25 * time.Hour)
			if r := inv.Invite(context.Background(), []string{s[4]}); r[0].Outcome != inviter.OutcomeInvited {
				t.Errorf("after the memory's time: %s %q, want sent", r[0].Outcome, r[0].Reason)
			}
			// With the memory off, only one call's ids are compared.
			off := newInv(-1)
			off.Invite(context.Background(), []string{s[0]})
			if r := off.Invite(context.Background(), []string{s[1]}); r[0].Outcome != inviter.OutcomeInvited {
				t.Errorf("memory off: %s %q, want sent", r[0].Outcome, r[0].Reason)
			}
		})
	}
}

// TestInviterUnverifiedNoEmail: when what ISC did is not verified (a task
// slower than TaskWait, or a 202 naming no task), an identity the lookup
// listed without an email address is not recorded invited: it fails
// (permanent), saying there is no address; the others are invited,
// unverified.
func TestInviterUnverifiedNoEmail(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"slow task", "no task named"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 10, AsyncTasks: true, TaskDelay: time.Hour})
			t.Cleanup(tenant.Close)
			mail := identityIDs(tenant.CreateIdentities(3, nil))
			noMail := identityIDs(tenant.CreateIdentities(2, func(int) isctest.NewIdentity { return isctest.NewIdentity{NoEmail: true} }))
			c, inv := newTestInviter(t, tenant, isc.InviterConfig{TaskPoll: 20 * time.Millisecond, TaskWait: 100 * time.Millisecond})
			if mode == "no task named" {
				tenant.SetFaults(isctest.Faults{BadBody: isctest.BadBodyEmpty, Endpoints: []string{c.InviteEndpoint()}})
			}
			isNoMail := map[string]bool{noMail[0]: true, noMail[1]: true}
			for _, r := range inv.Invite(context.Background(), append(mail, noMail...)) {
				if isNoMail[r.IdentityID] {
					if r.Outcome != inviter.OutcomeFailed || !strings.Contains(r.Reason, "no email address") || !isc.IsPermanent(r.Err) {
						t.Errorf("%s (no email): %s %q (%v), want failed, permanent, no email address", r.IdentityID, r.Outcome, r.Reason, r.Err)
					}
					continue
				}
				if r.Outcome != inviter.OutcomeInvited || !strings.Contains(r.Reason, "not verified") || tenant.InviteCount(r.IdentityID) != 1 {
					t.Errorf("%s: %s %q, mailed %d; want invited, not verified, mailed once", r.IdentityID, r.Outcome, r.Reason, tenant.InviteCount(r.IdentityID))
				}
			}
		})
	}
}
