package isctest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file models POST /v3/search (and /v2025/search) on the identities
// index: the SAILPOINT query type, whose query string uses Elasticsearch's
// query-string syntax (field:value, field:"quoted", ranges [a TO b],
// {a TO b}, comparisons >, >=, <, <=, wildcards * and ?, date math such as
// now-7d, AND, OR, NOT and parentheses), sort, searchAfter, limit, offset
// and count.
//
// Inferred: what the fake cannot model is refused with 400 rather than
// answered wrongly: other indices and query types, unknown fields, and
// two terms with no AND or OR between them (Elasticsearch would OR them,
// a likely mistake).

// searchMaxLimit is the spec's maximum of limit; also the window
// offset+limit must stay within (Elasticsearch's max_result_window).
const searchMaxLimit = 10000

type searchRequest struct {
	Indices   []string `json:"indices"`
	QueryType string   `json:"queryType"`
	Query     *struct {
		Query string `json:"query"`
	} `json:"query"`
	Sort              []string                `json:"sort"`
	SearchAfter       []json.RawMessage       `json:"searchAfter"`
	Filters           map[string]searchFilter `json:"filters"`
	QueryResultFilter *struct {
		Includes []string `json:"includes"`
		Excludes []string `json:"excludes"`
	} `json:"queryResultFilter"`
}

// searchFilter is the search's Filter: a RANGE, TERMS or EXISTS filter on
// one field, optionally excluding what it matches.
type searchFilter struct {
	Type  string `json:"type"`
	Range *struct {
		Lower *searchBound `json:"lower"`
		Upper *searchBound `json:"upper"`
	} `json:"range"`
	Terms   []string `json:"terms"`
	Exclude bool     `json:"exclude"`
}

// searchBound is a Bound: inclusive defaults to false, as the spec says.
type searchBound struct {
	Value     string `json:"value"`
	Inclusive bool   `json:"inclusive"`
}

// identityDocument is the search's IdentityDocument.
type identityDocument struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Type            string         `json:"_type"`
	DisplayName     string         `json:"displayName"`
	FirstName       string         `json:"firstName"`
	LastName        string         `json:"lastName"`
	Email           string         `json:"email,omitempty"`
	Created         string         `json:"created"`
	Modified        string         `json:"modified"`
	Synced          string         `json:"synced"`
	Inactive        bool           `json:"inactive"`
	Protected       bool           `json:"protected"`
	Status          string         `json:"status"`
	EmployeeNumber  string         `json:"employeeNumber"`
	Manager         *struct{}      `json:"manager"`
	IsManager       bool           `json:"isManager"`
	Attributes      map[string]any `json:"attributes"`
	Disabled        bool           `json:"disabled"`
	Locked          bool           `json:"locked"`
	ProcessingState *string        `json:"processingState"`
}

// SearchStatusMode is where an identity's registration status shows in
// its search document (Options.SearchStatus).
//
// Inferred: IdentityDocument documents "status" ("Identity's status in
// SailPoint", example UNREGISTERED) and an open attributes map; which of
// them carries the registration status is not said further.
type SearchStatusMode string

// The places the search document carries the status.
const (
	// SearchStatusBoth: "status" and attributes.cloudStatus both carry it.
	SearchStatusBoth SearchStatusMode = ""
	// SearchStatusField: only "status"; the document's attributes have no
	// cloudStatus.
	SearchStatusField SearchStatusMode = "status"
	// SearchStatusAttribute: only attributes.cloudStatus; "status" reads
	// ACTIVE or INACTIVE (the identity's lifecycle), not the registration.
	SearchStatusAttribute SearchStatusMode = "attribute"
)

// ParseSearchStatusMode reads a SearchStatusMode: "both", "status" or
// "attribute".
func ParseSearchStatusMode(s string) (SearchStatusMode, error) {
	switch s {
	case "", "both":
		return SearchStatusBoth, nil
	case "status":
		return SearchStatusField, nil
	case "attribute":
		return SearchStatusAttribute, nil
	}
	return "", fmt.Errorf("unknown search status mode %q (want both, status or attribute)", s)
}

// searchStatus is the document's "status" under mode.
func searchStatus(id *identity, mode SearchStatusMode) string {
	if mode == SearchStatusAttribute {
		if id.LifecycleState == "active" {
			return "ACTIVE"
		}
		return "INACTIVE"
	}
	return id.Status
}

