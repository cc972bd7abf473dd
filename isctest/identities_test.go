package isctest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type ccPage struct {
	Total int `json:"total"`
	Items []struct {
		ID                string  `json:"id"`
		Name              string  `json:"name"`
		DisplayName       string  `json:"displayName"`
		Alias             string  `json:"alias"`
		Email             string  `json:"email"`
		Status            string  `json:"status"`
		Enabled           bool    `json:"enabled"`
		Pending           bool    `json:"pending"`
		ExternalID        string  `json:"externalId"`
		ProcessingDetails *string `json:"processingDetails"`
	} `json:"items"`
}

func TestCCUserListPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Users: 600, RateLimit: -1})
	all := b.srv.Identities()

	tests := []struct {
		query     string
		wantFirst int // index into all
		wantLen   int
	}{
		{"", 0, 250},
		{"?start=0&limit=1000", 0, 250},
		{"?start=250&limit=250", 250, 250},
		{"?start=500&limit=250", 500, 100},
		{"?start=590&limit=5", 590, 5},
		{"?start=600", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			resp, body := b.get(t, "/cc/api/user/list"+tt.query)
			wantStatus(t, resp, body, http.StatusOK)
			var p ccPage
			mustJSON(t, body, &p)
			if p.Total != 600 || len(p.Items) != tt.wantLen {
				t.Fatalf("total %d, %d items; want 600, %d", p.Total, len(p.Items), tt.wantLen)
			}
			for i, it := range p.Items {
				want := all[tt.wantFirst+i]
				if it.ID != want.CCID || it.ExternalID != want.ID || it.Name != want.Name || it.Alias != want.Alias ||
					it.Email != want.Email || it.Status != want.Status || !it.Enabled || it.Pending || it.ProcessingDetails != nil {
					t.Fatalf("item %d = %+v, want %+v", i, it, want)
				}
			}
		})
	}

	// Paging through covers every identity once, in a stable order, and the
	// status follows the Users rule (every 10th unregistered).
	var seen []string
	for start := 0; ; start += 250 {
		_, body := b.get(t, "/cc/api/user/list?start="+strconv.Itoa(start)+"&limit=250")
		var p ccPage
		mustJSON(t, body, &p)
		if len(p.Items) == 0 {
			break
		}
		for _, it := range p.Items {
			seen = append(seen, it.ExternalID)
		}
	}
	var want []string
	unregistered := 0
	for i, id := range all {
		want = append(want, id.ID)
		if id.Status == "UNREGISTERED" {
			unregistered++
			if (i+1)%10 != 0 {
				t.Fatalf("identity %d is unregistered", i)
			}
		}
		if id.CCID != strconv.Itoa(100000+i) {
			t.Fatalf("identity %d has cc id %s", i, id.CCID)
		}
	}
	if !slices.Equal(seen, want) || unregistered != 60 {
		t.Fatalf("paged %d ids (order ok %v), %d unregistered", len(seen), slices.Equal(seen, want), unregistered)
	}
}

type v2025Identity struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Created         string         `json:"created"`
	Modified        string         `json:"modified"`
	Alias           string         `json:"alias"`
	EmailAddress    string         `json:"emailAddress"`
	ProcessingState string         `json:"processingState"`
	IdentityStatus  string         `json:"identityStatus"`
	Attributes      map[string]any `json:"attributes"`
	LifecycleState  struct {
		StateName       string `json:"stateName"`
		ManuallyUpdated bool   `json:"manuallyUpdated"`
	} `json:"lifecycleState"`
}

