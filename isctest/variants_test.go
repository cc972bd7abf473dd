package isctest

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ccListAll pages through the /cc list and returns the external ids in
// list order.
func ccListAll(t *testing.T, b *bundle) []string {
	t.Helper()
	var out []string
	for start := 0; ; start += 250 {
		resp, body := b.get(t, "/cc/api/user/list?limit=250&start="+strconv.Itoa(start))
		wantStatus(t, resp, body, http.StatusOK)
		var p ccPage
		mustJSON(t, body, &p)
		if len(p.Items) == 0 {
			return out
		}
		for _, it := range p.Items {
			out = append(out, it.ExternalID)
		}
	}
}

func TestCCOrder(t *testing.T) {
	t.Parallel()
	names := []string{"Mia Stone", "Ada Byrne", "Zoe Quinn", "bob Ames", "Carl Diaz"}
	tests := []struct {
		order CCOrder
		want  []string // names in list order
	}{
		{CCOrderCreated, names},
		{CCOrderName, []string{"Ada Byrne", "bob Ames", "Carl Diaz", "Mia Stone", "Zoe Quinn"}},
		{CCOrderNewestFirst, []string{"Carl Diaz", "bob Ames", "Zoe Quinn", "Ada Byrne", "Mia Stone"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.order), func(t *testing.T) {
			t.Parallel()
			b := setup(t, Options{RateLimit: -1, CCOrder: tt.order})
			byID := map[string]string{}
			for _, n := range names {
				id := b.srv.CreateIdentity(NewIdentity{Name: n})
				byID[id.ID] = n
			}
			var got []string
			for _, id := range ccListAll(t, b) {
				got = append(got, byID[id])
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}

	// By name, pre-existing users are sorted too, and a new user lands
	// inside the list, not at its end.
	b := setup(t, Options{RateLimit: -1, Users: 300, CCOrder: CCOrderName})
	id := b.srv.CreateIdentity(NewIdentity{Name: "Existing User 150a"})
	list := ccListAll(t, b)
	pos := slices.Index(list, id.ID)
	if len(list) != 301 || pos <= 0 || pos >= 300 {
		t.Fatalf("new user at %d of %d", pos, len(list))
	}
	for i := 1; i < len(list); i++ {
		a, _ := b.srv.Identity(list[i-1])
		c, _ := b.srv.Identity(list[i])
		if strings.ToLower(a.Name) > strings.ToLower(c.Name) {
			t.Fatalf("list not sorted at %d: %q > %q", i, a.Name, c.Name)
		}
	}
}

func TestUnknownIDs(t *testing.T) {
	t.Parallel()
	const missing = "ffffffffffffffffffffffffffffffff"
	tests := []struct {
		mode        UnknownIDMode
		wantStatus  int
		wantInvites int
		wantTask    string
	}{
		{UnknownIDsReject, http.StatusBadRequest, 0, ""},
		{UnknownIDsSkip, http.StatusAccepted, 1, "WARNING"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()
			b := setup(t, Options{RateLimit: -1, UnknownIDs: tt.mode, VisibilityDelay: time.Minute})
			late := b.srv.CreateIdentity(NewIdentity{})                               // not visible yet
			known := b.srv.CreateIdentity(NewIdentity{VisibleAfter: time.Nanosecond}) // visible at once
			b.clock.Advance(time.Second)
			resp, body := b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{known.ID, missing, late.ID}})
			wantStatus(t, resp, body, tt.wantStatus)
			if n := len(b.srv.Invites()); n != tt.wantInvites {
				t.Fatalf("%d invites, want %d", n, tt.wantInvites)
			}
			if tt.wantTask == "" {
				return
			}
			var task taskJSON
			mustJSON(t, body, &task)
			if task.CompletionStatus == nil || *task.CompletionStatus != tt.wantTask || len(task.Messages) != 2 {
				t.Fatalf("task %s", body)
			}
			for i, want := range []string{missing, late.ID} {
				m := task.Messages[i]
				if m.Type != "WARN" || m.Key != MessageKeyNotFound || !strings.Contains(m.LocalizedText.Message, want) ||
					len(m.Parameters) != 1 || m.Parameters[0]["id"] != want {
					t.Fatalf("message %d = %+v, want one naming %s", i, m, want)
				}
			}
			if task.Attributes["identityCount"] != float64(1) {
				t.Fatalf("identityCount %v", task.Attributes["identityCount"])
			}
		})
	}
}

