package app

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// healthWindow is how far back the recent error counts of ISC calls go.
const healthWindow = 15 * time.Minute

// iscHealth follows the daemon's ISC calls: the last success, the last
// failure and what it was, and the recent 401/403/5xx/429 answers. The
// status page and the inviter_isc_healthy metric read it.
type iscHealth struct {
	now func() time.Time

	mu          sync.Mutex
	lastSuccess time.Time
	lastError   time.Time
	lastErrText string
	recent      []healthEvent // failures within healthWindow, oldest first
}

// healthEvent is one failed call.
type healthEvent struct {
	at     time.Time
	status int // 0: no answer
}

// iscHealthSnapshot is what iscHealth knows at one moment.
type iscHealthSnapshot struct {
	Healthy     bool
	LastSuccess time.Time
	LastError   time.Time
	LastErrText string
	// Recent counts the failed answers of the last healthWindow by kind:
	// "3xx" (redirects, never followed), "401", "403", "5xx", "429" and
	// "no answer".
	Recent map[string]int
}

func newISCHealth(now func() time.Time) *iscHealth {
	if now == nil {
		now = time.Now
	}
	return &iscHealth{now: now}
}

// observe records one exchange, as isc.Config.OnCall reports it.
func (h *iscHealth) observe(endpoint string, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	switch {
	case status >= 200 && status < 300 || status == 404:
		// A 404 is an answer about an identity, not about ISC's health.
		h.lastSuccess = now
		return
	case status >= 400 && status < 500 && status != 401 && status != 403 && status != 429:
		h.lastSuccess = now // the tenant answered; the request was at fault
		return
	}
	h.lastError = now
	h.lastErrText = endpoint + ": " + statusText(status)
	h.recent = append(h.recent, healthEvent{at: now, status: status})
	h.pruneLocked(now)
}

// fail records a failure that happened outside a call (the start-up token
// probe that got no answer, say).
func (h *iscHealth) fail(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastError = h.now()
	h.lastErrText = text
}

func (h *iscHealth) pruneLocked(now time.Time) {
	i := 0
	for i < len(h.recent) && now.Sub(h.recent[i].at) > healthWindow {
		i++
	}
	h.recent = h.recent[i:]
}

// snapshot returns what is known now. ISC is healthy when its last call
// succeeded after the last failure (or nothing failed).
func (h *iscHealth) snapshot() iscHealthSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pruneLocked(h.now())
	s := iscHealthSnapshot{
		LastSuccess: h.lastSuccess, LastError: h.lastError, LastErrText: h.lastErrText,
		Recent: map[string]int{"3xx": 0, "401": 0, "403": 0, "5xx": 0, "429": 0, "no answer": 0},
	}
	for _, e := range h.recent {
		s.Recent[kindOf(e.status)]++
	}
	s.Healthy = h.lastError.IsZero() || h.lastSuccess.After(h.lastError)
	return s
}

func kindOf(status int) string {
	switch {
	case status == 0:
		return "no answer"
	case status >= 500:
		return "5xx"
	case status >= 300 && status < 400:
		return "3xx" // a redirect, never followed: a wrong base URL or a proxy
	default:
		return statusText(status)
	}
}

func statusText(status int) string {
	if status == 0 {
		return "no answer"
	}
	return statusLabel(status)
}

// register adds inviter_isc_healthy (1 or 0) and
// inviter_isc_recent_errors{kind} to reg.
func (h *iscHealth) register(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "inviter_isc_healthy",
		Help: "1 when inviter's last ISC call succeeded after its last failure, else 0.",
	}, func() float64 {
		if h.snapshot().Healthy {
			return 1
		}
		return 0
	}))
	reg.MustRegister(&recentErrors{h: h, desc: prometheus.NewDesc("inviter_isc_recent_errors",
		"ISC answers 3xx (never followed), 401, 403, 5xx, 429 and calls with no answer in the last 15 minutes.", []string{"kind"}, nil)})
}

// recentErrors is the collector of inviter_isc_recent_errors.
type recentErrors struct {
	h    *iscHealth
	desc *prometheus.Desc
}

func (c *recentErrors) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *recentErrors) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range c.h.snapshot().Recent {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), kind)
	}
}
