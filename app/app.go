// Package app is inviter's daemon: it takes ISC's event deliveries, stores
// them with their invite jobs, works the jobs and serves the status page.
// serve, demo, bench and the end-to-end tests all run it through New and
// Run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/internal/metrics"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
	"github.com/inviter/inviter/web"
)

// Config is everything a running daemon needs. The zero value of a field
// marked "0: …" takes that default; New rejects the rest when unset.
type Config struct {
	// ISC is the SailPoint client's configuration (tenant, credentials,
	// rate limit, retries, logging of calls).
	ISC isc.Config
	// DB is the database: a SQLite file path or a postgres:// URL.
	DB string
	// Listen is the webhooks' and probes' address (":8080" in serve).
	Listen string
	// AdminListen is the status page's and /metrics' address; "": not
	// served.
	AdminListen string
	// Auth is how deliveries authenticate (bearer or basic).
	Auth web.Auth
	// API is the invite path: public or cc.
	API inviter.API
	// BatchSize is the most identities per invite call.
	BatchSize int
	// BatchWindow is how long the first identity of a batch waits for
	// others.
	BatchWindow time.Duration
	// VisibilityDelay is how long an identity ISC does not show yet is
	// retried.
	VisibilityDelay time.Duration
	// DirectoryRefresh is the least time between two refreshes of the /cc
	// user index (--api cc).
	DirectoryRefresh time.Duration
	// JobTimeout is the longest one invite job may run; 0: JobTimeoutFor
	// the batch window, the client's timeout and its retries.
	JobTimeout time.Duration
	// RescueAfter is when a running job is taken as stuck; 0: JobTimeout
	// plus a minute.
	RescueAfter time.Duration
	// ShutdownWait is how long running jobs may finish at shutdown before
	// they are handed back; 0 hands them back at once.
	ShutdownWait time.Duration
	// GiveUpAfter bounds retries of one invite; 0: the queue's default.
	GiveUpAfter time.Duration
	// RetryBackoffMax caps the wait between retries; 0: the queue's
	// default.
	RetryBackoffMax time.Duration
	// Policy decides whom to invite and when; nil: everyone, now.
	Policy *policy.Policy
	// ReconcileEvery is the period of reconcile and re-invites; 0: none.
	ReconcileEvery time.Duration
	// BackfillSince is reconcile's cut-off; zero: the database's
	// initialisation.
	BackfillSince time.Time
	// MaxReinvites is how many times one identity is re-invited.
	MaxReinvites int
	// RetainDeliveries and RetainAudit are how long delivery payloads and
	// audit rows are kept; 0 keeps them forever.
	RetainDeliveries, RetainAudit time.Duration
	// RetryCommand is the command the status page shows for retrying
	// failed invites; "": "inviter jobs retry --all-failed" with DB.
	RetryCommand string
	// Version is shown on the status page and in metrics.
	Version string
	// Logger receives the daemon's logs; RiverLogger River's own (nil:
	// Logger).
	Logger, RiverLogger *slog.Logger

	// Ready, when set, is called with the bound address once the webhook
	// listens; AdminReady with the admin listener's.
	Ready, AdminReady func(addr string)
	// OnResult, when set, sees every invite result (the demo prints them).
	OnResult func(inviter.Result)
	// OnDelivery, when set, sees every accepted Identity Created delivery.
	OnDelivery func(ev inviter.IdentityCreated, duplicate bool)
}

// A SettingError is a setting that stops the daemon before it starts: its
// message names the setting. Commands exit 2 on it.
type SettingError struct{ Err error }

