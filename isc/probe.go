package isc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
)

// TokenProbe is what one client-credentials token request told: whether
// the tenant answered, whether it issued a token, and with which scopes.
type TokenProbe struct {
	// Reached is false when no HTTP answer came back (DNS, refused
	// connection, timeout).
	Reached bool
	// Status is the HTTP status of the answer; 0 when none.
	Status int
	// Refused is true when the token endpoint refused the credentials
	// (400 or 401, invalid_client and the like).
	Refused bool
	// Scopes are the token's scopes, from the answer's "scope" field and
	// the JWT's scope claim; Authorities its user levels (ORG_ADMIN, …)
	// when the JWT names them.
	Scopes      []string
	Authorities []string
	// Err says what went wrong, without any secret; nil when a token was
	// issued.
	Err error
}

// ProbeToken asks base's /oauth/token for a token with the client
// credentials, once, without following a redirect (the secret is never
// posted anywhere else), and reads the token's scopes. The token itself is
// neither kept nor shown.
func ProbeToken(ctx context.Context, cfg Config, timeout time.Duration) TokenProbe {
	base, clientID, secret := cfg.BaseURL, cfg.ClientID, cfg.ClientSecret
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return TokenProbe{Err: fmt.Errorf("SAIL_BASE_URL %s: %v", redact.URL(base), err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent(cfg))
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return TokenProbe{Err: fmt.Errorf("SAIL_BASE_URL %s does not answer: %v", redact.URL(base), err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p := TokenProbe{Reached: true, Status: resp.StatusCode}
	switch s := resp.StatusCode; {
	case s >= 300 && s < 400:
		p.Err = fmt.Errorf("POST /oauth/token answered %d redirecting to %s: SAIL_BASE_URL must be the tenant's API host (https://TENANT.api.identitynow.com)", s, redact.URL(resp.Header.Get("Location")))
		return p
	case s == http.StatusBadRequest || s == http.StatusUnauthorized || s == http.StatusForbidden:
		p.Refused = true
		p.Err = fmt.Errorf("ISC refused SAIL_CLIENT_ID/SAIL_CLIENT_SECRET (POST /oauth/token answered %d: %s)", s, oauthMessage(body))
		return p
	case s < 200 || s >= 300:
		p.Err = fmt.Errorf("POST /oauth/token answered %d: %s", s, oauthMessage(body))
		return p
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		p.Err = fmt.Errorf("POST /oauth/token answered %d without a token: is SAIL_BASE_URL the tenant's API host?", resp.StatusCode)
		return p
	}
	p.Scopes = strings.Fields(tok.Scope)
	claimScopes, auths := jwtClaims(tok.AccessToken)
	for _, s := range claimScopes {
		if !slices.Contains(p.Scopes, s) {
			p.Scopes = append(p.Scopes, s)
		}
	}
	p.Authorities = auths
	return p
}

// oauthMessage is the error text of a token endpoint's answer.
func oauthMessage(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Message     string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		switch {
		case e.Error != "" && e.Description != "":
			return e.Error + ": " + e.Description
		case e.Error != "":
			return e.Error
		case e.Message != "":
			return e.Message
		}
	}
	return cutLine(string(body), 120)
}

// jwtClaims reads the scope and authorities claims of a JWT, unverified
// (they only inform the operator); nothing when tok is not a JWT.
func jwtClaims(tok string) (scopes, authorities []string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, nil
	}
	var c struct {
		Scope       json.RawMessage `json:"scope"`
		Authorities []string        `json:"authorities"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return nil, nil
	}
	return stringOrList(c.Scope), c.Authorities
}

// stringOrList reads a JSON string of space-separated words or an array
// of strings.
func stringOrList(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.Fields(s)
	}
	return nil
}

// BroadScopes are scopes that grant whatever the user's level allows: the
// token's scopes then say nothing about single rights.
var BroadScopes = []string{"sp:scopes:all", "sp:scopes:default"}

// HasBroadScope reports whether the scopes grant whatever the user's level
// allows (or are unknown: none at all).
func HasBroadScope(have []string) bool {
	return len(have) == 0 || slices.ContainsFunc(have, func(s string) bool { return slices.Contains(BroadScopes, s) })
}

// MissingScopes returns, for each feature whose scopes the token lacks
// (it has none of the feature's alternatives), the scope it needs; nil
// when the token's scopes are broad.
func MissingScopes(have []string, fs []Feature) []string {
	if HasBroadScope(have) {
		return nil
	}
	var out []string
	for _, f := range fs {
		if !slices.ContainsFunc(f.AnyOf, func(s string) bool { return slices.Contains(have, s) }) {
			out = append(out, f.AnyOf[0])
		}
	}
	return out
}

// Feature is something inviter does with ISC, and the OAuth scopes of
// which its calls need one (as SailPoint's OpenAPI documents list them).
type Feature struct {
	// Name says what inviter does ("invite", "search", …).
	Name string
	// AnyOf are the scopes of which the feature's calls need one.
	AnyOf []string
	// Optional is true when inviter works without it, less well.
	Optional bool
}

// FeaturesInUse lists what the settings make inviter call. The /cc API
// has no documented scopes (it needs a token of every right).
func FeaturesInUse(api inviter.API, subscriptions bool) []Feature {
	var fs []Feature
	if api != inviter.APICC {
		fs = append(fs, Feature{Name: "invite", AnyOf: []string{"idn:password-user-invite:manage"}},
			Feature{Name: "task status", AnyOf: []string{"idn:task-management:read", "idn:task-management:write"}})
	}
	fs = append(fs, Feature{Name: "identities read", AnyOf: []string{"idn:identity:read", "idn:identity:manage"}},
		Feature{Name: "search", AnyOf: []string{"sp:search:read"}, Optional: true})
	if subscriptions {
		fs = append(fs, Feature{Name: "subscriptions", AnyOf: []string{"sp:trigger-service-subscriptions:manage"}},
			Feature{Name: "test invocation", AnyOf: []string{"sp:trigger-service-invocation-status:manage"}, Optional: true})
	}
	return fs
}

// RequiredFeatures lists the features the daemon cannot work without.
func RequiredFeatures(api inviter.API) []Feature {
	var out []Feature
	for _, f := range FeaturesInUse(api, false) {
		if !f.Optional {
			out = append(out, f)
		}
	}
	return out
}

// cutLine cuts s to its first line and at most max characters, marking
// a cut with "…"; "-" for an empty s.
func cutLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "-"
	}
	cut := false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s, cut = strings.TrimSpace(s[:i]), true
	}
	if r := []rune(s); len(r) > max {
		s, cut = string(r[:max-1]), true
	}
	if cut {
		s += "…"
	}
	return s
}

func userAgent(cfg Config) string {
	if cfg.UserAgent == "" {
		return "inviter"
	}
	return cfg.UserAgent
}
