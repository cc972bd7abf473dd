package isctest

import (
	"net/http"
	"testing"
	"time"
)

func TestFaultErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	b.srv.SetFaults(Faults{ErrorRate: 1, Seed: 1})

	for i, want := range []int{500, 502, 503, 500} {
		resp, body := b.get(t, "/v2025/identities")
		wantStatus(t, resp, body, want)
		if want == 500 {
			errorDto(t, body)
		}
		_ = i
	}
	// Token calls and unauthenticated calls are not faulted with 5xx.
	if tok := b.fetchToken(t); tok == "" {
		t.Fatal("no token")
	}
	resp, body := b.send(t, http.MethodGet, "/v2025/identities", "", nil)
	wantStatus(t, resp, body, http.StatusUnauthorized)

	b.srv.SetFaults(Faults{})
	resp, body = b.get(t, "/v2025/identities")
	wantStatus(t, resp, body, http.StatusOK)
	if n := b.srv.CallCount("GET /v2025/identities"); n != 6 {
		t.Fatalf("%d calls recorded, want 6", n)
	}
}

func TestFaultReset(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	b.srv.SetFaults(Faults{ResetRate: 1, Seed: 7})

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL()+"/beta/identities/invite", nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a dropped connection", resp.StatusCode)
	}
	calls := b.srv.Calls()
	last := calls[len(calls)-1]
	if last.Endpoint != "POST /beta/identities/invite" || last.Status != 0 {
		t.Fatalf("last call %+v, want the invite with status 0", last)
	}
	if len(b.srv.Invites()) != 0 {
		t.Fatal("a reset call invited")
	}

	b.srv.SetFaults(Faults{})
	resp2, body := b.get(t, "/beta/identities")
	wantStatus(t, resp2, body, http.StatusOK)
}

func TestFaultSlow(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	b.srv.SetFaults(Faults{SlowRate: 1, SlowDelay: 50 * time.Millisecond})
	start := time.Now()
	resp, body := b.get(t, "/beta/identities")
	wantStatus(t, resp, body, http.StatusOK)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("answered in %v, want at least 50ms", d)
	}
}

func TestFaultRatesAreSeeded(t *testing.T) {
	t.Parallel()
	draw := func() []bool {
		s := NewTenant(Options{})
		defer s.Close()
		s.SetFaults(Faults{ErrorRate: 0.3, Seed: 42})
		var out []bool
		for range 200 {
			out = append(out, s.rollFaults("GET /beta/identities", true).errStatus != 0)
		}
		return out
	}
	a, b := draw(), draw()
	n := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs between equal seeds", i)
		}
		if a[i] {
			n++
		}
	}
	if n < 30 || n > 90 {
		t.Fatalf("%d of 200 faulted at rate 0.3", n)
	}
}
