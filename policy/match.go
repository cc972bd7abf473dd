package policy

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// eval reports whether the rule holds for the attribute value v; ok reports
// whether the attribute is there at all. When it does not hold, why says
// why, for the audit trail.
func (r *rule) eval(v any, ok bool) (holds bool, why string) {
	switch r.op {
	case opPresent:
		if ok && present(v) {
			return true, ""
		}
		return false, r.attr + " is " + absence(v, ok)
	case opAbsent:
		if !ok || !present(v) {
			return true, ""
		}
		return false, r.attr + " " + describe(v) + " is present"
	case opEq, opNe:
		eq := ok && anyEqual(v, &r.vals[0])
		if eq == (r.op == opEq) {
			return true, ""
		}
		if r.op == opNe {
			return false, r.attr + " " + describe(v) + " equals excluded " + strconv.Quote(r.vals[0].text)
		}
		if !ok || v == nil {
			return false, r.attr + " is " + absence(v, ok) + ", want " + strconv.Quote(r.vals[0].text)
		}
		return false, r.attr + " " + describe(v) + " != " + strconv.Quote(r.vals[0].text)
	case opIn, opNotIn:
		in := ok && anyIn(v, r.vals)
		if in == (r.op == opIn) {
			return true, ""
		}
		if r.op == opNotIn {
			return false, r.attr + " " + describe(v) + " in excluded " + listText(r.vals)
		}
		if !ok || v == nil {
			return false, r.attr + " is " + absence(v, ok) + ", want one of " + listText(r.vals)
		}
		return false, r.attr + " " + describe(v) + " not in " + listText(r.vals)
	case opMatch, opNotMatch:
		m := ok && r.anyMatch(v)
		if m == (r.op == opMatch) {
			return true, ""
		}
		if r.op == opNotMatch {
			return false, r.attr + " " + describe(v) + " matches excluded ~ " + strconv.Quote(r.src)
		}
		if !ok || v == nil {
			return false, r.attr + " is " + absence(v, ok) + ", want a match for ~ " + strconv.Quote(r.src)
		}
		return false, r.attr + " " + describe(v) + " does not match ~ " + strconv.Quote(r.src)
	}
	panic("policy: unknown operator")
}

// present reports whether v is a value: not null, not the empty string, and,
// for an array, holding at least one present element.
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		for _, e := range v {
			if present(e) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range v {
			if e != "" {
				return true
			}
		}
		return false
	}
	return true
}

// absence describes an attribute that is not present.
func absence(v any, ok bool) string {
	switch {
	case !ok:
		return "missing"
	case v == nil:
		return "null"
	}
	return "empty (" + describe(v) + ")"
}

// anyEqual reports whether v, or for an array any element of v, equals o.
func anyEqual(v any, o *operand) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return strings.EqualFold(v, o.text)
	case bool:
		if v {
			return strings.EqualFold(o.text, "true")
		}
		return strings.EqualFold(o.text, "false")
	case []any:
		for _, e := range v {
			if anyEqual(e, o) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range v {
			if strings.EqualFold(e, o.text) {
				return true
			}
		}
		return false
	}
	if f, isNum := number(v); isNum {
		return o.isNum && f == o.num
	}
	return strings.EqualFold(jsonText(v), o.text)
}

// anyIn reports whether v, or for an array any element of v, equals one of os.
func anyIn(v any, os []operand) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if anyIn(e, os) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range v {
			if anyIn(e, os) {
				return true
			}
		}
		return false
	}
	for i := range os {
		if anyEqual(v, &os[i]) {
			return true
		}
	}
	return false
}

// anyMatch reports whether v, or for an array any element of v, matches the
// rule's regular expression. Null matches nothing.
func (r *rule) anyMatch(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return r.re.MatchString(v)
	case []any:
		for _, e := range v {
			if r.anyMatch(e) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range v {
			if r.re.MatchString(e) {
				return true
			}
		}
		return false
	}
	return r.re.MatchString(jsonText(v))
}

// number returns v as a float64 when v is a number: a float64 as
// encoding/json decodes JSON numbers, a json.Number, or any Go integer or
// float type.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int8:
		return float64(v), true
	case int16:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint:
		return float64(v), true
	case uint8:
		return float64(v), true
	case uint16:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint64:
		return float64(v), true
	}
	return 0, false
}

// jsonText returns the JSON text of v: numbers as JSON writes them (7, 1.5),
// true and false, objects compact with sorted keys.
func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	if f, ok := number(v); ok && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "<unprintable>"
	}
	return string(b)
}

// maxDescribe bounds how much of a value a reason quotes.
const maxDescribe = 80

// describe renders an attribute value for a reason: strings quoted, other
// values as JSON, long values cut.
func describe(v any) string {
	var s string
	if str, ok := v.(string); ok {
		s = truncate(str)
		return strconv.Quote(s)
	}
	if v == nil {
		return "null"
	}
	return truncate(jsonText(v))
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxDescribe {
		return s
	}
	n := 0
	for i := range s {
		if n == maxDescribe {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// listText renders a list of values the way reasons show it: [a b "c d"].
func listText(os []operand) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, o := range os {
		if i > 0 {
			b.WriteByte(' ')
		}
		if o.text == "" || strings.ContainsAny(o.text, " \t\"[]") {
			b.WriteString(strconv.Quote(o.text))
		} else {
			b.WriteString(o.text)
		}
	}
	b.WriteByte(']')
	return b.String()
}
