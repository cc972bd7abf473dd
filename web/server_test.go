package web_test

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/metrics"
	"github.com/inviter/inviter/web"
)

const (
	testToken    = "s3cret-T0ken-from-isc"
	testUser     = "isc-sender"
	testPassword = "pa55-w0rd-from-isc"
	wrongSecret  = "not-the-secret-at-all"

	validEvent = `{"identity":{"type":"IDENTITY","id":"2c9180835d2e5168015d32f890ca1581","name":"Wanda Joiner"},"attributes":{"firstname":"John"}}`
)

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// bundle is what a test needs around one server.
type bundle struct {
	handler  http.Handler // public
	admin    http.Handler
	intake   *Intake
	ready    *Readiness
	status   *StatusSource
	metrics  *metrics.Metrics
	registry *prometheus.Registry
	logs     *syncBuffer
}

// setup builds a server with both bearer and Basic auth configured, fakes
// for its dependencies, a fresh registry and a captured debug log; configure
// adjusts the Config before NewServer.
func setup(t testing.TB, configure ...func(*web.Config)) *bundle {
	t.Helper()
	reg := prometheus.NewRegistry()
	b := &bundle{
		intake:   &Intake{},
		ready:    &Readiness{},
		status:   &StatusSource{},
		metrics:  metrics.New(reg),
		registry: reg,
		logs:     &syncBuffer{},
	}
	cfg := web.Config{
		Auth:     web.Auth{BearerToken: testToken, BasicUser: testUser, BasicPassword: testPassword},
		Intake:   b.intake,
		Ready:    b.ready,
		Status:   b.status,
		Metrics:  b.metrics,
		Gatherer: reg,
		Logger:   slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      func() time.Time { return testNow },
		Version:  "v1.2.3-test",
	}
	for _, f := range configure {
		f(&cfg)
	}
	b.handler = web.NewServer(cfg)
	b.admin = web.NewAdminServer(cfg)
	return b
}

// do serves one request on the public handler and returns the recorded
// answer.
func (b *bundle) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	return w
}

// doAdmin serves one request on the admin handler.
func (b *bundle) doAdmin(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	b.admin.ServeHTTP(w, r)
	return w
}

