package isctest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receiver is an httptest subscriber that records what it got.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	code int
}

type received struct {
	auth string
	body []byte
}

func newReceiver(t *testing.T, code int) *receiver {
	rc := &receiver{code: code}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{auth: r.Header.Get("Authorization"), body: body})
		rc.mu.Unlock()
		w.WriteHeader(rc.code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func subscribe(t *testing.T, b *bundle, body map[string]any) Subscription {
	t.Helper()
	resp, data := b.postJSON(t, "/beta/trigger-subscriptions", body)
	wantStatus(t, resp, data, http.StatusCreated)
	var sub Subscription
	mustJSON(t, data, &sub)
	return sub
}

func TestEventDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{VisibilityDelay: time.Minute})
	bearerRcv := newReceiver(t, http.StatusOK)
	basicRcv := newReceiver(t, http.StatusInternalServerError) // fire and forget: no retry

	bearer := subscribe(t, b, map[string]any{
		"name": "inviter", "triggerId": "idn:identity-created", "type": "HTTP", "enabled": true,
		"httpConfig": map[string]any{"url": bearerRcv.URL + "/hooks/identity-created", "httpDispatchMode": "SYNC",
			"httpAuthenticationType": "BEARER_TOKEN", "bearerTokenAuthConfig": map[string]any{"bearerToken": "tok-123"}},
	})
	if bearer.ID == "" || bearer.TriggerName != "Identity Created" || !bearer.Enabled ||
		bearer.HTTPConfig.BearerTokenAuthConfig == nil || bearer.HTTPConfig.BearerTokenAuthConfig.BearerToken != nil {
		t.Fatalf("created subscription %+v (secret must be redacted)", bearer)
	}
	basic := subscribe(t, b, map[string]any{
		"name": "inviter basic", "triggerId": "idn:identity-created", "type": "HTTP",
		"filter": `$[?($.attributes.department == "Sales")]`,
		"httpConfig": map[string]any{"url": basicRcv.URL, "httpDispatchMode": "SYNC",
			"httpAuthenticationType": "BASIC_AUTH", "basicAuthConfig": map[string]any{"userName": "isc", "password": "pw"}},
	})
	// Disabled subscriptions get no real events.
	subscribe(t, b, map[string]any{
		"name": "off", "triggerId": "idn:identity-created", "type": "HTTP", "enabled": false,
		"httpConfig": map[string]any{"url": basicRcv.URL, "httpDispatchMode": "SYNC"},
	})

	subs := b.srv.Subscriptions()
	if len(subs) != 3 || *subs[0].HTTPConfig.BearerTokenAuthConfig.BearerToken != "tok-123" || *subs[1].HTTPConfig.BasicAuthConfig.Password != "pw" {
		t.Fatalf("Subscriptions() %+v", subs)
	}

	sales := b.srv.CreateIdentity(NewIdentity{Name: "Sam Sales", Department: "Sales"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.srv.WaitDeliveries(ctx, 2); err != nil {
		t.Fatal(err)
	}
	eng := b.srv.CreateIdentity(NewIdentity{Name: "Erin Eng", Department: "Engineering"})
	if err := b.srv.WaitDeliveries(ctx, 3); err != nil {
		t.Fatal(err)
	}

	// The event arrives before the identity is visible.
	resp, body := b.get(t, "/v2025/identities/"+sales.ID)
	wantStatus(t, resp, body, http.StatusNotFound)

	gotBearer := bearerRcv.received()
	if len(gotBearer) != 2 || gotBearer[0].auth != "Bearer tok-123" {
		t.Fatalf("bearer receiver got %+v", gotBearer)
	}
	var ev struct {
		Identity   struct{ Type, ID, Name string } `json:"identity"`
		Attributes map[string]any                  `json:"attributes"`
	}
	mustJSON(t, gotBearer[0].body, &ev)
	if ev.Identity.Type != "IDENTITY" || ev.Identity.ID != sales.ID || ev.Identity.Name != "Sam Sales" ||
		ev.Attributes["department"] != "Sales" || ev.Attributes["email"] != sales.Email {
		t.Fatalf("event %s", gotBearer[0].body)
	}
	gotBasic := basicRcv.received()
	if len(gotBasic) != 1 || !bytes.Contains(gotBasic[0].body, []byte(sales.ID)) {
		t.Fatalf("basic receiver got %d events (filter lets only Sales through)", len(gotBasic))
	}
	authReq := &http.Request{Header: http.Header{"Authorization": {gotBasic[0].auth}}}
	if u, p, ok := authReq.BasicAuth(); !ok || u != "isc" || p != "pw" {
		t.Fatalf("basic auth %q", gotBasic[0].auth)
	}

	var toBasic, toBearer int
	for _, d := range b.srv.Deliveries() {
		switch d.SubscriptionID {
		case basic.ID:
			toBasic++
			if d.Status != 500 || d.Err != nil {
				t.Errorf("basic delivery %+v", d)
			}
		case bearer.ID:
			toBearer++
			if d.Status != 200 || d.Err != nil || (d.IdentityID != sales.ID && d.IdentityID != eng.ID) {
				t.Errorf("bearer delivery %+v", d)
			}
		}
	}
	if toBasic != 1 || toBearer != 2 {
		t.Fatalf("deliveries: %d basic, %d bearer", toBasic, toBearer)
	}

	// A test invocation reaches every subscriber, even the disabled one;
	// without input, it carries the trigger's sample payload.
	resp, body = b.postJSON(t, "/beta/trigger-invocations/test", map[string]any{
		"triggerId": "idn:identity-created", "contentJson": map[string]any{},
	})
	wantStatus(t, resp, body, http.StatusOK)
	var invocations []map[string]any
	mustJSON(t, body, &invocations)
	if len(invocations) != 3 {
		t.Fatalf("invocations %s", body)
	}
	if err := b.srv.WaitDeliveries(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if got := bearerRcv.received(); !bytes.Contains(got[2].body, []byte("Michael Michaels")) {
		t.Fatalf("test payload %s", got[2].body)
	}

	// Delete, then nothing more is delivered to it.
	req, _ := http.NewRequest(http.MethodDelete, b.srv.URL()+"/beta/trigger-subscriptions/"+bearer.ID, nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	delResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	delResp.Body.Close()
	if delResp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", delResp.StatusCode)
	}
	resp, body = b.get(t, "/beta/trigger-subscriptions/"+bearer.ID)
	wantStatus(t, resp, body, http.StatusNotFound)
	b.srv.CreateIdentity(NewIdentity{Department: "Sales"})
	if err := b.srv.WaitDeliveries(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if n := len(bearerRcv.received()); n != 3 {
		t.Fatalf("deleted subscription got %d events, want 3", n)
	}
}

func TestSubscriptionAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	rcv := newReceiver(t, http.StatusOK)

	resp, body := b.postJSON(t, "/beta/trigger-invocations/test", map[string]any{"triggerId": "idn:identity-created", "contentJson": map[string]any{}})
	wantStatus(t, resp, body, http.StatusNoContent)

	bad := []map[string]any{
		{"triggerId": "idn:identity-created", "type": "HTTP", "httpConfig": map[string]any{"url": rcv.URL, "httpDispatchMode": "SYNC"}},
		{"name": "x", "triggerId": "idn:nope", "type": "HTTP", "httpConfig": map[string]any{"url": rcv.URL, "httpDispatchMode": "SYNC"}},
		{"name": "x", "triggerId": "idn:identity-created", "type": "HTTP"},
		{"name": "x", "triggerId": "idn:identity-created", "type": "HTTP", "httpConfig": map[string]any{"url": "not a url", "httpDispatchMode": "SYNC"}},
		{"name": "x", "triggerId": "idn:identity-created", "type": "HTTP", "httpConfig": map[string]any{"url": rcv.URL, "httpDispatchMode": "SYNC", "httpAuthenticationType": "BEARER_TOKEN"}},
		{"name": "x", "triggerId": "idn:identity-created", "type": "HTTP", "httpConfig": map[string]any{"url": rcv.URL}},
	}
	for i, in := range bad {
		resp, body := b.postJSON(t, "/beta/trigger-subscriptions", in)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad subscription %d: %d %s", i, resp.StatusCode, body)
		}
	}

	sub := subscribe(t, b, map[string]any{
		"name": "a", "triggerId": "idn:identity-created", "type": "HTTP",
		"httpConfig": map[string]any{"url": rcv.URL, "httpDispatchMode": "SYNC"},
	})
	if sub.HTTPConfig.HTTPAuthenticationType != "NO_AUTH" || sub.ResponseDeadline != "PT1H" {
		t.Fatalf("defaults %+v", sub)
	}

	patch, _ := json.Marshal([]map[string]any{
		{"op": "replace", "path": "/name", "value": "b"},
		{"op": "replace", "path": "/enabled", "value": false},
		{"op": "replace", "path": "/httpConfig/httpAuthenticationType", "value": "BEARER_TOKEN"},
		{"op": "add", "path": "/httpConfig/bearerTokenAuthConfig", "value": map[string]any{"bearerToken": "new"}},
	})
	resp, body = b.send(t, http.MethodPatch, "/beta/trigger-subscriptions/"+sub.ID, b.token, bytes.NewReader(patch),
		"Content-Type", "application/json-patch+json")
	wantStatus(t, resp, body, http.StatusOK)
	var patched Subscription
	mustJSON(t, body, &patched)
	if patched.Name != "b" || patched.Enabled || patched.HTTPConfig.HTTPAuthenticationType != "BEARER_TOKEN" ||
		patched.HTTPConfig.BearerTokenAuthConfig.BearerToken != nil {
		t.Fatalf("patched %s", body)
	}
	if got := b.srv.Subscriptions()[0]; *got.HTTPConfig.BearerTokenAuthConfig.BearerToken != "new" {
		t.Fatalf("stored %+v", got)
	}
	immutable, _ := json.Marshal([]map[string]any{{"op": "replace", "path": "/triggerId", "value": "idn:identity-deleted"}})
	resp, body = b.send(t, http.MethodPatch, "/beta/trigger-subscriptions/"+sub.ID, b.token, bytes.NewReader(immutable))
	wantStatus(t, resp, body, http.StatusBadRequest)

	resp, body = b.get(t, "/beta/trigger-subscriptions?count=true&filters="+urlQuery(`triggerId eq "idn:identity-created"`))
	wantStatus(t, resp, body, http.StatusOK)
	var list []Subscription
	mustJSON(t, body, &list)
	if len(list) != 1 || list[0].ID != sub.ID || resp.Header.Get("X-Total-Count") != "1" {
		t.Fatalf("list %s", body)
	}
}

func TestJSONPathFilter(t *testing.T) {
	t.Parallel()
	body := []byte(`{"identity":{"type":"IDENTITY","id":"abc","name":"Jo"},"attributes":{"department":"Sales","level":3,"manager":null,"cloud state":"x"}}`)
	tests := []struct {
		filter string
		want   bool
	}{
		{``, true},
		{`$[?($.attributes.department == "Sales")]`, true},
		{`$[?($.attributes.department == 'Engineering')]`, false},
		{`$[?(@.attributes.department != "Engineering" && $.identity.id == "abc")]`, true},
		{`$[?($.attributes.department == "HR" || $.attributes.level >= 3)]`, true},
		{`$[?($.attributes.level < 3)]`, false},
		{`$[?($.attributes.missing == "x")]`, false},
		{`$[?($.attributes.department)]`, true},
		{`$[?($.attributes.manager)]`, false},
		{`$[?($.attributes['cloud state'] == "x")]`, true},
		{`$[?($.attributes.department =~ /S.*/)]`, true}, // beyond the subset: delivered
	}
	for _, tt := range tests {
		if got := filterMatches(tt.filter, body, discardLogger()); got != tt.want {
			t.Errorf("filterMatches(%q) = %v, want %v", tt.filter, got, tt.want)
		}
	}
	if _, err := parseJSONPathFilter(`attributes.department`); err == nil || err == errFilterUnsupported {
		t.Errorf("a filter not starting with $ is accepted: %v", err)
	}
}