func TestListIdentities(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Users: 30, RateLimit: -1})
	all := b.srv.Identities()
	newbie := b.srv.CreateIdentity(NewIdentity{Name: "Jane Roe", Email: "jane.roe@example.com", Department: "Sales",
		Attributes: map[string]any{"startDate": "2025-04-01"}})
	all = append(all, newbie)

	var unregistered, registered []string
	for _, id := range all {
		if id.Status == "UNREGISTERED" {
			unregistered = append(unregistered, id.ID)
		} else {
			registered = append(registered, id.ID)
		}
	}
	ids := func(ii ...int) []string {
		var out []string
		for _, i := range ii {
			out = append(out, all[i].ID)
		}
		return out
	}

	tests := []struct {
		name       string
		query      url.Values
		wantStatus int
		wantIDs    []string
		wantTotal  string // X-Total-Count, "" = absent
	}{
		{name: "all", query: url.Values{}, wantStatus: 200, wantIDs: ids(seq(0, 31)...)},
		{name: "unregistered", query: url.Values{"filters": {`cloudStatus eq "UNREGISTERED"`}, "count": {"true"}},
			wantStatus: 200, wantIDs: unregistered, wantTotal: "4"},
		{name: "registered", query: url.Values{"filters": {`cloudStatus eq "REGISTERED"`}}, wantStatus: 200, wantIDs: registered},
		{name: "id eq", query: url.Values{"filters": {fmt.Sprintf(`id eq "%s"`, all[5].ID)}}, wantStatus: 200, wantIDs: ids(5)},
		{name: "id in", query: url.Values{"filters": {fmt.Sprintf(`id in ("%s","%s", "%s")`, all[9].ID, all[2].ID, all[19].ID)}},
			wantStatus: 200, wantIDs: ids(2, 9, 19)},
		{name: "and", query: url.Values{"filters": {fmt.Sprintf(`id in ("%s","%s") and cloudStatus eq "UNREGISTERED"`, all[9].ID, all[2].ID)}},
			wantStatus: 200, wantIDs: ids(9)},
		{name: "or and parens", query: url.Values{"filters": {fmt.Sprintf(`(id eq "%s" or name sw "jane") and not cloudStatus eq "ACTIVE"`, all[2].ID)}},
			wantStatus: 200, wantIDs: ids(30)},
		{name: "paged with count", query: url.Values{"limit": {"10"}, "offset": {"25"}, "count": {"true"}},
			wantStatus: 200, wantIDs: ids(25, 26, 27, 28, 29, 30), wantTotal: "31"},
		{name: "limit 0", query: url.Values{"limit": {"0"}, "count": {"true"}}, wantStatus: 200, wantIDs: nil, wantTotal: "31"},
		{name: "sorted", query: url.Values{"sorters": {"-name"}, "limit": {"2"}}, wantStatus: 200, wantIDs: ids(30, 8)}, // Jane Roe, Existing User 9
		{name: "unsupported field", query: url.Values{"filters": {`department eq "Sales"`}}, wantStatus: 400},
		{name: "unsupported op", query: url.Values{"filters": {`cloudStatus sw "UN"`}}, wantStatus: 400},
		{name: "malformed", query: url.Values{"filters": {`id eq`}}, wantStatus: 400},
		{name: "limit over 250", query: url.Values{"limit": {"251"}}, wantStatus: 400},
		{name: "bad offset", query: url.Values{"offset": {"-1"}}, wantStatus: 400},
		{name: "bad sorter", query: url.Values{"sorters": {"email"}}, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, version := range []string{"v2025", "beta"} {
				resp, body := b.get(t, "/"+version+"/identities?"+tt.query.Encode())
				wantStatus(t, resp, body, tt.wantStatus)
				if tt.wantStatus != 200 {
					errorDto(t, body)
					continue
				}
				var got []v2025Identity
				mustJSON(t, body, &got)
				var gotIDs []string
				for _, g := range got {
					gotIDs = append(gotIDs, g.ID)
				}
				if !slices.Equal(gotIDs, tt.wantIDs) {
					t.Fatalf("%s: ids %v, want %v", version, gotIDs, tt.wantIDs)
				}
				if h := resp.Header.Get("X-Total-Count"); h != tt.wantTotal {
					t.Fatalf("%s: X-Total-Count %q, want %q", version, h, tt.wantTotal)
				}
			}
		})
	}

	t.Run("get", func(t *testing.T) {
		t.Parallel()
		resp, body := b.get(t, "/v2025/identities/"+newbie.ID)
		wantStatus(t, resp, body, 200)
		var got v2025Identity
		mustJSON(t, body, &got)
		if got.ID != newbie.ID || got.Name != "Jane Roe" || got.Alias != "jane.roe" || got.EmailAddress != "jane.roe@example.com" ||
			got.ProcessingState != "OK" || got.IdentityStatus != "UNREGISTERED" || got.LifecycleState.StateName != "active" ||
			got.Attributes["cloudStatus"] != "UNREGISTERED" || got.Attributes["department"] != "Sales" ||
			got.Attributes["startDate"] != "2025-04-01" || got.Attributes["displayName"] != "Jane Roe" ||
			got.Attributes["email"] != "jane.roe@example.com" {
			t.Fatalf("identity %+v", got)
		}
		if _, err := time.Parse(time.RFC3339, got.Created); err != nil {
			t.Fatalf("created %q: %v", got.Created, err)
		}
		resp, body = b.get(t, "/beta/identities/00000000000000000000000000000000")
		wantStatus(t, resp, body, 404)
		errorDto(t, body)
	})
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestVisibilityDelay(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{VisibilityDelay: 5 * time.Second, Users: 3})
	id := b.srv.CreateIdentity(NewIdentity{Name: "Late Comer"})
	if !id.VisibleAt.Equal(b.clock.Now().Add(5 * time.Second)) {
		t.Fatalf("VisibleAt %v", id.VisibleAt)
	}

	visible := func() (inList, get bool, ccTotal int, inviteStatus int) {
		_, body := b.get(t, "/v2025/identities")
		var list []v2025Identity
		mustJSON(t, body, &list)
		for _, x := range list {
			inList = inList || x.ID == id.ID
		}
		resp, _ := b.get(t, "/v2025/identities/"+id.ID)
		get = resp.StatusCode == 200
		_, body = b.get(t, "/cc/api/user/list")
		var p ccPage
		mustJSON(t, body, &p)
		resp, _ = b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{id.ID}})
		return inList, get, p.Total, resp.StatusCode
	}

	if inList, get, total, inv := visible(); inList || get || total != 3 || inv != 400 {
		t.Fatalf("before the delay: list %v get %v cc total %d invite %d", inList, get, total, inv)
	}
	if _, ok := b.srv.Identity(id.ID); !ok {
		t.Fatal("Identity() does not see the invisible identity")
	}
	b.clock.Advance(5 * time.Second)
	if inList, get, total, inv := visible(); !inList || !get || total != 4 || inv != 202 {
		t.Fatalf("after the delay: list %v get %v cc total %d invite %d", inList, get, total, inv)
	}
}

