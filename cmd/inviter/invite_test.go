package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isctest"
)

// TestInviteUnknownIdentityJSON: an identity ISC does not know is a
// not_found result in the JSON output and exit status 1; the others are
// still invited.
func TestInviteUnknownIdentityJSON(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 20})
	t.Cleanup(tenant.Close)
	id := tenant.CreateIdentity(isctest.NewIdentity{})
	const unknown = "2c9180000000000000000000000dead0"
	res := runInviter(t, testContext(t), tenantEnv(tenant), "invite", "-o", "json", id.ID, unknown)
	if exitCode(res.err) != 1 || !strings.Contains(res.err.Error(), "1 of 2 identities could not be invited") {
		t.Fatalf("exit %d (%v), want 1; stderr:\n%s", exitCode(res.err), res.err, res.stderr)
	}
	var results []inviter.Result
	if err := json.Unmarshal([]byte(res.stdout), &results); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, res.stdout)
	}
	if len(results) != 2 || results[0].Outcome != inviter.OutcomeInvited || results[1].Outcome != inviter.OutcomeNotFound {
		t.Errorf("results %+v, want invited then not_found", results)
	}
	if !strings.Contains(res.stderr, "1 invited, 0 already registered, 0 skipped, 1 not found, 0 failed (2 identities)") {
		t.Errorf("the summary is not on stderr with -o json:\n%s", res.stderr)
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

// TestInviteUnregisteredFlags: --created-after (RFC 3339) and --limit
// narrow the list; --dry-run prints it and mails nobody.
func TestInviteUnregisteredFlags(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 400}) // 40 old unregistered ones
	t.Cleanup(tenant.Close)
	cutoff := time.Now().Add(-time.Hour).Format(time.RFC3339)
	fresh := tenant.CreateIdentities(12, nil)
	env := tenantEnv(tenant)

	res := runInviter(t, testContext(t), env, "invite", "--unregistered", "--created-after", cutoff, "--dry-run")
	if res.err != nil {
		t.Fatalf("dry run: %v\n%s", res.err, res.stderr)
	}
	if got := strings.Count(res.stdout, "would invite"); got != 12 || len(tenant.Invites()) != 0 {
		t.Errorf("dry run lists %d identities (want 12) and mailed %d:\n%s", got, len(tenant.Invites()), res.stdout)
	}
	res = runInviter(t, testContext(t), env, "invite", "--unregistered", "--created-after", cutoff, "--limit", "5")
	if res.err != nil {
		t.Fatalf("invite: %v\n%s", res.err, res.stderr)
	}
	if n := len(tenant.Invites()); n != 5 || !strings.Contains(res.stdout, "5 invited") {
		t.Errorf("mailed %d invitations, want 5 (--limit):\n%s", n, res.stdout)
	}
	for _, inv := range tenant.Invites() {
		if !slices.ContainsFunc(fresh, func(f isctest.Identity) bool { return f.ID == inv.IdentityID }) {
			t.Errorf("mailed %s, created before --created-after", inv.IdentityID)
		}
	}
	res = runInviter(t, testContext(t), env, "invite", "--unregistered", "--created-after", "2099-01-01")
	if res.err != nil || !strings.Contains(res.stderr, "no unregistered identities match") {
		t.Errorf("nothing after the cut-off: %v\n%s", res.err, res.stderr)
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

// TestInviteDryRunCCAndPolicyNote: a /cc dry run names the cc id it would
// invite; a policy with named ids says it does not apply to them.
func TestInviteDryRunCCAndPolicyNote(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 20})
	t.Cleanup(tenant.Close)
	id := tenant.CreateIdentity(isctest.NewIdentity{Department: "Contractors"})
	res := runInviter(t, testContext(t), tenantEnv(tenant), "invite", "--api", "cc", "--dry-run", id.ID)
	if res.err != nil || !strings.Contains(res.stdout, "would invite (cc id "+id.CCID+")") {
		t.Errorf("cc dry run: %v\n%s%s", res.err, res.stdout, res.stderr)
	}
	res = runInviter(t, testContext(t), tenantEnv(tenant), "invite", "--policy", "department != Contractors", id.ID)
	if res.err != nil || !strings.Contains(res.stderr, "note: the policy applies to --unregistered") || tenant.InviteCount(id.ID) != 1 {
		t.Errorf("policy with a named id: %v, mailed %d times\n%s", res.err, tenant.InviteCount(id.ID), res.stderr)
	}
}
