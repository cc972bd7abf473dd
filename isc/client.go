// Package isc is a thin client for the parts of the SailPoint Identity
// Security Cloud (ISC) API that inviter uses: OAuth2 client credentials, the
// public and legacy (/cc) invite calls, identity lists, task status and event
// trigger subscriptions.
//
// A Client rate-limits itself per API version, refreshes its token before it
// expires (and once more on a 401), never follows a redirect, reads at most
// Config.MaxAnswerBytes of an answer, and returns typed errors:
// *RateLimitedError, *PermanentError, *TransientError, and for problems of
// inviter's own configuration *AuthError, *RedirectError and ErrCCRemoved
// (see IsConfigProblem).
package isc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"
)

// Config configures a Client. BaseURL, ClientID and ClientSecret are
// required; everything else has a default.
type Config struct {
	// BaseURL is the tenant's API base, e.g. https://acme.api.identitynow.com
	// (SAIL_BASE_URL). Any scheme and host is accepted.
	BaseURL string
	// ClientID and ClientSecret are the client-credentials pair
	// (SAIL_CLIENT_ID, SAIL_CLIENT_SECRET), usually a personal access token.
	ClientID     string
	ClientSecret string
	// APIVersion selects the family of the identity and task-status
	// endpoints (--api-version); default DefaultAPIVersion.
	APIVersion APIVersion
	// UserAgent is sent with every request; default "inviter".
	UserAgent string
	// RateLimit is the number of requests allowed per RateWindow for each API
	// version (beta, v2025, v3, cc, …); default 100, ISC's documented limit;
	// negative: no client-side limit.
	RateLimit int
	// RateWindow is the window of RateLimit; default 10 s.
	RateWindow time.Duration
	// Timeout bounds one HTTP attempt, token calls included; default 30 s.
	Timeout time.Duration
	// Retries is how many times one call is sent again after a transient
	// error or a 429 (honouring Retry-After) before the error is returned;
	// default 0: the caller (a River job) decides.
	Retries int
	// MaxRetryAfter caps the wait a 429's Retry-After asks for; default 10
	// minutes. A RateLimitedError never carries a longer wait.
	MaxRetryAfter time.Duration
	// MaxAnswerBytes caps how much of one answer is read; default 8 MiB
	// (a page of 250 identities with many attributes is well below 1 MiB).
	// A longer answer to a read is a *TransientError, and no more than the
	// cap is ever held in memory.
	MaxAnswerBytes int64
	// Transport is the base RoundTripper; default http.DefaultTransport.
	// Redirects are never followed, whatever the transport.
	Transport http.RoundTripper
	// OnCall, when set, is called after every HTTP exchange with the endpoint
	// name (e.g. "POST /beta/identities/invite") and the status code, 0 when
	// no answer arrived. It must be safe for concurrent use.
	OnCall func(endpoint string, status int)
	// OnDeprecated, when set, is called for every answer that carries an
	// X-Deprecated (or Deprecation) header, with the endpoint name. The client also logs
	// each such endpoint once at WARN. It must be safe for concurrent use.
	OnDeprecated func(endpoint string)
	// Logger receives debug records of calls (never headers or secrets).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	c.APIVersion, _ = ParseAPIVersion(string(c.APIVersion))
	if c.UserAgent == "" {
		c.UserAgent = "inviter"
	}
	if c.RateLimit == 0 {
		c.RateLimit = 100
	}
	if c.RateWindow == 0 {
		c.RateWindow = 10 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = 10 * time.Minute
	}
	if c.MaxAnswerBytes <= 0 {
		c.MaxAnswerBytes = 8 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first missing or malformed setting, naming its
// environment variable.
func (c Config) Validate() error {
	if c.BaseURL == "" {
		return errors.New("SAIL_BASE_URL is not set: give the tenant's API base URL, e.g. https://acme.api.identitynow.com")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("SAIL_BASE_URL %q is not an http(s) URL, e.g. https://acme.api.identitynow.com", c.BaseURL)
	}
	if c.ClientID == "" {
		return errors.New("SAIL_CLIENT_ID is not set")
	}
	if c.ClientSecret == "" {
		return errors.New("SAIL_CLIENT_SECRET is not set")
	}
	if _, err := ParseAPIVersion(string(c.APIVersion)); err != nil {
		return err
	}
	if c.RateWindow < 0 {
		return errors.New("the ISC rate limit window must be positive")
	}
	return nil
}

// Client calls one ISC tenant. It is safe for concurrent use.
type Client struct {
	cfg    Config
	base   *url.URL
	http   *http.Client
	tokens *tokenCache

	mu         sync.Mutex
	limiters   map[string]*rate.Limiter
	deprecated map[string]bool // endpoints already logged as deprecated
}

// New returns a Client for cfg. ctx must live as long as the Client: token
// refreshes run in it (golang.org/x/oauth2 keeps the context it is given).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	c := &Client{
		cfg:        cfg,
		base:       base,
		http:       &http.Client{Transport: cfg.Transport, Timeout: cfg.Timeout, CheckRedirect: noRedirects},
		limiters:   make(map[string]*rate.Limiter),
		deprecated: make(map[string]bool),
	}
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     base.String() + "/oauth/token",
		AuthStyle:    oauth2.AuthStyleInParams, // credentials in the form body, as ISC documents
	}
	// The token call's client never follows a redirect either: a 307 or 308
	// would post the client secret again to the redirect's target.
	tokenHTTP := &http.Client{Transport: &observe{next: cfg.Transport, endpoint: "POST /oauth/token", cfg: &c.cfg}, Timeout: cfg.Timeout, CheckRedirect: noRedirects}
	c.tokens = &tokenCache{src: cc, ctx: context.WithValue(ctx, oauth2.HTTPClient, tokenHTTP)}
	return c, nil
}

