package query

import (
	"math"
	"strings"
	"time"
)

// Limits on query text.
const (
	MaxQueryLen = 4096 // bytes of query text
	MaxDepth    = 32   // nesting of parentheses, groups and negations
)

// Parse parses a query (see the package documentation for the grammar).
// The empty query, or one of only white space, matches every event. A
// malformed query returns an *Error naming the byte offset of the problem.
func Parse(s string) (*Query, error) {
	return parse(s, MaxQueryLen)
}

func parse(s string, maxLen int) (*Query, error) {
	if len(s) > maxLen {
		return nil, errorf(maxLen, "query is longer than %d bytes", maxLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{src: s, toks: toks}
	q := &Query{}
	if p.peek().kind == tokEOF {
		return q, nil
	}
	if q.root, err = p.or(nil); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, errorf(t.pos, "unexpected %s", t.kind)
	}
	q.namesType = namesType(q.root)
	return q, nil
}

// parser is a recursive-descent parser over the tokens of one query. Its
// methods take the field of the value group being parsed, or nil outside a
// group.
type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) take() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// enter counts one level of nesting at pos.
func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return errorf(pos, "query nests deeper than %d levels", MaxDepth)
	}
	return nil
}

// or parses: and { "OR" and }.
func (p *parser) or(g *fieldRef) (node, error) {
	var kids []node
	for {
		n, err := p.and(g)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
		if p.peek().kind != tokOr {
			return mkOr(kids), nil
		}
		p.take()
	}
}

// and parses: unary { [ "AND" ] unary }.
func (p *parser) and(g *fieldRef) (node, error) {
	var kids []node
	for {
		n, err := p.unary(g)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
		switch p.peek().kind {
		case tokAnd:
			p.take()
		case tokWord, tokLParen, tokMinus, tokNot:
		default:
			return mkAnd(kids), nil
		}
	}
}

// unary parses: ( "NOT" | "-" ) unary | primary.
func (p *parser) unary(g *fieldRef) (node, error) {
	t := p.peek()
	if t.kind != tokNot && t.kind != tokMinus {
		return p.primary(g)
	}
	p.take()
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	kid, err := p.unary(g)
	p.depth--
	if err != nil {
		return nil, err
	}
	return &notNode{kid: kid}, nil
}

// primary parses: "(" or ")" | term, or in a group "(" or ")" | value.
func (p *parser) primary(g *fieldRef) (node, error) {
	at := p.i
	t := p.take()
	switch t.kind {
	case tokLParen:
		return p.paren(t, g, "empty parentheses")
	case tokWord:
		if g != nil {
			return g.value(t.word, t.pos)
		}
		return p.term(t)
	}
	if at == 0 {
		return nil, errorf(t.pos, "expected a term, found %s", t.kind)
	}
	return nil, errorf(t.pos, "expected a term after %s, found %s", p.toks[at-1].kind, t.kind)
}

