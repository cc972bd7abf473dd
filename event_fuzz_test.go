package inviter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// eventSeeds are payloads for the event parsers' fuzz targets: ISC's
// examples and the odd inputs the intake has to refuse or accept.
var eventSeeds = []string{
	`{"identity":{"type":"IDENTITY","id":"2c7180a46faadee4016fb4e018c20642","name":"Michael Michaels"},"attributes":{"firstname":"John"}}`,
	`{"identity":{"type":"IDENTITY","id":"2c9180835d2e5168015d32f890ca1581","name":"Wanda Joiner"},"attributes":{"email":"w@example.com","startDate":"2026-04-01","n":3,"tags":["a",1,null],"m":{"id":"x"}}}`,
	`{"identity":{"type":"IDENTITY","id":"abc","name":"A"},"changes":[{"attribute":"cloudLifecycleState","oldValue":"prehire","newValue":"active"}]}`,
	"\xef\xbb\xbf{\"identity\":{\"id\":\"x\"},\"changes\":[]}",
	`{"identity":{"id":"x"}}]`, `{"IDENTITY":{"ID":"x"}}`, `{"identity":{"id":"a\u0000"}}`,
	"{\"identity\":{\"id\":\"\xff\"}}", `{"identity":{"id":"a\nb"}}`, `[]`, ``, `{`, `null`,
	`{"identity":{"id":"x","type":"ROLE"}}`, `{"identity":{"id":"x"},"changes":[{"attribute":""}]}`,
}

// checkParsed asserts what every accepted event satisfies, whatever body.
func checkParsed(t *testing.T, body []byte, ref IdentityRef) {
	t.Helper()
	switch {
	case !utf8.Valid(body):
		t.Fatalf("accepted a body that is not UTF-8: %q", body)
	case strings.TrimSpace(ref.ID) == "" || len(ref.ID) > MaxIdentityIDLen || strings.IndexFunc(ref.ID, unicode.IsControl) >= 0:
		t.Fatalf("accepted identity id %q", ref.ID)
	case ref.Type != "" && ref.Type != "IDENTITY":
		t.Fatalf("accepted identity type %q", ref.Type)
	case strings.ContainsRune(ref.ID+ref.Name, 0):
		t.Fatalf("accepted a NUL in %+v", ref)
	}
	// One JSON object and nothing else: the standard decoder agrees.
	var v map[string]json.RawMessage
	if err := json.Unmarshal(TrimBOM(body), &v); err != nil {
		t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
	}
}

// checkRefused asserts what every refusal satisfies.
func checkRefused(t *testing.T, body []byte, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("error %v for %q does not wrap ErrInvalidEvent", err, body)
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("error %q is not one line", err)
	}
}

// FuzzParseIdentityCreated checks that ParseIdentityCreated never panics,
// refuses with an ErrInvalidEvent, and accepts only what the intake can
// store the same way on both backends; an accepted event, encoded again,
// parses to the same identity.
func FuzzParseIdentityCreated(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseIdentityCreated(body)
		if err != nil {
			checkRefused(t, body, err)
			return
		}
		checkParsed(t, body, ev.Identity)
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("encoding %+v: %v", ev, err)
		}
		ev2, err := ParseIdentityCreated(again)
		if err != nil || ev2.Identity != ev.Identity || ev2.IsTest() != ev.IsTest() {
			t.Fatalf("%q parses to %+v, encoded %s, which parses to %+v, %v", body, ev.Identity, again, ev2.Identity, err)
		}
	})
}

// FuzzParseIdentityAttributesChanged is FuzzParseIdentityCreated for the
// Identity Attributes Changed event: every accepted change names its
// attribute.
func FuzzParseIdentityAttributesChanged(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseIdentityAttributesChanged(body)
		if err != nil {
			checkRefused(t, body, err)
			return
		}
		checkParsed(t, body, ev.Identity)
		if ev.Changes == nil {
			t.Fatalf("accepted %q without changes", body)
		}
		for i, c := range ev.Changes {
			if strings.TrimSpace(c.Attribute) == "" {
				t.Fatalf("accepted changes[%d] without an attribute: %q", i, body)
			}
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("encoding %+v: %v", ev, err)
		}
		ev2, err := ParseIdentityAttributesChanged(again)
		if err != nil || ev2.Identity != ev.Identity || len(ev2.Changes) != len(ev.Changes) {
			t.Fatalf("%q parses to %+v, encoded %s, which parses to %+v, %v", body, ev, again, ev2, err)
		}
		if !bytes.Equal(again, mustMarshal(t, ev2)) {
			t.Fatalf("encoding is not stable: %s vs %s", again, mustMarshal(t, ev2))
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
