package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Auth is how ISC authenticates its webhook deliveries: a bearer token
// (INVITER_WEBHOOK_TOKEN), HTTP Basic credentials (INVITER_WEBHOOK_USER and
// INVITER_WEBHOOK_PASSWORD), or both, in which case either is accepted.
// Insecure (--insecure-no-auth) accepts unauthenticated deliveries, but only
// when no credentials are configured; configured credentials are always
// required.
//
// Auth's String and LogValue redact the secrets, so it is safe to print or log.
type Auth struct {
	BearerToken   string
	BasicUser     string
	BasicPassword string
	Insecure      bool
}

// MinSecretLen is the shortest webhook token or password Validate accepts,
// in bytes.
const MinSecretLen = 16

// Normalize returns a with the surrounding white space of the token, the
// user and the password removed (a secret read from a file often ends in a
// newline, which the sender does not send), and one warning per setting it
// trimmed, naming the setting but never showing the secret.
func (a Auth) Normalize() (Auth, []string) {
	var warnings []string
	trim := func(v *string, setting string) {
		if t := strings.TrimSpace(*v); t != *v {
			*v = t
			warnings = append(warnings, setting+" had white space around it (such as a trailing newline); it was removed")
		}
	}
	trim(&a.BearerToken, "INVITER_WEBHOOK_TOKEN (--webhook-token)")
	trim(&a.BasicUser, "INVITER_WEBHOOK_USER (--webhook-user)")
	trim(&a.BasicPassword, "INVITER_WEBHOOK_PASSWORD (--webhook-password)")
	return a, warnings
}

// Validate reports a configuration mistake, naming the setting to fix: no
// credentials without Insecure, only one half of the Basic pair, or a token
// or password shorter than MinSecretLen bytes without its surrounding white
// space (which Normalize removes; serve it the normalized Auth).
func (a Auth) Validate() error {
	switch {
	case a.BearerToken != "" && len(strings.TrimSpace(a.BearerToken)) < MinSecretLen:
		return fmt.Errorf("INVITER_WEBHOOK_TOKEN (--webhook-token) is %d bytes long; use at least %d (for example: openssl rand -hex 24)", len(strings.TrimSpace(a.BearerToken)), MinSecretLen)
	case a.BasicPassword != "" && len(strings.TrimSpace(a.BasicPassword)) < MinSecretLen:
		return fmt.Errorf("INVITER_WEBHOOK_PASSWORD (--webhook-password) is %d bytes long; use at least %d (for example: openssl rand -hex 24)", len(strings.TrimSpace(a.BasicPassword)), MinSecretLen)
	case a.BasicUser != "" && a.BasicPassword == "":
		return errors.New("INVITER_WEBHOOK_USER is set but INVITER_WEBHOOK_PASSWORD is empty")
	case a.BasicUser == "" && a.BasicPassword != "":
		return errors.New("INVITER_WEBHOOK_PASSWORD is set but INVITER_WEBHOOK_USER is empty")
	case strings.Contains(a.BasicUser, ":"):
		return errors.New("INVITER_WEBHOOK_USER must not contain ':' (HTTP Basic cannot carry it)")
	case a.BearerToken == "" && a.BasicUser == "" && !a.Insecure:
		return errors.New("webhook authentication is not configured: set INVITER_WEBHOOK_TOKEN, " +
			"or INVITER_WEBHOOK_USER and INVITER_WEBHOOK_PASSWORD, " +
			"or pass --insecure-no-auth to accept unauthenticated deliveries")
	}
	return nil
}

// String describes a without its secrets.
func (a Auth) String() string {
	var modes []string
	if a.BearerToken != "" {
		modes = append(modes, "bearer")
	}
	if a.BasicUser != "" || a.BasicPassword != "" {
		modes = append(modes, "basic")
	}
	if len(modes) == 0 {
		if a.Insecure {
			return "none (insecure)"
		}
		return "none"
	}
	return strings.Join(modes, "+")
}

// LogValue implements slog.LogValuer, logging a without its secrets.
func (a Auth) LogValue() slog.Value {
	return slog.StringValue(a.String())
}

// authenticator checks webhook requests against an Auth. It keeps only
// SHA-256 hashes of the secrets so that comparisons take the same time
// whatever the length or content of the candidate.
type authenticator struct {
	bearer     *[sha256.Size]byte // nil: bearer not configured
	user, pass *[sha256.Size]byte // nil: basic not configured
	insecure   bool
	challenges []string // WWW-Authenticate values
}

func newAuthenticator(a Auth) authenticator {
	var au authenticator
	if a.BearerToken != "" {
		h := sha256.Sum256([]byte(a.BearerToken))
		au.bearer = &h
		au.challenges = append(au.challenges, `Bearer realm="inviter"`)
	}
	// Basic needs both halves; a half-configured pair is rejected by
	// Validate and here simply stays off (fail closed).
	if a.BasicUser != "" && a.BasicPassword != "" {
		u, p := sha256.Sum256([]byte(a.BasicUser)), sha256.Sum256([]byte(a.BasicPassword))
		au.user, au.pass = &u, &p
		au.challenges = append(au.challenges, `Basic realm="inviter", charset="UTF-8"`)
	}
	if len(au.challenges) == 0 {
		au.insecure = a.Insecure
		au.challenges = []string{`Bearer realm="inviter"`}
	}
	return au
}

// check reports whether r carries acceptable credentials; when it does not,
// reason says why in one line fit for the client (never the credentials).
func (au authenticator) check(r *http.Request) (reason string, ok bool) {
	if au.bearer == nil && au.user == nil {
		if au.insecure {
			return "", true
		}
		return "webhook authentication is not configured", false
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return "missing Authorization header", false
	}
	scheme, cred, _ := strings.Cut(header, " ")
	switch {
	case au.bearer != nil && strings.EqualFold(scheme, "Bearer"):
		if equalHash(au.bearer, strings.TrimSpace(cred)) == 1 {
			return "", true
		}
		return "wrong bearer token", false
	case au.user != nil && strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "malformed Basic credentials", false
		}
		// Compare both halves, always, and say only that the pair is wrong.
		if equalHash(au.user, user)&equalHash(au.pass, pass) == 1 {
			return "", true
		}
		return "wrong user or password", false
	}
	return "unsupported authorization scheme", false
}

// challenge sets the WWW-Authenticate headers a 401 answer needs.
func (au authenticator) challenge(w http.ResponseWriter) {
	for _, c := range au.challenges {
		w.Header().Add("WWW-Authenticate", c)
	}
}

// equalHash compares the SHA-256 of candidate with want in constant time,
// returning 1 when they are equal and 0 otherwise.
func equalHash(want *[sha256.Size]byte, candidate string) int {
	got := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(want[:], got[:])
}
