package policy

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// op is a rule's operator.
type op uint8

const (
	opEq       op = iota + 1 // =
	opNe                     // !=
	opIn                     // in (…)
	opNotIn                  // not in (…)
	opPresent                // present
	opAbsent                 // absent
	opMatch                  // ~
	opNotMatch               // !~
)

var opNames = [...]string{
	opEq:       "=",
	opNe:       "!=",
	opIn:       "in",
	opNotIn:    "not in",
	opPresent:  "present",
	opAbsent:   "absent",
	opMatch:    "~",
	opNotMatch: "!~",
}

func (o op) String() string { return opNames[o] }

// operand is a value a rule compares with, prepared for fast comparison.
type operand struct {
	text  string  // as written (unquoted)
	num   float64 // text as a number, when isNum
	isNum bool
}

func newOperand(s string) operand {
	o := operand{text: s}
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		o.num, o.isNum = f, true
	}
	return o
}

// rule is one compiled rule.
type rule struct {
	attr string
	op   op
	vals []operand      // one for = and != ; the list for in and not in
	re   *regexp.Regexp // for ~ and !~
	src  string         // the regular expression as written, for ~ and !~
}

// String returns the rule in canonical form: it parses back to the same rule.
func (r *rule) String() string {
	var b strings.Builder
	b.WriteString(quoteName(r.attr))
	b.WriteByte(' ')
	b.WriteString(r.op.String())
	switch r.op {
	case opEq, opNe:
		b.WriteByte(' ')
		b.WriteString(quoteValue(r.vals[0].text))
	case opMatch, opNotMatch:
		b.WriteByte(' ')
		b.WriteString(quoteValue(r.src))
	case opIn, opNotIn:
		b.WriteString(" (")
		for i, v := range r.vals {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteItem(v.text))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// RuleError is the error New and Load return for a rule that does not
// parse. Its message names the rule and the column of the problem, and, for
// Load, the file and line.
type RuleError struct {
	File   string // the file the rule comes from, or empty
	Line   int    // 1-based line in File, or 0
	Index  int    // 1-based index in Config.Rules, or 0 when the rule comes from a file
	Column int    // 1-based column (in characters) of the problem in Rule
	Rule   string // the rule as written
	Msg    string // what is wrong
}

// Error implements error.
func (e *RuleError) Error() string {
	switch {
	case e.File != "":
		return fmt.Sprintf("%s:%d:%d: policy rule %q: %s", e.File, e.Line, e.Column, e.Rule, e.Msg)
	case e.Index > 0:
		return fmt.Sprintf("policy rule %d %q: column %d: %s", e.Index, e.Rule, e.Column, e.Msg)
	default:
		return fmt.Sprintf("policy rule %q: column %d: %s", e.Rule, e.Column, e.Msg)
	}
}

// parser parses one rule. Offsets are byte offsets into s.
type parser struct {
	s   string
	pos int
}

// errorf returns a *RuleError at byte offset at.
func (p *parser) errorf(at int, format string, args ...any) *RuleError {
	return &RuleError{
		Rule:   p.s,
		Column: utf8.RuneCountInString(p.s[:min(at, len(p.s))]) + 1,
		Msg:    fmt.Sprintf(format, args...),
	}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += n
	}
}

// atEnd skips white space and reports whether the rule ends here: at the end
// of the text or at a comment.
func (p *parser) atEnd() bool {
	p.skipSpace()
	return p.pos == len(p.s) || p.s[p.pos] == '#'
}

// peekWord returns the token at pos without consuming it, for messages.
func (p *parser) peekWord() string {
	rest := p.s[p.pos:]
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		rest = rest[:i]
	}
	if len(rest) > 20 {
		rest = rest[:20] + "…"
	}
	return rest
}

// parseRule parses one rule (see the package documentation for the syntax).
// The error, when not nil, is a *RuleError with Rule and Column set.
func parseRule(s string) (*rule, error) {
	p := &parser{s: s}
	if p.atEnd() {
		return nil, p.errorf(p.pos, "empty rule")
	}
	r := &rule{}
	// Attribute name.
	start := p.pos
	if p.s[p.pos] == '"' {
		name, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, p.errorf(start, "empty attribute name")
		}
		r.attr = name
	} else {
		for p.pos < len(p.s) {
			c, n := utf8.DecodeRuneInString(p.s[p.pos:])
			if unicode.IsSpace(c) || strings.ContainsRune(nameStop, c) {
				break
			}
			p.pos += n
		}
		if p.pos == start {
			return nil, p.errorf(start, "expected an attribute name, got %q", p.peekWord())
		}
		r.attr = p.s[start:p.pos]
	}
	// Operator.
	if p.atEnd() {
		return nil, p.errorf(p.pos, "expected an operator (%s) after %q", opList, r.attr)
	}
	opAt := p.pos
	switch rest := p.s[p.pos:]; {
	case strings.HasPrefix(rest, "!="):
		r.op, p.pos = opNe, p.pos+2
	case strings.HasPrefix(rest, "!~"):
		r.op, p.pos = opNotMatch, p.pos+2
	case strings.HasPrefix(rest, "=~"):
		r.op, p.pos = opMatch, p.pos+2
	case strings.HasPrefix(rest, "=="):
		r.op, p.pos = opEq, p.pos+2
	case strings.HasPrefix(rest, "="):
		r.op, p.pos = opEq, p.pos+1
	case strings.HasPrefix(rest, "~"):
		r.op, p.pos = opMatch, p.pos+1
	default:
		switch w := p.word(); strings.ToLower(w) {
		case "in":
			r.op = opIn
		case "present":
			r.op = opPresent
		case "absent":
			r.op = opAbsent
		case "not":
			p.skipSpace()
			if !strings.EqualFold(p.word(), "in") {
				return nil, p.errorf(opAt, `expected "not in"`)
			}
			r.op = opNotIn
		default:
			p.pos = opAt
			return nil, p.errorf(opAt, "expected an operator (%s) after %q, got %q", opList, r.attr, p.peekWord())
		}
	}
	// Operand.
	switch r.op {
	case opPresent, opAbsent:
	case opEq, opNe, opMatch, opNotMatch:
		if p.atEnd() {
			return nil, p.errorf(p.pos, "missing value after %q (write \"\" for the empty string)", r.op)
		}
		valAt := p.pos
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if r.op == opEq || r.op == opNe {
			r.vals = []operand{newOperand(v)}
			break
		}
		re, err := regexp.Compile("(?i)" + v)
		if err != nil {
			msg := err.Error()
			if rerr, ok := errors.AsType[*syntax.Error](err); ok {
				msg = fmt.Sprintf("%s: `%s`", rerr.Code, strings.TrimPrefix(rerr.Expr, "(?i)"))
			}
			return nil, p.errorf(valAt, "invalid regular expression: %s", msg)
		}
		r.re, r.src = re, v
	case opIn, opNotIn:
		vals, err := p.list()
		if err != nil {
			return nil, err
		}
		r.vals = vals
	}
	if !p.atEnd() {
		return nil, p.errorf(p.pos, "unexpected %q after the rule", p.peekWord())
	}
	return r, nil
}