// TestLookupByIDAnswersAsTheScan: a filter naming identities by id alone is
// answered from the id index; the identities and their order are those of
// the same filter answered by a scan (an "or" that matches nothing more),
// in each list order, with identities not yet visible, uncorrelated ones,
// an id named twice and one the tenant does not know.
func TestLookupByIDAnswersAsTheScan(t *testing.T) {
	t.Parallel()
	for _, order := range []CCOrder{CCOrderCreated, CCOrderNewestFirst, CCOrderName} {
		b := setup(t, Options{Users: 20, ListOrder: order})
		late := b.srv.CreateIdentity(NewIdentity{Name: "Late", VisibleAfter: time.Hour})
		loner := b.srv.CreateIdentity(NewIdentity{Name: "Loner", Uncorrelated: true})
		var ids []string
		for _, x := range b.srv.Identities() {
			ids = append(ids, x.ID)
		}
		slices.Reverse(ids)
		ids = append(ids, ids[3], late.ID, loner.ID, "2c9180000000000000000000000dead0")
		quoted := make([]string, len(ids))
		for i, id := range ids {
			quoted[i] = strconv.Quote(id)
		}
		in := "id in (" + strings.Join(quoted, ", ") + ")"
		for _, df := range []string{"", "&defaultFilter=NONE"} {
			list := func(filter string) []string {
				_, body := b.get(t, "/v2025/identities?filters="+urlQuery(filter)+df)
				var got []v2025Identity
				mustJSON(t, body, &got)
				out := make([]string, len(got))
				for i, x := range got {
					out[i] = x.ID
				}
				return out
			}
			indexed, scanned := list(in), list(in+` or name eq "nobody at all"`)
			if !slices.Equal(indexed, scanned) {
				t.Errorf("order %s%s: by id %v, scanned %v", order, df, indexed, scanned)
			}
			if want := map[string]int{"": 20, "&defaultFilter=NONE": 21}[df]; len(indexed) != want {
				t.Errorf("order %s%s: %d identities, want %d", order, df, len(indexed), want)
			}
			if slices.Contains(indexed, late.ID) || (df == "") == slices.Contains(indexed, loner.ID) {
				t.Errorf("order %s%s: %v: want no identity not yet visible, the uncorrelated one only with NONE", order, df, indexed)
			}
		}
	}
}

// BenchmarkLookupByID is the lookup of a batch of 100 ids in a tenant of
// 100,000 identities (the lookup every public invite batch makes), from
// the id index and, for comparison, by the scan any other filter takes.
func BenchmarkLookupByID(b *testing.B) {
	srv := NewServer(Options{Users: 100_000, RateLimit: 1 << 30, RateWindow: time.Second})
	b.Cleanup(srv.Close)
	all := srv.Identities()
	quoted := make([]string, 100)
	for i := range quoted {
		quoted[i] = strconv.Quote(all[i*997].ID)
	}
	in := "id in (" + strings.Join(quoted, ",") + ")"
	c := http.Client{}
	token := benchToken(b, srv)
	for _, bc := range []struct{ name, filter string }{{"index", in}, {"scan", in + ` or name eq "nobody"`}} {
		b.Run(bc.name, func(b *testing.B) {
			target := "/v2025/identities?filters=" + url.QueryEscape(bc.filter)
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL()+target, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// BenchmarkCCUserListPage reads one 250-user page of the /cc list of a
// tenant of 100,000 users.
func BenchmarkCCUserListPage(b *testing.B) {
	srv := NewServer(Options{Users: 100_000, RateLimit: 1 << 30, RateWindow: time.Second})
	b.Cleanup(srv.Close)
	token := benchToken(b, srv)
	start := 0
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/cc/api/user/list?start=%d&limit=250", srv.URL(), start), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		start = (start + 250) % 100_000
	}
}

// benchToken gets a token from srv for a benchmark's requests.
func benchToken(b *testing.B, srv *Server) string {
	b.Helper()
	resp, err := http.PostForm(srv.URL()+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {srv.ClientID()}, "client_secret": {srv.ClientSecret()}})
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}
