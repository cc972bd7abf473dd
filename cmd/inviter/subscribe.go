package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/internal/report"
	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/web"
)

type subscribeOptions struct {
	tenant tenantSettings
	auth   web.Auth
	policy policySettings
	url    string
	name   string
	list   bool
	remove bool
	test   bool
	output cliout.Format
}

func newSubscribeCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &subscribeOptions{output: cliout.NewFormat("text", "json")}
	cmd := &cobra.Command{
		Use:   "subscribe --url URL | --list | --remove --url URL | --test",
		Short: "Subscribe the daemon to ISC's event triggers, list, test or remove the subscriptions",
		Long: `Create inviter's trigger subscriptions in ISC, or update them when they exist
(one per trigger and URL: running it twice leaves one): Identity Created, and
Identity Attributes Changed when the policy has rules (an attribute change can
then make an identity eligible). --url is the daemon's public webhook URL,
https://HOST/hooks/identity-created, or just https://HOST. ISC sends the
webhook token (INVITER_WEBHOOK_TOKEN) or basic auth (INVITER_WEBHOOK_USER,
INVITER_WEBHOOK_PASSWORD) that serve checks. Authenticates with the same
settings as serve (SAIL_BASE_URL, SAIL_CLIENT_ID, SAIL_CLIENT_SECRET).
--test asks ISC to send a test event to the subscribers; the status page and
inviter doctor show it arriving.`,
		Example: `  inviter subscribe --url https://inviter.example.com/hooks/identity-created
  inviter subscribe --list
  inviter subscribe --test
  inviter subscribe --remove --url https://inviter.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	o.tenant.register(fs)
	fs.StringVar(&o.url, "url", "", "the daemon's public webhook URL (https://HOST/hooks/identity-created, or https://HOST)")
	bindEnv(fs, "url", "INVITER_PUBLIC_URL")
	fs.StringVar(&o.name, "name", "inviter", "name of the subscriptions in ISC (the trigger's name is added)")
	fs.BoolVar(&o.list, "list", false, "list the tenant's subscriptions to the triggers inviter uses")
	fs.BoolVar(&o.remove, "remove", false, "remove inviter's subscriptions to --url")
	fs.BoolVar(&o.test, "test", false, "ask ISC to send a test event to the subscribers of each trigger inviter uses")
	registerWebhookAuth(fs, &o.auth, "subscribe without webhook authentication (testing only)")
	o.policy.register(fs)
	o.output.Register(cmd)
	return cmd
}

func (o *subscribeOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	n := 0
	for _, b := range []bool{o.list, o.remove, o.test} {
		if b {
			n++
		}
	}
	switch {
	case n > 1:
		return usagef("give one of --list, --remove and --test")
	case n == 0 && o.url == "":
		return usagef("--url (INVITER_PUBLIC_URL) is required: the daemon's public webhook URL, e.g. https://inviter.example.com/hooks/identity-created")
	case o.remove && o.url == "":
		return usagef("--remove needs --url: the webhook URL whose subscriptions to remove")
	}
	pol, err := o.policy.build()
	if err != nil {
		return err
	}
	var targets []subscription.Target
	if o.url != "" {
		if targets, err = hookTargets(o.url, pol.HasRules()); err != nil {
			return err
		}
	}
	if n == 0 {
		if err := o.auth.Validate(); err != nil {
			return &usageError{err}
		}
		if w := subscription.PlainHTTPWarning(targets[0].URL); w != "" {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	_, client, err := tenantClient(ctx, &o.tenant, 3, stderr)
	if err != nil {
		return err
	}
	switch {
	case o.list:
		recs, err := subscription.List(ctx, client)
		if err != nil {
			return err
		}
		return report.Subscriptions(stdout, o.output.String(), recs)
	case o.test:
		sent, err := subscription.Test(ctx, client, subscription.Triggers(pol.HasRules()))
		report.TestEvents(stdout, sent)
		return err
	case o.remove:
		changes, err := subscription.Remove(ctx, client, targets)
		report.SubscriptionChanges(stdout, changes)
		if err == nil && len(changes) == 0 {
			fmt.Fprintf(stdout, "no subscriptions to %s\n", targets[0].URL)
		}
		return err
	}
	res, err := subscription.Upsert(ctx, client, o.name, o.auth, targets)
	report.Subscribed(stdout, res)
	return err
}

// tenantClient returns the validated isc.Config of the tenant settings,
// logging to stderr, and a client of it.
func tenantClient(ctx context.Context, t *tenantSettings, retries int, stderr io.Writer) (isc.Config, *isc.Client, error) {
	cfg, err := t.clientConfig(nil, retries)
	if err != nil {
		return cfg, nil, err
	}
	logger, _ := t.logger(stderr)
	cfg.Logger = logger
	t.logCalls(&cfg, logger)
	c, err := isc.New(ctx, cfg)
	return cfg, c, err
}

// hookTargets is subscription.Targets with a usage error naming --url.
func hookTargets(u string, changes bool) ([]subscription.Target, error) {
	targets, err := subscription.Targets(u, changes)
	switch {
	case errors.Is(err, subscription.ErrURLUser):
		return nil, usagef("--url must not hold a user or password: the webhook's credentials are --webhook-token or --webhook-user/--webhook-password")
	case err != nil:
		return nil, usagef("--url %v", err)
	}
	return targets, nil
}
