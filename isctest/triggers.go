package isctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const triggerIdentityCreated = "idn:identity-created"

// triggerName returns the name of a trigger the fake knows, or "".
//
// Inferred: a subscription or test invocation naming another trigger is
// refused with 400.
func triggerName(id string) string {
	switch id {
	case triggerIdentityCreated:
		return "Identity Created"
	case "idn:identity-attributes-changed":
		return "Identity Attributes Changed"
	case "idn:identity-deleted":
		return "Identity Deleted"
	}
	return ""
}

// Subscription is a trigger subscription, as ISC's Subscription schema
// has it. Subscriptions returns it with its secrets; the HTTP API answers
// with them redacted (null), as ISC does.
type Subscription struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	Description      string      `json:"description,omitempty"`
	TriggerID        string      `json:"triggerId"`
	TriggerName      string      `json:"triggerName"`
	Type             string      `json:"type"`
	ResponseDeadline string      `json:"responseDeadline,omitempty"`
	HTTPConfig       *HTTPConfig `json:"httpConfig,omitempty"`
	Enabled          bool        `json:"enabled"`
	Filter           string      `json:"filter,omitempty"`
}

// HTTPConfig is the httpConfig of an HTTP subscription.
type HTTPConfig struct {
	URL                    string                 `json:"url"`
	HTTPDispatchMode       string                 `json:"httpDispatchMode"`
	HTTPAuthenticationType string                 `json:"httpAuthenticationType"`
	BasicAuthConfig        *BasicAuthConfig       `json:"basicAuthConfig,omitempty"`
	BearerTokenAuthConfig  *BearerTokenAuthConfig `json:"bearerTokenAuthConfig,omitempty"`
}

// BasicAuthConfig is the basicAuthConfig of an HTTPConfig.
type BasicAuthConfig struct {
	UserName string  `json:"userName"`
	Password *string `json:"password"`
}

// BearerTokenAuthConfig is the bearerTokenAuthConfig of an HTTPConfig.
type BearerTokenAuthConfig struct {
	BearerToken *string `json:"bearerToken"`
}

// clone returns a deep copy of sub.
func (sub Subscription) clone() Subscription {
	if sub.HTTPConfig != nil {
		hc := *sub.HTTPConfig
		if hc.BasicAuthConfig != nil {
			b := *hc.BasicAuthConfig
			if b.Password != nil {
				p := *b.Password
				b.Password = &p
			}
			hc.BasicAuthConfig = &b
		}
		if hc.BearerTokenAuthConfig != nil {
			b := *hc.BearerTokenAuthConfig
			if b.BearerToken != nil {
				t := *b.BearerToken
				b.BearerToken = &t
			}
			hc.BearerTokenAuthConfig = &b
		}
		sub.HTTPConfig = &hc
	}
	return sub
}

// redacted returns a copy of sub with its secrets set to null.
func (sub Subscription) redacted() Subscription {
	out := sub.clone()
	if hc := out.HTTPConfig; hc != nil {
		if hc.BasicAuthConfig != nil {
			hc.BasicAuthConfig.Password = nil
		}
		if hc.BearerTokenAuthConfig != nil {
			hc.BearerTokenAuthConfig.BearerToken = nil
		}
	}
	return out
}

// subscriptionInput is the body of a POST or PUT: enabled defaults to true.
type subscriptionInput struct {
	Name             string      `json:"name"`
	Description      string      `json:"description"`
	TriggerID        string      `json:"triggerId"`
	Type             string      `json:"type"`
	ResponseDeadline string      `json:"responseDeadline"`
	HTTPConfig       *HTTPConfig `json:"httpConfig"`
	Enabled          *bool       `json:"enabled"`
	Filter           string      `json:"filter"`
}

