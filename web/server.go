// Package web is inviter's HTTP surface, in two handlers:
//
//   - the public one (NewServer), for the network ISC reaches: the webhooks
//     ISC's event triggers call, and the health and readiness probes;
//   - the admin one (NewAdminServer), for operators only (by default on
//     127.0.0.1): the status page, the Prometheus metrics and the probes.
//
// The status page shows identity names and ids, so it is never served on the
// public handler. Every route of both is listed in routes.go. ListenAndServe
// runs a handler with sensible timeouts and shuts it down gracefully.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/metrics"
)

// DefaultMaxBody is the largest webhook body accepted when Config.MaxBody is
// not set: 1 MiB.
const DefaultMaxBody int64 = 1 << 20

// Intake durably accepts webhook deliveries. The daemon's implementation
// asks the admission decision (package admission) and stores each
// delivery, with its invite job when there is one, through package queue.
//
// AcceptIdentityCreated stores the raw delivery and enqueues the invite of
// ev's identity in one transaction. When it returns a nil error the delivery
// is durable (committed): the webhook answers 200 only then. duplicate
// reports that the identity was already queued or invited; the delivery is
// still recorded and the call is not an error. Any error means nothing was
// committed and the webhook answers 503. receivedAt is when the delivery
// arrived.
//
// Implementations must be safe for concurrent use and should return quickly:
// the sender waits for the answer (ISC gives up after 10 s).
//
// AcceptIdentityAttributesChanged does the same for an Identity Attributes
// Changed delivery: it stores it and, when the change makes the identity
// eligible for an invitation, enqueues the invite in the same transaction.
// duplicate reports that nothing was enqueued.
type Intake interface {
	AcceptIdentityCreated(ctx context.Context, ev inviter.IdentityCreated, raw []byte, receivedAt time.Time) (duplicate bool, err error)
	AcceptIdentityAttributesChanged(ctx context.Context, ev inviter.IdentityAttributesChanged, raw []byte, receivedAt time.Time) (duplicate bool, err error)
}

// Readiness reports whether the service can do its work.
//
// Ready returns nil when the database is reachable and migrated, and
// otherwise an error whose text says why in one line (it is shown to the
// prober). It must be safe for concurrent use and honour ctx's deadline.
type Readiness interface {
	Ready(ctx context.Context) error
}

// StatusSource gives the status page its figures.
//
// Status returns a snapshot of the service's state. It must be safe for
// concurrent use; it is called on every load of the page (every 5 s per open
// browser tab), so it should be cheap.
type StatusSource interface {
	Status(ctx context.Context) (Status, error)
}

// Status is a snapshot of what inviter has done, as the status page shows it.
type Status struct {
	// Version is the build version; the page shows Config.Version when empty.
	Version string
	// StartedAt is when this process started; zero when unknown.
	StartedAt time.Time
	// Backend names the database backend, such as "sqlite" or "postgres".
	Backend string
	// API is the ISC invite path in use.
	API inviter.API
	// Identities counts known identities by invite state.
	Identities IdentityCounts
	// Deliveries is the number of webhook deliveries stored, all time.
	Deliveries int
	// Jobs counts invite jobs by River job state (available, scheduled,
	// running, retryable, completed, discarded, cancelled, …). The page
	// lists them in key order.
	Jobs map[string]int
	// LastErrors are the most recent failures, newest first.
	LastErrors []Failure
	// RecentInvites are the most recent invitations sent, newest first.
	RecentInvites []RecentInvite
	// ISC is the health of inviter's calls to ISC.
	ISC ISCHealth
	// Reconcile is reconcile's last run; zero when it has not run.
	Reconcile ReconcileRun
	// TestDeliveries are the most recent test deliveries (ISC's sample
	// payload, see inviter.IdentityCreated.IsTest), newest first. They are
	// recorded and never invited.
	TestDeliveries []TestDelivery
	// RetryCommand is the command that retries the failed invites, shown
	// with the failures; the page shows DefaultRetryCommand when empty.
	RetryCommand string
}

// DefaultRetryCommand is the command the status page shows for retrying
// failed invites when Status.RetryCommand is empty.
const DefaultRetryCommand = "inviter jobs retry --all-failed"

// ISCHealth is how inviter's calls to ISC have fared. The page shows ISC as
// unhealthy when ConfigProblem is set, or when the last error is newer than
// the last success.
type ISCHealth struct {
	// LastSuccess is when an ISC call last succeeded; zero: none yet.
	LastSuccess time.Time
	// LastError is when an ISC call last failed; zero: none yet.
	LastError time.Time
	// LastErrorText says what the last failure was, in one line.
	LastErrorText string
	// Recent401, Recent403, Recent5xx and Recent429 count the answers with
	// those statuses within RecentWindow.
	Recent401, Recent403, Recent5xx, Recent429 int
	// RecentWindow is the period the Recent counts cover; zero means since
	// the process started.
	RecentWindow time.Duration
	// ConfigProblem, when not empty, is a problem of inviter's own
	// configuration that ISC reported (credentials refused, rights missing,
	// a redirect): the page shows it as a banner, "Configuration problem:
	// …". Invites wait until it is fixed.
	ConfigProblem string
}