// deliveries returns inviter_deliveries_total for each outcome that is not zero.
func (b *bundle) deliveries() map[string]float64 {
	got := map[string]float64{}
	for _, o := range []string{"accepted", "duplicate", "test", "unauthorized", "bad_request", "too_large", "unsupported_encoding", "error"} {
		if v := testutil.ToFloat64(b.metrics.Deliveries.WithLabelValues(o)); v != 0 {
			got[o] = v
		}
	}
	return got
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func basic(user, pass string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

// gzipped returns s compressed with gzip.
func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}

// unsized hides the length of a body, as a chunked upload does.
func unsized(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

func TestWebhook(t *testing.T) {
	t.Parallel()

	errStore := errors.New("database is locked")
	duplicate := func(context.Context, inviter.IdentityCreated, []byte, time.Time) (bool, error) { return true, nil }
	failing := func(context.Context, inviter.IdentityCreated, []byte, time.Time) (bool, error) {
		return false, errStore
	}
	oversized := `{"identity":{"id":"x"},"attributes":{"pad":"` + strings.Repeat("a", 1<<20) + `"}}`

	tests := []struct {
		name        string
		configure   func(*web.Config)
		method      string // default POST
		authorize   func(*http.Request)
		body        io.Reader // default validEvent
		contentType string    // default application/json; "-" for none
		encoding    []string  // Content-Encoding header values
		accept      func(context.Context, inviter.IdentityCreated, []byte, time.Time) (bool, error)

		wantStatus  int
		wantBody    string // exact body
		wantContain string // or a part of it
		wantHeader  map[string][]string
		wantOutcome string // inviter_deliveries_total outcome; "" for none
		wantCalled  bool
	}{
		{
			name:        "valid bearer",
			authorize:   bearer(testToken),
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "bearer scheme is case-insensitive",
			authorize:   func(r *http.Request) { r.Header.Set("Authorization", "bearer "+testToken) },
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "valid basic when both are configured",
			authorize:   basic(testUser, testPassword),
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "duplicate is still 200 and empty",
			authorize:   bearer(testToken),
			accept:      duplicate,
			wantStatus:  http.StatusOK,
			wantOutcome: "duplicate",
			wantCalled:  true,
		},
		{
			name:        "no content type",
			authorize:   bearer(testToken),
			contentType: "-",
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "odd content type",
			authorize:   bearer(testToken),
			contentType: "text/plain; charset=iso-8859-1",
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "body of exactly MaxBody",
			configure:   func(c *web.Config) { c.MaxBody = int64(len(validEvent) + 10) },
			authorize:   bearer(testToken),
			body:        strings.NewReader(validEvent + strings.Repeat(" ", 10)),
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name: "insecure without credentials",
			configure: func(c *web.Config) {
				c.Auth = web.Auth{Insecure: true}
			},
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "missing authorization",
			wantStatus:  http.StatusUnauthorized,
			wantBody:    "missing Authorization header\n",
			wantHeader:  map[string][]string{"WWW-Authenticate": {`Bearer realm="inviter"`, `Basic realm="inviter", charset="UTF-8"`}},
			wantOutcome: "unauthorized",
		},
		{
			name:        "wrong bearer",
			authorize:   bearer(wrongSecret),
			wantStatus:  http.StatusUnauthorized,
			wantBody:    "wrong bearer token\n",
			wantOutcome: "unauthorized",
		},
		{
			name:        "bearer prefix of the token",
			authorize:   bearer(testToken[:5]),
			wantStatus:  http.StatusUnauthorized,
			wantOutcome: "unauthorized",
		},
		{
			name:        "wrong basic password",
			authorize:   basic(testUser, wrongSecret),
			wantStatus:  http.StatusUnauthorized,
			wantBody:    "wrong user or password\n",
			wantOutcome: "unauthorized",
		},
		{
			name:        "wrong basic user",
			authorize:   basic(wrongSecret, testPassword),
			wantStatus:  http.StatusUnauthorized,
			wantBody:    "wrong user or password\n",
			wantOutcome: "unauthorized",
		},
		{
			name:        "token sent as basic password",
			authorize:   basic(testUser, testToken),
			wantStatus:  http.StatusUnauthorized,
			wantOutcome: "unauthorized",
		},
		{
			name:        "basic when only bearer is configured",
			configure:   func(c *web.Config) { c.Auth = web.Auth{BearerToken: testToken} },
			authorize:   basic(testUser, testPassword),
			wantStatus:  http.StatusUnauthorized,
			wantBody:    "unsupported authorization scheme\n",
			wantHeader:  map[string][]string{"WWW-Authenticate": {`Bearer realm="inviter"`}},
			wantOutcome: "unauthorized",
		},
		{
			name:        "bearer when only basic is configured",
			configure:   func(c *web.Config) { c.Auth = web.Auth{BasicUser: testUser, BasicPassword: testPassword} },
			authorize:   bearer(testToken),
			wantStatus:  http.StatusUnauthorized,
			wantHeader:  map[string][]string{"WWW-Authenticate": {`Basic realm="inviter", charset="UTF-8"`}},
			wantOutcome: "unauthorized",
		},
		{
			name:        "nothing configured and not insecure fails closed",
			configure:   func(c *web.Config) { c.Auth = web.Auth{} },
			authorize:   bearer(""),
			wantStatus:  http.StatusUnauthorized,
			wantOutcome: "unauthorized",
		},
		{
			name:        "unauthorized is checked before the body",
			authorize:   bearer(wrongSecret),
			body:        strings.NewReader(oversized),
			wantStatus:  http.StatusUnauthorized,
			wantOutcome: "unauthorized",
		},
		{
			name:        "GET is 405",
			method:      http.MethodGet,
			authorize:   bearer(testToken),
			wantStatus:  http.StatusMethodNotAllowed,
			wantHeader:  map[string][]string{"Allow": {"POST"}},
			wantOutcome: "",
		},
		{
			name:       "PUT is 405",
			method:     http.MethodPut,
			authorize:  bearer(testToken),
			wantStatus: http.StatusMethodNotAllowed,
			wantHeader: map[string][]string{"Allow": {"POST"}},
		},
		{
			name:       "DELETE is 405",
			method:     http.MethodDelete,
			wantStatus: http.StatusMethodNotAllowed,
			wantHeader: map[string][]string{"Allow": {"POST"}},
		},
		{
			name:        "not JSON",
			authorize:   bearer(testToken),
			body:        strings.NewReader("identity=2c9180"),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: body is not a JSON object\n",
			wantHeader:  map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
			wantOutcome: "bad_request",
		},
		{
			name:        "malformed JSON",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"id":"x"`),
			wantStatus:  http.StatusBadRequest,
			wantContain: "invalid event: malformed JSON",
			wantOutcome: "bad_request",
		},
		{
			name:        "empty body",
			authorize:   bearer(testToken),
			body:        strings.NewReader(""),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: empty body\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "JSON array",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`[` + validEvent + `]`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: body is not a JSON object\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "missing identity.id",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"type":"IDENTITY","name":"Wanda Joiner"},"attributes":{}}`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: identity.id is missing\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "blank identity.id",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"id":"  "}}`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: identity.id is missing\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "identity.id of the wrong JSON type",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"type":"IDENTITY","id":12345}}`),
			wantStatus:  http.StatusBadRequest,
			wantContain: "invalid event: identity.id is a number, want a string",
			wantOutcome: "bad_request",
		},
		{
			name:        "identity.type not IDENTITY",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"type":"ROLE","id":"2c9180"}}`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: identity.type is \"ROLE\", want IDENTITY\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "trailing data",
			authorize:   bearer(testToken),
			body:        strings.NewReader(validEvent + `{}`),
			wantStatus:  http.StatusBadRequest,
			wantOutcome: "bad_request",
		},
		{
			name:        "too large with Content-Length",
			authorize:   bearer(testToken),
			body:        strings.NewReader(oversized),
			wantStatus:  http.StatusRequestEntityTooLarge,
			wantBody:    "body exceeds 1048576 bytes\n",
			wantOutcome: "too_large",
		},
		{
			name:        "too large without Content-Length",
			authorize:   bearer(testToken),
			body:        unsized(oversized),
			wantStatus:  http.StatusRequestEntityTooLarge,
			wantBody:    "body exceeds 1048576 bytes\n",
			wantOutcome: "too_large",
		},
		{
			name:        "too large for a configured MaxBody",
			configure:   func(c *web.Config) { c.MaxBody = 64 },
			authorize:   bearer(testToken),
			body:        unsized(validEvent),
			wantStatus:  http.StatusRequestEntityTooLarge,
			wantBody:    "body exceeds 64 bytes\n",
			wantOutcome: "too_large",
		},
		{
			name:        "gzip",
			authorize:   bearer(testToken),
			encoding:    []string{"gzip"},
			body:        bytes.NewReader(gzipped(validEvent)),
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "x-gzip among identity codings",
			authorize:   bearer(testToken),
			encoding:    []string{"identity", "X-Gzip"},
			body:        bytes.NewReader(gzipped("\ufeff" + validEvent)),
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "byte order mark",
			authorize:   bearer(testToken),
			body:        strings.NewReader("\ufeff" + validEvent),
			wantStatus:  http.StatusOK,
			wantOutcome: "accepted",
			wantCalled:  true,
		},
		{
			name:        "gzip decompressing past MaxBody",
			authorize:   bearer(testToken),
			encoding:    []string{"gzip"},
			body:        bytes.NewReader(gzipped(oversized)),
			wantStatus:  http.StatusRequestEntityTooLarge,
			wantBody:    "decompressed body exceeds 1048576 bytes\n",
			wantOutcome: "too_large",
		},
		{
			name:        "gzip header on a plain body",
			authorize:   bearer(testToken),
			encoding:    []string{"gzip"},
			wantStatus:  http.StatusBadRequest,
			wantContain: "the body is not gzip data",
			wantOutcome: "bad_request",
		},
		{
			name:        "truncated gzip",
			authorize:   bearer(testToken),
			encoding:    []string{"gzip"},
			body:        bytes.NewReader(gzipped(validEvent)[:30]),
			wantStatus:  http.StatusBadRequest,
			wantContain: "malformed gzip body",
			wantOutcome: "bad_request",
		},
		{
			name:        "gzip twice",
			authorize:   bearer(testToken),
			encoding:    []string{"gzip, gzip"},
			body:        bytes.NewReader(gzipped(string(gzipped(validEvent)))),
			wantStatus:  http.StatusUnsupportedMediaType,
			wantContain: "more than once",
			wantHeader:  map[string][]string{"Accept-Encoding": {"gzip"}},
			wantOutcome: "unsupported_encoding",
		},
		{
			name:        "brotli",
			authorize:   bearer(testToken),
			encoding:    []string{"br"},
			wantStatus:  http.StatusUnsupportedMediaType,
			wantBody:    "Content-Encoding \"br\" is not supported; send gzip or no encoding\n",
			wantHeader:  map[string][]string{"Accept-Encoding": {"gzip"}},
			wantOutcome: "unsupported_encoding",
		},
		{
			name:        "trailing bracket",
			authorize:   bearer(testToken),
			body:        strings.NewReader(validEvent + `]`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: trailing data after the JSON object\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "keys in another case",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"IDENTITY":{"TYPE":"IDENTITY","ID":"2c9180835d2e5168015d32f890ca1581"}}`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: identity.id is missing\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "identity.id of 129 bytes",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"id":"` + strings.Repeat("a", 129) + `"}}`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: identity.id is 129 bytes long, the limit is 128\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "identity.id with a newline",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"id":"abc\ndef"}}`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: identity.id contains a control character\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "invalid UTF-8",
			authorize:   bearer(testToken),
			body:        strings.NewReader("{\"identity\":{\"id\":\"abc\"},\"attributes\":{\"n\":\"\xc3\x28\"}}"),
			wantStatus:  http.StatusBadRequest,
			wantContain: "invalid event: body is not valid UTF-8",
			wantOutcome: "bad_request",
		},
		{
			name:        "NUL escape",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"id":"abc"},"attributes":{"n":"a\u0000b"}}`),
			wantStatus:  http.StatusBadRequest,
			wantBody:    "invalid event: attributes.n contains \\u0000 (NUL), which cannot be stored\n",
			wantOutcome: "bad_request",
		},
		{
			name:        "ISC's test event",
			authorize:   bearer(testToken),
			body:        strings.NewReader(`{"identity":{"type":"IDENTITY","id":"2c7180a46faadee4016fb4e018c20642","name":"Michael Michaels"},"attributes":{"firstname":"John"}}`),
			wantStatus:  http.StatusOK,
			wantOutcome: "test",
			wantCalled:  true,
		},
		{
			name:        "intake fails",
			authorize:   bearer(testToken),
			accept:      failing,
			wantStatus:  http.StatusServiceUnavailable,
			wantBody:    "could not store the delivery; try again later\n",
			wantOutcome: "error",
			wantCalled:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var configure []func(*web.Config)
			if tt.configure != nil {
				configure = append(configure, tt.configure)
			}
			b := setup(t, configure...)
			b.intake.AcceptIdentityCreatedFn = tt.accept

			method := cmp.Or(tt.method, http.MethodPost)
			body := tt.body
			if body == nil {
				body = strings.NewReader(validEvent)
			}
			r := httptest.NewRequest(method, "/hooks/identity-created", body)
			for _, e := range tt.encoding {
				r.Header.Add("Content-Encoding", e)
			}
			switch tt.contentType {
			case "":
				r.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.authorize != nil {
				tt.authorize(r)
			}

			w := b.do(r)

			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body.String())
			}
			switch {
			case tt.wantStatus == http.StatusOK:
				if w.Body.Len() != 0 {
					t.Errorf("body = %q, want empty", w.Body.String())
				}
			case tt.wantBody != "":
				if got := w.Body.String(); got != tt.wantBody {
					t.Errorf("body = %q, want %q", got, tt.wantBody)
				}
			case tt.wantContain != "":
				if got := w.Body.String(); !strings.Contains(got, tt.wantContain) {
					t.Errorf("body = %q, want it to contain %q", got, tt.wantContain)
				}
			}
			if tt.wantStatus >= 400 && tt.wantStatus != http.StatusMethodNotAllowed {
				if got := strings.TrimSuffix(w.Body.String(), "\n"); got == "" || strings.Contains(got, "\n") {
					t.Errorf("body = %q, want a one-line reason", w.Body.String())
				}
			}
			for k, want := range tt.wantHeader {
				if got := w.Header().Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if tt.wantStatus == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}

			calls := b.intake.Calls()
			if tt.wantCalled && len(calls) != 1 {
				t.Errorf("intake called %d times, want once", len(calls))
			}
			if !tt.wantCalled && len(calls) != 0 {
				t.Errorf("intake called %d times for a rejected request, want never", len(calls))
			}

			want := map[string]float64{}
			if tt.wantOutcome != "" {
				want[tt.wantOutcome] = 1
			}
			if got := b.deliveries(); !reflect.DeepEqual(got, want) {
				t.Errorf("inviter_deliveries_total = %v, want %v", got, want)
			}

			logs := b.logs.String()
			secrets := []string{testToken, testPassword, wrongSecret, base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword))}
			if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && cred != "" {
				secrets = append(secrets, cred)
			}
			for _, secret := range secrets {
				if strings.Contains(logs, secret) {
					t.Errorf("log contains %q:\n%s", secret, logs)
				}
			}
			if tt.wantStatus != http.StatusMethodNotAllowed && !strings.Contains(logs, "status="+strconv.Itoa(tt.wantStatus)) {
				t.Errorf("log lacks status=%d:\n%s", tt.wantStatus, logs)
			}
		})
	}
}

// TestWebhookPassesEvent checks what reaches the intake: the parsed event
// with unknown fields ignored and attribute values of every JSON type, the
// raw body unchanged, and the time of receipt.
func TestWebhookPassesEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{
	  "identity": {"type": "IDENTITY", "id": "2c9180835d2e5168015d32f890ca1581", "name": "Wanda Joiner", "extra": {"deep": [1, 2]}},
	  "attributes": {
	    "firstname": "John",
	    "employeeNumber": 1234.5,
	    "active": true,
	    "manager": null,
	    "groups": ["a", 2, false, null, {"k": "v"}],
	    "address": {"city": "Austin", "zip": 78701}
	  },
	  "unknownTopLevel": [{"x": 1}],
	  "_meta": "anything"
	}`
	r := httptest.NewRequest(http.MethodPost, "/hooks/identity-created", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+testToken)

	w := b.do(r)

	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("got %d %q, want 200 with an empty body", w.Code, w.Body.String())
	}
	calls := b.intake.Calls()
	if len(calls) != 1 {
		t.Fatalf("intake called %d times, want once", len(calls))
	}
	got := calls[0]
	wantIdentity := inviter.IdentityRef{Type: "IDENTITY", ID: "2c9180835d2e5168015d32f890ca1581", Name: "Wanda Joiner"}
	if got.Event.Identity != wantIdentity {
		t.Errorf("identity = %+v, want %+v", got.Event.Identity, wantIdentity)
	}
	wantAttrs := map[string]any{
		"firstname":      "John",
		"employeeNumber": 1234.5,
		"active":         true,
		"manager":        nil,
		"groups":         []any{"a", 2.0, false, nil, map[string]any{"k": "v"}},
		"address":        map[string]any{"city": "Austin", "zip": 78701.0},
	}
	if !reflect.DeepEqual(got.Event.Attributes, wantAttrs) {
		t.Errorf("attributes = %#v, want %#v", got.Event.Attributes, wantAttrs)
	}
	if string(got.Raw) != body {
		t.Errorf("raw = %q, want the body unchanged", got.Raw)
	}
	if !got.ReceivedAt.Equal(testNow) {
		t.Errorf("receivedAt = %v, want %v", got.ReceivedAt, testNow)
	}
	if logs := b.logs.String(); !strings.Contains(logs, "identity_id=2c9180835d2e5168015d32f890ca1581") {
		t.Errorf("log lacks identity_id:\n%s", logs)
	}
}

