// Package contract checks inviter's ISC client (package isc), the fake
// tenant (package isctest) and the event intake's parser against
// SailPoint's published OpenAPI 3.0.1 documents (beta, v2025, v3).
//
// The documents are not part of this repository: the suite loads them at
// run time from the directory named by INVITER_ISC_SPECS and skips,
// saying so, when the variable is unset:
//
//	INVITER_ISC_SPECS=../shared/specs/isc go test ./contract/
//
// Through real HTTP, with the client talking to an isctest server, every
// request the client sends to a documented operation is validated
// (path, query, headers, body) and so is every answer the fake gives,
// success and error (400, 401, 403, 404, 429, 500): status code, content
// type and body schema. Object members a schema does not declare fail too,
// so that a renamed field shows, and a test invocation's input, when sent,
// must match its trigger's schema (the spec requires it; omitted, ISC
// sends the trigger's sample). The suite fails when an expected operation
// or status was never exercised. Authentication is not validated beyond
// the presence of the bearer token.
//
// What the documents do not cover, and the suite therefore does not check:
//   - the legacy /cc API (/cc/api/user/list, /cc/api/user/invite): it is
//     not in SailPoint's documents; its shape comes from the forum thread
//     in docs/isc-api.md and every behaviour of it is inferred;
//   - POST /oauth/token: documented only as a tokenUrl;
//   - 502 and 503: answers of the load balancer in front of ISC, not of
//     the documented service, so they are not validated;
//   - the identities search's answer as a whole: SearchDocuments is a
//     oneOf of six open schemas with no discriminator, which any document
//     matches six times; each item is held to IdentityDocuments instead.
//
// The fake's variants (asynchronous tasks with WARNING and ERROR, scoped
// tokens' 403, the search, the extra identity statuses, defaultFilter) are
// validated the same way in TestContractVariants; what no document
// describes (a retired /cc's 404 and 410, the gateway's 414) is checked
// in TestUndocumentedVariants.
//
// Event payloads: the documents' own examples of IdentityCreated and
// IdentityAttributesChanged (assembled from the schemas' property
// examples) must validate and be accepted by the intake's parsers
// (inviter.ParseIdentityCreated, inviter.ParseIdentityAttributesChanged),
// and every event the fake delivers to a subscriber must match the
// trigger's schema and parse.
package contract

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// wantCoverage returns the operations inviter uses, by document and
// operationId, with the statuses the suite must see each of them answer.
// The invite and the task-status read are those of the client's default
// API family (defaultVersion, "beta" or "v2025"), driven through every
// scenario; the other family's are exercised once each.
func wantCoverage(defaultVersion string) map[string][]int {
	other := "v2025"
	if defaultVersion == "v2025" {
		other = "beta"
	}
	return map[string][]int{
		defaultVersion + " startIdentitiesInvite": {202, 400, 401, 403, 429, 500},
		defaultVersion + " getTaskStatus":         {200, 401, 404, 429, 500},
		other + " startIdentitiesInvite":          {202},
		other + " getTaskStatus":                  {200},
		"beta createSubscription":                 {201, 400, 401, 429, 500},
		"beta listSubscriptions":                  {200, 401, 429, 500},
		"beta deleteSubscription":                 {204, 401, 404, 429, 500},
		"beta startTestTriggerInvocation":         {200, 204, 400, 401, 429, 500},
		"v2025 listIdentities":                    {200, 400, 401, 429, 500},
		"v2025 getIdentity":                       {200, 401, 404, 429, 500},
		"v3 searchPost":                           {200, 403},
	}
}

// defaultVersion is the API version (first path segment) of the invite
// call of a client with the default family.
func defaultVersion(c *isc.Client) string {
	_, path, _ := strings.Cut(c.InviteEndpoint(), " ")
	v, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return v
}

// otherFamily is the family whose invite and task-status read the suite
// exercises besides the default's.
func otherFamily(c *isc.Client) isc.APIVersion {
	if defaultVersion(c) == "v2025" {
		return isc.APIVersionBeta
	}
	return isc.APIVersionV2025
}

