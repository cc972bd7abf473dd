package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// readyTimeout bounds one readiness check.
const readyTimeout = 3 * time.Second

// handleHealthz answers GET /healthz: 200 "ok" as long as the process serves
// HTTP (liveness; it checks no dependency).
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok")
	})
}

// handleReadyz answers GET /readyz: 200 "ready" when ready reports the
// database reachable and migrated, 503 with the reason otherwise.
func handleReadyz(logger *slog.Logger, ready Readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Cache-Control", "no-store")
		if err := ready.Ready(ctx); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelWarn, "not ready",
				slog.Any("error", err),
				slog.Int("status", http.StatusServiceUnavailable))
			http.Error(w, "not ready: "+oneLine(err.Error()), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ready")
	})
}
