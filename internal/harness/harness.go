// Package harness runs inviter's daemon against a fake ISC tenant in one
// process: the tenant (isctest), the daemon (package app) on a loopback
// listener with its database, the tenant's Identity Created trigger
// subscribed to the daemon's webhook, faults on the tenant, waves of new
// identities, deliveries posted straight to the webhook, and the wait until
// a wave is invited, as the tenant records it. inviter demo, inviter bench
// and end-to-end tests are built on it.
package harness

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/web"
)

// Options configures a Rig. The zero value is usable: every field has a
// documented default.
type Options struct {
	// Users is the number of identities a new tenant has at start
	// (isctest.Options.Users). Unused when Tenant is set.
	Users int
	// Tenant, when set, is the fake tenant the rig uses; Close leaves it
	// open. Default: a new tenant of Users identities with RateLimit, which
	// Close closes.
	Tenant *isctest.Server
	// API is the daemon's invite path. Default inviter.APIPublic.
	API inviter.API
	// DB is the database: a SQLite file path or a postgres:// URL. Default:
	// a SQLite file in a new temporary directory, which Close removes.
	DB string
	// TempPrefix begins the name of that temporary directory. Default
	// "inviter-".
	TempPrefix string
	// Listen is the webhook's address. Default "127.0.0.1:0": a free
	// loopback port, which Rig.Addr reports.
	Listen string
	// AdminListen is the address of the status page and /metrics; "" (the
	// default): not served.
	AdminListen string
	// Token is the bearer token deliveries authenticate with. Default: 24
	// random bytes in hex.
	Token string
	// RateLimit and RateWindow are the rate limit of a new tenant and of
	// the daemon's client, per API version; 0 takes each one's default
	// (100 calls per 10 s).
	RateLimit  int
	RateWindow time.Duration
	// BatchSize is the most identities per invite call. Default 100.
	BatchSize int
	// BatchWindow is how long the first identity of a batch waits for
	// others. Default 250 ms.
	BatchWindow time.Duration
	// DirectoryRefresh is the least time between two refreshes of the /cc
	// user index. Default 5 s.
	DirectoryRefresh time.Duration
	// VisibilityDelay is how long the daemon retries an identity ISC does
	// not show yet. Default 10 min.
	VisibilityDelay time.Duration
	// JobTimeout is the longest one invite job may run. Default 2 min.
	JobTimeout time.Duration
	// RescueAfter is when a running job is taken as stuck; it must exceed
	// JobTimeout. Default 5 min.
	RescueAfter time.Duration
	// ShutdownWait is how long running jobs may finish when the daemon
	// stops. Default 10 s.
	ShutdownWait time.Duration
	// UserAgent is the User-Agent of the daemon's calls to the tenant.
	// Default "inviter-harness".
	UserAgent string
	// Version is the daemon's version (status page, metrics). Default
	// "dev".
	Version string
	// Logger receives the daemon's logs. Default: discarded.
	Logger *slog.Logger
	// OnDelivery and OnResult, when set, see every accepted delivery and
	// every invite result of an in-process daemon (app.Config's fields of
	// the same names). They are called from the daemon's goroutines.
	OnDelivery func(ev inviter.IdentityCreated, duplicate bool)
	OnResult   func(inviter.Result)
	// Launch, when set, starts the daemon in place of the in-process app:
	// inviter bench runs inviter serve as a child process to measure the
	// daemon's own memory. It receives the tenant and the options with
	// every default filled in (DB and Token included); OnDelivery,
	// OnResult, Logger and AdminListen are the launcher's to honour or not.
	Launch func(ctx context.Context, tenant *isctest.Server, o Options) (Daemon, error)
}

// A Daemon is a running inviter daemon a rig delivers to. Its methods are
// safe for concurrent use.
type Daemon interface {
	// Addr returns the webhook listener's address, host:port.
	Addr() string
	// Done returns a channel closed when the daemon has ended, by Stop or
	// on its own.
	Done() <-chan struct{}
	// Stop stops the daemon and waits for its end. It returns the error
	// the daemon ended with, nil after a clean stop; later calls return
	// the same.
	Stop() error
}

