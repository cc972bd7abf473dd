// Package metrics defines inviter's Prometheus metrics. Nothing here is
// global: New registers on the registry it is given.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every metric inviter exports. Its fields are safe for
// concurrent use. A nil *Metrics is not valid; use New.
type Metrics struct {
	// Deliveries counts webhook deliveries by outcome (accepted, duplicate,
	// unauthorized, bad_request, too_large, error).
	Deliveries *prometheus.CounterVec
	// Invites counts invite decisions by outcome (see inviter.Outcome) and API.
	Invites *prometheus.CounterVec
	// ISCCalls counts HTTP calls to ISC by endpoint and status code
	// ("error" when no answer arrived).
	ISCCalls *prometheus.CounterVec
	// ISCRateLimited counts 429 answers from ISC by endpoint.
	ISCRateLimited *prometheus.CounterVec
	// ISCDeprecated counts ISC answers marked X-Deprecated, by endpoint.
	ISCDeprecated *prometheus.CounterVec
	// ISCConfigProblem is 1 while ISC refuses inviter's own configuration
	// (credentials, rights, base URL), 0 otherwise.
	ISCConfigProblem prometheus.Gauge
	// ConfigProblemJobs counts invite jobs put off because of a
	// configuration problem.
	ConfigProblemJobs prometheus.Counter
	// UnrecordedOutcomes is the number of invitations ISC accepted whose
	// outcome could not be written to the database yet and is held in
	// memory (retried, never sent again).
	UnrecordedOutcomes prometheus.Gauge
	// TestDeliveries counts deliveries of ISC's test payload.
	TestDeliveries prometheus.Counter
	// QueueDepth is the number of invite jobs not yet finished, by state.
	QueueDepth *prometheus.GaugeVec
	// EventToInvite observes the seconds from receiving an event to ISC
	// accepting its invitation.
	EventToInvite prometheus.Histogram
	// Batches observes the number of identities per ISC invite call.
	BatchSize prometheus.Histogram
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inviter_deliveries_total",
			Help: "Webhook deliveries received, by outcome.",
		}, []string{"outcome"}),
		Invites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inviter_invites_total",
			Help: "Invite decisions, by outcome and ISC API.",
		}, []string{"outcome", "api"}),
		ISCCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inviter_isc_calls_total",
			Help: "HTTP calls to ISC, by endpoint and status code.",
		}, []string{"endpoint", "status"}),
		ISCRateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inviter_isc_rate_limited_total",
			Help: "429 Too Many Requests answers from ISC, by endpoint.",
		}, []string{"endpoint"}),
		ISCDeprecated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inviter_isc_deprecated_answers_total",
			Help: "ISC answers marked X-Deprecated (the endpoint will be retired: see --api-version), by endpoint.",
		}, []string{"endpoint"}),
		ISCConfigProblem: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inviter_isc_config_problem",
			Help: "1 while ISC refuses inviter's credentials, rights or base URL (invites wait), else 0.",
		}),
		ConfigProblemJobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inviter_isc_config_problem_jobs_total",
			Help: "Invite jobs put off because ISC refused inviter's configuration.",
		}),
		UnrecordedOutcomes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inviter_outcomes_unrecorded",
			Help: "Invitations ISC accepted whose outcome is held in memory until the database takes it.",
		}),
		TestDeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inviter_test_deliveries_total",
			Help: "Deliveries of ISC's test payload (stored, never invited).",
		}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inviter_queue_jobs",
			Help: "Invite jobs in the queue, by state.",
		}, []string{"state"}),
		EventToInvite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "inviter_event_to_invite_seconds",
			Help:    "Seconds from receiving an Identity Created event to ISC accepting its invitation.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600},
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "inviter_invite_batch_size",
			Help:    "Identities per ISC invite call.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250},
		}),
	}
	reg.MustRegister(m.Deliveries, m.Invites, m.ISCCalls, m.ISCRateLimited, m.ISCDeprecated, m.ISCConfigProblem, m.ConfigProblemJobs,
		m.UnrecordedOutcomes, m.TestDeliveries, m.QueueDepth, m.EventToInvite, m.BatchSize)
	return m
}
