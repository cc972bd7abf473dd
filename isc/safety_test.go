package isc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/inviter/inviter"
)

// recorder is a server that must never be reached: it counts what arrives,
// and whether any of it carried a secret.
type recorder struct {
	srv      *httptest.Server
	requests atomic.Int32
	secrets  atomic.Int32 // requests that held the client secret in the body
	auth     atomic.Int32 // requests with an Authorization header
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("s3cret")) || strings.Contains(r.URL.RawQuery, "s3cret") {
			rec.secrets.Add(1)
		}
		if r.Header.Get("Authorization") != "" {
			rec.auth.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"stolen","token_type":"bearer","expires_in":749}`)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func TestRedirectOnTokenNeverRepostsTheSecret(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t)
	for _, status := range []int{307, 308, 302} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, rec.srv.URL+"/oauth/token", status)
		}))
		t.Cleanup(srv.Close)
		c, err := New(context.Background(), Config{BaseURL: srv.URL, ClientID: "cid", ClientSecret: "s3cret", RateLimit: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.InviteIdentities(context.Background(), []string{"a"})
		var re *RedirectError
		if !errors.As(err, &re) || re.Status != status || re.Endpoint != "POST /oauth/token" ||
			!strings.Contains(err.Error(), rec.srv.URL) || !IsConfigProblem(err) || IsTransient(err) || IsPermanent(err) {
			t.Fatalf("%d: err = %v, want a RedirectError of the token call naming the Location", status, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatal("the error shows the secret")
		}
	}
	if n, s := rec.requests.Load(), rec.secrets.Load(); n != 0 || s != 0 {
		t.Errorf("the redirect target received %d requests, %d with the secret; want 0", n, s)
	}
}

func TestRedirectOnInviteNeverForwardsTheToken(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t) // same host, another port
	var invites atomic.Int32
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		invites.Add(1)
		http.Redirect(w, r, rec.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	c := tn.client(t, func(c *Config) { c.Retries = 3 })
	_, err := c.InviteIdentities(context.Background(), []string{"a"})
	var re *RedirectError
	if !errors.As(err, &re) || re.Status != 307 || !strings.HasPrefix(re.Location, rec.srv.URL) || !IsConfigProblem(err) {
		t.Fatalf("err = %v, want a RedirectError naming the Location", err)
	}
	if n, a := rec.requests.Load(), rec.auth.Load(); n != 0 || a != 0 {
		t.Errorf("the redirect target received %d requests, %d with an Authorization header; want 0", n, a)
	}
	if n := invites.Load(); n != 1 {
		t.Errorf("%d invite calls, want 1 (a redirect is not retried)", n)
	}
}

func TestTokenEndpointRefusalIsAnAuthError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"Bad client credentials"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(context.Background(), Config{BaseURL: srv.URL, ClientID: "cid", ClientSecret: "s3cret", RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetIdentity(context.Background(), "x")
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "invalid_client") || !IsConfigProblem(err) {
		t.Fatalf("err = %v, want an AuthError naming invalid_client", err)
	}
}

func TestRetryAfterIsCappedAndNotWaitedOut(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	for _, tt := range []struct {
		max, want time.Duration
	}{{0, 10 * time.Minute}, {90 * time.Second, 90 * time.Second}} {
		c := tn.client(t, func(c *Config) { c.Retries = 3; c.MaxRetryAfter = tt.max })
		calls.Store(0)
		start := time.Now()
		_, err := c.InviteIdentities(context.Background(), []string{"a"})
		var rl *RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != tt.want || rl.Requested != 24*time.Hour {
			t.Fatalf("MaxRetryAfter %v: err = %#v, want RetryAfter %v and Requested 24h", tt.max, err, tt.want)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%d calls, want 1: a long Retry-After is returned at once, not waited out in the call", n)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("the call took %v", el)
		}
	}
}

// TestHugeAnswerIsRefusedWithSmallMemory sends a 50 MB answer to a read,
// streamed (no declared length) and with a Content-Length: the client reads
// at most MaxAnswerBytes of the first, none of the second, and says so.
func TestHugeAnswerIsRefusedWithSmallMemory(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	const size = 50 << 20
	for _, tt := range []struct {
		name     string
		declared bool
		maxAlloc uint64
	}{{"streamed", false, 24 << 20}, {"declared", true, 2 << 20}} {
		tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if tt.declared {
				w.Header().Set("Content-Length", strconv.Itoa(size))
			}
			chunk := bytes.Repeat([]byte(`{"id":"x"},`), 1<<12)
			for written := 0; written < size; {
				n, err := w.Write(chunk[:min(len(chunk), size-written)])
				written += n
				if err != nil {
					return
				}
			}
		})
		c := tn.client(t, nil)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := c.ListIdentities(context.Background(), ListOptions{})
		runtime.ReadMemStats(&after)
		var te *TransientError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "longer than") {
			t.Fatalf("%s: err = %v, want a transient error about the answer's length", tt.name, err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: allocated %.1f MiB for a %d MiB answer", tt.name, float64(alloc)/(1<<20), size>>20)
		if !raceEnabled && alloc > tt.maxAlloc {
			t.Errorf("%s: reading the answer allocated %.1f MiB, want at most %d MiB", tt.name, float64(alloc)/(1<<20), tt.maxAlloc>>20)
		}
	}
}

func TestNonJSONReadIsTransientAndRetried(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]struct {
		ct, body string
	}{
		"html":        {"text/html; charset=utf-8", "<html><body>Service maintenance</body></html>"},
		"not json":    {"application/json", "Service maintenance"},
		"empty":       {"application/json", ""},
		"wrong shape": {"application/json", `{"id":"task-1"}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) { // fake time: the retry's backoff
				var calls atomic.Int32
				tn := newBubbleTenant(t, func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					w.Header().Set("Content-Type", answer.ct)
					fmt.Fprint(w, answer.body)
				})
				c := tn.client(t, func(c *Config) { c.Retries = 1 })
				_, _, err := c.ListIdentities(context.Background(), ListOptions{})
				var te *TransientError
				if !errors.As(err, &te) || te.Status != 200 {
					t.Fatalf("err = %v, want a transient error", err)
				}
				if n := calls.Load(); n != 2 {
					t.Errorf("%d calls, want 2 (retried once)", n)
				}
			})
		})
	}
}

