package isctest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type taskStatusJSON struct {
	ID               string         `json:"id"`
	Type             string         `json:"type"`
	UniqueName       string         `json:"uniqueName"`
	Description      string         `json:"description"`
	Launcher         string         `json:"launcher"`
	Created          string         `json:"created"`
	Completed        string         `json:"completed"`
	CompletionStatus string         `json:"completionStatus"`
	Messages         []any          `json:"messages"`
	Returns          []any          `json:"returns"`
	Attributes       map[string]any `json:"attributes"`
	PercentComplete  int            `json:"percentComplete"`
}

func TestPublicInvite(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{MaxInviteIDs: 3, RateLimit: -1})
	ids := b.srv.CreateIdentities(4, func(i int) NewIdentity {
		return NewIdentity{Registered: i == 1}
	})

	resp, body := b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{ids[0].ID, ids[1].ID, ids[0].ID}})
	wantStatus(t, resp, body, http.StatusAccepted)
	var task taskStatusJSON
	mustJSON(t, body, &task)
	if len(task.ID) != 32 || task.Type != "QUARTZ" || task.UniqueName != "Invite Identities" || task.CompletionStatus != "SUCCESS" ||
		task.Messages == nil || task.Returns == nil || task.Attributes["identityCount"] != float64(2) ||
		task.Launcher != b.srv.ClientID() || task.Created == "" || task.Completed == "" || task.PercentComplete != 100 {
		t.Fatalf("task %s", body)
	}
	// Only the unregistered identity was mailed.
	invites := b.srv.Invites()
	if len(invites) != 1 || invites[0].IdentityID != ids[0].ID || invites[0].CCID != ids[0].CCID ||
		invites[0].API != "public" || invites[0].TaskID != task.ID {
		t.Fatalf("invites %+v", invites)
	}
	if b.srv.InviteCount(ids[1].ID) != 0 {
		t.Fatal("registered identity was mailed")
	}

	resp, body = b.get(t, "/beta/task-status/"+task.ID)
	wantStatus(t, resp, body, http.StatusOK)
	var again taskStatusJSON
	mustJSON(t, body, &again)
	if again.ID != task.ID || again.CompletionStatus != "SUCCESS" {
		t.Fatalf("task status %s", body)
	}
	resp, body = b.get(t, "/beta/task-status/nope")
	wantStatus(t, resp, body, http.StatusNotFound)

	tests := []struct {
		name       string
		path       string
		body       any
		header     []string
		wantStatus int
		wantText   string
	}{
		{"unknown id", "/beta/identities/invite", map[string]any{"ids": []string{ids[2].ID, "ffffffffffffffffffffffffffffffff"}}, nil, 400, "ffffffffffffffffffffffffffffffff"},
		{"too many ids", "/beta/identities/invite", map[string]any{"ids": []string{ids[0].ID, ids[1].ID, ids[2].ID, ids[3].ID}}, nil, 400, "at most 3"},
		{"empty", "/beta/identities/invite", map[string]any{}, nil, 400, ""},
		{"malformed", "/beta/identities/invite", "ids", nil, 400, ""},
		{"v2025 without header", "/v2025/identities/invite", map[string]any{"ids": []string{ids[2].ID}}, nil, 400, "X-SailPoint-Experimental"},
		{"v2024 without header", "/v2024/identities/invite", map[string]any{"ids": []string{ids[2].ID}}, nil, 400, "X-SailPoint-Experimental"},
		{"v2026 with header", "/v2026/identities/invite", map[string]any{"ids": []string{ids[2].ID}}, []string{"X-SailPoint-Experimental", "true"}, 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.postJSON(t, tt.path, tt.body, tt.header...)
			wantStatus(t, resp, body, tt.wantStatus)
			if tt.wantStatus == 400 {
				if text := errorDto(t, body); !strings.Contains(text, tt.wantText) {
					t.Fatalf("message %q does not mention %q", text, tt.wantText)
				}
			}
		})
	}
	if n := len(b.srv.Invites()); n != 2 {
		t.Fatalf("%d invites after the table, want 2 (refused calls mail nobody)", n)
	}

	// uninvited: every unregistered visible identity (ids 0, 2, 3).
	resp, body = b.postJSON(t, "/beta/identities/invite", map[string]any{"uninvited": true})
	wantStatus(t, resp, body, http.StatusAccepted)
	mustJSON(t, body, &task)
	if task.Attributes["identityCount"] != float64(3) {
		t.Fatalf("uninvited task %s", body)
	}
	want := map[string]int{ids[0].ID: 2, ids[1].ID: 0, ids[2].ID: 2, ids[3].ID: 1}
	for id, n := range want {
		if got := b.srv.InviteCount(id); got != n {
			t.Errorf("InviteCount(%s) = %d, want %d", id, got, n)
		}
	}
}