func (in subscriptionInput) subscription() Subscription {
	sub := Subscription{
		Name:             in.Name,
		Description:      in.Description,
		TriggerID:        in.TriggerID,
		Type:             in.Type,
		ResponseDeadline: in.ResponseDeadline,
		HTTPConfig:       in.HTTPConfig,
		Enabled:          in.Enabled == nil || *in.Enabled,
		Filter:           in.Filter,
	}
	if sub.ResponseDeadline == "" {
		sub.ResponseDeadline = "PT1H"
	}
	if hc := sub.HTTPConfig; hc != nil && hc.HTTPAuthenticationType == "" {
		hc.HTTPAuthenticationType = "NO_AUTH"
	}
	sub.TriggerName = triggerName(sub.TriggerID)
	return sub
}

// validate checks a subscription as ISC would.
//
// Inferred: the fake supports only HTTP subscriptions (it cannot deliver to
// EventBridge or workflows) and refuses other types with 400.
func (sub Subscription) validate() error {
	switch {
	case strings.TrimSpace(sub.Name) == "":
		return fmt.Errorf("name is required")
	case sub.TriggerID == "":
		return fmt.Errorf("triggerId is required")
	case triggerName(sub.TriggerID) == "":
		return fmt.Errorf("trigger %q does not exist", sub.TriggerID)
	case sub.Type != "HTTP":
		return fmt.Errorf("type %q is not supported: use HTTP", sub.Type)
	case sub.HTTPConfig == nil:
		return fmt.Errorf("httpConfig is required for an HTTP subscription")
	}
	hc := sub.HTTPConfig
	if u, err := url.Parse(hc.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("httpConfig.url %q is not a valid URL", hc.URL)
	}
	switch hc.HTTPDispatchMode {
	case "SYNC", "ASYNC", "DYNAMIC":
	default:
		return fmt.Errorf("httpConfig.httpDispatchMode %q must be SYNC, ASYNC or DYNAMIC", hc.HTTPDispatchMode)
	}
	switch hc.HTTPAuthenticationType {
	case "NO_AUTH":
	case "BASIC_AUTH":
		if hc.BasicAuthConfig == nil || hc.BasicAuthConfig.UserName == "" || hc.BasicAuthConfig.Password == nil {
			return fmt.Errorf("basicAuthConfig with userName and password is required for BASIC_AUTH")
		}
	case "BEARER_TOKEN":
		if hc.BearerTokenAuthConfig == nil || hc.BearerTokenAuthConfig.BearerToken == nil || *hc.BearerTokenAuthConfig.BearerToken == "" {
			return fmt.Errorf("bearerTokenAuthConfig with bearerToken is required for BEARER_TOKEN")
		}
	default:
		return fmt.Errorf("httpConfig.httpAuthenticationType %q must be NO_AUTH, BASIC_AUTH or BEARER_TOKEN", hc.HTTPAuthenticationType)
	}
	if _, err := parseJSONPathFilter(sub.Filter); sub.Filter != "" && err != nil && err != errFilterUnsupported {
		return fmt.Errorf("filter %q is not a valid JSONPath filter: %v", sub.Filter, err)
	}
	return nil
}

// Subscriptions returns every trigger subscription, with its secrets, in
// creation order.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, len(s.subs))
	for i, sub := range s.subs {
		out[i] = sub.clone()
	}
	return out
}

func (s *Server) subLocked(id string) (int, *Subscription) {
	for i, sub := range s.subs {
		if sub.ID == id {
			return i, sub
		}
	}
	return -1, nil
}

// matchingSubsLocked returns copies of the HTTP subscriptions to trigger:
// the enabled ones for a real event (only == nil), or those in only (all
// of them when only is empty) for a test invocation, enabled or not.
func (s *Server) matchingSubsLocked(trigger string, only []string) []Subscription {
	var out []Subscription
	for _, sub := range s.subs {
		if sub.TriggerID != trigger || sub.Type != "HTTP" {
			continue
		}
		switch {
		case only == nil:
			if !sub.Enabled {
				continue
			}
		case len(only) > 0:
			found := false
			for _, id := range only {
				found = found || id == sub.ID
			}
			if !found {
				continue
			}
		}
		out = append(out, sub.clone())
	}
	return out
}