func TestAnyInvite2xxIsAccepted(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		status int
		ct     string
		body   string
		taskID string
	}{
		{"malformed 202", 202, "application/json", `{"id":"task-9","type":`, ""},
		{"html 202", 202, "text/html", `<html>Accepted</html>`, ""},
		{"200 empty", 200, "", ``, ""},
		{"204", 204, "", ``, ""},
		{"odd field type", 202, "application/json", `{"id":"task-7","percentComplete":"half","completionStatus":null,"messages":[{"type":"WARN","key":"k"},7]}`, "task-7"},
		{"huge 202", 202, "application/json", `{"id":"task-8","pad":"` + strings.Repeat("x", 9<<20) + `"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tt.ct != "" {
					w.Header().Set("Content-Type", tt.ct)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			c := tn.client(t, func(c *Config) { c.Retries = 2 })
			ts, err := c.InviteIdentities(context.Background(), []string{"a", "b"})
			if err != nil {
				t.Fatalf("err = %v, want the invitation accepted", err)
			}
			if ts.ID != tt.taskID {
				t.Errorf("task id %q, want %q", ts.ID, tt.taskID)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d invite calls, want exactly 1 (never re-sent)", n)
			}
			if err := c.InviteCC(context.Background(), []string{"1"}); err != nil {
				t.Errorf("InviteCC: %v, want accepted", err)
			}
		})
	}
}

func TestCCRemoved(t *testing.T) {
	t.Parallel()
	for _, status := range []int{404, 410} {
		tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprint(w, `{"error":"gone"}`)
		})
		c := tn.client(t, nil)
		_, err := c.ListCCUsers(context.Background(), 0, 250)
		if !errors.Is(err, ErrCCRemoved) || !IsConfigProblem(err) || !strings.Contains(err.Error(), "--api public") || !strings.Contains(err.Error(), "/cc API is gone") {
			t.Errorf("%d on the /cc list: err = %v, want ErrCCRemoved naming --api public", status, err)
		}
		if err := c.InviteCC(context.Background(), []string{"1"}); !errors.Is(err, ErrCCRemoved) {
			t.Errorf("%d on the /cc invite: err = %v, want ErrCCRemoved", status, err)
		}
		// The same answer elsewhere stays an ordinary permanent error.
		var pe *PermanentError
		if _, err := c.GetIdentity(context.Background(), "x"); errors.Is(err, ErrCCRemoved) || !errors.As(err, &pe) || pe.Status != status {
			t.Errorf("%d on a public get: err = %v, want a plain PermanentError", status, err)
		}
	}
}

func TestIDLookupsKeepTheURIShort(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var uris []string
	seen := map[string]bool{}
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		if len(r.RequestURI) > 8192 {
			w.WriteHeader(http.StatusRequestURITooLong)
			return
		}
		f := r.URL.Query().Get("filters")
		inner := strings.TrimSuffix(strings.TrimPrefix(f, "id in ("), ")")
		var out []map[string]string
		for _, q := range strings.Split(inner, ",") {
			id := strings.Trim(q, `"`)
			mu.Lock()
			seen[id] = true
			mu.Unlock()
			out = append(out, map[string]string{"id": id, "identityStatus": "UNREGISTERED"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	c := tn.client(t, nil)
	ids := make([]string, ListPageSize)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i+1)
	}
	found, err := c.IdentitiesByID(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(ids) || len(seen) != len(ids) {
		t.Errorf("found %d, server saw %d distinct ids; want %d", len(found), len(seen), len(ids))
	}
	if len(uris) != 2 {
		t.Errorf("%d calls for 250 ids of 32 characters, want 2", len(uris))
	}
	for _, u := range uris {
		if len(u) > MaxRequestURI {
			t.Errorf("request URI of %d bytes, over %d", len(u), MaxRequestURI)
		}
		if q, _ := url.ParseQuery(strings.SplitN(u, "?", 2)[1]); q.Get("defaultFilter") != "NONE" {
			t.Errorf("defaultFilter %q, want NONE", q.Get("defaultFilter"))
		}
	}
}

// logCounter counts the records of a slog logger by message.
type logCounter struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		l.msgs[r.Message]++
	}
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func TestDeprecatedAnswersCountedAndLoggedOnce(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Deprecated", "true")
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			okTask(w, r)
			return
		}
		fmt.Fprint(w, `[]`)
	})
	var mu sync.Mutex
	counted := map[string]int{}
	logs := &logCounter{msgs: map[string]int{}}
	c := tn.client(t, func(c *Config) {
		c.Logger = slog.New(logs)
		c.OnDeprecated = func(ep string) { mu.Lock(); counted[ep]++; mu.Unlock() }
	})
	for range 3 {
		if _, _, err := c.ListIdentities(context.Background(), ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.InviteIdentities(context.Background(), []string{"a"}); err != nil {
			t.Fatal(err)
		}
	}
	if counted["GET /v2025/identities"] != 3 || counted["POST /beta/identities/invite"] != 3 {
		t.Errorf("counted %v, want 3 answers of each endpoint", counted)
	}
	total := 0
	for _, n := range logs.msgs {
		total += n
	}
	if total != 2 {
		t.Errorf("%d WARN records (%v), want 2: one per endpoint", total, logs.msgs)
	}
}

