// Package web is inviter's HTTP surface: the webhook ISC's Identity Created
// event trigger calls, the health and readiness probes, the Prometheus
// metrics and a small status page.
//
// NewServer builds the handler from its dependencies; every route is listed
// in routes.go. ListenAndServe runs a handler with sensible timeouts and shuts
// it down gracefully.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/metrics"
)

// DefaultMaxBody is the largest webhook body accepted when Config.MaxBody is
// not set: 1 MiB.
const DefaultMaxBody int64 = 1 << 20

// Intake durably accepts webhook deliveries. Package queue implements it.
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

// Config holds what NewServer needs. Intake, Ready and Status are required;
// the other fields have defaults.
type Config struct {
	// Auth is how webhook senders authenticate. Validate it at start-up;
	// NewServer does not, and an Auth with nothing configured and Insecure
	// false rejects every delivery.
	Auth Auth
	// Intake stores accepted deliveries. Required.
	Intake Intake
	// Ready answers GET /readyz. Required.
	Ready Readiness
	// Status feeds the status page at GET /. Required.
	Status StatusSource
	// Metrics receives the delivery counts. When nil, NewServer creates
	// metrics on a private registry (which then also becomes the Gatherer
	// when that is nil).
	Metrics *metrics.Metrics
	// Gatherer is what GET /metrics exposes, normally the registry Metrics
	// was registered on. When nil (and Metrics is set) /metrics is empty.
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

// NewServer returns inviter's HTTP handler, with every route of routes.go.
// It panics if a required dependency of cfg is nil, so that a wiring mistake
// shows at start-up rather than on the first request.
func NewServer(cfg Config) http.Handler {
	switch {
	case cfg.Intake == nil:
		panic("web.NewServer: Config.Intake is nil")
	case cfg.Ready == nil:
		panic("web.NewServer: Config.Ready is nil")
	case cfg.Status == nil:
		panic("web.NewServer: Config.Status is nil")
	}
	if cfg.Metrics == nil {
		reg := prometheus.NewRegistry()
		cfg.Metrics = metrics.New(reg)
		if cfg.Gatherer == nil {
			cfg.Gatherer = reg
		}
	}
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

	mux := http.NewServeMux()
	addRoutes(mux, cfg)
	return logRequests(cfg.Logger, mux)
}