func (id *identity) toDocument(mode SearchStatusMode) identityDocument {
	snap := id.snapshot()
	if mode == SearchStatusField {
		delete(snap.Attributes, "cloudStatus")
		delete(snap.Attributes, "internalCloudStatus")
	}
	first, _ := snap.Attributes["firstname"].(string)
	last, _ := snap.Attributes["lastname"].(string)
	return identityDocument{
		ID:             id.ID,
		Name:           id.Alias,
		Type:           "identity",
		DisplayName:    id.Name,
		FirstName:      first,
		LastName:       last,
		Email:          id.Email,
		Created:        isoTime(id.Created),
		Modified:       isoTime(id.modified),
		Synced:         isoTime(id.modified),
		Inactive:       id.LifecycleState != "active",
		Status:         searchStatus(id, mode),
		EmployeeNumber: id.CCID,
		Attributes:     snap.Attributes,
		Disabled:       id.Status == "DISABLED",
		Locked:         id.Status == "LOCKED",
	}
}

// handleSearch answers POST /v3/search and /v2025/search.
func (s *Server) handleSearch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, offset, count, ok := pageParams(w, r, searchMaxLimit)
		if !ok {
			return
		}
		if offset+limit > searchMaxLimit {
			badRequest(w, "offset + limit must not exceed %d; use searchAfter to page further.", searchMaxLimit)
			return
		}
		var req searchRequest
		if !decodeJSON(w, r, &req) {
			return
		}
		for _, ix := range req.Indices {
			if ix != "identities" {
				badRequest(w, "Index %q is not supported by this tenant: only \"identities\" is.", ix)
				return
			}
		}
		if req.QueryType != "" && req.QueryType != "SAILPOINT" {
			badRequest(w, "queryType %q is not supported: only SAILPOINT is.", req.QueryType)
			return
		}
		if req.Query == nil {
			badRequest(w, "query is required for the SAILPOINT query type.")
			return
		}
		now := s.now()
		q, err := parseSearchQuery(req.Query.Query, now)
		if err != nil {
			badRequest(w, "Invalid query %q: %v", req.Query.Query, err)
			return
		}
		for _, field := range slices.Sorted(maps.Keys(req.Filters)) {
			f, err := parseSearchFilter(field, req.Filters[field], now)
			if err != nil {
				badRequest(w, "Invalid filter on %q: %v", field, err)
				return
			}
			q = searchAnd{q, f}
		}
		q = withStatusMode(q, s.opts.SearchStatus)
		keys, err := parseSearchSort(req.Sort)
		if err != nil {
			badRequest(w, "Invalid sort: %v", err)
			return
		}
		var after []string
		if len(req.SearchAfter) > 0 {
			if len(req.SearchAfter) != len(keys) {
				badRequest(w, "searchAfter has %d values; it needs one per sort field (%d).", len(req.SearchAfter), len(keys))
				return
			}
			for i, raw := range req.SearchAfter {
				v, err := keys[i].afterValue(raw)
				if err != nil {
					badRequest(w, "Invalid searchAfter value %s: %v", raw, err)
					return
				}
				after = append(after, v)
			}
		}

		s.mu.Lock()
		var matched []*identity
		for _, id := range s.visibleLocked() {
			if s.opts.SearchDelay > 0 && now.Before(id.VisibleAt.Add(s.opts.SearchDelay)) {
				continue
			}
			if q.match(id) && (after == nil || compareSortKeys(keys, id, after) > 0) {
				matched = append(matched, id)
			}
		}
		if len(keys) > 0 {
			slices.SortStableFunc(matched, func(a, b *identity) int {
				for _, k := range keys {
					if c := k.compare(a, b); c != 0 {
						return c
					}
				}
				return 0
			})
		}
		total := len(matched)
		docs := make([]any, 0, min(limit, total))
		for _, id := range page(matched, limit, offset) {
			var doc any = id.toDocument(s.opts.SearchStatus)
			if rf := req.QueryResultFilter; rf != nil && (len(rf.Includes) > 0 || len(rf.Excludes) > 0) {
				doc = filterDocument(id.toDocument(s.opts.SearchStatus), rf.Includes, rf.Excludes)
			}
			docs = append(docs, doc)
		}
		s.mu.Unlock()

		if count {
			w.Header().Set("X-Total-Count", strconv.Itoa(total))
		}
		writeJSON(w, http.StatusOK, docs)
	})
}

