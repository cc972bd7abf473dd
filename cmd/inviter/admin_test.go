package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
)

// TestServeAdminListener checks, as a new operator would, that the status
// page and /metrics are unreachable on the webhook's port and reachable on
// --admin-listen, and that a webhook token read from a file with its
// trailing newline is trimmed, with a warning, and works.
func TestServeAdminListener(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	d := startServe(t, tenant, storetest.SQLiteDSN(t), "--reconcile-every", "0")
	admin := d.adminURL(t)

	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, path := range []string{"/", "/metrics"} {
		if code, body := get(d.url + path); code != http.StatusNotFound {
			t.Errorf("public GET %s = %d, want 404:\n%.300s", path, code, body)
		}
		if code, _ := get(admin + path); code != http.StatusOK {
			t.Errorf("admin GET %s = %d, want 200", path, code)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := get(d.url + path); code != http.StatusOK {
			t.Errorf("public GET %s = %d, want 200", path, code)
		}
	}
	if _, page := get(admin + "/"); !strings.Contains(page, "<title>inviter status</title>") {
		t.Errorf("the admin listener does not serve the status page:\n%.300s", page)
	}
	if _, m := get(admin + "/metrics"); !strings.Contains(m, "inviter_deliveries_total") && !strings.Contains(m, "go_goroutines") {
		t.Errorf("the admin /metrics shows no metrics:\n%.300s", m)
	}
}

func TestServeTrimsWebhookToken(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	token := randomToken()
	env := tenantEnv(tenant)
	env["INVITER_WEBHOOK_TOKEN"] = token + "\n"
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	done := make(chan error, 1)
	var buf bytes.Buffer
	d := &daemon{token: token, out: &buf, watch: newListenWatch()}
	out := harness.SyncWriter(io.MultiWriter(&buf, d.watch))
	args := serveArgs("127.0.0.1:0", storetest.SQLiteDSN(t), "--reconcile-every", "0")
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), out, out)
	}()
	waitListening(t, d, done)
	req, _ := http.NewRequest(http.MethodPost, d.url+"/hooks/identity-created", bytes.NewReader(payload("2c9180835d2e5168015d32f890ca1581", "Nina Newline")))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("delivery with the token ISC sends = %d, want 200", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	logs := buf.String()
	if !strings.Contains(logs, "INVITER_WEBHOOK_TOKEN") || !strings.Contains(logs, "white space") || strings.Contains(logs, token) {
		t.Errorf("want a warning naming INVITER_WEBHOOK_TOKEN without the token; log:\n%s", logs)
	}
}

func TestServeRefusesShortWebhookSecrets(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"INVITER_WEBHOOK_TOKEN": "short-token\n"}, nil, "INVITER_WEBHOOK_TOKEN"},
		{map[string]string{"INVITER_WEBHOOK_USER": "isc", "INVITER_WEBHOOK_PASSWORD": "  pass  "}, nil, "INVITER_WEBHOOK_PASSWORD"},
		{map[string]string{"INVITER_WEBHOOK_TOKEN": randomToken()}, []string{"--admin-listen", "9090"}, "--admin-listen"},
		{map[string]string{"INVITER_WEBHOOK_TOKEN": randomToken(), "INVITER_ADMIN_LISTEN": "localhost"}, nil, "INVITER_ADMIN_LISTEN"},
		{map[string]string{"INVITER_WEBHOOK_TOKEN": randomToken()}, []string{"--listen", "127.0.0.1:18080", "--admin-listen", "127.0.0.1:18080"}, "must not share"},
	} {
		env := tenantEnv(tenant)
		for k, v := range tt.env {
			env[k] = v
		}
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--db", storetest.SQLiteDSN(t)}, tt.args...)
		res := runInviter(t, testContext(t), env, args...)
		if exitCode(res.err) != 2 || !strings.Contains(res.err.Error(), tt.want) {
			t.Errorf("serve %v with %v: %v (exit %d), want exit 2 naming %s", tt.args, tt.env, res.err, exitCode(res.err), tt.want)
		}
	}
}

// TestServeShowsISCTestEvent subscribes a serve to isctest and has ISC send
// its test event (as the console's "Test subscription" button does): the
// delivery is answered 200, nobody is invited, and the admin status page
// lists it as a test delivery.
func TestServeShowsISCTestEvent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	d := startServe(t, tenant, storetest.SQLiteDSN(t), "--reconcile-every", "0")
	admin := d.adminURL(t)
	env := tenantEnv(tenant)
	env["INVITER_WEBHOOK_TOKEN"] = d.token
	if r := runInviter(t, ctx, env, "subscribe", "--url", d.url+"/hooks/identity-created"); r.err != nil {
		t.Fatalf("subscribe: %v\n%s", r.err, r.stderr)
	}
	if r := runInviter(t, ctx, env, "subscribe", "--test"); r.err != nil {
		t.Fatalf("subscribe --test: %v\n%s", r.err, r.stderr)
	}
	if err := tenant.WaitDeliveries(ctx, 1); err != nil {
		t.Fatal(err)
	}
	del := tenant.Deliveries()[0]
	if del.Status != http.StatusOK || !inviter.IsTestIdentityID(del.IdentityID) {
		t.Fatalf("ISC's test delivery: %+v, want 200 for the sample identity", del)
	}
	res, err := http.Get(admin + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	section, _, _ := strings.Cut(string(page[bytes.Index(page, []byte("<h2>Test deliveries</h2>"))+1:]), "<h2>")
	if !strings.Contains(section, del.IdentityID) || strings.Contains(section, "No test deliveries.") {
		t.Errorf("the status page's test deliveries lack %s:\n%s", del.IdentityID, section)
	}
	if n := len(tenant.Invites()); n != 0 {
		t.Errorf("%d invitations sent for ISC's test event", n)
	}
}
