package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/inviter/inviter/isctest"
)

func TestFakeTenantFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string // a usage error mentioning this flag; "" for none
		check   func(isctest.Options, isctest.Faults) bool
	}{
		{[]string{"--cc-order", "name"}, "", func(o isctest.Options, _ isctest.Faults) bool { return o.CCOrder == isctest.CCOrderName }},
		{[]string{"--cc-order", "newest"}, "", func(o isctest.Options, _ isctest.Faults) bool { return o.CCOrder == isctest.CCOrderNewestFirst }},
		{[]string{"--unknown-ids", "skip", "--async-tasks", "--task-delay", "3s"}, "", func(o isctest.Options, _ isctest.Faults) bool {
			return o.UnknownIDs == isctest.UnknownIDsSkip && o.AsyncTasks && o.TaskDelay.Seconds() == 3
		}},
		{[]string{"--statuses", "LOCKED,PENDING", "--shared-email", "3"}, "", func(o isctest.Options, _ isctest.Faults) bool {
			return slices.Equal(o.StatusMix, []string{"LOCKED", "PENDING"}) && o.SharedEmailUsers == 3
		}},
		{[]string{"--scopes", "idn:identity:read", "--cc-removed", "410", "--max-uri-length", "8192", "--deprecated", "beta"}, "", func(o isctest.Options, _ isctest.Faults) bool {
			return slices.Equal(o.Scopes, []string{"idn:identity:read"}) && o.CCRemoved == 410 && o.MaxURILength == 8192 && slices.Equal(o.DeprecatedVersions, []string{"beta"})
		}},
		{[]string{"--redirect", "308", "--redirect-to", "http://x.test/", "--fault-endpoints", "POST /oauth/token"}, "", func(_ isctest.Options, f isctest.Faults) bool {
			return f.RedirectRate == 1 && f.RedirectStatus == 308 && f.RedirectTo == "http://x.test/" && slices.Equal(f.Endpoints, []string{"POST /oauth/token"})
		}},
		{[]string{"--bad-body", "json", "--retry-after", "86400", "--refuse-credentials", "--unauthorized-rate", "1", "--big-body", "100"}, "", func(_ isctest.Options, f isctest.Faults) bool {
			return f.BadBody == "json" && f.RetryAfter == 86400 && f.RefuseCredentials && f.UnauthorizedRate == 1 && f.BigBody == 100
		}},
		{[]string{"--list-order", "newest", "--search-delay", "5s"}, "", func(o isctest.Options, _ isctest.Faults) bool {
			return o.ListOrder == isctest.CCOrderNewestFirst && o.SearchDelay.Seconds() == 5
		}},
		{[]string{"--founding-routes"}, "", func(o isctest.Options, _ isctest.Faults) bool { return slices.Equal(o.Routes, isctest.FoundingRoutes) }},
		{[]string{"--founding-routes", "--routes", "GET /v2025/identities"}, "--founding-routes", nil},
		{[]string{"--cc-order", "random"}, "--cc-order", nil},
		{[]string{"--list-order", "random"}, "--list-order", nil},
		{[]string{"--search-status", "attribute"}, "", func(o isctest.Options, _ isctest.Faults) bool { return o.SearchStatus == isctest.SearchStatusAttribute }},
		{[]string{"--search-status", "nowhere"}, "--search-status", nil},
		{[]string{"--unknown-ids", "drop"}, "--unknown-ids", nil},
		{[]string{"--statuses", "ASLEEP"}, "--statuses", nil},
		{[]string{"--cc-removed", "500"}, "--cc-removed", nil},
		{[]string{"--redirect", "200"}, "--redirect", nil},
		{[]string{"--redirect-to", "http://x.test/"}, "--redirect-to", nil},
		{[]string{"--bad-body", "xml"}, "--bad-body", nil},
		{[]string{"--too-many-rate", "2"}, "--too-many-rate", nil},
	}
	for _, tt := range tests {
		o := &fakeTenantOptions{rate: rateFlag{n: 100}}
		cmd := fakeTenantCommand(o, nil, nil)
		if err := cmd.Flags().Parse(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		opts, faults, err := o.tenantOptions()
		if tt.wantErr != "" {
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("%v: error %v, want a usage error naming %s", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(opts, faults) {
			t.Fatalf("%v: options %+v, faults %+v, error %v", tt.args, opts, faults, err)
		}
	}
}

// TestFakeTenantCreateWaitsForSubscription runs fake-tenant with --create:
// it creates nothing until a trigger subscription exists, and the admin
// endpoint it prints creates identities on demand.
func TestFakeTenantCreateWaitsForSubscription(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"fake-tenant", "--listen", "127.0.0.1:0", "--users", "3", "--visibility-delay", "0s",
			"--create", "2", "--create-every", "1ms"}, func(string) string { return "" }, strings.NewReader(""), pw, io.Discard)
		pw.CloseWithError(io.EOF)
		errc <- err
	}()
	lines := bufio.NewScanner(pr)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("fake-tenant output ended: %v", lines.Err())
		}
		return lines.Text()
	}
	var base string
	for base == "" || !strings.Contains(lines.Text(), "waiting for a trigger subscription") {
		if u, ok := strings.CutPrefix(strings.TrimSpace(next()), "export SAIL_BASE_URL="); ok {
			base = u
		}
		if strings.Contains(lines.Text(), "created identity") {
			t.Fatal("an identity was created before any subscription")
		}
	}

	// The admin endpoint creates identities at once.
	resp, err := http.Post(base+"/isctest/identities?count=2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("admin create: %d", resp.StatusCode)
	}

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"inviter-client"}, "client_secret": {"inviter-secret"}}
	resp, err = http.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sub := `{"name":"tour","type":"HTTP","triggerId":"idn:identity-created","httpConfig":{"url":"http://127.0.0.1:1/hooks","httpDispatchMode":"SYNC"}}`
	req, _ := http.NewRequest(http.MethodPost, base+"/beta/trigger-subscriptions", strings.NewReader(sub))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	if l := next(); !strings.Contains(l, "a trigger subscription exists") {
		t.Fatalf("after subscribing: %q", l)
	}
	for range 2 {
		if l := next(); !strings.HasPrefix(l, "created identity ") {
			t.Fatalf("want a created identity, got %q", l)
		}
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-errc; err != nil {
		t.Fatalf("fake-tenant: %v", err)
	}
}