// noRedirects makes an http.Client return a 3xx answer as it is instead of
// following it, so neither a bearer token nor a client secret is ever sent
// anywhere but SAIL_BASE_URL.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// BaseURL returns the tenant's API base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// limiter returns the limiter of one API version. A token bucket with burst
// b refilled at r per second lets at most b + r·W requests through in any
// window W; b = limit/10 and r = (limit-b)/W keep that within the limit.
func (c *Client) limiter(version string) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limiters[version]
	if !ok {
		if c.cfg.RateLimit < 0 {
			l = rate.NewLimiter(rate.Inf, 1)
		} else {
			burst := max(1, c.cfg.RateLimit/10)
			per := float64(c.cfg.RateLimit-burst) / c.cfg.RateWindow.Seconds()
			if per <= 0 {
				per = 1 / c.cfg.RateWindow.Seconds()
			}
			l = rate.NewLimiter(rate.Limit(per), burst)
		}
		c.limiters[version] = l
	}
	return l
}

// apiVersion is the first path segment, which ISC's rate limit is keyed by.
// Inferred: SailPoint documents the limit per client id and API version but
// not what counts as a version; inviter takes the first path segment (beta,
// v2025, v3, cc, …).
func apiVersion(path string) string {
	p := strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}

// request describes one API call.
type request struct {
	method   string
	path     string // below the base URL, starting with "/"
	endpoint string // name for metrics and errors; default method + " " + path
	query    url.Values
	json     any        // JSON body
	form     url.Values // form body
	header   http.Header
	// onHeader, when set, sees the headers of a 2xx answer.
	onHeader func(http.Header)
	// accepted, when set, marks a call whose 2xx answer means ISC took it
	// (an invite): any 2xx is success, and accepted is given the body (nil
	// when unreadable or too long) to decode what it can, never failing.
	accepted func(body []byte)
}

