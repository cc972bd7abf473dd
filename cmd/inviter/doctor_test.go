package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inviter/inviter/internal/doctor"
	"github.com/inviter/inviter/isctest"
)

// doctorLevels runs inviter doctor -o json and returns each check's level.
func doctorLevels(t *testing.T, env map[string]string, args ...string) (map[string]doctor.Result, result) {
	t.Helper()
	r := runInviter(t, testContext(t), env, append([]string{"doctor", "-o", "json"}, args...)...)
	var results []doctor.Result
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
		t.Fatalf("doctor output is not JSON: %v (%v)\n%s\n%s", err, r.err, r.stdout, r.stderr)
	}
	out := map[string]doctor.Result{}
	for _, c := range results {
		out[c.Check] = c
	}
	return out, r
}

func wantLevel(t *testing.T, got map[string]doctor.Result, check string, want doctor.Level) {
	t.Helper()
	c, ok := got[check]
	if !ok {
		t.Errorf("no %q check; got %v", check, got)
		return
	}
	if c.Level != want {
		t.Errorf("%s: %s (%s -> %s), want %s", check, c.Level, c.Detail, c.Fix, want)
	}
	if want == doctor.Fail && c.Fix == "" {
		t.Errorf("%s failed without saying what to do", check)
	}
}

func TestDoctorAllChecksPass(t *testing.T) {
	tenant := isctest.NewServer(isctest.Options{Users: 40})
	defer tenant.Close()
	dsn := filepath.Join(t.TempDir(), "inviter.db")
	d := startServe(t, tenant, dsn)
	env := tenantEnv(tenant)
	env["INVITER_WEBHOOK_TOKEN"] = d.token
	if r := runInviter(t, testContext(t), env, "subscribe", "--url", d.url); r.err != nil {
		t.Fatalf("subscribe: %v\n%s", r.err, r.stderr)
	}
	got, r := doctorLevels(t, env, "--url", d.url, "--db", dsn, "--wait", "20s")
	if r.err != nil {
		t.Errorf("doctor: %v", r.err)
	}
	for _, c := range []string{"tenant answers", "credentials", "rights: invite", "rights: task status", "rights: identities read",
		"rights: search", "rights: subscriptions", "rights: test invocation", "subscription: Identity Created", "shared emails", "test event"} {
		wantLevel(t, got, c, doctor.OK)
	}
}

func TestDoctorChecksFail(t *testing.T) {
	noInvite := []string{isctest.ScopeIdentityRead, isctest.ScopeTaskRead, isctest.ScopeSearch, isctest.ScopeSubscriptions, isctest.ScopeTestInvocation}
	tenant := isctest.NewServer(isctest.Options{Users: 40, SharedEmailUsers: 3,
		Clients: []isctest.Client{{ID: "no-invite", Secret: "no-invite-secret", Scopes: noInvite}}})
	defer tenant.Close()

	t.Run("unreachable tenant", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		env := tenantEnv(tenant)
		env["SAIL_BASE_URL"] = "http://" + addr
		got, r := doctorLevels(t, env)
		wantLevel(t, got, "tenant answers", doctor.Fail)
		if exitCode(r.err) != 1 {
			t.Errorf("exit %d, want 1", exitCode(r.err))
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		env := tenantEnv(tenant)
		env["SAIL_CLIENT_SECRET"] = "s3cr3t-wrong-value"
		got, r := doctorLevels(t, env)
		wantLevel(t, got, "tenant answers", doctor.OK)
		wantLevel(t, got, "credentials", doctor.Fail)
		if exitCode(r.err) != 1 || strings.Contains(r.stdout, "s3cr3t") || !strings.Contains(r.stdout, "SAIL_CLIENT_SECRET") {
			t.Errorf("exit %d, output %s", exitCode(r.err), r.stdout)
		}
	})
	t.Run("token without the invite scope", func(t *testing.T) {
		env := tenantEnv(tenant)
		env["SAIL_CLIENT_ID"], env["SAIL_CLIENT_SECRET"] = "no-invite", "no-invite-secret"
		got, r := doctorLevels(t, env)
		wantLevel(t, got, "credentials", doctor.OK)
		wantLevel(t, got, "rights: invite", doctor.Fail)
		wantLevel(t, got, "rights: identities read", doctor.OK)
		if exitCode(r.err) != 1 || !strings.Contains(got["rights: invite"].Detail, "idn:password-user-invite:manage") {
			t.Errorf("exit %d, invite line %+v", exitCode(r.err), got["rights: invite"])
		}
	})
	t.Run("no subscription, shared emails", func(t *testing.T) {
		got, _ := doctorLevels(t, tenantEnv(tenant))
		wantLevel(t, got, "subscription: Identity Created", doctor.Fail)
		wantLevel(t, got, "shared emails", doctor.Warn)
		if !strings.Contains(got["shared emails"].Detail, "3 of them share 1 email") {
			t.Errorf("shared emails: %+v", got["shared emails"])
		}
	})
	t.Run("subscription elsewhere, test event lost", func(t *testing.T) {
		env := subscribeEnv(tenant)
		dead := "http://127.0.0.1:9/hooks/identity-created"
		if r := runInviter(t, testContext(t), env, "subscribe", "--url", dead); r.err != nil {
			t.Fatal(r.err)
		}
		got, _ := doctorLevels(t, env, "--url", "https://inviter.example.com")
		wantLevel(t, got, "subscription: Identity Created", doctor.Fail)

		dsn := filepath.Join(t.TempDir(), "inviter.db")
		if r := runInviter(t, testContext(t), map[string]string{}, "migrate", "--db", dsn); r.err != nil {
			t.Fatal(r.err)
		}
		got, _ = doctorLevels(t, env, "--url", dead, "--db", dsn, "--wait", "1s")
		wantLevel(t, got, "subscription: Identity Created", doctor.OK)
		wantLevel(t, got, "test event", doctor.Fail)

		subs := tenant.Subscriptions()
		c := runInviter(t, testContext(t), env, "subscribe", "--remove", "--url", dead)
		if c.err != nil || len(subs) != 1 {
			t.Fatal(c.err, subs)
		}
	})
	t.Run("cc removed", func(t *testing.T) {
		gone := isctest.NewServer(isctest.Options{CCRemoved: 410})
		defer gone.Close()
		got, _ := doctorLevels(t, tenantEnv(gone), "--api", "cc")
		wantLevel(t, got, "/cc API", doctor.Fail)
	})
}
