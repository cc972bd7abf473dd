package isc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inviter/inviter"
)

// experimental is the header the versioned (v2024+ and per-service v1)
// endpoints require for experimental operations (in the v2025 spec:
// /v2025/identities/invite, not the identity list or get; the whole
// /identities/v1 family); harmless elsewhere, so inviter sends it on every
// identity and task-status call.
var experimental = map[string][]string{"X-Sailpoint-Experimental": {"true"}}

// TaskStatus is ISC's TaskStatus, as far as inviter reads it.
type TaskStatus struct {
	ID               string              `json:"id"`
	Type             string              `json:"type"`
	UniqueName       string              `json:"uniqueName"`
	CompletionStatus *string             `json:"completionStatus"` // SUCCESS, WARNING, ERROR, TERMINATED, TEMPERROR or null while running
	Messages         []TaskStatusMessage `json:"messages"`
	Created          time.Time           `json:"created"`
	Completed        *time.Time          `json:"completed"`
	PercentComplete  int                 `json:"percentComplete"`
}

// TaskStatusMessage is one message of a TaskStatus.
type TaskStatusMessage struct {
	Type string `json:"type"`
	Key  string `json:"key"`
	// Text is localizedText.message, when ISC sent one.
	Text string `json:"-"`
	// Raw is the message as ISC sent it: the Inviter looks in it for the
	// identity ids a message names (the spec does not say where they are).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a message leniently and keeps it whole in Raw.
func (m *TaskStatusMessage) UnmarshalJSON(b []byte) error {
	var v struct {
		Type          string          `json:"type"`
		Key           string          `json:"key"`
		LocalizedText json.RawMessage `json:"localizedText"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = TaskStatusMessage{Type: v.Type, Key: v.Key, Raw: append(json.RawMessage(nil), b...)}
	var lt struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(v.LocalizedText, &lt) == nil {
		m.Text = lt.Message
	}
	return nil
}

// InviteIdentities asks ISC to invite the identities with the given identity
// ids: POST /{family}/identities/invite {"ids": …} (see APIVersion). ISC
// answers 202 with the TaskStatus of the task that sends the mails; it
// mails only unregistered identities. A caller without
// idn:password-user-invite:manage (a plain API client rather than an
// ORG_ADMIN's or HELPDESK's personal access token) gets 403.
//
// Any 2xx answer means ISC took the invitation, whatever its body: the
// TaskStatus is decoded leniently, field by field, and a body that is not
// JSON (HTML, truncated, too long) gives a TaskStatus with an empty ID
// (task unknown) and no error. Only a non-2xx answer is an error.
//
// Inferred: the spec gives no maximum number of ids per call (only the
// {"uninvited":true} form is capped, at 1000); the Inviter makes the batch
// size a setting and splits a batch answered 400.
func (c *Client) InviteIdentities(ctx context.Context, ids []string) (TaskStatus, error) {
	var ts TaskStatus
	ep := c.cfg.APIVersion.endpoints()
	err := c.do(ctx, request{
		method: "POST", path: ep.invite,
		json:     map[string][]string{"ids": ids},
		header:   experimental,
		accepted: func(body []byte) { ts = lenientTaskStatus(body) },
	}, nil)
	return ts, err
}

// InviteEndpoint names the invite call of the configured API version, as
// errors and Config.OnCall name it.
func (c *Client) InviteEndpoint() string {
	return "POST " + c.cfg.APIVersion.endpoints().invite
}

// lenientTaskStatus decodes what it can of a TaskStatus: each field on its
// own, so one odd field (or a body that is not JSON at all) loses only
// itself.
func lenientTaskStatus(body []byte) TaskStatus {
	var ts TaskStatus
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return ts
	}
	field := func(name string, into any) {
		if raw, ok := fields[name]; ok {
			_ = json.Unmarshal(raw, into)
		}
	}
	field("id", &ts.ID)
	field("type", &ts.Type)
	field("uniqueName", &ts.UniqueName)
	field("completionStatus", &ts.CompletionStatus)
	field("created", &ts.Created)
	field("completed", &ts.Completed)
	field("percentComplete", &ts.PercentComplete)
	if raw, ok := fields["messages"]; ok {
		var msgs []json.RawMessage
		if json.Unmarshal(raw, &msgs) == nil {
			for _, m := range msgs {
				var tm TaskStatusMessage
				if json.Unmarshal(m, &tm) == nil {
					ts.Messages = append(ts.Messages, tm)
				}
			}
		}
	}
	return ts
}

// TaskStatus fetches GET /{family}/task-status/{id}.
func (c *Client) TaskStatus(ctx context.Context, id string) (TaskStatus, error) {
	var ts TaskStatus
	ep := c.cfg.APIVersion.endpoints()
	err := c.do(ctx, request{
		method: "GET", path: ep.taskStatus + "/" + url.PathEscape(id),
		endpoint: "GET " + ep.taskStatus + "/{id}", header: experimental,
	}, &ts)
	return ts, err
}

// CCUser is one entry of the legacy GET /cc/api/user/list.
//
// Inferred: the whole /cc API (this type, ListCCUsers, InviteCC) is absent
// from SailPoint's OpenAPI documents; its shape comes from the forum
// thread "Invite user limitations" (docs/isc-api.md), so the contract
// suite cannot check it.
type CCUser struct {
	ID          string `json:"id"` // the cc short id the legacy invite needs
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Alias       string `json:"alias"`
	Email       string `json:"email"`
	Status      string `json:"status"` // ACTIVE, UNREGISTERED, …
	Enabled     bool   `json:"enabled"`
	Pending     bool   `json:"pending"`
	ExternalID  string `json:"externalId"` // the identity id
}

// CCUserPage is one page of GET /cc/api/user/list.
type CCUserPage struct {
	Total int      `json:"total"`
	Items []CCUser `json:"items"`
}

// CCPageSize is the largest page /cc/api/user/list serves.
const CCPageSize = 250

// ListCCUsers fetches one page of the legacy user list. start is an offset
// in records (the second page of 250 starts at 250); limit is capped at
// CCPageSize.
//
// The /cc API is non-public and being retired; inviter uses it only as the
// fallback invite path.
//
// Inferred: start is an offset in records (the forum thread's example
// reads as a page number), and limit is capped at 250 like the public
// lists.
func (c *Client) ListCCUsers(ctx context.Context, start, limit int) (CCUserPage, error) {
	if limit <= 0 || limit > CCPageSize {
		limit = CCPageSize
	}
	var page CCUserPage
	err := c.do(ctx, request{
		method: "GET", path: "/cc/api/user/list",
		query: url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(limit)}},
	}, &page)
	return page, err
}

// InviteCC invites users by cc short id: POST /cc/api/user/invite with a
// form body repeating the field ids.
//
// Inferred: the answer on success (2xx, body ignored) and that an unknown
// short id fails the whole call with a 4xx.
//
// Any 2xx answer is success, whatever its body.
func (c *Client) InviteCC(ctx context.Context, ccIDs []string) error {
	return c.do(ctx, request{
		method: "POST", path: "/cc/api/user/invite",
		form:     url.Values{"ids": ccIDs},
		accepted: func([]byte) {},
	}, nil)
}

// identityDTO is the v2025 Identity schema, as far as inviter reads it.
type identityDTO struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Created        time.Time      `json:"created"`
	Alias          string         `json:"alias"`
	EmailAddress   string         `json:"emailAddress"`
	IdentityStatus string         `json:"identityStatus"`
	Attributes     map[string]any `json:"attributes"`
	LifecycleState *struct {
		StateName string `json:"stateName"`
	} `json:"lifecycleState"`
}

func (d identityDTO) identity() inviter.Identity {
	id := inviter.Identity{
		ID: d.ID, Name: d.Name, Alias: d.Alias, Email: d.EmailAddress,
		Status: d.IdentityStatus, Created: d.Created, Attributes: d.Attributes,
	}
	if d.LifecycleState != nil {
		id.LifecycleState = d.LifecycleState.StateName
	}
	// emailAddress is nullable in the schema; the identity profile's email
	// attribute is where the address comes from.
	// Inferred: a tenant may leave emailAddress empty and carry the
	// address in attributes.email only.
	if id.Email == "" {
		if e, ok := d.Attributes["email"].(string); ok {
			id.Email = e
		}
	}
	// cloudStatus in the attributes is what the list filter matches; prefer
	// it when identityStatus is absent.
	if cs, ok := d.Attributes["cloudStatus"].(string); ok && id.Status == "" {
		id.Status = cs
	}
	return id
}

// ListOptions selects a page of the identities list.
type ListOptions struct {
	Filters string // ISC filter syntax, e.g. cloudStatus eq "UNREGISTERED"
	Offset  int
	Limit   int // at most 250; default 250
}

// ListPageSize is the largest page the list endpoints serve.
const ListPageSize = 250

// MaxRequestURI is the longest request URI (path and query) the client
// sends. Inferred: SailPoint documents no limit; 8 KB is a common default
// of HTTP servers and proxies, which answer 414 above it.
const MaxRequestURI = 8000

// listQuery is the query of one identities-list page. defaultFilter=NONE:
// the documented default, CORRELATED_ONLY, hides identities without a
// correlated account, which would make such identities "not found"
// forever.
func listQuery(o ListOptions) url.Values {
	q := url.Values{
		"limit":         {strconv.Itoa(o.Limit)},
		"offset":        {strconv.Itoa(o.Offset)},
		"count":         {"true"},
		"defaultFilter": {"NONE"},
	}
	if o.Filters != "" {
		q.Set("filters", o.Filters)
	}
	return q
}

// ListIdentities fetches one page of GET /{family}/identities with
// count=true, and returns it with the total ISC reported (-1 when it sent
// none).
func (c *Client) ListIdentities(ctx context.Context, o ListOptions) ([]inviter.Identity, int, error) {
	if o.Limit <= 0 || o.Limit > ListPageSize {
		o.Limit = ListPageSize
	}
	var dtos []identityDTO
	total := -1
	err := c.do(ctx, request{
		method: "GET", path: c.cfg.APIVersion.endpoints().identities, query: listQuery(o), header: experimental,
		onHeader: func(h http.Header) {
			if n, err := strconv.Atoi(h.Get("X-Total-Count")); err == nil {
				total = n
			}
		},
	}, &dtos)
	if err != nil {
		return nil, 0, err
	}
	out := make([]inviter.Identity, len(dtos))
	for i, d := range dtos {
		out[i] = d.identity()
	}
	return out, total, nil
}

// UnregisteredFilter selects identities that have not registered.
const UnregisteredFilter = `cloudStatus eq "UNREGISTERED"`

// EachUnregistered pages through every unregistered identity, calling fn
// with each page, until the list ends, fn returns an error, or ctx ends.
//
// A page whose answer is longer than Config.MaxAnswerBytes is asked for
// again a quarter the size.
func (c *Client) EachUnregistered(ctx context.Context, fn func([]inviter.Identity) error) error {
	limit := ListPageSize
	for offset := 0; ; {
		page, _, err := c.ListIdentities(ctx, ListOptions{Filters: UnregisteredFilter, Offset: offset, Limit: limit})
		if err != nil {
			if smaller := smallerPage(err, limit); smaller > 0 {
				limit = smaller
				continue
			}
			return err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if len(page) < limit {
			return nil
		}
		offset += len(page)
	}
}

// IdentitiesByID fetches the identities with the given ids (filters
// id in (…)); ids ISC does not know are absent from the answer. At most
// ListPageSize ids. The ids are sent in as few calls as keep each request
// URI within MaxRequestURI: one call for up to about 190 ids of 32
// characters.
//
// Inferred: an identity whose Identity Created event just arrived may not
// be in the list, the get or the invite call yet; the spec says nothing
// of how soon after the event it shows, so absent means "not yet" as much
// as "unknown", and callers retry later (isctest models the delay with
// Options.VisibilityDelay).
func (c *Client) IdentitiesByID(ctx context.Context, ids []string) ([]inviter.Identity, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > ListPageSize {
		return nil, fmt.Errorf("IdentitiesByID: %d ids, at most %d", len(ids), ListPageSize)
	}
	var out []inviter.Identity
	for _, chunk := range c.idChunks(ids) {
		page, _, err := c.ListIdentities(ctx, ListOptions{Filters: idFilter(chunk), Limit: ListPageSize})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	return out, nil
}

// idFilter is the filter id in ("a","b",…).
func idFilter(ids []string) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = strconv.Quote(id)
	}
	return "id in (" + strings.Join(quoted, ",") + ")"
}

// idChunks splits ids so that the request URI of each id-in list call
// stays within MaxRequestURI. The query is escaped byte by byte, so the
// escaped filter's length is the sum of its parts' lengths.
func (c *Client) idChunks(ids []string) [][]string {
	path := c.base.EscapedPath() + c.cfg.APIVersion.endpoints().identities
	fixed := len(path) + 1 + len(listQuery(ListOptions{Filters: idFilter(nil), Limit: ListPageSize}).Encode())
	sep := len(url.QueryEscape(","))
	var out [][]string
	var cur []string
	used := fixed
	for _, id := range ids {
		n := len(url.QueryEscape(strconv.Quote(id)))
		if len(cur) > 0 && used+sep+n > MaxRequestURI {
			out = append(out, cur)
			cur, used = nil, fixed
		}
		if len(cur) > 0 {
			used += sep
		}
		cur = append(cur, id)
		used += n
	}
	return append(out, cur)
}

// LookupIdentities returns the identities ISC knows among ids, by id, with
// one IdentitiesByID call per ListPageSize ids.
func (c *Client) LookupIdentities(ctx context.Context, ids []string) (map[string]inviter.Identity, error) {
	byID := make(map[string]inviter.Identity, len(ids))
	for chunk := range slices.Chunk(ids, ListPageSize) {
		found, err := c.IdentitiesByID(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			byID[f.ID] = f
		}
	}
	return byID, nil
}

// GetIdentity fetches GET /{family}/identities/{id}. An unknown id gives a
// *PermanentError with Status 404 (see IsNotFound).
func (c *Client) GetIdentity(ctx context.Context, id string) (inviter.Identity, error) {
	var d identityDTO
	ep := c.cfg.APIVersion.endpoints()
	err := c.do(ctx, request{
		method: "GET", path: ep.identities + "/" + url.PathEscape(id),
		endpoint: "GET " + ep.identities + "/{id}", header: experimental,
	}, &d)
	if err != nil {
		return inviter.Identity{}, err
	}
	return d.identity(), nil
}