// TestWebhookIntakeOutlivesSender checks that the intake's context is not
// cancelled when the sender hangs up: ISC never resends, so a delivery read
// in full is stored anyway.
func TestWebhookIntakeOutlivesSender(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var intakeErr error
	b.intake.AcceptIdentityCreatedFn = func(ctx context.Context, _ inviter.IdentityCreated, _ []byte, _ time.Time) (bool, error) {
		intakeErr = ctx.Err()
		if _, ok := ctx.Deadline(); !ok {
			t.Error("intake context has no deadline")
		}
		return false, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the sender is gone before the intake runs
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/hooks/identity-created", strings.NewReader(validEvent))
	r.Header.Set("Authorization", "Bearer "+testToken)

	b.do(r)

	if len(b.intake.Calls()) != 1 {
		t.Fatal("intake not called")
	}
	if intakeErr != nil {
		t.Errorf("intake context: %v, want not cancelled", intakeErr)
	}
}

func TestAuthValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		auth    web.Auth
		wantErr []string // parts of the message; nil for no error
	}{
		{"bearer", web.Auth{BearerToken: testToken}, nil},
		{"basic", web.Auth{BasicUser: "u", BasicPassword: testPassword}, nil},
		{"both", web.Auth{BearerToken: testToken, BasicUser: "u", BasicPassword: testPassword}, nil},
		{"insecure", web.Auth{Insecure: true}, nil},
		{"insecure with a token", web.Auth{BearerToken: testToken, Insecure: true}, nil},
		{"16-byte token", web.Auth{BearerToken: "0123456789abcdef"}, nil},
		{"nothing", web.Auth{}, []string{"INVITER_WEBHOOK_TOKEN", "INVITER_WEBHOOK_USER", "INVITER_WEBHOOK_PASSWORD", "--insecure-no-auth"}},
		{"user without password", web.Auth{BasicUser: "u"}, []string{"INVITER_WEBHOOK_PASSWORD"}},
		{"password without user", web.Auth{BasicPassword: testPassword, BearerToken: testToken}, []string{"INVITER_WEBHOOK_USER"}},
		{"colon in user", web.Auth{BasicUser: "a:b", BasicPassword: testPassword}, []string{"INVITER_WEBHOOK_USER", "':'"}},
		{"short token", web.Auth{BearerToken: "0123456789abcde"}, []string{"INVITER_WEBHOOK_TOKEN", "--webhook-token", "15 bytes", "at least 16"}},
		{"short password", web.Auth{BasicUser: "u", BasicPassword: "short"}, []string{"INVITER_WEBHOOK_PASSWORD", "5 bytes", "at least 16"}},
		{"short token with a good password", web.Auth{BearerToken: "t", BasicUser: "u", BasicPassword: testPassword}, []string{"INVITER_WEBHOOK_TOKEN"}},
		{"untrimmed token", web.Auth{BearerToken: testToken + "\n"}, nil},
		{"short once trimmed", web.Auth{BearerToken: "  0123456789abcde\n"}, []string{"INVITER_WEBHOOK_TOKEN", "15 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.auth.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, part := range tt.wantErr {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Validate() = %q, want it to name %s", err, part)
				}
			}
		})
	}
}