// do sends req and decodes a 2xx JSON answer into out (when out is not nil).
// It retries as Config.Retries allows, and once more after a 401 with a new
// token.
func (c *Client) do(ctx context.Context, req request, out any) error {
	if req.endpoint == "" {
		req.endpoint = req.method + " " + req.path
	}
	var body []byte
	if req.json != nil {
		b, err := json.Marshal(req.json)
		if err != nil {
			return fmt.Errorf("%s: encoding request: %w", req.endpoint, err)
		}
		body = b
	} else if req.form != nil {
		body = []byte(req.form.Encode())
	}
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, req, body, out)
		if err == nil || attempt >= c.cfg.Retries || !IsTransient(err) || ctx.Err() != nil ||
			errors.Is(err, errAnswerTooLong) { // the same request gets the same long answer
			return err
		}
		wait := backoff(attempt)
		if d, ok := RetryAfter(err); ok {
			if d > maxInCallWait {
				// A long wait is the caller's to schedule (the queue snoozes
				// its jobs); holding the call would hold a whole batch.
				return err
			}
			wait = max(d, 100*time.Millisecond)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		c.cfg.Logger.DebugContext(ctx, "isc call retry", "endpoint", req.endpoint, "attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// maxInCallWait is the longest Retry-After the client waits out itself
// when Config.Retries allows a retry; a longer one is returned at once.
const maxInCallWait = 5 * time.Second

// backoff is the wait before retry n (from 0): 500 ms doubling, capped at
// 30 s, with up to 50 % jitter.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n, 6)
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

func (c *Client) attempt(ctx context.Context, req request, body []byte, out any) error {
	refreshed := false
	for {
		if err := c.limiter(apiVersion(req.path)).Wait(ctx); err != nil {
			return &TransientError{Endpoint: req.endpoint, Err: err}
		}
		tok, err := c.tokens.token()
		if err != nil {
			return c.classifyTokenError(err)
		}
		resp, err := c.send(ctx, req, body, tok)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// ISC answers 401 for an expired JWT; fetch a new token once. A
			// second 401 is an *AuthError (decode).
			drain(resp)
			c.tokens.invalidate(tok)
			refreshed = true
			continue
		}
		return c.decode(req, resp, out)
	}
}

func (c *Client) send(ctx context.Context, req request, body []byte, tok *oauth2.Token) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + req.path
	if req.query != nil {
		u.RawQuery = req.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.endpoint, err)
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	hr.Header.Set("User-Agent", c.cfg.UserAgent)
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	switch {
	case req.json != nil:
		hr.Header.Set("Content-Type", "application/json")
	case req.form != nil:
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(hr)
	c.cfg.reportCall(req.endpoint, resp)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", req.endpoint, ctx.Err())
		}
		return nil, &TransientError{Endpoint: req.endpoint, Err: redactURLError(err)}
	}
	return resp, nil
}

// decode reads resp, classifying non-2xx answers into typed errors.
//
// A 2xx answer to a read (out not nil) must be JSON that fits out: HTML, an
// empty or unreadable body, or one longer than MaxAnswerBytes is a
// *TransientError (a proxy's page, a half-deployed tenant), never a
// silently empty result. A 2xx answer to a call with req.accepted set is
// success whatever its body: accepted decodes what it can.
func (c *Client) decode(req request, resp *http.Response, out any) error {
	defer drain(resp)
	c.noteDeprecated(req.endpoint, resp.Header)
	s := resp.StatusCode
	data, over, err := readCapped(resp.Body, resp.ContentLength, c.cfg.MaxAnswerBytes)
	if s >= 200 && s < 300 && req.accepted != nil {
		// ISC took the call; the body is only a receipt.
		if req.onHeader != nil {
			req.onHeader(resp.Header)
		}
		if err != nil || over {
			data = nil
		}
		req.accepted(data)
		return nil
	}
	if err != nil {
		return &TransientError{Endpoint: req.endpoint, Status: s, Err: fmt.Errorf("reading answer: %w", err)}
	}
	switch {
	case s >= 200 && s < 300:
		if req.onHeader != nil {
			req.onHeader(resp.Header)
		}
		if out == nil {
			return nil
		}
		if over {
			return &TransientError{Endpoint: req.endpoint, Status: s, Err: fmt.Errorf("answer longer than %d bytes: not read: %w", c.cfg.MaxAnswerBytes, errAnswerTooLong)}
		}
		if ct := mediaType(resp.Header); ct == "text/html" || ct == "application/xhtml+xml" {
			return &TransientError{Endpoint: req.endpoint, Status: s, Err: fmt.Errorf("answer is %s, not JSON: %s", ct, firstLine(string(data)))}
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return &TransientError{Endpoint: req.endpoint, Status: s, Err: errors.New("empty answer where JSON was expected")}
		}
		if err := json.Unmarshal(data, out); err != nil {
			return &TransientError{Endpoint: req.endpoint, Status: s, Err: fmt.Errorf("unreadable answer: %w", err)}
		}
		return nil
	case s >= 300 && s < 400:
		return &RedirectError{Endpoint: req.endpoint, Status: s, Location: resp.Header.Get("Location")}
	case s == http.StatusTooManyRequests:
		return c.rateLimited(req.endpoint, resp.Header)
	case s == http.StatusUnauthorized:
		return &AuthError{Endpoint: req.endpoint, Status: s,
			Message: "a freshly issued token was refused: check SAIL_CLIENT_ID/SAIL_CLIENT_SECRET (" + errorText(data, resp.Status) + ")"}
	case s == http.StatusForbidden:
		msg := "the credentials lack the rights for this call"
		if sc := RequiredScope(req.endpoint); sc != "" {
			msg += " (it needs the scope " + sc + ")"
		}
		return &AuthError{Endpoint: req.endpoint, Status: s, Message: msg + ": " + errorText(data, resp.Status)}
	case (s == http.StatusNotFound || s == http.StatusGone) && isCC(req.path):
		return &ccRemovedError{Endpoint: req.endpoint, Status: s}
	case s >= 500 || s == http.StatusRequestTimeout:
		return &TransientError{Endpoint: req.endpoint, Status: s, Err: errors.New(errorText(data, resp.Status))}
	default:
		pe := &PermanentError{Endpoint: req.endpoint, Status: s}
		parseErrorBody(data, pe)
		if pe.Message == "" {
			pe.Message = http.StatusText(s)
		}
		return pe
	}
}