type taskJSON struct {
	ID               string         `json:"id"`
	Completed        *string        `json:"completed"`
	CompletionStatus *string        `json:"completionStatus"`
	Progress         string         `json:"progress"`
	PercentComplete  int            `json:"percentComplete"`
	Attributes       map[string]any `json:"attributes"`
	Messages         []struct {
		Type          string `json:"type"`
		Key           string `json:"key"`
		LocalizedText struct {
			Locale, Message string
		} `json:"localizedText"`
		Parameters []map[string]any `json:"parameters"`
	} `json:"messages"`
}

func TestAsyncTasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		async     bool
		noEmail   bool
		unknown   bool
		want      string
		wantMails int
	}{
		{"sync success", false, false, false, "SUCCESS", 2},
		{"sync no email", false, true, false, "ERROR", 1},
		{"async success", true, false, false, "SUCCESS", 2},
		{"async no email", true, true, false, "ERROR", 1},
		{"async unknown id", true, false, true, "WARNING", 2},
		{"async unknown and no email", true, true, true, "ERROR", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Options{RateLimit: -1, AsyncTasks: tt.async, TaskDelay: 5 * time.Second, UnknownIDs: UnknownIDsSkip})
			a := b.srv.CreateIdentity(NewIdentity{})
			c := b.srv.CreateIdentity(NewIdentity{NoEmail: tt.noEmail})
			ids := []string{a.ID, c.ID}
			if tt.unknown {
				ids = append(ids, "0123456789abcdef0123456789abcdef")
			}
			resp, body := b.postJSON(t, "/v2025/identities/invite", map[string]any{"ids": ids}, "X-SailPoint-Experimental", "true")
			wantStatus(t, resp, body, http.StatusAccepted)
			var task taskJSON
			mustJSON(t, body, &task)
			if n := len(b.srv.Invites()); n != tt.wantMails {
				t.Fatalf("%d mails, want %d", n, tt.wantMails)
			}
			check := func(path string) taskJSON {
				t.Helper()
				resp, body := b.get(t, path+task.ID)
				wantStatus(t, resp, body, http.StatusOK)
				var got taskJSON
				mustJSON(t, body, &got)
				return got
			}
			if tt.async {
				if task.CompletionStatus != nil || task.Completed != nil || task.PercentComplete != 0 || len(task.Messages) != 0 {
					t.Fatalf("async 202 already complete: %s", body)
				}
				b.clock.Advance(4 * time.Second)
				if got := check("/beta/task-status/"); got.CompletionStatus != nil {
					t.Fatalf("complete after 4s of 5s: %+v", got)
				}
				b.clock.Advance(time.Second)
			}
			for _, path := range []string{"/beta/task-status/", "/v2025/task-status/", "/v2024/task-status/"} {
				got := check(path)
				if got.CompletionStatus == nil || *got.CompletionStatus != tt.want || got.Completed == nil || got.PercentComplete != 100 {
					t.Fatalf("%s: task %+v, want %s", path, got, tt.want)
				}
				if tt.noEmail {
					found := false
					for _, m := range got.Messages {
						if m.Type == "ERROR" && m.Key == MessageKeyNoEmail && m.Parameters[0]["id"] == c.ID {
							found = true
						}
					}
					if !found {
						t.Fatalf("no ERROR message for the identity without email: %+v", got.Messages)
					}
				}
			}
		})
	}
}

func TestTaskMessagesWithoutIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, UnknownIDs: UnknownIDsSkip, TaskMessagesWithoutIDs: true})
	c := b.srv.CreateIdentity(NewIdentity{NoEmail: true})
	const missing = "ffffffffffffffffffffffffffffffff"
	resp, body := b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{c.ID, missing}})
	wantStatus(t, resp, body, http.StatusAccepted)
	var task taskJSON
	mustJSON(t, body, &task)
	if task.CompletionStatus == nil || *task.CompletionStatus != "ERROR" || len(task.Messages) != 2 {
		t.Fatalf("task %s", body)
	}
	if strings.Contains(string(body), c.ID) || strings.Contains(string(body), missing) {
		t.Fatalf("messages name an identity: %s", body)
	}
}

func TestIdentityStatuses(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, Users: 20, StatusMix: []string{"LOCKED", "DISABLED"}})
	counts := map[string]int{}
	for _, id := range b.srv.Identities() {
		counts[id.Status]++
	}
	if counts["UNREGISTERED"] != 2 || counts["LOCKED"] != 9 || counts["DISABLED"] != 9 {
		t.Fatalf("statuses %v", counts)
	}
	var made []Identity
	for _, st := range IdentityStatuses {
		made = append(made, b.srv.CreateIdentity(NewIdentity{Status: st}))
	}
	for i, st := range IdentityStatuses {
		resp, body := b.get(t, "/v2025/identities/"+made[i].ID)
		wantStatus(t, resp, body, http.StatusOK)
		var got v2025Identity
		mustJSON(t, body, &got)
		if got.IdentityStatus != st || got.Attributes["cloudStatus"] != st {
			t.Fatalf("status %s read back as %s", st, body)
		}
	}
	// Only UNREGISTERED is mailed by default; MailableStatuses widens it.
	ids := make([]string, len(made))
	for i, id := range made {
		ids[i] = id.ID
	}
	resp, body := b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": ids})
	wantStatus(t, resp, body, http.StatusAccepted)
	if inv := b.srv.Invites(); len(inv) != 1 || inv[0].IdentityID != made[0].ID {
		t.Fatalf("invites %+v", inv)
	}

	b2 := setup(t, Options{RateLimit: -1, MailableStatuses: []string{"UNREGISTERED", "PENDING"}})
	p := b2.srv.CreateIdentity(NewIdentity{Status: "PENDING"})
	l := b2.srv.CreateIdentity(NewIdentity{Status: "LOCKED"})
	resp, body = b2.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{p.ID, l.ID}})
	wantStatus(t, resp, body, http.StatusAccepted)
	if inv := b2.srv.Invites(); len(inv) != 1 || inv[0].IdentityID != p.ID {
		t.Fatalf("invites %+v", inv)
	}
}

func TestSharedEmail(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, Users: 50, SharedEmailUsers: 3})
	var shared []string
	for _, id := range b.srv.Identities() {
		if id.Email == sharedEmail {
			if id.Status != "UNREGISTERED" {
				t.Fatalf("shared-email identity %s is %s", id.ID, id.Status)
			}
			shared = append(shared, id.ID)
		}
	}
	if len(shared) != 3 {
		t.Fatalf("%d identities share the address", len(shared))
	}
	// The later ones first: still only the first created is mailed.
	resp, body := b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{shared[2], shared[1], shared[0]}})
	wantStatus(t, resp, body, http.StatusAccepted)
	if inv := b.srv.Invites(); len(inv) != 1 || inv[0].IdentityID != shared[0] {
		t.Fatalf("invites %+v", inv)
	}
}

func TestDefaultFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	c := b.srv.CreateIdentity(NewIdentity{Name: "Cora Related"})
	u := b.srv.CreateIdentity(NewIdentity{Name: "Una Related", Uncorrelated: true})
	tests := []struct {
		query string
		want  []string
		code  int
	}{
		{"", []string{c.ID}, 200},
		{"?defaultFilter=CORRELATED_ONLY", []string{c.ID}, 200},
		{"?defaultFilter=NONE", []string{c.ID, u.ID}, 200},
		{"?defaultFilter=NONE&filters=" + url.QueryEscape("correlated eq false"), []string{u.ID}, 200},
		{"?defaultFilter=SOME", nil, 400},
	}
	for _, v := range []string{"beta", "v2025"} {
		for _, tt := range tests {
			resp, body := b.get(t, "/"+v+"/identities"+tt.query)
			wantStatus(t, resp, body, tt.code)
			if tt.code != 200 {
				continue
			}
			var got []v2025Identity
			mustJSON(t, body, &got)
			var ids []string
			for _, g := range got {
				ids = append(ids, g.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("%s%s: %v, want %v", v, tt.query, ids, tt.want)
			}
		}
	}
	// An uncorrelated identity can still be read by id.
	resp, body := b.get(t, "/v2025/identities/"+u.ID)
	wantStatus(t, resp, body, http.StatusOK)
}

