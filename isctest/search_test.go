package isctest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type searchDoc struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Type        string         `json:"_type"`
	DisplayName string         `json:"displayName"`
	Email       string         `json:"email"`
	Created     string         `json:"created"`
	Status      string         `json:"status"`
	Attributes  map[string]any `json:"attributes"`
}

// searchFixture is a tenant with identities created a day apart, by the
// fake clock: day 0 … day 5, statuses alternating UNREGISTERED/ACTIVE.
func searchFixture(t *testing.T, opts Options) (*bundle, []Identity) {
	t.Helper()
	opts.RateLimit = -1
	opts.TokenTTL = 30 * 24 * time.Hour // the clock moves days
	b := setup(t, opts)
	start := b.clock.Now()
	var ids []Identity
	for i := range 6 {
		ids = append(ids, b.srv.CreateIdentity(NewIdentity{
			Name:       "Person " + strconv.Itoa(i),
			Registered: i%2 == 1,
			Created:    start.Add(time.Duration(i) * 24 * time.Hour),
		}))
	}
	b.clock.Advance(6 * 24 * time.Hour)
	return b, ids
}

func (b *bundle) search(t *testing.T, query string, body map[string]any) (*http.Response, []searchDoc, []byte) {
	t.Helper()
	resp, data := b.postJSON(t, "/v3/search"+query, body)
	var docs []searchDoc
	if resp.StatusCode == http.StatusOK {
		mustJSON(t, data, &docs)
	}
	return resp, docs, data
}

func TestSearchQueries(t *testing.T) {
	t.Parallel()
	b, ids := searchFixture(t, Options{})
	day := func(i int) string { return ids[i].Created.Format("2006-01-02") }
	ts := func(i int) string { return isoTime(ids[i].Created) }
	tests := []struct {
		query string
		want  []int // indexes into ids, in creation order
	}{
		{"*", []int{0, 1, 2, 3, 4, 5}},
		{"", []int{0, 1, 2, 3, 4, 5}},
		{"status:UNREGISTERED", []int{0, 2, 4}},
		{"attributes.cloudStatus:UNREGISTERED", []int{0, 2, 4}},
		{"status:unregistered", []int{0, 2, 4}},
		{"NOT status:UNREGISTERED", []int{1, 3, 5}},
		{"-status:UNREGISTERED", []int{1, 3, 5}},
		{"status:UNREGISTERED AND created:>" + ts(2), []int{4}},
		{"status:UNREGISTERED AND created:>=" + ts(2), []int{2, 4}},
		{"created:<" + ts(1), []int{0}},
		{"created:<=" + ts(1), []int{0, 1}},
		{"created:[" + ts(1) + " TO " + ts(3) + "]", []int{1, 2, 3}},
		{"created:{" + ts(1) + " TO " + ts(3) + "}", []int{2}},
		{"created:{" + ts(3) + " TO *}", []int{4, 5}},
		{`created:{"` + ts(3) + `" TO *}`, []int{4, 5}},
		{"created:[* TO " + day(1) + "]", []int{0, 1}},
		{"created:" + day(2), []int{2}},
		{"created:[now-2d TO now]", []int{4, 5}},
		{"created:>now-1d/d", []int{5}},
		{"(status:ACTIVE OR name:person.0) AND NOT created:" + day(5), []int{0, 1, 3}},
		{"status:ACTIVE && created:>" + ts(2), []int{3, 5}},
		{"status:ACTIVE || name:person.0", []int{0, 1, 3, 5}},
		{"displayName:Person*", []int{0, 1, 2, 3, 4, 5}},
		{"displayName:\"Person 4\"", []int{4}},
		{"name:person.?", []int{0, 1, 2, 3, 4, 5}},
		{"id:" + ids[3].ID, []int{3}},
		{"email:person.1@example.com", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			resp, docs, data := b.search(t, "?count=true", map[string]any{
				"indices": []string{"identities"}, "query": map[string]any{"query": tt.query}, "sort": []string{"created"},
			})
			wantStatus(t, resp, data, http.StatusOK)
			var got []int
			for _, d := range docs {
				got = append(got, slices.IndexFunc(ids, func(id Identity) bool { return id.ID == d.ID }))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("matched %v, want %v", got, tt.want)
			}
			if resp.Header.Get("X-Total-Count") != strconv.Itoa(len(tt.want)) {
				t.Fatalf("X-Total-Count %q", resp.Header.Get("X-Total-Count"))
			}
		})
	}
}