// parseSearchFilter turns one entry of filters into a query.
func parseSearchFilter(field string, f searchFilter, now time.Time) (searchQuery, error) {
	if !searchFields[field] && !strings.HasPrefix(field, "attributes.") {
		return nil, fmt.Errorf("field %q is not supported", field)
	}
	term := searchTerm{field: field, isDate: searchDateFields[field]}
	var q searchQuery
	switch f.Type {
	case "RANGE":
		if f.Range == nil || (f.Range.Lower == nil && f.Range.Upper == nil) {
			return nil, fmt.Errorf("a RANGE filter needs range.lower or range.upper")
		}
		term.ranged = true
		p := &searchParser{now: now}
		var err error
		if b := f.Range.Lower; b != nil {
			term.loIncl = b.Inclusive
			if term.lo, err = p.bound(term, b.Value, false, b.Inclusive); err != nil {
				return nil, err
			}
		}
		if b := f.Range.Upper; b != nil {
			term.hiIncl = b.Inclusive
			if term.hi, err = p.bound(term, b.Value, true, b.Inclusive); err != nil {
				return nil, err
			}
		}
		q = term
	case "TERMS":
		if len(f.Terms) == 0 {
			return nil, fmt.Errorf("a TERMS filter needs terms")
		}
		for _, v := range f.Terms {
			t := term
			t.value = v
			if q == nil {
				q = t
			} else {
				q = searchOr{q, t}
			}
		}
	case "EXISTS":
		t := term
		t.value = "*"
		q = t
	default:
		return nil, fmt.Errorf("filter type %q is not supported (want RANGE, TERMS or EXISTS)", f.Type)
	}
	if f.Exclude {
		q = searchNot{q}
	}
	return q, nil
}

// filterDocument applies queryResultFilter to a document's top-level
// members: includes keeps only those named (a path such as
// "attributes.email" keeps its first segment), excludes drops them.
//
// Inferred: ISC's documents do not say what a document keeps when
// includes leaves out id or name; the fake keeps both, which the
// document schema requires.
func filterDocument(doc identityDocument, includes, excludes []string) map[string]any {
	data, _ := json.Marshal(doc)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	top := func(list []string) map[string]bool {
		out := make(map[string]bool, len(list))
		for _, f := range list {
			k, _, _ := strings.Cut(f, ".")
			out[k] = true
		}
		return out
	}
	if len(includes) > 0 {
		keep := top(includes)
		keep["id"], keep["name"] = true, true
		for k := range m {
			if !keep[k] {
				delete(m, k)
			}
		}
	}
	for k := range top(excludes) {
		if k != "id" && k != "name" {
			delete(m, k)
		}
	}
	return m
}

// searchSortKey is one field of sort.
type searchSortKey struct {
	field string
	desc  bool
}

// searchSortFields are the fields the fake sorts on.
var searchSortFields = map[string]bool{
	"id": true, "name": true, "displayName": true, "email": true,
	"created": true, "modified": true, "status": true,
}

func parseSearchSort(sort []string) ([]searchSortKey, error) {
	keys := make([]searchSortKey, 0, len(sort))
	for _, f := range sort {
		k := searchSortKey{}
		switch {
		case strings.HasPrefix(f, "-"):
			k.desc, f = true, f[1:]
		case strings.HasPrefix(f, "+"):
			f = f[1:]
		}
		if !searchSortFields[f] {
			return nil, fmt.Errorf("sorting on %q is not supported", f)
		}
		k.field = f
		keys = append(keys, k)
	}
	return keys, nil
}

// value returns the field's sort value: dates as their ISO form, which
// sorts as the time does.
func (k searchSortKey) value(id *identity) string {
	switch k.field {
	case "id":
		return id.ID
	case "name":
		return id.Alias
	case "displayName":
		return id.Name
	case "email":
		return id.Email
	case "created":
		return isoTime(id.Created)
	case "modified":
		return isoTime(id.modified)
	case "status":
		return id.Status
	}
	return ""
}

func (k searchSortKey) compare(a, b *identity) int {
	var c int
	switch k.field {
	case "created":
		c = a.Created.Truncate(time.Millisecond).Compare(b.Created.Truncate(time.Millisecond))
	case "modified":
		c = a.modified.Truncate(time.Millisecond).Compare(b.modified.Truncate(time.Millisecond))
	default:
		c = cmp.Compare(k.value(a), k.value(b))
	}
	if k.desc {
		c = -c
	}
	return c
}