func TestAuthNormalize(t *testing.T) {
	t.Parallel()
	a, warnings := web.Auth{BearerToken: " " + testToken + "\r\n", BasicUser: "u", BasicPassword: "\t" + testPassword + "\n"}.Normalize()
	if a.BearerToken != testToken || a.BasicPassword != testPassword || a.BasicUser != "u" {
		t.Errorf("Normalize() = %q/%q/%q, want the secrets trimmed", a.BearerToken, a.BasicUser, a.BasicPassword)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "INVITER_WEBHOOK_TOKEN") || !strings.Contains(warnings[1], "INVITER_WEBHOOK_PASSWORD") {
		t.Errorf("warnings = %q, want one naming each trimmed setting", warnings)
	}
	for _, w := range warnings {
		if strings.Contains(w, testToken) || strings.Contains(w, testPassword) {
			t.Errorf("warning %q shows a secret", w)
		}
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate() after Normalize = %v", err)
	}
	// The token ending in a newline now authenticates ISC's deliveries.
	b := setup(t, func(c *web.Config) { c.Auth, _ = web.Auth{BearerToken: testToken + "\n"}.Normalize() })
	r := httptest.NewRequest(http.MethodPost, "/hooks/identity-created", strings.NewReader(validEvent))
	r.Header.Set("Authorization", "Bearer "+testToken)
	if w := b.do(r); w.Code != http.StatusOK {
		t.Errorf("delivery with the trimmed token = %d %q", w.Code, w.Body.String())
	}
	if _, warnings := (web.Auth{BearerToken: testToken}).Normalize(); len(warnings) != 0 {
		t.Errorf("warnings for a clean token: %q", warnings)
	}
}

