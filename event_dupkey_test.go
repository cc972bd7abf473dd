package inviter

import (
	"errors"
	"strings"
	"testing"
)

// TestParseRefusesDuplicateKeys: a payload with a key twice in one object
// is ambiguous (encoding/json keeps the last, another reader the first),
// so it is refused naming the key's path, on both event types; the same
// key in different objects is fine.
func TestParseRefusesDuplicateKeys(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		`{"identity":{"id":"aaaabbbbccccdddd0000111122223335","id":"zzz","name":"X"}}`:        "duplicate key identity.id",
		`{"identity":{"id":"a"},"identity":{"id":"b"}}`:                                       "duplicate key identity",
		`{"identity":{"id":"a","name":"x"},"attributes":{"k":1,"m":[{"a":1,"a":2}]}}`:         "duplicate key attributes.m[0].a",
		`{"identity":{"id":"a","\u0069d":"b"}}`:                                               "duplicate key identity.id",
		`{"identity":{"id":"a"},"changes":[{"attribute":"x"}],"changes":[{"attribute":"y"}]}`: "duplicate key changes",
	}
	for body, want := range bad {
		_, err1 := ParseIdentityCreated([]byte(body))
		_, err2 := ParseIdentityAttributesChanged([]byte(body))
		for _, err := range []error{err1, err2} {
			if err == nil || !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want an invalid event naming %q", body, err, want)
			}
		}
	}
	good := `{"identity":{"id":"a","name":"x"},"attributes":{"id":"a","name":"y","m":[{"a":1},{"a":2}],"e":{},"l":[]},"changes":[{"attribute":"id"},{"attribute":"id"}]}`
	if _, err := ParseIdentityCreated([]byte(good)); err != nil {
		t.Errorf("same keys in different objects: %v", err)
	}
	if _, err := ParseIdentityAttributesChanged([]byte(good)); err != nil {
		t.Errorf("same keys in different objects (attributes changed): %v", err)
	}
}
