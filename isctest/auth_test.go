package isctest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{ClientID: "id1", ClientSecret: "s3cret", TokenTTL: 749 * time.Second})
	form := func(grant, id, secret string) string {
		return url.Values{"grant_type": {grant}, "client_id": {id}, "client_secret": {secret}}.Encode()
	}
	tests := []struct {
		name       string
		path, body string
		basic      [2]string
		wantStatus int
		wantError  string
	}{
		{name: "form", path: "/oauth/token", body: form("client_credentials", "id1", "s3cret"), wantStatus: 200},
		{name: "query", path: "/oauth/token?" + form("client_credentials", "id1", "s3cret"), wantStatus: 200},
		{name: "basic", path: "/oauth/token", body: "grant_type=client_credentials", basic: [2]string{"id1", "s3cret"}, wantStatus: 200},
		{name: "wrong secret", path: "/oauth/token", body: form("client_credentials", "id1", "nope"), wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong id", path: "/oauth/token", body: form("client_credentials", "id2", "s3cret"), wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong grant", path: "/oauth/token", body: form("password", "id1", "s3cret"), wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "no grant", path: "/oauth/token", body: form("", "id1", "s3cret"), wantStatus: 400, wantError: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL()+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic[0] != "" {
				req.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			mustJSON(t, data, &got)
			if tt.wantStatus != 200 {
				if got["error"] != tt.wantError || got["error_description"] == "" {
					t.Fatalf("error body %v, want error %q", got, tt.wantError)
				}
				if tt.wantError == "invalid_client" && got["error_description"] != "Bad credentials" {
					t.Fatalf("error_description %v", got["error_description"])
				}
				return
			}
			if got["token_type"] != "bearer" || got["expires_in"] != float64(749) || got["scope"] != "sp:scopes:all" ||
				got["access_token"] == "" || got["tenant_id"] == "" || got["jti"] == "" {
				t.Fatalf("token body %v", got)
			}
			if parts := strings.Split(got["access_token"].(string), "."); len(parts) != 3 {
				t.Fatalf("access token is not JWT-shaped: %v", got["access_token"])
			}
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{TokenTTL: 100 * time.Second})
	jwtError := func(t *testing.T, token string) string {
		t.Helper()
		resp, body := b.send(t, http.MethodGet, "/v2025/identities", token, nil)
		if resp.StatusCode == http.StatusOK {
			return ""
		}
		wantStatus(t, resp, body, http.StatusUnauthorized)
		var e struct{ Error string }
		mustJSON(t, body, &e)
		return e.Error
	}

	if got := jwtError(t, b.token); got != "" {
		t.Fatalf("fresh token refused: %s", got)
	}
	if got := jwtError(t, ""); got != "JWT validation failed: JWT is missing" {
		t.Fatalf("no token: %q", got)
	}
	if got := jwtError(t, "not-a-token"); got != "JWT validation failed: JWT is missing" {
		t.Fatalf("unknown token: %q", got)
	}
	b.clock.Advance(99 * time.Second)
	if got := jwtError(t, b.token); got != "" {
		t.Fatalf("token refused before expiry: %s", got)
	}
	b.clock.Advance(time.Second)
	if got := jwtError(t, b.token); got != "JWT validation failed: JWT is expired" {
		t.Fatalf("expired token: %q", got)
	}

	fresh := b.fetchToken(t)
	if got := jwtError(t, fresh); got != "" {
		t.Fatalf("new token refused: %s", got)
	}
	b.srv.ExpireTokens()
	if got := jwtError(t, fresh); got != "JWT validation failed: JWT is expired" {
		t.Fatalf("after ExpireTokens: %q", got)
	}
	if got := jwtError(t, b.fetchToken(t)); got != "" {
		t.Fatalf("token issued after ExpireTokens refused: %s", got)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: 3, RateWindow: 10 * time.Second})
	call := func(path string) (int, string) {
		resp, body := b.get(t, path)
		if resp.StatusCode == http.StatusTooManyRequests {
			if string(body) != "{\"message\":\" Rate Limit Exceeded \"}\n" {
				t.Fatalf("429 body %q", body)
			}
		}
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}

	for i := range 3 {
		if code, _ := call("/beta/identities"); code != 200 {
			t.Fatalf("call %d: %d", i, code)
		}
		b.clock.Advance(time.Second)
	}
	// Window holds calls at t=0,1,2; now t=3: the oldest frees at t=10.
	if code, ra := call("/beta/identities"); code != 429 || ra != "7" {
		t.Fatalf("4th call: %d Retry-After %q, want 429 7", code, ra)
	}
	// Another API version has its own window; token calls are not limited.
	if code, _ := call("/v2025/identities"); code != 200 {
		t.Fatalf("v2025 call: %d", code)
	}
	for range 5 {
		b.fetchToken(t)
	}
	b.clock.Advance(6500 * time.Millisecond) // t=9.5: 0.5 s left, rounded up to 1
	if code, ra := call("/beta/identities"); code != 429 || ra != "1" {
		t.Fatalf("at 9.5s: %d Retry-After %q, want 429 1", code, ra)
	}
	b.clock.Advance(500 * time.Millisecond)
	if code, _ := call("/beta/identities"); code != 200 {
		t.Fatalf("after the window slid: %d", code)
	}
	if got := b.srv.RateLimited(); got != 2 {
		t.Fatalf("RateLimited() = %d, want 2", got)
	}

	b.srv.SetRateLimit(-1, 0)
	for i := range 10 {
		if code, _ := call("/beta/identities"); code != 200 {
			t.Fatalf("unlimited call %d: %d", i, code)
		}
	}
}
