package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/metrics"
	"github.com/inviter/inviter/web"
)

// nopIntake accepts every delivery at once and keeps nothing, so that the
// benchmark measures the handler alone.
type nopIntake struct{}

func (nopIntake) AcceptIdentityCreated(context.Context, inviter.IdentityCreated, []byte, time.Time) (bool, error) {
	return false, nil
}

func (nopIntake) AcceptIdentityAttributesChanged(context.Context, inviter.IdentityAttributesChanged, []byte, time.Time) (bool, error) {
	return false, nil
}

// BenchmarkWebhook measures POST /hooks/identity-created through the whole
// handler (routing, bearer check, body read, parse, metrics, log record at
// Info) with an intake that costs nothing: the webhook's own overhead per
// delivery, on top of the database commit.
func BenchmarkWebhook(b *testing.B) {
	reg := prometheus.NewRegistry()
	h := web.NewServer(web.Config{
		Auth:     web.Auth{BearerToken: testToken},
		Intake:   nopIntake{},
		Ready:    &Readiness{},
		Status:   &StatusSource{},
		Metrics:  metrics.New(reg),
		Gatherer: reg,
		Logger:   slog.New(slog.DiscardHandler),
	})
	body := []byte(validEvent)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/hooks/identity-created", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+testToken)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkWebhookParallel is BenchmarkWebhook from GOMAXPROCS goroutines:
// shared state in the handler (metrics, auth) shows here.
func BenchmarkWebhookParallel(b *testing.B) {
	reg := prometheus.NewRegistry()
	h := web.NewServer(web.Config{
		Auth:     web.Auth{BearerToken: testToken},
		Intake:   nopIntake{},
		Ready:    &Readiness{},
		Status:   &StatusSource{},
		Metrics:  metrics.New(reg),
		Gatherer: reg,
		Logger:   slog.New(slog.DiscardHandler),
	})
	body := []byte(validEvent)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/hooks/identity-created", bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+testToken)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}
