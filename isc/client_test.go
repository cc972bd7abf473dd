package isc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/inviter/inviter"
)

// tenant is a minimal hand-written ISC for unit tests: a token endpoint and
// whatever API handler a test gives. The full fake tenant is package isctest.
type tenant struct {
	t          *testing.T
	srv        *httptest.Server
	tokenTTL   int // seconds
	tokens     atomic.Int32
	mu         sync.Mutex
	valid      map[string]bool
	api        http.HandlerFunc
	userAgents []string
}

func newTenant(t *testing.T, api http.HandlerFunc) *tenant {
	tn := &tenant{t: t, tokenTTL: 749, valid: map[string]bool{}, api: api}
	tn.srv = httptest.NewServer(http.HandlerFunc(tn.serve))
	t.Cleanup(tn.srv.Close)
	return tn
}

// newBubbleTenant is a tenant without a network, for a test inside a
// synctest bubble: its client calls the handler in memory, so that the
// bubble's fake clock moves whenever the test waits (a real connection
// would hold it still).
func newBubbleTenant(t *testing.T, api http.HandlerFunc) *tenant {
	return &tenant{t: t, tokenTTL: 749, valid: map[string]bool{}, api: api}
}

// inMemory is a RoundTripper that serves each request with h directly.
type inMemory struct{ h http.Handler }

