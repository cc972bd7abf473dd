package isctest

import (
	"net/http"
	"strings"
	"time"
)

// rateKey is what the rate limit counts by: ISC limits each client id per
// API version. Older SailPoint docs say per access token; docs/isc-api.md
// and the current docs say per client id and version, which is modelled.
//
// Inferred: the OpenAPI documents give only the 429 answer and its
// Retry-After; the 100 requests per 10 s, the keying by client id and
// first path segment (beta, v2025, v3, cc…), the sliding window and the
// whole-second Retry-After come from SailPoint's prose docs or are
// assumed. /oauth/token is not limited.
type rateKey struct {
	clientID string
	version  string
}

// apiVersion returns the first path segment: "beta", "v2025", "v3", "cc"…
func apiVersion(path string) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return v
}

// allow counts the request in its sliding window, or answers 429 with
// Retry-After and reports false. Refused requests do not take a slot.
// retryAfter, when positive, replaces the computed Retry-After.
func (s *Server) allow(w http.ResponseWriter, clientID, path string, retryAfter int) bool {
	s.mu.Lock()
	limit, window := s.rateLimit, s.rateWindow
	if limit < 0 {
		s.mu.Unlock()
		return true
	}
	now := s.now()
	key := rateKey{clientID, apiVersion(path)}
	log := s.windows[key]
	cutoff := now.Add(-window)
	i := 0
	for i < len(log) && !log[i].After(cutoff) {
		i++
	}
	log = log[i:]
	if len(log) < limit {
		s.windows[key] = append(log, now)
		s.mu.Unlock()
		return true
	}
	// The oldest request in the window leaves it at log[0]+window.
	wait := log[0].Add(window).Sub(now)
	s.windows[key] = log
	s.rateLimited++
	s.mu.Unlock()

	secs := int((wait + time.Second - 1) / time.Second)
	if retryAfter > 0 {
		secs = retryAfter
	}
	writeTooMany(w, secs)
	return false
}

// SetRateLimit changes the rate limit: n requests per window for each
// (client id, API version), read as Options.RateLimit and
// Options.RateWindow are (0 means the default, a negative n unlimited).
// Requests already counted stay in their windows.
func (s *Server) SetRateLimit(n int, window time.Duration) {
	n, window = rateDefaults(n, window)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit, s.rateWindow = n, window
}
