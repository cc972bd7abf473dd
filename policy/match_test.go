package policy

import (
	"encoding/json"
	"fmt"
	"testing"
)

// attrsOf decodes a JSON object the way an event's attributes are decoded.
func attrsOf(t testing.TB, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return m
}

// TestOperatorsByJSONType runs each operator against attributes of each
// JSON type, decoded as encoding/json decodes event payloads.
func TestOperatorsByJSONType(t *testing.T) {
	t.Parallel()
	const attrs = `{
		"s": "Active", "empty": "", "num": 7, "frac": 1.5, "big": 1751270400000,
		"yes": true, "no": false, "null": null,
		"arr": ["Sales", 7, true, null], "emptyArr": [], "nullArr": [null, ""],
		"nested": [["deep"]], "obj": {"b": 2, "a": "x"}, "emptyObj": {}
	}`
	tests := []struct {
		rule string
		want bool
	}{
		// string
		{"s = active", true},
		{"s = ACTIVE", true},
		{"s = Activ", false},
		{"s != active", false},
		{"s != inactive", true},
		{"s in (prehire, active)", true},
		{"s in (prehire, inactive)", false},
		{"s not in (prehire, active)", false},
		{"s not in (prehire)", true},
		{"s present", true},
		{"s absent", false},
		{"s ~ ^act", true},
		{"s ~ (?-i)^act", false},
		{"s ~ tiv", true}, // not anchored
		{"s ~ ^tiv$", false},
		{"s !~ ^act", false},
		{"s !~ ^pre", true},
		// empty string
		{`empty = ""`, true},
		{`empty = x`, false},
		{`empty present`, false},
		{`empty absent`, true},
		{`empty ~ ^$`, true},
		// number
		{"num = 7", true},
		{"num = 7.0", true},
		{"num = 7e0", true},
		{"num = 07", true},
		{"num = 8", false},
		{"num = seven", false},
		{"num != 7", false},
		{"num != 8", true},
		{"num in (1, 7)", true},
		{"num in (1, 2)", false},
		{"num not in (1, 7)", false},
		{"num present", true},
		{"num absent", false},
		{"num ~ ^7$", true},
		{"frac = 1.5", true},
		{"frac ~ ^1\\.5$", true},
		{"big = 1751270400000", true},
		{"big ~ ^1751270400000$", true}, // JSON text, not 1.7512704e+12
		// boolean
		{"yes = true", true},
		{"yes = TRUE", true},
		{"yes = false", false},
		{"yes = 1", false},
		{"no = false", true},
		{"no != true", true},
		{"yes in (true)", true},
		{"no not in (true)", true},
		{"no present", true}, // false is a value
		{"no absent", false},
		{"yes ~ ^true$", true},
		{"no !~ true", true},
		// null
		{"null = x", false},
		{`null = ""`, false},
		{"null = null", false}, // null equals nothing, not the text "null"
		{"null != x", true},
		{"null in (x)", false},
		{"null not in (x)", true},
		{"null present", false},
		{"null absent", true},
		{"null ~ .*", false},
		{"null !~ x", true},
		// missing
		{"missing = x", false},
		{"missing != x", true},
		{"missing in (x)", false},
		{"missing not in (x)", true},
		{"missing present", false},
		{"missing absent", true},
		{"missing ~ .*", false},
		{"missing !~ x", true},
		// array: any element
		{"arr = sales", true},
		{"arr = 7", true},
		{"arr = true", true},
		{"arr = marketing", false},
		{"arr != sales", false},
		{"arr != marketing", true},
		{"arr in (marketing, SALES)", true},
		{"arr in (marketing, hr)", false},
		{"arr not in (sales)", false},
		{"arr not in (hr)", true},
		{"arr present", true},
		{"arr absent", false},
		{"arr ~ ^sal", true},
		{"arr ~ ^7$", true},
		{"arr ~ ^mark", false},
		{"arr !~ ^sal", false},
		{"emptyArr present", false},
		{"emptyArr absent", true},
		{"emptyArr = x", false},
		{"emptyArr != x", true},
		{"nullArr present", false},
		{"nested = deep", true},
		{"nested ~ ^de", true},
		// object: compact JSON with sorted keys
		{`obj = {"a":"x","b":2}`, true},
		{`obj = {"A":"X","B":2}`, true},
		{`obj != {"a":"y","b":2}`, true},
		{`obj ~ "\"a\":\"x\""`, true},
		{"obj present", true},
		{"emptyObj present", true},
		{"obj absent", false},
	}
	m := attrsOf(t, attrs)
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			p, err := New(Config{Rules: []string{tt.rule}})
			if err != nil {
				t.Fatal(err)
			}
			got, why := p.Matches(m)
			if got != tt.want {
				t.Errorf("%s: Matches = %v (%s), want %v", tt.rule, got, why, tt.want)
			}
			if why == "" {
				t.Errorf("%s: empty reason", tt.rule)
			}
		})
	}
}

