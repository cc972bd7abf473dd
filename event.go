package inviter

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IdentityRef is the identity reference an ISC event trigger carries.
type IdentityRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// IdentityCreated is the payload of ISC's Identity Created event trigger
// (idn:identity-created). Attribute keys depend on the tenant's identity
// profile and values may be of any JSON type.
type IdentityCreated struct {
	Identity   IdentityRef    `json:"identity"`
	Attributes map[string]any `json:"attributes"`
}

// Test events.
//
// ISC's "Test subscription" button in the admin console, and
// POST /beta/trigger-invocations/test without an input, send the trigger's
// sample payload: "if not provided, the example input specified in trigger
// definition is used instead" (SailPoint's event trigger guide,
// https://api.sailpoint.com/ets/using_event_triggers/configure_trigger_invocation),
// and the TestInvocation schema of the beta API: "If this property is
// omitted, then the default trigger sample payload will be sent". The
// identity of that payload does not exist in the tenant.
//
// SailPoint publishes two sample identities for these triggers:
//   - 2c7180a46faadee4016fb4e018c20642, "Michael Michaels": the example of
//     the IdentityCreated and IdentityAttributesChanged schemas in the
//     OpenAPI documents (sailpoint-api.beta.yaml, v2025), which also
//     describe a trigger's exampleInput;
//   - 2c91808568c529c60168cca6f90c1313, "William Wilson": the example input
//     of the Identity Created trigger's page on developer.sailpoint.com
//     (/docs/extensibility/event-triggers/triggers/identity-created).
//
// Inferred: which of the two a tenant sends is not documented, so either id
// marks a test event candidate, whatever the name and attributes. Both ids
// are used as examples all over SailPoint's documents, so a tenant may hold
// a real identity with one of them: the id alone never decides. A delivery
// whose event IsTest is acknowledged and recorded as a test delivery, and
// then the identity is looked up in ISC: only when ISC does not know it is
// it a test event; when ISC knows it, it is a real joiner and is invited as
// any other. A test invocation with an input of the caller's choosing is
// not recognised.
var testIdentityIDs = [...]string{
	"2c7180a46faadee4016fb4e018c20642",
	"2c91808568c529c60168cca6f90c1313",
}

// IsTestIdentityID reports whether id is the identity id of one of ISC's
// published sample payloads, which ISC sends for a test invocation of a
// trigger (see the Test events comment above testIdentityIDs).
func IsTestIdentityID(id string) bool {
	return slices.Contains(testIdentityIDs[:], id)
}

// IsTest reports whether ev carries the identity of ISC's test event (the
// trigger's sample payload, sent by the console's "Test subscription"
// button or POST /beta/trigger-invocations/test), whose identity does not
// exist in the tenant. It is a candidate only: the intake confirms with ISC
// that the identity does not exist before treating the delivery as a test
// (see the Test events comment above testIdentityIDs).
func (ev IdentityCreated) IsTest() bool { return IsTestIdentityID(ev.Identity.ID) }

// IsTest reports whether ev is ISC's test event for the Identity Attributes
// Changed trigger; see IdentityCreated.IsTest.
func (ev IdentityAttributesChanged) IsTest() bool { return IsTestIdentityID(ev.Identity.ID) }

// ErrInvalidEvent is wrapped by every error ParseIdentityCreated and
// ParseIdentityAttributesChanged return for a payload that is not a valid
// event (as opposed to a read error).
var ErrInvalidEvent = errors.New("invalid event")

// MaxIdentityIDLen is the longest identity id an event may carry, in bytes.
// ISC's ids are 32 hexadecimal digits; the bound leaves room for any other
// id format while keeping a hostile one out of the database and the logs.
const MaxIdentityIDLen = 128

// ParseIdentityCreated decodes and validates an Identity Created payload.
//
// The body must be one JSON object in UTF-8 (a leading byte order mark is
// ignored), with nothing after it but white space, and no \u0000 anywhere
// (neither PostgreSQL's text nor its jsonb can hold a NUL, so such a payload
// could not be stored the same way on both backends). Keys are matched
// exactly: "IDENTITY" is not "identity"; a key twice in one object is
// refused as ambiguous. Unknown fields are allowed
// anywhere. The identity id is required: a string of at most
// MaxIdentityIDLen bytes without control characters. The identity type,
// when present, must be IDENTITY; attributes, when present, an object. The
// error, when not nil, wraps ErrInvalidEvent and reads as a one-line reason
// fit for a client.
func ParseIdentityCreated(body []byte) (IdentityCreated, error) {
	top, err := decodeObject(body)
	if err != nil {
		return IdentityCreated{}, err
	}
	ref, err := identityRef(top)
	if err != nil {
		return IdentityCreated{}, err
	}
	ev := IdentityCreated{Identity: ref}
	switch a := top["attributes"].(type) {
	case nil:
	case map[string]any:
		ev.Attributes = a
	default:
		return IdentityCreated{}, fmt.Errorf("%w: attributes is %s, want an object", ErrInvalidEvent, jsonKind(a))
	}
	return ev, nil
}

