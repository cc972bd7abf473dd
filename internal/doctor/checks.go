package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/isc"
)

// forbidden reports whether err is ISC refusing a call for lack of rights.
func forbidden(err error) bool {
	var ae *isc.AuthError
	var pe *isc.PermanentError
	return (errors.As(err, &ae) && ae.Status == http.StatusForbidden) || (errors.As(err, &pe) && pe.Status == http.StatusForbidden)
}

// readProbe makes the harmless read call that shows the token has the
// right of feature name: tested is false when no such call exists.
func (d *doctor) readProbe(ctx context.Context, name string) (tested bool, err error) {
	switch name {
	case "identities read":
		_, _, err = d.cfg.Client.ListIdentities(ctx, isc.ListOptions{Limit: 1})
	case "task status":
		// An id no task has: 404 means the token may read task status.
		_, err = d.cfg.Client.TaskStatus(ctx, "2c9180000000000000000000000d0c70")
		if isc.IsNotFound(err) {
			err = nil
		}
	case "subscriptions":
		_, err = d.cfg.Client.ListSubscriptions(ctx)
	default:
		return false, nil
	}
	return true, err
}

func (d *doctor) checkRights(ctx context.Context, p isc.TokenProbe) {
	broad := isc.HasBroadScope(p.Scopes)
	for _, f := range isc.FeaturesInUse(d.cfg.API, true) {
		check := "rights: " + f.Name
		tested, err := d.readProbe(ctx, f.Name)
		has := broad || slices.ContainsFunc(f.AnyOf, func(s string) bool { return slices.Contains(p.Scopes, s) })
		bad := Fail
		if f.Optional {
			bad = Warn
		}
		fix := fmt.Sprintf("give the personal access token the scope %s (or use one of an ORG_ADMIN user with sp:scopes:all)", f.AnyOf[0])
		switch {
		case tested && forbidden(err):
			d.add(bad, check, "ISC refused a read call: "+err.Error(), fix)
		case !has:
			d.add(bad, check, fmt.Sprintf("the token lacks %s (it has: %s)", strings.Join(f.AnyOf, " or "), strings.Join(p.Scopes, " ")), fix)
		case tested && err != nil:
			d.add(Warn, check, "the read call failed: "+err.Error(), "run inviter doctor again; check the tenant's status")
		case f.Name == "invite" && broad && len(p.Authorities) > 0 &&
			!slices.Contains(p.Authorities, "ORG_ADMIN") && !slices.Contains(p.Authorities, "HELPDESK"):
			d.add(Fail, check, "the token's user levels are "+strings.Join(p.Authorities, " ")+": inviting needs ORG_ADMIN or HELPDESK",
				"use a personal access token of an ORG_ADMIN or HELPDESK user")
		default:
			how := "scope " + scopeShown(p.Scopes, f.AnyOf)
			if tested {
				how += "; a read call succeeded"
			} else if f.Name == "invite" {
				how += "; no harmless call can test it"
			}
			d.add(OK, check, how, "")
		}
	}
}

// scopeShown names the scope that grants a feature.
func scopeShown(have, anyOf []string) string {
	for _, s := range anyOf {
		if slices.Contains(have, s) {
			return s
		}
	}
	for _, s := range isc.BroadScopes {
		if slices.Contains(have, s) {
			return s
		}
	}
	return "unknown (the token names none)"
}

func (d *doctor) checkCC(ctx context.Context) {
	page, err := d.cfg.Client.ListCCUsers(ctx, 0, 1)
	switch {
	case errors.Is(err, isc.ErrCCRemoved):
		d.add(Fail, "/cc API", err.Error(), "use --api public (INVITER_API=public)")
	case forbidden(err):
		d.add(Fail, "/cc API", err.Error(), "the /cc API needs a token of every right: a personal access token of an ORG_ADMIN user (sp:scopes:all)")
	case err != nil:
		d.add(Fail, "/cc API", err.Error(), "check the tenant; --api public avoids the legacy API")
	default:
		d.add(OK, "/cc API", fmt.Sprintf("GET /cc/api/user/list answered (%d users)", page.Total), "")
	}
}

