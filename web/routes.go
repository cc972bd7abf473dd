package web

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// publicRoutes lists every route of the public handler (NewServer): only
// what ISC and a load balancer need. Nothing here shows identities.
//
// Patterns with a method make the mux answer other methods on the same path
// with 405 Method Not Allowed and an Allow header (for the webhook:
// "Allow: POST"); GET patterns also match HEAD. Any other path is 404.
func publicRoutes(mux *http.ServeMux, cfg Config) {
	mux.Handle("POST /hooks/identity-created", handleIdentityCreated(cfg.Logger, newAuthenticator(cfg.Auth), cfg.Intake, cfg.Metrics, cfg.MaxBody, cfg.Now))
	mux.Handle("POST /hooks/identity-attributes-changed", handleIdentityAttributesChanged(cfg.Logger, newAuthenticator(cfg.Auth), cfg.Intake, cfg.Metrics, cfg.MaxBody, cfg.Now))
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(cfg.Logger, cfg.Ready))
}

// adminRoutes lists every route of the admin handler (NewAdminServer), for
// operators: the status page, the metrics and the probes. Any other path is
// 404.
func adminRoutes(mux *http.ServeMux, cfg Config) {
	mux.Handle("GET /{$}", handleStatusPage(cfg.Logger, cfg.Status, cfg.Version, cfg.Now))
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(cfg.Logger, cfg.Ready))
}