func TestScopes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, Users: 3, Clients: []Client{
		{ID: "reader", Secret: "reader-secret", Scopes: []string{ScopeIdentityRead}},
		{ID: "inviter", Secret: "inviter-secret2", Scopes: []string{ScopeInvite, ScopeIdentityRead, ScopeTaskRead, ScopeSearch, ScopeSubscriptions}},
	}})
	id := b.srv.Identities()[9%3]
	reader := b.tokenFor(t, "reader", "reader-secret")
	full := b.tokenFor(t, "inviter", "inviter-secret2")
	invite := `{"ids":["` + id.ID + `"]}`
	search := `{"indices":["identities"],"query":{"query":"*"}}`
	sub := `{"name":"n","type":"HTTP","triggerId":"idn:identity-created","httpConfig":{"url":"http://127.0.0.1:1/x","httpDispatchMode":"SYNC"}}`
	tests := []struct {
		method, path, body string
		reader, full       int
	}{
		{"GET", "/v2025/identities", "", 200, 200},
		{"GET", "/beta/identities/" + id.ID, "", 200, 200},
		{"POST", "/beta/identities/invite", invite, 403, 202},
		{"GET", "/beta/task-status/nope", "", 403, 404},
		{"POST", "/v3/search", search, 403, 200},
		{"GET", "/beta/trigger-subscriptions", "", 403, 200},
		{"POST", "/beta/trigger-subscriptions", sub, 403, 201},
		{"GET", "/cc/api/user/list", "", 403, 403},
		{"POST", "/beta/trigger-invocations/test", `{}`, 403, 403},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			tok  string
			want int
		}{{reader, tt.reader}, {full, tt.full}, {b.token, -1}} {
			var body *bytes.Reader
			if tt.body != "" {
				body = bytes.NewReader([]byte(tt.body))
			} else {
				body = bytes.NewReader(nil)
			}
			resp, data := b.send(t, tt.method, tt.path, c.tok, body, "Content-Type", "application/json")
			if c.want == -1 {
				if resp.StatusCode == http.StatusForbidden {
					t.Fatalf("%s %s: 403 for a token of every right", tt.method, tt.path)
				}
				continue
			}
			wantStatus(t, resp, data, c.want)
			if c.want == 403 {
				errorDto(t, data)
			}
		}
	}

	// The token answer names the scopes.
	b2 := setup(t, Options{Scopes: []string{ScopeInvite}})
	resp, body := b2.get(t, "/v2025/identities")
	wantStatus(t, resp, body, http.StatusForbidden)
	b3 := setup(t, Options{Scopes: []string{ScopeInvite}, CCIgnoresScopes: true})
	resp, body = b3.get(t, "/cc/api/user/list")
	wantStatus(t, resp, body, http.StatusOK)
}