func TestCCInvite(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	ids := b.srv.CreateIdentities(3, func(i int) NewIdentity { return NewIdentity{Registered: i == 2} })
	b.srv.Register(ids[1].ID)

	post := func(shortIDs ...string) (*http.Response, []byte) {
		form := url.Values{"ids": shortIDs}
		return b.send(t, http.MethodPost, "/cc/api/user/invite", b.token, strings.NewReader(form.Encode()),
			"Content-Type", "application/x-www-form-urlencoded")
	}
	resp, body := post(ids[0].CCID, ids[1].CCID, ids[2].CCID)
	wantStatus(t, resp, body, http.StatusOK)
	if strings.TrimSpace(string(body)) != "{}" {
		t.Fatalf("body %s", body)
	}
	invites := b.srv.Invites()
	if len(invites) != 1 || invites[0].IdentityID != ids[0].ID || invites[0].API != "cc" || invites[0].TaskID != "" {
		t.Fatalf("invites %+v", invites)
	}

	resp, body = post(ids[0].CCID, "999999")
	wantStatus(t, resp, body, http.StatusBadRequest)
	if text := errorDto(t, body); !strings.Contains(text, "999999") {
		t.Fatalf("message %q", text)
	}
	// An identity id is not a short id.
	resp, body = post(ids[0].ID)
	wantStatus(t, resp, body, http.StatusBadRequest)
	resp, body = post()
	wantStatus(t, resp, body, http.StatusBadRequest)
	if n := len(b.srv.Invites()); n != 1 {
		t.Fatalf("%d invites, want 1", n)
	}
}

func TestCallLog(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	id := b.srv.CreateIdentity(NewIdentity{})
	b.get(t, "/v2025/identities/"+id.ID)
	b.get(t, "/beta/task-status/abc")
	b.get(t, "/beta/no-such-thing")
	b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{id.ID}})
	b.send(t, http.MethodGet, "/v2025/identities", "", nil)

	want := []Call{
		{Method: "POST", Path: "/oauth/token", Endpoint: "POST /oauth/token", Status: 200},
		{Method: "GET", Path: "/v2025/identities/" + id.ID, Endpoint: "GET /v2025/identities/{id}", Status: 200},
		{Method: "GET", Path: "/beta/task-status/abc", Endpoint: "GET /beta/task-status/{id}", Status: 404},
		{Method: "GET", Path: "/beta/no-such-thing", Endpoint: "GET /beta/no-such-thing", Status: 404},
		{Method: "POST", Path: "/beta/identities/invite", Endpoint: "POST /beta/identities/invite", Status: 202},
		{Method: "GET", Path: "/v2025/identities", Endpoint: "GET /v2025/identities", Status: 401},
	}
	got := b.srv.Calls()
	if len(got) != len(want) {
		t.Fatalf("%d calls, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].At = b.clock.Now()
		if got[i] != want[i] {
			t.Errorf("call %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := b.srv.CallCount("POST /beta/identities/invite"); n != 1 {
		t.Errorf("CallCount(invite) = %d", n)
	}
	if n := b.srv.CallCount(""); n != 6 {
		t.Errorf("CallCount(\"\") = %d", n)
	}
	b.srv.ResetCalls()
	if n := b.srv.CallCount(""); n != 0 || len(b.srv.Invites()) != 1 {
		t.Errorf("after ResetCalls: %d calls, %d invites", n, len(b.srv.Invites()))
	}
}

func TestPlainClientForbiddenToInvite(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{PlainClientID: "plain", PlainClientSecret: "plain-secret", RateLimit: -1})
	id := b.srv.CreateIdentity(NewIdentity{})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"plain"}, "client_secret": {"plain-secret"}}
	resp, body := b.send(t, http.MethodPost, "/oauth/token", "", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	wantStatus(t, resp, body, http.StatusOK)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(t, body, &tok)

	for _, path := range []string{"/beta/identities/invite", "/v2025/identities/invite"} {
		resp, body = b.send(t, http.MethodPost, path, tok.AccessToken, strings.NewReader(`{"ids":["`+id.ID+`"]}`),
			"Content-Type", "application/json", "X-SailPoint-Experimental", "true")
		wantStatus(t, resp, body, http.StatusForbidden)
		if got := errorDto(t, body); !strings.Contains(got, "refuses to authorize") {
			t.Errorf("%s: message %q", path, got)
		}
	}
	// Other calls work for the plain client, and the PAT may still invite.
	resp, body = b.send(t, http.MethodGet, "/v2025/identities/"+id.ID, tok.AccessToken, nil)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": []string{id.ID}})
	wantStatus(t, resp, body, http.StatusAccepted)
	if n := b.srv.InviteCount(id.ID); n != 1 {
		t.Fatalf("invites: %d, want 1", n)
	}
}

func TestWaitInvitedReturnsOnceEveryIdentityIsMailed(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{RateLimit: -1})
	ids := b.srv.CreateIdentities(2, nil)
	want := []string{ids[0].ID, ids[1].ID}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.srv.WaitInvited(ctx, want); err == nil || !strings.Contains(err.Error(), "2 of 2") {
		t.Fatalf("WaitInvited before any invite = %v, want 2 of 2 missing", err)
	}
	done := make(chan error, 1)
	go func() { done <- b.srv.WaitInvited(t.Context(), want) }()
	resp, body := b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": want[:1]})
	wantStatus(t, resp, body, http.StatusAccepted)
	select {
	case err := <-done:
		t.Fatalf("WaitInvited returned %v with one of two mailed", err)
	default:
	}
	resp, body = b.postJSON(t, "/beta/identities/invite", map[string]any{"ids": want[1:]})
	wantStatus(t, resp, body, http.StatusAccepted)
	if err := <-done; err != nil {
		t.Fatalf("WaitInvited: %v", err)
	}
}
