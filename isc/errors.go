package isc

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimitedError is returned when ISC answered 429 Too Many Requests.
// RetryAfter is the wait ISC asked for (from Retry-After, in seconds or as an
// HTTP date); zero when the header was absent or unreadable.
type RateLimitedError struct {
	Endpoint   string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s: rate limited by ISC (retry after %s)", e.Endpoint, e.RetryAfter)
}

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

// IsTransient reports whether err is worth retrying: a TransientError or a
// RateLimitedError.
func IsTransient(err error) bool {
	var t *TransientError
	var r *RateLimitedError
	return errors.As(err, &t) || errors.As(err, &r)
}

// IsPermanent reports whether err is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfter returns the wait a RateLimitedError asks for, and whether err is one.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RateLimitedError
	if errors.As(err, &r) {
		return r.RetryAfter, true
	}
	return 0, false
}

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
