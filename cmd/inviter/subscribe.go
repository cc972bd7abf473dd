package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/web"
)

// hook paths of the daemon's webhook, one per trigger.
const (
	hookCreated = "/hooks/identity-created"
	hookChanged = "/hooks/identity-attributes-changed"
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
	output outputFlag
}

func newSubscribeCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &subscribeOptions{output: newOutputFlag("text", "json")}
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
	o.output.register(cmd)
	return cmd
}

// subscriptionTarget is one trigger and the URL its events go to.
type subscriptionTarget struct {
	trigger string
	url     string
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
	var targets []subscriptionTarget
	if o.url != "" {
		if targets, err = hookTargets(o.url, pol.HasRules()); err != nil {
			return err
		}
	}
	if n == 0 {
		if err := o.auth.Validate(); err != nil {
			return &usageError{err}
		}
		if w := plainHTTPWarning(targets[0].url); w != "" {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	client, err := o.client(ctx, stderr)
	if err != nil {
		return err
	}
	triggers := []string{isc.TriggerIdentityCreated}
	if pol.HasRules() {
		triggers = append(triggers, isc.TriggerIdentityAttributesChanged)
	}
	switch {
	case o.list:
		return o.printList(ctx, client, stdout)
	case o.test:
		return testSubscriptions(ctx, client, triggers, stdout)
	case o.remove:
		return removeSubscriptions(ctx, client, targets, stdout)
	}
	return o.upsert(ctx, client, targets, stdout)
}

func (o *subscribeOptions) client(ctx context.Context, stderr io.Writer) (*isc.Client, error) {
	cfg, err := o.tenant.clientConfig(nil, 3)
	if err != nil {
		return nil, err
	}
	logger, _ := o.tenant.logger(stderr)
	cfg.Logger = logger
	o.tenant.logCalls(&cfg, logger)
	return isc.New(ctx, cfg)
}

// hookTargets returns the subscriptions a public URL stands for: Identity
// Created at .../hooks/identity-created, and Identity Attributes Changed
// next to it when changes is set. u may be the hook's URL or the bare
// https://HOST[/PREFIX] the daemon is served under.
func hookTargets(u string, changes bool) ([]subscriptionTarget, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return nil, usagef("--url %q: want the daemon's public URL, e.g. https://inviter.example.com/hooks/identity-created", redact.URL(u))
	}
	if p.User != nil {
		return nil, usagef("--url must not hold a user or password: the webhook's credentials are --webhook-token or --webhook-user/--webhook-password")
	}
	base := strings.TrimRight(p.Path, "/")
	base = strings.TrimSuffix(strings.TrimSuffix(base, hookCreated), hookChanged)
	at := func(path string) string {
		q := *p
		q.Path = base + path
		return q.String()
	}
	out := []subscriptionTarget{{isc.TriggerIdentityCreated, at(hookCreated)}}
	if changes {
		out = append(out, subscriptionTarget{isc.TriggerIdentityAttributesChanged, at(hookChanged)})
	}
	return out, nil
}

// triggerLabel is a trigger's name for people.
func triggerLabel(id string) string {
	switch id {
	case isc.TriggerIdentityCreated:
		return "Identity Created"
	case isc.TriggerIdentityAttributesChanged:
		return "Identity Attributes Changed"
	}
	return id
}

// subscription is what inviter subscribes for target.
func (o *subscribeOptions) subscription(t subscriptionTarget) isc.Subscription {
	hc := &isc.HTTPConfig{URL: t.url, HTTPDispatchMode: "SYNC", HTTPAuthenticationType: "NO_AUTH"}
	switch {
	case o.auth.BearerToken != "":
		hc.HTTPAuthenticationType = "BEARER_TOKEN"
		hc.BearerTokenAuthConfig = &isc.BearerConfig{BearerToken: strings.TrimSpace(o.auth.BearerToken)}
	case o.auth.BasicUser != "":
		hc.HTTPAuthenticationType = "BASIC_AUTH"
		hc.BasicAuthConfig = &isc.BasicAuthConfig{UserName: o.auth.BasicUser, Password: strings.TrimSpace(o.auth.BasicPassword)}
	}
	return isc.Subscription{
		Name:        o.name + ": " + triggerLabel(t.trigger),
		Description: "inviter invites new identities to register",
		TriggerID:   t.trigger, Type: "HTTP", Enabled: true, HTTPConfig: hc,
	}
}

// upsert creates each target's subscription, or updates the one that
// already sends that trigger to that URL (and removes any further copies).
func (o *subscribeOptions) upsert(ctx context.Context, c *isc.Client, targets []subscriptionTarget, w io.Writer) error {
	subs, err := c.ListSubscriptions(ctx)
	if err != nil {
		return fmt.Errorf("listing the trigger subscriptions: %w", err)
	}
	for _, t := range targets {
		want := o.subscription(t)
		same := matching(subs, t)
		if len(same) == 0 {
			got, err := c.CreateSubscription(ctx, want)
			if err != nil {
				return fmt.Errorf("subscribing to %s: %w", triggerLabel(t.trigger), err)
			}
			fmt.Fprintf(w, "created subscription %s: %s -> %s\n", got.ID, triggerLabel(t.trigger), t.url)
			continue
		}
		got, err := c.UpdateSubscription(ctx, same[0].ID, want)
		if err != nil {
			return fmt.Errorf("updating subscription %s: %w", same[0].ID, err)
		}
		fmt.Fprintf(w, "updated subscription %s: %s -> %s\n", got.ID, triggerLabel(t.trigger), t.url)
		for _, extra := range same[1:] {
			if err := c.DeleteSubscription(ctx, extra.ID); err != nil {
				return fmt.Errorf("removing the duplicate subscription %s: %w", extra.ID, err)
			}
			fmt.Fprintf(w, "removed duplicate subscription %s\n", extra.ID)
		}
	}
	warnOtherTargets(subs, targets, w)
	return nil
}

// warnOtherTargets says which other subscriptions send the same triggers
// elsewhere: ISC delivers each event to every one of them, so a second
// daemon on another database would invite the same people again.
func warnOtherTargets(subs []isc.Subscription, targets []subscriptionTarget, w io.Writer) {
	for _, t := range targets {
		for _, s := range subs {
			if s.TriggerID != t.trigger || s.HTTPConfig == nil || sameURL(s.HTTPConfig.URL, t.url) {
				continue
			}
			fmt.Fprintf(w, "warning: subscription %s (%q) also sends %s to %s: ISC delivers every event to each; if that is an old address, remove it with: inviter subscribe --remove --url %s\n",
				s.ID, s.Name, triggerLabel(t.trigger), s.HTTPConfig.URL, s.HTTPConfig.URL)
		}
	}
}

// matching returns the subscriptions that send t's trigger to t's URL.
func matching(subs []isc.Subscription, t subscriptionTarget) []isc.Subscription {
	var out []isc.Subscription
	for _, s := range subs {
		if s.TriggerID == t.trigger && s.HTTPConfig != nil && sameURL(s.HTTPConfig.URL, t.url) {
			out = append(out, s)
		}
	}
	return out
}

// sameURL compares two webhook URLs, ignoring a trailing slash and the
// case of scheme and host.
func sameURL(a, b string) bool {
	norm := func(s string) string {
		p, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return s
		}
		p.Scheme, p.Host = strings.ToLower(p.Scheme), strings.ToLower(p.Host)
		p.Path = strings.TrimRight(p.Path, "/")
		return p.String()
	}
	return norm(a) == norm(b)
}

