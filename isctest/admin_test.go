package isctest

import (
	"net/http"
	"strings"
	"testing"
)

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	post := func(path, body string) (*http.Response, []byte) {
		return b.send(t, http.MethodPost, path, "", strings.NewReader(body), "Content-Type", "application/json")
	}
	tests := []struct {
		name, path, body string
		want             int
		wantNew          int
	}{
		{"count in query", "/isctest/identities?count=3", "", 201, 3},
		{"count in body", "/isctest/identities", `{"count":2,"name":"Wave"}`, 201, 2},
		{"list", "/isctest/identities", `[{"name":"Ann Lee","status":"LOCKED"},{"count":2,"email":"same@example.com"}]`, 201, 3},
		{"bad status", "/isctest/identities", `{"status":"NOPE"}`, 400, 0},
		{"no count", "/isctest/identities", "", 400, 0},
		{"malformed", "/isctest/identities", `{"count":`, 400, 0},
	}
	for _, tt := range tests {
		before := len(b.srv.Identities())
		resp, body := post(tt.path, tt.body)
		wantStatus(t, resp, body, tt.want)
		if got := len(b.srv.Identities()) - before; got != tt.wantNew {
			t.Fatalf("%s: %d created, want %d", tt.name, got, tt.wantNew)
		}
		if tt.want == 201 {
			var out []createdJSON
			mustJSON(t, body, &out)
			if len(out) != tt.wantNew || len(out[0].ID) != 32 {
				t.Fatalf("%s: answer %s", tt.name, body)
			}
		}
	}
	all := b.srv.Identities()
	if all[3].Name != "Wave 1" || all[4].Name != "Wave 2" || all[5].Status != "LOCKED" ||
		all[6].Email != "same@example.com" || all[7].Email != "same@example.com" {
		t.Fatalf("identities %+v", all[3:])
	}
	// Admin calls are not API calls.
	if n := b.srv.CallCount(""); n != 1 {
		t.Fatalf("%d calls counted, want 1 (the token)", n)
	}

	resp, body := b.send(t, http.MethodPut, "/isctest/faults", "", strings.NewReader(`{"ErrorRate":1}`))
	wantStatus(t, resp, body, 204)
	resp, body = b.get(t, "/v2025/identities")
	wantStatus(t, resp, body, 500)
	resp, body = b.send(t, http.MethodPut, "/isctest/faults", "", strings.NewReader(`{}`))
	wantStatus(t, resp, body, 204)

	resp, body = post("/isctest/outage", `{"mode":"errors"}`)
	wantStatus(t, resp, body, 204)
	resp, body = b.get(t, "/v2025/identities")
	wantStatus(t, resp, body, 503)
	resp, body = b.send(t, http.MethodDelete, "/isctest/outage", "", nil)
	wantStatus(t, resp, body, 204)
	resp, body = b.get(t, "/v2025/identities")
	wantStatus(t, resp, body, 200)
	resp, body = post("/isctest/outage", `{"mode":"sideways"}`)
	wantStatus(t, resp, body, 400)

	resp, body = b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{all[0].ID}})
	wantStatus(t, resp, body, 202)
	resp, body = b.send(t, http.MethodGet, "/isctest/invites", "", nil)
	wantStatus(t, resp, body, 200)
	var inv []Invite
	mustJSON(t, body, &inv)
	if len(inv) != 1 || inv[0].IdentityID != all[0].ID {
		t.Fatalf("invites %s", body)
	}
}

func TestSubscriptionCreated(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	select {
	case <-b.srv.SubscriptionCreated():
		t.Fatal("closed before any subscription")
	default:
	}
	resp, body := b.postJSON(t, "/beta/trigger-subscriptions", map[string]any{
		"name": "n", "type": "HTTP", "triggerId": "idn:identity-created",
		"httpConfig": map[string]any{"url": "http://127.0.0.1:1/hook", "httpDispatchMode": "SYNC"},
	})
	wantStatus(t, resp, body, 201)
	<-b.srv.SubscriptionCreated() // closed now; a second one must not panic
	resp, body = b.postJSON(t, "/beta/trigger-subscriptions", map[string]any{
		"name": "m", "type": "HTTP", "triggerId": "idn:identity-created",
		"httpConfig": map[string]any{"url": "http://127.0.0.1:1/hook2", "httpDispatchMode": "SYNC"},
	})
	wantStatus(t, resp, body, 201)
}
