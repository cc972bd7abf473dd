package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/isctest"
)

type fakeTenantOptions struct {
	listen      string
	users       int
	tokenTTL    time.Duration
	rate        rateFlag
	visibility  time.Duration
	errorRate   float64
	createEvery time.Duration
	create      int

	ccOrder          string
	listOrder        string
	searchDelay      time.Duration
	searchStatus     string
	listDelay        time.Duration
	routes           []string
	foundingRoutes   bool
	unknownIDs       string
	asyncTasks       bool
	taskDelay        time.Duration
	statuses         []string
	mailableStatuses []string
	sharedEmail      int
	scopes           []string
	ccIgnoresScopes  bool
	ccRemoved        int
	maxURILength     int
	deprecated       []string
	serviceVersioned bool
	noMessageIDs     bool
	taskReadDelay    time.Duration

	faultEndpoints    []string
	redirect          int
	redirectTo        string
	bigBody           int64
	badBody           string
	retryAfter        int
	tooManyRate       float64
	refuseCredentials bool
	unauthorizedRate  float64
}

func newFakeTenantCommand(stdout, stderr io.Writer) *cobra.Command {
	return fakeTenantCommand(&fakeTenantOptions{rate: rateFlag{n: 100, per: 10 * time.Second}}, stdout, stderr)
}

// fakeTenantCommand returns the command, its flags bound to o.
func fakeTenantCommand(o *fakeTenantOptions, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fake-tenant",
		Short: "Run a fake ISC tenant, to try inviter without a tenant",
		Long: `Run the fake ISC tenant that inviter's tests use (package isctest) on its own.
It prints the base URL and the (throwaway) credentials to export, then serves
until interrupted. With --create it also creates new identities over time, and
delivers their Identity Created events to any trigger subscription.`,
		Example: `  inviter fake-tenant --listen 127.0.0.1:8090 --users 5000
  inviter fake-tenant --users 20000 --create 100 --create-every 2s
  inviter fake-tenant --cc-order name --unknown-ids skip --async-tasks
  inviter fake-tenant --scopes idn:identity:read,idn:task-management:read   # no invite right
  inviter fake-tenant --cc-removed 410 --deprecated beta`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8090", "address to serve the fake tenant on")
	fs.IntVar(&o.users, "users", 1000, "identities that exist at start (every tenth unregistered)")
	fs.DurationVar(&o.tokenTTL, "token-ttl", 749*time.Second, "lifetime of the access tokens it issues")
	fs.Var(&o.rate, "rate-limit", "its rate limit per client id and API version, as N/DURATION")
	fs.DurationVar(&o.visibility, "visibility-delay", 2*time.Second, "how long a new identity takes to show in lists")
	fs.Float64Var(&o.errorRate, "error-rate", 0, "fraction of API calls answered 500/502/503")
	fs.IntVar(&o.create, "create", 0, "new identities to create, one every --create-every, once a trigger subscription exists")
	fs.DurationVar(&o.createEvery, "create-every", time.Second, "pause between two new identities")

	fs.StringVar(&o.ccOrder, "cc-order", "created", "order of /cc/api/user/list: created, name or newest")
	fs.StringVar(&o.listOrder, "list-order", "created", "order of the identities list without sorters: created, name or newest")
	fs.DurationVar(&o.listDelay, "list-delay", 0, "how much later than gets and invites a new identity shows in the lists")
	fs.DurationVar(&o.searchDelay, "search-delay", 0, "how much later than lists a new identity shows in the search")
	fs.StringVar(&o.searchStatus, "search-status", "both", "where search documents carry the registration status: both, status or attribute")
	fs.StringVar(&o.unknownIDs, "unknown-ids", "reject", "public invite naming an unknown or not yet visible id: reject (400) or skip (202, task WARNING)")
	fs.BoolVar(&o.asyncTasks, "async-tasks", false, "invite tasks complete after --task-delay (completionStatus null until then)")
	fs.DurationVar(&o.taskDelay, "task-delay", 2*time.Second, "how long an asynchronous invite task takes")
	fs.DurationVar(&o.taskReadDelay, "task-read-delay", 0, "how long after an invite its task status answers 404")
	fs.BoolVar(&o.noMessageIDs, "task-messages-without-ids", false, "the invite task's WARN/ERROR messages name no identity")
	fs.StringSliceVar(&o.statuses, "statuses", nil, "statuses given in turn to the registered --users instead of ACTIVE (e.g. LOCKED,DISABLED,PENDING)")
	fs.StringSliceVar(&o.mailableStatuses, "mailable-statuses", nil, "statuses an invitation is mailed to (default UNREGISTERED)")
	fs.IntVar(&o.sharedEmail, "shared-email", 0, "unregistered --users that share one email address (ISC mails only the first)")
	fs.StringSliceVar(&o.scopes, "scopes", nil, "scopes of the client's tokens (default sp:scopes:all); calls outside them get 403")
	fs.BoolVar(&o.ccIgnoresScopes, "cc-ignores-scopes", false, "the /cc API accepts tokens with any scopes (default: only sp:scopes:all)")
	fs.IntVar(&o.ccRemoved, "cc-removed", 0, "answer every /cc path with this status: 404 or 410 (the /cc API retired)")
	fs.IntVar(&o.maxURILength, "max-uri-length", 0, "answer 414 to request URIs longer than this (e.g. 8192; 0: no limit)")
	fs.StringSliceVar(&o.deprecated, "deprecated", nil, "API versions answered with X-Deprecated: true (e.g. beta,v2024)")
	fs.StringSliceVar(&o.routes, "routes", nil, `serve only these routes (e.g. "POST /beta/identities/invite"); others answer 404`)
	fs.BoolVar(&o.foundingRoutes, "founding-routes", false, "serve only the documented routes inviter was built on (beta invite and task status, v2025 identities, v3 search, beta subscriptions, /cc)")
	fs.BoolVar(&o.serviceVersioned, "service-versioned", false, "also serve /identities/v1/… and /task-status/v1/…")

	fs.StringSliceVar(&o.faultEndpoints, "fault-endpoints", nil, `limit the faults to these routes (e.g. "POST /oauth/token")`)
	fs.IntVar(&o.redirect, "redirect", 0, "answer requests with this 3xx (307 or 308) to --redirect-to")
	fs.StringVar(&o.redirectTo, "redirect-to", "", "the Location of --redirect")
	fs.Int64Var(&o.bigBody, "big-body", 0, "replace every answer body with this many bytes (e.g. 52428800)")
	fs.StringVar(&o.badBody, "bad-body", "", "replace 2xx answer bodies: json (malformed), html or empty")
	fs.IntVar(&o.retryAfter, "retry-after", 0, "Retry-After seconds on every 429 (e.g. 86400)")
	fs.Float64Var(&o.tooManyRate, "too-many-rate", 0, "fraction of API calls answered 429")
	fs.BoolVar(&o.refuseCredentials, "refuse-credentials", false, "the token endpoint refuses the credentials (401 invalid_client)")
	fs.Float64Var(&o.unauthorizedRate, "unauthorized-rate", 0, "fraction of API calls answered 401 even with a fresh token")
	return cmd
}