func removeSubscriptions(ctx context.Context, c *isc.Client, targets []subscriptionTarget, w io.Writer) error {
	subs, err := c.ListSubscriptions(ctx)
	if err != nil {
		return fmt.Errorf("listing the trigger subscriptions: %w", err)
	}
	// Remove both triggers' subscriptions, whatever the policy says now.
	if len(targets) == 1 {
		all, _ := hookTargets(targets[0].url, true)
		targets = all
	}
	n := 0
	for _, t := range targets {
		for _, s := range matching(subs, t) {
			if err := c.DeleteSubscription(ctx, s.ID); err != nil {
				return fmt.Errorf("removing subscription %s: %w", s.ID, err)
			}
			fmt.Fprintf(w, "removed subscription %s: %s -> %s\n", s.ID, triggerLabel(s.TriggerID), t.url)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintf(w, "no subscriptions to %s\n", targets[0].url)
	}
	return nil
}

func testSubscriptions(ctx context.Context, c *isc.Client, triggers []string, w io.Writer) error {
	for _, t := range triggers {
		if err := c.TestInvocation(ctx, t, nil); err != nil {
			return fmt.Errorf("asking ISC for a test %s event: %w", triggerLabel(t), err)
		}
		fmt.Fprintf(w, "ISC is sending a test %s event to its subscribers; the daemon records it as a test delivery (inviter status, the status page)\n", triggerLabel(t))
	}
	return nil
}

// subscriptionRecord is a subscription as JSON shows it (no secrets: ISC
// never returns them).
type subscriptionRecord struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Trigger  string `json:"trigger"`
	Enabled  bool   `json:"enabled"`
	URL      string `json:"url"`
	Dispatch string `json:"dispatch"`
	Auth     string `json:"auth"`
}

func (o *subscribeOptions) printList(ctx context.Context, c *isc.Client, w io.Writer) error {
	subs, err := c.ListSubscriptions(ctx)
	if err != nil {
		return fmt.Errorf("listing the trigger subscriptions: %w", err)
	}
	recs := []subscriptionRecord{}
	for _, s := range subs {
		if s.TriggerID != isc.TriggerIdentityCreated && s.TriggerID != isc.TriggerIdentityAttributesChanged {
			continue
		}
		r := subscriptionRecord{ID: s.ID, Name: s.Name, Trigger: s.TriggerID, Enabled: s.Enabled}
		if hc := s.HTTPConfig; hc != nil {
			r.URL, r.Dispatch, r.Auth = hc.URL, hc.HTTPDispatchMode, hc.HTTPAuthenticationType
		}
		recs = append(recs, r)
	}
	if o.output.format == "json" {
		return writeJSON(w, recs)
	}
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no subscriptions to Identity Created or Identity Attributes Changed (create one with inviter subscribe --url …)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTRIGGER\tENABLED\tURL\tDISPATCH\tAUTH\tNAME")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\t%s\t%s\n", r.ID, triggerLabel(r.Trigger), r.Enabled, dash(r.URL), dash(r.Dispatch), dash(r.Auth), r.Name)
	}
	return tw.Flush()
}

// plainHTTPWarning says why an http:// URL other than the loopback will not
// receive ISC's events; "" for https and local URLs.
func plainHTTPWarning(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return ""
	}
	switch h := p.Hostname(); {
	case h == "localhost", strings.HasPrefix(h, "127."), h == "::1":
		return ""
	}
	return "ISC delivers events over HTTPS only: " + u + " is plain http (put the daemon behind a TLS proxy, docs/deploy.md)"
}
