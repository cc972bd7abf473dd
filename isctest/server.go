// Package isctest is a fake SailPoint Identity Security Cloud (ISC) tenant,
// in the spirit of net/http/httptest. It is the one stand-in the project has:
// tests, benchmarks and `inviter demo` run against it, so it models the
// documented API (docs/isc-api.md and SailPoint's OpenAPI specs) faithfully:
// OAuth2 client credentials with expiring tokens, the rate limit with 429 and
// Retry-After, offset paging capped at 250, identity ids versus cc short ids,
// eventual consistency of lists, trigger subscriptions with event delivery,
// and injected faults.
//
// Where ISC's behaviour is not documented the fake picks the plausible one
// by default, and offers the other plausible ones as Options (the /cc
// list's order, unknown ids on the invite, asynchronous tasks, statuses,
// scoped tokens, a retired /cc API, a URI limit, deprecation headers…);
// those places carry a comment starting "Inferred:". The zero Options
// behave as the fake always has.
//
// Besides ISC's API, the fake serves admin endpoints under AdminPrefix to
// create identities and set faults from outside, and answers POST
// /v3/search on the identities index.
//
// A Server is safe for concurrent use. It keeps no package-level state.
package isctest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configures a fake tenant. The zero value is usable: every field
// has a documented default.
type Options struct {
	// ClientID and ClientSecret are the client credentials (a personal
	// access token of an ORG_ADMIN) the token endpoint accepts, besides
	// PlainClientID. Defaults "inviter-client" and "inviter-secret".
	ClientID, ClientSecret string
	// PlainClientID and PlainClientSecret, when both are set, are a second
	// client-credentials pair the token endpoint accepts: a plain API
	// client, whose tokens lack the scope idn:password-user-invite:manage
	// (only a personal access token of an ORG_ADMIN or HELPDESK user has
	// it). The public invite calls answer it 403, as ISC does; every other
	// call works as for ClientID. Default: none.
	PlainClientID, PlainClientSecret string
	// TokenTTL is the lifetime of an access token. Default 749s, what ISC gives.
	TokenTTL time.Duration
	// RateLimit is the number of requests allowed per RateWindow for each
	// (client id, API version) pair. Default 100; negative means unlimited.
	RateLimit int
	// RateWindow is the length of the sliding rate-limit window. Default 10s.
	RateWindow time.Duration
	// VisibilityDelay is how long after CreateIdentity a new identity shows
	// in lists and gets and can be invited. Default 0 (at once).
	//
	// Inferred: ISC documents no delay, but its lists are search-backed and
	// eventually consistent, and the Identity Created event can arrive
	// before the identity is readable; the event is delivered at once,
	// before the delay ends.
	VisibilityDelay time.Duration
	// MaxInviteIDs is the number of ids per public invite call above which
	// the call is answered 400. Default 1000.
	//
	// Inferred: ISC does not document a per-call maximum; 1000 matches the
	// documented cap of the "uninvited" form.
	MaxInviteIDs int
	// Users is the number of pre-existing identities created at start, 30
	// days in the past: all registered (ACTIVE) except every 10th, which is
	// UNREGISTERED. No events are delivered for them.
	Users int
	// Logger receives one debug line per request and warnings about
	// deliveries. Default: discard.
	Logger *slog.Logger
	// Now is the tenant's clock (token expiry, rate limit, visibility,
	// timestamps). Default time.Now. Tests may inject a fake clock.
	Now func() time.Time

	// CCOrder is the order of GET /cc/api/user/list. Default
	// CCOrderCreated.
	CCOrder CCOrder
	// ListOrder is the order of GET /…/identities when no sorters are
	// given. Default CCOrderCreated (creation order).
	//
	// Inferred: the specs document sorters but not the order without them.
	ListOrder CCOrder
	// ListDelay is how much later than gets and invites a new identity
	// shows in the lists (GET /…/identities and /cc/api/user/list).
	// Default 0.
	//
	// Inferred: ISC's lists are search-backed; whether they lag behind a
	// get by id is not documented.
	ListDelay time.Duration
	// Sunset, when set, is sent as the Sunset header (an HTTP date) with
	// every X-Deprecated answer.
	//
	// Inferred: RFC 8594's header; SailPoint's documents name neither.
	Sunset time.Time
	// SearchDelay is how much later than lists and gets a new identity
	// shows in the search (the search index lags). Default 0.
	//
	// Inferred: the IdentityDocument's "synced" says a document is queued
	// for the search database with "some delay"; how long is not
	// documented.
	SearchDelay time.Duration
	// SearchStatus is where the search documents carry the registration
	// status. Default SearchStatusBoth.
	SearchStatus SearchStatusMode
	// UnknownIDs is what the public invite does with an id that is unknown
	// or not visible yet. Default UnknownIDsReject.
	UnknownIDs UnknownIDMode
	// AsyncTasks makes invite tasks asynchronous: the 202 and the task
	// status report completionStatus null until TaskDelay has passed, then
	// SUCCESS, WARNING or ERROR. Default false: the task is complete at
	// once.
	AsyncTasks bool
	// TaskDelay is how long an asynchronous task takes, by the tenant's
	// clock. Default 2s.
	TaskDelay time.Duration
	// TaskReadDelay is how long after the invite's 202 its task status
	// answers 404, as if not yet stored. Default 0.
	//
	// Inferred: the specs document the 404 of an unknown task id, not
	// whether a task is readable as soon as the 202 names it.
	TaskReadDelay time.Duration
	// TaskMessagesWithoutIDs makes the invite task's WARN and ERROR
	// messages name no identity: a generic text, parameters null.
	//
	// Inferred: SailPoint documents TaskStatusMessage's shape, not whether
	// the invite task's messages say which identity they are about.
	TaskMessagesWithoutIDs bool
	// StatusMix, when set, gives the registered pre-existing Users these
	// statuses in rotation (values of IdentityStatuses) instead of ACTIVE.
	StatusMix []string
	// MailableStatuses are the statuses an invitation is mailed to.
	// Default {"UNREGISTERED"}.
	//
	// Inferred: ISC documents the invite for unregistered identities; what
	// it does for PENDING, LOCKED… is not documented, so it is selectable.
	MailableStatuses []string
	// SharedEmailUsers makes that many of the unregistered pre-existing
	// Users share one email address; ISC mails only the first of them.
	SharedEmailUsers int
	// Scopes are the scopes of ClientID's tokens. Default (nil)
	// "sp:scopes:all", which every endpoint accepts.
	Scopes []string
	// Clients are further client-credentials pairs, each with its scopes.
	Clients []Client
	// CCIgnoresScopes lets the /cc endpoints accept any token. By default
	// they require a token with "sp:scopes:all".
	//
	// Inferred: the /cc API predates scopes; SailPoint documents no scope
	// for it, so a token restricted to named scopes is refused 403 by
	// default, and this option models the opposite.
	CCIgnoresScopes bool
	// CCRemoved, when 404 or 410, answers every /cc path with that status:
	// the /cc API is retired.
	CCRemoved int
	// MaxURILength, when positive, answers 414 to a request whose URI
	// (path and query) is longer. 8192 models ISC's gateway.
	MaxURILength int
	// DeprecatedVersions are the first path segments ("beta", "v2024", …)
	// whose answers carry the header X-Deprecated: true.
	//
	// Inferred: the published specs mark single operations deprecated
	// ("deprecated: true", none of those inviter calls) and SailPoint's
	// versioning page gives deprecated versions an end of life, but no
	// document names the answer's header; X-Deprecated: true is modelled,
	// for whole versions or, with DeprecatedEndpoints, single routes.
	DeprecatedVersions []string
	// DeprecatedEndpoints are routes (as Call.Endpoint) whose answers
	// carry X-Deprecated: true.
	DeprecatedEndpoints []string
	// Routes, when set, are the only routes served (as Call.Endpoint
	// names them, e.g. "POST /beta/identities/invite"); every other path
	// is answered 404 as an unknown one. /oauth/token is always served.
	// FoundingRoutes is the set of SailPoint's documented paths inviter
	// was built on.
	Routes []string
	// ServiceVersioned also serves the per-service version family
	// (/identities/v1/…, /task-status/v1/…).
	ServiceVersioned bool
}

