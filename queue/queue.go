// Package queue wires River, the job queue inviter runs on, to inviter's
// store: it accepts webhook deliveries (the delivery row and its invite job in
// one transaction), enqueues invites for the CLI and periodic jobs, and works
// invite jobs, coalescing concurrently running ones into batched ISC calls.
//
// The same code serves SQLite (riversqlite over database/sql) and PostgreSQL
// (riverpgxv5 over pgxpool); River's generic transaction type stays inside
// this package, which alone picks the driver (river.go). It also owns River's
// tables: Migrate migrates them with inviter's own, and Copy moves the
// unfinished invite jobs from one database to another.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/internal/groupcommit"
	"github.com/inviter/inviter/internal/metrics"
	"github.com/inviter/inviter/store"
)

// Inviter sends registration invitations.
//
// Invite invites the identities ids (distinct, non-empty) in as few ISC
// calls as it can and returns exactly one Result per id, in any order, with
// Result.IdentityID set. It reports every failure per id rather than as a
// call error: Outcome OutcomeFailed or OutcomeNotFound with Err holding an
// error classified by the predicates of package inviter (inviter.RateLimited
// with its wait, inviter.IsConfigProblem, inviter.IsPermanent; anything else
// is treated as transient). It must return when ctx ends, with failed Results
// whose Err is transient. Invite must be safe for concurrent use.
type Inviter interface {
	Invite(ctx context.Context, ids []string) []inviter.Result
}

// Config configures a Queue. The zero value of every field means its default.
type Config struct {
	// API is the ISC invite path in use, recorded in the audit trail when an
	// Inviter's Result does not name one. Default inviter.APIPublic.
	API inviter.API

	// BatchSize is the most identities sent in one Inviter.Invite call.
	// Default 100.
	BatchSize int
	// BatchWindow is how long the first identity of a batch waits for others
	// before the batch is sent anyway. Default 250 ms.
	BatchWindow time.Duration
	// MaxWorkers is how many invite jobs run at once in this process; it
	// should be at least BatchSize for batches to fill. Default
	// 10*BatchSize: ten batches in flight keep the rate limit busy while
	// each batch waits for its lookup, invite and task calls (with two, a
	// 100,000-joiner wave took 1.9 × the rate-limit floor; with ten, 1.25).
	MaxWorkers int

	// NotFoundWindow is how long after its event an identity the tenant does
	// not know yet (ISC lists are eventually consistent) is retried before the
	// job gives up. Default 10 minutes.
	NotFoundWindow time.Duration
	// RetryBackoff is the wait before the first retry of a failed job; each
	// later retry waits twice as long as the one before, up to
	// RetryBackoffMax, and every wait is jittered (between half and all of
	// it) so that the jobs of one outage do not come back together.
	// Default 1 s.
	RetryBackoff time.Duration
	// RetryBackoffMax caps the wait between retries. Default 5 minutes.
	RetryBackoffMax time.Duration
	// GiveUpAfter is how long a job keeps retrying a transient failure
	// (5xx, network, timeouts, 429, a configuration problem), counted from
	// when the job was due: ISC failures put the job off (a River snooze)
	// without using its attempts, so an outage of any length shorter than
	// this loses nobody. Default 7 days, the life of an invitation.
	GiveUpAfter time.Duration
	// MaxAttempts is how many times a job runs before River discards it;
	// only failures that are not ISC's (the database, a panic) and
	// not-found retries use attempts. Default: enough attempts to span
	// NotFoundWindow with the backoff above, plus 10.
	MaxAttempts int
	// RateLimitWait is the snooze after a 429 without a usable Retry-After.
	// Default 10 s (ISC's rate-limit window).
	RateLimitWait time.Duration
	// MaxRateLimitWait caps the snooze a 429's Retry-After asks for (the
	// client caps it too). Default 10 minutes.
	MaxRateLimitWait time.Duration
	// ConfigProblemWait is how long jobs are put off while ISC refuses
	// inviter's own configuration (inviter.IsConfigProblem: credentials, rights,
	// a redirect). Default 1 minute.
	ConfigProblemWait time.Duration
	// StopGrace is how long Stop lets an ISC call in flight finish after
	// Stop's context ended, so that its outcome is recorded rather than
	// sent again by the next process. Set it to the ISC request timeout.
	// Default 30 s.
	StopGrace time.Duration

	// JobTimeout is the longest one invite job may run, batch wait and ISC
	// call included. Default 2 minutes.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before River
	// assumes its process died and retries it; it must exceed JobTimeout.
	// Default 5 minutes.
	RescueStuckJobsAfter time.Duration

	// Recheck, when set, is asked before an invite that must look at the
	// identity first (InviteArgs.Recheck: scheduled in advance, or from an
	// event that did not carry every attribute the policy reads) is sent:
	// admission.Now sends it, admission.Later puts the job off until
	// Decision.At, anything else skips the identity with the reason
	// (recorded); an error retries the job. It may call ISC. Nil sends
	// without asking.
	Recheck func(ctx context.Context, identityID string) (admission.Decision, error)

	// CheckTestDelivery, when set, decides a delivery of one of ISC's
	// sample identities (AcceptOptions.Test): known reports whether the
	// tenant knows the identity, and then opts say what the delivery leads
	// to, as the policy decides for any delivery. An error retries the
	// check. Nil takes every such delivery as ISC's test payload.
	CheckTestDelivery func(ctx context.Context, d TestDelivery) (known bool, opts AcceptOptions, err error)

	// InsertOnly builds a client that only enqueues (for CLI commands):
	// Start and Stop do nothing and no jobs are worked here.
	InsertOnly bool

	// PeriodicJobs are extra River periodic jobs (reconcile, re-invite),
	// run by the elected leader. Their workers go in RegisterWorkers.
	PeriodicJobs []*river.PeriodicJob
	// RegisterWorkers, if set, adds workers for other job kinds.
	RegisterWorkers func(*river.Workers) error

	// Logger receives the queue's and River's logs. Default: discarded.
	Logger *slog.Logger
	// RiverLogger, when set, receives River's own logs instead of Logger
	// (an operator may want them only at WARN and above).
	RiverLogger *slog.Logger

	// now, if set, replaces time.Now where the worker judges a job's age
	// (GiveUpAfter, the not-found window). Tests only.
	now func() time.Time

	// fetchPollInterval overrides River's poll for jobs becoming available
	// (retries, snoozes; SQLite has no LISTEN/NOTIFY). Tests only.
	fetchPollInterval time.Duration
}

