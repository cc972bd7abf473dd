package isctest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bundle is what a test needs: a started tenant and a token for it.
type bundle struct {
	srv   *Server
	clock *fakeClock
	token string
}

// setup starts a tenant with opts (Now defaults to a fake clock) and
// fetches a token.
func setup(t *testing.T, opts Options) *bundle {
	t.Helper()
	b := &bundle{}
	if opts.Now == nil {
		b.clock = newFakeClock()
		opts.Now = b.clock.Now
	}
	b.srv = NewServer(opts)
	t.Cleanup(b.srv.Close)
	b.token = b.fetchToken(t)
	return b
}

func (b *bundle) fetchToken(t *testing.T) string {
	t.Helper()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {b.srv.ClientID()},
		"client_secret": {b.srv.ClientSecret()},
	}
	resp, body := b.send(t, http.MethodPost, "/oauth/token", "", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(t, body, &tok)
	return tok.AccessToken
}

// send makes one request; headers are name, value pairs.
func (b *bundle) send(t *testing.T, method, path, token string, body io.Reader, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// get is an authenticated GET.
func (b *bundle) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	return b.send(t, http.MethodGet, path, b.token, nil)
}

// postJSON is an authenticated POST of v as JSON.
func (b *bundle) postJSON(t *testing.T, path string, v any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b.send(t, http.MethodPost, path, b.token, bytes.NewReader(data),
		append([]string{"Content-Type", "application/json"}, headers...)...)
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// errorDto checks that body is an ErrorResponseDto and returns its first text.
func errorDto(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		DetailCode string `json:"detailCode"`
		TrackingID string `json:"trackingId"`
		Messages   []struct {
			Locale, LocaleOrigin, Text string
		} `json:"messages"`
		Causes []any `json:"causes"`
	}
	mustJSON(t, body, &e)
	if e.DetailCode == "" || len(e.TrackingID) != 32 || len(e.Messages) != 1 || e.Causes == nil {
		t.Fatalf("not an ErrorResponseDto: %s", body)
	}
	if e.Messages[0].Locale != "en-US" || e.Messages[0].LocaleOrigin != "DEFAULT" {
		t.Fatalf("message locale: %s", body)
	}
	return e.Messages[0].Text
}

func urlQuery(s string) string { return url.QueryEscape(s) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
