package main

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inviter/inviter/isctest"
)

// subscribeEnv is tenantEnv with a webhook token.
func subscribeEnv(tenant *isctest.Server) map[string]string {
	env := tenantEnv(tenant)
	env["INVITER_WEBHOOK_TOKEN"] = "0123456789abcdef0123456789abcdef"
	return env
}

func TestSubscribeCreatesUpdatesListsTestsRemoves(t *testing.T) {
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{})
	defer tenant.Close()
	got := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path + " " + r.Header.Get("Authorization")
	}))
	defer hook.Close()
	env := subscribeEnv(tenant)
	url := hook.URL + "/hooks/identity-created"

	r := runInviter(t, ctx, env, "subscribe", "--url", url)
	if r.err != nil || !strings.Contains(r.stdout, "created subscription") {
		t.Fatalf("first subscribe: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	env2 := maps.Clone(env)
	env2["INVITER_WEBHOOK_TOKEN"] = "fedcba9876543210fedcba9876543210"
	r = runInviter(t, ctx, env2, "subscribe", "--url", url+"/")
	if r.err != nil || !strings.Contains(r.stdout, "updated subscription") {
		t.Fatalf("second subscribe: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	subs := tenant.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("after subscribing twice: %d subscriptions, want 1: %+v", len(subs), subs)
	}
	if hc := subs[0].HTTPConfig; hc == nil || hc.URL != url || hc.HTTPAuthenticationType != "BEARER_TOKEN" ||
		*hc.BearerTokenAuthConfig.BearerToken != env2["INVITER_WEBHOOK_TOKEN"] || !subs[0].Enabled {
		t.Fatalf("subscription %+v: want enabled, %s, the second token", subs[0], url)
	}

	// Another URL for the same trigger is a second subscription, named
	// with a warning: ISC sends every event to both.
	other := hook.URL + "/other/identity-created"
	r = runInviter(t, ctx, env2, "subscribe", "--url", other)
	if r.err != nil || !strings.Contains(r.stdout, "warning: subscription "+subs[0].ID) || !strings.Contains(r.stdout, "--remove --url "+url) {
		t.Fatalf("subscribe to another URL: %v\n%s%s; want a warning naming %s and how to remove it", r.err, r.stdout, r.stderr, subs[0].ID)
	}
	if r := runInviter(t, ctx, env2, "subscribe", "--remove", "--url", other); r.err != nil {
		t.Fatalf("remove the other URL: %v\n%s", r.err, r.stderr)
	}

	// A policy with rules adds Identity Attributes Changed next to it.
	r = runInviter(t, ctx, env2, "subscribe", "--url", hook.URL, "--policy", "department != Contractors")
	if r.err != nil {
		t.Fatalf("subscribe with a policy: %v\n%s", r.err, r.stderr)
	}
	if subs := tenant.Subscriptions(); len(subs) != 2 || subs[1].HTTPConfig.URL != hook.URL+"/hooks/identity-attributes-changed" {
		t.Fatalf("with a policy: %+v, want Identity Created and Identity Attributes Changed", subs)
	}

	r = runInviter(t, ctx, env, "subscribe", "--list")
	if r.err != nil || strings.Count(r.stdout, hook.URL) != 2 || !strings.Contains(r.stdout, "Identity Attributes Changed") {
		t.Fatalf("--list: %v\n%s", r.err, r.stdout)
	}

	r = runInviter(t, ctx, env, "subscribe", "--test")
	if r.err != nil {
		t.Fatalf("--test: %v\n%s", r.err, r.stderr)
	}
	if err := tenant.WaitDeliveries(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if d := <-got; d != "/hooks/identity-created Bearer "+env2["INVITER_WEBHOOK_TOKEN"] {
		t.Fatalf("test delivery arrived as %q", d)
	}

	r = runInviter(t, ctx, env, "subscribe", "--remove", "--url", url)
	if r.err != nil || strings.Count(r.stdout, "removed subscription") != 2 {
		t.Fatalf("--remove: %v\n%s", r.err, r.stdout)
	}
	if subs := tenant.Subscriptions(); len(subs) != 0 {
		t.Fatalf("after --remove: %+v", subs)
	}
}

func TestSubscribeBadSettingsExit2(t *testing.T) {
	ctx := testContext(t)
	tenant := isctest.NewServer(isctest.Options{})
	defer tenant.Close()
	for _, args := range [][]string{
		{"subscribe"},
		{"subscribe", "--url", "inviter.example.com"},
		{"subscribe", "--list", "--test"},
		{"subscribe", "--remove"},
	} {
		r := runInviter(t, ctx, subscribeEnv(tenant), args...)
		if exitCode(r.err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, exitCode(r.err), r.err)
		}
	}
	// Without webhook authentication nothing is created.
	r := runInviter(t, ctx, tenantEnv(tenant), "subscribe", "--url", "https://inviter.example.com")
	if exitCode(r.err) != 2 || len(tenant.Subscriptions()) != 0 {
		t.Errorf("no webhook auth: exit %d (%v), %d subscriptions", exitCode(r.err), r.err, len(tenant.Subscriptions()))
	}
}