func (e *SettingError) Error() string { return e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

func settingErrorf(format string, args ...any) error {
	return &SettingError{fmt.Errorf(format, args...)}
}

// App is one daemon: New validates its configuration, Run runs it.
type App struct {
	cfg Config
}

// New checks cfg and fills in its defaults; it does no I/O.
func New(cfg Config) (*App, error) {
	switch {
	case cfg.DB == "":
		return nil, settingErrorf("the database (--db, INVITER_DB) is empty")
	case cfg.BatchSize <= 0:
		return nil, settingErrorf("--batch-size (INVITER_BATCH_SIZE) must be positive")
	case cfg.BatchWindow <= 0:
		return nil, settingErrorf("--batch-window (INVITER_BATCH_WINDOW) must be positive")
	case cfg.API != inviter.APIPublic && cfg.API != inviter.APICC:
		return nil, settingErrorf("--api (INVITER_API) is %q: want public or cc", cfg.API)
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = JobTimeoutFor(cfg.BatchWindow, cfg.ISC.Timeout, cfg.ISC.Retries)
	}
	if cfg.RescueAfter == 0 {
		cfg.RescueAfter = cfg.JobTimeout + time.Minute
	}
	if cfg.RescueAfter <= cfg.JobTimeout {
		return nil, settingErrorf("--rescue-after (INVITER_RESCUE_AFTER) must exceed --job-timeout (INVITER_JOB_TIMEOUT)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryCommand == "" {
		cfg.RetryCommand = RetryCommand(cfg.DB)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	return &App{cfg: cfg}, nil
}

// JobTimeoutFor sizes the job timeout so that it never cuts short an
// invitation ISC may be acting on: the batch window, then three calls (a
// token, the lookup of the batch, the invite), each sent up to retries+1
// times for up to timeout with the client's backoff between tries (500 ms
// doubling: 3.5 s for three retries), then the wait for the invite's task
// (isc.InviterConfig.TaskWait's default, 30 s).
func JobTimeoutFor(batchWindow, timeout time.Duration, retries int) time.Duration {
	const calls, taskWait = 3, 30 * time.Second
	var waits time.Duration
	for n := range retries {
		waits += min(500*time.Millisecond<<n, 30*time.Second)
	}
	return batchWindow + calls*(time.Duration(retries+1)*timeout+waits) + taskWait
}

// Run runs the daemon until ctx ends: it migrates the database, starts the
// River workers and serves HTTP. On ctx's end it stops accepting
// deliveries, lets in-flight jobs finish (or hands them back after
// ShutdownWait) and closes the database. A *SettingError means a setting
// stopped it before anything was created.
func (a *App) Run(ctx context.Context) (err error) {
	cfg := a.cfg
	logger := cfg.Logger
	started := time.Now()
	health := newISCHealth(nil)
	if err := checkTenantAtStart(ctx, cfg, health, logger); err != nil {
		return err
	}

	db, err := store.Open(ctx, cfg.DB, logger)
	if err != nil {
		return fmt.Errorf("opening the database %s (--db, INVITER_DB): %w", redact.DSN(cfg.DB), err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	// One serve per SQLite file: with the lock held, any job left running
	// in the file is a dead process's, and the queue hands it back at once.
	if err := db.LockForServe(); err != nil {
		return err
	}
	if err := queue.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrating the database: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	health.register(reg)

	clientCfg := cfg.ISC
	next := clientCfg.OnCall
	clientCfg.OnCall = func(endpoint string, status int) {
		if next != nil {
			next(endpoint, status)
		}
		health.observe(endpoint, status)
		m.ISCCalls.WithLabelValues(endpoint, statusLabel(status)).Inc()
		if status == 429 {
			m.ISCRateLimited.WithLabelValues(endpoint).Inc()
		}
	}
	clientCfg.OnDeprecated = func(endpoint string) { m.ISCDeprecated.WithLabelValues(endpoint).Inc() }
	// The client's context must outlive every job: token refreshes use it.
	clientCtx, cancelClient := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelClient()
	client, err := isc.New(clientCtx, clientCfg)
	if err != nil {
		return &SettingError{err}
	}
	var dir *isc.Directory
	if cfg.API == inviter.APICC {
		dir = isc.NewDirectory(client, isc.DirectoryOptions{MinRefresh: cfg.DirectoryRefresh})
	}
	iscInv, err := isc.NewInviter(client, isc.InviterConfig{API: cfg.API, BatchSize: cfg.BatchSize, Directory: dir})
	if err != nil {
		return err
	}
	var inv queue.Inviter = iscInv
	if cfg.OnResult != nil {
		inv = observedInviter{next: iscInv, onResult: cfg.OnResult}
	}

	// Reconcile and re-invite run as one periodic job on the fleet's leader.
	// They enqueue into the queue built below: it is set once New returns.
	rec := &reconcile.Reconciler{ISC: client, DB: db, Policy: cfg.Policy, Since: cfg.BackfillSince, Logger: logger}
	reinv := &reconcile.Reinviter{ISC: client, DB: db, MaxReinvites: cfg.MaxReinvites, Policy: cfg.Policy, Logger: logger}
	qcfg := queue.Config{
		API:                  cfg.API,
		BatchSize:            cfg.BatchSize,
		BatchWindow:          cfg.BatchWindow,
		NotFoundWindow:       cfg.VisibilityDelay,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		GiveUpAfter:          cfg.GiveUpAfter,
		RetryBackoffMax:      cfg.RetryBackoffMax,
		StopGrace:            cfg.ISC.Timeout,
		RiverLogger:          cfg.RiverLogger,
		Recheck:              recheck(client, cfg.Policy),
		CheckTestDelivery:    checkTestDelivery(client, intake{policy: cfg.Policy, logger: logger}),
		RegisterWorkers: func(w *river.Workers) error {
			if err := river.AddWorkerSafely(w, &queue.RetentionWorker{DB: db, Deliveries: cfg.RetainDeliveries, Audit: cfg.RetainAudit, Logger: logger}); err != nil {
				return err
			}
			return river.AddWorkerSafely(w, &reconcile.ReconcileWorker{Reconciler: rec, Reinviter: reinv, RunTimeout: cfg.RescueAfter * 4 / 5})
		},
	}
	if cfg.ReconcileEvery > 0 {
		qcfg.PeriodicJobs = []*river.PeriodicJob{reconcile.PeriodicJob(cfg.ReconcileEvery)}
	}
	if cfg.RetainDeliveries > 0 || cfg.RetainAudit > 0 {
		qcfg.PeriodicJobs = append(qcfg.PeriodicJobs, queue.RetentionJob())
	}
	q, err := queue.New(db, qcfg, inv, m, logger)
	if err != nil {
		return err
	}
	rec.Queue, reinv.Queue = q, q
	// Jobs run in a context of their own: a signal stops intake first, then
	// Stop lets the running jobs finish.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	if err := q.Start(workCtx); err != nil {
		return fmt.Errorf("starting the queue: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownWait)
		defer cancel()
		if serr := q.Stop(stopCtx); serr != nil && !errors.Is(serr, context.DeadlineExceeded) {
			logger.Error("stopping the queue", "error", serr)
		}
		logger.Info("inviter stopped")
	}()
	go reportQueueDepth(ctx, q)

	webCfg := web.Config{
		Auth:   cfg.Auth,
		Intake: intake{q: q, policy: cfg.Policy, logger: logger, onDelivery: cfg.OnDelivery},
		Ready:  readiness{db: db},
		Status: statusView{db: db, api: cfg.API, started: started, health: health,
			configProblem: func() string { t, _ := q.ConfigProblem(); return t },
			cutOff:        cfg.BackfillSince, retry: cfg.RetryCommand, version: cfg.Version},
		Metrics:  m,
		Gatherer: reg,
		Logger:   logger,
		Version:  cfg.Version,
	}
	handler := web.NewServer(webCfg)
	logger.Info("inviter starting", "listen", cfg.Listen, "backend", db.Backend(), "api", cfg.API, "isc", redact.URL(client.BaseURL()), "webhook_auth", cfg.Auth)
	// The admin listener (status page, /metrics) runs beside the webhook's;
	// either failing stops both.
	srvCtx, stopServing := context.WithCancelCause(ctx)
	defer stopServing(nil)
	adminDone := make(chan error, 1)
	if cfg.AdminListen == "" {
		adminDone <- nil
	} else {
		go func() {
			aerr := web.ListenAndServe(srvCtx, cfg.AdminListen, web.NewAdminServer(webCfg), logger, func(addr string) {
				logger.Info("admin listening (status page, /metrics)", "addr", addr)
				if cfg.AdminReady != nil {
					cfg.AdminReady(addr)
				}
			})
			if aerr != nil {
				aerr = fmt.Errorf("admin listener (--admin-listen): %w", aerr)
				stopServing(aerr)
			}
			adminDone <- aerr
		}()
	}
	err = web.ListenAndServe(srvCtx, cfg.Listen, handler, logger, func(addr string) {
		logger.Info("webhook listening", "addr", addr, "path", "/hooks/identity-created")
		if cfg.Ready != nil {
			cfg.Ready(addr)
		}
	})
	stopServing(nil)
	return errors.Join(err, <-adminDone)
}

func statusLabel(status int) string {
	if status == 0 {
		return "error"
	}
	return fmt.Sprint(status)
}

// reportQueueDepth keeps the queue depth gauge current.
func reportQueueDepth(ctx context.Context, q *queue.Queue) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		_ = q.RefreshDepth(ctx) // a failed count leaves the last figures
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recheck looks at an identity before an invite that must see it first is
// sent (one scheduled weeks ago, or one from an attribute change that did
// not carry every attribute the policy reads): one GET of the identity,
// then the admission decision on what ISC shows. It skips one that
// registered, that ISC no longer knows, or that does not match the whole
// policy (say an offer was withdrawn and the lifecycle state changed), and
// puts off one whose start date is further away.
func recheck(c *isc.Client, p *policy.Policy) func(context.Context, string) (admission.Decision, error) {
	return func(ctx context.Context, id string) (admission.Decision, error) {
		ident, err := c.GetIdentity(ctx, id)
		switch {
		case isc.IsNotFound(err):
			return admission.Decision{Verdict: admission.Never, Reason: "ISC no longer knows this identity at its invite"}, nil
		case err != nil:
			return admission.Decision{}, err
		}
		d := admission.Decider{Policy: p}.Identity(ident, time.Now())
		if d.Verdict == admission.Never {
			d.Reason += " (read before its invite)"
		}
		return d, nil
	}
}

// readiness is ready when the database answers, takes writes and is
// migrated: inviter's tables (store.DB.Ready: on SQLite also the file
// still the one opened, and the disk not nearly full) and River's.
type readiness struct{ db *store.DB }

func (r readiness) Ready(ctx context.Context) error {
	if err := r.db.Ready(ctx); err != nil {
		return err
	}
	ok, err := queue.MigrationsApplied(ctx, r.db)
	if err != nil {
		return fmt.Errorf("checking migrations: %w", err)
	}
	if !ok {
		return errors.New("database migrations not applied (run inviter migrate)")
	}
	return nil
}

// observedInviter reports every result to onResult.
type observedInviter struct {
	next     queue.Inviter
	onResult func(inviter.Result)
}

func (o observedInviter) Invite(ctx context.Context, ids []string) []inviter.Result {
	res := o.next.Invite(ctx, ids)
	for _, r := range res {
		o.onResult(r)
	}
	return res
}
