package isctest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// identityFilterFields returns the filters the v2025 and beta list
// identities API documents.
func identityFilterFields() filterFields {
	return filterFields{
		"id":              {"eq", "in"},
		"name":            {"eq", "sw"},
		"alias":           {"eq", "sw"},
		"firstname":       {"eq", "sw"},
		"lastname":        {"eq", "sw"},
		"email":           {"eq", "sw"},
		"cloudStatus":     {"eq"},
		"processingState": {"eq"},
		"correlated":      {"eq"},
		"protected":       {"eq"},
	}
}

// identityFilterValues returns the values a filter compares for field.
//
// Inferred: cloudStatus eq "REGISTERED" matches every registered identity,
// whose cloudStatus attribute reads ACTIVE; every fake identity is
// correlated unless created Uncorrelated, not protected, and in processing
// state OK.
func identityFilterValues(id *identity) func(string) []string {
	return func(field string) []string {
		switch field {
		case "id":
			return []string{id.ID}
		case "name":
			return []string{id.Name}
		case "alias":
			return []string{id.Alias}
		case "email":
			return []string{id.Email}
		case "firstname", "lastname":
			s, _ := id.Attributes[field].(string)
			return []string{s}
		case "cloudStatus":
			if registeredStatus(id.Status) {
				return []string{id.Status, statusRegistered}
			}
			return []string{id.Status}
		case "processingState":
			return []string{"OK"}
		case "correlated":
			return []string{strconv.FormatBool(!id.Uncorrelated)}
		case "protected":
			return []string{"false"}
		}
		return nil
	}
}

// identityJSON is the v2025 (and beta) Identity schema.
type identityJSON struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Created         string         `json:"created"`
	Modified        string         `json:"modified"`
	Alias           string         `json:"alias"`
	EmailAddress    *string        `json:"emailAddress"`
	ProcessingState string         `json:"processingState"`
	IdentityStatus  string         `json:"identityStatus"`
	ManagerRef      *struct{}      `json:"managerRef"`
	IsManager       bool           `json:"isManager"`
	LastRefresh     string         `json:"lastRefresh"`
	Attributes      map[string]any `json:"attributes"`
	LifecycleState  lifecycleState `json:"lifecycleState"`
}

type lifecycleState struct {
	StateName       string `json:"stateName"`
	ManuallyUpdated bool   `json:"manuallyUpdated"`
}

func (id *identity) toJSON() identityJSON {
	var email *string
	if id.Email != "" {
		e := id.Email
		email = &e
	}
	snap := id.snapshot()
	return identityJSON{
		ID:              id.ID,
		Name:            id.Name,
		Created:         isoTime(id.Created),
		Modified:        isoTime(id.modified),
		Alias:           id.Alias,
		EmailAddress:    email,
		ProcessingState: "OK",
		IdentityStatus:  id.Status,
		LastRefresh:     isoTime(id.modified),
		Attributes:      snap.Attributes,
		LifecycleState:  lifecycleState{StateName: id.LifecycleState},
	}
}