// handleCreateSubscription answers POST /beta/trigger-subscriptions.
func (s *Server) handleCreateSubscription() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in subscriptionInput
		if !decodeJSON(w, r, &in) {
			return
		}
		sub := in.subscription()
		if err := sub.validate(); err != nil {
			badRequest(w, "%v", err)
			return
		}
		sub.ID = newUUID()
		s.mu.Lock()
		s.subs = append(s.subs, &sub)
		if !s.subscribed {
			s.subscribed = true
			close(s.firstSub)
		}
		out := sub.redacted()
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, out)
	})
}

// handleListSubscriptions answers GET /beta/trigger-subscriptions.
func (s *Server) handleListSubscriptions() http.Handler {
	fields := filterFields{"id": {"eq"}, "triggerId": {"eq"}, "type": {"eq"}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, count, ok := pageParams(w, r, 250)
		if !ok {
			return
		}
		expr, err := parseFilter(r.URL.Query().Get("filters"), fields)
		if err != nil {
			badRequest(w, "Invalid filter %q: %v", r.URL.Query().Get("filters"), err)
			return
		}
		s.mu.Lock()
		var matched []Subscription
		for _, sub := range s.subs {
			get := func(f string) []string {
				switch f {
				case "id":
					return []string{sub.ID}
				case "triggerId":
					return []string{sub.TriggerID}
				case "type":
					return []string{sub.Type}
				}
				return nil
			}
			if expr == nil || expr.match(get) {
				matched = append(matched, sub.redacted())
			}
		}
		s.mu.Unlock()
		if count {
			w.Header().Set("X-Total-Count", strconv.Itoa(len(matched)))
		}
		items := page(matched, limit, offset)
		if items == nil {
			items = []Subscription{}
		}
		writeJSON(w, http.StatusOK, items)
	})
}

// handleGetSubscription answers GET /beta/trigger-subscriptions/{id}.
//
// Inferred: the beta spec lists no GET of one subscription, but the
// project's docs name it; it answers like an item of the list.
func (s *Server) handleGetSubscription() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		_, sub := s.subLocked(r.PathValue("id"))
		var out Subscription
		if sub != nil {
			out = sub.redacted()
		}
		s.mu.Unlock()
		if sub == nil {
			notFound(w, "Subscription %s was not found.", r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handlePutSubscription answers PUT /beta/trigger-subscriptions/{id}: the
// subscription is replaced, but id and triggerId are immutable.
func (s *Server) handlePutSubscription() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in subscriptionInput
		if !decodeJSON(w, r, &in) {
			return
		}
		s.update(w, r.PathValue("id"), func(old Subscription) (Subscription, error) {
			if in.TriggerID != "" && in.TriggerID != old.TriggerID {
				return Subscription{}, fmt.Errorf("triggerId is immutable")
			}
			in.TriggerID = old.TriggerID
			sub := in.subscription()
			sub.ID = old.ID
			return sub, nil
		})
	})
}

// handlePatchSubscription answers PATCH /beta/trigger-subscriptions/{id}
// with a JSON Patch (RFC 6902) of add, replace and remove operations on
// the patchable fields.
func (s *Server) handlePatchSubscription() http.Handler {
	patchable := map[string]bool{
		"name": true, "description": true, "enabled": true, "type": true, "filter": true,
		"responseDeadline": true, "httpConfig": true, "eventBridgeConfig": true, "workflowConfig": true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ops []patchOp
		if !decodeJSON(w, r, &ops) {
			return
		}
		s.update(w, r.PathValue("id"), func(old Subscription) (Subscription, error) {
			raw, err := json.Marshal(old)
			if err != nil {
				return Subscription{}, err
			}
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				return Subscription{}, err
			}
			for _, op := range ops {
				root, _, _ := strings.Cut(strings.TrimPrefix(op.Path, "/"), "/")
				if !patchable[root] {
					return Subscription{}, fmt.Errorf("path %q is not patchable", op.Path)
				}
				if err := op.apply(doc); err != nil {
					return Subscription{}, err
				}
			}
			raw, err = json.Marshal(doc)
			if err != nil {
				return Subscription{}, err
			}
			var sub Subscription
			if err := json.Unmarshal(raw, &sub); err != nil {
				return Subscription{}, fmt.Errorf("patched subscription is invalid: %v", err)
			}
			sub.ID, sub.TriggerID, sub.TriggerName = old.ID, old.TriggerID, old.TriggerName
			return sub, nil
		})
	})
}

