package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// coverage records which documented operations were exercised, and with
// which status codes. It is safe for concurrent use.
type coverage struct {
	mu   sync.Mutex
	seen map[string]map[int]int // "beta startIdentitiesInvite" → status → count
	cc   map[string]int         // undocumented /cc calls, by "METHOD path"
}

func newCoverage() *coverage {
	return &coverage{seen: make(map[string]map[int]int), cc: make(map[string]int)}
}

func (c *coverage) add(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[op] == nil {
		c.seen[op] = make(map[int]int)
	}
	c.seen[op][status]++
}

func (c *coverage) addCC(endpoint string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cc[endpoint]++
}

// check fails t for every expected operation and status never seen.
func (c *coverage) check(t *testing.T, want map[string][]int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range slices.Sorted(keys(want)) {
		got := c.seen[op]
		if len(got) == 0 {
			t.Errorf("operation %s was never exercised", op)
			continue
		}
		for _, st := range want[op] {
			if got[st] == 0 {
				t.Errorf("operation %s never answered %d (saw %v)", op, st, slices.Sorted(keys(got)))
			}
		}
	}
	for _, op := range slices.Sorted(keys(c.seen)) {
		t.Logf("exercised %-40s statuses %v", op, slices.Sorted(keys(c.seen[op])))
	}
	for _, ep := range slices.Sorted(keys(c.cc)) {
		t.Logf("not in the spec, not validated: %s (%d calls)", ep, c.cc[ep])
	}
}

// gatewayStatus reports whether status is an answer of the load balancer
// in front of ISC rather than of the service: 502 and 503 (and 504) are
// not in SailPoint's documents, and the fake answers them as a gateway
// does (an HTML page, a short JSON message), so they are not validated.
func gatewayStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// checker is an http.RoundTripper that validates every request inviter's
// ISC client sends, and every answer it gets, against the documented
// operation. Violations fail t; exercised operations go to cov.
type checker struct {
	t     *testing.T
	specs *specs
	cov   *coverage
	next  http.RoundTripper
}

func (c *checker) errorf(format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("CONTRACT: "+format, args...)
}

func (c *checker) options() *openapi3filter.Options {
	o := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true, // an undocumented status code is an error
		// Authentication is not what the suite checks: accept any scheme,
		// but require the bearer token inviter must send.
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			auth := in.RequestValidationInput.Request.Header.Get("Authorization")
			if tok, ok := strings.CutPrefix(auth, "Bearer "); !ok || strings.TrimSpace(tok) == "" {
				return errors.New("no bearer token in Authorization")
			}
			return nil
		},
	}
	o.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		at := "/" + strings.Join(err.JSONPointer(), "/")
		return fmt.Sprintf("%s: %s", at, err.Reason)
	})
	return o
}

func (c *checker) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.URL.Path == "/oauth/token":
		// The token endpoint is documented only as the tokenUrl of the
		// securitySchemes, with no operation to validate against.
		return c.next.RoundTrip(req)
	case strings.HasPrefix(req.URL.Path, "/cc/"):
		// The /cc API is not in SailPoint's documents.
		c.cov.addCC(req.Method + " " + req.URL.Path)
		return c.next.RoundTrip(req)
	}
	a, route, params, err := c.specs.findRoute(req)
	if err != nil {
		c.errorf("request: %v", err)
		return c.next.RoundTrip(req)
	}
	op := a.version + " " + route.Operation.OperationID
	name := fmt.Sprintf("%s (%s %s)", op, req.Method, req.URL.Path)

	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	opts := c.options()
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		c.errorf("request %s does not match the spec: %v", name, oneLine(err))
	}
	if len(body) > 0 && route.Operation.RequestBody != nil && route.Operation.RequestBody.Value != nil {
		if mt := route.Operation.RequestBody.Value.Content.Get(req.Header.Get("Content-Type")); mt != nil && mt.Schema != nil {
			c.strict("request "+name, mt.Schema.Value, body)
		}
	}
	if route.Operation.OperationID == "startTestTriggerInvocation" {
		c.testInput(a, name, body)
	}

	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return resp, nil // the client reports the read error
	}
	c.cov.add(op, resp.StatusCode)
	if gatewayStatus(resp.StatusCode) {
		return resp, nil
	}
	if route.Operation.OperationID == "searchPost" && resp.StatusCode == http.StatusOK {
		c.searchAnswer(a, name, resp, data)
		return resp, nil
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                opts,
	}
	rin.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		c.errorf("answer %d to %s does not match the spec: %v", resp.StatusCode, name, oneLine(err))
	}
	if rr := route.Operation.Responses.Status(resp.StatusCode); rr != nil && rr.Value != nil && len(data) > 0 {
		if mt := rr.Value.Content.Get(resp.Header.Get("Content-Type")); mt != nil && mt.Schema != nil {
			c.strict(fmt.Sprintf("answer %d to %s", resp.StatusCode, name), mt.Schema.Value, data)
		}
	}
	return resp, nil
}

