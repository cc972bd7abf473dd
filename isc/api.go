package isc

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inviter/inviter"
)

// experimental is the header the versioned (v2024+) endpoints require for
// experimental operations (in the v2025 spec: /v2025/identities/invite, not
// the identity list or get); harmless elsewhere, so inviter sends it on
// every identity call.
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
}

// InviteIdentities asks ISC to invite the identities with the given identity
// ids: POST /beta/identities/invite {"ids": …}. ISC answers 202 with the
// TaskStatus of the task that sends the mails; it mails only unregistered
// identities. A caller without idn:password-user-invite:manage (a plain API
// client rather than an ORG_ADMIN's or HELPDESK's personal access token)
// gets 403.
//
// Inferred: the spec gives no maximum number of ids per call (only the
// {"uninvited":true} form is capped, at 1000); the Inviter makes the batch
// size a setting and splits a batch answered 400.
func (c *Client) InviteIdentities(ctx context.Context, ids []string) (TaskStatus, error) {
	var ts TaskStatus
	err := c.do(ctx, request{
		method: "POST", path: "/beta/identities/invite",
		json:   map[string][]string{"ids": ids},
		header: experimental,
	}, &ts)
	return ts, err
}

// TaskStatus fetches GET /beta/task-status/{id}.
func (c *Client) TaskStatus(ctx context.Context, id string) (TaskStatus, error) {
	var ts TaskStatus
	err := c.do(ctx, request{
		method: "GET", path: "/beta/task-status/" + url.PathEscape(id),
		endpoint: "GET /beta/task-status/{id}",
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
func (c *Client) InviteCC(ctx context.Context, ccIDs []string) error {
	return c.do(ctx, request{
		method: "POST", path: "/cc/api/user/invite",
		form: url.Values{"ids": ccIDs},
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
	// cloudStatus in the attributes is what the list filter matches; prefer
	// it when identityStatus is absent.
	if cs, ok := d.Attributes["cloudStatus"].(string); ok && id.Status == "" {
		id.Status = cs
	}
	return id
}

// ListOptions selects a page of GET /v2025/identities.
type ListOptions struct {
	Filters string // ISC filter syntax, e.g. cloudStatus eq "UNREGISTERED"
	Offset  int
	Limit   int // at most 250; default 250
}

// ListPageSize is the largest page the v2025 list endpoints serve.
const ListPageSize = 250

// ListIdentities fetches one page of GET /v2025/identities with count=true,
// and returns it with the total ISC reported (-1 when it sent none).
func (c *Client) ListIdentities(ctx context.Context, o ListOptions) ([]inviter.Identity, int, error) {
	if o.Limit <= 0 || o.Limit > ListPageSize {
		o.Limit = ListPageSize
	}
	q := url.Values{
		"limit":  {strconv.Itoa(o.Limit)},
		"offset": {strconv.Itoa(o.Offset)},
		"count":  {"true"},
	}
	if o.Filters != "" {
		q.Set("filters", o.Filters)
	}
	var dtos []identityDTO
	total := -1
	err := c.do(ctx, request{
		method: "GET", path: "/v2025/identities", query: q, header: experimental,
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
func (c *Client) EachUnregistered(ctx context.Context, fn func([]inviter.Identity) error) error {
	for offset := 0; ; offset += ListPageSize {
		page, _, err := c.ListIdentities(ctx, ListOptions{Filters: UnregisteredFilter, Offset: offset})
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if len(page) < ListPageSize {
			return nil
		}
	}
}

// IdentitiesByID fetches the identities with the given ids in one call
// (filters id in (…)); ids ISC does not know are absent from the answer.
// At most ListPageSize ids.
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
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = strconv.Quote(id)
	}
	page, _, err := c.ListIdentities(ctx, ListOptions{Filters: "id in (" + strings.Join(quoted, ",") + ")", Limit: ListPageSize})
	return page, err
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

// GetIdentity fetches GET /v2025/identities/{id}. An unknown id gives a
// *PermanentError with Status 404 (see IsNotFound).
func (c *Client) GetIdentity(ctx context.Context, id string) (inviter.Identity, error) {
	var d identityDTO
	err := c.do(ctx, request{
		method: "GET", path: "/v2025/identities/" + url.PathEscape(id),
		endpoint: "GET /v2025/identities/{id}", header: experimental,
	}, &d)
	if err != nil {
		return inviter.Identity{}, err
	}
	return d.identity(), nil
}
