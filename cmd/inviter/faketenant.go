package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
}

func newFakeTenantCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &fakeTenantOptions{rate: rateFlag{n: 100, per: 10 * time.Second}}
	cmd := &cobra.Command{
		Use:   "fake-tenant",
		Short: "Run a fake ISC tenant, to try inviter without a tenant",
		Long: `Run the fake ISC tenant that inviter's tests use (package isctest) on its own.
It prints the base URL and the (throwaway) credentials to export, then serves
until interrupted. With --create it also creates new identities over time, and
delivers their Identity Created events to any trigger subscription.`,
		Example: `  inviter fake-tenant --listen 127.0.0.1:9090 --users 5000
  inviter fake-tenant --users 20000 --create 100 --create-every 2s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9090", "address to serve the fake tenant on")
	fs.IntVar(&o.users, "users", 1000, "identities that exist at start (every tenth unregistered)")
	fs.DurationVar(&o.tokenTTL, "token-ttl", 749*time.Second, "lifetime of the access tokens it issues")
	fs.Var(&o.rate, "rate-limit", "its rate limit per client id and API version, as N/DURATION")
	fs.DurationVar(&o.visibility, "visibility-delay", 2*time.Second, "how long a new identity takes to show in lists")
	fs.Float64Var(&o.errorRate, "error-rate", 0, "fraction of API calls answered 500/502/503")
	fs.IntVar(&o.create, "create", 0, "new identities to create, one every --create-every")
	fs.DurationVar(&o.createEvery, "create-every", time.Second, "pause between two new identities")
	return cmd
}

func (o *fakeTenantOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if o.users < 0 || o.create < 0 || o.errorRate < 0 || o.errorRate > 1 {
		return usagef("--users and --create must not be negative, --error-rate is a fraction from 0 to 1")
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usagef("--listen %s: %v", o.listen, err)
	}
	tenant := isctest.NewTenant(isctest.Options{
		Users: o.users, TokenTTL: o.tokenTTL, RateLimit: o.rate.n, RateWindow: o.rate.per,
		VisibilityDelay: o.visibility, Logger: newLogger(stderr, false),
	})
	defer tenant.Close()
	tenant.SetURL("http://" + ln.Addr().String())
	tenant.SetFaults(isctest.Faults{ErrorRate: o.errorRate, Seed: time.Now().UnixNano()})
	srv := &http.Server{Handler: tenant.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	fmt.Fprintf(stdout, `fake ISC tenant with %d identities at %s
Its credentials are throwaway values, made for this fake tenant only:

  export SAIL_BASE_URL=%s
  export SAIL_CLIENT_ID=%s
  export SAIL_CLIENT_SECRET=%s

Press Ctrl-C to stop.
`, o.users, tenant.URL(), tenant.URL(), tenant.ClientID(), tenant.ClientSecret())

	if o.create > 0 {
		go func() {
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