func TestAuthRedactsSecrets(t *testing.T) {
	t.Parallel()
	a := web.Auth{BearerToken: testToken, BasicUser: testUser, BasicPassword: testPassword}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "auth", a)
	for _, s := range []string{a.String(), buf.String()} {
		if strings.Contains(s, testToken) || strings.Contains(s, testPassword) {
			t.Errorf("%q shows a secret", s)
		}
	}
	if got := a.String(); got != "bearer+basic" {
		t.Errorf("String() = %q, want bearer+basic", got)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.do(httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Errorf("GET /healthz = %d %q, want 200 \"ok\"", w.Code, w.Body.String())
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		ready       func(context.Context) error
		wantStatus  int
		wantContain string
	}{
		{"ready", func(context.Context) error { return nil }, http.StatusOK, "ready"},
		{"not migrated", func(context.Context) error { return errors.New("database not migrated: run inviter migrate") },
			http.StatusServiceUnavailable, "not ready: database not migrated: run inviter migrate"},
		{"unreachable", func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return errors.New("dial tcp 10.0.0.1:5432: connection refused")
		}, http.StatusServiceUnavailable, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.ready.ReadyFn = tt.ready
			w := b.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantContain) {
				t.Errorf("GET /readyz = %d %q, want %d containing %q", w.Code, w.Body.String(), tt.wantStatus, tt.wantContain)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := httptest.NewRequest(http.MethodPost, "/hooks/identity-created", strings.NewReader(validEvent))
	r.Header.Set("Authorization", "Bearer "+testToken)
	if w := b.do(r); w.Code != http.StatusOK {
		t.Fatalf("delivery: %d %q", w.Code, w.Body.String())
	}
	b.do(httptest.NewRequest(http.MethodPost, "/hooks/identity-created", strings.NewReader(validEvent)))

	w := b.doAdmin(httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", w.Code)
	}
	for _, want := range []string{
		"# TYPE inviter_deliveries_total counter",
		`inviter_deliveries_total{outcome="accepted"} 1`,
		`inviter_deliveries_total{outcome="unauthorized"} 1`,
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, w.Body.String())
		}
	}
}

