package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isctest"
)

func TestInviteBothPathsWithFaults(t *testing.T) {
	t.Parallel()
	for _, api := range []string{"public", "cc"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			tenant := isctest.NewServer(isctest.Options{Users: 600})
			t.Cleanup(tenant.Close)
			fresh := tenant.CreateIdentities(40, nil)
			registered := tenant.CreateIdentity(isctest.NewIdentity{Registered: true})
			tenant.SetFaults(isctest.Faults{ErrorRate: 0.2, ResetRate: 0.1, Seed: 3})

			args := []string{"invite", "--api", api, "--batch-size", "10", "-o", "json"}
			for _, id := range fresh {
				args = append(args, id.ID)
			}
			args = append(args, registered.ID, "2c9180000000000000000000000dead0")
			res := runInviter(t, testContext(t), tenantEnv(tenant), args...)
			if res.err == nil || exitCode(res.err) != 1 {
				t.Fatalf("exit: %v, want status 1 for the unknown id; stderr:\n%s", res.err, res.stderr)
			}
			var results []inviter.Result
			if err := json.Unmarshal([]byte(res.stdout), &results); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, res.stdout)
			}
			byID := map[string]inviter.Result{}
			for _, r := range results {
				byID[r.IdentityID] = r
			}
			for _, id := range fresh {
				if r := byID[id.ID]; r.Outcome != inviter.OutcomeInvited {
					t.Errorf("%s: %s %s", id.ID, r.Outcome, r.Reason)
				}
				if n := tenant.InviteCount(id.ID); n != 1 {
					t.Errorf("%s mailed %d times, want 1", id.ID, n)
				}
			}
			if r := byID[registered.ID]; r.Outcome != inviter.OutcomeAlreadyRegistered {
				t.Errorf("registered identity: %s %s", r.Outcome, r.Reason)
			}
			if r := byID["2c9180000000000000000000000dead0"]; r.Outcome != inviter.OutcomeNotFound {
				t.Errorf("unknown identity: %s %s", r.Outcome, r.Reason)
			}
			if got := len(tenant.Invites()); got != len(fresh) {
				t.Errorf("tenant mailed %d invitations, want %d", got, len(fresh))
			}
		})
	}
}

func TestInviteOneIdentityText(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 300})
	t.Cleanup(tenant.Close)
	id := tenant.CreateIdentity(isctest.NewIdentity{Name: "Ada Lovelace"})
	for _, api := range []string{"public", "cc"} {
		res := runInviter(t, testContext(t), tenantEnv(tenant), "invite", "--api", api, id.ID)
		if res.err != nil {
			t.Fatalf("%s: %v\n%s", api, res.err, res.stderr)
		}
		if !strings.Contains(res.stdout, id.ID) || !strings.Contains(res.stdout, "invited") {
			t.Errorf("%s: output %q", api, res.stdout)
		}
	}
	if n := tenant.InviteCount(id.ID); n != 2 {
		t.Errorf("mailed %d times, want 2 (once per run)", n)
	}
	if n := tenant.CallCount("POST /cc/api/user/invite"); n != 1 {
		t.Errorf("cc invite calls = %d, want 1", n)
	}
	if n := tenant.CallCount("POST /beta/identities/invite"); n != 1 { // the default --api-version
		t.Errorf("public invite calls = %d, want 1", n)
	}
}

