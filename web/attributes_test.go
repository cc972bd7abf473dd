package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWebhookAttributesChanged(t *testing.T) {
	t.Parallel()
	const path = "/hooks/identity-attributes-changed"
	good := `{"identity":{"type":"IDENTITY","id":"abc","name":"A"},"changes":[{"attribute":"cloudLifecycleState","oldValue":"prehire","newValue":"active"}]}`
	tests := []struct {
		name   string
		method string
		auth   func(*http.Request)
		body   string
		want   int
		called bool
	}{
		{"valid bearer", http.MethodPost, bearer(testToken), good, 200, true},
		{"valid basic", http.MethodPost, basic(testUser, testPassword), good, 200, true},
		{"no auth", http.MethodPost, func(*http.Request) {}, good, 401, false},
		{"wrong method", http.MethodGet, bearer(testToken), "", 405, false},
		{"created payload", http.MethodPost, bearer(testToken), `{"identity":{"id":"abc"},"attributes":{}}`, 400, false},
		{"not json", http.MethodPost, bearer(testToken), "nope", 400, false},
		{"too large", http.MethodPost, bearer(testToken), `{"identity":{"id":"abc"},"changes":[],"pad":"` + strings.Repeat("a", 1<<20) + `"}`, 413, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := httptest.NewRequest(tt.method, path, strings.NewReader(tt.body))
			tt.auth(r)
			w := b.do(r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.want, w.Body.String())
			}
			if tt.want == 200 && w.Body.Len() != 0 {
				t.Errorf("body %q, want empty", w.Body.String())
			}
			calls := b.intake.AttributeCalls()
			if got := len(calls) == 1; got != tt.called {
				t.Fatalf("intake called %d times, want called=%v", len(calls), tt.called)
			}
			if tt.called && (calls[0].Identity.ID != "abc" || calls[0].Changes[0].NewValue != "active") {
				t.Errorf("event %+v", calls[0])
			}
			if len(b.intake.Calls()) != 0 {
				t.Error("the Identity Created intake was called")
			}
		})
	}
}