// afterValue reads one searchAfter value for this key: a string, or for a
// date an ISO time or epoch milliseconds (what Elasticsearch returns as a
// date's sort value).
func (k searchSortKey) afterValue(raw json.RawMessage) (string, error) {
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if k.field == "created" || k.field == "modified" {
			t, err := parseSearchTime(str, time.Time{})
			if err != nil {
				if ms, err2 := strconv.ParseInt(str, 10, 64); err2 == nil {
					return isoTime(time.UnixMilli(ms)), nil
				}
				return "", err
			}
			return isoTime(t), nil
		}
		return str, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil && (k.field == "created" || k.field == "modified") {
		ms, err := n.Int64()
		if err != nil {
			return "", err
		}
		return isoTime(time.UnixMilli(ms)), nil
	}
	return "", fmt.Errorf("want a string")
}

// compareSortKeys compares id with the searchAfter values in sort order.
func compareSortKeys(keys []searchSortKey, id *identity, after []string) int {
	for i, k := range keys {
		c := cmp.Compare(k.value(id), after[i])
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// searchQuery is a parsed query string.
type searchQuery interface {
	match(id *identity) bool
}

type searchAll struct{}
type searchAnd struct{ l, r searchQuery }
type searchOr struct{ l, r searchQuery }
type searchNot struct{ q searchQuery }

func (searchAll) match(*identity) bool      { return true }
func (q searchAnd) match(id *identity) bool { return q.l.match(id) && q.r.match(id) }
func (q searchOr) match(id *identity) bool  { return q.l.match(id) || q.r.match(id) }
func (q searchNot) match(id *identity) bool { return !q.q.match(id) }

// withStatusMode returns q with every term reading the documents as mode
// makes them, and date ranges ready to compare as times.
func withStatusMode(q searchQuery, mode SearchStatusMode) searchQuery {
	switch e := q.(type) {
	case searchAnd:
		return searchAnd{withStatusMode(e.l, mode), withStatusMode(e.r, mode)}
	case searchOr:
		return searchOr{withStatusMode(e.l, mode), withStatusMode(e.r, mode)}
	case searchNot:
		return searchNot{withStatusMode(e.q, mode)}
	case searchTerm:
		e.mode = mode
		if e.isDate && e.ranged {
			lo, errLo := parseISOBound(e.lo)
			hi, errHi := parseISOBound(e.hi)
			if errLo == nil && errHi == nil {
				e.timed, e.loT, e.hiT = true, lo, hi
			}
		}
		return e
	}
	return q
}

// parseISOBound parses a bound as isoTime writes it; "" is the zero time.
func parseISOBound(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse("2006-01-02T15:04:05.000Z", s)
}

// searchTerm matches one field against a value or a range.
type searchTerm struct {
	mode  SearchStatusMode
	field string
	// exact: value (with wildcards) compared case-insensitively; for a
	// date, the range [lo, hi) the value's precision spans.
	value  string
	isDate bool
	// range bounds: "" means unbounded; for dates, ISO times.
	ranged         bool
	lo, hi         string
	loIncl, hiIncl bool
	// timed: a date range whose bounds are parsed into loT and hiT (zero:
	// unbounded), compared as times.
	timed    bool
	loT, hiT time.Time
}

// searchDateFields are the fields holding times.
var searchDateFields = map[string]bool{"created": true, "modified": true, "synced": true}

// searchFields are the fields the fake's query string knows, besides
// attributes.<name>.
var searchFields = map[string]bool{
	"id": true, "name": true, "displayName": true, "firstName": true, "lastName": true,
	"email": true, "status": true, "created": true, "modified": true, "synced": true,
	"inactive": true, "protected": true, "disabled": true, "locked": true, "employeeNumber": true,
}

// fieldValue returns the field's value in id's document, and false when the
// document has none.
func (t searchTerm) fieldValue(id *identity) (string, bool) {
	switch t.field {
	case "id":
		return id.ID, true
	case "name":
		return id.Alias, true
	case "displayName":
		return id.Name, true
	case "firstName":
		s, _ := id.Attributes["firstname"].(string)
		return s, true
	case "lastName":
		s, _ := id.Attributes["lastname"].(string)
		return s, true
	case "email":
		return id.Email, id.Email != ""
	case "status":
		return searchStatus(id, t.mode), true
	case "created":
		return isoTime(id.Created), true
	case "modified", "synced":
		return isoTime(id.modified), true
	case "inactive":
		return strconv.FormatBool(id.LifecycleState != "active"), true
	case "protected":
		return "false", true
	case "disabled":
		return strconv.FormatBool(id.Status == "DISABLED"), true
	case "locked":
		return strconv.FormatBool(id.Status == "LOCKED"), true
	case "employeeNumber":
		return id.CCID, true
	}
	if name, ok := strings.CutPrefix(t.field, "attributes."); ok {
		if name == "cloudStatus" || name == "internalCloudStatus" {
			// Always the status (the tenant keeps them equal); read
			// without a map lookup.
			return id.Status, t.mode != SearchStatusField
		}
		switch v := id.Attributes[name].(type) {
		case nil:
			return "", false
		case string:
			return v, true
		default:
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

// timeOf returns the time a date field holds, at the documents'
// millisecond precision.
func (t searchTerm) timeOf(id *identity) time.Time {
	if t.field == "created" {
		return id.Created.Truncate(time.Millisecond)
	}
	return id.modified.Truncate(time.Millisecond)
}

func (t searchTerm) match(id *identity) bool {
	if t.timed {
		return t.inTimeRange(t.timeOf(id))
	}
	v, ok := t.fieldValue(id)
	if !ok {
		return false
	}
	switch {
	case t.ranged:
		return t.inRange(v)
	case t.value == "*":
		return true
	}
	return wildcardMatch(strings.ToLower(t.value), strings.ToLower(v))
}

// inTimeRange is inRange for a date term whose bounds are parsed.
func (t searchTerm) inTimeRange(v time.Time) bool {
	if !t.loT.IsZero() {
		c := v.Compare(t.loT)
		if c < 0 || (c == 0 && !t.loIncl) {
			return false
		}
	}
	if !t.hiT.IsZero() {
		c := v.Compare(t.hiT)
		if c > 0 || (c == 0 && !t.hiIncl) {
			return false
		}
	}
	return true
}

func (t searchTerm) inRange(v string) bool {
	cmpFn := func(a, b string) int {
		if t.isDate {
			return cmp.Compare(a, b) // ISO times of one format
		}
		return cmp.Compare(strings.ToLower(a), strings.ToLower(b))
	}
	if t.lo != "" {
		c := cmpFn(v, t.lo)
		if c < 0 || (c == 0 && !t.loIncl) {
			return false
		}
	}
	if t.hi != "" {
		c := cmpFn(v, t.hi)
		if c > 0 || (c == 0 && !t.hiIncl) {
			return false
		}
	}
	return true
}

// wildcardMatch matches s against pattern, where * is any run and ? one
// character.
func wildcardMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	p, str := []rune(pattern), []rune(s)
	var pi, si, star, mark = 0, 0, -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == str[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// parseSearchTime reads a date of the query string: an ISO date-time, a
// date (2006-01-02), or date math from now ("now", "now-7d", "now-1M/d").
func parseSearchTime(s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		if now.IsZero() {
			return time.Time{}, fmt.Errorf("date math is not allowed here")
		}
		return dateMath(now.UTC(), rest)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

// dateMath applies Elasticsearch date math (+1d, -2h, /d…) to t.
func dateMath(t time.Time, expr string) (time.Time, error) {
	for expr != "" {
		op := expr[0]
		expr = expr[1:]
		if op == '/' {
			if expr == "" {
				return time.Time{}, fmt.Errorf("rounding needs a unit")
			}
			u := expr[0]
			expr = expr[1:]
			var err error
			if t, err = roundDown(t, u); err != nil {
				return time.Time{}, err
			}
			continue
		}
		if op != '+' && op != '-' {
			return time.Time{}, fmt.Errorf("bad date math %q", string(op)+expr)
		}
		i := 0
		for i < len(expr) && expr[i] >= '0' && expr[i] <= '9' {
			i++
		}
		n := 1
		if i > 0 {
			n, _ = strconv.Atoi(expr[:i])
		}
		if i >= len(expr) {
			return time.Time{}, fmt.Errorf("date math needs a unit")
		}
		u := expr[i]
		expr = expr[i+1:]
		if op == '-' {
			n = -n
		}
		switch u {
		case 'y':
			t = t.AddDate(n, 0, 0)
		case 'M':
			t = t.AddDate(0, n, 0)
		case 'w':
			t = t.AddDate(0, 0, 7*n)
		case 'd':
			t = t.AddDate(0, 0, n)
		case 'h', 'H':
			t = t.Add(time.Duration(n) * time.Hour)
		case 'm':
			t = t.Add(time.Duration(n) * time.Minute)
		case 's':
			t = t.Add(time.Duration(n) * time.Second)
		default:
			return time.Time{}, fmt.Errorf("unknown date unit %q", u)
		}
	}
	return t, nil
}

func roundDown(t time.Time, u byte) (time.Time, error) {
	switch u {
	case 'y':
		return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC), nil
	case 'M':
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC), nil
	case 'd':
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
	case 'h', 'H':
		return t.Truncate(time.Hour), nil
	case 'm':
		return t.Truncate(time.Minute), nil
	case 's':
		return t.Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("unknown rounding unit %q", u)
}

// searchToken is a token of the query string.
type searchToken struct {
	kind string // "word", "quoted", "(", ")", "[", "]", "{", "}", ":", "op" (>, >=, <, <=), "not"
	text string
}

func lexSearch(s string) ([]searchToken, error) {
	var toks []searchToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.IndexByte("()[]{}:", c) >= 0:
			toks = append(toks, searchToken{kind: string(c), text: string(c)})
			i++
		case c == '>' || c == '<':
			op := string(c)
			i++
			if i < len(s) && s[i] == '=' {
				op += "="
				i++
			}
			toks = append(toks, searchToken{kind: "op", text: op})
		case c == '!' || (c == '-' && (len(toks) == 0 || toks[len(toks)-1].kind != ":")):
			toks = append(toks, searchToken{kind: "not", text: string(c)})
			i++
		case c == '&' && strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, searchToken{kind: "word", text: "AND"})
			i += 2
		case c == '|' && strings.HasPrefix(s[i:], "||"):
			toks = append(toks, searchToken{kind: "word", text: "OR"})
			i += 2
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated quote")
			}
			toks = append(toks, searchToken{kind: "quoted", text: b.String()})
			i = j + 1
		default:
			// In a value (after field:, a comparison, or in a range) a
			// colon belongs to the word, as in a time 09:00:00Z.
			stops := " \t\n\r()[]{}:\"'<>"
			if n := len(toks); n > 0 {
				switch prev := toks[n-1]; {
				case prev.kind == ":" || prev.kind == "op" || prev.kind == "[" || prev.kind == "{" || (prev.kind == "word" && prev.text == "TO"):
					stops = " \t\n\r()[]{}\"'<>"
				}
			}
			j := i
			var b strings.Builder
			for j < len(s) && strings.IndexByte(stops, s[j]) < 0 {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, searchToken{kind: "word", text: b.String()})
			i = j
		}
	}
	return toks, nil
}

// parseSearchQuery parses a query string; empty or "*" matches everything.
func parseSearchQuery(s string, now time.Time) (searchQuery, error) {
	if strings.TrimSpace(s) == "" {
		return searchAll{}, nil
	}
	toks, err := lexSearch(s)
	if err != nil {
		return nil, err
	}
	p := &searchParser{toks: toks, now: now}
	q, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == "word" || t.kind == "quoted" || t.kind == "(" || t.kind == "not" {
			return nil, fmt.Errorf("two terms without AND or OR between them, at %q: this tenant needs the operator spelled out", t.text)
		}
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	return q, nil
}

type searchParser struct {
	toks []searchToken
	pos  int
	now  time.Time
}

func (p *searchParser) peek() (searchToken, bool) {
	if p.pos >= len(p.toks) {
		return searchToken{}, false
	}
	return p.toks[p.pos], true
}

func (p *searchParser) isWord(text string) bool {
	t, ok := p.peek()
	return ok && t.kind == "word" && t.text == text
}

func (p *searchParser) or() (searchQuery, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("OR") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = searchOr{l, r}
	}
	return l, nil
}

func (p *searchParser) and() (searchQuery, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("AND") {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = searchAnd{l, r}
	}
	return l, nil
}

func (p *searchParser) unary() (searchQuery, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("unexpected end of query")
	}
	switch {
	case t.kind == "not" || (t.kind == "word" && t.text == "NOT"):
		p.pos++
		q, err := p.unary()
		if err != nil {
			return nil, err
		}
		return searchNot{q}, nil
	case t.kind == "(":
		p.pos++
		q, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.kind != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return q, nil
	case t.kind == "word" && t.text == "*":
		p.pos++
		return searchAll{}, nil
	case t.kind == "word":
		return p.term()
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

// term parses field:value, field:"value", field:[a TO b], field:>v.
func (p *searchParser) term() (searchQuery, error) {
	field := p.toks[p.pos].text
	p.pos++
	if t, ok := p.peek(); !ok || t.kind != ":" {
		return nil, fmt.Errorf("%q: free-text terms are not supported, use field:value", field)
	}
	p.pos++
	if strings.HasPrefix(field, "@") {
		return nil, fmt.Errorf("nested queries (%s) are not supported", field)
	}
	if !searchFields[field] && !strings.HasPrefix(field, "attributes.") {
		return nil, fmt.Errorf("field %q is not supported", field)
	}
	term := searchTerm{field: field, isDate: searchDateFields[field]}
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("%s: missing value", field)
	}
	switch t.kind {
	case "[", "{":
		p.pos++
		lo, err := p.rangeValue()
		if err != nil {
			return nil, err
		}
		if !p.isWord("TO") {
			return nil, fmt.Errorf("%s: range needs TO", field)
		}
		p.pos++
		hi, err := p.rangeValue()
		if err != nil {
			return nil, err
		}
		end, ok := p.peek()
		if !ok || (end.kind != "]" && end.kind != "}") {
			return nil, fmt.Errorf("%s: unterminated range", field)
		}
		p.pos++
		term.ranged = true
		term.loIncl, term.hiIncl = t.kind == "[", end.kind == "]"
		if term.lo, err = p.bound(term, lo, false, term.loIncl); err != nil {
			return nil, err
		}
		if term.hi, err = p.bound(term, hi, true, term.hiIncl); err != nil {
			return nil, err
		}
		return term, nil
	case "op":
		p.pos++
		v, err := p.rangeValue()
		if err != nil {
			return nil, err
		}
		if v == "*" {
			return nil, fmt.Errorf("%s: comparison with *", field)
		}
		term.ranged = true
		switch t.text {
		case ">", ">=":
			term.loIncl = t.text == ">="
			term.lo, err = p.bound(term, v, false, term.loIncl)
		default:
			term.hiIncl = t.text == "<="
			term.hi, err = p.bound(term, v, true, term.hiIncl)
		}
		if err != nil {
			return nil, err
		}
		return term, nil
	case "word", "quoted":
		p.pos++
		if term.isDate && t.text != "*" {
			// A date matches the span of its precision: a day for
			// 2023-08-09, the millisecond for a full time.
			lo, err := parseSearchTime(t.text, p.now)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", field, err)
			}
			hi := lo.Add(time.Millisecond)
			if len(t.text) == len("2006-01-02") {
				hi = lo.AddDate(0, 0, 1)
			}
			term.ranged, term.loIncl = true, true
			term.lo, term.hi = isoTime(lo), isoTime(hi)
			return term, nil
		}
		term.value = t.text
		return term, nil
	}
	return nil, fmt.Errorf("%s: unexpected %q", field, t.text)
}

func (p *searchParser) rangeValue() (string, error) {
	t, ok := p.peek()
	if !ok || (t.kind != "word" && t.kind != "quoted") {
		return "", fmt.Errorf("missing range value")
	}
	p.pos++
	return t.text, nil
}

// bound turns a range value into a comparable bound: "" for *, an ISO time
// for a date. An upper date bound given as a day spans that whole day when
// inclusive, as Elasticsearch rounds it.
func (p *searchParser) bound(t searchTerm, v string, upper, incl bool) (string, error) {
	if v == "*" {
		return "", nil
	}
	if !t.isDate {
		return v, nil
	}
	tm, err := parseSearchTime(v, p.now)
	if err != nil {
		return "", fmt.Errorf("%s: %v", t.field, err)
	}
	if upper && incl && len(v) == len("2006-01-02") {
		tm = tm.AddDate(0, 0, 1).Add(-time.Millisecond)
	}
	return isoTime(tm), nil
}
