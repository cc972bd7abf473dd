package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/isctest"
)

// fakeTenantOptions are fake-tenant's flags: most go straight into the
// tenant's options and faults, the rest are read by tenantOptions.
type fakeTenantOptions struct {
	opts        isctest.Options
	faults      isctest.Faults
	listen      string
	rate        rateFlag
	create      int
	createEvery time.Duration

	ccOrder, listOrder, searchStatus, unknownIDs string
	foundingRoutes                               bool
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
	fs.IntVar(&o.opts.Users, "users", 1000, "identities that exist at start (every tenth unregistered)")
	fs.DurationVar(&o.opts.TokenTTL, "token-ttl", 749*time.Second, "lifetime of the access tokens it issues")
	fs.Var(&o.rate, "rate-limit", "its rate limit per client id and API version, as N/DURATION")
	fs.DurationVar(&o.opts.VisibilityDelay, "visibility-delay", 2*time.Second, "how long a new identity takes to show in lists")
	fs.Float64Var(&o.faults.ErrorRate, "error-rate", 0, "fraction of API calls answered 500/502/503")
	fs.IntVar(&o.create, "create", 0, "new identities to create, one every --create-every, once a trigger subscription exists")
	fs.DurationVar(&o.createEvery, "create-every", time.Second, "pause between two new identities")

	fs.StringVar(&o.ccOrder, "cc-order", "created", "order of /cc/api/user/list: created, name or newest")
	fs.StringVar(&o.listOrder, "list-order", "created", "order of the identities list without sorters: created, name or newest")
	fs.DurationVar(&o.opts.ListDelay, "list-delay", 0, "how much later than gets and invites a new identity shows in the lists")
	fs.DurationVar(&o.opts.SearchDelay, "search-delay", 0, "how much later than lists a new identity shows in the search")
	fs.StringVar(&o.searchStatus, "search-status", "both", "where search documents carry the registration status: both, status or attribute")
	fs.StringVar(&o.unknownIDs, "unknown-ids", "reject", "public invite naming an unknown or not yet visible id: reject (400) or skip (202, task WARNING)")
	fs.BoolVar(&o.opts.AsyncTasks, "async-tasks", false, "invite tasks complete after --task-delay (completionStatus null until then)")
	fs.DurationVar(&o.opts.TaskDelay, "task-delay", 2*time.Second, "how long an asynchronous invite task takes")
	fs.DurationVar(&o.opts.TaskReadDelay, "task-read-delay", 0, "how long after an invite its task status answers 404")
	fs.BoolVar(&o.opts.TaskMessagesWithoutIDs, "task-messages-without-ids", false, "the invite task's WARN/ERROR messages name no identity")
	fs.StringSliceVar(&o.opts.StatusMix, "statuses", nil, "statuses given in turn to the registered --users instead of ACTIVE (e.g. LOCKED,DISABLED,PENDING)")
	fs.StringSliceVar(&o.opts.MailableStatuses, "mailable-statuses", nil, "statuses an invitation is mailed to (default UNREGISTERED)")
	fs.IntVar(&o.opts.SharedEmailUsers, "shared-email", 0, "unregistered --users that share one email address (ISC mails only the first)")
	fs.StringSliceVar(&o.opts.Scopes, "scopes", nil, "scopes of the client's tokens (default sp:scopes:all); calls outside them get 403")
	fs.BoolVar(&o.opts.CCIgnoresScopes, "cc-ignores-scopes", false, "the /cc API accepts tokens with any scopes (default: only sp:scopes:all)")
	fs.IntVar(&o.opts.CCRemoved, "cc-removed", 0, "answer every /cc path with this status: 404 or 410 (the /cc API retired)")
	fs.IntVar(&o.opts.MaxURILength, "max-uri-length", 0, "answer 414 to request URIs longer than this (e.g. 8192; 0: no limit)")
	fs.StringSliceVar(&o.opts.DeprecatedVersions, "deprecated", nil, "API versions answered with X-Deprecated: true (e.g. beta,v2024)")
	fs.StringSliceVar(&o.opts.Routes, "routes", nil, `serve only these routes (e.g. "POST /beta/identities/invite"); others answer 404`)
	fs.BoolVar(&o.foundingRoutes, "founding-routes", false, "serve only the documented routes inviter was built on (beta invite and task status, v2025 identities, v3 search, beta subscriptions, /cc)")
	fs.BoolVar(&o.opts.ServiceVersioned, "service-versioned", false, "also serve /identities/v1/… and /task-status/v1/…")

	fs.StringSliceVar(&o.faults.Endpoints, "fault-endpoints", nil, `limit the faults to these routes (e.g. "POST /oauth/token")`)
	fs.IntVar(&o.faults.RedirectStatus, "redirect", 0, "answer requests with this 3xx (307 or 308) to --redirect-to")
	fs.StringVar(&o.faults.RedirectTo, "redirect-to", "", "the Location of --redirect")
	fs.Int64Var(&o.faults.BigBody, "big-body", 0, "replace every answer body with this many bytes (e.g. 52428800)")
	fs.StringVar(&o.faults.BadBody, "bad-body", "", "replace 2xx answer bodies: json (malformed), html or empty")
	fs.IntVar(&o.faults.RetryAfter, "retry-after", 0, "Retry-After seconds on every 429 (e.g. 86400)")
	fs.Float64Var(&o.faults.TooManyRate, "too-many-rate", 0, "fraction of API calls answered 429")
	fs.BoolVar(&o.faults.RefuseCredentials, "refuse-credentials", false, "the token endpoint refuses the credentials (401 invalid_client)")
	fs.Float64Var(&o.faults.UnauthorizedRate, "unauthorized-rate", 0, "fraction of API calls answered 401 even with a fresh token")
	return cmd
}

