package inviter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// ErrInvalidEvent is wrapped by every error ParseIdentityCreated returns for
// a payload that is not a valid event (as opposed to a read error).
var ErrInvalidEvent = errors.New("invalid event")

// ParseIdentityCreated decodes and validates an Identity Created payload.
// Unknown fields are allowed anywhere. The identity id is required, and the
// identity type, when present, must be IDENTITY. The error, when not nil,
// wraps ErrInvalidEvent and reads as a one-line reason fit for a client.
func ParseIdentityCreated(body []byte) (IdentityCreated, error) {
	var ev IdentityCreated
	if err := decodeObject(body, &ev); err != nil {
		return IdentityCreated{}, err
	}
	if err := ev.Identity.validate(); err != nil {
		return IdentityCreated{}, err
	}
	return ev, nil
}

func (r IdentityRef) validate() error {
	if strings.TrimSpace(r.ID) == "" {
		return fmt.Errorf("%w: identity.id is missing", ErrInvalidEvent)
	}
	if r.Type != "" && r.Type != "IDENTITY" {
		return fmt.Errorf("%w: identity.type is %q, want IDENTITY", ErrInvalidEvent, r.Type)
	}
	return nil
}

// decodeObject decodes one JSON object from body into v, rejecting anything
// else (empty body, arrays, trailing data).
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fmt.Errorf("%w: empty body", ErrInvalidEvent)
	}
	if trimmed[0] != '{' {
		return fmt.Errorf("%w: body is not a JSON object", ErrInvalidEvent)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: malformed JSON: %s", ErrInvalidEvent, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidEvent)
	}
	return nil
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
// Attributes Changed payload: the identity id is required, the identity
// type when present must be IDENTITY, and changes must be a list whose
// entries name their attribute. Unknown fields are allowed. Errors wrap
// ErrInvalidEvent and read as a one-line reason.
func ParseIdentityAttributesChanged(body []byte) (IdentityAttributesChanged, error) {
	var raw struct {
		Identity IdentityRef        `json:"identity"`
		Changes  *[]AttributeChange `json:"changes"`
	}
	if err := decodeObject(body, &raw); err != nil {
		return IdentityAttributesChanged{}, err
	}
	if err := raw.Identity.validate(); err != nil {
		return IdentityAttributesChanged{}, err
	}
	if raw.Changes == nil {
		return IdentityAttributesChanged{}, fmt.Errorf("%w: changes is missing", ErrInvalidEvent)
	}
	for i, c := range *raw.Changes {
		if strings.TrimSpace(c.Attribute) == "" {
			return IdentityAttributesChanged{}, fmt.Errorf("%w: changes[%d].attribute is missing", ErrInvalidEvent, i)
		}
	}
	return IdentityAttributesChanged{Identity: raw.Identity, Changes: *raw.Changes}, nil
}