// tokenFor fetches a token for another client; it fails the test when
// refused.
func (b *bundle) tokenFor(t *testing.T, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, body := b.send(t, http.MethodPost, "/oauth/token", "", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	wantStatus(t, resp, body, http.StatusOK)
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	mustJSON(t, body, &tok)
	return tok.AccessToken
}

func TestGatewayVariants(t *testing.T) {
	t.Parallel()
	long := "/v2025/identities?filters=" + url.QueryEscape(`id in ("`+strings.Repeat("a", 8200)+`")`)
	short := "/v2025/identities?filters=" + url.QueryEscape(`id in ("`+strings.Repeat("a", 100)+`")`)
	tests := []struct {
		name     string
		opts     Options
		method   string
		path     string
		want     int
		wantDepr bool
	}{
		{"cc removed 404", Options{CCRemoved: 404}, "GET", "/cc/api/user/list", 404, false},
		{"cc removed 410", Options{CCRemoved: 410}, "POST", "/cc/api/user/invite", 410, false},
		{"cc removed, public fine", Options{CCRemoved: 410}, "GET", "/v2025/identities", 200, false},
		{"uri over limit", Options{MaxURILength: 8192}, "GET", long, 414, false},
		{"uri under limit", Options{MaxURILength: 8192}, "GET", short, 200, false},
		{"uri no limit", Options{}, "GET", long, 200, false},
		{"deprecated beta", Options{DeprecatedVersions: []string{"beta"}}, "GET", "/beta/identities", 200, true},
		{"current v2025", Options{DeprecatedVersions: []string{"beta"}}, "GET", "/v2025/identities", 200, false},
		{"deprecated route", Options{DeprecatedEndpoints: []string{"GET /v2025/identities/{id}"}}, "GET", "/v2025/identities/nope", 404, true},
		{"other route", Options{DeprecatedEndpoints: []string{"GET /v2025/identities/{id}"}}, "GET", "/v2025/identities", 200, false},
		{"service family off", Options{}, "GET", "/identities/v1/", 404, false},
		{"service family list", Options{ServiceVersioned: true}, "GET", "/identities/v1/", 200, false},
		{"service family list, no slash", Options{ServiceVersioned: true}, "GET", "/identities/v1", 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.RateLimit = -1
			b := setup(t, tt.opts)
			resp, body := b.send(t, tt.method, tt.path, b.token, nil)
			wantStatus(t, resp, body, tt.want)
			if got := resp.Header.Get("X-Deprecated") == "true"; got != tt.wantDepr {
				t.Fatalf("X-Deprecated %q", resp.Header.Get("X-Deprecated"))
			}
			if n := b.srv.CallCount(""); n != 2 {
				t.Fatalf("%d calls recorded, want 2 (token and this one)", n)
			}
		})
	}

	// The per-service family invites and reports the task.
	b := setup(t, Options{RateLimit: -1, ServiceVersioned: true})
	id := b.srv.CreateIdentity(NewIdentity{})
	resp, body := b.postJSON(t, "/identities/v1/invite", map[string]any{"ids": []string{id.ID}})
	wantStatus(t, resp, body, http.StatusAccepted)
	var task taskJSON
	mustJSON(t, body, &task)
	resp, body = b.get(t, "/task-status/v1/"+task.ID)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = b.get(t, "/identities/v1/"+id.ID)
	wantStatus(t, resp, body, http.StatusOK)
}

func TestListOrder(t *testing.T) {
	t.Parallel()
	names := []string{"Mia Stone", "Ada Byrne", "Zoe Quinn"}
	tests := []struct {
		order CCOrder
		query string
		want  []string
	}{
		{CCOrderCreated, "", names},
		{CCOrderName, "", []string{"Ada Byrne", "Mia Stone", "Zoe Quinn"}},
		{CCOrderNewestFirst, "", []string{"Zoe Quinn", "Ada Byrne", "Mia Stone"}},
		{CCOrderNewestFirst, "?sorters=name", []string{"Ada Byrne", "Mia Stone", "Zoe Quinn"}}, // sorters win
	}
	for _, tt := range tests {
		t.Run(string(tt.order)+tt.query, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Options{RateLimit: -1, ListOrder: tt.order})
			for _, n := range names {
				b.srv.CreateIdentity(NewIdentity{Name: n})
			}
			resp, body := b.get(t, "/v2025/identities"+tt.query)
			wantStatus(t, resp, body, http.StatusOK)
			var got []v2025Identity
			mustJSON(t, body, &got)
			var order []string
			for _, g := range got {
				order = append(order, g.Name)
			}
			if !slices.Equal(order, tt.want) {
				t.Fatalf("order %v, want %v", order, tt.want)
			}
		})
	}
}

