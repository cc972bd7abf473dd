package isctest

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestServeUntilTheContextEnds(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTenant(Options{})
	defer s.Close()
	s.SetURL("http://" + ln.Addr().String())
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}}
	resp, err := http.PostForm(s.URL()+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("token: %d", resp.StatusCode)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := http.PostForm(s.URL()+"/oauth/token", form); err == nil {
		t.Error("the tenant still answers after Serve returned")
	}
}

func TestCheckStatuses(t *testing.T) {
	t.Parallel()
	if err := CheckStatuses([]string{"LOCKED", "PENDING"}); err != nil {
		t.Error(err)
	}
	if err := CheckStatuses([]string{"LOCKED", "ASLEEP"}); err == nil || !strings.Contains(err.Error(), `"ASLEEP"`) {
		t.Errorf("ASLEEP: %v, want an error naming it", err)
	}
}