// paren parses the rest of a parenthesized expression opened by open.
func (p *parser) paren(open token, g *fieldRef, empty string) (node, error) {
	if err := p.enter(open.pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.peek().kind == tokRParen {
		return nil, errorf(open.pos, "%s", empty)
	}
	n, err := p.or(g)
	if err != nil {
		return nil, err
	}
	if t := p.take(); t.kind != tokRParen {
		return nil, errorf(t.pos, `expected ")" to close "(" at position %d, found %s`, open.pos, t.kind)
	}
	return n, nil
}

// term parses a word outside a group: field:value, field:(group) or a
// full-text word.
func (p *parser) term(t token) (node, error) {
	colon := t.word.index(':')
	if colon < 0 {
		return textTerm(t.word, t.pos)
	}
	r, err := resolveField(t.word.text[:colon], t.pos)
	if err != nil {
		return nil, err
	}
	val := t.word.slice(colon+1, len(t.word.text))
	if val.text != "" || val.quotedFrom(0) {
		return r.value(val, t.word.off[colon]+1)
	}
	if open := p.peek(); open.kind == tokLParen && open.pos == t.end {
		p.take()
		return p.paren(open, &r, "empty group")
	}
	return nil, errorf(t.end, "expected a value after %q", p.src[t.pos:t.end])
}

// textTerm builds a full-text term from a bare word or phrase.
func textTerm(w word, pos int) (node, error) {
	n := &textNode{}
	if last := len(w.text) - 1; w.special(last, '*') {
		n.prefix = true
		w = w.slice(0, last)
	}
	if err := noInnerStar(w); err != nil {
		return nil, err
	}
	if n.toks = Tokenize(w.text); len(n.toks) == 0 {
		return nil, errorf(pos, "no searchable characters (letters or digits) in %q", w.text)
	}
	return n, nil
}

func noInnerStar(w word) error {
	if i := w.index('*'); i >= 0 {
		return errorf(w.off[i], `wildcard "*" is only allowed at the end of a value (escape it as \*)`)
	}
	return nil
}

// mkAnd returns the conjunction of kids, flattening nested conjunctions.
func mkAnd(kids []node) node {
	if len(kids) == 1 {
		return kids[0]
	}
	var flat []node
	for _, k := range kids {
		if a, ok := k.(*andNode); ok {
			flat = append(flat, a.kids...)
		} else {
			flat = append(flat, k)
		}
	}
	return &andNode{kids: flat}
}

// mkOr returns the disjunction of kids, flattening nested disjunctions.
func mkOr(kids []node) node {
	if len(kids) == 1 {
		return kids[0]
	}
	var flat []node
	for _, k := range kids {
		if o, ok := k.(*orNode); ok {
			flat = append(flat, o.kids...)
		} else {
			flat = append(flat, k)
		}
	}
	return &orNode{kids: flat}
}

func namesType(n node) bool {
	switch n := n.(type) {
	case *andNode:
		return anyNamesType(n.kids)
	case *orNode:
		return anyNamesType(n.kids)
	case *notNode:
		return namesType(n.kid)
	case *termNode:
		return n.f.name == "type"
	}
	return false
}

func anyNamesType(kids []node) bool {
	for _, k := range kids {
		if namesType(k) {
			return true
		}
	}
	return false
}

// fieldRef is a resolved field name: a top-level field, or a path under
// one of the JSON-valued fields.
type fieldRef struct {
	f      field
	path   string
	dotted bool
}

func (r fieldRef) String() string {
	if r.dotted {
		return r.f.name + "." + r.path
	}
	return r.f.name
}

// resolveField resolves the field name of a term that starts at pos.
func resolveField(name string, pos int) (fieldRef, error) {
	if name == "" {
		return fieldRef{}, errorf(pos, `missing field name before ":"`)
	}
	top, path, dotted := strings.Cut(name, ".")
	f, ok := topField(top)
	if !ok || dotted && f.kind != kindTree {
		return fieldRef{}, errorf(pos, "unknown field %q; nested fields live under attributes., arguments., result., usage.", name)
	}
	if f.kind == kindTree && !dotted && f.name != "result" {
		return fieldRef{}, errorf(pos, "field %q is an object: name a key, as in %s.KEY", top, f.name)
	}
	return fieldRef{f: f, path: path, dotted: dotted}, nil
}

// value builds the term for value w of field r; w starts at pos.
func (r fieldRef) value(w word, pos int) (node, error) {
	t := &termNode{f: r.f, path: r.path, dotted: r.dotted}
	if o, n := compareOp(w); n > 0 {
		t.op = o
		return t, t.setBound(r, w.slice(n, len(w.text)), pos)
	}
	if last := len(w.text) - 1; w.special(last, '*') {
		t.op = opPrefix
		w = w.slice(0, last)
	}
	if err := noInnerStar(w); err != nil {
		return nil, err
	}
	t.val = w.text
	if t.op == opPrefix {
		return t, t.setPrefix(r, pos)
	}
	return t, t.setEqual(r, pos)
}

// compareOp returns the comparison operator that w starts with, and its
// length, or 0.
func compareOp(w word) (op, int) {
	var o op
	switch {
	case w.special(0, '>'):
		o = opGT
	case w.special(0, '<'):
		o = opLT
	default:
		return 0, 0
	}
	if w.special(1, '=') {
		return o + 1, 2 // opGE, opLE
	}
	return o, 1
}

func (t *termNode) setBound(r fieldRef, w word, pos int) error {
	t.val = w.text
	switch t.f.kind {
	case kindNumber, kindTree:
		if x, ok := parseNumber(t.val); ok {
			t.num, t.isNum = x, true
			return nil
		}
		return errorf(pos, "field %s compares numbers: %q is not a number", r, t.val)
	case kindTime:
		return t.setTime(r, pos)
	}
	return errorf(pos, "field %s does not support comparisons (>, >=, <, <=)", r)
}

func (t *termNode) setPrefix(r fieldRef, pos int) error {
	switch {
	case t.f.kind == kindNumber || t.f.kind == kindTime:
		return errorf(pos, "field %s does not support wildcards", r)
	case t.val == "":
		t.op = opExists
	}
	return nil
}

func (t *termNode) setEqual(r fieldRef, pos int) error {
	switch t.f.kind {
	case kindNumber:
		x, ok := parseNumber(t.val)
		if !ok {
			return errorf(pos, "field %s holds numbers: %q is not a number", r, t.val)
		}
		t.num, t.isNum = x, true
	case kindTime:
		return t.setTime(r, pos)
	case kindTree:
		t.num, t.isNum = parseNumber(t.val)
	}
	return nil
}

func (t *termNode) setTime(r fieldRef, pos int) error {
	ns, ok := parseTime(t.val)
	if !ok {
		return errorf(pos, "field %s holds times: %q is not an RFC 3339 time or a date (2006-01-02)", r, t.val)
	}
	t.ns = ns
	return nil
}

// parseTime parses an RFC 3339 time, or a date meaning its UTC midnight, as
// ns since the epoch.
func parseTime(s string) (int64, bool) {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if tm, err = time.Parse(time.DateOnly, s); err != nil {
			return 0, false
		}
	}
	if tm.Before(time.Unix(0, math.MinInt64)) || tm.After(time.Unix(0, math.MaxInt64)) {
		return 0, false
	}
	return tm.UnixNano(), true
}

// Quote returns s as a quoted value of the query language: a field term
// "field:" + Quote(s) matches s exactly, whatever characters it holds.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