func TestAPIVersionFamilies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v     APIVersion
		paths []string
	}{
		{"", []string{"POST /beta/identities/invite", "GET /v2025/identities", "GET /v2025/identities/x", "GET /beta/task-status/t"}},
		{APIVersionBeta, []string{"POST /beta/identities/invite", "GET /v2025/identities", "GET /v2025/identities/x", "GET /beta/task-status/t"}},
		{APIVersionV2025, []string{"POST /v2025/identities/invite", "GET /v2025/identities", "GET /v2025/identities/x", "GET /v2025/task-status/t"}},
		{APIVersionV1, []string{"POST /identities/v1/invite", "GET /identities/v1", "GET /identities/v1/x", "GET /task-status/v1/t"}},
	} {
		var mu sync.Mutex
		var got []string
		tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r.Method+" "+r.URL.Path)
			mu.Unlock()
			if r.Header.Get("X-SailPoint-Experimental") != "true" {
				t.Errorf("%s %s without X-SailPoint-Experimental", r.Method, r.URL.Path)
			}
			w.Header().Set("Content-Type", "application/json")
			switch {
			case r.Method == http.MethodPost:
				okTask(w, r)
			case strings.HasSuffix(r.URL.Path, "identities") || strings.HasSuffix(r.URL.Path, "/v1"):
				fmt.Fprint(w, `[]`)
			default:
				fmt.Fprint(w, `{"id":"x"}`)
			}
		})
		c := tn.client(t, func(c *Config) { c.APIVersion = tt.v })
		ctx := context.Background()
		if _, err := c.InviteIdentities(ctx, []string{"a"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ListIdentities(ctx, ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetIdentity(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.TaskStatus(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ", ") != strings.Join(tt.paths, ", ") {
			t.Errorf("family %q called %v, want %v", tt.v, got, tt.paths)
		}
		if want := tt.paths[0]; c.InviteEndpoint() != want {
			t.Errorf("InviteEndpoint() = %q, want %q", c.InviteEndpoint(), want)
		}
	}
	if _, err := New(context.Background(), Config{BaseURL: "https://x.example", ClientID: "a", ClientSecret: "b", APIVersion: "v2099"}); err == nil ||
		!strings.Contains(err.Error(), "--api-version") {
		t.Errorf("an unknown family: err = %v, want one naming --api-version", err)
	}
}

func TestSearchPagesWithSearchAfter(t *testing.T) {
	t.Parallel()
	const total = 600
	var mu sync.Mutex
	var bodies []searchRequest
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v3/search" || r.URL.Query().Get("limit") != "250" || r.URL.Query().Has("offset") {
			t.Errorf("%s %s?%s, want POST /v3/search?limit=250 without offset", r.Method, r.URL.Path, r.URL.RawQuery)
		}
		var req searchRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		mu.Lock()
		bodies = append(bodies, req)
		mu.Unlock()
		start := 0
		if len(req.SearchAfter) == 1 {
			fmt.Sscanf(req.SearchAfter[0], "id-%04d", &start)
			start++
		}
		var docs []map[string]any
		for i := start; i < min(start+250, total); i++ {
			docs = append(docs, map[string]any{"id": fmt.Sprintf("id-%04d", i), "name": "n", "created": "2026-12-01T10:00:00.000Z",
				"attributes": map[string]any{"cloudStatus": "UNREGISTERED"}})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(docs)
	})
	c := tn.client(t, nil)
	since := time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.UTC)
	n := 0
	err := c.SearchUnregisteredSince(context.Background(), since, func(page []inviter.Identity) error {
		for _, id := range page {
			if id.Status != "UNREGISTERED" || id.Created.IsZero() {
				t.Errorf("identity %+v", id)
			}
		}
		n += len(page)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != total || len(bodies) != 3 {
		t.Fatalf("%d identities in %d calls, want %d in 3", n, len(bodies), total)
	}
	want := `(attributes.cloudStatus:UNREGISTERED OR status:UNREGISTERED) AND created:{"2026-12-01T09:30:00.123Z" TO *}`
	for i, b := range bodies {
		if b.Query.Query != want || len(b.Indices) != 1 || b.Indices[0] != "identities" || len(b.Sort) != 1 || b.Sort[0] != "id" {
			t.Errorf("call %d: %+v, want query %s sorted by id", i, b, want)
		}
	}
	if len(bodies[0].SearchAfter) != 0 || bodies[1].SearchAfter[0] != "id-0249" || bodies[2].SearchAfter[0] != "id-0499" {
		t.Errorf("searchAfter %v, %v, %v; want none, the 250th id, the 500th id", bodies[0].SearchAfter, bodies[1].SearchAfter, bodies[2].SearchAfter)
	}
}

func TestCreateSubscriptionTakenOnAny2xx(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "<html>created</html>")
	})
	c := tn.client(t, func(c *Config) { c.Retries = 2 })
	sub, err := c.CreateSubscription(context.Background(), Subscription{ID: "x", Name: "inviter", TriggerID: TriggerIdentityCreated, Type: "HTTP"})
	if err != nil || sub.Name != "inviter" || sub.ID != "" {
		t.Errorf("CreateSubscription = %+v, %v; want the subscription as sent, no id, no error", sub, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1: a created subscription is never created again", n)
	}
}

