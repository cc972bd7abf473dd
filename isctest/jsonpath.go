package isctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// This file evaluates the JSONPath filters of trigger subscriptions, such
// as $[?($.attributes.department == "Sales" && @.identity.name != "x")].
// ISC uses the full Jayway JSONPath language; the fake understands a
// subset: one filter of comparisons (==, !=, <, <=, >, >=) or existence
// tests of dotted or ['bracketed'] paths from $ or @, against string,
// number, true, false and null literals, joined by && and ||.
//
// Inferred: both $ and @ address the event payload (the filter's root
// object); a path that does not exist makes a comparison false.

// errFilterUnsupported says a filter uses JSONPath the fake does not
// evaluate. Such a filter is kept, and events are delivered as if it
// matched (with a warning in the log).
var errFilterUnsupported = errors.New("JSONPath beyond the subset the fake evaluates")

// jsonPathFilter is a parsed filter: a disjunction of conjunctions.
type jsonPathFilter [][]jpCond

type jpCond struct {
	left, right jpOperand
	op          string // "" for an existence test of left
}

type jpOperand struct {
	path    []string // nil for a literal
	literal any
}

func parseJSONPathFilter(s string) (jsonPathFilter, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("a JSONPath starts with $")
	}
	inner, ok := strings.CutPrefix(s, "$[?(")
	if !ok {
		return nil, errFilterUnsupported
	}
	inner, ok = strings.CutSuffix(inner, ")]")
	if !ok {
		return nil, fmt.Errorf("unbalanced filter brackets")
	}
	toks, err := lexJSONPath(inner)
	if err != nil {
		return nil, err
	}
	var f jsonPathFilter
	conj := []jpCond{}
	for i := 0; i < len(toks); {
		left, err := jpParseOperand(toks[i])
		if err != nil {
			return nil, err
		}
		i++
		c := jpCond{left: left}
		if i < len(toks) && isJPComparison(toks[i]) {
			if i+1 >= len(toks) {
				return nil, fmt.Errorf("missing operand after %s", toks[i])
			}
			c.op = toks[i]
			if c.right, err = jpParseOperand(toks[i+1]); err != nil {
				return nil, err
			}
			i += 2
		} else if left.path == nil {
			return nil, errFilterUnsupported
		}
		conj = append(conj, c)
		if i == len(toks) {
			break
		}
		switch toks[i] {
		case "&&":
		case "||":
			f = append(f, conj)
			conj = []jpCond{}
		default:
			return nil, errFilterUnsupported
		}
		i++
		if i == len(toks) {
			return nil, fmt.Errorf("filter ends with an operator")
		}
	}
	if len(conj) == 0 {
		return nil, fmt.Errorf("empty filter")
	}
	return append(f, conj), nil
}

func isJPComparison(t string) bool {
	switch t {
	case "==", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// lexJSONPath splits a filter expression into operands and operators.
func lexJSONPath(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||") ||
			strings.HasPrefix(s[i:], "==") || strings.HasPrefix(s[i:], "!=") ||
			strings.HasPrefix(s[i:], "<=") || strings.HasPrefix(s[i:], ">="):
			toks = append(toks, s[i:i+2])
			i += 2
		case c == '<' || c == '>':
			toks = append(toks, s[i:i+1])
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		case c == '(' || c == ')' || c == '!' || c == '=' || c == '~':
			return nil, errFilterUnsupported
		default:
			j := i
			depth := 0
			for j < len(s) {
				if s[j] == '[' {
					depth++
				} else if s[j] == ']' {
					depth--
				} else if depth == 0 && strings.ContainsRune(" \t\n&|=!<>()", rune(s[j])) {
					break
				} else if depth > 0 && (s[j] == '\'' || s[j] == '"') {
					q := s[j]
					for j++; j < len(s) && s[j] != q; j++ {
					}
				}
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func jpParseOperand(t string) (jpOperand, error) {
	switch {
	case strings.HasPrefix(t, "$") || strings.HasPrefix(t, "@"):
		path, err := jpParsePath(t[1:])
		return jpOperand{path: path}, err
	case strings.HasPrefix(t, "\"") || strings.HasPrefix(t, "'"):
		body := t[1 : len(t)-1]
		if t[0] == '\'' {
			body = strings.ReplaceAll(strings.ReplaceAll(body, `\'`, `'`), `"`, `\"`)
		}
		var v string
		if err := json.Unmarshal([]byte(`"`+body+`"`), &v); err != nil {
			return jpOperand{}, fmt.Errorf("bad string %s", t)
		}
		return jpOperand{literal: v}, nil
	case t == "true" || t == "false":
		return jpOperand{literal: t == "true"}, nil
	case t == "null":
		return jpOperand{literal: nil}, nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return jpOperand{literal: f}, nil
	}
	return jpOperand{}, errFilterUnsupported
}

// jpParsePath parses ".a.b['c d']" into its keys; [] empty means the root.
func jpParsePath(s string) ([]string, error) {
	keys := []string{}
	for s != "" {
		switch {
		case strings.HasPrefix(s, "['") || strings.HasPrefix(s, `["`):
			q := s[1]
			end := strings.IndexByte(s[2:], q)
			if end < 0 || !strings.HasPrefix(s[2+end+1:], "]") {
				return nil, fmt.Errorf("bad path segment %s", s)
			}
			keys = append(keys, s[2:2+end])
			s = s[2+end+2:]
		case strings.HasPrefix(s, "."):
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return nil, errFilterUnsupported // .. or .[
			}
			keys = append(keys, s[:end])
			s = s[end:]
		default:
			return nil, errFilterUnsupported // [*], [0], functions…
		}
	}
	return keys, nil
}

func (f jsonPathFilter) match(doc any) bool {
	for _, conj := range f {
		all := true
		for _, c := range conj {
			all = all && c.match(doc)
		}
		if all {
			return true
		}
	}
	return false
}

func (o jpOperand) value(doc any) (any, bool) {
	if o.path == nil {
		return o.literal, true
	}
	v := doc
	for _, k := range o.path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func (c jpCond) match(doc any) bool {
	l, ok := c.left.value(doc)
	if c.op == "" {
		return ok && l != nil && l != false
	}
	r, ok2 := c.right.value(doc)
	if !ok || !ok2 {
		return false
	}
	switch c.op {
	case "==":
		return jpEqual(l, r)
	case "!=":
		return !jpEqual(l, r)
	}
	var cmp int
	switch lv := l.(type) {
	case float64:
		rv, ok := r.(float64)
		if !ok {
			return false
		}
		cmp = compareFloat(lv, rv)
	case string:
		rv, ok := r.(string)
		if !ok {
			return false
		}
		cmp = strings.Compare(lv, rv)
	default:
		return false
	}
	switch c.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	default:
		return cmp >= 0
	}
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func jpEqual(a, b any) bool {
	switch a.(type) {
	case string, float64, bool, nil:
		return a == b
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// filterMatches reports whether the subscription filter lets the event
// body through. No filter, and a filter beyond the supported subset, let
// everything through.
func filterMatches(filter string, body []byte, log *slog.Logger) bool {
	if strings.TrimSpace(filter) == "" {
		return true
	}
	f, err := parseJSONPathFilter(filter)
	if err != nil {
		log.Warn("isctest cannot evaluate subscription filter; delivering anyway", "filter", filter, "err", err)
		return true
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return false
	}
	return f.match(doc)
}
