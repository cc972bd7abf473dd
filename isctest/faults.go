package isctest

import (
	"bytes"
	"cmp"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
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
	// ErrorRate is the fraction of API requests (not /oauth/token, unless
	// Endpoints names it) answered 500, 502 or 503, rotating in that order.
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

	// Endpoints, when set, limits every fault of this Faults to the
	// requests whose route is one of these (as in Call.Endpoint, e.g.
	// "POST /oauth/token", "POST /beta/identities/invite",
	// "GET /v2025/identities"). Empty means every request.
	Endpoints []string
	// RedirectRate is the fraction of requests (token calls included)
	// answered RedirectStatus with Location RedirectTo, before
	// authentication, as a misconfigured proxy or a moved tenant would.
	RedirectRate float64
	// RedirectStatus is the 3xx of a redirect. Default 307.
	RedirectStatus int
	// RedirectTo is the Location of a redirect. Default the same path on
	// http://127.0.0.1:1.
	RedirectTo string
	// BigBody, when positive, replaces the body of every answer with a JSON
	// array of strings of that many bytes, streamed, keeping the status.
	// The call itself takes effect.
	BigBody int64
	// BadBody, when set, replaces the body of every 2xx answer, keeping its
	// status: BadBodyJSON (malformed JSON), BadBodyHTML (an HTML page) or
	// BadBodyEmpty (no body).
	// The call itself takes effect: an invite is sent.
	BadBody string
	// TooManyRate is the fraction of API requests (and of /oauth/token
	// requests, when Endpoints names it) answered 429, as if the rate limit
	// were reached.
	TooManyRate float64
	// RetryAfter, when positive, is the Retry-After (seconds) of every 429,
	// those of the rate limit included, e.g. 86400.
	RetryAfter int
	// UnauthorizedRate is the fraction of API requests answered 401 with a
	// token that is valid and fresh.
	UnauthorizedRate float64
}

// The kinds of Faults.BadBody.
const (
	// BadBodyJSON is a body that starts as JSON and breaks off.
	BadBodyJSON = "json"
	// BadBodyHTML is an HTML page, as a proxy's login or error page.
	BadBodyHTML = "html"
	// BadBodyEmpty is no body at all.
	BadBodyEmpty = "empty"
)

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
	reset        bool
	slow         time.Duration
	errStatus    int
	redirect     int
	location     string
	bigBody      int64
	badBody      string
	tooMany      bool
	retryAfter   int
	unauthorized bool
}

// rollFaults draws the faults of one request to endpoint; api reports
// whether it is an API request (which may get a 5xx, 429 or 401).
func (s *Server) rollFaults(endpoint string, api bool) rolled {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	var out rolled
	if len(f.Endpoints) > 0 && !slices.Contains(f.Endpoints, endpoint) {
		return out
	}
	out.retryAfter = f.RetryAfter
	if f.ResetRate > 0 && s.rng.Float64() < f.ResetRate {
		out.reset = true
		return out
	}
	if f.RedirectRate > 0 && s.rng.Float64() < f.RedirectRate {
		out.redirect = cmp.Or(f.RedirectStatus, http.StatusTemporaryRedirect)
		out.location = f.RedirectTo
		return out
	}
	out.bigBody, out.badBody = f.BigBody, f.BadBody
	// The token endpoint gets 429s and 5xx only when Endpoints names it.
	named := api || len(f.Endpoints) > 0
	if named && f.TooManyRate > 0 && s.rng.Float64() < f.TooManyRate {
		out.tooMany = true
	}
	if api && f.UnauthorizedRate > 0 && s.rng.Float64() < f.UnauthorizedRate {
		out.unauthorized = true
	}
	if f.SlowRate > 0 && f.SlowDelay > 0 && s.rng.Float64() < f.SlowRate {
		out.slow = f.SlowDelay
	}
	if named && f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
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

// writeRedirect answers a redirect fault.
func writeRedirect(w http.ResponseWriter, r *http.Request, status int, location string) {
	if location == "" {
		location = "http://127.0.0.1:1" + r.URL.RequestURI()
	}
	w.Header().Set("Location", location)
	w.WriteHeader(status)
}

// writeTooMany answers 429 with Retry-After seconds.
func writeTooMany(w http.ResponseWriter, seconds int) {
	w.Header().Set("Retry-After", strconv.Itoa(max(seconds, 1)))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": " Rate Limit Exceeded "})
}

// capture is a ResponseWriter that keeps a handler's status, headers and
// body, so that a fault can replace the body.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *capture) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}

// serveReplacingBody runs h and answers its status and headers with the
// body the fault gives: a big one, or a bad one for a 2xx.
func serveReplacingBody(w http.ResponseWriter, r *http.Request, h http.Handler, f rolled) {
	c := &capture{header: make(http.Header)}
	h.ServeHTTP(c, r)
	status := cmp.Or(c.status, http.StatusOK)
	for k, v := range c.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	switch {
	case f.bigBody > 0:
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		writeBigBody(w, f.bigBody)
	case f.badBody == BadBodyHTML && status >= 200 && status < 300:
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Please sign in</h1></body></html>\n")
	case f.badBody == BadBodyEmpty && status >= 200 && status < 300:
		w.Header().Del("Content-Type")
		w.WriteHeader(status)
	case f.badBody != "" && status >= 200 && status < 300:
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"id":"`+newHexID()+`","type":"QUARTZ","completionStatus":`)
	default:
		w.WriteHeader(status)
		_, _ = w.Write(c.body.Bytes())
	}
}

// writeBigBody streams a JSON array of strings of n bytes.
func writeBigBody(w io.Writer, n int64) {
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	// ["xxx…","xxx…",…]: each element costs len(chunk)+3 bytes.
	if n < 4 {
		_, _ = w.Write([]byte("[]")[:min(n, 2)])
		return
	}
	if _, err := io.WriteString(w, `["`); err != nil {
		return
	}
	left := n - 4 // the final "]
	for left > 0 {
		k := min(int64(len(chunk)), left)
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		left -= k
		if left >= 3 {
			if _, err := io.WriteString(w, `","`); err != nil {
				return
			}
			left -= 3
		}
	}
	_, _ = io.WriteString(w, `"]`)
}
