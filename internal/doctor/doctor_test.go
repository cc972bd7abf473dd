package doctor_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/doctor"
	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/web"
)

// run runs the doctor against tenant with the given client and returns
// the results by check, failing when Emit did not see every one of them.
func run(t *testing.T, tenant *isctest.Server, id, secret string, cfg doctor.Config) map[string]doctor.Result {
	t.Helper()
	cfg.ISC = isc.Config{BaseURL: tenant.URL(), ClientID: id, ClientSecret: secret, Retries: 1, Timeout: 10 * time.Second}
	c, err := isc.New(t.Context(), cfg.ISC)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Client = c
	var emitted []doctor.Result
	cfg.Emit = func(r doctor.Result) { emitted = append(emitted, r) }
	results := doctor.Run(t.Context(), cfg)
	if len(emitted) != len(results) {
		t.Errorf("emitted %d results, returned %d", len(emitted), len(results))
	}
	out := map[string]doctor.Result{}
	for _, r := range results {
		out[r.Check] = r
	}
	return out
}

func want(t *testing.T, got map[string]doctor.Result, check string, l doctor.Level) {
	t.Helper()
	r, ok := got[check]
	switch {
	case !ok:
		t.Errorf("no %q check in %v", check, got)
	case r.Level != l:
		t.Errorf("%s: %s (%s -> %s), want %s", check, r.Level, r.Detail, r.Fix, l)
	case l == doctor.Fail && r.Fix == "":
		t.Errorf("%s failed without saying what to do", check)
	}
}

func TestWrongSecretSkipsTheRest(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{})
	defer tenant.Close()
	got := run(t, tenant, tenant.ClientID(), "wrong-secret", doctor.Config{API: inviter.APIPublic, DBErr: errors.New("no such file")})
	want(t, got, "daemon", doctor.Warn)
	want(t, got, "tenant answers", doctor.OK)
	want(t, got, "credentials", doctor.Fail)
	for _, c := range []string{"rights", "subscriptions", "shared emails", "test event"} {
		want(t, got, c, doctor.Skip)
	}
	if d := got["credentials"].Detail; !strings.Contains(d, "SAIL_CLIENT_SECRET") || strings.Contains(d, "wrong-secret") {
		t.Errorf("credentials: %q; want it to name the setting, not the secret", d)
	}
}

func TestRightsSubscriptionsAndCC(t *testing.T) {
	t.Parallel()
	noInvite := []string{isctest.ScopeIdentityRead, isctest.ScopeTaskRead, isctest.ScopeSubscriptions}
	tenant := isctest.NewServer(isctest.Options{Users: 30, SharedEmailUsers: 2, CCRemoved: 410,
		Clients: []isctest.Client{{ID: "no-invite", Secret: "no-invite-secret", Scopes: noInvite}}})
	defer tenant.Close()
	got := run(t, tenant, "no-invite", "no-invite-secret", doctor.Config{API: inviter.APIPublic})
	want(t, got, "rights: invite", doctor.Fail)
	want(t, got, "rights: identities read", doctor.OK)
	want(t, got, "rights: search", doctor.Warn)
	want(t, got, "subscription: Identity Created", doctor.Fail)
	want(t, got, "shared emails", doctor.Warn)
	want(t, got, "test event", doctor.Skip)
	if _, ok := got["/cc API"]; ok {
		t.Error("the /cc API checked with --api public")
	}

	targets, _ := subscription.Targets("https://inviter.example.com", true)
	c, err := isc.New(t.Context(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subscription.Upsert(t.Context(), c, "inviter", web.Auth{BearerToken: "0123456789abcdef0123456789abcdef"}, targets[:1]); err != nil {
		t.Fatal(err)
	}
	got = run(t, tenant, tenant.ClientID(), tenant.ClientSecret(), doctor.Config{API: inviter.APICC, Changes: true, Targets: targets})
	want(t, got, "rights: identities read", doctor.OK)
	want(t, got, "/cc API", doctor.Fail)
	want(t, got, "subscription: Identity Created", doctor.OK)
	want(t, got, "subscription: Identity Attributes Changed", doctor.Fail)

	// Without the daemon's URL, a subscription anywhere is only a warning.
	got = run(t, tenant, tenant.ClientID(), tenant.ClientSecret(), doctor.Config{API: inviter.APIPublic})
	want(t, got, "subscription: Identity Created", doctor.Warn)
}

// deliveries stands in for the daemon's database: the events the tenant
// delivered are the test events it recorded.
type deliveries struct{ tenant *isctest.Server }

func (d *deliveries) TestDeliveries(context.Context) (int64, time.Time, error) {
	return int64(len(d.tenant.Deliveries())), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), nil
}

func TestTestEventReachesTheDaemon(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{})
	defer tenant.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	targets, _ := subscription.Targets(hook.URL, false)
	c, err := isc.New(t.Context(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subscription.Upsert(t.Context(), c, "inviter", web.Auth{}, targets); err != nil {
		t.Fatal(err)
	}
	db := &deliveries{tenant: tenant}
	got := run(t, tenant, tenant.ClientID(), tenant.ClientSecret(), doctor.Config{API: inviter.APIPublic, Targets: targets, DB: db, Wait: time.Minute})
	want(t, got, "test event", doctor.OK)
	if d := got["test event"].Detail; !strings.Contains(d, "2026-01-02T03:04:05Z") {
		t.Errorf("test event: %q, want the time it arrived", d)
	}
}