// searchAnswer checks a 200 of the search, an identities search (the only
// index inviter searches): the documents' SearchDocuments is a oneOf of
// six open schemas with no discriminator, which any document matches six
// times, so each item is held to IdentityDocuments, the identities
// index's schema, members included.
func (c *checker) searchAnswer(a *api, name string, resp *http.Response, data []byte) {
	c.t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.errorf("answer 200 to %s: content type %q, want application/json", name, ct)
		return
	}
	var items []any
	if err := json.Unmarshal(data, &items); err != nil {
		c.errorf("answer 200 to %s is not a JSON array: %v", name, err)
		return
	}
	s := c.specs.schema(c.t, a.version, "IdentityDocuments")
	for i, it := range items {
		if err := s.VisitJSON(it); err != nil {
			c.errorf("answer 200 to %s: item %d is not an IdentityDocuments: %v", name, i, schemaErr(err))
		}
		var extra []string
		undocumented(s, it, "", &extra)
		if len(extra) > 0 {
			c.errorf("answer 200 to %s: item %d has fields IdentityDocuments does not declare: %s", name, i, strings.Join(extra, ", "))
		}
	}
}

// testInput checks the input of a test invocation. TestInvocation.input
// is documented as "Mock input to use for test invocation. This must adhere
// to the input schema defined in the trigger being invoked. If this
// property is omitted, then the default trigger sample payload will be
// sent."
func (c *checker) testInput(a *api, name string, body []byte) {
	c.t.Helper()
	var in struct {
		TriggerID string          `json:"triggerId"`
		Input     json.RawMessage `json:"input"`
	}
	if json.Unmarshal(body, &in) != nil || in.Input == nil {
		return
	}
	schemaName, ok := triggerSchema(in.TriggerID)
	if !ok {
		return // a deliberately unknown trigger
	}
	schema := c.specs.webhookSchema(c.t, a.version, schemaName)
	var v any
	if err := json.Unmarshal(in.Input, &v); err != nil {
		c.errorf("request %s: input is not JSON: %v", name, err)
		return
	}
	if err := schema.VisitJSON(v); err != nil {
		c.errorf("request %s: input %s does not adhere to the %s schema of %s (omit input to get the trigger's sample): %v",
			name, in.Input, schemaName, in.TriggerID, schemaErr(err))
	}
}

// triggerSchema maps an event trigger id to the name of its x-webhooks
// entry: idn:identity-created → IdentityCreated.
func triggerSchema(triggerID string) (string, bool) {
	switch triggerID {
	case "idn:identity-created":
		return "IdentityCreated", true
	case "idn:identity-attributes-changed":
		return "IdentityAttributesChanged", true
	}
	return "", false
}

// strict reports JSON object members the schema does not declare.
func (c *checker) strict(what string, s *openapi3.Schema, data []byte) {
	c.t.Helper()
	var v any
	if json.Unmarshal(data, &v) != nil {
		return // the validator already said so
	}
	var extra []string
	undocumented(s, v, "", &extra)
	if len(extra) > 0 {
		c.errorf("%s has fields the spec does not declare: %s", what, strings.Join(extra, ", "))
	}
}

// schemaErr is a one-line account of a schema validation error: where,
// and why, without the schema dump.
func schemaErr(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return fmt.Sprintf("at /%s: %s", strings.Join(se.JSONPointer(), "/"), se.Reason)
	}
	return oneLine(err)
}

// oneLine folds a multi-line validation error into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
