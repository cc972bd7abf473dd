package subscription_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/web"
)

func TestTargets(t *testing.T) {
	t.Parallel()
	created := func(u string) subscription.Target {
		return subscription.Target{Trigger: isc.TriggerIdentityCreated, URL: u}
	}
	changed := func(u string) subscription.Target {
		return subscription.Target{Trigger: isc.TriggerIdentityAttributesChanged, URL: u}
	}
	for _, tt := range []struct {
		url     string
		changes bool
		want    []subscription.Target
	}{
		{"https://h.example.com", false, []subscription.Target{created("https://h.example.com/hooks/identity-created")}},
		{"https://h.example.com/hooks/identity-created", false, []subscription.Target{created("https://h.example.com/hooks/identity-created")}},
		{"https://h.example.com/inviter/", true, []subscription.Target{
			created("https://h.example.com/inviter/hooks/identity-created"),
			changed("https://h.example.com/inviter/hooks/identity-attributes-changed"),
		}},
		{"http://127.0.0.1:8080/hooks/identity-attributes-changed", true, []subscription.Target{
			created("http://127.0.0.1:8080/hooks/identity-created"),
			changed("http://127.0.0.1:8080/hooks/identity-attributes-changed"),
		}},
	} {
		got, err := subscription.Targets(tt.url, tt.changes)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Targets(%q, %t) = %v, %v; want %v", tt.url, tt.changes, got, err, tt.want)
		}
	}
	for _, bad := range []string{"h.example.com", "ftp://h.example.com", "https://", "://x"} {
		if _, err := subscription.Targets(bad, false); err == nil {
			t.Errorf("Targets(%q): no error", bad)
		}
	}
	if _, err := subscription.Targets("https://u:secret@h.example.com", false); !errors.Is(err, subscription.ErrURLUser) {
		t.Errorf("a URL with a password: %v, want ErrURLUser", err)
	}
}

func TestSameURLAndPlainHTTP(t *testing.T) {
	t.Parallel()
	if !subscription.SameURL("https://H.example.com/hooks/x/", "https://h.example.com/hooks/x") {
		t.Error("case of the host and a trailing slash count")
	}
	if subscription.SameURL("https://h.example.com/hooks/x", "https://h.example.com/Hooks/x") {
		t.Error("the case of the path does not count")
	}
	for u, warn := range map[string]bool{
		"http://inviter.example.com/hooks/identity-created":  true,
		"http://127.0.0.1:8080/hooks/identity-created":       false,
		"http://localhost/hooks/identity-created":            false,
		"https://inviter.example.com/hooks/identity-created": false,
	} {
		if got := subscription.PlainHTTPWarning(u) != ""; got != warn {
			t.Errorf("PlainHTTPWarning(%q) warns: %t, want %t", u, got, warn)
		}
	}
}

// setup returns a fake tenant and a client of it.
func setup(t *testing.T) (*isctest.Server, *isc.Client) {
	t.Helper()
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	c, err := isc.New(t.Context(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return tenant, c
}

func TestUpsertListTestRemove(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tenant, c := setup(t)
	auth := web.Auth{BearerToken: " 0123456789abcdef0123456789abcdef\n"}
	targets, err := subscription.Targets("https://inviter.example.com", true)
	if err != nil {
		t.Fatal(err)
	}

	res, err := subscription.Upsert(ctx, c, "inviter", auth, targets)
	if err != nil || len(res.Changes) != 2 || res.Changes[0].Action != subscription.Created || res.Changes[1].Action != subscription.Created {
		t.Fatalf("first Upsert: %+v, %v; want two created", res, err)
	}
	// A copy sending the same trigger to the same URL is a duplicate;
	// another URL is elsewhere.
	dup := subscription.Subscription("copy", auth, subscription.Target{Trigger: isc.TriggerIdentityCreated, URL: "https://INVITER.example.com/hooks/identity-created/"})
	other := subscription.Subscription("old", auth, subscription.Target{Trigger: isc.TriggerIdentityCreated, URL: "https://old.example.com/hooks/identity-created"})
	for _, s := range []isc.Subscription{dup, other} {
		if _, err := c.CreateSubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	res, err = subscription.Upsert(ctx, c, "inviter", auth, targets)
	if err != nil {
		t.Fatal(err)
	}
	var actions []subscription.Action
	for _, ch := range res.Changes {
		actions = append(actions, ch.Action)
	}
	if want := []subscription.Action{subscription.Updated, subscription.RemovedDuplicate, subscription.Updated}; !slices.Equal(actions, want) {
		t.Errorf("second Upsert: %v, want %v", actions, want)
	}
	if len(res.Elsewhere) != 1 || res.Elsewhere[0].HTTPConfig.URL != other.HTTPConfig.URL {
		t.Errorf("elsewhere: %+v, want the subscription to %s", res.Elsewhere, other.HTTPConfig.URL)
	}

	recs, err := subscription.List(ctx, c)
	if err != nil || len(recs) != 3 {
		t.Fatalf("List: %+v, %v; want 3", recs, err)
	}
	for _, r := range recs {
		if r.Auth != "BEARER_TOKEN" || r.Dispatch != "SYNC" || !r.Enabled {
			t.Errorf("record %+v: want enabled, SYNC, BEARER_TOKEN", r)
		}
	}
	for _, s := range tenant.Subscriptions() {
		if hc := s.HTTPConfig; hc.BearerTokenAuthConfig == nil || *hc.BearerTokenAuthConfig.BearerToken != "0123456789abcdef0123456789abcdef" {
			t.Errorf("subscription %s: the token is not sent trimmed", s.ID)
		}
	}

	sent, err := subscription.Test(ctx, c, subscription.Triggers(true))
	if err != nil || !slices.Equal(sent, []string{isc.TriggerIdentityCreated, isc.TriggerIdentityAttributesChanged}) {
		t.Errorf("Test: %v, %v", sent, err)
	}

	// One target stands for both triggers of its URL.
	created, _ := subscription.Targets("https://inviter.example.com", false)
	removed, err := subscription.Remove(ctx, c, created)
	if err != nil || len(removed) != 2 {
		t.Errorf("Remove: %+v, %v; want both triggers' subscriptions", removed, err)
	}
	if subs := tenant.Subscriptions(); len(subs) != 1 || subs[0].HTTPConfig.URL != other.HTTPConfig.URL {
		t.Errorf("after Remove: %+v, want only the one to %s", subs, other.HTTPConfig.URL)
	}
}

func TestUpsertReportsWhatItDidBeforeAnError(t *testing.T) {
	t.Parallel()
	tenant, c := setup(t)
	targets, _ := subscription.Targets("https://inviter.example.com", true)
	tenant.SetFaults(isctest.Faults{ErrorRate: 1, Endpoints: []string{"PUT /beta/trigger-subscriptions/{id}"}})
	if _, err := subscription.Upsert(context.Background(), c, "inviter", web.Auth{}, targets[:1]); err != nil {
		t.Fatal(err)
	}
	// Identity Attributes Changed is created, then updating Identity
	// Created fails.
	res, err := subscription.Upsert(context.Background(), c, "inviter", web.Auth{}, []subscription.Target{targets[1], targets[0]})
	if err == nil || len(res.Changes) != 1 || res.Changes[0].Action != subscription.Created || res.Changes[0].Trigger != isc.TriggerIdentityAttributesChanged {
		t.Errorf("update refused: %+v, %v; want an error after creating Identity Attributes Changed", res, err)
	}
	if len(tenant.Subscriptions()) != 2 {
		t.Errorf("%d subscriptions, want 2", len(tenant.Subscriptions()))
	}
}