// update replaces subscription id with what change makes of it, after
// validation, and answers 200 with the result.
func (s *Server) update(w http.ResponseWriter, id string, change func(Subscription) (Subscription, error)) {
	s.mu.Lock()
	i, old := s.subLocked(id)
	if old == nil {
		s.mu.Unlock()
		notFound(w, "Subscription %s was not found.", id)
		return
	}
	sub, err := change(old.clone())
	if err == nil {
		err = sub.validate()
	}
	if err == nil {
		s.subs[i] = &sub
	}
	s.mu.Unlock()
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, sub.redacted())
}

// handleDeleteSubscription answers DELETE /beta/trigger-subscriptions/{id}.
func (s *Server) handleDeleteSubscription() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		i, sub := s.subLocked(r.PathValue("id"))
		if sub != nil {
			s.subs = append(s.subs[:i:i], s.subs[i+1:]...)
		}
		s.mu.Unlock()
		if sub == nil {
			notFound(w, "Subscription %s was not found.", r.PathValue("id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

type testInvocation struct {
	TriggerID       string          `json:"triggerId"`
	Input           json.RawMessage `json:"input"`
	ContentJSON     json.RawMessage `json:"contentJson"`
	SubscriptionIDs []string        `json:"subscriptionIds"`
}

// handleTestInvocation answers POST /beta/trigger-invocations/test: the
// input (or, when it is omitted, the trigger's sample payload, as the spec
// says) is delivered to every subscription of the trigger, or to those
// listed in subscriptionIds, enabled or not. As the spec says, the answer
// is 200 with the invocations started, or 204 when nobody subscribes.
//
// Inferred: test invocations ignore subscription filters, so that a test
// always reaches its subscriber; contentJson is required, as in the spec;
// an input that does not match the trigger's schema (which the spec says
// it must) is delivered as given rather than refused, and an explicit
// null counts as omitted.
func (s *Server) handleTestInvocation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in testInvocation
		if !decodeJSON(w, r, &in) {
			return
		}
		if triggerName(in.TriggerID) == "" {
			badRequest(w, "Trigger %q does not exist.", in.TriggerID)
			return
		}
		if len(in.ContentJSON) == 0 || bytes.Equal(in.ContentJSON, []byte("null")) {
			badRequest(w, "contentJson is required.")
			return
		}
		body := []byte(in.Input)
		if len(body) == 0 || bytes.Equal(body, []byte("null")) {
			body = samplePayload(in.TriggerID)
		}
		only := in.SubscriptionIDs
		if only == nil {
			only = []string{}
		}
		s.mu.Lock()
		subs := s.matchingSubsLocked(in.TriggerID, only)
		s.mu.Unlock()
		if len(subs) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var ref struct {
			Identity struct {
				ID string `json:"id"`
			} `json:"identity"`
		}
		_ = json.Unmarshal(body, &ref)
		invocations := make([]map[string]any, 0, len(subs))
		for _, sub := range subs {
			s.deliver(sub, ref.Identity.ID, body)
			invocations = append(invocations, map[string]any{
				"id":          newUUID(),
				"triggerId":   in.TriggerID,
				"secret":      newUUID(),
				"contentJson": in.ContentJSON,
			})
		}
		writeJSON(w, http.StatusOK, invocations)
	})
}

