package web

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"
)

//go:embed status.html
var statusFS embed.FS

// statusPage is the data the status template renders.
type statusPage struct {
	Status
	Err         string // why the figures are missing; empty when they are not
	GeneratedAt time.Time
	Uptime      time.Duration // zero when StartedAt is unknown
}

// handleStatusPage serves the status page at GET / of the admin handler: a
// self-contained HTML page (no external assets) that refreshes itself every
// 5 s. A configuration problem, or ISC failing since its last success, is a
// banner at the top. When src fails
// it answers 503 with the page showing the error, still refreshing.
func handleStatusPage(logger *slog.Logger, src StatusSource, version string, now func() time.Time) http.Handler {
	tmpl := template.Must(template.New("status.html").Funcs(template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"dur": func(d time.Duration) string { return d.Round(time.Second).String() },
	}).ParseFS(statusFS, "status.html"))

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := statusPage{GeneratedAt: now()}
		code := http.StatusOK
		st, err := src.Status(r.Context())
		if err != nil {
			code = http.StatusServiceUnavailable
			page.Err = err.Error()
			logger.LogAttrs(r.Context(), slog.LevelError, "status unavailable",
				slog.Any("error", err), slog.Int("status", code))
		}
		page.Status = st
		if page.Version == "" {
			page.Version = version
		}
		if page.RetryCommand == "" {
			page.RetryCommand = DefaultRetryCommand
		}
		if !page.StartedAt.IsZero() {
			page.Uptime = page.GeneratedAt.Sub(page.StartedAt)
		}

		// Render fully before answering, so a template error is a clean 500.
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, page); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelError, "rendering status page failed", slog.Any("error", err))
			http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		w.WriteHeader(code)
		w.Write(buf.Bytes())
	})
}