// identityRef reads and validates the "identity" member of an event.
func identityRef(top map[string]any) (IdentityRef, error) {
	var r IdentityRef
	switch v := top["identity"].(type) {
	case nil:
		return r, fmt.Errorf("%w: identity.id is missing", ErrInvalidEvent)
	case map[string]any:
		var err error
		if r.ID, err = stringField(v, "id", "identity.id"); err != nil {
			return r, err
		}
		if r.Type, err = stringField(v, "type", "identity.type"); err != nil {
			return r, err
		}
		if r.Name, err = stringField(v, "name", "identity.name"); err != nil {
			return r, err
		}
	default:
		return r, fmt.Errorf("%w: identity is %s, want an object", ErrInvalidEvent, jsonKind(v))
	}
	return r, r.validate()
}

// stringField returns obj[key] when it is a string, "" when it is missing or
// null, and an error naming the field (as path) otherwise.
func stringField(obj map[string]any, key, path string) (string, error) {
	switch v := obj[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("%w: %s is %s, want a string", ErrInvalidEvent, path, jsonKind(v))
	}
}

// jsonKind names the JSON type of a decoded value, for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (r IdentityRef) validate() error {
	switch {
	case strings.TrimSpace(r.ID) == "":
		return fmt.Errorf("%w: identity.id is missing", ErrInvalidEvent)
	case len(r.ID) > MaxIdentityIDLen:
		return fmt.Errorf("%w: identity.id is %d bytes long, the limit is %d", ErrInvalidEvent, len(r.ID), MaxIdentityIDLen)
	case strings.IndexFunc(r.ID, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: identity.id contains a control character", ErrInvalidEvent)
	case r.Type != "" && r.Type != "IDENTITY":
		return fmt.Errorf("%w: identity.type is %q, want IDENTITY", ErrInvalidEvent, r.Type)
	}
	return nil
}

// utf8BOM is the UTF-8 encoding of U+FEFF, the byte order mark some senders
// put before a JSON text.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// TrimBOM returns body without a leading UTF-8 byte order mark. RFC 8259
// (section 8.1) lets a parser ignore one; it carries no information, so the
// payload stored is body without it.
func TrimBOM(body []byte) []byte {
	return bytes.TrimPrefix(body, utf8BOM)
}

// decodeObject decodes body, which must be one JSON object, rejecting
// anything else: an empty body, another JSON value, trailing data, invalid
// UTF-8 and \u0000 in any string or key. A leading BOM is ignored.
func decodeObject(body []byte) (map[string]any, error) {
	body = TrimBOM(body)
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrInvalidEvent)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrInvalidEvent)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: body is not valid UTF-8 (at byte %d)", ErrInvalidEvent, invalidUTF8At(body))
	}
	var top map[string]any
	if err := json.Unmarshal(trimmed, &top); err != nil {
		if se, ok := errors.AsType[*json.SyntaxError](err); ok && strings.Contains(se.Error(), "after top-level value") {
			return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidEvent)
		}
		return nil, fmt.Errorf("%w: malformed JSON: %s", ErrInvalidEvent, err)
	}
	if path, ok := findNUL(top, ""); ok {
		return nil, fmt.Errorf("%w: %s contains \\u0000 (NUL), which cannot be stored", ErrInvalidEvent, path)
	}
	if path, ok := duplicateKey(trimmed); ok {
		return nil, fmt.Errorf("%w: duplicate key %s (a key may appear once in an object)", ErrInvalidEvent, path)
	}
	return top, nil
}

// duplicateKey reports the path of the first key that appears twice in one
// object of body (keys compared as decoded, exactly), if any. body must be
// valid JSON. Such a payload is ambiguous: encoding/json keeps the last
// value, other readers the first.
//
// It reads body once, byte by byte, decoding only the keys (json.Unmarshal
// has decoded the values already): a scan of json.Decoder's tokens cost
// more than the decoding itself.
func duplicateKey(body []byte) (string, bool) {
	var (
		stack   []keyFrame // the open objects and lists, outermost first
		wantKey bool       // the next string is an object's key
	)
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			end := stringEnd(body, i)
			if wantKey {
				f := &stack[len(stack)-1]
				k := decodeKey(body[i : end+1])
				if _, dup := f.seen[k]; dup {
					return keyPath(stack, k), true
				}
				f.seen[k], f.key, wantKey = struct{}{}, k, false
			}
			i = end
		case '{':
			stack = append(stack, keyFrame{seen: map[string]struct{}{}})
			wantKey = true
		case '[':
			stack = append(stack, keyFrame{})
		case '}', ']':
			stack = stack[:len(stack)-1]
			wantKey = false
		case ',':
			if f := &stack[len(stack)-1]; f.seen != nil {
				wantKey = true
			} else {
				f.n++
			}
		}
	}
	return "", false
}