func (o *fakeTenantOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if o.users < 0 || o.create < 0 || o.errorRate < 0 || o.errorRate > 1 {
		return usagef("--users and --create must not be negative, --error-rate is a fraction from 0 to 1")
	}
	opts, faults, err := o.tenantOptions()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usagef("--listen %s: %v", o.listen, err)
	}
	opts.Logger = newLogger(stderr, false)
	tenant := isctest.NewTenant(opts)
	defer tenant.Close()
	tenant.SetURL("http://" + ln.Addr().String())
	tenant.SetFaults(faults)
	srv := &http.Server{Handler: tenant.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	fmt.Fprintf(stdout, `fake ISC tenant with %d identities at %s
Its credentials are throwaway values, made for this fake tenant only:

  export SAIL_BASE_URL=%s
  export SAIL_CLIENT_ID=%s
  export SAIL_CLIENT_SECRET=%s

Create identities on demand from another terminal (each delivers its
Identity Created event to the trigger subscriptions):

  curl -X POST '%[3]s/isctest/identities?count=5'
  curl -X POST %[3]s/isctest/identities -d '[{"name":"Ada Byrne","email":"ada@example.com"}]'

Other admin endpoints: GET %[3]s/isctest/invites (the invitations sent),
PUT %[3]s/isctest/faults, POST and DELETE %[3]s/isctest/outage.

Press Ctrl-C to stop.
`, o.users, tenant.URL(), tenant.URL(), tenant.ClientID(), tenant.ClientSecret())

	if o.create > 0 {
		fmt.Fprintf(stdout, "--create %d: waiting for a trigger subscription before creating identities (run inviter subscribe)\n", o.create)
		go func() {
			select {
			case <-ctx.Done():
				return
			case <-tenant.SubscriptionCreated():
			}
			fmt.Fprintf(stdout, "a trigger subscription exists: creating %d identities, one every %s\n", o.create, o.createEvery)
			t := time.NewTicker(o.createEvery)
			defer t.Stop()
			for i := 0; i < o.create; i++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				id := tenant.CreateIdentity(isctest.NewIdentity{})
				fmt.Fprintf(stdout, "created identity %s (%s)\n", id.ID, id.Name)
			}
		}()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// tenantOptions turns the variant and fault flags into the tenant's
// options, or returns a usage error naming the flag.
func (o *fakeTenantOptions) tenantOptions() (isctest.Options, isctest.Faults, error) {
	opts := isctest.Options{
		Users: o.users, TokenTTL: o.tokenTTL, RateLimit: o.rate.n, RateWindow: o.rate.per,
		VisibilityDelay: o.visibility, AsyncTasks: o.asyncTasks, TaskDelay: o.taskDelay,
		SharedEmailUsers: o.sharedEmail, Scopes: o.scopes, CCIgnoresScopes: o.ccIgnoresScopes,
		CCRemoved: o.ccRemoved, MaxURILength: o.maxURILength, DeprecatedVersions: o.deprecated,
		ServiceVersioned: o.serviceVersioned, TaskMessagesWithoutIDs: o.noMessageIDs,
		TaskReadDelay: o.taskReadDelay,
	}
	var err error
	if opts.CCOrder, err = isctest.ParseCCOrder(o.ccOrder); err != nil {
		return opts, isctest.Faults{}, usagef("--cc-order: %v", err)
	}
	if opts.ListOrder, err = isctest.ParseCCOrder(o.listOrder); err != nil {
		return opts, isctest.Faults{}, usagef("--list-order: %v", err)
	}
	if o.searchDelay < 0 {
		return opts, isctest.Faults{}, usagef("--search-delay must not be negative")
	}
	opts.SearchDelay = o.searchDelay
	if o.listDelay < 0 {
		return opts, isctest.Faults{}, usagef("--list-delay must not be negative")
	}
	opts.ListDelay = o.listDelay
	switch {
	case o.foundingRoutes && len(o.routes) > 0:
		return opts, isctest.Faults{}, usagef("--routes and --founding-routes exclude each other")
	case o.foundingRoutes:
		opts.Routes = isctest.FoundingRoutes
	default:
		opts.Routes = o.routes
	}
	if opts.SearchStatus, err = isctest.ParseSearchStatusMode(o.searchStatus); err != nil {
		return opts, isctest.Faults{}, usagef("--search-status: %v", err)
	}
	if opts.UnknownIDs, err = isctest.ParseUnknownIDMode(o.unknownIDs); err != nil {
		return opts, isctest.Faults{}, usagef("--unknown-ids: %v", err)
	}
	for flag, list := range map[string][]string{"--statuses": o.statuses, "--mailable-statuses": o.mailableStatuses} {
		for _, st := range list {
			if !slices.Contains(isctest.IdentityStatuses, st) {
				return opts, isctest.Faults{}, usagef("%s: unknown status %q (want one of %s)", flag, st, strings.Join(isctest.IdentityStatuses, ", "))
			}
		}
	}
	opts.StatusMix, opts.MailableStatuses = o.statuses, o.mailableStatuses
	switch {
	case o.sharedEmail < 0:
		return opts, isctest.Faults{}, usagef("--shared-email must not be negative")
	case o.ccRemoved != 0 && o.ccRemoved != 404 && o.ccRemoved != 410:
		return opts, isctest.Faults{}, usagef("--cc-removed must be 404 or 410")
	case o.maxURILength < 0:
		return opts, isctest.Faults{}, usagef("--max-uri-length must not be negative")
	case o.taskReadDelay < 0:
		return opts, isctest.Faults{}, usagef("--task-read-delay must not be negative")
	case o.asyncTasks && o.taskDelay <= 0:
		return opts, isctest.Faults{}, usagef("--task-delay must be positive")
	case o.redirect != 0 && (o.redirect < 300 || o.redirect > 399):
		return opts, isctest.Faults{}, usagef("--redirect must be a 3xx status, such as 307 or 308")
	case o.redirectTo != "" && o.redirect == 0:
		return opts, isctest.Faults{}, usagef("--redirect-to needs --redirect")
	case o.bigBody < 0:
		return opts, isctest.Faults{}, usagef("--big-body must not be negative")
	case o.badBody != "" && o.badBody != isctest.BadBodyJSON && o.badBody != isctest.BadBodyHTML && o.badBody != isctest.BadBodyEmpty:
		return opts, isctest.Faults{}, usagef("--bad-body must be json, html or empty")
	case o.retryAfter < 0:
		return opts, isctest.Faults{}, usagef("--retry-after must not be negative")
	case o.tooManyRate < 0 || o.tooManyRate > 1:
		return opts, isctest.Faults{}, usagef("--too-many-rate is a fraction from 0 to 1")
	case o.unauthorizedRate < 0 || o.unauthorizedRate > 1:
		return opts, isctest.Faults{}, usagef("--unauthorized-rate is a fraction from 0 to 1")
	}
	f := isctest.Faults{
		ErrorRate: o.errorRate, Seed: time.Now().UnixNano(), Endpoints: o.faultEndpoints,
		RedirectStatus: o.redirect, RedirectTo: o.redirectTo, BigBody: o.bigBody, BadBody: o.badBody,
		RetryAfter: o.retryAfter, TooManyRate: o.tooManyRate, RefuseCredentials: o.refuseCredentials,
		UnauthorizedRate: o.unauthorizedRate,
	}
	if o.redirect != 0 {
		f.RedirectRate = 1
	}
	return opts, f, nil
}
