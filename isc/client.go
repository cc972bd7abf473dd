// Package isc is a thin client for the parts of the SailPoint Identity
// Security Cloud (ISC) API that inviter uses: OAuth2 client credentials, the
// public and legacy (/cc) invite calls, identity lists, task status and event
// trigger subscriptions.
//
// A Client rate-limits itself per API version, refreshes its token before it
// expires (and once more on a 401), and returns typed errors:
// *RateLimitedError, *PermanentError and *TransientError.
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
	"net"
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
	// Transport is the base RoundTripper; default http.DefaultTransport.
	Transport http.RoundTripper
	// OnCall, when set, is called after every HTTP exchange with the endpoint
	// name (e.g. "POST /beta/identities/invite") and the status code, 0 when
	// no answer arrived. It must be safe for concurrent use.
	OnCall func(endpoint string, status int)
	// Logger receives debug records of calls (never headers or secrets).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
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

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
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
		cfg:      cfg,
		base:     base,
		http:     &http.Client{Transport: cfg.Transport, Timeout: cfg.Timeout},
		limiters: make(map[string]*rate.Limiter),
	}
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     base.String() + "/oauth/token",
		AuthStyle:    oauth2.AuthStyleInParams, // credentials in the form body, as ISC documents
	}
	tokenHTTP := &http.Client{Transport: &observe{next: cfg.Transport, endpoint: "POST /oauth/token", cfg: &c.cfg}, Timeout: cfg.Timeout}
	c.tokens = &tokenCache{src: cc, ctx: context.WithValue(ctx, oauth2.HTTPClient, tokenHTTP)}
	return c, nil
}

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
		if err == nil || attempt >= c.cfg.Retries || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff(attempt)
		if d, ok := RetryAfter(err); ok {
			wait = max(d, 100*time.Millisecond)
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
			return classifyTokenError(err)
		}
		resp, err := c.send(ctx, req, body, tok)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// ISC answers 401 for an expired JWT; fetch a new token once.
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
func (c *Client) decode(req request, resp *http.Response, out any) error {
	defer drain(resp)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return &TransientError{Endpoint: req.endpoint, Status: resp.StatusCode, Err: fmt.Errorf("reading answer: %w", err)}
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		if req.onHeader != nil {
			req.onHeader(resp.Header)
		}
		if out == nil || len(bytes.TrimSpace(data)) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return &PermanentError{Endpoint: req.endpoint, Status: s, Message: "unreadable answer: " + err.Error()}
		}
		return nil
	case s == http.StatusTooManyRequests:
		return &RateLimitedError{Endpoint: req.endpoint, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
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

// classifyTokenError maps a failed token fetch to a typed error.
func classifyTokenError(err error) error {
	const ep = "POST /oauth/token"
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		s := re.Response.StatusCode
		switch {
		case s == http.StatusTooManyRequests:
			return &RateLimitedError{Endpoint: ep, RetryAfter: ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())}
		case s >= 500:
			return &TransientError{Endpoint: ep, Status: s, Err: errors.New(errorText(re.Body, re.Response.Status))}
		default:
			pe := &PermanentError{Endpoint: ep, Status: s}
			parseErrorBody(re.Body, pe)
			pe.Message = "getting a token with SAIL_CLIENT_ID/SAIL_CLIENT_SECRET failed: " + pe.Message
			return pe
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &TransientError{Endpoint: ep, Err: redactURLError(err)}
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