// samplePayload is a trigger's sample payload, after the spec's example.
func samplePayload(trigger string) []byte {
	ref := map[string]any{"type": "IDENTITY", "id": "2c7180a46faadee4016fb4e018c20642", "name": "Michael Michaels"}
	var v map[string]any
	switch trigger {
	case "idn:identity-attributes-changed":
		v = map[string]any{"identity": ref, "changes": []any{
			map[string]any{"attribute": "department", "oldValue": "sales", "newValue": "marketing"},
		}}
	default:
		v = map[string]any{"identity": ref, "attributes": map[string]any{"firstname": "John"}}
	}
	b, _ := json.Marshal(v)
	return b
}

// identityCreatedPayload is the idn:identity-created event of id.
func identityCreatedPayload(id Identity) []byte {
	b, _ := json.Marshal(map[string]any{
		"identity":   map[string]string{"type": "IDENTITY", "id": id.ID, "name": id.Name},
		"attributes": id.Attributes,
	})
	return b
}

// Delivery is one attempt to deliver an event to a subscriber.
type Delivery struct {
	// SubscriptionID is the subscription delivered to.
	SubscriptionID string
	// IdentityID is the event's identity id ("" when the payload has none).
	IdentityID string
	// Status is the subscriber's status code; 0 when no answer came.
	Status int
	// Err is the transport error, nil when the subscriber answered.
	Err error
	// At is when the attempt started, by the tenant's clock.
	At time.Time
	// Body is the JSON payload sent.
	Body []byte
}

// deliver POSTs body to sub's URL with its authentication, once, in the
// background (FIRE_AND_FORGET: whatever the answer, no retry), and records
// a Delivery.
func (s *Server) deliver(sub Subscription, identityID string, body []byte) {
	d := Delivery{SubscriptionID: sub.ID, IdentityID: identityID, At: s.now(), Body: body}
	s.mu.Lock()
	if s.closed {
		d.Err = errTenantClosed
		s.recordDeliveryLocked(d)
		s.mu.Unlock()
		return
	}
	s.deliverWG.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.deliverWG.Done()
		d.Status, d.Err = s.post(sub.HTTPConfig, body)
		if d.Err != nil {
			s.opts.Logger.Warn("isctest event delivery failed", "subscription_id", sub.ID, "identity_id", identityID, "err", d.Err)
		}
		s.mu.Lock()
		s.recordDeliveryLocked(d)
		s.mu.Unlock()
	}()
}

// errTenantClosed is the Err of a delivery attempted after Close.
var errTenantClosed = errors.New("isctest: tenant closed")

func (s *Server) recordDeliveryLocked(d Delivery) {
	s.deliveries = append(s.deliveries, d)
	close(s.delivered)
	s.delivered = make(chan struct{})
}

func (s *Server) post(hc *HTTPConfig, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(s.deliverCtx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hc.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	switch hc.HTTPAuthenticationType {
	case "BASIC_AUTH":
		if b := hc.BasicAuthConfig; b != nil && b.Password != nil {
			req.SetBasicAuth(b.UserName, *b.Password)
		}
	case "BEARER_TOKEN":
		if b := hc.BearerTokenAuthConfig; b != nil && b.BearerToken != nil {
			req.Header.Set("Authorization", "Bearer "+*b.BearerToken)
		}
	}
	client := &http.Client{
		Transport: s.transport,
		// Inferred: ISC does not follow redirects of a subscriber.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// Deliveries returns every delivery attempt made so far, in the order they
// finished.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// WaitDeliveries blocks until at least n delivery attempts have finished
// or ctx is done, and returns ctx's error in the latter case.
func (s *Server) WaitDeliveries(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		have, ch := len(s.deliveries), s.delivered
		s.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d deliveries, %d done: %w", n, have, ctx.Err())
		}
	}
}