// withDefaults returns cfg with defaults filled in, or an error naming the
// first invalid setting.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.API == "" {
		cfg.API = inviter.APIPublic
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	if cfg.BatchWindow == 0 {
		cfg.BatchWindow = 250 * time.Millisecond
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = 10 * cfg.BatchSize
	}
	if cfg.NotFoundWindow == 0 {
		cfg.NotFoundWindow = 10 * time.Minute
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Second
	}
	if cfg.RetryBackoffMax == 0 {
		cfg.RetryBackoffMax = 5 * time.Minute
	}
	if cfg.GiveUpAfter == 0 {
		cfg.GiveUpAfter = 7 * 24 * time.Hour
	}
	if cfg.RateLimitWait == 0 {
		cfg.RateLimitWait = 10 * time.Second
	}
	if cfg.MaxRateLimitWait == 0 {
		cfg.MaxRateLimitWait = 10 * time.Minute
	}
	if cfg.ConfigProblemWait == 0 {
		cfg.ConfigProblemWait = time.Minute
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 30 * time.Second
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 2 * time.Minute
	}
	if cfg.RescueStuckJobsAfter == 0 {
		cfg.RescueStuckJobsAfter = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.BatchSize < 1:
		return cfg, fmt.Errorf("queue: BatchSize must be at least 1, got %d", cfg.BatchSize)
	case cfg.BatchWindow < 0:
		return cfg, fmt.Errorf("queue: BatchWindow must not be negative, got %s", cfg.BatchWindow)
	case cfg.MaxWorkers < 1:
		return cfg, fmt.Errorf("queue: MaxWorkers must be at least 1, got %d", cfg.MaxWorkers)
	case cfg.NotFoundWindow < 0:
		return cfg, fmt.Errorf("queue: NotFoundWindow must not be negative, got %s", cfg.NotFoundWindow)
	case cfg.RetryBackoff < 0 || cfg.RetryBackoffMax < cfg.RetryBackoff:
		return cfg, fmt.Errorf("queue: RetryBackoff (%s) must be positive and at most RetryBackoffMax (%s)", cfg.RetryBackoff, cfg.RetryBackoffMax)
	case cfg.JobTimeout < 0:
		return cfg, fmt.Errorf("queue: JobTimeout must not be negative, got %s", cfg.JobTimeout)
	case cfg.RescueStuckJobsAfter <= cfg.JobTimeout:
		return cfg, fmt.Errorf("queue: RescueStuckJobsAfter (%s) must be longer than JobTimeout (%s)", cfg.RescueStuckJobsAfter, cfg.JobTimeout)
	case cfg.MaxAttempts < 0:
		return cfg, fmt.Errorf("queue: MaxAttempts must not be negative")
	case cfg.GiveUpAfter < 0 || cfg.RateLimitWait < 0 || cfg.MaxRateLimitWait < 0 || cfg.ConfigProblemWait < 0 || cfg.StopGrace < 0:
		return cfg, fmt.Errorf("queue: GiveUpAfter, RateLimitWait, MaxRateLimitWait, ConfigProblemWait and StopGrace must not be negative")
	}
	if _, err := inviter.ParseAPI(string(cfg.API)); err != nil {
		return cfg, fmt.Errorf("queue: API: %w", err)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = attemptsToSpan(cfg.NotFoundWindow, cfg.RetryBackoff, cfg.RetryBackoffMax) + 10
	}
	return cfg, nil
}