func (o *fakeTenantOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
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
`, opts.Users, tenant.URL(), tenant.URL(), tenant.ClientID(), tenant.ClientSecret())

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
	return tenant.Serve(ctx, ln)
}

// tenantOptions turns the variant and fault flags into the tenant's
// options, or returns a usage error naming the flag.
func (o *fakeTenantOptions) tenantOptions() (isctest.Options, isctest.Faults, error) {
	opts, f := o.opts, o.faults
	opts.RateLimit, opts.RateWindow = o.rate.n, o.rate.per
	var errs [6]error
	opts.CCOrder, errs[0] = isctest.ParseCCOrder(o.ccOrder)
	opts.ListOrder, errs[1] = isctest.ParseCCOrder(o.listOrder)
	opts.SearchStatus, errs[2] = isctest.ParseSearchStatusMode(o.searchStatus)
	opts.UnknownIDs, errs[3] = isctest.ParseUnknownIDMode(o.unknownIDs)
	errs[4], errs[5] = isctest.CheckStatuses(opts.StatusMix), isctest.CheckStatuses(opts.MailableStatuses)
	for _, c := range []struct {
		bad bool
		msg string
	}{
		{opts.Users < 0 || o.create < 0 || f.ErrorRate < 0 || f.ErrorRate > 1, "--users and --create must not be negative, --error-rate is a fraction from 0 to 1"},
		{errs[0] != nil, fmt.Sprint("--cc-order: ", errs[0])},
		{errs[1] != nil, fmt.Sprint("--list-order: ", errs[1])},
		{opts.SearchDelay < 0, "--search-delay must not be negative"},
		{opts.ListDelay < 0, "--list-delay must not be negative"},
		{o.foundingRoutes && len(opts.Routes) > 0, "--routes and --founding-routes exclude each other"},
		{errs[2] != nil, fmt.Sprint("--search-status: ", errs[2])},
		{errs[3] != nil, fmt.Sprint("--unknown-ids: ", errs[3])},
		{errs[4] != nil, fmt.Sprint("--statuses: ", errs[4])},
		{errs[5] != nil, fmt.Sprint("--mailable-statuses: ", errs[5])},
		{opts.SharedEmailUsers < 0, "--shared-email must not be negative"},
		{opts.CCRemoved != 0 && opts.CCRemoved != 404 && opts.CCRemoved != 410, "--cc-removed must be 404 or 410"},
		{opts.MaxURILength < 0, "--max-uri-length must not be negative"},
		{opts.TaskReadDelay < 0, "--task-read-delay must not be negative"},
		{opts.AsyncTasks && opts.TaskDelay <= 0, "--task-delay must be positive"},
		{f.RedirectStatus != 0 && (f.RedirectStatus < 300 || f.RedirectStatus > 399), "--redirect must be a 3xx status, such as 307 or 308"},
		{f.RedirectTo != "" && f.RedirectStatus == 0, "--redirect-to needs --redirect"},
		{f.BigBody < 0, "--big-body must not be negative"},
		{f.BadBody != "" && f.BadBody != isctest.BadBodyJSON && f.BadBody != isctest.BadBodyHTML && f.BadBody != isctest.BadBodyEmpty, "--bad-body must be json, html or empty"},
		{f.RetryAfter < 0, "--retry-after must not be negative"},
		{f.TooManyRate < 0 || f.TooManyRate > 1, "--too-many-rate is a fraction from 0 to 1"},
		{f.UnauthorizedRate < 0 || f.UnauthorizedRate > 1, "--unauthorized-rate is a fraction from 0 to 1"},
	} {
		if c.bad {
			return opts, f, usagef("%s", c.msg)
		}
	}
	if o.foundingRoutes {
		opts.Routes = isctest.FoundingRoutes
	}
	if f.RedirectStatus != 0 {
		f.RedirectRate = 1
	}
	f.Seed = time.Now().UnixNano()
	return opts, f, nil
}
