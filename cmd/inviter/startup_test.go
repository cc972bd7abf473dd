package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inviter/inviter/isctest"
)

// serveEnv is what serve needs besides the tenant: a webhook token and a
// database in dir.
func serveEnv(tenant *isctest.Server, dir string) map[string]string {
	env := subscribeEnv(tenant)
	env["INVITER_DB"] = filepath.Join(dir, "inviter.db")
	return env
}

func TestServeRefusesWrongCredentialsWithExit2(t *testing.T) {
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{})
	defer tenant.Close()
	dir := t.TempDir()
	env := serveEnv(tenant, dir)
	env["SAIL_CLIENT_SECRET"] = "wrong-secret"
	r := runInviter(t, ctx, env, "serve", "--listen", "127.0.0.1:0")
	if exitCode(r.err) != 2 {
		t.Fatalf("serve with a wrong secret: exit %d (%v), want 2\n%s", exitCode(r.err), r.err, r.stderr)
	}
	msg := r.err.Error()
	if !strings.Contains(msg, "SAIL_CLIENT_SECRET") || strings.Contains(msg, "wrong-secret") {
		t.Errorf("message %q: want it to name SAIL_CLIENT_SECRET and not show the secret", msg)
	}
	if _, err := os.Stat(env["INVITER_DB"]); !os.IsNotExist(err) {
		t.Errorf("the database was created before the credentials were checked (stat: %v)", err)
	}
}

func TestUnknownCommandExits2(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"jobs", "frobnicate"}} {
		r := runInviter(t, testContext(t), nil, args...)
		if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "frobnicate") {
			t.Errorf("inviter %v: exit %d (%v), want 2 naming it", args, exitCode(r.err), r.err)
		}
	}
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	for _, cmd := range []string{"migrate", "reconcile"} {
		r := runInviter(t, testContext(t), nil, cmd, "--db", filepath.Join(missing, "inviter.db"))
		if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "--db") || !strings.Contains(r.err.Error(), missing) {
			t.Errorf("%s with a missing directory: exit %d (%v), want 2 naming --db and %s", cmd, exitCode(r.err), r.err, missing)
		}
	}
}

func TestServeBadSettingsExit2BeforeAnythingIsCreated(t *testing.T) {
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{})
	defer tenant.Close()
	dir := t.TempDir()
	missing := filepath.Join(dir, "var", "lib", "inviter")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--listen", "8085"}, []string{"--listen", "8085", "HOST:PORT"}},
		{[]string{"--listen", ":99999"}, []string{"--listen", "out of range"}},
		{[]string{"--db", filepath.Join(missing, "inviter.db")}, []string{"--db", missing, "does not exist"}},
		{[]string{"--log-format", "xml"}, []string{"--log-format"}},
		{[]string{"--log-level", "chatty"}, []string{"--log-level"}},
		{[]string{"--no-such-flag"}, []string{"no-such-flag"}},
	}
	for _, c := range cases {
		r := runInviter(t, ctx, serveEnv(tenant, dir), append([]string{"serve"}, c.args...)...)
		if exitCode(r.err) != 2 {
			t.Errorf("serve %v: exit %d (%v), want 2", c.args, exitCode(r.err), r.err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.err.Error(), w) {
				t.Errorf("serve %v: message %q does not name %q", c.args, r.err, w)
			}
		}
	}
	// Named by the environment variable when that set it.
	env := serveEnv(tenant, dir)
	env["INVITER_LISTEN"] = "8085"
	if r := runInviter(t, ctx, env, "serve"); exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "INVITER_LISTEN") {
		t.Errorf("INVITER_LISTEN=8085: exit %d (%v), want 2 naming INVITER_LISTEN", exitCode(r.err), r.err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("bad settings created %v", entries)
	}
	if len(tenant.Calls()) != 0 {
		t.Errorf("bad settings called the tenant: %v", tenant.Calls())
	}
}

func TestServeWithCCOnATenantWithoutCCExits2(t *testing.T) {
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{CCRemoved: 404})
	defer tenant.Close()
	r := runInviter(t, ctx, serveEnv(tenant, t.TempDir()), "serve", "--api", "cc", "--listen", "127.0.0.1:0", "--admin-listen", "off")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "--api public") {
		t.Fatalf("serve --api cc without /cc: exit %d (%v), want 2 naming --api public", exitCode(r.err), r.err)
	}
}