const (
	defaultClientID     = "inviter-client"
	defaultClientSecret = "inviter-secret"
	defaultTokenTTL     = 749 * time.Second
	defaultRateLimit    = 100
	defaultRateWindow   = 10 * time.Second
	defaultMaxInviteIDs = 1000
	deliveryTimeout     = 10 * time.Second
	defaultTaskDelay    = 2 * time.Second
)

func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = defaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = defaultClientSecret
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = defaultTokenTTL
	}
	o.RateLimit, o.RateWindow = rateDefaults(o.RateLimit, o.RateWindow)
	if o.VisibilityDelay < 0 {
		o.VisibilityDelay = 0
	}
	if o.MaxInviteIDs <= 0 {
		o.MaxInviteIDs = defaultMaxInviteIDs
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AsyncTasks && o.TaskDelay <= 0 {
		o.TaskDelay = defaultTaskDelay
	}
	for _, st := range append(slices.Clone(o.StatusMix), o.MailableStatuses...) {
		if !validStatus(st) {
			panic(fmt.Sprintf("isctest: unknown identity status %q", st))
		}
	}
	return o
}

func rateDefaults(n int, window time.Duration) (int, time.Duration) {
	if n == 0 {
		n = defaultRateLimit
	}
	if window <= 0 {
		window = defaultRateWindow
	}
	return n, window
}

