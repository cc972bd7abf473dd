package isctest

import (
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// Faults makes the tenant misbehave, for testing a client's resilience.
// Each request draws its faults from a generator seeded with Seed, so a
// sequential run is reproducible. Rates are fractions from 0 (never) to 1
// (every request).
//
// A request meets the faults in the order it would at ISC: a reset or a
// delay on the way in (any request, token calls included), then
// authentication and the rate limit, then a 5xx from the service (API
// requests only, not /oauth/token). A reset request does not take a
// rate-limit slot; a 5xx one does.
//
// Note that Go's http.Transport sends an idempotent request (a GET) again
// when a reused connection is reset before any answer, so with resets a
// client may make more calls than it asked for.
type Faults struct {
	// ErrorRate is the fraction of API requests (not /oauth/token) answered
	// 500, 502 or 503, rotating in that order.
	ErrorRate float64
	// SlowRate is the fraction of requests delayed by SlowDelay before they
	// are handled.
	SlowRate float64
	// SlowDelay is the delay of a slow request.
	SlowDelay time.Duration
	// ResetRate is the fraction of requests whose connection is dropped
	// without an answer.
	ResetRate float64
	// Seed seeds the fault generator.
	Seed int64
	// RefuseCredentials makes the token endpoint answer 401
	// invalid_client to every client, as a wrong secret gets.
	RefuseCredentials bool
}

// SetFaults replaces the faults in force and reseeds the generator.
// The zero Faults turns faults off.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(uint64(f.Seed), uint64(f.Seed)^0x9e3779b97f4a7c15))
	s.faultSeq = 0
}

type rolled struct {
	reset     bool
	slow      time.Duration
	errStatus int
}

// rollFaults draws the faults of one request; api reports whether it is
// an API request (which may get a 5xx).
func (s *Server) rollFaults(api bool) rolled {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	var out rolled
	if f.ResetRate > 0 && s.rng.Float64() < f.ResetRate {
		out.reset = true
		return out
	}
	if f.SlowRate > 0 && f.SlowDelay > 0 && s.rng.Float64() < f.SlowRate {
		out.slow = f.SlowDelay
	}
	if api && f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
		out.errStatus = [...]int{500, 502, 503}[s.faultSeq%3]
		s.faultSeq++
	}
	return out
}

// writeFault answers a faulted request.
//
// Inferred: a 500 comes from the service as an ErrorResponseDto; a 502 and
// a 503 come from the load balancer in front of it, as an HTML page and a
// short JSON message.
func writeFault(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusBadGateway:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"))
	case http.StatusServiceUnavailable:
		writeJSON(w, status, map[string]string{"message": "Service Unavailable"})
	default:
		writeError(w, http.StatusInternalServerError, detail500, "An internal fault occurred.")
	}
}

// resetConn drops the connection without answering: the client sees a
// reset (or EOF). When the writer cannot be hijacked it aborts the handler,
// which also closes the connection without an answer.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // send RST, not FIN
	}
	_ = conn.Close()
}

// refuseCredentials reports whether the token endpoint refuses every
// client's credentials (Faults.RefuseCredentials).
func (s *Server) refuseCredentials() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.RefuseCredentials
}
