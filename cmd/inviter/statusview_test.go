package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
)

// TestServeShowsAnUnreachableTenant: serve started while ISC answers 503
// starts with a WARN, and its status page and metrics show ISC unhealthy
// with the error; the reconcile row and the health table are there.
func TestServeShowsAnUnreachableTenant(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	tenant.Outage(isctest.OutageErrors, 0)
	d := startServe(t, tenant, storetest.SQLiteDSN(t), "--reconcile-every", "0")
	admin := d.adminURL(t)
	get := func(path string) string {
		t.Helper()
		res, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	page := get("/")
	for _, want := range []string{`id="isc-unhealthy"`, "503", "<strong>unhealthy</strong>", "Reconcile"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q:\n%.2000s", want, page)
		}
	}
	if m := get("/metrics"); !strings.Contains(m, "inviter_isc_healthy 0") {
		t.Errorf("metrics lack inviter_isc_healthy 0")
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if out := d.out.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "ISC does not answer at start") {
		t.Errorf("no WARN at start:\n%s", out)
	}
}

// TestServeDebugLogsEveryISCCall: with --debug, serve logs each ISC call
// (endpoint and status) and River's own messages; without it, neither.
func TestServeDebugLogsEveryISCCall(t *testing.T) {
	t.Parallel()
	for _, debug := range []bool{true, false} {
		tenant := isctest.NewServer(isctest.Options{Users: 1})
		t.Cleanup(tenant.Close)
		extra := []string{"--reconcile-every", "0", "--log-format", "json"}
		if debug {
			extra = append(extra, "--debug")
		}
		d := startServe(t, tenant, storetest.SQLiteDSN(t), extra...)
		id := tenant.CreateIdentity(isctest.NewIdentity{Name: "Ada Byrne"})
		if code, body := post(t, d, "Bearer "+d.token, "application/json", payload(id.ID, id.Name)); code != http.StatusOK {
			t.Fatalf("delivery: %d %s", code, body)
		}
		waitInvited(t, tenant, []string{id.ID}, time.Minute)
		if err := d.stop(); err != nil {
			t.Fatal(err)
		}
		out := d.out.String()
		calls := strings.Contains(out, `"msg":"isc call"`) && strings.Contains(out, `/identities/invite","status":`)
		river := strings.Contains(out, `"level":"DEBUG"`) && strings.Contains(out, "river")
		if calls != debug || river != debug {
			t.Errorf("--debug %t: ISC calls logged %t, River's debug messages logged %t:\n%.3000s", debug, calls, river, out)
		}
		if !debug && strings.Contains(out, "rivermigrate") {
			t.Errorf("River's migrator logged without --debug:\n%.2000s", out)
		}
	}
}
