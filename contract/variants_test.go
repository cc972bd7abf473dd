package contract

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inviter/inviter/isctest"
)

// The answers of isctest's variants that SailPoint's documents describe,
// by operation, with the statuses TestContractVariants must see. Every
// exchange goes through the checker, so each request and answer is
// validated against its operation (status, content type, schema, no
// undeclared members).
//
// What the documents do not describe is checked apart, in
// TestUndocumentedVariants: the retired /cc API's 404 and 410 (the /cc API
// is not in the documents; their bodies are held to ErrorResponseDto) and
// the gateway's 414 (no operation documents it).
var wantVariantCoverage = map[string][]int{
	"v3 searchPost":               {200, 400, 403},
	"v2025 searchPost":            {200},
	"v2025 startIdentitiesInvite": {202, 403},
	"beta startIdentitiesInvite":  {202},
	"beta getTaskStatus":          {200, 403},
	"v2025 getTaskStatus":         {200},
	"v2025 listIdentities":        {200, 403},
	"v2025 getIdentity":           {200},
}

// clock is a settable clock for isctest.Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rawClient makes requests of its own through the checker.
type rawClient struct {
	t      *testing.T
	tenant *isctest.Server
	http   *http.Client
	token  string
}

func newRawClient(t *testing.T, sp *specs, cov *coverage, tenant *isctest.Server, id, secret string) *rawClient {
	t.Helper()
	c := &rawClient{t: t, tenant: tenant, http: &http.Client{Transport: &checker{t: t, specs: sp, cov: cov, next: http.DefaultTransport}}}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, body := c.do(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token for %s: %d %s", id, resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	c.token = tok.AccessToken
	return c
}

func (c *rawClient) do(method, path, contentType string, body io.Reader, headers ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.tenant.URL()+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, data
}

func (c *rawClient) get(path string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodGet, path, "", nil)
}

func (c *rawClient) post(path string, v any, headers ...string) (*http.Response, []byte) {
	c.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(http.MethodPost, path, "application/json", bytes.NewReader(data), headers...)
}

func want(t *testing.T, what string, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d; body %.300s", what, resp.StatusCode, status, body)
	}
}

func TestContractVariants(t *testing.T) {
	sp := loadSpecs(t)
	cov := newCoverage()
	t.Run("search", func(t *testing.T) { testSearchContract(t, sp, cov) })
	t.Run("asynchronous tasks", func(t *testing.T) { testAsyncTaskContract(t, sp, cov) })
	t.Run("scopes", func(t *testing.T) { testScopeContract(t, sp, cov) })
	t.Run("statuses and defaultFilter", func(t *testing.T) { testStatusContract(t, sp, cov) })
	if t.Failed() {
		return
	}
	cov.check(t, wantVariantCoverage)
}