// Unhealthy reports whether the page shows ISC as unhealthy.
func (h ISCHealth) Unhealthy() bool {
	return h.ConfigProblem != "" || (!h.LastError.IsZero() && h.LastError.After(h.LastSuccess))
}

// ReconcileRun is one run of reconcile, which enqueues identities ISC
// created that no delivery announced.
type ReconcileRun struct {
	// LastRun is when the last run ended; zero when none has.
	LastRun time.Time
	// CutOff is the creation time from which the last run looked for
	// identities; zero when unknown.
	CutOff time.Time
	// Enqueued is the number of identities the last run enqueued.
	Enqueued int
	// Err is why the last run failed; empty when it succeeded.
	Err string
}

// TestDelivery is one test delivery ISC sent.
type TestDelivery struct {
	IdentityID string
	Name       string // identity name of the sample payload; may be empty
	// Event names the trigger: "identity-created" or
	// "identity-attributes-changed".
	Event string
	At    time.Time
}

// IdentityCounts counts identities by invite state.
type IdentityCounts struct {
	Pending int // queued, not yet invited
	Invited int // ISC accepted the invitation
	Failed  int // gave up (dead letter); see Status.LastErrors
	Skipped int // not invited by decision (policy, already registered, …)
}

// Failure is one identity whose invite failed, and why.
type Failure struct {
	IdentityID string
	Name       string // identity name from the event; may be empty
	Reason     string
	At         time.Time
}

// RecentInvite is one invitation ISC accepted.
type RecentInvite struct {
	IdentityID string
	Name       string      // identity name from the event; may be empty
	API        inviter.API // the ISC path that sent it
	TaskID     string      // ISC task id of a public-API call; may be empty
	At         time.Time
}

// Config holds what NewServer and NewAdminServer need. Ready is required by
// both, Intake by NewServer and Status by NewAdminServer; the other fields
// have defaults.
type Config struct {
	// Auth is how webhook senders authenticate. Validate it at start-up;
	// NewServer does not, and an Auth with nothing configured and Insecure
	// false rejects every delivery.
	Auth Auth
	// Intake stores accepted deliveries. Required.
	Intake Intake
	// Ready answers GET /readyz. Required.
	Ready Readiness
	// Status feeds the admin status page at GET /. Required by
	// NewAdminServer.
	Status StatusSource
	// Metrics receives the delivery counts. When nil, NewServer creates
	// metrics on a private registry, which nothing exposes.
	Metrics *metrics.Metrics
	// Gatherer is what the admin GET /metrics exposes, normally the
	// registry Metrics was registered on. When nil /metrics is empty.
	Gatherer prometheus.Gatherer
	// Logger receives request and delivery logs. Default: discard.
	Logger *slog.Logger
	// MaxBody is the largest webhook body accepted, in bytes; larger ones
	// get 413. Default (zero or negative): DefaultMaxBody, 1 MiB.
	MaxBody int64
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Version is shown on the status page when Status.Version is empty.
	Version string
}

// NewServer returns inviter's public handler: the webhooks, /healthz and
// /readyz (publicRoutes in routes.go), and 404 for everything else, the
// status page and /metrics included (they are NewAdminServer's). It panics
// if Intake or Ready is nil, so that a wiring mistake shows at start-up
// rather than on the first request.
func NewServer(cfg Config) http.Handler {
	switch {
	case cfg.Intake == nil:
		panic("web.NewServer: Config.Intake is nil")
	case cfg.Ready == nil:
		panic("web.NewServer: Config.Ready is nil")
	}
	cfg = cfg.withDefaults()
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(prometheus.NewRegistry())
	}
	mux := http.NewServeMux()
	publicRoutes(mux, cfg)
	return logRequests(cfg.Logger, mux)
}

// NewAdminServer returns inviter's admin handler, for operators only: the
// status page at /, /metrics, /healthz and /readyz (adminRoutes in
// routes.go). Serve it on an address the webhook's senders cannot reach
// (by default 127.0.0.1:9090). It panics if Status or Ready is nil.
func NewAdminServer(cfg Config) http.Handler {
	switch {
	case cfg.Status == nil:
		panic("web.NewAdminServer: Config.Status is nil")
	case cfg.Ready == nil:
		panic("web.NewAdminServer: Config.Ready is nil")
	}
	cfg = cfg.withDefaults()
	mux := http.NewServeMux()
	adminRoutes(mux, cfg)
	return logRequests(cfg.Logger, mux)
}

// withDefaults returns cfg with the defaults of its optional fields set.
func (cfg Config) withDefaults() Config {
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}