func TestSearchDelay(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, SearchDelay: 30 * time.Second})
	id := b.srv.CreateIdentity(NewIdentity{})
	body := map[string]any{"query": map[string]any{"query": "id:" + id.ID}}
	if _, docs, _ := b.search(t, "", body); len(docs) != 0 {
		t.Fatal("in the search before SearchDelay")
	}
	if resp, data := b.get(t, "/v2025/identities/"+id.ID); resp.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", resp.StatusCode, data)
	}
	b.clock.Advance(30 * time.Second)
	if _, docs, _ := b.search(t, "", body); len(docs) != 1 {
		t.Fatal("not in the search after SearchDelay")
	}
}

func TestTaskReadDelay(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, TaskReadDelay: time.Second})
	id := b.srv.CreateIdentity(NewIdentity{})
	resp, body := b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{id.ID}})
	wantStatus(t, resp, body, http.StatusAccepted)
	var task taskJSON
	mustJSON(t, body, &task)
	resp, body = b.get(t, "/beta/task-status/"+task.ID)
	wantStatus(t, resp, body, http.StatusNotFound)
	b.clock.Advance(time.Second)
	resp, body = b.get(t, "/beta/task-status/"+task.ID)
	wantStatus(t, resp, body, http.StatusOK)
}

func TestListDelayAndSunset(t *testing.T) {
	t.Parallel()
	sunset := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	b := setup(t, Options{RateLimit: -1, ListDelay: 10 * time.Second, DeprecatedVersions: []string{"beta"}, Sunset: sunset})
	id := b.srv.CreateIdentity(NewIdentity{})
	count := func(path string) int {
		t.Helper()
		resp, body := b.get(t, path)
		wantStatus(t, resp, body, http.StatusOK)
		if path == "/cc/api/user/list" {
			var p ccPage
			mustJSON(t, body, &p)
			return len(p.Items)
		}
		var items []v2025Identity
		mustJSON(t, body, &items)
		return len(items)
	}
	for _, path := range []string{"/v2025/identities", "/cc/api/user/list"} {
		if n := count(path); n != 0 {
			t.Fatalf("%s lists %d before ListDelay", path, n)
		}
	}
	resp, body := b.get(t, "/beta/identities/"+id.ID)
	wantStatus(t, resp, body, http.StatusOK)
	if resp.Header.Get("Sunset") != "Tue, 01 Jun 2027 00:00:00 GMT" || resp.Header.Get("X-Deprecated") != "true" {
		t.Fatalf("Sunset %q, X-Deprecated %q", resp.Header.Get("Sunset"), resp.Header.Get("X-Deprecated"))
	}
	b.clock.Advance(10 * time.Second)
	for _, path := range []string{"/v2025/identities", "/cc/api/user/list"} {
		if n := count(path); n != 1 {
			t.Fatalf("%s lists %d after ListDelay", path, n)
		}
	}
}

func TestFoundingRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1, Routes: FoundingRoutes})
	id := b.srv.CreateIdentity(NewIdentity{})
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/v2025/identities", 200},
		{"GET", "/v2025/identities/" + id.ID, 200},
		{"GET", "/beta/identities", 404},
		{"GET", "/beta/identities/" + id.ID, 404},
		{"GET", "/v2025/task-status/x", 404},
		{"GET", "/beta/task-status/x", 404}, // served: an unknown task
		{"POST", "/v2025/search", 404},
	}
	for _, tt := range tests {
		resp, body := b.send(t, tt.method, tt.path, b.token, strings.NewReader("{}"), "Content-Type", "application/json")
		wantStatus(t, resp, body, tt.want)
		if tt.want == 404 {
			errorDto(t, body)
		}
	}
	resp, body := b.postJSON(t, "/v2025/identities/invite", map[string]any{"ids": []string{id.ID}}, "X-SailPoint-Experimental", "true")
	wantStatus(t, resp, body, 404)
	if b.srv.CallCount("POST /v2025/identities/invite") != 1 || len(b.srv.Invites()) != 0 {
		t.Fatalf("an unserved route: %d calls counted, %d invites", b.srv.CallCount("POST /v2025/identities/invite"), len(b.srv.Invites()))
	}
	resp, body = b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{id.ID}})
	wantStatus(t, resp, body, 202)
}
