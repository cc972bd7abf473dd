package main

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
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/metrics"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
	"github.com/inviter/inviter/web"
)

// daemonConfig is everything a running daemon needs, validated.
type daemonConfig struct {
	client         isc.Config
	dsn            string
	listen         string
	adminListen    string // status page and /metrics; "": not served
	auth           web.Auth
	api            inviter.API
	batchSize      int
	batchWindow    time.Duration
	notFoundWindow time.Duration
	dirRefresh     time.Duration
	jobTimeout     time.Duration
	rescueAfter    time.Duration
	shutdownWait   time.Duration
	giveUpAfter    time.Duration  // 0: the queue's default
	backoffMax     time.Duration  // 0: the queue's default
	policy         *policy.Policy // nil: everyone, now
	reconcileEvery time.Duration  // 0: no periodic reconcile
	backfillSince  time.Time      // zero: the database's initialisation
	maxReinvites   int
	logger         *slog.Logger
	riverLogger    *slog.Logger // River's own logs; nil: logger
	retain         retention

	// ready, when set, is called with the bound address once the webhook
	// listens.
	ready func(addr string)
	// adminReady, when set, is called with the admin listener's address.
	adminReady func(addr string)
	// onResult, when set, sees every invite result (the demo prints them).
	onResult func(inviter.Result)
	// onDelivery, when set, sees every accepted delivery.
	onDelivery func(ev inviter.IdentityCreated, duplicate bool)
}

// runDaemon runs the service until ctx ends: it migrates the database,
// starts the River workers and serves HTTP. On ctx's end it stops
// accepting deliveries, lets in-flight jobs finish (or hands them back
// after shutdownWait) and closes the database.
func runDaemon(ctx context.Context, cfg daemonConfig) (err error) {
	logger := cfg.logger
	started := time.Now()
	health := newISCHealth(nil)
	if err := checkTenantAtStart(ctx, cfg, health, logger); err != nil {
		return err
	}

	db, err := store.Open(ctx, cfg.dsn, logger)
	if err != nil {
		return fmt.Errorf("opening the database %s (--db, INVITER_DB): %w", redactDSN(cfg.dsn), err)
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
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating the database: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	health.register(reg)

	clientCfg := cfg.client
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
		return &usageError{err}
	}
	var dir *isc.Directory
	if cfg.api == inviter.APICC {
		dir = isc.NewDirectory(client, isc.DirectoryOptions{MinRefresh: cfg.dirRefresh})
	}
	iscInv, err := isc.NewInviter(client, isc.InviterConfig{API: cfg.api, BatchSize: cfg.batchSize, Directory: dir})
	if err != nil {
		return err
	}
	var inv queue.Inviter = iscInv
	if cfg.onResult != nil {
		inv = observedInviter{next: iscInv, onResult: cfg.onResult}
	}

	// Reconcile and re-invite run as one periodic job on the fleet's leader.
	// They enqueue into the queue built below: it is set once New returns.
	rec := &reconcile.Reconciler{ISC: client, DB: db, Policy: cfg.policy, Since: cfg.backfillSince, Logger: logger}
	reinv := &reconcile.Reinviter{ISC: client, DB: db, MaxReinvites: cfg.maxReinvites, Policy: cfg.policy, Logger: logger}
	qcfg := queue.Config{
		API:                  cfg.api,
		BatchSize:            cfg.batchSize,
		BatchWindow:          cfg.batchWindow,
		NotFoundWindow:       cfg.notFoundWindow,
		JobTimeout:           cfg.jobTimeout,
		RescueStuckJobsAfter: cfg.rescueAfter,
		GiveUpAfter:          cfg.giveUpAfter,
		RetryBackoffMax:      cfg.backoffMax,
		StopGrace:            cfg.client.Timeout,
		RiverLogger:          cfg.riverLogger,
		Recheck:              recheck(client, cfg.policy),
		CheckTestDelivery:    checkTestDelivery(client, intake{policy: cfg.policy, logger: logger}),
		RegisterWorkers: func(w *river.Workers) error {
			if err := river.AddWorkerSafely(w, &queue.RetentionWorker{DB: db, Deliveries: cfg.retain.deliveries, Audit: cfg.retain.audit, Logger: logger}); err != nil {
				return err
			}
			return river.AddWorkerSafely(w, &reconcile.ReconcileWorker{Reconciler: rec, Reinviter: reinv, RunTimeout: cfg.rescueAfter * 4 / 5})
		},
	}
	if cfg.reconcileEvery > 0 {
		qcfg.PeriodicJobs = []*river.PeriodicJob{reconcile.PeriodicJob(cfg.reconcileEvery)}
	}
	if cfg.retain.deliveries > 0 || cfg.retain.audit > 0 {
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
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownWait)
		defer cancel()
		if serr := q.Stop(stopCtx); serr != nil && !errors.Is(serr, context.DeadlineExceeded) {
			logger.Error("stopping the queue", "error", serr)
		}
		logger.Info("inviter stopped")
	}()
	go reportQueueDepth(ctx, q)

	webCfg := web.Config{
		Auth:   cfg.auth,
		Intake: intake{q: q, policy: cfg.policy, logger: logger, onDelivery: cfg.onDelivery},
		Ready:  readiness{db: db},
		Status: statusView{db: db, q: q, api: cfg.api, started: started, health: health,
			configProblem: func() string { t, _ := q.ConfigProblem(); return t },
			cutOff:        cfg.backfillSince, retry: retryCommand(cfg.dsn)},
		Metrics:  m,
		Gatherer: reg,
		Logger:   logger,
		Version:  version,
	}
	handler := web.NewServer(webCfg)
	logger.Info("inviter starting", "listen", cfg.listen, "backend", db.Backend(), "api", cfg.api, "isc", redactURL(client.BaseURL()), "webhook_auth", cfg.auth)
	// The admin listener (status page, /metrics) runs beside the webhook's;
	// either failing stops both.
	srvCtx, stopServing := context.WithCancelCause(ctx)
	defer stopServing(nil)
	adminDone := make(chan error, 1)
	if cfg.adminListen == "" {
		adminDone <- nil
	} else {
		go func() {
			aerr := web.ListenAndServe(srvCtx, cfg.adminListen, web.NewAdminServer(webCfg), logger, func(addr string) {
				logger.Info("admin listening (status page, /metrics)", "addr", addr)
				if cfg.adminReady != nil {
					cfg.adminReady(addr)
				}
			})
			if aerr != nil {
				aerr = fmt.Errorf("admin listener (--admin-listen): %w", aerr)
				stopServing(aerr)
			}
			adminDone <- aerr
		}()
	}
	err = web.ListenAndServe(srvCtx, cfg.listen, handler, logger, func(addr string) {
		logger.Info("webhook listening", "addr", addr, "path", "/hooks/identity-created")
		if cfg.ready != nil {
			cfg.ready(addr)
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

// readiness is ready when the database answers, is migrated and takes
// writes (store.DB.Ready: on SQLite also the file still the one opened, and
// the disk not nearly full).
type readiness struct{ db *store.DB }

func (r readiness) Ready(ctx context.Context) error {
	return r.db.Ready(ctx)
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
