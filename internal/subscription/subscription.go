// Package subscription manages inviter's event trigger subscriptions in ISC:
// which triggers the daemon needs and at which URLs, creating or updating
// them (one per trigger and URL), removing, testing and listing them.
package subscription

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/web"
)

// Paths of the daemon's webhook, one per trigger.
const (
	PathCreated = "/hooks/identity-created"
	PathChanged = "/hooks/identity-attributes-changed"
)

// Description is the description of every subscription inviter makes.
const Description = "inviter invites new identities to register"

// ErrURLUser is the error of Targets for a URL that holds a user or a
// password: the webhook's credentials belong in the subscription's
// authentication instead.
var ErrURLUser = errors.New("the URL holds a user or password")

// Target is one trigger and the URL its events go to.
type Target struct {
	Trigger string
	URL     string
}

// Triggers lists the triggers the daemon uses: Identity Created, and
// Identity Attributes Changed when changes is set (a policy with rules,
// where an attribute change can make an identity eligible).
func Triggers(changes bool) []string {
	out := []string{isc.TriggerIdentityCreated}
	if changes {
		out = append(out, isc.TriggerIdentityAttributesChanged)
	}
	return out
}

// Targets returns the subscriptions a public URL stands for: Identity
// Created at .../hooks/identity-created, and Identity Attributes Changed
// next to it when changes is set. u may be the hook's URL or the bare
// https://HOST[/PREFIX] the daemon is served under. It returns ErrURLUser
// for a URL with a user or password.
func Targets(u string, changes bool) ([]Target, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return nil, fmt.Errorf("%q: want the daemon's public URL, e.g. https://inviter.example.com%s", redact.URL(u), PathCreated)
	}
	if p.User != nil {
		return nil, ErrURLUser
	}
	base := strings.TrimRight(p.Path, "/")
	base = strings.TrimSuffix(strings.TrimSuffix(base, PathCreated), PathChanged)
	at := func(path string) string {
		q := *p
		q.Path = base + path
		return q.String()
	}
	out := []Target{{isc.TriggerIdentityCreated, at(PathCreated)}}
	if changes {
		out = append(out, Target{isc.TriggerIdentityAttributesChanged, at(PathChanged)})
	}
	return out, nil
}

// Label is a trigger's name for people ("Identity Created"); the id
// itself for a trigger inviter does not use.
func Label(trigger string) string {
	switch trigger {
	case isc.TriggerIdentityCreated:
		return "Identity Created"
	case isc.TriggerIdentityAttributesChanged:
		return "Identity Attributes Changed"
	}
	return trigger
}

// SameURL reports whether two webhook URLs are the same, ignoring a
// trailing slash and the case of scheme and host.
func SameURL(a, b string) bool {
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

// PlainHTTPWarning says why an http:// URL other than the loopback will
// not receive ISC's events; "" for https and local URLs.
func PlainHTTPWarning(u string) string {
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

// Subscription is the subscription inviter makes for t: named name plus
// the trigger's label, enabled, delivered synchronously with the webhook
// authentication of auth (a bearer token, else basic auth, else none).
func Subscription(name string, auth web.Auth, t Target) isc.Subscription {
	hc := &isc.HTTPConfig{URL: t.URL, HTTPDispatchMode: "SYNC", HTTPAuthenticationType: "NO_AUTH"}
	switch {
	case auth.BearerToken != "":
		hc.HTTPAuthenticationType = "BEARER_TOKEN"
		hc.BearerTokenAuthConfig = &isc.BearerConfig{BearerToken: strings.TrimSpace(auth.BearerToken)}
	case auth.BasicUser != "":
		hc.HTTPAuthenticationType = "BASIC_AUTH"
		hc.BasicAuthConfig = &isc.BasicAuthConfig{UserName: auth.BasicUser, Password: strings.TrimSpace(auth.BasicPassword)}
	}
	return isc.Subscription{
		Name: name + ": " + Label(t.Trigger), Description: Description,
		TriggerID: t.Trigger, Type: "HTTP", Enabled: true, HTTPConfig: hc,
	}
}

// Matching returns the subscriptions that send t's trigger to t's URL.
func Matching(subs []isc.Subscription, t Target) []isc.Subscription {
	var out []isc.Subscription
	for _, s := range subs {
		if s.TriggerID == t.Trigger && s.HTTPConfig != nil && SameURL(s.HTTPConfig.URL, t.URL) {
			out = append(out, s)
		}
	}
	return out
}

// Elsewhere returns, target by target, the subscriptions that send a
// target's trigger to another URL: ISC delivers each event to every one of
// them, so a second daemon on another database would invite the same
// people again.
func Elsewhere(subs []isc.Subscription, targets []Target) []isc.Subscription {
	var out []isc.Subscription
	for _, t := range targets {
		for _, s := range subs {
			if s.TriggerID == t.Trigger && s.HTTPConfig != nil && !SameURL(s.HTTPConfig.URL, t.URL) {
				out = append(out, s)
			}
		}
	}
	return out
}