// TestDefaults checks that a Config with only the required fields works.
func TestDefaults(t *testing.T) {
	t.Parallel()
	h := web.NewServer(web.Config{
		Auth:   web.Auth{BearerToken: testToken},
		Intake: &Intake{}, Ready: &Readiness{},
	})
	r := httptest.NewRequest(http.MethodPost, "/hooks/identity-created", strings.NewReader(validEvent))
	r.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("delivery = %d %q", w.Code, w.Body.String())
	}
	admin := web.NewAdminServer(web.Config{Ready: &Readiness{}, Status: &StatusSource{}})
	for _, path := range []string{"/", "/metrics", "/healthz", "/readyz"} {
		w = httptest.NewRecorder()
		admin.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Errorf("admin GET %s = %d, want 200", path, w.Code)
		}
	}
}

// TestPublicAndAdminRoutes checks that the public handler serves only the
// webhooks and the probes, and the admin handler the operators' pages.
func TestPublicAndAdminRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.status.StatusFn = func(context.Context) (web.Status, error) {
		return web.Status{RecentInvites: []web.RecentInvite{{IdentityID: "2c9180-secret-id", Name: "Private Person", At: testNow}}}, nil
	}
	get := func(h func(*http.Request) *httptest.ResponseRecorder, method, path string) *httptest.ResponseRecorder {
		return h(httptest.NewRequest(method, path, nil))
	}
	for _, tt := range []struct {
		method, path      string
		public, adminCode int
	}{
		{"GET", "/", 404, 200},
		{"HEAD", "/", 404, 200},
		{"GET", "/metrics", 404, 200},
		{"GET", "/healthz", 200, 200},
		{"GET", "/readyz", 200, 200},
		{"GET", "/status", 404, 404},
		{"GET", "/debug/pprof/", 404, 404},
		{"POST", "/hooks/identity-created", 401, 404},
		{"POST", "/hooks/identity-attributes-changed", 401, 404},
	} {
		if w := get(b.do, tt.method, tt.path); w.Code != tt.public {
			t.Errorf("public %s %s = %d, want %d", tt.method, tt.path, w.Code, tt.public)
		} else if strings.Contains(w.Body.String(), "Private Person") || strings.Contains(w.Body.String(), "2c9180-secret-id") {
			t.Errorf("public %s %s shows an identity", tt.method, tt.path)
		}
		if w := get(b.doAdmin, tt.method, tt.path); w.Code != tt.adminCode {
			t.Errorf("admin %s %s = %d, want %d", tt.method, tt.path, w.Code, tt.adminCode)
		}
	}
	if w := get(b.doAdmin, "GET", "/"); !strings.Contains(w.Body.String(), "Private Person") {
		t.Errorf("the admin status page lacks the identity name")
	}
}