// noteDeprecated counts an answer marked X-Deprecated (or with RFC 9745's
// Deprecation header) and logs its endpoint the first time.
func (c *Client) noteDeprecated(endpoint string, h http.Header) {
	v := h.Get("X-Deprecated")
	if v == "" {
		v = h.Get("Deprecation") // RFC 9745
	}
	if v == "" || strings.EqualFold(v, "false") {
		return
	}
	if c.cfg.OnDeprecated != nil {
		c.cfg.OnDeprecated(endpoint)
	}
	c.mu.Lock()
	first := !c.deprecated[endpoint]
	c.deprecated[endpoint] = true
	c.mu.Unlock()
	if first {
		attrs := []any{"endpoint", endpoint, "deprecated", firstLine(v)}
		if sunset := h.Get("Sunset"); sunset != "" {
			attrs = append(attrs, "sunset", firstLine(sunset))
		}
		c.cfg.Logger.Warn("ISC marks this endpoint deprecated; consider another --api-version", attrs...)
	}
}

// errAnswerTooLong is the cause of the TransientError of a read answer
// longer than Config.MaxAnswerBytes; paging calls ask for smaller pages.
var errAnswerTooLong = errors.New("answer too long")

// smallerPage is the page size to ask for after err: a quarter of limit
// when the answer was too long (and limit can shrink), else 0.
func smallerPage(err error, limit int) int {
	if limit > 1 && errors.Is(err, errAnswerTooLong) {
		return max(1, limit/4)
	}
	return 0
}

// readCapped reads at most limit bytes of r; over reports that r held more.
// An answer whose declared length (size, -1 when unknown) is over the
// limit is not read at all; one of known length is read into a buffer of
// that size.
func readCapped(r io.Reader, size, limit int64) (data []byte, over bool, err error) {
	if size > limit {
		return nil, true, nil
	}
	lr := io.LimitReader(r, limit+1)
	if size >= 0 {
		buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
		_, err = buf.ReadFrom(lr)
		data = buf.Bytes()
	} else {
		data, err = readChunks(lr)
	}
	if int64(len(data)) > limit {
		return data[:limit], true, err
	}
	return data, false, err
}

// readChunks reads r to its end in 64 KiB pieces and joins them once, so
// an answer of n bytes costs about 2n of allocation, whatever the runtime's
// slice growth.
func readChunks(r io.Reader) ([]byte, error) {
	var chunks [][]byte
	for {
		chunk := make([]byte, 64<<10)
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			chunks = append(chunks, chunk[:n])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return bytes.Join(chunks, nil), err
		}
	}
	return bytes.Join(chunks, nil), nil
}