func TestInviteUnregistered(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 400}) // 40 old unregistered ones
	t.Cleanup(tenant.Close)
	cutoff := time.Now().Add(-time.Hour)
	fresh := tenant.CreateIdentities(12, nil)
	env := tenantEnv(tenant)

	res := runInviter(t, testContext(t), env, "invite", "--unregistered", "--created-after", cutoff.Format(time.RFC3339), "--dry-run")
	if res.err != nil {
		t.Fatalf("dry run: %v\n%s", res.err, res.stderr)
	}
	if got := strings.Count(res.stdout, "would invite"); got != 12 {
		t.Errorf("dry run lists %d identities, want 12:\n%s", got, res.stdout)
	}
	if n := len(tenant.Invites()); n != 0 {
		t.Fatalf("dry run mailed %d invitations", n)
	}
	for _, c := range tenant.Calls() {
		if c.Method != "GET" && c.Endpoint != "POST /oauth/token" {
			t.Errorf("dry run called %s", c.Endpoint)
		}
	}

	res = runInviter(t, testContext(t), env, "invite", "--unregistered", "--created-after", cutoff.Format(time.RFC3339), "--limit", "5")
	if res.err != nil {
		t.Fatalf("invite: %v\n%s", res.err, res.stderr)
	}
	if n := len(tenant.Invites()); n != 5 {
		t.Errorf("mailed %d invitations, want 5 (--limit)", n)
	}
	for _, inv := range tenant.Invites() {
		found := false
		for _, f := range fresh {
			found = found || f.ID == inv.IdentityID
		}
		if !found {
			t.Errorf("mailed %s, created before --created-after", inv.IdentityID)
		}
	}
}

func TestInviteSettingsErrors(t *testing.T) {
	t.Parallel()
	const secret = "super-secret-value-42"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no base url", map[string]string{"SAIL_CLIENT_ID": "a", "SAIL_CLIENT_SECRET": secret}, []string{"invite", "x"}, "SAIL_BASE_URL"},
		{"bad base url", map[string]string{"SAIL_BASE_URL": "acme", "SAIL_CLIENT_ID": "a", "SAIL_CLIENT_SECRET": secret}, []string{"invite", "x"}, "SAIL_BASE_URL"},
		{"no client id", map[string]string{"SAIL_BASE_URL": "https://acme.api.identitynow.com", "SAIL_CLIENT_SECRET": secret}, []string{"invite", "x"}, "SAIL_CLIENT_ID"},
		{"no secret", map[string]string{"SAIL_BASE_URL": "https://acme.api.identitynow.com", "SAIL_CLIENT_ID": "a"}, []string{"invite", "x"}, "SAIL_CLIENT_SECRET"},
		{"bad api", nil, []string{"invite", "--api", "soap", "x"}, "--api"},
		{"bad api env", map[string]string{"INVITER_API": "soap"}, []string{"invite", "x"}, "INVITER_API"},
		{"bad rate", map[string]string{"INVITER_RATE_LIMIT": "fast"}, []string{"invite", "x"}, "INVITER_RATE_LIMIT"},
		{"no ids", nil, []string{"invite"}, "identity id"},
		{"bad date", nil, []string{"invite", "--unregistered", "--created-after", "yesterday"}, "--created-after"},
		{"unknown flag", nil, []string{"invite", "--frobnicate"}, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runInviter(t, testContext(t), tt.env, tt.args...)
			if res.err == nil || exitCode(res.err) != 2 {
				t.Fatalf("err = %v (exit %d), want a usage error", res.err, exitCode(res.err))
			}
			if !strings.Contains(res.err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", res.err, tt.want)
			}
			if strings.Contains(res.err.Error()+res.stdout+res.stderr, secret) {
				t.Error("the secret was printed")
			}
		})
	}
}

func TestDebugNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 10, TokenTTL: time.Hour})
	t.Cleanup(tenant.Close)
	id := tenant.CreateIdentity(isctest.NewIdentity{})
	tenant.ExpireTokens() // force a refresh path too
	res := runInviter(t, testContext(t), tenantEnv(tenant), "invite", "--debug", id.ID)
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.stderr)
	}
	if !strings.Contains(res.stderr, "isc call") {
		t.Errorf("--debug logged no calls:\n%s", res.stderr)
	}
	all := res.stdout + res.stderr
	for _, s := range []string{tenant.ClientSecret(), "Bearer", "access_token", "Authorization"} {
		if strings.Contains(all, s) {
			t.Errorf("output contains %q", s)
		}
	}
}
