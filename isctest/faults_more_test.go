package isctest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noRedirects is a client that never follows redirects.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestRedirectFault(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	b.srv.SetFaults(Faults{RedirectRate: 1, RedirectStatus: 308, RedirectTo: "http://127.0.0.1:9/elsewhere",
		Endpoints: []string{"POST /oauth/token", "GET /v2025/identities"}})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.srv.ClientID()}, "client_secret": {b.srv.ClientSecret()}}
	resp, err := noRedirects.Post(b.srv.URL()+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "http://127.0.0.1:9/elsewhere" {
		t.Fatalf("token: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	req, _ := http.NewRequest("GET", b.srv.URL()+"/v2025/identities", nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err = noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 308 {
		t.Fatalf("list: %d", resp.StatusCode)
	}
	// Another endpoint is not redirected.
	r2, body := b.get(t, "/beta/identities")
	wantStatus(t, r2, body, http.StatusOK)
}

func TestBodyFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		faults    Faults
		path      string
		wantCode  int
		wantType  string
		wantValid bool
		minLen    int
	}{
		{"invite malformed json", Faults{BadBody: BadBodyJSON}, "/beta/identities/invite", 202, "application/json", false, 10},
		{"invite html", Faults{BadBody: BadBodyHTML}, "/beta/identities/invite", 202, "text/html", false, 10},
		{"read html", Faults{BadBody: BadBodyHTML}, "/v2025/identities", 200, "text/html", false, 10},
		{"invite empty", Faults{BadBody: BadBodyEmpty}, "/beta/identities/invite", 202, "", false, 0},
		{"read big", Faults{BigBody: 3 << 20}, "/v2025/identities", 200, "application/json", true, 3 << 20},
		{"error keeps body", Faults{BadBody: BadBodyHTML}, "/beta/task-status/nope", 404, "application/json", true, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Options{RateLimit: -1, Users: 20})
			id := b.srv.CreateIdentity(NewIdentity{})
			b.srv.SetFaults(tt.faults)
			var resp *http.Response
			var body []byte
			if strings.HasSuffix(tt.path, "/invite") {
				resp, body = b.postJSON(t, tt.path, map[string]any{"ids": []string{id.ID}})
				if b.srv.InviteCount(id.ID) != 1 {
					t.Fatal("the invite did not take effect")
				}
			} else {
				resp, body = b.get(t, tt.path)
			}
			if resp.StatusCode != tt.wantCode || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.wantType) {
				t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if tt.faults.BadBody == BadBodyEmpty && len(body) != 0 {
				t.Fatalf("want no body, got %d bytes", len(body))
			}
			if json.Valid(body) != tt.wantValid || len(body) < tt.minLen {
				t.Fatalf("valid %v, %d bytes: %.200s", json.Valid(body), len(body), body)
			}
		})
	}
}

func TestRetryAfterAndTooMany(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: 1, RateWindow: time.Minute})
	b.srv.SetFaults(Faults{RetryAfter: 86400})
	r1, body := b.get(t, "/v2025/identities")
	wantStatus(t, r1, body, 200)
	r2, body := b.get(t, "/v2025/identities")
	wantStatus(t, r2, body, 429)
	if r2.Header.Get("Retry-After") != "86400" {
		t.Fatalf("Retry-After %q", r2.Header.Get("Retry-After"))
	}

	c := setup(t, Options{RateLimit: -1})
	c.srv.SetFaults(Faults{TooManyRate: 1, RetryAfter: 7, Endpoints: []string{"POST /beta/identities/invite"}})
	id := c.srv.CreateIdentity(NewIdentity{})
	r3, body := c.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{id.ID}})
	wantStatus(t, r3, body, 429)
	if r3.Header.Get("Retry-After") != "7" || c.srv.RateLimited() != 1 || len(c.srv.Invites()) != 0 {
		t.Fatalf("Retry-After %q, %d limited, %d invites", r3.Header.Get("Retry-After"), c.srv.RateLimited(), len(c.srv.Invites()))
	}
	r4, body := c.get(t, "/v2025/identities")
	wantStatus(t, r4, body, 200)
}

func TestCredentialFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	b.srv.SetFaults(Faults{RefuseCredentials: true})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.srv.ClientID()}, "client_secret": {b.srv.ClientSecret()}}
	resp, body := b.send(t, "POST", "/oauth/token", "", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	wantStatus(t, resp, body, 401)
	var e struct{ Error string }
	mustJSON(t, body, &e)
	if e.Error != "invalid_client" {
		t.Fatalf("token error %s", body)
	}
	// Tokens issued before still work.
	r, body := b.get(t, "/v2025/identities")
	wantStatus(t, r, body, 200)

	b.srv.SetFaults(Faults{UnauthorizedRate: 1})
	fresh := b.fetchToken(t)
	r, body = b.send(t, "GET", "/v2025/identities", fresh, nil)
	wantStatus(t, r, body, 401)
	b.srv.SetFaults(Faults{})
	r, body = b.send(t, "GET", "/v2025/identities", fresh, nil)
	wantStatus(t, r, body, 200)
}

func TestOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	b.srv.Outage(OutageErrors, time.Minute)
	for _, path := range []string{"/v2025/identities", "/oauth/token"} {
		resp, body := b.send(t, "GET", path, b.token, nil)
		wantStatus(t, resp, body, 503)
	}
	b.clock.Advance(time.Minute)
	resp, body := b.get(t, "/v2025/identities")
	wantStatus(t, resp, body, 200)

	b.srv.Outage(OutageRefused, 0)
	client := &http.Client{Transport: &http.Transport{}}
	_, err := client.Get(b.srv.URL() + "/v2025/identities")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("during a refused outage: %v", err)
	}
	b.srv.EndOutage()
	req, _ := http.NewRequest("GET", b.srv.URL()+"/v2025/identities", nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	r, err := client.Do(req)
	if err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("after the outage: %d", r.StatusCode)
	}
}

func TestTokenEndpointFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.srv.ClientID()}, "client_secret": {b.srv.ClientSecret()}}
	token := func() (*http.Response, []byte) {
		return b.send(t, "POST", "/oauth/token", "", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	}
	// Without Endpoints naming it, the token endpoint meets no 5xx or 429.
	b.srv.SetFaults(Faults{ErrorRate: 1, TooManyRate: 1})
	resp, body := token()
	wantStatus(t, resp, body, 200)
	b.srv.SetFaults(Faults{TooManyRate: 1, RetryAfter: 30, Endpoints: []string{"POST /oauth/token"}})
	resp, body = token()
	wantStatus(t, resp, body, 429)
	if resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	b.srv.SetFaults(Faults{ErrorRate: 1, Endpoints: []string{"POST /oauth/token"}})
	resp, body = token()
	wantStatus(t, resp, body, 500)
	r, data := b.get(t, "/v2025/identities")
	wantStatus(t, r, data, 200)
}
