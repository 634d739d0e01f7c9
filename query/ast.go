package query

import (
	"strings"
	"unicode"
)

// Query is a parsed query. The zero Query, like the empty query, matches
// every event. A Query is immutable and safe for concurrent use.
type Query struct {
	root      node // nil for the empty query
	namesType bool
}

// node is one node of the syntax tree: *andNode, *orNode, *notNode,
// *termNode or *textNode.
type node interface{ isNode() }

// andNode matches when all its kids (at least two, none an *andNode) match.
type andNode struct{ kids []node }

// orNode matches when any of its kids (at least two, none an *orNode) match.
type orNode struct{ kids []node }

// notNode matches when its kid does not.
type notNode struct{ kid node }

// op is the operator of a field term.
type op uint8

const (
	opEq     op = iota // field:value
	opPrefix           // field:value*
	opExists           // field:*
	opLT               // field:<value
	opLE               // field:<=value
	opGT               // field:>value
	opGE               // field:>=value
)

func (o op) String() string {
	return [...]string{"", "", "*", "<", "<=", ">", ">="}[o]
}

// termNode is a field term.
type termNode struct {
	f      field
	path   string // for kindTree: the keys after the field name, joined by "."
	dotted bool   // for kindTree: a path was given (false for bare "result")
	op     op
	val    string  // the value as written, unescaped; for opPrefix without "*"
	num    float64 // val as a number, when isNum
	isNum  bool
	ns     int64 // val as ns since the epoch, for kindTime
}

// textNode is a full-text term: a phrase of tokens, the last of which is a
// prefix when prefix is set.
type textNode struct {
	toks   []string
	prefix bool
}

func (*andNode) isNode()  {}
func (*orNode) isNode()   {}
func (*notNode) isNode()  {}
func (*termNode) isNode() {}
func (*textNode) isNode() {}

// NamesType reports whether any term of q, negated or not, is on the type
// field. Callers leave the server's own record types out of results when it
// does not (SPEC §3); Match and SQLite do not.
func (q *Query) NamesType() bool { return q.namesType }

// Empty reports whether q is the empty query, which matches every event.
func (q *Query) Empty() bool { return q.root == nil }

// String returns q in a normalized form: aliases resolved, groups spelled
// out as terms, redundant parentheses dropped, NOT written as "-", full-text
// words written as their lowercased tokens. Parsing it yields an equivalent
// query whose String is the same.
func (q *Query) String() string {
	var b strings.Builder
	writeNode(&b, q.root)
	return b.String()
}

func writeNode(b *strings.Builder, n node) {
	switch n := n.(type) {
	case *andNode:
		for i, k := range n.kids {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeParen(b, k, isOr(k))
		}
	case *orNode:
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(" OR ")
			}
			writeNode(b, k)
		}
	case *notNode:
		b.WriteByte('-')
		writeParen(b, n.kid, isOr(n.kid) || isAnd(n.kid))
	case *termNode:
		n.write(b)
	case *textNode:
		n.write(b)
	}
}

func writeParen(b *strings.Builder, n node, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	writeNode(b, n)
	if paren {
		b.WriteByte(')')
	}
}

func isOr(n node) bool  { _, ok := n.(*orNode); return ok }
func isAnd(n node) bool { _, ok := n.(*andNode); return ok }

func (t *termNode) write(b *strings.Builder) {
	b.WriteString(t.f.name)
	if t.dotted {
		b.WriteByte('.')
		writeEscaped(b, t.path)
	}
	b.WriteByte(':')
	b.WriteString(t.op.String())
	switch t.op {
	case opExists:
	case opPrefix:
		writeValue(b, t.val)
		b.WriteByte('*')
	default:
		writeValue(b, t.val)
	}
}

func (t *textNode) write(b *strings.Builder) {
	phrase := strings.Join(t.toks, " ")
	if len(t.toks) > 1 || needsQuotes(phrase) {
		writeQuoted(b, phrase)
	} else {
		b.WriteString(phrase)
	}
	if t.prefix {
		b.WriteByte('*')
	}
}

// writeEscaped writes a field path with a backslash before each character
// the lexer would otherwise treat specially.
func writeEscaped(b *strings.Builder, s string) {
	for _, r := range s {
		if specialRune(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
}

// writeValue writes a field value as is, or quoted when it must be.
func writeValue(b *strings.Builder, s string) {
	if needsQuotes(s) {
		writeQuoted(b, s)
		return
	}
	b.WriteString(s)
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
}

// needsQuotes reports whether a value would not read back as itself when
// written bare after "field:". Only the first ":" of a term separates the
// field from the value, so a value's own colons need no escape.
func needsQuotes(s string) bool {
	if s == "" || strings.ContainsAny(s[:1], "<>=") {
		return true
	}
	switch s {
	case "AND", "OR", "NOT":
		return true
	}
	for _, r := range s {
		if r != ':' && specialRune(r) {
			return true
		}
	}
	return false
}

func specialRune(r rune) bool {
	switch r {
	case '(', ')', '"', '\\', ':', '*':
		return true
	}
	return unicode.IsSpace(r)
}

// WithSessions returns q ANDed with session_id being one of ids (at least
// one): the query of those sessions' events that q matches. A session
// listing reads the summaries of the sessions it found this way, from
// their session tokens.
func (q *Query) WithSessions(ids []string) (*Query, error) {
	var kids []node
	for _, id := range ids {
		var b strings.Builder
		b.WriteString("session_id:")
		writeQuoted(&b, id)
		t, err := Parse(b.String())
		if err != nil {
			return nil, err
		}
		kids = append(kids, t.root)
	}
	var sess node = &orNode{kids: kids}
	if len(kids) == 1 {
		sess = kids[0]
	}
	root := sess
	if q.root != nil {
		root = mkAnd([]node{sess, q.root})
	}
	return &Query{root: root, namesType: q.namesType}, nil
}