// keyFrame is an open object (seen is not nil: its keys so far, key the
// current member's) or list (n is the current element) of duplicateKey's
// scan.
type keyFrame struct {
	seen map[string]struct{}
	key  string
	n    int
}

// keyPath is the path of key k in the innermost container of stack:
// "a.b[2].k", each outer container naming its current member.
func keyPath(stack []keyFrame, k string) string {
	var b strings.Builder
	for _, f := range stack[:len(stack)-1] {
		switch {
		case f.seen == nil:
			fmt.Fprintf(&b, "[%d]", f.n)
		case b.Len() > 0:
			b.WriteString("." + f.key)
		default:
			b.WriteString(f.key)
		}
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(k)
	return b.String()
}

// stringEnd returns the index of the quote that ends the JSON string
// starting at body[start] (a quote); body is valid JSON.
func stringEnd(body []byte, start int) int {
	for j := start + 1; j < len(body); j++ {
		switch body[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(body) - 1
}

// decodeKey returns the JSON string raw (quotes included) as decoded
// (invalid UTF-8 as U+FFFD, as encoding/json does).
func decodeKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var k string
	_ = json.Unmarshal(raw, &k) // valid JSON: cannot fail
	return k
}

// invalidUTF8At returns the offset of the first invalid UTF-8 sequence in b.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// findNUL reports the path of the first string or key of v that contains
// U+0000, if any. Objects are searched in key order, so the answer is
// stable.
func findNUL(v any, path string) (string, bool) {
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return path, true
		}
	case []any:
		for i, e := range v {
			if p, ok := findNUL(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if strings.IndexByte(k, 0) >= 0 {
				return cmp.Or(path, "the object") + " key", true
			}
			if p, ok := findNUL(v[k], p); ok {
				return p, true
			}
		}
	}
	return "", false
}

// AttributeChange is one changed attribute of an Identity Attributes
// Changed event. Values may be of any JSON type, or null.
type AttributeChange struct {
	Attribute string `json:"attribute"`
	OldValue  any    `json:"oldValue"`
	NewValue  any    `json:"newValue"`
}

// IdentityAttributesChanged is the payload of ISC's Identity Attributes
// Changed event trigger (idn:identity-attributes-changed).
type IdentityAttributesChanged struct {
	Identity IdentityRef       `json:"identity"`
	Changes  []AttributeChange `json:"changes"`
}

// ParseIdentityAttributesChanged decodes and validates an Identity
// Attributes Changed payload, with the same rules for the body and the
// identity as ParseIdentityCreated; changes must be a list whose entries
// are objects that name their attribute. Unknown fields are allowed. Errors
// wrap ErrInvalidEvent and read as a one-line reason.
func ParseIdentityAttributesChanged(body []byte) (IdentityAttributesChanged, error) {
	top, err := decodeObject(body)
	if err != nil {
		return IdentityAttributesChanged{}, err
	}
	ref, err := identityRef(top)
	if err != nil {
		return IdentityAttributesChanged{}, err
	}
	ev := IdentityAttributesChanged{Identity: ref}
	switch list := top["changes"].(type) {
	case nil:
		return IdentityAttributesChanged{}, fmt.Errorf("%w: changes is missing", ErrInvalidEvent)
	case []any:
		ev.Changes = make([]AttributeChange, 0, len(list))
		for i, e := range list {
			obj, ok := e.(map[string]any)
			if !ok {
				return IdentityAttributesChanged{}, fmt.Errorf("%w: changes[%d] is %s, want an object", ErrInvalidEvent, i, jsonKind(e))
			}
			name, err := stringField(obj, "attribute", fmt.Sprintf("changes[%d].attribute", i))
			if err != nil {
				return IdentityAttributesChanged{}, err
			}
			if strings.TrimSpace(name) == "" {
				return IdentityAttributesChanged{}, fmt.Errorf("%w: changes[%d].attribute is missing", ErrInvalidEvent, i)
			}
			ev.Changes = append(ev.Changes, AttributeChange{Attribute: name, OldValue: obj["oldValue"], NewValue: obj["newValue"]})
		}
	default:
		return IdentityAttributesChanged{}, fmt.Errorf("%w: changes is %s, want a list", ErrInvalidEvent, jsonKind(list))
	}
	return ev, nil
}