func (m inMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func (tn *tenant) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_secret") != "s3cret" || r.PostForm.Get("client_id") != "cid" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"Bad credentials"}`)
			return
		}
		n := tn.tokens.Add(1)
		tok := fmt.Sprintf("tok-%d", n)
		tn.mu.Lock()
		tn.valid[tok] = true
		tn.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":%d}`, tok, tn.tokenTTL)
		return
	}
	tn.mu.Lock()
	ok := tn.valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	tn.userAgents = append(tn.userAgents, r.UserAgent())
	tn.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"JWT validation failed: JWT is expired"}`)
		return
	}
	tn.api(w, r)
}

// expireAll makes every issued token invalid, as a server-side expiry.
func (tn *tenant) expireAll() {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	clear(tn.valid)
}

func (tn *tenant) client(t *testing.T, mod func(*Config)) *Client {
	cfg := Config{BaseURL: "http://tenant.invalid", Transport: inMemory{http.HandlerFunc(tn.serve)},
		ClientID: "cid", ClientSecret: "s3cret", UserAgent: "inviter/test", RateLimit: -1}
	if tn.srv != nil {
		cfg.BaseURL, cfg.Transport = tn.srv.URL, nil
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func okTask(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprint(w, `{"id":"task-1","type":"QUARTZ","completionStatus":"SUCCESS","messages":[]}`)
}

func TestTokenReusedAndRefreshed(t *testing.T) {
	t.Parallel()
	t.Run("reused until near expiry", func(t *testing.T) {
		t.Parallel()
		tn := newTenant(t, okTask)
		c := tn.client(t, nil)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := tn.tokens.Load(); got != 1 {
			t.Errorf("token calls = %d, want 1 for 20 concurrent calls", got)
		}
		if tn.userAgents[0] != "inviter/test" {
			t.Errorf("User-Agent = %q", tn.userAgents[0])
		}
	})
	t.Run("refreshed before expiry", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			tn := newBubbleTenant(t, okTask)
			tn.tokenTTL = 10 // the margin is a fifth of the life: 2 s
			c := tn.client(t, nil)
			for range 2 {
				if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(7900 * time.Millisecond) // fake time: still outside the margin
			if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
				t.Fatal(err)
			}
			if got := tn.tokens.Load(); got != 1 {
				t.Errorf("token calls = %d at 7.9 s of a 10 s token, want 1", got)
			}
			time.Sleep(200 * time.Millisecond) // fake time: 8.1 s, inside the last fifth
			if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
				t.Fatal(err)
			}
			if got := tn.tokens.Load(); got != 2 {
				t.Errorf("token calls = %d at 8.1 s of a 10 s token, want 2", got)
			}
		})
	})
	t.Run("refreshed once on 401", func(t *testing.T) {
		t.Parallel()
		tn := newTenant(t, okTask)
		c := tn.client(t, nil)
		if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
			t.Fatal(err)
		}
		tn.expireAll()
		if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
			t.Fatalf("after server-side expiry: %v", err)
		}
		if got := tn.tokens.Load(); got != 2 {
			t.Errorf("token calls = %d, want 2", got)
		}
	})
	t.Run("401 twice is an AuthError", func(t *testing.T) {
		t.Parallel()
		tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"JWT validation failed: JWT is expired"}`)
		})
		c := tn.client(t, func(c *Config) { c.Retries = 3 })
		_, err := c.InviteIdentities(context.Background(), []string{"a"})
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Status != 401 || !strings.Contains(ae.Message, "JWT is expired") || !IsConfigProblem(err) || IsPermanent(err) || IsTransient(err) {
			t.Fatalf("err = %v, want an AuthError 401 naming the JWT, a configuration problem", err)
		}
		if got := tn.tokens.Load(); got != 2 {
			t.Errorf("token calls = %d, want 2 (one refresh, no loop)", got)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		t.Parallel()
		tn := newTenant(t, okTask)
		c := tn.client(t, func(c *Config) { c.ClientSecret = "wrong-value-xyz" })
		_, err := c.InviteIdentities(context.Background(), []string{"a"})
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Endpoint != "POST /oauth/token" || !IsConfigProblem(err) || !strings.Contains(err.Error(), "SAIL_CLIENT_ID") {
			t.Fatalf("err = %v, want an AuthError of the token call naming the settings", err)
		}
		if strings.Contains(err.Error(), "wrong-value-xyz") {
			t.Fatal("the error shows the secret")
		}
	})
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		retries int
		check   func(t *testing.T, err error)
		calls   int32
	}{
		{
			name: "429 with seconds", status: 429, header: map[string]string{"Retry-After": "7"},
			body: `{"message":" Rate Limit Exceeded "}`, calls: 1,
			check: func(t *testing.T, err error) {
				if d, ok := RetryAfter(err); !ok || d != 7*time.Second {
					t.Errorf("RetryAfter = %v, %v; want 7s", d, ok)
				}
			},
		},
		{
			name: "400 is permanent and not retried", status: 400, retries: 3, calls: 1,
			body: `{"detailCode":"400.1 Bad Request Content","trackingId":"abc123","messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"ids is invalid"}]}`,
			check: func(t *testing.T, err error) {
				var pe *PermanentError
				if !errors.As(err, &pe) || pe.DetailCode != "400.1 Bad Request Content" || pe.TrackingID != "abc123" || pe.Message != "ids is invalid" {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "403 is a configuration problem naming the scope", status: 403, retries: 3, calls: 1, body: `{"detailCode":"403 Forbidden","messages":[{"text":"missing scope"}]}`,
			check: func(t *testing.T, err error) {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Status != 403 || !IsConfigProblem(err) || IsPermanent(err) ||
					!strings.Contains(err.Error(), "idn:password-user-invite:manage") || !strings.Contains(err.Error(), "missing scope") {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "5xx is transient and retried", status: 503, retries: 2, calls: 3, body: `oops`,
			check: func(t *testing.T, err error) {
				var te *TransientError
				if !errors.As(err, &te) || te.Status != 503 {
					t.Errorf("err = %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) { // fake time: the retries' backoff
				var calls atomic.Int32
				tn := newBubbleTenant(t, func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					fmt.Fprint(w, tt.body)
				})
				c := tn.client(t, func(c *Config) { c.Retries = tt.retries })
				_, err := c.InviteIdentities(context.Background(), []string{"a"})
				if err == nil {
					t.Fatal("no error")
				}
				tt.check(t, err)
				if got := calls.Load(); got != tt.calls {
					t.Errorf("calls = %d, want %d", got, tt.calls)
				}
			})
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var first, second time.Time
		tn := newBubbleTenant(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				first = time.Now()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(429)
				return
			}
			second = time.Now()
			okTask(w, r)
		})
		c := tn.client(t, func(c *Config) { c.Retries = 1 })
		if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
			t.Fatal(err)
		}
		// Fake time: the gap is exactly the wait the client chose.
		if gap := second.Sub(first); gap != time.Second {
			t.Errorf("retried after %v, want the 1 s Retry-After", gap)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Sun, 29 Nov 2026 10:00:30 GMT": 30 * time.Second,
		"Sun, 29 Nov 2026 09:00:00 GMT": 0,
	} {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestConnectionResetIsTransient(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	c := tn.client(t, nil)
	_, err := c.InviteIdentities(context.Background(), []string{"a"})
	var te *TransientError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want transient", err)
	}
}

func TestClientRateLimiter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		tn := newBubbleTenant(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); okTask(w, r) })
		// 10 per second: burst 1, then 9 per second.
		c := tn.client(t, func(c *Config) { c.RateLimit = 10; c.RateWindow = time.Second })
		start := time.Now()
		for range 10 {
			if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
				t.Fatal(err)
			}
		}
		// Fake time: the first call goes at once, the nine others one ninth
		// of a second apart.
		if el := time.Since(start); el < 990*time.Millisecond || el > 1010*time.Millisecond {
			t.Errorf("10 calls at 10/s took %v, want 1 s (burst 1, then 9 per second)", el)
		}
		if n := calls.Load(); n != 10 {
			t.Errorf("%d calls reached the tenant, want 10", n)
		}
	})
}