// mediaType is the answer's Content-Type without parameters, lower case.
func mediaType(h http.Header) string {
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// isCC reports whether path is on the legacy /cc API.
func isCC(path string) bool { return strings.HasPrefix(path, "/cc/") }

// rateLimited is the error of a 429: its Retry-After capped at
// Config.MaxRetryAfter.
func (c *Client) rateLimited(endpoint string, h http.Header) *RateLimitedError {
	asked := ParseRetryAfter(h.Get("Retry-After"), time.Now())
	return &RateLimitedError{Endpoint: endpoint, RetryAfter: min(asked, c.cfg.MaxRetryAfter), Requested: asked}
}

// errorBody covers the error shapes ISC uses: ErrorResponseDto, the OAuth
// and JWT {"error": …} answers and the rate limiter's {"message": …}.
type errorBody struct {
	DetailCode string `json:"detailCode"`
	TrackingID string `json:"trackingId"`
	Messages   []struct {
		Text string `json:"text"`
	} `json:"messages"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Message          string `json:"message"`
}

func parseErrorBody(data []byte, pe *PermanentError) {
	var eb errorBody
	if json.Unmarshal(data, &eb) != nil {
		pe.Message = firstLine(string(data))
		return
	}
	pe.DetailCode, pe.TrackingID = eb.DetailCode, eb.TrackingID
	switch {
	case len(eb.Messages) > 0:
		texts := make([]string, 0, len(eb.Messages))
		for _, m := range eb.Messages {
			texts = append(texts, m.Text)
		}
		pe.Message = strings.Join(texts, "; ")
	case eb.ErrorDescription != "":
		pe.Message = eb.Error + ": " + eb.ErrorDescription
	case eb.Error != "":
		pe.Message = eb.Error
	default:
		pe.Message = strings.TrimSpace(eb.Message)
	}
}

func errorText(data []byte, status string) string {
	pe := &PermanentError{}
	parseErrorBody(data, pe)
	if pe.Message == "" {
		return status
	}
	return pe.Message
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

// redactURLError drops the URL from a *url.Error: the error text then
// names the operation and cause only (the URL itself holds no secret, but
// keeping errors short keeps logs readable).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// classifyTokenError maps a failed token fetch to a typed error: a 3xx is
// a *RedirectError (not followed: the secret is never posted twice), 429 is
// rate limiting, 5xx transient, and any other refusal (400/401
// invalid_client, …) an *AuthError.
func (c *Client) classifyTokenError(err error) error {
	const ep = "POST /oauth/token"
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		s := re.Response.StatusCode
		switch {
		case s >= 300 && s < 400:
			return &RedirectError{Endpoint: ep, Status: s, Location: re.Response.Header.Get("Location")}
		case s == http.StatusTooManyRequests:
			return c.rateLimited(ep, re.Response.Header)
		case s >= 500 || s == http.StatusRequestTimeout:
			return &TransientError{Endpoint: ep, Status: s, Err: errors.New(errorText(re.Body, re.Response.Status))}
		default:
			return &AuthError{Endpoint: ep, Status: s,
				Message: "getting a token with SAIL_CLIENT_ID/SAIL_CLIENT_SECRET failed: " + errorText(re.Body, re.Response.Status)}
		}
	}
	return &TransientError{Endpoint: ep, Err: redactURLError(err)}
}

// reportCall tells OnCall, when set, about one exchange; resp is nil when
// no answer arrived.
func (c *Config) reportCall(endpoint string, resp *http.Response) {
	if c.OnCall == nil {
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	c.OnCall(endpoint, status)
}

// observe reports token calls to Config.OnCall.
type observe struct {
	next     http.RoundTripper
	endpoint string
	cfg      *Config
}

func (o *observe) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("User-Agent", o.cfg.UserAgent)
	resp, err := o.next.RoundTrip(r)
	o.cfg.reportCall(o.endpoint, resp)
	return resp, err
}

// tokenCache holds the current access token and fetches a new one when it
// is within a minute of expiry or was refused. Concurrent callers share
// one fetch.
type tokenCache struct {
	src *clientcredentials.Config
	ctx context.Context

	mu     sync.Mutex
	tok    *oauth2.Token
	margin time.Duration // how long before expiry the token is replaced
}

func (t *tokenCache) token() (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && (t.tok.Expiry.IsZero() || time.Until(t.tok.Expiry) > t.margin) {
		return t.tok, nil
	}
	tok, err := t.src.Token(t.ctx)
	if err != nil {
		return nil, err
	}
	// Replace the token a minute before it expires (ISC's last 749 s), or at
	// four fifths of its life when it lives shorter than five minutes.
	t.margin = time.Minute
	if !tok.Expiry.IsZero() {
		t.margin = min(time.Minute, time.Until(tok.Expiry)/5)
	}
	t.tok = tok
	return tok, nil
}

// invalidate forgets tok if it is still the current token.
func (t *tokenCache) invalidate(tok *oauth2.Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok == tok {
		t.tok = nil
	}
}
