package inviter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// tokenDuplicateKey is duplicateKey written over json.Decoder's tokens:
// slower, and plainly right, it is the reference FuzzDuplicateKey holds
// duplicateKey to.
func tokenDuplicateKey(body []byte) (string, bool) {
	type frame struct {
		seen    map[string]bool // nil for a list
		path    string
		key     string // the current member's key (objects)
		n       int    // the current element's index (lists)
		wantKey bool
	}
	var stack []*frame
	join := func(path, key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	childPath := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.seen != nil {
			return join(f.path, f.key)
		}
		return fmt.Sprintf("%s[%d]", f.path, f.n)
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if f := stack[len(stack)-1]; f.seen != nil {
			f.wantKey = true
		} else {
			f.n++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // the end (a syntax error is decodeObject's to report)
		}
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.seen != nil && f.wantKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					valueDone()
					continue
				}
				k, _ := tok.(string)
				if f.seen[k] {
					return join(f.path, k), true
				}
				f.seen[k], f.key, f.wantKey = true, k, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{seen: map[string]bool{}, path: childPath(), wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{path: childPath()})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// FuzzDuplicateKey: on any valid JSON, duplicateKey finds the duplicate
// key tokenDuplicateKey finds, at the same path, or none when it finds none.
func FuzzDuplicateKey(f *testing.F) {
	for _, seed := range []string{
		`{"identity":{"id":"a","id":"b"}}`,
		`{"a":1,"a":2}`,
		`{"a":{"b":[{"c":1},{"c":2,"c":3}]}}`,
		`{"":1,"":2}`,
		`{"":{"x":1,"x":2}}`,
		`{"k\"q":1,"k\u0022q":2}`,
		`{"a":"x,{\"b\":1,\"b\":2}","b":[1,[2,{"z":1,"z":2}]]}`,
		`{"l":[[],[{}],[{"a":1}],{"a":1,"b":{"a":1}}],"a":null}`,
		`{"identity":{"id":"2c9180835d2e5168015d32f890ca1581"},"attributes":{"email":"a@b.c","m":[1,2,{"q":true}]}}`,
		` { "a" : [ 1 , { "b" : 1 , "b" : 2 } ] } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		got, gotOK := duplicateKey(body)
		want, wantOK := tokenDuplicateKey(body)
		if got != want || gotOK != wantOK {
			t.Fatalf("%q: duplicateKey = %q, %v; the token scan says %q, %v", body, got, gotOK, want, wantOK)
		}
	})
}

// TestDuplicateKeyAsTokenScan runs FuzzDuplicateKey's seeds and some
// made-up bodies through both scans.
func TestDuplicateKeyAsTokenScan(t *testing.T) {
	t.Parallel()
	for i := range 200 {
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"a%d":1,"l":[`, i%7)
		for j := range i % 5 {
			fmt.Fprintf(&b, `{"k%d":%d,"k%d":"v,\"}"},`, j, j, (j*i)%3)
		}
		fmt.Fprintf(&b, `[]],"a%d":{"x":[%d]}}`, i%3, i)
		body := b.Bytes()
		if !json.Valid(body) {
			t.Fatalf("made-up body is not JSON: %s", body)
		}
		got, gotOK := duplicateKey(body)
		want, wantOK := tokenDuplicateKey(body)
		if got != want || gotOK != wantOK {
			t.Fatalf("%s: duplicateKey = %q, %v; the token scan says %q, %v", body, got, gotOK, want, wantOK)
		}
	}
}