// TestGoTypes checks values Go callers may pass (identities read from ISC
// and built in code) compare as their JSON counterparts.
func TestGoTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		rule string
		want bool
	}{
		{int(7), "v = 7", true},
		{int64(7), "v in (6, 7)", true},
		{uint8(7), "v = 7.0", true},
		{float32(1.5), "v = 1.5", true},
		{json.Number("7"), "v = 7", true},
		{json.Number("7"), "v ~ ^7$", true},
		{[]string{"a", "B"}, "v = b", true},
		{[]string{"a", "B"}, "v in (c, b)", true},
		{[]string{"a", "B"}, "v ~ ^b$", true},
		{[]string{}, "v absent", true},
		{[]string{""}, "v present", false},
		{map[string]any{"k": 1}, `v = {"k":1}`, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T %s", tt.v, tt.rule), func(t *testing.T) {
			t.Parallel()
			p, err := New(Config{Rules: []string{tt.rule}})
			if err != nil {
				t.Fatal(err)
			}
			if got, why := p.Matches(map[string]any{"v": tt.v}); got != tt.want {
				t.Errorf("Matches(%#v) = %v (%s), want %v", tt.v, got, why, tt.want)
			}
		})
	}
}

func TestAttributeNamesAreCaseSensitive(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Rules: []string{"cloudLifecycleState = active"}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Matches(map[string]any{"cloudlifecyclestate": "active"}); ok {
		t.Error("matched an attribute spelled in another case")
	}
	if ok, why := p.Matches(map[string]any{"cloudLifecycleState": "ACTIVE"}); !ok {
		t.Errorf("value comparison is not case-insensitive: %s", why)
	}
}

func TestReasons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rules []string
		attrs string
		want  string
	}{
		{[]string{"cloudLifecycleState in (active, prehire)"}, `{"cloudLifecycleState":"inactive"}`,
			`cloudLifecycleState "inactive" not in [active prehire]`},
		{[]string{"cloudLifecycleState in (active, prehire)"}, `{}`,
			`cloudLifecycleState is missing, want one of [active prehire]`},
		{[]string{"cloudLifecycleState not in (inactive, terminated)"}, `{"cloudLifecycleState":"Terminated"}`,
			`cloudLifecycleState "Terminated" in excluded [inactive terminated]`},
		{[]string{"department = IT"}, `{"department":"Sales"}`, `department "Sales" != "IT"`},
		{[]string{"department = IT"}, `{"department":null}`, `department is null, want "IT"`},
		{[]string{"department != Contractors"}, `{"department":"contractors"}`,
			`department "contractors" equals excluded "Contractors"`},
		{[]string{"email present"}, `{}`, `email is missing`},
		{[]string{"email present"}, `{"email":""}`, `email is empty ("")`},
		{[]string{"email absent"}, `{"email":"a@b.c"}`, `email "a@b.c" is present`},
		{[]string{`email ~ @example\.com$`}, `{"email":"a@b.c"}`, `email "a@b.c" does not match ~ "@example\\.com$"`},
		{[]string{`email !~ ^T`}, `{"email":"T1"}`, `email "T1" matches excluded ~ "^T"`},
		{[]string{"tags = x"}, `{"tags":["a",1]}`, `tags ["a",1] != "x"`},
		{[]string{"email present", "department = IT"}, `{"email":"a@b.c","department":"HR"}`, `department "HR" != "IT"`},
		{[]string{"email present", "department = IT"}, `{"email":"a@b.c","department":"it"}`, "matches all rules"},
		{nil, `{}`, "no rules: everyone is invited"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			p, err := New(Config{Rules: tt.rules})
			if err != nil {
				t.Fatal(err)
			}
			if _, got := p.Matches(attrsOf(t, tt.attrs)); got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLongValuesAreCutInReasons(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Rules: []string{"d = x"}})
	if err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 500)
	for i := range long {
		long[i] = 'a'
	}
	_, why := p.Matches(map[string]any{"d": string(long)})
	if len(why) > 120 {
		t.Errorf("reason is %d bytes: %s", len(why), why)
	}
}
