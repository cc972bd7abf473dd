package isctest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNewTenantOwnListener(t *testing.T) {
	t.Parallel()
	s := NewTenant(Options{Users: 20})
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	s.SetURL(hs.URL + "/")
	if s.URL() != hs.URL {
		t.Fatalf("URL() = %q", s.URL())
	}
	b := &bundle{srv: s}
	b.token = b.fetchToken(t)
	resp, body := b.get(t, "/cc/api/user/list?limit=5")
	wantStatus(t, resp, body, http.StatusOK)
	var p ccPage
	mustJSON(t, body, &p)
	if p.Total != 20 || len(p.Items) != 5 || s.ClientID() != "inviter-client" || s.ClientSecret() != "inviter-secret" {
		t.Fatalf("total %d, %d items, client %q/%q", p.Total, len(p.Items), s.ClientID(), s.ClientSecret())
	}
	// Pre-existing identities were created 30 days before now.
	if age := s.now().Sub(s.Identities()[0].Created); age.Hours() < 30*24-1 {
		t.Fatalf("created %v ago", age)
	}
}

func TestDeliveryAfterClose(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	rcv := newReceiver(t, http.StatusOK)
	subscribe(t, b, map[string]any{
		"name": "a", "triggerId": "idn:identity-created", "type": "HTTP",
		"httpConfig": map[string]any{"url": rcv.URL, "httpDispatchMode": "SYNC"},
	})
	b.srv.Close()
	b.srv.CreateIdentity(NewIdentity{})
	d := b.srv.Deliveries()
	if len(d) != 1 || d[0].Err == nil || d[0].Status != 0 {
		t.Fatalf("deliveries after Close: %+v", d)
	}
}
