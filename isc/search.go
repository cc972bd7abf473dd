package isc

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/inviter/inviter"
)

// SearchPageSize is the page size of SearchUnregisteredSince. The search
// endpoint serves up to 10,000 documents a page; 250 keeps an answer below
// Config.MaxAnswerBytes unless a tenant ignores queryResultFilter and sends
// very large identity documents, and then a page that is too long is asked
// for again a quarter the size.
const SearchPageSize = 250

// SearchEndpoint names the search call, as errors and Config.OnCall name it.
const SearchEndpoint = "POST /v3/search"

// UnregisteredQuery is the search query (Elasticsearch query-string
// syntax, on the identities index) for identities that have not
// registered: cloudStatus is the identity attribute the list filter
// UnregisteredFilter matches; status is the identity document's own
// "status in SailPoint".
//
// Inferred: the spec does not say which of the two carries UNREGISTERED in
// a search document, so either matches. A tenant that refuses a field
// answers 400, and reconcile then lists instead.
const UnregisteredQuery = "(attributes.cloudStatus:UNREGISTERED OR status:UNREGISTERED)"

// searchTime is the ISO-8601 form of a time in a search range. Documented:
// the query is Elasticsearch's query-string syntax, whose range bounds may
// be quoted (a time holds colons).
const searchTime = "2006-01-02T15:04:05.000Z07:00"

// searchRequest is the body of POST /v3/search, as far as inviter uses it.
type searchRequest struct {
	Indices           []string      `json:"indices"`
	Query             searchQuery   `json:"query"`
	Sort              []string      `json:"sort"`
	SearchAfter       []string      `json:"searchAfter,omitempty"`
	QueryResultFilter *resultFilter `json:"queryResultFilter,omitempty"`
}

type searchQuery struct {
	Query string `json:"query"`
}

type resultFilter struct {
	Includes []string `json:"includes"`
}

// identityDoc is an IdentityDocument of the identities search index, as far
// as inviter reads it.
type identityDoc struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	DisplayName string         `json:"displayName"`
	Email       string         `json:"email"`
	Created     time.Time      `json:"created"`
	Status      string         `json:"status"`
	Attributes  map[string]any `json:"attributes"`
}

func (d identityDoc) identity() inviter.Identity {
	id := inviter.Identity{ID: d.ID, Name: d.Name, Email: d.Email, Created: d.Created, Attributes: d.Attributes}
	if id.Name == "" {
		id.Name = d.DisplayName
	}
	// The list's identityStatus is the attribute cloudStatus; the search
	// document's own "status" field is not documented further.
	if cs, ok := d.Attributes["cloudStatus"].(string); ok {
		id.Status = cs
	} else {
		id.Status = d.Status
	}
	if ls, ok := d.Attributes["cloudLifecycleState"].(string); ok {
		id.LifecycleState = ls
	}
	return id
}

// SearchUnregisteredSince pages through the unregistered identities created
// after since, oldest first: POST /v3/search on the identities index,
// query UnregisteredQuery AND an exclusive range on created
// (created:{"<since>" TO *}, at millisecond precision rounded down, so
// nothing at the bound is lost), sorted by id and paged with searchAfter on the last id
// (no offset, so no 10,000-record window). fn sees each non-empty page; the
// walk stops when a page is short, fn returns an error, or ctx ends. It
// needs the scope sp:search:read; without it ISC answers 403 (*AuthError).
//
// Documented: searchAfter paging on a sort by id (SailPoint's Search API,
// "Paginating Search Queries").
// Documented: data reaches the search index "a few seconds to a few
// minutes" after it changes (SailPoint's Search API page); callers overlap
// their windows.
func (c *Client) SearchUnregisteredSince(ctx context.Context, since time.Time, fn func([]inviter.Identity) error) error {
	body := searchRequest{
		Indices: []string{"identities"},
		Query: searchQuery{Query: UnregisteredQuery + ` AND created:{"` +
			since.UTC().Truncate(time.Millisecond).Format(searchTime) + `" TO *}`},
		Sort: []string{"id"},
		QueryResultFilter: &resultFilter{Includes: []string{
			"id", "name", "displayName", "email", "created", "status", "attributes",
		}},
	}
	limit := SearchPageSize
	for {
		var docs []identityDoc
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if err := c.do(ctx, request{method: "POST", path: "/v3/search", query: q, json: body}, &docs); err != nil {
			if smaller := smallerPage(err, limit); smaller > 0 {
				limit = smaller // documents too big for the answer cap: ask for fewer
				continue
			}
			return err
		}
		if len(docs) == 0 {
			return nil
		}
		page := make([]inviter.Identity, len(docs))
		for i, d := range docs {
			page[i] = d.identity()
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(docs) < limit {
			return nil
		}
		body.SearchAfter = []string{docs[len(docs)-1].ID}
	}
}