// handleListIdentities answers GET /{beta,v2024,v2025}/identities: the
// visible identities, filtered, sorted and paged. The specs require no
// experimental header for it. defaultFilter is CORRELATED_ONLY (adds
// correlated eq true: uncorrelated identities are hidden) or NONE, as the
// beta and v2025 specs document it; another value is 400.
func (s *Server) handleListIdentities() http.Handler {
	fields := identityFilterFields()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, count, ok := pageParams(w, r, 250)
		if !ok {
			return
		}
		q := r.URL.Query()
		expr, err := parseFilter(q.Get("filters"), fields)
		if err != nil {
			badRequest(w, "Invalid filter %q: %v", q.Get("filters"), err)
			return
		}
		less, err := identitySorter(q.Get("sorters"))
		if err != nil {
			badRequest(w, "Invalid sorters %q: %v", q.Get("sorters"), err)
			return
		}
		correlatedOnly := true
		switch df := q.Get("defaultFilter"); df {
		case "", "CORRELATED_ONLY":
		case "NONE":
			correlatedOnly = false
		default:
			badRequest(w, "The value %q is not valid for the query parameter 'defaultFilter': it must be CORRELATED_ONLY or NONE.", df)
			return
		}

		s.mu.Lock()
		matched, indexed := s.lookupByIDLocked(expr, correlatedOnly)
		if !indexed {
			for _, id := range s.orderedLocked(s.opts.ListOrder) {
				if correlatedOnly && id.Uncorrelated {
					continue
				}
				if expr == nil || expr.match(identityFilterValues(id)) {
					matched = append(matched, id)
				}
			}
		}
		if less != nil {
			slices.SortStableFunc(matched, less)
		}
		total := len(matched)
		items := make([]identityJSON, 0, limit)
		for _, id := range page(matched, limit, offset) {
			items = append(items, id.toJSON())
		}
		s.mu.Unlock()

		if count {
			w.Header().Set("X-Total-Count", strconv.Itoa(total))
		}
		writeJSON(w, http.StatusOK, items)
	})
}

// lookupByIDLocked answers a filter that names identities by id alone
// (id eq "…", id in ("…", …)), the lookup of a batch before its invite,
// from the id index instead of a scan of every identity: the same
// identities, in the same order, as the scan gives. indexed is false when
// the filter is of another kind, or names an id the index does not hold
// as written (the scan then compares case-insensitively).
func (s *Server) lookupByIDLocked(expr filterExpr, correlatedOnly bool) (matched []*identity, indexed bool) {
	e, ok := expr.(cmpExpr)
	if !ok || e.field != "id" || s.opts.ListOrder == CCOrderName {
		return nil, false
	}
	now := s.now().Add(-s.opts.ListDelay)
	seen := make(map[*identity]bool, len(e.values))
	for _, v := range e.values {
		id, ok := s.byID[v]
		if !ok {
			return nil, false
		}
		if seen[id] || !id.visible(now) || correlatedOnly && id.Uncorrelated {
			continue
		}
		seen[id] = true
		matched = append(matched, id)
	}
	slices.SortFunc(matched, func(a, b *identity) int { return a.seq - b.seq })
	if s.opts.ListOrder == CCOrderNewestFirst {
		slices.Reverse(matched)
	}
	return matched, true
}

// identitySorter parses sorters: name, alias, cloudStatus, each optionally
// prefixed by "-" for descending. Without sorters the order is
// Options.ListOrder, creation order by default.
//
// Inferred: ISC does not document the default order; creation order is
// stable, which offset paging needs.
func identitySorter(s string) (func(a, b *identity) int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys []func(a, b *identity) int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		desc := strings.HasPrefix(f, "-")
		f = strings.TrimPrefix(f, "-")
		var key func(*identity) string
		switch f {
		case "name":
			key = func(i *identity) string { return strings.ToLower(i.Name) }
		case "alias":
			key = func(i *identity) string { return strings.ToLower(i.Alias) }
		case "cloudStatus":
			key = func(i *identity) string { return i.Status }
		default:
			return nil, fmt.Errorf("sorting is not supported for field %q", f)
		}
		keys = append(keys, func(a, b *identity) int {
			c := cmp.Compare(key(a), key(b))
			if desc {
				c = -c
			}
			return c
		})
	}
	return func(a, b *identity) int {
		for _, k := range keys {
			if c := k(a, b); c != 0 {
				return c
			}
		}
		return 0
	}, nil
}

// handleGetIdentity answers GET /{beta,v2024,v2025}/identities/{id}.
func (s *Server) handleGetIdentity() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idStr := r.PathValue("id")
		s.mu.Lock()
		id, ok := s.byID[idStr]
		var out identityJSON
		if ok && id.visible(s.now()) {
			out = id.toJSON()
		} else {
			ok = false
		}
		s.mu.Unlock()
		if !ok {
			notFound(w, "Identity %s was not found.", idStr)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}