// checkSubscriptions reports whether each trigger in use has an enabled
// subscription, pointing at --url when given.
func (d *doctor) checkSubscriptions(ctx context.Context) bool {
	subs, err := d.cfg.Client.ListSubscriptions(ctx)
	if err != nil {
		d.add(Fail, "subscriptions", "listing them failed: "+err.Error(), "see the rights line above")
		return false
	}
	triggers := subscription.Triggers(d.cfg.Changes)
	ok := true
	for _, t := range triggers {
		check := "subscription: " + subscription.Label(t)
		fix := "run inviter subscribe --url https://HOST/hooks/identity-created"
		if len(d.cfg.Targets) > 0 {
			fix = "run inviter subscribe --url " + d.cfg.Targets[0].URL
		}
		var of []isc.Subscription
		for _, s := range subs {
			if s.TriggerID == t {
				of = append(of, s)
			}
		}
		want := ""
		for _, tg := range d.cfg.Targets {
			if tg.Trigger == t {
				want = tg.URL
			}
		}
		var match *isc.Subscription
		for i, s := range of {
			if s.HTTPConfig != nil && (want == "" || subscription.SameURL(s.HTTPConfig.URL, want)) {
				match = &of[i]
				break
			}
		}
		switch {
		case len(of) == 0:
			d.add(Fail, check, "no subscription: ISC sends these events nowhere", fix)
			ok = false
		case match == nil:
			d.add(Fail, check, fmt.Sprintf("%d subscription(s), none to %s (%s)", len(of), want, subscriptionURLs(of)), fix)
			ok = false
		case !match.Enabled:
			d.add(Fail, check, fmt.Sprintf("subscription %s to %s is disabled", match.ID, match.HTTPConfig.URL), fix+" (it enables the subscription)")
			ok = false
		case want == "":
			d.add(Warn, check, fmt.Sprintf("subscription %s, enabled, to %s", match.ID, match.HTTPConfig.URL), "give --url (INVITER_PUBLIC_URL) to check it is the daemon's public URL")
		default:
			d.add(OK, check, fmt.Sprintf("subscription %s, enabled, to %s", match.ID, match.HTTPConfig.URL), "")
		}
	}
	return ok
}

func subscriptionURLs(subs []isc.Subscription) string {
	var out []string
	for _, s := range subs {
		if s.HTTPConfig != nil {
			out = append(out, s.HTTPConfig.URL)
		}
	}
	return strings.Join(out, ", ")
}

// checkSharedEmails counts unregistered identities that share an email
// address: ISC mails only the first of them.
func (d *doctor) checkSharedEmails(ctx context.Context) {
	byEmail := map[string]int{}
	total, noEmail := 0, 0
	err := d.cfg.Client.EachUnregistered(ctx, func(page []inviter.Identity) error {
		for _, id := range page {
			total++
			e := strings.ToLower(strings.TrimSpace(id.Email))
			if e == "" {
				noEmail++
				continue
			}
			byEmail[e]++
		}
		return nil
	})
	if err != nil {
		d.add(Warn, "shared emails", "listing unregistered identities failed: "+err.Error(), "see the rights lines above")
		return
	}
	shared, addrs := 0, 0
	for _, n := range byEmail {
		if n > 1 {
			shared += n
			addrs++
		}
	}
	detail := fmt.Sprintf("%d unregistered identities", total)
	switch {
	case shared > 0:
		d.add(Warn, "shared emails", fmt.Sprintf("%s; %d of them share %d email addresses: ISC mails only the first identity of each address", detail, shared, addrs),
			"give each identity its own email address in the source, or invite the others once the first registered")
	default:
		d.add(OK, "shared emails", detail+"; no two share an email address", "")
	}
	if noEmail > 0 {
		d.add(Warn, "no email", fmt.Sprintf("%d unregistered identities have no email address: ISC cannot mail them", noEmail), "fill their email attribute in the source")
	}
}

// checkTestEvent asks ISC for a test event and waits for the daemon's
// database to record it as a test delivery.
func (d *doctor) checkTestEvent(ctx context.Context, subsOK bool) {
	const check = "test event"
	switch {
	case d.cfg.DB == nil:
		d.add(Skip, check, "no daemon database", "give --db of the running inviter serve to check that ISC's test event reaches it")
		return
	case !subsOK:
		d.add(Skip, check, "no working subscription to test", "")
		return
	}
	before, _, err := d.cfg.DB.TestDeliveries(ctx)
	if err != nil {
		d.add(Warn, check, err.Error(), "")
		return
	}
	if err := d.cfg.Client.TestInvocation(ctx, isc.TriggerIdentityCreated, nil); err != nil {
		lvl := Fail
		if forbidden(err) {
			lvl = Warn
		}
		d.add(lvl, check, "asking ISC for a test event failed: "+err.Error(), "the token needs sp:trigger-service-invocation-status:manage; or use Test Subscription in ISC's admin UI")
		return
	}
	deadline := time.Now().Add(d.cfg.Wait)
	for {
		n, at, err := d.cfg.DB.TestDeliveries(ctx)
		if err == nil && n > before {
			d.add(OK, check, "ISC's test event reached the daemon at "+at.UTC().Format(time.RFC3339), "")
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.add(Fail, check, fmt.Sprintf("ISC's test event did not reach the daemon within %s", d.cfg.Wait),
				"check that serve runs on this database, that --url reaches it through the proxy (HTTPS), and the webhook token or password of the subscription")
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}
