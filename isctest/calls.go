package isctest

import (
	"net/http"
	"time"
)

// Call is one HTTP request the tenant received, recorded before faults,
// authentication and the rate limit are applied, so that tests can count
// exact API calls.
type Call struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path without the query.
	Path string
	// Endpoint is the route the request matched, such as
	// "POST /beta/identities/invite" or "GET /beta/task-status/{id}"
	// (ids replaced by {id}); "METHOD /path" for an unknown route.
	Endpoint string
	// Status is the status code answered: 0 for a reset connection (or
	// while the request is still being answered).
	Status int
	// At is when the request arrived, by the tenant's clock.
	At time.Time
}

func (s *Server) recordCall(r *http.Request, endpoint string) *Call {
	c := &Call{Method: r.Method, Path: r.URL.Path, Endpoint: endpoint, At: s.now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	return c
}

func (s *Server) finishCall(c *Call, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Status = status
}

// Calls returns a copy of the call log, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
	}
	return out
}

// CallCount returns the number of calls to endpoint (as in Call.Endpoint,
// e.g. "POST /beta/identities/invite"); "" counts every call, token calls
// included.
func (s *Server) CallCount(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if endpoint == "" {
		return len(s.calls)
	}
	n := 0
	for _, c := range s.calls {
		if c.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// RateLimited returns the number of 429 answers given since the start or
// the last ResetCalls.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// ResetCalls clears the call log and the 429 count. Invites, deliveries,
// tokens and rate-limit windows are kept.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.rateLimited = 0
}
