package isctest

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// This file parses the `filters` query parameter of ISC's V3 standard
// collection parameters: comparisons such as `name sw "Jo"`,
// `id in ("a","b")`, `correlated eq true`, combined with and, or, not and
// parentheses.

// filterExpr is a parsed filter.
type filterExpr interface {
	// match reports whether the item whose field values get returns matches.
	match(get func(field string) []string) bool
}

type andExpr struct{ l, r filterExpr }
type orExpr struct{ l, r filterExpr }
type notExpr struct{ e filterExpr }

type cmpExpr struct {
	field, op string
	values    []string
}

func (e andExpr) match(get func(string) []string) bool { return e.l.match(get) && e.r.match(get) }
func (e orExpr) match(get func(string) []string) bool  { return e.l.match(get) || e.r.match(get) }
func (e notExpr) match(get func(string) []string) bool { return !e.e.match(get) }

// match compares case-insensitively.
//
// Inferred: ISC does not document case sensitivity of eq; case-insensitive
// is the forgiving choice (ids are lowercase anyway).
func (e cmpExpr) match(get func(string) []string) bool {
	have := get(e.field)
	for _, h := range have {
		for _, v := range e.values {
			switch e.op {
			case "eq", "in":
				if strings.EqualFold(h, v) {
					return true
				}
			case "sw":
				if len(h) >= len(v) && strings.EqualFold(h[:len(v)], v) {
					return true
				}
			}
		}
	}
	return false
}

// filterFields says which operators each field supports.
type filterFields map[string][]string

// parseFilter parses s, accepting only the fields and operators in allowed.
// An empty s matches everything.
func parseFilter(s string, allowed filterFields) (filterExpr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, allowed: allowed}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return e, nil
}

type filterToken struct {
	text   string
	quoted bool
}

func lexFilter(s string) ([]filterToken, error) {
	var toks []filterToken
	rs := []rune(s)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, filterToken{text: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			i++
			for ; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '\\' && i+1 < len(rs) {
					i++
				}
				b.WriteRune(rs[i])
			}
			if i == len(rs) {
				return nil, fmt.Errorf("unterminated string")
			}
			i++
			toks = append(toks, filterToken{text: b.String(), quoted: true})
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune(`(),"`, rs[j]) {
				j++
			}
			toks = append(toks, filterToken{text: string(rs[i:j])})
			i = j
		}
	}
	return toks, nil
}

type filterParser struct {
	toks    []filterToken
	pos     int
	allowed filterFields
}

func (p *filterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].quoted && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *filterParser) next() (filterToken, error) {
	if p.pos >= len(p.toks) {
		return filterToken{}, fmt.Errorf("unexpected end of filter")
	}
	t := p.toks[p.pos]
	p.pos++
	return t, nil
}

func (p *filterParser) expect(w string) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.quoted || t.text != w {
		return fmt.Errorf("expected %q, got %q", w, t.text)
	}
	return nil
}

func (p *filterParser) or() (filterExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *filterParser) and() (filterExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (p *filterParser) unary() (filterExpr, error) {
	if p.peekWord("not") {
		p.pos++
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	if p.peekWord("(") {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	}
	return p.comparison()
}

func (p *filterParser) comparison() (filterExpr, error) {
	f, err := p.next()
	if err != nil {
		return nil, err
	}
	opTok, err := p.next()
	if err != nil {
		return nil, err
	}
	field, op := f.text, strings.ToLower(opTok.text)
	ops, ok := p.allowed[field]
	if f.quoted || !ok {
		return nil, fmt.Errorf("filtering is not supported for field %q", field)
	}
	if !slices.Contains(ops, op) {
		return nil, fmt.Errorf("operator %q is not supported for field %q", opTok.text, field)
	}
	if op != "in" {
		v, err := p.next()
		if err != nil {
			return nil, err
		}
		if v.text == "(" || v.text == ")" || v.text == "," {
			return nil, fmt.Errorf("expected a value after %s %s", field, op)
		}
		return cmpExpr{field: field, op: op, values: []string{v.text}}, nil
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var values []string
	for {
		v, err := p.next()
		if err != nil {
			return nil, err
		}
		values = append(values, v.text)
		sep, err := p.next()
		if err != nil {
			return nil, err
		}
		if sep.text == ")" && !sep.quoted {
			break
		}
		if sep.text != "," || sep.quoted {
			return nil, fmt.Errorf("expected , or ) in the list of %s in", field)
		}
	}
	return cmpExpr{field: field, op: op, values: values}, nil
}
