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
	// A BOM, white space around the object, an id of exactly 128 bytes,
	// null members and control characters outside the id are accepted.
	for _, body := range []string{
		"\xef\xbb\xbf" + ok,
		"\xef\xbb\xbf \r\n" + ok + "\n\t ",
		`{"identity":{"id":"` + strings.Repeat("a", 128) + `","type":null,"name":null},"attributes":null}`,
		`{"identity":{"id":"x","name":"tab\there"},"attributes":{"note":"line\nbreak \u0001"}}`,
		`{"identity":{"id":"\u00e9t\u00e9 \ud83d\ude00"}}`,
	} {
		if _, err := ParseIdentityCreated([]byte(body)); err != nil {
			t.Errorf("ParseIdentityCreated(%q) = %v, want it accepted", body, err)
		}
	}
	for body, want := range map[string]string{
		``:                                   "empty body",
		`[]`:                                 "not a JSON object",
		`{"identity":{"name":"x"}}`:          "identity.id is missing",
		`{"identity":{"id":"  "}}`:           "identity.id is missing",
		`{"identity":{"id":"x","type":"A"}}`: "identity.type",
		`{"identity":{"id":1}}`:              "identity.id is a number, want a string",
		`{"identity":{"id":"x"}} {}`:         "trailing data",
		`{"identity":{"id":"x"}}]`:           "trailing data",
		`{"identity":{"id":"x"}}}`:           "trailing data",
		`{"identity":`:                       "malformed JSON",
		`{"IDENTITY":{"id":"x"}}`:            "identity.id is missing",
		`{"identity":{"ID":"x"}}`:            "identity.id is missing",
		`{"identity":{"id":"x","Type":"A","type":"B"}}`: "identity.type is \"B\"",
		`{"identity":"x"}`:                                             "identity is a string, want an object",
		`{"identity":{"id":"x"},"attributes":[1]}`:                     "attributes is a list, want an object",
		`{"identity":{"id":"x","name":{}}}`:                            "identity.name is an object",
		`{"identity":{"id":"` + strings.Repeat("a", 129) + `"}}`:       "identity.id is 129 bytes long, the limit is 128",
		`{"identity":{"id":"a\u0007b"}}`:                               "identity.id contains a control character",
		`{"identity":{"id":"a\tb"}}`:                                   "identity.id contains a control character",
		`{"identity":{"id":"a\u0085b"}}`:                               "identity.id contains a control character",
		`{"identity":{"id":"ab"},"attributes":{"x":["ok","a\u0000"]}}`: `attributes.x[1] contains \u0000`,
		`{"identity":{"id":"ab","name":"\u0000"}}`:                     `identity.name contains \u0000`,
		`{"identity":{"id":"ab"},"attributes":{"\u0000":1}}`:           `attributes key contains \u0000`,
		"{\"identity\":{\"id\":\"ab\",\"name\":\"\xff\"}}":             "not valid UTF-8 (at byte 31)",
		"\xef\xbb\xbf":               "empty body",
		"\xef\xbb\xbf\xef\xbb\xbf{}": "not a JSON object",
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
		`{"identity":{"id":"abc"}}`:                                                   "changes is missing",
		`{"identity":{"id":"abc"},"changes":[{"oldValue":1}]}`:                        "changes[0].attribute",
		`{"changes":[]}`:                                                              "identity.id",
		`{"identity":{"id":"abc"},"changes":{"attribute":"x"}}`:                       "changes is an object, want a list",
		`{"identity":{"id":"abc"},"changes":[1]}`:                                     "changes[0] is a number, want an object",
		`{"identity":{"id":"abc"},"changes":[{"Attribute":"x"}]}`:                     "changes[0].attribute is missing",
		`{"identity":{"id":"abc"},"changes":[{"attribute":"x"}]} x`:                   "trailing data",
		`{"identity":{"id":"abc"},"changes":[{"attribute":"x","newValue":"\u0000"}]}`: `changes[0].newValue contains \u0000`,
		`{"Identity":{"id":"abc"},"changes":[]}`:                                      "identity.id is missing",
	} {
		_, err := ParseIdentityAttributesChanged([]byte(body))
		if !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseIdentityAttributesChanged(%q) = %v, want %q", body, err, want)
		}
	}
}

func TestIsTest(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		// The OpenAPI documents' example (the trigger's exampleInput).
		`{"identity":{"type":"IDENTITY","id":"2c7180a46faadee4016fb4e018c20642","name":"Michael Michaels"},"attributes":{"firstname":"John"}}`: true,
		// The trigger page's example on developer.sailpoint.com.
		`{"identity":{"type":"IDENTITY","id":"2c91808568c529c60168cca6f90c1313","name":"William Wilson"},"attributes":{"firstname":"John"}}`:   true,
		`{"identity":{"id":"2c7180a46faadee4016fb4e018c20642","name":"Someone Else"}}`:                                                         true,
		`{"identity":{"type":"IDENTITY","id":"2c7180a46faadee4016fb4e018c20643","name":"Michael Michaels"},"attributes":{"firstname":"John"}}`: false,
		`{"identity":{"id":"2C7180A46FAADEE4016FB4E018C20642"}}`:                                                                               false,
	} {
		ev, err := ParseIdentityCreated([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.IsTest(); got != want {
			t.Errorf("IsTest(%s) = %v, want %v", body, got, want)
		}
	}
	ch, err := ParseIdentityAttributesChanged([]byte(`{"identity":{"type":"IDENTITY","id":"2c7180a46faadee4016fb4e018c20642","name":"Michael Michaels"},` +
		`"changes":[{"attribute":"department","oldValue":"sales","newValue":"marketing"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !ch.IsTest() {
		t.Errorf("the sample Identity Attributes Changed event is not a test")
	}
}
