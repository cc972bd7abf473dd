package isc

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/inviter/inviter"
)

// RateLimitedError is returned when ISC answered 429 Too Many Requests.
// RetryAfter is the wait ISC asked for (from Retry-After, in seconds or as an
// HTTP date); zero when the header was absent or unreadable.
//
// RetryAfter is capped at Config.MaxRetryAfter; Requested is what ISC asked
// for before the cap (equal to RetryAfter when under it).
type RateLimitedError struct {
	Endpoint   string
	RetryAfter time.Duration
	Requested  time.Duration
}

func (e *RateLimitedError) Error() string {
	if e.Requested > e.RetryAfter {
		return fmt.Sprintf("%s: rate limited by ISC (retry after %s; ISC asked for %s, capped)", e.Endpoint, e.RetryAfter, e.Requested)
	}
	return fmt.Sprintf("%s: rate limited by ISC (retry after %s)", e.Endpoint, e.RetryAfter)
}

// RetryWait returns RetryAfter, making the error an inviter.RateLimited.
func (e *RateLimitedError) RetryWait() time.Duration { return e.RetryAfter }

// RequestedWait returns Requested, or RetryAfter when Requested is unset.
func (e *RateLimitedError) RequestedWait() time.Duration { return max(e.Requested, e.RetryAfter) }

// PermanentError is a 4xx answer other than 401-after-refresh retry and 429:
// sending the same request again will fail the same way.
type PermanentError struct {
	Endpoint   string
	Status     int
	DetailCode string // ISC's ErrorResponseDto.detailCode, when given
	TrackingID string // ISC's ErrorResponseDto.trackingId, when given
	Message    string // the first message text ISC gave, or the status text
}

func (e *PermanentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ISC answered %d", e.Endpoint, e.Status)
	if e.DetailCode != "" {
		fmt.Fprintf(&b, " (%s)", e.DetailCode)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.TrackingID != "" {
		fmt.Fprintf(&b, " [tracking id %s]", e.TrackingID)
	}
	return b.String()
}

// Permanent reports true, making the error an inviter.PermanentFailure.
func (e *PermanentError) Permanent() bool { return true }

// TransientError is a failure that may pass if the request is sent again:
// a 5xx answer, a timeout, a reset connection.
type TransientError struct {
	Endpoint string
	Status   int // 0 when no answer was received
	Err      error
}

func (e *TransientError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: ISC answered %d: %v", e.Endpoint, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Endpoint, e.Err)
}

func (e *TransientError) Unwrap() error { return e.Err }

// Transient reports true, making the error an inviter.TransientFailure.
func (e *TransientError) Transient() bool { return true }

// IsTransient reports whether err is worth retrying: a TransientError or a
// RateLimitedError (inviter.IsTransient).
func IsTransient(err error) bool { return inviter.IsTransient(err) }

// IsPermanent reports whether err is a PermanentError (inviter.IsPermanent).
func IsPermanent(err error) bool { return inviter.IsPermanent(err) }

// RetryAfter returns the wait a RateLimitedError asks for, and whether err
// is one (inviter.RetryAfter).
func RetryAfter(err error) (time.Duration, bool) { return inviter.RetryAfter(err) }

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an
// HTTP date (RFC 9110, section 10.2.3). It returns 0 for an empty or
// unreadable value and never a negative duration.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// IsNotFound reports whether err is a PermanentError with status 404.
func IsNotFound(err error) bool {
	var p *PermanentError
	return errors.As(err, &p) && p.Status == http.StatusNotFound
}

// AuthError is a refusal of inviter's own credentials or rights: a 401 that
// persists after one token refresh, a 403, or the token endpoint refusing
// SAIL_CLIENT_ID/SAIL_CLIENT_SECRET. It is a problem of inviter's
// configuration, not of the identities in the call: sending the same call
// again succeeds once an operator fixes the credentials or their scopes.
type AuthError struct {
	Endpoint string
	Status   int
	Message  string // ISC's message, or what the status means for inviter
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("%s: ISC refused inviter's credentials (%d): %s", e.Endpoint, e.Status, e.Message)
}

// ConfigProblem reports true, making the error an inviter.ConfigFailure.
func (e *AuthError) ConfigProblem() bool { return true }

// RedirectError is a 3xx answer. The client never follows a redirect, so a
// client secret is never posted, and a bearer token never sent, to a place
// other than SAIL_BASE_URL; a redirect usually means SAIL_BASE_URL names the
// wrong host (e.g. the tenant's UI host instead of its API host).
type RedirectError struct {
	Endpoint string
	Status   int
	Location string // the Location header, as sent
}

func (e *RedirectError) Error() string {
	loc := e.Location
	if loc == "" {
		loc = "(no Location header)"
	}
	return fmt.Sprintf("%s: ISC answered %d redirecting to %s; redirects are not followed: check SAIL_BASE_URL", e.Endpoint, e.Status, redactLocation(loc))
}

// ConfigProblem reports true, making the error an inviter.ConfigFailure.
func (e *RedirectError) ConfigProblem() bool { return true }

// redactLocation drops any userinfo from a redirect target before it is
// shown.
func redactLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.User == nil {
		return loc
	}
	u.User = url.User("redacted")
	return u.String()
}