func TestSearchRefusals(t *testing.T) {
	t.Parallel()
	b, _ := searchFixture(t, Options{})
	q := func(s string) map[string]any {
		return map[string]any{"indices": []string{"identities"}, "query": map[string]any{"query": s}}
	}
	tests := []struct {
		name  string
		path  string
		body  map[string]any
		text  string
		wantN int
	}{
		{"juxtaposed terms", "", q("status:ACTIVE created:>now-1d"), "AND or OR", 400},
		{"unknown field", "", q("shoeSize:42"), "shoeSize", 400},
		{"free text", "", q("john"), "free-text", 400},
		{"unterminated range", "", q("created:[now TO"), "", 400},
		{"range without TO", "", q("created:[now now]"), "TO", 400},
		{"bad date", "", q("created:>yesterday"), "not a date", 400},
		{"bad date unit", "", q("created:>now-1q"), "unit", 400},
		{"unterminated quote", "", q(`name:"abc`), "quote", 400},
		{"missing paren", "", q("(status:ACTIVE"), ")", 400},
		{"nested query", "", q("@accounts(name:x)"), "", 400},
		{"other index", "", map[string]any{"indices": []string{"roles"}, "query": map[string]any{"query": "*"}}, "roles", 400},
		{"dsl", "", map[string]any{"queryType": "DSL", "queryDsl": map[string]any{}}, "DSL", 400},
		{"no query", "", map[string]any{"indices": []string{"identities"}}, "query", 400},
		{"sort unknown", "", map[string]any{"query": map[string]any{"query": "*"}, "sort": []string{"shoeSize"}}, "shoeSize", 400},
		{"searchAfter without sort", "", map[string]any{"query": map[string]any{"query": "*"}, "searchAfter": []string{"x"}}, "searchAfter", 400},
		{"limit over max", "?limit=10001", q("*"), "limit", 400},
		{"window over max", "?limit=10000&offset=1", q("*"), "10000", 400},
		{"limit at max", "?limit=10000", q("*"), "", 200},
		{"bad filter type", "", map[string]any{"query": map[string]any{"query": "*"}, "filters": map[string]any{"created": map[string]any{"type": "WEIRD"}}}, "WEIRD", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, _, data := b.search(t, tt.path, tt.body)
			wantStatus(t, resp, data, tt.wantN)
			if tt.wantN == 400 {
				if text := errorDto(t, data); !strings.Contains(text, tt.text) {
					t.Fatalf("message %q does not mention %q", text, tt.text)
				}
			}
		})
	}
}

func TestSearchPagingAndFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, Users: 1000})
	b.srv.ResetCalls()
	// searchAfter on id visits every unregistered identity once, in id
	// order, 37 per page.
	var seen []string
	calls := 0
	body := map[string]any{
		"indices": []string{"identities"},
		"query":   map[string]any{"query": "attributes.cloudStatus:UNREGISTERED"},
		"sort":    []string{"id"},
	}
	for {
		resp, docs, data := b.search(t, "?limit=37", body)
		calls++
		wantStatus(t, resp, data, http.StatusOK)
		for _, d := range docs {
			seen = append(seen, d.ID)
		}
		if len(docs) < 37 {
			break
		}
		body["searchAfter"] = []string{docs[len(docs)-1].ID}
	}
	if len(seen) != 100 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 100 {
		t.Fatalf("paged %d ids (sorted %v)", len(seen), slices.IsSorted(seen))
	}
	if n := b.srv.CallCount("POST /v3/search"); n != calls || calls != 3 {
		t.Fatalf("%d search calls counted, %d made, want 3", n, calls)
	}

	// Descending sort with searchAfter on two keys.
	body = map[string]any{"query": map[string]any{"query": "*"}, "sort": []string{"-created", "-id"}}
	_, first, _ := b.search(t, "?limit=10", body)
	body["searchAfter"] = []string{first[9].Created, first[9].ID}
	_, second, _ := b.search(t, "?limit=10", body)
	if len(second) != 10 || second[0].ID >= first[9].ID && second[0].Created == first[9].Created {
		t.Fatalf("second page starts at %+v after %+v", second[0], first[9])
	}

	// filters (RANGE with the spec's default exclusive bounds, TERMS,
	// exclude) and queryResultFilter, as a client may send them.
	c, ids := searchFixture(t, Options{})
	resp, docs, data := c.search(t, "", map[string]any{
		"indices": []string{"identities"},
		"query":   map[string]any{"query": "attributes.cloudStatus:UNREGISTERED"},
		"filters": map[string]any{
			"created": map[string]any{"type": "RANGE", "range": map[string]any{"lower": map[string]any{"value": isoTime(ids[0].Created)}}},
		},
		"sort":              []string{"id"},
		"queryResultFilter": map[string]any{"includes": []string{"id", "email", "attributes.cloudStatus"}},
	})
	wantStatus(t, resp, data, http.StatusOK)
	if len(docs) != 2 || docs[0].Email == "" || docs[0].Attributes["cloudStatus"] != "UNREGISTERED" || docs[0].Created != "" || docs[0].DisplayName != "" {
		t.Fatalf("filtered search %s", data)
	}
	resp, docs, data = c.search(t, "", map[string]any{
		"query":   map[string]any{"query": "*"},
		"filters": map[string]any{"status": map[string]any{"type": "TERMS", "terms": []string{"ACTIVE"}, "exclude": true}},
	})
	wantStatus(t, resp, data, http.StatusOK)
	if len(docs) != 3 || docs[0].Status != "UNREGISTERED" {
		t.Fatalf("excluding filter %s", data)
	}
}

func TestSearchScopeAndVisibility(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, VisibilityDelay: time.Minute, Clients: []Client{{ID: "r", Secret: "rs", Scopes: []string{ScopeIdentityRead}}}})
	id := b.srv.CreateIdentity(NewIdentity{})
	body := map[string]any{"query": map[string]any{"query": "id:" + id.ID}}
	_, docs, _ := b.search(t, "", body)
	if len(docs) != 0 {
		t.Fatal("found before it is visible")
	}
	b.clock.Advance(time.Minute)
	_, docs, _ = b.search(t, "", body)
	if len(docs) != 1 || docs[0].Type != "identity" {
		t.Fatalf("after the delay: %+v", docs)
	}
	tok := b.tokenFor(t, "r", "rs")
	resp, data := b.send(t, http.MethodPost, "/v3/search", tok, strings.NewReader(`{"query":{"query":"*"}}`), "Content-Type", "application/json")
	wantStatus(t, resp, data, http.StatusForbidden)
}

func TestSearchStatusModes(t *testing.T) {
	t.Parallel()
	const either = "(attributes.cloudStatus:UNREGISTERED OR status:UNREGISTERED)"
	tests := []struct {
		mode                           SearchStatusMode
		byField, byAttribute, byEither int
		docStatus                      string
	}{
		{SearchStatusBoth, 3, 3, 3, "UNREGISTERED"},
		{SearchStatusField, 3, 0, 3, "UNREGISTERED"},
		{SearchStatusAttribute, 0, 3, 3, "ACTIVE"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()
			b, _ := searchFixture(t, Options{SearchStatus: tt.mode})
			count := func(q string) (int, []searchDoc) {
				resp, docs, data := b.search(t, "", map[string]any{"query": map[string]any{"query": q}, "sort": []string{"created"}})
				wantStatus(t, resp, data, http.StatusOK)
				return len(docs), docs
			}
			nf, _ := count("status:UNREGISTERED")
			na, _ := count("attributes.cloudStatus:UNREGISTERED")
			ne, all := count(either)
			if nf != tt.byField || na != tt.byAttribute || ne != tt.byEither {
				t.Fatalf("status %d, attribute %d, either %d", nf, na, ne)
			}
			if all[0].Status != tt.docStatus || (all[0].Attributes["cloudStatus"] != nil) != (tt.mode != SearchStatusField) {
				t.Fatalf("document %+v", all[0])
			}
		})
	}
	if _, err := ParseSearchStatusMode("elsewhere"); err == nil {
		t.Fatal("ParseSearchStatusMode accepted a bad value")
	}
}
