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
				Reason:     `ISC answered 400: "` + hostile + `"`,
				At:         testNow.Add(-time.Minute),
			}},
			RecentInvites: []web.RecentInvite{{
				IdentityID: "2c91808568c529c60168cca6f90c1313",
				Name:       hostile,
				API:        inviter.APIPublic,
				TaskID:     "task-1",
				At:         testNow.Add(-2 * time.Minute),
			}},
		}, nil
	}

	w := b.do(httptest.NewRequest(http.MethodGet, "/", nil))

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
		"2c91808568c529c60168cca6f90c1313", "task-1", "2c9180-bad",
		"up 1h30m0s",
		"2026-03-04 05:04:07Z",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
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
	w := b.do(httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", w.Code)
	}
	for _, want := range []string{"No invites yet.", "No errors.", "No jobs."} {
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
	w := b.do(httptest.NewRequest(http.MethodGet, "/", nil))
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
