package isc

import (
	"context"
	"encoding/json"
	"net/url"
)

// TriggerIdentityCreated is the id of ISC's Identity Created event trigger.
const TriggerIdentityCreated = "idn:identity-created"

// TriggerIdentityAttributesChanged is the id of ISC's Identity Attributes
// Changed event trigger.
const TriggerIdentityAttributesChanged = "idn:identity-attributes-changed"

// Subscription is an event trigger subscription
// (/beta/trigger-subscriptions). Secrets go out on create; ISC does not
// return them.
type Subscription struct {
	ID          string      `json:"id,omitempty"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	TriggerID   string      `json:"triggerId"`
	TriggerName string      `json:"triggerName,omitempty"`
	Type        string      `json:"type"` // HTTP
	Enabled     bool        `json:"enabled"`
	HTTPConfig  *HTTPConfig `json:"httpConfig,omitempty"`
	Filter      string      `json:"filter,omitempty"` // JSONPath filter on the event
}

// HTTPConfig is the HTTP delivery part of a Subscription.
type HTTPConfig struct {
	URL                    string           `json:"url"`
	HTTPDispatchMode       string           `json:"httpDispatchMode"`       // SYNC or ASYNC
	HTTPAuthenticationType string           `json:"httpAuthenticationType"` // NO_AUTH, BASIC_AUTH or BEARER_TOKEN
	BasicAuthConfig        *BasicAuthConfig `json:"basicAuthConfig,omitempty"`
	BearerTokenAuthConfig  *BearerConfig    `json:"bearerTokenAuthConfig,omitempty"`
}

// BasicAuthConfig is the user name and password ISC sends with each event.
type BasicAuthConfig struct {
	UserName string `json:"userName"`
	Password string `json:"password,omitempty"`
}

// BearerConfig is the bearer token ISC sends with each event.
type BearerConfig struct {
	BearerToken string `json:"bearerToken,omitempty"`
}

// CreateSubscription creates a trigger subscription:
// POST /beta/trigger-subscriptions. Any 2xx answer means ISC created it:
// a body that cannot be read gives the Subscription as sent, without an
// ID, and no error (sending it again would create a second one).
func (c *Client) CreateSubscription(ctx context.Context, s Subscription) (Subscription, error) {
	out := s
	out.ID = ""
	err := c.do(ctx, request{method: "POST", path: "/beta/trigger-subscriptions", json: s,
		accepted: func(body []byte) {
			var got Subscription
			if json.Unmarshal(body, &got) == nil {
				out = got
			}
		},
	}, nil)
	return out, err
}

// ListSubscriptions lists the tenant's trigger subscriptions.
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	var out []Subscription
	err := c.do(ctx, request{method: "GET", path: "/beta/trigger-subscriptions", query: url.Values{"limit": {"250"}}}, &out)
	return out, err
}

// DeleteSubscription deletes the trigger subscription with the given id.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	return c.do(ctx, request{
		method: "DELETE", path: "/beta/trigger-subscriptions/" + url.PathEscape(id),
		endpoint: "DELETE /beta/trigger-subscriptions/{id}",
	}, nil)
}

// TestInvocation asks ISC to send a test event of triggerID to its
// subscribers: POST /beta/trigger-invocations/test. input is the event
// payload, which must match the trigger's schema; nil omits it, and ISC
// then sends the trigger's sample payload (as the spec documents; an
// empty object is not the same: it would be sent as the event).
func (c *Client) TestInvocation(ctx context.Context, triggerID string, input any) error {
	body := map[string]any{"triggerId": triggerID, "contentJson": map[string]any{}}
	if input != nil {
		body["input"] = input
	}
	return c.do(ctx, request{
		method: "POST", path: "/beta/trigger-invocations/test",
		json: body,
	}, nil)
}

// UpdateSubscription replaces the trigger subscription with the given id:
// PUT /beta/trigger-subscriptions/{id}. Its trigger cannot change.
func (c *Client) UpdateSubscription(ctx context.Context, id string, s Subscription) (Subscription, error) {
	var out Subscription
	s.ID = ""
	err := c.do(ctx, request{
		method: "PUT", path: "/beta/trigger-subscriptions/" + url.PathEscape(id), json: s,
		endpoint: "PUT /beta/trigger-subscriptions/{id}",
	}, &out)
	return out, err
}