// backoff returns the wait after failed attempt n (1 for the first run).
func backoff(n int, base, maxWait time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// jitter returns a wait between half of d and d, so that jobs failed
// together do not all come back at the same instant.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// attemptsToSpan returns how many attempts, retried with backoff, it takes
// for the retries to cover window.
func attemptsToSpan(window, base, maxWait time.Duration) int {
	var total time.Duration
	n := 1
	for total < window {
		total += backoff(n, base, maxWait)
		n++
	}
	return n
}

// Queue is inviter's job queue: a River client on the store's database plus
// the invite worker and its batcher. Its methods are safe for concurrent use.
type Queue struct {
	db      *store.DB
	cfg     Config
	inv     Inviter
	m       *metrics.Metrics
	logger  *slog.Logger
	be      backend
	batcher *batcher                         // nil with InsertOnly
	accepts *groupcommit.Grouper[*acceptReq] // deliveries, committed in groups
	records *groupcommit.Grouper[*recordReq] // invite outcomes, committed in groups
	lookups *groupcommit.Grouper[*lookupReq] // the invite jobs' identity rows, read in groups

	live *liveness // heartbeat and hand-back of dead processes' jobs

	baseCtx    context.Context // parent of batched ISC calls; cancelled by Stop after its grace
	baseCancel context.CancelFunc

	problem    configProblem  // ISC refusing inviter's configuration, if it does
	unrecorded unrecorded     // accepted invitations the database has not taken yet
	works      sync.WaitGroup // running Work calls

	// testRecord, if set, runs before each outcome is written; an error
	// fails the write. Tests only.
	testRecord func(store.Decision) error

	// testAfterInsert, if set, runs inside AcceptDelivery's transaction after
	// the job insert; an error aborts the transaction. Tests only.
	testAfterInsert func() error
}

// New builds a Queue over db (migrated) with a River client on the driver
// for db's backend. inv may be nil with cfg.InsertOnly; m may be nil (the
// metrics then go to a private registry). The logger overrides cfg.Logger
// when not nil.
func New(db *store.DB, cfg Config, inv Inviter, m *metrics.Metrics, logger *slog.Logger) (*Queue, error) {
	if logger != nil {
		cfg.Logger = logger
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if inv == nil && !cfg.InsertOnly {
		return nil, errors.New("queue: an Inviter is required unless InsertOnly is set")
	}
	if m == nil {
		m = metrics.New(prometheus.NewRegistry())
	}
	baseCtx, cancel := context.WithCancel(context.Background())
	q := &Queue{db: db, cfg: cfg, inv: inv, m: m, logger: cfg.Logger, baseCtx: baseCtx, baseCancel: cancel}
	q.accepts = groupcommit.NewParallel(maxGroup, commitLeaders(db), groupcommit.OneByOneOnFailure(q.commitGroup, failAccept))
	q.records = groupcommit.NewParallel(maxGroup, commitLeaders(db), groupcommit.OneByOneOnFailure(q.commitRecords, failRecord))
	q.lookups = groupcommit.NewParallel(maxGroup, commitLeaders(db), groupcommit.OneByOneOnFailure(q.readLookups, failLookup))

	riverLogger := cfg.Logger
	if cfg.RiverLogger != nil {
		riverLogger = cfg.RiverLogger
	}
	clientID := newClientID()
	q.live = newLiveness(db, clientID, cfg.Logger)
	rc := &river.Config{
		ID:                   clientID,
		Logger:               riverLogger,
		MaxAttempts:          cfg.MaxAttempts,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		FetchPollInterval:    cfg.fetchPollInterval,
	}
	if cfg.fetchPollInterval > 0 && cfg.fetchPollInterval < river.FetchCooldownDefault {
		rc.FetchCooldown = cfg.fetchPollInterval
	}
	if db.Backend() == store.BackendSQLite {
		// River's default reindex list names PostgreSQL indexes that a
		// SQLite schema does not have; its nightly run would only warn
		// about them.
		rc.ReindexerIndexNames = []string{}
	}
	if !cfg.InsertOnly {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &testCheckWorker{q: q}); err != nil {
			cancel()
			return nil, fmt.Errorf("queue: %w", err)
		}
		if err := river.AddWorkerSafely(workers, &inviteWorker{q: q}); err != nil {
			cancel()
			return nil, fmt.Errorf("queue: %w", err)
		}
		if cfg.RegisterWorkers != nil {
			if err := cfg.RegisterWorkers(workers); err != nil {
				cancel()
				return nil, fmt.Errorf("queue: register workers: %w", err)
			}
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}}
		rc.PeriodicJobs = cfg.PeriodicJobs
		q.batcher = &batcher{
			size:        cfg.BatchSize,
			window:      cfg.BatchWindow,
			callTimeout: max(cfg.JobTimeout-cfg.BatchWindow, time.Second),
			invite:      inv.Invite,
			observe:     func(n int) { m.BatchSize.Observe(float64(n)) },
			ctx:         baseCtx,
		}
	}

	r, err := riverFor(db)
	if err == nil {
		q.be, err = r.client(rc)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("queue: river client: %w", err)
	}
	return q, nil
}

