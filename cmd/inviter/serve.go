package main

import (
	"context"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/web"
)

// serveOptions are the settings of inviter serve.
type serveOptions struct {
	tenant                        tenantSettings
	db                            dbSettings
	listen                        string
	adminListen                   string
	api                           apiFlag
	batchSize                     int
	batchWindow                   time.Duration
	notFoundWindow                time.Duration
	dirRefresh                    time.Duration
	jobTimeout                    time.Duration
	rescueAfter                   time.Duration
	shutdownWait                  time.Duration
	giveUpAfter                   time.Duration
	retryBackoff                  time.Duration // the cap of the backoff between retries
	retainDeliveries, retainAudit time.Duration
	replicas                      int
	auth                          web.Auth
	policy                        policySettings
	reconcile                     reconcileSettings
}

// dbSettings is the database setting shared by every command that has one.
type dbSettings struct{ dsn string }

func (d *dbSettings) register(fs *pflag.FlagSet) {
	fs.StringVar(&d.dsn, "db", "inviter.db", "database: a SQLite file path, or a postgres:// URL")
	bindEnv(fs, "db", "INVITER_DB")
}

func newServeCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &serveOptions{api: apiFlag{inviter.APIPublic}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: take ISC's Identity Created events and invite",
		Long: `Run the daemon. ISC's Identity Created event trigger posts to
POST /hooks/identity-created; each delivery is stored with its invite job in
one transaction before the 200 answer, and River workers invite in batches.
Also serves GET /healthz and /readyz. The status page (/) and /metrics are
for operators only: they are served on --admin-listen (127.0.0.1:9090 by
default; "off" turns them off), never on --listen.`,
		Example: `  INVITER_WEBHOOK_TOKEN=… inviter serve --listen :8080
  inviter serve --api cc --db /var/lib/inviter/inviter.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(cmd.Flags(), stderr)
			if err != nil {
				return err
			}
			return runApp(cmd.Context(), cfg)
		},
	}
	o.register(cmd.Flags())
	return cmd
}

func (o *serveOptions) register(fs *pflag.FlagSet) {
	o.tenant.register(fs)
	o.db.register(fs)
	fs.StringVar(&o.listen, "listen", ":8080", "address the webhooks and the probes (/healthz, /readyz) listen on")
	bindEnv(fs, "listen", "INVITER_LISTEN")
	fs.StringVar(&o.adminListen, "admin-listen", "127.0.0.1:9090", `address of the status page and /metrics, for operators only ("off" or "": not served)`)
	bindEnv(fs, "admin-listen", "INVITER_ADMIN_LISTEN")
	fs.Var(&o.api, "api", "invite path: public (POST /beta/identities/invite) or cc (legacy /cc API)")
	bindEnv(fs, "api", "INVITER_API")
	fs.IntVar(&o.batchSize, "batch-size", 100, "identities per invite call")
	bindEnv(fs, "batch-size", "INVITER_BATCH_SIZE")
	fs.DurationVar(&o.batchWindow, "batch-window", 250*time.Millisecond, "how long the first identity of a batch waits for others")
	bindEnv(fs, "batch-window", "INVITER_BATCH_WINDOW")
	fs.DurationVar(&o.notFoundWindow, "visibility-delay", 10*time.Minute, "the longest delay before ISC shows a new identity: one it does not show yet is retried this long")
	bindEnv(fs, "visibility-delay", "INVITER_VISIBILITY_DELAY", "INVITER_NOT_FOUND_WINDOW")
	fs.DurationVar(&o.dirRefresh, "directory-refresh", 5*time.Second, "with --api cc: least time between two refreshes of the /cc user index")
	bindEnv(fs, "directory-refresh", "INVITER_DIRECTORY_REFRESH")
	fs.DurationVar(&o.jobTimeout, "job-timeout", 0, "longest one invite job may run (default: sized from --timeout and the calls and retries of an invite: 6m40.75s with the defaults)")
	bindEnv(fs, "job-timeout", "INVITER_JOB_TIMEOUT")
	fs.DurationVar(&o.rescueAfter, "rescue-after", 0, "a job running longer is taken as stuck in a live process and retried (must exceed --job-timeout; default --job-timeout + 1m); a dead process's jobs come back sooner")
	bindEnv(fs, "rescue-after", "INVITER_RESCUE_AFTER")
	fs.DurationVar(&o.retainDeliveries, "retain-deliveries", 30*24*time.Hour, "delivery payloads (personal data) older than this are deleted; 0 keeps them forever")
	bindEnv(fs, "retain-deliveries", "INVITER_RETAIN_DELIVERIES")
	fs.DurationVar(&o.retainAudit, "retain-audit", 400*24*time.Hour, "audit rows older than this are deleted; 0 keeps them forever")
	bindEnv(fs, "retain-audit", "INVITER_RETAIN_AUDIT")
	fs.DurationVar(&o.shutdownWait, "shutdown-wait", 30*time.Second, "on SIGTERM, how long running jobs may finish before they are handed back")
	bindEnv(fs, "shutdown-wait", "INVITER_SHUTDOWN_WAIT")
	fs.DurationVar(&o.giveUpAfter, "give-up-after", 7*24*time.Hour, "how long an invite keeps retrying ISC's transient failures, rate limits and configuration problems before it is failed (default 7 days, the life of an invitation)")
	bindEnv(fs, "give-up-after", "INVITER_GIVE_UP_AFTER")
	fs.DurationVar(&o.retryBackoff, "retry-backoff-max", 5*time.Minute, "longest wait between two retries of a failed invite (jittered)")
	bindEnv(fs, "retry-backoff-max", "INVITER_RETRY_BACKOFF_MAX")
	o.policy.register(fs)
	o.reconcile.register(fs)
	fs.IntVar(&o.replicas, "replicas", 1, "serve replicas sharing the tenant's rate limit: each uses 1/N of --rate-limit")
	bindEnv(fs, "replicas", "INVITER_REPLICAS")
	registerWebhookAuth(fs, &o.auth, "accept deliveries without authentication (testing only)")
}

// config validates the settings and returns the daemon's configuration.
func (o *serveOptions) config(fs *pflag.FlagSet, stderr io.Writer) (app.Config, error) {
	if err := checkListen(settingName(fs, "listen"), o.listen); err != nil {
		return app.Config{}, err
	}
	if err := checkDB(settingName(fs, "db"), o.db.dsn); err != nil {
		return app.Config{}, err
	}
	adminListen := o.adminListen
	if strings.EqualFold(adminListen, "off") {
		adminListen = ""
	}
	if adminListen != "" {
		if err := checkListen(settingName(fs, "admin-listen"), adminListen); err != nil {
			return app.Config{}, err
		}
		if _, port, _ := net.SplitHostPort(adminListen); adminListen == o.listen && port != "0" {
			return app.Config{}, usagef("%s and %s are both %q: the status page must not share the webhook's listener",
				settingName(fs, "admin-listen"), settingName(fs, "listen"), adminListen)
		}
	}
	if o.jobTimeout == 0 {
		o.jobTimeout = app.JobTimeoutFor(o.batchWindow, o.tenant.timeout, serveRetries)
	}
	if o.rescueAfter == 0 {
		o.rescueAfter = o.jobTimeout + time.Minute
	}
	switch {
	case o.retainDeliveries < 0 || o.retainAudit < 0:
		return app.Config{}, usagef("--retain-deliveries (INVITER_RETAIN_DELIVERIES) and --retain-audit (INVITER_RETAIN_AUDIT) must not be negative")
	case o.batchSize <= 0:
		return app.Config{}, usagef("--batch-size (INVITER_BATCH_SIZE) must be positive")
	case o.batchWindow <= 0:
		return app.Config{}, usagef("--batch-window (INVITER_BATCH_WINDOW) must be positive")
	case o.notFoundWindow < 0:
		return app.Config{}, usagef("--visibility-delay (INVITER_VISIBILITY_DELAY) must not be negative")
	case o.jobTimeout <= 0 || o.rescueAfter <= o.jobTimeout:
		return app.Config{}, usagef("--rescue-after (INVITER_RESCUE_AFTER) must exceed --job-timeout (INVITER_JOB_TIMEOUT)")
	case o.replicas <= 0:
		return app.Config{}, usagef("--replicas (INVITER_REPLICAS) must be positive")
	case o.giveUpAfter <= 0:
		return app.Config{}, usagef("--give-up-after (INVITER_GIVE_UP_AFTER) must be positive")
	case o.retryBackoff < time.Second:
		return app.Config{}, usagef("--retry-backoff-max (INVITER_RETRY_BACKOFF_MAX) must be at least 1s")
	case o.db.dsn == "":
		return app.Config{}, usagef("--db (INVITER_DB) is empty")
	}
	auth, authWarnings := o.auth.Normalize()
	if err := auth.Validate(); err != nil {
		return app.Config{}, &usageError{err}
	}
	client, err := o.tenant.clientConfig(nil, serveRetries)
	if err != nil {
		return app.Config{}, err
	}
	logger, riverLogger := o.tenant.logger(stderr)
	client.Logger = logger
	for _, w := range authWarnings {
		logger.Warn(w)
	}
	o.tenant.logCalls(&client, logger)
	// ISC counts the limit per client id, whichever replica calls: each of
	// N replicas keeps to its share, so the fleet never exceeds it.
	if o.replicas > 1 && client.RateLimit > 0 {
		client.RateLimit = max(1, client.RateLimit/o.replicas)
	}
	pol, err := o.policy.build()
	if err != nil {
		return app.Config{}, err
	}
	since, err := o.reconcile.since()
	if err != nil {
		return app.Config{}, err
	}
	if o.reconcile.every < 0 || o.reconcile.maxReinvites < 0 {
		return app.Config{}, usagef("--reconcile-every and --max-reinvites must not be negative")
	}
	return app.Config{
		ISC: client, DB: o.db.dsn, Listen: o.listen, AdminListen: adminListen, Auth: auth, API: o.api.api,
		BatchSize: o.batchSize, BatchWindow: o.batchWindow, VisibilityDelay: o.notFoundWindow,
		DirectoryRefresh: o.dirRefresh, JobTimeout: o.jobTimeout, RescueAfter: o.rescueAfter,
		ShutdownWait: o.shutdownWait, GiveUpAfter: o.giveUpAfter, RetryBackoffMax: o.retryBackoff,
		Policy: pol, ReconcileEvery: o.reconcile.every, BackfillSince: since, MaxReinvites: o.reconcile.maxReinvites,
		RetainDeliveries: o.retainDeliveries, RetainAudit: o.retainAudit,
		Version: version, Logger: logger, RiverLogger: riverLogger,
	}, nil
}

// serveRetries is how many times the daemon's ISC client resends one call
// after a transient failure before the job retries.
const serveRetries = 3

// runApp runs the daemon cfg describes until ctx ends.
func runApp(ctx context.Context, cfg app.Config) error {
	a, err := app.New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
