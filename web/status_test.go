package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/web"
)

func TestStatusPage(t *testing.T) {
	t.Parallel()
	const hostile = `<script>alert("pwned")</script>`
	b := setup(t)
	b.status.StatusFn = func(context.Context) (web.Status, error) {
		return web.Status{
			StartedAt:  testNow.Add(-90 * time.Minute),
			Backend:    "sqlite",
			API:        inviter.APIPublic,
			Identities: web.IdentityCounts{Pending: 3, Invited: 42, Failed: 1, Skipped: 7},
			Deliveries: 53,
			Jobs:       map[string]int{"completed": 42, "available": 3, "discarded": 1},
			LastErrors: []web.Failure{{
				IdentityID: "2c9180-bad",
				Name:       "Fay Failed",
				Reason:     `ISC answered 400: "` + hostile + `"`,
				At:         testNow.Add(-time.Minute),
			}},
			RecentInvites: []web.RecentInvite{{
				IdentityID: "2c9180835d2e5168015d32f890ca1581",
				Name:       hostile,
				API:        inviter.APIPublic,
				TaskID:     "task-1",
				At:         testNow.Add(-2 * time.Minute),
			}},
			ISC: web.ISCHealth{
				LastSuccess: testNow.Add(-10 * time.Second), LastError: testNow.Add(-time.Hour), LastErrorText: "ISC answered 503",
				Recent401: 4, Recent403: 5, Recent5xx: 6, Recent429: 8, RecentWindow: 15 * time.Minute,
			},
			Reconcile: web.ReconcileRun{LastRun: testNow.Add(-3 * time.Minute), CutOff: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Enqueued: 17},
			TestDeliveries: []web.TestDelivery{{
				IdentityID: "2c7180a46faadee4016fb4e018c20642", Name: "Michael Michaels", Event: "identity-created", At: testNow.Add(-4 * time.Minute),
			}},
			RetryCommand: "inviter jobs retry --failed",
		}, nil
	}

	w := b.doAdmin(httptest.NewRequest(http.MethodGet, "/", nil))

	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200:\n%s", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	page := w.Body.String()
	if strings.Contains(page, "<script") {
		t.Errorf("page contains an unescaped <script>:\n%s", page)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		"&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;",
		"v1.2.3-test", // Config.Version, as Status.Version is empty
		"sqlite", "public", ">53<", ">42<", ">7<",
		"2c9180835d2e5168015d32f890ca1581", "task-1", "2c9180-bad",
		"up 1h30m0s",
		"2026-03-04 05:04:07Z",
		"Fay Failed",
		"<span class=\"ok\">healthy</span>", "ISC answered 503", "(last 15m0s)",
		"401: <span class=\"n\">4</span>", "403: <span class=\"n\">5</span>", "429: <span class=\"n\">8</span>", "5xx: <span class=\"n\">6</span>",
		"2026-03-04 05:03:07Z", "2026-03-01 00:00:00Z", ">17<",
		"2c7180a46faadee4016fb4e018c20642", "Michael Michaels", "identity-created", "2026-03-04 05:02:07Z",
		`<code id="retry-command">inviter jobs retry --failed</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, `class="banner"`) {
		t.Errorf("a healthy ISC shows a banner")
	}
	// Jobs are listed in state order.
	if a, c := strings.Index(page, "available"), strings.Index(page, "completed"); a < 0 || c < 0 || a > c {
		t.Errorf("job states out of order or missing (available at %d, completed at %d)", a, c)
	}
	// Self-contained: no external assets.
	for _, ext := range []string{"src=", "href=", "http://", "https://", "@import"} {
		if strings.Contains(page, ext) {
			t.Errorf("page references an external asset (%q)", ext)
		}
	}
}

func TestStatusPageEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.doAdmin(httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", w.Code)
	}
	for _, want := range []string{"No invites yet.", "No errors.", "No jobs.", "No test deliveries.", "Reconcile has not run yet.", "no call yet"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestStatusPageSourceFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.status.StatusFn = func(context.Context) (web.Status, error) {
		return web.Status{}, errors.New(`query <failed>`)
	}
	w := b.doAdmin(httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("GET / = %d, want 503", w.Code)
	}
	page := w.Body.String()
	for _, want := range []string{"Status unavailable: query &lt;failed&gt;", `http-equiv="refresh"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}

func TestStatusPageUnhealthy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		health web.ISCHealth
		want   []string
		reject []string
	}{
		{
			name: "configuration problem",
			health: web.ISCHealth{
				LastSuccess: testNow.Add(-time.Hour), LastError: testNow.Add(-time.Minute),
				LastErrorText: "401 after a token refresh", Recent401: 3,
				ConfigProblem: `ISC refused the credentials: check SAIL_CLIENT_ID and SAIL_CLIENT_SECRET <b>`,
			},
			want:   []string{`id="config-problem"`, "Configuration problem: ISC refused the credentials: check SAIL_CLIENT_ID and SAIL_CLIENT_SECRET &lt;b&gt;", "<strong>unhealthy</strong>"},
			reject: []string{`id="isc-unhealthy"`},
		},
		{
			name:   "failing since the last success",
			health: web.ISCHealth{LastSuccess: testNow.Add(-time.Hour), LastError: testNow.Add(-time.Minute), LastErrorText: "dial tcp: connection refused"},
			want:   []string{`id="isc-unhealthy"`, "ISC unhealthy: the last call failed at 2026-03-04 05:05:07Z: dial tcp: connection refused (last success 2026-03-04 04:06:07Z)"},
			reject: []string{`id="config-problem"`},
		},
		{
			name:   "never reached",
			health: web.ISCHealth{LastError: testNow, LastErrorText: "no such host"},
			want:   []string{`id="isc-unhealthy"`, "no such host"},
			reject: []string{"last success"},
		},
		{
			name:   "recovered",
			health: web.ISCHealth{LastSuccess: testNow, LastError: testNow.Add(-time.Minute), LastErrorText: "old"},
			want:   []string{"<span class=\"ok\">healthy</span>"},
			reject: []string{`class="banner"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.status.StatusFn = func(context.Context) (web.Status, error) { return web.Status{ISC: tt.health}, nil }
			w := b.doAdmin(httptest.NewRequest(http.MethodGet, "/", nil))
			if w.Code != http.StatusOK {
				t.Fatalf("GET / = %d", w.Code)
			}
			page := w.Body.String()
			for _, want := range tt.want {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			for _, r := range tt.reject {
				if strings.Contains(page, r) {
					t.Errorf("page has %q", r)
				}
			}
		})
	}
}

func TestStatusPageRetryCommandDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.status.StatusFn = func(context.Context) (web.Status, error) {
		return web.Status{Identities: web.IdentityCounts{Failed: 2}}, nil
	}
	w := b.doAdmin(httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(w.Body.String(), `<code id="retry-command">`+web.DefaultRetryCommand+`</code>`) {
		t.Errorf("page lacks the default retry command:\n%s", w.Body.String())
	}
}
