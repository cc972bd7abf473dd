package isc

import (
	"encoding/json"
	"testing"
)

func TestIdentityEmailFallsBackToTheEmailAttribute(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body, want string
	}{
		{`{"id":"a","emailAddress":"work@example.com","attributes":{"email":"other@example.com"}}`, "work@example.com"},
		{`{"id":"a","emailAddress":null,"attributes":{"email":"attr@example.com"}}`, "attr@example.com"},
		{`{"id":"a","attributes":{"email":"attr@example.com"}}`, "attr@example.com"},
		{`{"id":"a","emailAddress":null,"attributes":{"email":null}}`, ""},
		{`{"id":"a"}`, ""},
	} {
		var d identityDTO
		if err := json.Unmarshal([]byte(tt.body), &d); err != nil {
			t.Fatal(err)
		}
		if got := d.identity().Email; got != tt.want {
			t.Errorf("%s: email %q, want %q", tt.body, got, tt.want)
		}
	}
}
