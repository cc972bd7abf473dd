package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specsEnv names the directory that holds SailPoint's OpenAPI documents.
const specsEnv = "INVITER_ISC_SPECS"

// specFiles maps the first path segment of a request (the API version) to
// the document that describes it.
var specFiles = map[string]string{
	"beta":  "sailpoint-api.beta.yaml",
	"v2025": "sailpoint-api.v2025.yaml",
	"v3":    "sailpoint-api.v3.yaml",
}

// api is one loaded document with its router.
type api struct {
	version string // "beta", "v2025", "v3"
	doc     *openapi3.T
	router  routers.Router
}

// specs is the set of documents the suite checks against.
type specs struct {
	apis map[string]*api
}

// loadSpecs loads the documents from the directory named by
// INVITER_ISC_SPECS, or skips t (loudly) when the variable is unset.
//
// The published documents do not pass kin-openapi's own document
// validation (invalid examples, "type: date-time" in FormSubmitted, an
// undeclared path parameter in v3), so they are loaded but not validated
// as a whole; only the operations and schemas inviter uses are exercised.
func loadSpecs(t *testing.T) *specs {
	t.Helper()
	dir := os.Getenv(specsEnv)
	if dir == "" {
		msg := "CONTRACT SUITE DID NOT RUN: " + specsEnv + " is not set. " +
			"It must name the directory of SailPoint's OpenAPI documents (sailpoint-api.beta.yaml, .v2025.yaml, .v3.yaml); " +
			"run: " + specsEnv + "=../shared/specs/isc go test ./contract/"
		t.Log("**********************************************************************")
		t.Skip(msg)
	}
	s := &specs{apis: make(map[string]*api)}
	for version, file := range specFiles {
		path := filepath.Join(dir, file)
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			t.Fatalf("loading %s (from %s): %v", path, specsEnv, err)
		}
		// The documents' servers are https://{tenant}.api.identitynow.com/<version>;
		// the fake tenant listens on a loopback port, so match on the path
		// alone.
		doc.Servers = openapi3.Servers{{URL: "/" + version}}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			t.Fatalf("routing %s: %v", path, err)
		}
		s.apis[version] = &api{version: version, doc: doc, router: router}
	}
	return s
}

// findRoute returns the documented operation req calls.
func (s *specs) findRoute(req *http.Request) (*api, *routers.Route, map[string]string, error) {
	version, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	a, ok := s.apis[version]
	if !ok {
		return nil, nil, nil, fmt.Errorf("no document for API version %q (have %s)", version, strings.Join(slices.Sorted(keys(s.apis)), ", "))
	}
	route, params, err := a.router.FindRoute(req)
	if err != nil {
		return a, nil, nil, fmt.Errorf("%s %s is not in %s: %w", req.Method, req.URL.Path, specFiles[version], err)
	}
	return a, route, params, nil
}

// schema returns the component schema name of a document, failing t when
// it is absent.
func (s *specs) schema(t *testing.T, version, name string) *openapi3.Schema {
	t.Helper()
	ref := s.apis[version].doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("%s: no component schema %q", specFiles[version], name)
	}
	return ref.Value
}

// webhookSchema returns the request body schema of the event trigger
// documented as name under x-webhooks (SailPoint's 3.0 documents carry
// the trigger payloads there, as an extension, each referring to a
// component schema), failing t when it is absent.
func (s *specs) webhookSchema(t *testing.T, version, name string) *openapi3.Schema {
	t.Helper()
	raw, _ := json.Marshal(s.apis[version].doc.Extensions["x-webhooks"])
	var hooks map[string]struct {
		Post struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"post"`
	}
	_ = json.Unmarshal(raw, &hooks)
	ref := hooks[name].Post.RequestBody.Content["application/json"].Schema.Ref
	schema, ok := strings.CutPrefix(ref, "#/components/schemas/")
	if !ok {
		t.Fatalf("%s: x-webhooks has no %q whose POST body refers to a component schema", specFiles[version], name)
	}
	return s.schema(t, version, schema)
}

func keys[M ~map[K]V, K comparable, V any](m M) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// undocumented appends to out the JSON pointers of the object members of v
// that schema s does not declare. OpenAPI 3.0 lets objects carry extra
// members unless additionalProperties is false, and SailPoint's schemas
// rarely say so; the suite is stricter for what inviter and the fake send,
// so that a renamed field shows up as an undocumented one. Objects whose
// schema declares no properties, or allows additional ones explicitly, are
// free-form (attributes, input, contentJson).
func undocumented(s *openapi3.Schema, v any, at string, out *[]string) {
	if s == nil {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		props := make(map[string]*openapi3.Schema)
		open := collectProps(s, props)
		for _, k := range slices.Sorted(keys(v)) {
			p, ok := props[k]
			if !ok {
				if !open {
					*out = append(*out, at+"/"+k)
				}
				continue
			}
			undocumented(p, v[k], at+"/"+k, out)
		}
	case []any:
		items := itemsOf(s)
		for i, e := range v {
			undocumented(items, e, fmt.Sprintf("%s/%d", at, i), out)
		}
	}
}

// collectProps gathers the properties s declares, through allOf, oneOf and
// anyOf, and reports whether s is free-form.
func collectProps(s *openapi3.Schema, props map[string]*openapi3.Schema) (open bool) {
	declared := len(s.Properties) > 0
	for name, p := range s.Properties {
		if p != nil && p.Value != nil {
			props[name] = p.Value
		}
	}
	if ap := s.AdditionalProperties; (ap.Has != nil && *ap.Has) || ap.Schema != nil {
		open = true
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, sub := range group {
			if sub == nil || sub.Value == nil {
				continue
			}
			if len(sub.Value.Properties) > 0 {
				declared = true
			}
			if collectProps(sub.Value, props) {
				open = true
			}
		}
	}
	return open || !declared
}

func itemsOf(s *openapi3.Schema) *openapi3.Schema {
	if s.Items != nil && s.Items.Value != nil {
		return s.Items.Value
	}
	for _, sub := range s.AllOf {
		if sub != nil && sub.Value != nil {
			if it := itemsOf(sub.Value); it != nil {
				return it
			}
		}
	}
	return nil
}

// example builds the spec's own example of s: the schema's example when
// it has one, otherwise an object or array assembled from the examples of
// its properties or items (SailPoint documents trigger payloads that way).
func example(s *openapi3.Schema) any {
	if s == nil {
		return nil
	}
	if s.Example != nil {
		return s.Example
	}
	switch {
	case len(s.Properties) > 0:
		m := make(map[string]any)
		for name, p := range s.Properties {
			if p == nil {
				continue
			}
			if ex := example(p.Value); ex != nil {
				m[name] = ex
			}
		}
		return m
	case s.Items != nil:
		if ex := example(s.Items.Value); ex != nil {
			return []any{ex}
		}
	case len(s.OneOf) > 0:
		return example(s.OneOf[0].Value)
	case len(s.AllOf) > 0:
		return example(s.AllOf[0].Value)
	}
	return nil
}