// TestPagesShrinkWhenAnswersAreTooLong: a tenant whose documents make a
// page longer than the answer cap gets asked for smaller pages, on the
// search and on the list, instead of failing for ever.
func TestPagesShrinkWhenAnswersAreTooLong(t *testing.T) {
	t.Parallel()
	const total, docSize = 300, 4 << 10 // 4 KiB documents; the cap below fits 62 of them
	var mu sync.Mutex
	var limits []string
	tn := newTenant(t, func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		mu.Lock()
		limits = append(limits, r.URL.Query().Get("limit"))
		mu.Unlock()
		if r.Method == http.MethodPost {
			var req searchRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			if len(req.SearchAfter) == 1 {
				fmt.Sscanf(req.SearchAfter[0], "id-%04d", &offset)
				offset++
			}
		}
		var docs []map[string]any
		for i := offset; i < min(offset+limit, total); i++ {
			docs = append(docs, map[string]any{"id": fmt.Sprintf("id-%04d", i), "pad": strings.Repeat("x", docSize),
				"attributes": map[string]any{"cloudStatus": "UNREGISTERED"}})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(docs)
	})
	c := tn.client(t, func(c *Config) { c.MaxAnswerBytes = 256 << 10; c.Retries = 3 })
	for _, each := range []struct {
		name string
		walk func(func([]inviter.Identity) error) error
	}{
		{"search", func(fn func([]inviter.Identity) error) error {
			return c.SearchUnregisteredSince(context.Background(), time.Time{}, fn)
		}},
		{"list", func(fn func([]inviter.Identity) error) error { return c.EachUnregistered(context.Background(), fn) }},
	} {
		name := each.name
		seen := map[string]bool{}
		err := each.walk(func(page []inviter.Identity) error {
			for _, id := range page {
				seen[id.ID] = true
			}
			return nil
		})
		if err != nil || len(seen) != total {
			t.Errorf("%s: %d distinct identities, %v; want %d", name, len(seen), err, total)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Each walk asks once for 250 (too long, not retried as it is), then
	// for 62 until the end: 1 + ceil(300/62) = 6 calls.
	if got := strings.Join(limits, ","); got != "250,62,62,62,62,62,250,62,62,62,62,62" {
		t.Errorf("page sizes asked %s, want 250 once, then 62, for each walk", got)
	}
}
