package isctest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// patchOp is one JSON Patch (RFC 6902) operation. The fake applies add,
// replace and remove to objects; array elements, move and copy are
// refused.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// apply applies op to doc in place.
func (op patchOp) apply(doc map[string]any) error {
	if !strings.HasPrefix(op.Path, "/") {
		return fmt.Errorf("path %q is not a JSON pointer", op.Path)
	}
	keys := strings.Split(op.Path[1:], "/")
	for i, k := range keys {
		keys[i] = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
	}
	parent := doc
	for _, k := range keys[:len(keys)-1] {
		next, ok := parent[k].(map[string]any)
		if !ok {
			if op.Op != "add" || parent[k] != nil {
				return fmt.Errorf("path %q does not exist", op.Path)
			}
			next = map[string]any{}
			parent[k] = next
		}
		parent = next
	}
	last := keys[len(keys)-1]
	switch op.Op {
	case "add", "replace":
		if len(op.Value) == 0 {
			return fmt.Errorf("%s of %q needs a value", op.Op, op.Path)
		}
		if _, ok := parent[last]; op.Op == "replace" && !ok {
			return fmt.Errorf("path %q does not exist", op.Path)
		}
		var v any
		if err := json.Unmarshal(op.Value, &v); err != nil {
			return fmt.Errorf("bad value for %q: %v", op.Path, err)
		}
		parent[last] = v
	case "remove":
		if _, ok := parent[last]; !ok {
			return fmt.Errorf("path %q does not exist", op.Path)
		}
		delete(parent, last)
	default:
		return fmt.Errorf("operation %q is not supported", op.Op)
	}
	return nil
}