// now is the worker's clock.
func (q *Queue) now() time.Time {
	if q.cfg.now != nil {
		return q.cfg.now()
	}
	return time.Now()
}

// Config returns the configuration in effect, defaults filled in.
func (q *Queue) Config() Config { return q.cfg }

// Start starts working jobs (and, on the elected leader, periodic jobs and
// River's maintenance). Cancelling ctx stops the queue hard, like Stop with
// an expired context. With InsertOnly, Start does nothing.
func (q *Queue) Start(ctx context.Context) error {
	if q.cfg.InsertOnly {
		return nil
	}
	if err := q.live.start(ctx); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return q.be.start(ctx)
}

// Stop stops the queue gracefully: it stops fetching jobs and waits for
// running ones to finish. If ctx ends first, jobs still waiting for a
// batch are cancelled and River hands them back as available (their
// attempt not counted) for the next process; jobs whose identities were
// already sent to ISC wait for its answer, up to Config.StopGrace more, and
// record it, so that nobody is invited twice across a restart. An ISC call
// still unanswered after the grace is cancelled. Stop returns once no
// batched ISC call or job is running, so the database may be closed after
// it.
func (q *Queue) Stop(ctx context.Context) error {
	if q.cfg.InsertOnly {
		q.baseCancel()
		return nil
	}
	err := q.be.stop(ctx)
	if err != nil && ctx.Err() != nil {
		grace := time.AfterFunc(q.cfg.StopGrace, q.baseCancel)
		defer grace.Stop()
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.cfg.StopGrace+10*time.Second)
		err = q.be.stopAndCancel(hctx)
		cancel()
	}
	q.batcher.wait()
	q.works.Wait()
	q.flushUnrecorded(ctx)
	q.live.stop(ctx)
	q.baseCancel()
	if err != nil {
		return fmt.Errorf("queue: stop: %w", err)
	}
	return nil
}

// commitLeaders is how many group commits run at once on db: one on
// either backend. SQLite has one connection and one writer. On PostgreSQL
// a group commit costs three round trips whatever its size, and where the
// server shares a few cores with inviter, the deliveries that wait for the
// running commit make the next group larger and cheaper per delivery than
// groups committed side by side would be.
func commitLeaders(*store.DB) int { return 1 }
