package inviter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseIdentityCreated(t *testing.T) {
	t.Parallel()
	ok := `{"identity":{"type":"IDENTITY","id":"2c91808568c529c60168cca6f90c1313","name":"William Wilson"},
		"attributes":{"firstname":"John","count":3,"active":true,"tags":["a",1],"mgr":{"id":"x"},"none":null},"extra":{"x":1}}`
	ev, err := ParseIdentityCreated([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Identity.ID != "2c91808568c529c60168cca6f90c1313" || ev.Attributes["firstname"] != "John" || ev.Attributes["count"] != 3.0 {
		t.Errorf("parsed %+v", ev)
	}
	for body, want := range map[string]string{
		``:                                   "empty body",
		`[]`:                                 "not a JSON object",
		`{"identity":{"name":"x"}}`:          "identity.id is missing",
		`{"identity":{"id":"  "}}`:           "identity.id is missing",
		`{"identity":{"id":"x","type":"A"}}`: "identity.type",
		`{"identity":{"id":1}}`:              "malformed JSON",
		`{"identity":{"id":"x"}} {}`:         "trailing data",
		`{"identity":`:                       "malformed JSON",
	} {
		_, err := ParseIdentityCreated([]byte(body))
		if !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseIdentityCreated(%q) = %v, want an ErrInvalidEvent saying %q", body, err, want)
		}
	}
}

func TestParseIdentityAttributesChanged(t *testing.T) {
	t.Parallel()
	ev, err := ParseIdentityAttributesChanged([]byte(`{"identity":{"type":"IDENTITY","id":"abc","name":"A"},
		"changes":[{"attribute":"cloudLifecycleState","oldValue":"prehire","newValue":"active"},{"attribute":"x","oldValue":null,"newValue":[1]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Changes) != 2 || ev.Changes[0].NewValue != "active" {
		t.Errorf("parsed %+v", ev)
	}
	for body, want := range map[string]string{
		`{"identity":{"id":"abc"}}`:                             "changes is missing",
		`{"identity":{"id":"abc"},"changes":[{"oldValue":1}]}`:  "changes[0].attribute",
		`{"changes":[]}`:                                        "identity.id",
		`{"identity":{"id":"abc"},"changes":{"attribute":"x"}}`: "malformed JSON",
	} {
		_, err := ParseIdentityAttributesChanged([]byte(body))
		if !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseIdentityAttributesChanged(%q) = %v, want %q", body, err, want)
		}
	}
}