// Server is a fake ISC tenant. Create one with NewServer (started on a
// loopback port) or NewTenant (serve Handler on your own listener).
type Server struct {
	opts     Options
	mux      *http.ServeMux
	handler  http.Handler
	httpSrv  *httptest.Server // nil for NewTenant
	tenantID string

	deliverCtx    context.Context
	cancelDeliver context.CancelFunc
	deliverWG     sync.WaitGroup
	transport     *http.Transport
	closeOnce     sync.Once

	mu          sync.Mutex
	url         string
	rateLimit   int
	rateWindow  time.Duration
	windows     map[rateKey][]time.Time
	tokens      map[string]token
	faults      Faults
	rng         *rand.Rand
	faultSeq    int
	identities  []*identity // creation order
	byID        map[string]*identity
	byCCID      map[string]*identity
	nextCCID    int
	invites     []Invite
	tasks       map[string]*task
	calls       []*Call
	rateLimited int
	subs        []*Subscription // creation order
	closed      bool            // no new deliveries start once set
	deliveries  []Delivery
	delivered   chan struct{} // closed and replaced on every delivery
	invited     chan struct{} // closed and replaced on every invitation mail

	byName       []*identity // sorted by compareByName when CCOrder is CCOrderName
	listGen      int         // changes whenever an identity is added or byName re-sorted
	ordered      map[CCOrder]*orderedList
	bulk         bool // createUsers is adding: sort byName once at the end
	firstByEmail map[string]*identity
	clients      map[string]Client
	firstSub     chan struct{} // closed when the first subscription is created
	subscribed   bool          // firstSub is closed
	admin        *http.ServeMux
	outage       outage
	listener     *switchListener // nil for NewTenant
}

// NewServer returns a fake tenant listening on 127.0.0.1 on a free port.
// The caller must Close it.
func NewServer(opts Options) *Server {
	s := NewTenant(opts)
	s.httpSrv = httptest.NewUnstartedServer(s.handler)
	s.listener = newSwitchListener(s.httpSrv.Listener)
	s.httpSrv.Listener = s.listener
	s.httpSrv.Start()
	s.SetURL(s.httpSrv.URL)
	return s
}

// NewTenant returns a fake tenant that is not listening: serve Handler on
// your own listener and tell it its address with SetURL. The caller must
// Close it to stop event deliveries in flight.
func NewTenant(opts Options) *Server {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:          opts,
		tenantID:      newUUID(),
		deliverCtx:    ctx,
		cancelDeliver: cancel,
		transport:     http.DefaultTransport.(*http.Transport).Clone(),
		rateLimit:     opts.RateLimit,
		rateWindow:    opts.RateWindow,
		windows:       make(map[rateKey][]time.Time),
		tokens:        make(map[string]token),
		rng:           rand.New(rand.NewPCG(0, 0)),
		byID:          make(map[string]*identity),
		byCCID:        make(map[string]*identity),
		nextCCID:      100000,
		tasks:         make(map[string]*task),
		delivered:     make(chan struct{}),
		invited:       make(chan struct{}),
		firstByEmail:  make(map[string]*identity),
		clients:       make(map[string]Client),
		firstSub:      make(chan struct{}),
	}
	if opts.CCOrder == CCOrderName || opts.ListOrder == CCOrderName {
		s.byName = []*identity{}
	}
	s.clients[opts.ClientID] = Client{ID: opts.ClientID, Secret: opts.ClientSecret, Scopes: opts.Scopes}
	for _, c := range opts.Clients {
		s.clients[c.ID] = c
	}
	s.mux = s.routes()
	s.admin = s.adminRoutes()
	s.handler = http.HandlerFunc(s.serve)
	s.createUsers(opts.Users)
	return s
}

// Handler returns the tenant's HTTP handler: every route of the fake API
// behind call recording, faults, authentication and the rate limit.
func (s *Server) Handler() http.Handler { return s.handler }

// URL returns the tenant's base URL, such as "http://127.0.0.1:41234", with
// no trailing slash. It is empty for a NewTenant until SetURL is called.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// SetURL sets the base URL that URL reports (for a NewTenant served on
// your own listener). A trailing slash is dropped.
func (s *Server) SetURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.url = strings.TrimRight(u, "/")
}