func TestValidateNamesTheSetting(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "SAIL_BASE_URL"},
		{Config{BaseURL: "acme.api.identitynow.com", ClientID: "x", ClientSecret: "y"}, "SAIL_BASE_URL"},
		{Config{BaseURL: "https://acme.api.identitynow.com"}, "SAIL_CLIENT_ID"},
		{Config{BaseURL: "https://acme.api.identitynow.com", ClientID: "x"}, "SAIL_CLIENT_SECRET"},
	} {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", tt.cfg, err, tt.want)
		}
	}
}

func TestInviterSplitsOn400(t *testing.T) {
	t.Parallel()
	bad := map[string]bool{"id-13": true, "id-77": true}
	var mu sync.Mutex
	var sent [][]string
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet { // a token without identity read rights: lookups refused
			w.WriteHeader(http.StatusForbidden)
			return
		}
		var body struct{ IDs []string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		sent = append(sent, body.IDs)
		mu.Unlock()
		for _, id := range body.IDs {
			if bad[id] {
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"detailCode":"400.1 Bad Request Content","messages":[{"text":"identity %s not found"}]}`, id)
				return
			}
		}
		okTask(w, r)
	})
	c := tn.client(t, nil)
	inv, err := NewInviter(c, InviterConfig{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 150)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%d", i)
	}
	results := inv.Invite(context.Background(), ids)
	if len(results) != 150 {
		t.Fatalf("%d results", len(results))
	}
	invited := 0
	for _, r := range results {
		switch {
		case bad[r.IdentityID]:
			if r.Outcome != inviter.OutcomeNotFound || !strings.Contains(r.Reason, r.IdentityID) {
				t.Errorf("%s: %s %q, want not_found naming it", r.IdentityID, r.Outcome, r.Reason)
			}
		case r.Outcome == inviter.OutcomeInvited && r.TaskID == "task-1":
			invited++
		default:
			t.Errorf("%s: %s %s", r.IdentityID, r.Outcome, r.Reason)
		}
	}
	if invited != 148 {
		t.Errorf("invited %d, want 148", invited)
	}
	// 2 batches, then a binary search for 2 bad ids in a batch of 100 and
	// none in the batch of 50: far fewer calls than one per id.
	if len(sent) > 30 {
		t.Errorf("%d invite calls; splitting should need far fewer", len(sent))
	}
	if len(sent[0]) != 100 {
		t.Errorf("first batch has %d ids, want 100", len(sent[0]))
	}
}
