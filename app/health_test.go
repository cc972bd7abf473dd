package app

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestISCHealthShowsTheLastErrorAndRecentCounts(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	h := newISCHealth(func() time.Time { return now })
	reg := prometheus.NewRegistry()
	h.register(reg)
	if s := h.snapshot(); !s.Healthy {
		t.Fatalf("nothing called yet: %+v, want healthy", s)
	}
	h.observe("POST /oauth/token", 200)
	now = now.Add(time.Second)
	for _, st := range []int{401, 403, 503, 429, 0, 404, 400, 307} {
		h.observe("POST /v2025/identities/invite", st)
	}
	// 404 and 400 are answers about the request, not failures of ISC.
	h.observe("POST /v2025/identities/invite", 503)
	s := h.snapshot()
	if s.Healthy || s.LastError != now || !strings.Contains(s.LastErrText, "503") {
		t.Errorf("after a 503: %+v, want unhealthy with the 503", s)
	}
	want := map[string]int{"3xx": 1, "401": 1, "403": 1, "5xx": 2, "429": 1, "no answer": 1}
	for k, n := range want {
		if s.Recent[k] != n {
			t.Errorf("recent %s = %d, want %d", k, s.Recent[k], n)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP inviter_isc_healthy 1 when inviter's last ISC call succeeded after its last failure, else 0.
# TYPE inviter_isc_healthy gauge
inviter_isc_healthy 0
`), "inviter_isc_healthy"); err != nil {
		t.Error(err)
	}
	now = now.Add(time.Second)
	h.observe("GET /v2025/identities", 200)
	now = now.Add(healthWindow + time.Minute)
	if s := h.snapshot(); !s.Healthy || s.Recent["5xx"] != 0 {
		t.Errorf("after a success and the window: %+v, want healthy, no recent errors", s)
	}
}