// Close stops event deliveries in flight, waits for them and, for a
// NewServer, shuts the listener down (slow faulted requests are cut short).
// Close is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancelDeliver()
		if s.httpSrv != nil {
			s.httpSrv.Close()
		}
		s.deliverWG.Wait()
		s.transport.CloseIdleConnections()
	})
}

// ClientID returns the client id the token endpoint accepts.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the client secret the token endpoint accepts.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

func (s *Server) now() time.Time { return s.opts.Now() }

// serve is the pipeline in front of the routes, in the order a request
// meets them at ISC: the network (resets, slowness), the gateway
// (authentication, rate limit), then the service (5xx faults, the route).
// The call is recorded first so that every request is counted.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		s.admin.ServeHTTP(w, r)
		return
	}
	_, pattern := s.mux.Handler(r)
	if len(s.opts.Routes) > 0 && pattern != "POST /oauth/token" && !slices.Contains(s.opts.Routes, pattern) {
		pattern = "" // not served by this tenant: answered as an unknown path
	}
	endpoint := pattern
	if pattern == "" || pattern == "/" {
		endpoint = r.Method + " " + r.URL.Path
	}
	call := s.recordCall(r, endpoint)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.finishCall(call, sw.status)
		s.opts.Logger.Debug("isctest request", "method", r.Method, "path", r.URL.Path, "status", sw.status)
	}()

	if s.opts.MaxURILength > 0 && len(r.RequestURI) > s.opts.MaxURILength {
		writeURITooLong(sw)
		return
	}
	switch s.outageNow() {
	case OutageErrors:
		writeJSON(sw, http.StatusServiceUnavailable, map[string]string{"message": "Service Unavailable"})
		return
	case OutageRefused:
		resetConn(sw)
		return
	}
	if slices.Contains(s.opts.DeprecatedVersions, apiVersion(r.URL.Path)) || slices.Contains(s.opts.DeprecatedEndpoints, endpoint) {
		sw.Header().Set("X-Deprecated", "true")
		if !s.opts.Sunset.IsZero() {
			sw.Header().Set("Sunset", s.opts.Sunset.UTC().Format(http.TimeFormat))
		}
	}
	isToken := r.URL.Path == "/oauth/token"
	f := s.rollFaults(endpoint, !isToken)
	if f.reset {
		resetConn(w)
		return
	}
	if f.redirect != 0 {
		writeRedirect(sw, r, f.redirect, f.location)
		return
	}
	if f.slow > 0 {
		t := time.NewTimer(f.slow)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.deliverCtx.Done():
			t.Stop()
		}
	}
	route := http.Handler(s.mux)
	if pattern == "" {
		route = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, detail404, "The server did not find a current representation for the target resource.")
		})
	}
	if f.bigBody > 0 || f.badBody != "" {
		route = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveReplacingBody(w, r, s.mux, f) })
	}
	if isToken {
		switch {
		case f.tooMany:
			s.countRateLimited()
			writeTooMany(sw, cmp.Or(f.retryAfter, 1))
		case f.errStatus != 0:
			writeFault(sw, f.errStatus)
		default:
			route.ServeHTTP(sw, r)
		}
		return
	}
	if s.opts.CCRemoved != 0 && strings.HasPrefix(r.URL.Path, "/cc/") {
		writeCCRemoved(sw, s.opts.CCRemoved)
		return
	}
	tok, ok := s.authenticate(sw, r)
	if !ok {
		return
	}
	if f.unauthorized {
		// Inferred: the wording of a token ISC no longer accepts.
		writeJSON(sw, http.StatusUnauthorized, map[string]string{"error": "JWT validation failed: JWT is invalid"})
		return
	}
	clientID := tok.clientID
	if !s.allow(sw, clientID, r.URL.Path, f.retryAfter) {
		return
	}
	if f.tooMany {
		s.countRateLimited()
		writeTooMany(sw, cmp.Or(f.retryAfter, 1))
		return
	}
	if !s.authorized(tok, r.Method, endpoint) {
		writeForbidden(sw)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), clientKey{}, clientID))
	if f.errStatus != 0 {
		writeFault(sw, f.errStatus)
		return
	}
	route.ServeHTTP(sw, r)
}

// countRateLimited counts a 429 answered by a fault.
func (s *Server) countRateLimited() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimited++
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientKey is the context key of the authenticated client id.
type clientKey struct{}

// clientFrom returns the client id that authenticated r.
func clientFrom(r *http.Request) string {
	id, _ := r.Context().Value(clientKey{}).(string)
	return id
}