const (
	plainClientID      = "plain-api-client"
	plainClientSecret  = "plain-api-secret"
	scopedClientID     = "scoped-api-client" // every scope inviter needs but sp:search:read
	scopedClientSecret = "scoped-api-secret"
)

func TestContract(t *testing.T) {
	sp := loadSpecs(t)
	cov := newCoverage()
	t.Run("calls", func(t *testing.T) {
		t.Run("success", func(t *testing.T) { t.Parallel(); testSuccess(t, sp, cov) })
		t.Run("401 expired token", func(t *testing.T) {
			t.Parallel()
			testEveryOperation(t, sp, cov, scenario{
				arm: func(b *bundle) { b.tenant.ExpireTokens() },
				want: func(err error) error {
					return err // the client fetches a new token and the call passes
				},
			})
		})
		t.Run("429 rate limited", func(t *testing.T) {
			t.Parallel()
			testEveryOperation(t, sp, cov, scenario{
				setup: func(t *testing.T, b *bundle) {
					// Fill the one-request window of each API version once;
					// every later limited call is then refused.
					b.tenant.SetRateLimit(1, time.Hour)
					_, _ = b.client.ListSubscriptions(b.ctx)
					_, _ = b.client.GetIdentity(b.ctx, b.identityID)
					b.tenant.SetRateLimit(-1, 0)
				},
				arm:    func(b *bundle) { b.tenant.SetRateLimit(1, time.Hour) },
				disarm: func(b *bundle) { b.tenant.SetRateLimit(-1, 0) },
				want: func(err error) error {
					if _, ok := isc.RetryAfter(err); !ok {
						return errors.New("want a RateLimitedError, got " + errString(err))
					}
					return nil
				},
			})
		})
		t.Run("500 fault", func(t *testing.T) {
			t.Parallel()
			testEveryOperation(t, sp, cov, scenario{
				// ErrorRate 1 answers 500, 502, 503 in turn; SetFaults restarts
				// the turn, so each armed call gets the 500.
				arm:    func(b *bundle) { b.tenant.SetFaults(isctest.Faults{ErrorRate: 1}) },
				disarm: func(b *bundle) { b.tenant.SetFaults(isctest.Faults{}) },
				want: func(err error) error {
					var te *isc.TransientError
					if !errors.As(err, &te) || te.Status != http.StatusInternalServerError {
						return errors.New("want a TransientError with status 500, got " + errString(err))
					}
					return nil
				},
			})
		})
		t.Run("4xx", func(t *testing.T) { t.Parallel(); testClientErrors(t, sp, cov) })
	})
	t.Run("events", func(t *testing.T) { testEvents(t, sp, cov) })
	if run := flag.Lookup("test.run").Value.String(); run != "" && run != "TestContract" && run != "^TestContract$" {
		t.Logf("-run %q selects part of the suite: operation coverage not checked", run)
		return
	}
	probe, err := isc.New(t.Context(), isc.Config{BaseURL: "http://127.0.0.1:1", ClientID: "probe", ClientSecret: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	cov.check(t, wantCoverage(defaultVersion(probe)))
}

// bundle is what one test needs: a fake tenant, a client whose transport
// validates every exchange, and fixtures.
type bundle struct {
	ctx        context.Context
	tenant     *isctest.Server
	client     *isc.Client
	identityID string // an unregistered, visible identity
	taskID     string // the task of an invite
	hookURL    string // where subscriptions deliver (answers 200)
}

func setup(t *testing.T, sp *specs, cov *coverage) *bundle {
	t.Helper()
	tenant := isctest.NewServer(isctest.Options{
		Users:             20,
		PlainClientID:     plainClientID,
		PlainClientSecret: plainClientSecret,
		RateLimit:         -1,
		Clients: []isctest.Client{{ID: scopedClientID, Secret: scopedClientSecret, Scopes: []string{
			isctest.ScopeInvite, isctest.ScopeIdentityRead, isctest.ScopeTaskRead, isctest.ScopeSubscriptions,
		}}},
	})
	t.Cleanup(tenant.Close)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(hook.Close)
	b := &bundle{
		ctx:     t.Context(),
		tenant:  tenant,
		hookURL: hook.URL,
	}
	b.client = newClient(t, sp, cov, tenant, tenant.ClientID(), tenant.ClientSecret())
	b.identityID = tenant.CreateIdentity(isctest.NewIdentity{Name: "Ada Lovelace"}).ID
	ts, err := b.client.InviteIdentities(b.ctx, []string{b.identityID})
	if err != nil {
		t.Fatalf("setup invite: %v", err)
	}
	b.taskID = ts.ID
	return b
}

func newClient(t *testing.T, sp *specs, cov *coverage, tenant *isctest.Server, id, secret string, family ...isc.APIVersion) *isc.Client {
	t.Helper()
	var v isc.APIVersion
	if len(family) > 0 {
		v = family[0]
	}
	c, err := isc.New(t.Context(), isc.Config{
		APIVersion:   v,
		BaseURL:      tenant.URL(),
		ClientID:     id,
		ClientSecret: secret,
		RateLimit:    -1, // the fake's limit is what is under test
		Timeout:      10 * time.Second,
		Transport:    &checker{t: t, specs: sp, cov: cov, next: http.DefaultTransport},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *bundle) subscription(trigger, path string) isc.Subscription {
	return isc.Subscription{
		Name:      "inviter contract " + trigger,
		TriggerID: trigger,
		Type:      "HTTP",
		Enabled:   true,
		HTTPConfig: &isc.HTTPConfig{
			URL:                    b.hookURL + path,
			HTTPDispatchMode:       "SYNC",
			HTTPAuthenticationType: "BEARER_TOKEN",
			BearerTokenAuthConfig:  &isc.BearerConfig{BearerToken: "contract-secret"},
		},
	}
}

// operation is one client call to a documented operation. call runs any
// preparation it needs, then arm, then the call under test.
type operation struct {
	name string
	call func(b *bundle, arm func()) error
}

func operations() []operation {
	return []operation{
		{"InviteIdentities", func(b *bundle, arm func()) error {
			arm()
			_, err := b.client.InviteIdentities(b.ctx, []string{b.identityID})
			return err
		}},
		{"TaskStatus", func(b *bundle, arm func()) error {
			arm()
			_, err := b.client.TaskStatus(b.ctx, b.taskID)
			return err
		}},
		{"ListIdentities", func(b *bundle, arm func()) error {
			arm()
			_, _, err := b.client.ListIdentities(b.ctx, isc.ListOptions{Filters: isc.UnregisteredFilter, Limit: 5})
			return err
		}},
		{"GetIdentity", func(b *bundle, arm func()) error {
			arm()
			_, err := b.client.GetIdentity(b.ctx, b.identityID)
			return err
		}},
		{"CreateSubscription", func(b *bundle, arm func()) error {
			arm()
			_, err := b.client.CreateSubscription(b.ctx, b.subscription(isc.TriggerIdentityCreated, "/created"))
			return err
		}},
		{"ListSubscriptions", func(b *bundle, arm func()) error {
			arm()
			_, err := b.client.ListSubscriptions(b.ctx)
			return err
		}},
		{"DeleteSubscription", func(b *bundle, arm func()) error {
			sub, err := b.client.CreateSubscription(b.ctx, b.subscription(isc.TriggerIdentityCreated, "/created"))
			if err != nil {
				return err
			}
			arm()
			return b.client.DeleteSubscription(b.ctx, sub.ID)
		}},
		{"TestInvocation", func(b *bundle, arm func()) error {
			arm()
			return b.client.TestInvocation(b.ctx, isc.TriggerIdentityCreated, nil)
		}},
	}
}

// scenario drives every operation into one kind of answer.
type scenario struct {
	setup  func(t *testing.T, b *bundle)
	arm    func(b *bundle) // just before the call under test
	disarm func(b *bundle) // just after it
	want   func(err error) error
}

func testEveryOperation(t *testing.T, sp *specs, cov *coverage, sc scenario) {
	b := setup(t, sp, cov)
	if sc.setup != nil {
		sc.setup(t, b)
	}
	for _, op := range operations() {
		err := op.call(b, func() { sc.arm(b) })
		if sc.disarm != nil {
			sc.disarm(b)
		}
		if werr := sc.want(err); werr != nil {
			t.Errorf("%s: %v", op.name, werr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// testSuccess makes every call succeed, and checks that the client reads
// what the (spec-valid) answers carry.
func testSuccess(t *testing.T, sp *specs, cov *coverage) {
	b := setup(t, sp, cov)
	ctx := b.ctx

	for _, op := range operations() {
		if err := op.call(b, func() {}); err != nil {
			t.Errorf("%s: %v", op.name, err)
		}
	}

	ts, err := b.client.InviteIdentities(ctx, []string{b.identityID})
	if err != nil || ts.ID == "" || ts.CompletionStatus == nil {
		t.Errorf("InviteIdentities = %+v, %v; want a TaskStatus with id and completionStatus", ts, err)
	}
	if got, err := b.client.TaskStatus(ctx, ts.ID); err != nil || got.ID != ts.ID {
		t.Errorf("TaskStatus(%s) = %+v, %v", ts.ID, got, err)
	}
	page, total, err := b.client.ListIdentities(ctx, isc.ListOptions{Filters: isc.UnregisteredFilter})
	if err != nil || len(page) == 0 || total < len(page) {
		t.Errorf("ListIdentities = %d items, total %d, %v", len(page), total, err)
	}
	for _, id := range page {
		if id.ID == "" || id.Email == "" || id.Status != "UNREGISTERED" || id.Created.IsZero() {
			t.Errorf("ListIdentities item read as %+v: id, email, status or created missing", id)
			break
		}
	}
	if got, err := b.client.IdentitiesByID(ctx, []string{b.identityID, "0123456789abcdef0123456789abcdef"}); err != nil || len(got) != 1 {
		t.Errorf("IdentitiesByID = %d identities, %v; want 1", len(got), err)
	}
	if id, err := b.client.GetIdentity(ctx, b.identityID); err != nil || id.Name != "Ada Lovelace" || id.Email == "" || id.LifecycleState == "" {
		t.Errorf("GetIdentity = %+v, %v", id, err)
	}
	sub, err := b.client.CreateSubscription(ctx, b.subscription(isc.TriggerIdentityCreated, "/created"))
	if err != nil || sub.ID == "" || sub.TriggerName == "" {
		t.Errorf("CreateSubscription = %+v, %v", sub, err)
	}
	subs, err := b.client.ListSubscriptions(ctx)
	if err != nil || len(subs) == 0 {
		t.Errorf("ListSubscriptions = %d, %v", len(subs), err)
	}
	found := 0
	err = b.client.SearchUnregisteredSince(ctx, time.Now().Add(-time.Hour), func(page []inviter.Identity) error {
		for _, id := range page {
			if id.ID == b.identityID {
				found++
			}
		}
		return nil
	})
	if err != nil || found != 1 {
		t.Errorf("SearchUnregisteredSince found the new identity %d times, %v; want once", found, err)
	}
	family := otherFamily(b.client)
	other := newClient(t, sp, cov, b.tenant, b.tenant.ClientID(), b.tenant.ClientSecret(), family)
	if ts, err := other.InviteIdentities(ctx, []string{b.identityID}); err != nil {
		t.Errorf("InviteIdentities (%s): %v", family, err)
	} else if _, err := other.TaskStatus(ctx, ts.ID); err != nil {
		t.Errorf("TaskStatus (%s): %v", family, err)
	}
	// The /cc API is not in the spec: the checker lets it through and
	// lists it as not validated.
	if page, err := b.client.ListCCUsers(ctx, 0, 10); err != nil || len(page.Items) == 0 {
		t.Errorf("ListCCUsers = %+v, %v", page, err)
	} else if err := b.client.InviteCC(ctx, []string{page.Items[0].ID}); err != nil {
		t.Errorf("InviteCC: %v", err)
	}
	// No subscriber of the trigger: 204.
	if err := b.client.TestInvocation(ctx, isc.TriggerIdentityAttributesChanged, nil); err != nil {
		t.Errorf("TestInvocation without subscribers: %v", err)
	}
}

// testClientErrors drives the documented 400, 403 and 404 answers.
func testClientErrors(t *testing.T, sp *specs, cov *coverage) {
	b := setup(t, sp, cov)
	ctx := b.ctx
	const unknown = "0123456789abcdef0123456789abcdef"
	wantStatus := func(what string, err error, status int) {
		t.Helper()
		var pe *isc.PermanentError
		if !errors.As(err, &pe) || pe.Status != status {
			t.Errorf("%s: want a PermanentError with status %d, got %s", what, status, errString(err))
		}
	}

	_, err := b.client.InviteIdentities(ctx, []string{unknown})
	wantStatus("InviteIdentities(unknown id)", err, 400)
	_, _, err = b.client.ListIdentities(ctx, isc.ListOptions{Filters: `nosuchfield eq "x"`})
	wantStatus("ListIdentities(bad filter)", err, 400)
	_, err = b.client.CreateSubscription(ctx, b.subscription("idn:no-such-trigger", "/x"))
	wantStatus("CreateSubscription(unknown trigger)", err, 400)
	err = b.client.TestInvocation(ctx, "idn:no-such-trigger", nil)
	wantStatus("TestInvocation(unknown trigger)", err, 400)

	plain := newClient(t, sp, cov, b.tenant, plainClientID, plainClientSecret)
	_, err = plain.InviteIdentities(ctx, []string{b.identityID})
	var ae *isc.AuthError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("InviteIdentities by a plain API client: want an AuthError with status 403, got %s", errString(err))
	}
	scoped := newClient(t, sp, cov, b.tenant, scopedClientID, scopedClientSecret)
	err = scoped.SearchUnregisteredSince(ctx, time.Now().Add(-time.Hour), func([]inviter.Identity) error { return nil })
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("SearchUnregisteredSince without sp:search:read: want an AuthError with status 403, got %s", errString(err))
	}

	_, err = b.client.GetIdentity(ctx, unknown)
	wantStatus("GetIdentity(unknown)", err, 404)
	_, err = b.client.TaskStatus(ctx, unknown)
	wantStatus("TaskStatus(unknown)", err, 404)
	err = b.client.DeleteSubscription(ctx, "00000000-0000-4000-8000-000000000000")
	wantStatus("DeleteSubscription(unknown)", err, 404)
}

// receiver is an event subscriber that keeps what it is sent.
type receiver struct {
	mu     sync.Mutex
	bodies map[string][][]byte // by path
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer contract-secret" {
		http.Error(w, "no bearer token", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.bodies[r.URL.Path] = append(rc.bodies[r.URL.Path], body)
	rc.mu.Unlock()
}

func (rc *receiver) got(path string) [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies[path]...)
}

// jsonValue turns v into what encoding/json decodes, as the validator wants.
func jsonValue(t *testing.T, v any) (any, []byte) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out, data
}

func testEvents(t *testing.T, sp *specs, cov *coverage) {
	versions := []string{"beta", "v2025"}

	t.Run("spec examples", func(t *testing.T) {
		for _, v := range versions {
			created := sp.webhookSchema(t, v, "IdentityCreated")
			ex, data := jsonValue(t, example(created))
			if err := created.VisitJSON(ex); err != nil {
				t.Errorf("%s IdentityCreated example does not match its own schema: %v", v, schemaErr(err))
			}
			ev, err := inviter.ParseIdentityCreated(data)
			if err != nil {
				t.Errorf("%s IdentityCreated example %s: ParseIdentityCreated: %v", v, data, err)
			} else if ev.Identity.ID == "" || ev.Identity.Type != "IDENTITY" || len(ev.Attributes) == 0 {
				t.Errorf("%s IdentityCreated example %s parsed as %+v", v, data, ev)
			}
			t.Logf("%s IdentityCreated example: %s", v, data)

			changed := sp.webhookSchema(t, v, "IdentityAttributesChanged")
			ex, data = jsonValue(t, example(changed))
			if err := changed.VisitJSON(ex); err != nil {
				t.Errorf("%s IdentityAttributesChanged example %s does not match its own schema: %v", v, data, schemaErr(err))
			}
			cev, err := inviter.ParseIdentityAttributesChanged(data)
			if err != nil {
				t.Errorf("%s IdentityAttributesChanged example %s: ParseIdentityAttributesChanged: %v", v, data, err)
			} else if cev.Identity.ID == "" || len(cev.Changes) == 0 || cev.Changes[0].Attribute == "" {
				t.Errorf("%s IdentityAttributesChanged example %s parsed as %+v", v, data, cev)
			}
			t.Logf("%s IdentityAttributesChanged example: %s", v, data)
		}
	})

	t.Run("delivered", func(t *testing.T) {
		b := setup(t, sp, cov)
		rc := &receiver{bodies: make(map[string][][]byte)}
		hook := httptest.NewServer(rc)
		t.Cleanup(hook.Close)
		b.hookURL = hook.URL
		for trigger, path := range map[string]string{
			isc.TriggerIdentityCreated:           "/created",
			isc.TriggerIdentityAttributesChanged: "/changed",
		} {
			if _, err := b.client.CreateSubscription(b.ctx, b.subscription(trigger, path)); err != nil {
				t.Fatalf("subscribing to %s: %v", trigger, err)
			}
		}
		before := len(b.tenant.Deliveries())

		b.tenant.CreateIdentity(isctest.NewIdentity{Name: "Grace Hopper", Department: "Navy"})
		b.tenant.CreateIdentity(isctest.NewIdentity{Name: "Alan Turing", Attributes: map[string]any{
			"startDate": "2026-09-01", "manager": nil, "employeeNumber": 4711, "groups": []any{"a", "b"},
		}})
		exCreated, _ := jsonValue(t, example(sp.webhookSchema(t, "beta", "IdentityCreated")))
		if err := b.client.TestInvocation(b.ctx, isc.TriggerIdentityCreated, nil); err != nil {
			t.Fatalf("test invocation (sample): %v", err)
		}
		if err := b.client.TestInvocation(b.ctx, isc.TriggerIdentityCreated, exCreated); err != nil {
			t.Fatalf("test invocation (spec example): %v", err)
		}
		if err := b.client.TestInvocation(b.ctx, isc.TriggerIdentityAttributesChanged, nil); err != nil {
			t.Fatalf("test invocation (attributes changed): %v", err)
		}
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		if err := b.tenant.WaitDeliveries(ctx, before+5); err != nil {
			t.Fatal(err)
		}
		for _, d := range b.tenant.Deliveries()[before:] {
			if d.Err != nil || d.Status != http.StatusOK {
				t.Errorf("delivery to %s: status %d, %v", d.SubscriptionID, d.Status, d.Err)
			}
		}

		check := func(path, name string, n int, parse func([]byte) (any, error)) {
			bodies := rc.got(path)
			if len(bodies) != n {
				t.Errorf("%s: received %d events, want %d", name, len(bodies), n)
			}
			for _, body := range bodies {
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					t.Errorf("%s event %s is not JSON: %v", name, body, err)
					continue
				}
				for _, ver := range versions {
					s := sp.webhookSchema(t, ver, name)
					if err := s.VisitJSON(v); err != nil {
						t.Errorf("CONTRACT: %s event delivered by isctest does not match the %s schema: %v; event %s", name, ver, schemaErr(err), body)
					}
					var extra []string
					undocumented(s, v, "", &extra)
					if len(extra) > 0 {
						t.Errorf("CONTRACT: %s event delivered by isctest has fields the %s schema does not declare: %s", name, ver, strings.Join(extra, ", "))
					}
				}
				if _, err := parse(body); err != nil {
					t.Errorf("the intake refuses the %s event %s: %v", name, body, err)
				}
			}
		}
		check("/created", "IdentityCreated", 4, func(b []byte) (any, error) { return inviter.ParseIdentityCreated(b) })
		check("/changed", "IdentityAttributesChanged", 1, func(b []byte) (any, error) { return inviter.ParseIdentityAttributesChanged(b) })
	})
}