// TestWebhookDecodesBody checks that the intake gets the body as decoded:
// decompressed and without the byte order mark.
func TestWebhookDecodesBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := httptest.NewRequest(http.MethodPost, "/hooks/identity-created", bytes.NewReader(gzipped("\ufeff"+validEvent)))
	r.Header.Set("Content-Encoding", "gzip")
	r.Header.Set("Authorization", "Bearer "+testToken)
	if w := b.do(r); w.Code != http.StatusOK {
		t.Fatalf("delivery = %d %q", w.Code, w.Body.String())
	}
	calls := b.intake.Calls()
	if len(calls) != 1 || string(calls[0].Raw) != validEvent || calls[0].Event.Identity.Name != "Wanda Joiner" {
		t.Errorf("intake calls = %+v, want the decoded event once", calls)
	}
}

func TestNewServerPanicsOnMissingDependency(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Intake") {
			t.Errorf("recover() = %v, want a panic naming Intake", r)
		}
	}()
	web.NewServer(web.Config{Ready: &Readiness{}, Status: &StatusSource{}})
}

func TestNewAdminServerPanicsOnMissingDependency(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Status") {
			t.Errorf("recover() = %v, want a panic naming Status", r)
		}
	}()
	web.NewAdminServer(web.Config{Ready: &Readiness{}, Intake: &Intake{}})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/nope", "/hooks/identity-created/x", "/hooks"} {
		if w := b.do(httptest.NewRequest(http.MethodGet, path, nil)); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, w.Code)
		}
	}
}