func testSearchContract(t *testing.T, sp *specs, cov *coverage) {
	tenant := isctest.NewServer(isctest.Options{Users: 30, RateLimit: -1})
	t.Cleanup(tenant.Close)
	for range 3 {
		tenant.CreateIdentity(isctest.NewIdentity{})
	}
	c := newRawClient(t, sp, cov, tenant, tenant.ClientID(), tenant.ClientSecret())
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	req := map[string]any{
		"indices": []string{"identities"},
		"query":   map[string]any{"query": "status:UNREGISTERED AND created:>=" + since},
		"sort":    []string{"created", "id"},
	}
	resp, body := c.post("/v3/search?limit=2&count=true", req)
	want(t, "search", resp, body, http.StatusOK)
	var docs []struct {
		ID      string `json:"id"`
		Created string `json:"created"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal(body, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || resp.Header.Get("X-Total-Count") != "3" {
		t.Fatalf("search: %d documents, X-Total-Count %q; want 2 of 3", len(docs), resp.Header.Get("X-Total-Count"))
	}
	last := docs[len(docs)-1]
	req["searchAfter"] = []string{last.Created, last.ID}
	resp, body = c.post("/v3/search?limit=2", req)
	want(t, "search page 2", resp, body, http.StatusOK)
	if err := json.Unmarshal(body, &docs); err != nil || len(docs) != 1 {
		t.Fatalf("search page 2: %s", body)
	}
	resp, body = c.post("/v2025/search", req)
	want(t, "v2025 search", resp, body, http.StatusOK)

	bad := map[string]any{"indices": []string{"identities"}, "query": map[string]any{"query": "created:[now TO"}}
	resp, body = c.post("/v3/search", bad)
	want(t, "bad query", resp, body, http.StatusBadRequest)
}

func testAsyncTaskContract(t *testing.T, sp *specs, cov *coverage) {
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	tenant := isctest.NewServer(isctest.Options{
		RateLimit: -1, Now: clk.Now, AsyncTasks: true, TaskDelay: 3 * time.Second, UnknownIDs: isctest.UnknownIDsSkip,
	})
	t.Cleanup(tenant.Close)
	c := newRawClient(t, sp, cov, tenant, tenant.ClientID(), tenant.ClientSecret())
	ok := tenant.CreateIdentity(isctest.NewIdentity{})
	noMail := tenant.CreateIdentity(isctest.NewIdentity{NoEmail: true})
	const unknown = "0123456789abcdef0123456789abcdef"

	for _, tt := range []struct {
		path   string
		ids    []string
		header []string
		want   string
	}{
		{"/v2025/identities/invite", []string{ok.ID, unknown}, []string{"X-SailPoint-Experimental", "true"}, "WARNING"},
		{"/beta/identities/invite", []string{ok.ID, noMail.ID}, nil, "ERROR"},
		{"/beta/identities/invite", []string{ok.ID}, nil, "SUCCESS"},
	} {
		resp, body := c.post(tt.path, map[string]any{"ids": tt.ids}, tt.header...)
		want(t, "invite", resp, body, http.StatusAccepted)
		var task struct {
			ID               string  `json:"id"`
			CompletionStatus *string `json:"completionStatus"`
		}
		if err := json.Unmarshal(body, &task); err != nil || task.CompletionStatus != nil {
			t.Fatalf("invite: want a pending task, got %s", body)
		}
		resp, body = c.get("/beta/task-status/" + task.ID)
		want(t, "pending task", resp, body, http.StatusOK)
		clk.Advance(3 * time.Second)
		resp, body = c.get("/v2025/task-status/" + task.ID)
		want(t, "finished task", resp, body, http.StatusOK)
		if err := json.Unmarshal(body, &task); err != nil || task.CompletionStatus == nil || *task.CompletionStatus != tt.want {
			t.Fatalf("finished task: %s, want %s", body, tt.want)
		}
	}
}

func testScopeContract(t *testing.T, sp *specs, cov *coverage) {
	tenant := isctest.NewServer(isctest.Options{Users: 5, RateLimit: -1, Clients: []isctest.Client{
		{ID: "invite-only", Secret: "invite-only-secret", Scopes: []string{isctest.ScopeInvite}},
		{ID: "reader", Secret: "reader-secret", Scopes: []string{isctest.ScopeIdentityRead}},
	}})
	t.Cleanup(tenant.Close)
	id := tenant.CreateIdentity(isctest.NewIdentity{})
	inviteOnly := newRawClient(t, sp, cov, tenant, "invite-only", "invite-only-secret")
	reader := newRawClient(t, sp, cov, tenant, "reader", "reader-secret")

	resp, body := inviteOnly.get("/v2025/identities")
	want(t, "list without idn:identity:read", resp, body, http.StatusForbidden)
	resp, body = inviteOnly.get("/beta/task-status/" + id.ID)
	want(t, "task status without idn:task-management:read", resp, body, http.StatusForbidden)
	resp, body = reader.post("/v3/search", map[string]any{"indices": []string{"identities"}, "query": map[string]any{"query": "*"}})
	want(t, "search without sp:search:read", resp, body, http.StatusForbidden)
	resp, body = reader.post("/v2025/identities/invite", map[string]any{"ids": []string{id.ID}}, "X-SailPoint-Experimental", "true")
	want(t, "invite without idn:password-user-invite:manage", resp, body, http.StatusForbidden)
	resp, body = inviteOnly.post("/v2025/identities/invite", map[string]any{"ids": []string{id.ID}}, "X-SailPoint-Experimental", "true")
	want(t, "invite with its scope", resp, body, http.StatusAccepted)
	resp, body = reader.get("/v2025/identities/" + id.ID)
	want(t, "get with idn:identity:read", resp, body, http.StatusOK)
}

func testStatusContract(t *testing.T, sp *specs, cov *coverage) {
	tenant := isctest.NewServer(isctest.Options{Users: 20, RateLimit: -1, StatusMix: []string{"LOCKED", "DISABLED", "PENDING"}})
	t.Cleanup(tenant.Close)
	for _, st := range isctest.IdentityStatuses {
		tenant.CreateIdentity(isctest.NewIdentity{Status: st, Uncorrelated: st == "ERROR"})
	}
	c := newRawClient(t, sp, cov, tenant, tenant.ClientID(), tenant.ClientSecret())
	resp, body := c.get("/v2025/identities?defaultFilter=NONE&limit=250")
	want(t, "list NONE", resp, body, http.StatusOK)
	var all []map[string]any
	if err := json.Unmarshal(body, &all); err != nil || len(all) != 30 {
		t.Fatalf("defaultFilter=NONE: %d identities, want 30 (%v)", len(all), err)
	}
	resp, body = c.get("/v2025/identities?limit=250")
	want(t, "list", resp, body, http.StatusOK)
	if err := json.Unmarshal(body, &all); err != nil || len(all) != 29 {
		t.Fatalf("default CORRELATED_ONLY: %d identities, want 29 (%v)", len(all), err)
	}
	resp, body = c.get("/v2025/identities/" + tenant.Identities()[0].ID)
	want(t, "get", resp, body, http.StatusOK)
}

// TestUndocumentedVariants checks what the documents do not describe: the
// bodies of a retired /cc API's answers are ErrorResponseDto, and the 414
// over the URI limit is the gateway's HTML page on a documented path.
func TestUndocumentedVariants(t *testing.T) {
	sp := loadSpecs(t)
	dto := sp.schema(t, "v2025", "ErrorResponseDto")
	for _, status := range []int{http.StatusNotFound, http.StatusGone} {
		tenant := isctest.NewServer(isctest.Options{RateLimit: -1, CCRemoved: status, MaxURILength: 8192})
		t.Cleanup(tenant.Close)
		c := &rawClient{t: t, tenant: tenant, http: http.DefaultClient}
		resp, body := c.get("/cc/api/user/list")
		want(t, "retired /cc", resp, body, status)
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("retired /cc answer is not JSON: %s", body)
		}
		if err := dto.VisitJSON(v); err != nil {
			t.Errorf("CONTRACT: retired /cc answer %s is not an ErrorResponseDto: %v", body, schemaErr(err))
		}
		var extra []string
		undocumented(dto, v, "", &extra)
		if len(extra) > 0 {
			t.Errorf("CONTRACT: retired /cc answer has fields ErrorResponseDto does not declare: %s", strings.Join(extra, ", "))
		}
		resp, body = c.get("/v2025/identities?filters=" + url.QueryEscape(`id in ("`+strings.Repeat("a", 9000)+`")`))
		want(t, "long URI", resp, body, http.StatusRequestURITooLong)
	}
}