const (
	// nameStop are the characters that end a bare attribute name.
	nameStop = `=!~()",#`
	opList   = "=, !=, ~, !~, in, not in, present, absent"
)

// word consumes and returns a run of ASCII letters.
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			break
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

// quoted consumes a double-quoted string at pos. Inside it \" is a quote and
// \\ a backslash; any other backslash stands for itself, so regular
// expressions such as "\d+" need no doubling.
func (p *parser) quoted() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.s) && (p.s[p.pos+1] == '"' || p.s[p.pos+1] == '\\'):
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", p.errorf(start, "unterminated quoted string")
}

// value consumes the value of =, !=, ~ or !~: a quoted string, or the rest
// of the rule up to a comment, trimmed.
func (p *parser) value() (string, error) {
	if p.s[p.pos] == '"' {
		return p.quoted()
	}
	start := p.pos
	end := len(p.s)
	for i := p.pos + 1; i < len(p.s); i++ {
		if p.s[i] == '#' && isSpaceByte(p.s[i-1]) {
			end = i
			break
		}
	}
	p.pos = end
	return strings.TrimRightFunc(p.s[start:end], unicode.IsSpace), nil
}

// list consumes "(" item {"," item} ")".
func (p *parser) list() ([]operand, error) {
	p.skipSpace()
	if p.pos == len(p.s) || p.s[p.pos] != '(' {
		return nil, p.errorf(p.pos, `expected "(" to start the list of values, got %q`, p.peekWord())
	}
	open := p.pos
	p.pos++
	var vals []operand
	for {
		p.skipSpace()
		if p.pos == len(p.s) {
			return nil, p.errorf(open, `missing ")" to close the list`)
		}
		itemAt := p.pos
		var item string
		switch p.s[p.pos] {
		case ')':
			if len(vals) == 0 {
				return nil, p.errorf(itemAt, "empty list")
			}
			return nil, p.errorf(itemAt, `empty value before ")"`)
		case ',':
			return nil, p.errorf(itemAt, "empty value in the list")
		case '"':
			v, err := p.quoted()
			if err != nil {
				return nil, err
			}
			item = v
		default:
			for p.pos < len(p.s) {
				c, n := utf8.DecodeRuneInString(p.s[p.pos:])
				if c == ',' || c == ')' || unicode.IsSpace(c) {
					break
				}
				p.pos += n
			}
			item = p.s[itemAt:p.pos]
		}
		vals = append(vals, newOperand(item))
		p.skipSpace()
		if p.pos == len(p.s) {
			return nil, p.errorf(open, `missing ")" to close the list`)
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return vals, nil
		default:
			return nil, p.errorf(p.pos, `expected "," or ")" in the list, got %q (write a value that holds spaces in quotes)`, p.peekWord())
		}
	}
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// quoteName writes an attribute name so that it parses back.
func quoteName(s string) string {
	if s == "" || strings.ContainsAny(s, nameStop) || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return quote(s)
	}
	return s
}

// quoteValue writes the value of =, !=, ~ or !~ so that it parses back.
func quoteValue(s string) string {
	if s == "" || s[0] == '"' || s != strings.TrimSpace(s) || hasComment(s) {
		return quote(s)
	}
	return s
}

// quoteItem writes a list value so that it parses back.
func quoteItem(s string) string {
	if s == "" || s[0] == '"' || strings.ContainsAny(s, ",()") || strings.IndexFunc(s, unicode.IsSpace) >= 0 || s[0] == '#' {
		return quote(s)
	}
	return s
}

// hasComment reports whether s holds a '#' after white space, which would
// start a comment if s were written bare.
func hasComment(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && isSpaceByte(s[i-1]) {
			return true
		}
	}
	return len(s) > 0 && s[0] == '#'
}

// quote double-quotes s, escaping only quotes and backslashes.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