// ErrCCRemoved is matched (errors.Is) by the error of a /cc endpoint that
// answered 404 or 410: the legacy /cc API is gone from the tenant, and only
// the public API (--api public) can invite there.
var ErrCCRemoved error = &configProblemError{"the /cc API is gone from this tenant (SailPoint is retiring it): use --api public"}

// configProblemError is a sentinel error about inviter's configuration.
type configProblemError struct{ msg string }

func (e *configProblemError) Error() string { return e.msg }

// ConfigProblem reports true, making the error an inviter.ConfigFailure.
func (e *configProblemError) ConfigProblem() bool { return true }

// ccRemovedError is the error of a /cc call answered 404 or 410.
type ccRemovedError struct {
	Endpoint string
	Status   int
}

func (e *ccRemovedError) Error() string {
	return fmt.Sprintf("%s: ISC answered %d: %v", e.Endpoint, e.Status, ErrCCRemoved)
}

func (e *ccRemovedError) Unwrap() error { return ErrCCRemoved }

// RouteError is a 404 from a call whose route the tenant does not serve: an
// invite of identities ISC lists, answered 404 with no word of any of
// them. It is a problem of inviter's configuration (the API version
// family, SAIL_BASE_URL), not of the identities: sending them again
// changes nothing until an operator fixes the setting.
type RouteError struct {
	Endpoint string
	Status   int
	Message  string // ISC's message, as given
}

func (e *RouteError) Error() string {
	msg := ""
	if e.Message != "" {
		msg = " (ISC said: " + e.Message + ")"
	}
	return fmt.Sprintf("%s: ISC answered %d although it lists the identities: this tenant does not serve that route; check --api-version (INVITER_API_VERSION) and SAIL_BASE_URL%s", e.Endpoint, e.Status, msg)
}

// ConfigProblem reports true, making the error an inviter.ConfigFailure.
func (e *RouteError) ConfigProblem() bool { return true }

// IsConfigProblem reports whether err is about inviter's configuration
// rather than the identities in the call: an *AuthError, a *RedirectError,
// a *RouteError, or ErrCCRemoved. Such calls succeed unchanged once an operator fixes the
// setting, so callers keep the identities waiting instead of failing them
// (inviter.IsConfigProblem).
func IsConfigProblem(err error) bool { return inviter.IsConfigProblem(err) }

// scopes maps an endpoint name (as in errors and OnCall) to the OAuth scope
// SailPoint's OpenAPI documents list for it.
var scopes = map[string]string{
	"POST /beta/identities/invite":            "idn:password-user-invite:manage",
	"POST /v2025/identities/invite":           "idn:password-user-invite:manage",
	"GET /v2025/identities":                   "idn:identity:read",
	"GET /v2025/identities/{id}":              "idn:identity:read",
	"GET /beta/identities":                    "idn:identity:read",
	"GET /beta/identities/{id}":               "idn:identity:read",
	"GET /beta/task-status/{id}":              "idn:task-management:read",
	"GET /v2025/task-status/{id}":             "idn:task-management:read",
	"POST /v3/search":                         "sp:search:read",
	"POST /v2025/search":                      "sp:search:read",
	"GET /beta/trigger-subscriptions":         "sp:trigger-service-subscriptions:read",
	"POST /beta/trigger-subscriptions":        "sp:trigger-service-subscriptions:manage",
	"DELETE /beta/trigger-subscriptions/{id}": "sp:trigger-service-subscriptions:manage",
	"PUT /beta/trigger-subscriptions/{id}":    "sp:trigger-service-subscriptions:manage",
	"POST /beta/trigger-invocations/test":     "sp:trigger-service-invocation-status:manage",
}

// RequiredScope returns the OAuth scope an endpoint needs (from SailPoint's
// OpenAPI documents), or "" when inviter does not know it.
func RequiredScope(endpoint string) string { return scopes[endpoint] }