// withDefaults fills in the defaults Options documents, except DB.
func (o Options) withDefaults() Options {
	if o.API == "" {
		o.API = inviter.APIPublic
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Token == "" {
		o.Token = NewToken()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.BatchSize == 0 {
		o.BatchSize = 100
	}
	def(&o.BatchWindow, 250*time.Millisecond)
	def(&o.DirectoryRefresh, 5*time.Second)
	def(&o.VisibilityDelay, 10*time.Minute)
	def(&o.JobTimeout, 2*time.Minute)
	def(&o.RescueAfter, 5*time.Minute)
	def(&o.ShutdownWait, 10*time.Second)
	if o.UserAgent == "" {
		o.UserAgent = "inviter-harness"
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// NewTenant returns a new fake tenant of o.Users identities with o's rate
// limit. The caller closes it.
func NewTenant(o Options) *isctest.Server {
	return isctest.NewServer(isctest.Options{Users: o.Users, RateLimit: o.RateLimit, RateWindow: o.RateWindow})
}

// ClientConfig is the configuration of an ISC client of tenant with o's
// rate limit and user agent, resending a call up to 3 times after a
// transient failure: the daemon's client, and an admin's.
func ClientConfig(tenant *isctest.Server, o Options) isc.Config {
	return isc.Config{
		BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(),
		UserAgent: o.UserAgent, RateLimit: o.RateLimit, RateWindow: o.RateWindow, Retries: 3,
	}
}

// StandardFaults are the faults of inviter demo and inviter bench --faults:
// 5 % of API calls answer 5xx and 2 % are reset, from seed 1.
func StandardFaults() isctest.Faults {
	return isctest.Faults{ErrorRate: 0.05, ResetRate: 0.02, Seed: 1}
}

// NewToken returns a random bearer token: 24 random bytes in hex.
func NewToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// A Rig is a fake tenant and a daemon inviting its identities. Its methods
// are safe for concurrent use.
type Rig struct {
	// Tenant is the fake ISC tenant.
	Tenant *isctest.Server

	opts      Options
	daemon    Daemon
	adminAddr string
	cleanup   []func()
}

// Start starts a rig as o describes: the tenant, the database and the
// daemon, listening once Start returns. The tenant has no subscription
// yet: Subscribe makes one. Close releases the rig.
func Start(ctx context.Context, o Options) (_ *Rig, err error) {
	o = o.withDefaults()
	r := &Rig{Tenant: o.Tenant}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.Tenant == nil {
		r.Tenant = NewTenant(o)
		r.cleanup = append(r.cleanup, r.Tenant.Close)
	}
	if o.DB == "" {
		dir, err := os.MkdirTemp("", cmp.Or(o.TempPrefix, "inviter-"))
		if err != nil {
			return nil, err
		}
		r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
		o.DB = filepath.Join(dir, "inviter.db")
	}
	r.opts = o
	if o.Launch != nil {
		r.daemon, err = o.Launch(ctx, r.Tenant, o)
	} else {
		r.daemon, r.adminAddr, err = startApp(ctx, r.Tenant, o)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// appDaemon is the daemon run in this process by package app.
type appDaemon struct {
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

func (d *appDaemon) Addr() string          { return d.addr }
func (d *appDaemon) Done() <-chan struct{} { return d.done }

func (d *appDaemon) Stop() error {
	d.cancel()
	<-d.done
	if errors.Is(d.err, context.Canceled) {
		return nil
	}
	return d.err
}

// startApp runs the daemon in this process and waits until it listens (and
// its admin listener, when it has one).
func startApp(ctx context.Context, tenant *isctest.Server, o Options) (*appDaemon, string, error) {
	ready, adminReady := make(chan string, 1), make(chan string, 1)
	cfg := app.Config{
		ISC: ClientConfig(tenant, o),
		DB:  o.DB, Listen: o.Listen, AdminListen: o.AdminListen, Auth: web.Auth{BearerToken: o.Token}, API: o.API,
		BatchSize: o.BatchSize, BatchWindow: o.BatchWindow, VisibilityDelay: o.VisibilityDelay,
		DirectoryRefresh: o.DirectoryRefresh, JobTimeout: o.JobTimeout, RescueAfter: o.RescueAfter,
		ShutdownWait: o.ShutdownWait, Version: o.Version, Logger: o.Logger,
		Ready:      func(addr string) { ready <- addr },
		AdminReady: func(addr string) { adminReady <- addr },
		OnDelivery: o.OnDelivery, OnResult: o.OnResult,
	}
	a, err := app.New(cfg)
	if err != nil {
		return nil, "", err
	}
	dctx, cancel := context.WithCancel(ctx)
	d := &appDaemon{cancel: cancel, done: make(chan struct{})}
	go func() {
		d.err = a.Run(dctx)
		close(d.done)
	}()
	fail := func(err error) (*appDaemon, string, error) {
		cancel()
		<-d.done
		return nil, "", err
	}
	select {
	case d.addr = <-ready:
	case <-d.done:
		return fail(fmt.Errorf("starting the daemon: %w", d.err))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	var adminAddr string
	if o.AdminListen != "" {
		select {
		case adminAddr = <-adminReady:
		case <-d.done:
			return fail(fmt.Errorf("starting the daemon: %w", d.err))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	return d, adminAddr, nil
}

// Options returns the rig's options with every default filled in.
func (r *Rig) Options() Options { return r.opts }

// Addr returns the daemon's webhook address, host:port.
func (r *Rig) Addr() string { return r.daemon.Addr() }

// AdminAddr returns the in-process daemon's status page address, host:port;
// "" without Options.AdminListen or with Options.Launch.
func (r *Rig) AdminAddr() string { return r.adminAddr }

// WebhookURL returns the URL of the daemon's Identity Created webhook.
func (r *Rig) WebhookURL() string { return "http://" + r.Addr() + "/hooks/identity-created" }

// DB returns the daemon's database: a SQLite file path or a postgres:// URL.
func (r *Rig) DB() string { return r.opts.DB }

// Token returns the bearer token the daemon accepts deliveries with.
func (r *Rig) Token() string { return r.opts.Token }

// ClientConfig is the configuration of an ISC client of the rig's tenant,
// as the daemon's (ClientConfig).
func (r *Rig) ClientConfig() isc.Config { return ClientConfig(r.Tenant, r.opts) }

// Done returns a channel closed when the daemon has ended.
func (r *Rig) Done() <-chan struct{} { return r.daemon.Done() }

// Stop stops the daemon and returns the error it ended with, nil after a
// clean stop; the tenant keeps its records. Later calls return the same.
func (r *Rig) Stop() error { return r.daemon.Stop() }

// Close stops the daemon, closes the tenant the rig made and removes the
// temporary database it made.
func (r *Rig) Close() {
	if r.daemon != nil {
		_ = r.daemon.Stop()
	}
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	r.cleanup = nil
}

// Subscribe subscribes the daemon's webhook to the tenant's Identity
// Created trigger, as an admin would: an enabled HTTP subscription named
// name, SYNC, with the rig's bearer token. The setup's calls count in the
// tenant's records: Tenant.ResetCalls forgets them.
func (r *Rig) Subscribe(ctx context.Context, name string) (isc.Subscription, error) {
	admin, err := isc.New(ctx, r.ClientConfig())
	if err != nil {
		return isc.Subscription{}, err
	}
	sub, err := admin.CreateSubscription(ctx, isc.Subscription{
		Name: name, TriggerID: isc.TriggerIdentityCreated, Type: "HTTP", Enabled: true,
		HTTPConfig: &isc.HTTPConfig{
			URL: r.WebhookURL(), HTTPDispatchMode: "SYNC",
			HTTPAuthenticationType: "BEARER_TOKEN", BearerTokenAuthConfig: &isc.BearerConfig{BearerToken: r.Token()},
		},
	})
	if err != nil {
		return isc.Subscription{}, fmt.Errorf("subscribing the daemon: %w", err)
	}
	return sub, nil
}

// SyncWriter returns w made safe for writes from several goroutines: the
// progress lines of a wave come from the daemon's callbacks.
func SyncWriter(w io.Writer) io.Writer { return &syncWriter{w: w} }

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *syncWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
