package query

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SQLiteSchema is the DDL of the SQLite search index that SQLite plans run
// against. The indexer creates it; it writes ev columns from the event (ns
// times, NULL for absent fields and empty strings), fv rows from
// NumberRows(FVRows(e)), and an fts row with rowid k and body
// IndexBody(tid, IndexText(tid, e), ColumnRows(e, nil), FVRows(e)).
const SQLiteSchema = `CREATE TABLE IF NOT EXISTS ev(
  k INTEGER PRIMARY KEY,          -- order key (timestamp-ordered), also the FTS rowid
  tid INTEGER NOT NULL, seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,            -- timestamp, ns since Unix epoch
  received_at INTEGER NOT NULL,   -- ns
  id TEXT NOT NULL, key_id TEXT, type TEXT NOT NULL,
  session_id TEXT, user_id TEXT, agent_id TEXT, channel TEXT, trace_id TEXT, span_id TEXT, parent_id TEXT,
  tool TEXT, status TEXT, model TEXT, destination TEXT, method TEXT, endpoint TEXT, operation TEXT, path TEXT,
  decision TEXT, approver TEXT,
  duration_ms REAL, tokens_used INTEGER, status_code INTEGER, bytes INTEGER,
  err INTEGER NOT NULL DEFAULT 0); -- 1 when status is "error" or error is set (for session error counts)
CREATE INDEX IF NOT EXISTS ev_type ON ev(tid, type, k);
-- Partial: most events have no tool (~70% in the bench) or status (~55%); a
-- compiled equality is "=" (compiler.eq), which SQLite lets read these.
CREATE INDEX IF NOT EXISTS ev_tool ON ev(tid, tool, k) WHERE tool IS NOT NULL;
CREATE INDEX IF NOT EXISTS ev_status ON ev(tid, status, k) WHERE status IS NOT NULL;
-- number rows of the fields that are not columns (f = the dotted path, e.g. 'usage.input_tokens'),
-- for numeric comparisons; every value of those fields (content, error, reason, scalar result,
-- each scalar leaf under arguments., result., usage., attributes.) is a value token in fts
-- (but a value over 64 bytes of content, error, arguments and result, whose words are there,
-- has a head token of its first 16 bytes instead: HasValueToken).
-- Keyed by field, then order key: a comparison reads all of a field's rows either way (v is the
-- number's text, whose order is not the number's), and new rows go at the end of their field's
-- range instead of onto a random page (docs/benchmarks.md, "Seventh pass").
CREATE TABLE IF NOT EXISTS fv(tid INTEGER NOT NULL, f TEXT NOT NULL, v TEXT NOT NULL, k INTEGER NOT NULL, n REAL,
  PRIMARY KEY(tid, f, k, v)) WITHOUT ROWID;
-- contentless full-text index without positions, rowid = ev.k;
-- body = IndexBody(tid, IndexText(tid, e), ColumnRows(e, nil), FVRows(e)): the tenant token,
-- the event's distinct words, the tokens of its values of session_id, user_id, trace_id and the other
-- token columns (those have no b-tree index: the events holding a value are its token's doclist),
-- the magnitude tokens of its numeric columns' values, and its value, number, prefix and field tokens
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content='', contentless_delete=1, detail=none, tokenize='ascii');
`

// Plan is a compiled query for the SQLite index.
type Plan struct {
	// Where is a boolean SQL expression over the ev table aliased "e"; "1"
	// when nothing is left to test. Its parameters are Args.
	Where string
	Args  []any
	// FTS, when not empty, is an FTS5 MATCH expression for the driving
	// join: the full-text terms of the query's top-level conjunction,
	// ANDed with the tenant's token, less (FTS5's NOT) its negated exact
	// full-text terms. Those terms are not repeated in Where.
	FTS string
	// Exact is false when the SQL selects a superset of the matching
	// events: the index keeps no word positions, so a phrase of several
	// words selects the events holding all its words. The caller then
	// keeps only the events Match accepts.
	Exact bool
}

// TenantToken is the word that marks a tenant's rows in the full-text
// index. "§" is not a letter or digit, so Tokenize never yields it, while
// FTS5's ascii tokenizer keeps it inside a token. No field token equals
// it: that would take a field path "t" followed by digits, and every path
// starts with a column's or a top-level field's name.
func TenantToken(tid int64) string { return "§t" + strconv.FormatInt(tid, 10) }

// SQLite compiles q for the index partition of tenant tid, whose name is
// tenant. The caller runs
//
//	SELECT e.k, e.seq FROM ev e WHERE e.tid=? AND (<Where>) ...
//
// or, when FTS is not empty,
//
//	SELECT e.k, e.seq FROM fts JOIN ev e ON e.k=fts.rowid
//	WHERE fts MATCH ? AND e.tid=? AND (<Where>) ...
//
// Over an index written as SQLiteSchema describes, either selects exactly
// the events of the partition that Match accepts when Plan.Exact (string
// equality on values over MaxIndexValueLen bytes is exact up to a SHA-256
// collision), and a superset of them otherwise. Every
// value is a parameter; no user text is formatted into Where. The error is
// nil for every query Parse accepts.
func (q *Query) SQLite(tid int64, tenant string) (Plan, error) {
	return q.SQLiteWith(tid, tenant, Options{})
}

// Blinder maps an indexed value of a field (field "" for a word of full
// text; a column's name for a text column; the fv path otherwise) to its
// form in a blind index.
type Blinder func(field, value string) string

// SQLiteBlind compiles q for a blind index: one whose text columns, fv
// values and words were written through blind (keyed hashes, so the index
// holds no plaintext). Equality and words are exact; what a keyed hash
// cannot answer — a wildcard prefix, a numeric comparison outside usage.* —
// compiles to a superset (Exact false) that Match then decides.
func (q *Query) SQLiteBlind(tid int64, tenant string, blind Blinder) (Plan, error) {
	return q.SQLiteWith(tid, tenant, Options{Blind: blind})
}

// KeyOf resolves an event id to the order key (ev.k) of the tenant's
// event with that id: found is false when no indexed event has it, and err
// non-nil when the lookup failed.
type KeyOf func(id string) (k int64, found bool, err error)

// Options are what SQLiteWith compiles with beyond the tenant.
type Options struct {
	// Blind, when set, compiles for a blind index (SQLiteBlind).
	Blind Blinder
	// KeyOf, when set, turns id:X into its event's key (e.k = ?, a
	// rowid lookup) or into false when no event has the id; without it,
	// or when it fails, id:X compares the id column, which walks the
	// tenant's events (ev has no index on id). An id is unique in its
	// tenant, so both select the same events.
	KeyOf KeyOf
	// NoTenantToken, when set, leaves the tenant token out of a driving
	// FTS5 expression that has a positive term (the term's own doclist
	// then drives, holding other tenants' events too, which the caller's
	// join on e.tid drops). For a tenant holding most of the events that
	// is the faster plan: FTS5 intersects a term with the tenant token by
	// seeking in its doclist, the largest of all, for every candidate
	// (Store.Search, a tenant of 83% of 902k events: user:X 4.7–6.0 → 1.7
	// ms, a rare word 2.5–3.7 → 1.0 ms, span_id:X 2.1–2.9 → 0.2 ms); for a
	// small tenant it is the slower one (the FTS5 statement of a rare word
	// 0.94 → 5.3 ms for a tenant of 5%; docs/benchmarks.md, "Eleventh pass").
	NoTenantToken bool
}

// SQLiteWith is SQLite (or SQLiteBlind) with options.
func (q *Query) SQLiteWith(tid int64, tenant string, o Options) (Plan, error) {
	c := &compiler{tid: tid, tenant: tenant, exact: true, blind: o.Blind, keyOf: o.KeyOf, noTenantToken: o.NoTenantToken}
	return c.plan(q.root, true), nil
}

// compile compiles q; without driving, FTS is empty and every full-text
// term is tested in Where.
func (q *Query) compile(tid int64, tenant string, driving bool, blind Blinder) Plan {
	c := &compiler{tid: tid, tenant: tenant, exact: true, blind: blind}
	return c.plan(q.root, driving)
}

// plan compiles the query whose tree is root.
func (c *compiler) plan(root node, driving bool) Plan {
	var drive []node
	rest := root
	if driving {
		drive, rest = c.splitDriving(root)
	}
	var p Plan
	var pos, neg []string
	if driving {
		pos = c.classExprs(root)
	}
	if len(drive) > 0 || len(pos) > 0 {
		for _, n := range drive {
			if not, ok := n.(*notNode); ok {
				expr, _, _ := c.ftsExpr(not.kid)
				neg = append(neg, expr)
				continue
			}
			expr, inexact, _ := c.ftsExpr(n)
			if inexact {
				c.exact = false
			}
			if expr != "" {
				pos = append(pos, expr)
			}
		}
		if !c.noTenantToken || len(pos) == 0 {
			pos = append([]string{`"` + TenantToken(c.tid) + `"`}, pos...)
		}
		fts := strings.Join(pos, " AND ")
		for _, e := range neg {
			fts = "(" + fts + ") NOT (" + e + ")"
		}
		p.FTS = fts
	}
	if rest == nil {
		p.Where = "1"
	} else {
		c.expr(rest)
		p.Where, p.Args = c.b.String(), c.args
	}
	p.Exact = c.exact
	return p
}

// conjuncts returns the terms of the top-level conjunction of root: its
// kids when it is an AND, else root alone.
func conjuncts(root node) []node {
	if and, ok := root.(*andNode); ok {
		return and.kids
	}
	return []node{root}
}

// classExprs returns the FTS5 expressions that narrow terms of the
// top-level conjunction of root which stay in Where: for each comparison
// on a numeric column, the OR of the magnitude tokens of the classes its
// matches can be in (a comparison every class may meet is left out); for
// span_id:X, its bucket's token. Each selects a superset, newest first:
// driving with them, a comparison few events meet or one span reads those
// events' doclists instead of walking the tenant.
func (c *compiler) classExprs(root node) []string {
	var out []string
	for _, k := range conjuncts(root) {
		t, ok := k.(*termNode)
		if !ok {
			continue
		}
		if t.f.kind == kindString && t.f.col == spanField && t.op == opEq {
			v := t.val
			if c.blind != nil {
				v = c.blind(spanField, v)
			}
			out = append(out, `"`+MagnitudeToken(spanField, spanBucket(v))+`"`)
			continue
		}
		var f string
		switch {
		case t.f.kind == kindNumber && slices.Contains(magnitudeColumns, t.f.col):
			f = t.f.col
		case c.fvComparison(t):
			f = t.fieldPath()
		default:
			continue
		}
		classes := magnitudeClasses(t.op, t.num)
		if classes[0] == "m" && classes[len(classes)-1] == octaveClass[magnitudeTop] {
			continue // from the lowest class to the highest: every class, no narrowing
		}
		toks := make([]string, len(classes))
		for i, cl := range classes {
			toks[i] = `"` + MagnitudeToken(f, cl) + `"`
		}
		out = append(out, "("+strings.Join(toks, " OR ")+")")
		if c.probe == nil {
			c.probe = map[*termNode]bool{}
		}
		c.probe[t] = true
	}
	return out
}

// fvComparison reports whether t is a numeric comparison the fv rows
// decide: on a field inside arguments., result., usage. or attributes.
// (in a blind index, usage. only: elsewhere its numbers are not kept).
func (c *compiler) fvComparison(t *termNode) bool {
	return t.f.kind == kindTree && t.isNum && t.op != opEq && t.op != opPrefix && t.op != opExists &&
		(c.blind == nil || strings.HasPrefix(t.fieldPath(), "usage."))
}

// splitDriving splits the terms of the top-level conjunction of root that
// the full-text index answers (ftsExpr: full text, field values held as
// tokens, and AND/OR of them) from the rest, which is nil when nothing
// remains. The driving terms become one FTS5 expression, which yields
// rowids newest first, so a page stops early instead of collecting every
// match first.
func (c *compiler) splitDriving(root node) (drive []node, rest node) {
	drivable := func(n node) bool {
		if not, ok := n.(*notNode); ok {
			// FTS5's NOT: the tenant's events (every event has an fts
			// row) but those the term selects, newest first — where a
			// subquery would collect a common word's events whole
			// first. Only an exact term: NOT of a superset would drop
			// events that match.
			expr, inexact, ok := c.ftsExpr(not.kid)
			return ok && !inexact && expr != ""
		}
		_, _, ok := c.ftsExpr(n)
		return ok
	}
	if and, ok := root.(*andNode); ok {
		var others []node
		for _, k := range and.kids {
			if drivable(k) {
				drive = append(drive, k)
			} else {
				others = append(others, k)
			}
		}
		if len(others) == 0 {
			return drive, nil
		}
		return drive, mkAnd(others)
	}
	if drivable(root) {
		return []node{root}, nil
	}
	return nil, root
}

// ftsExpr returns the FTS5 expression (tenant token aside) selecting the
// events n holds — a superset when inexact — or ok false when a part of n
// is not in the full-text index (NOT, columns, numeric comparisons). An
// empty expr selects every event with an fts row (a blind prefix, which
// no keyed hash answers); every event n can hold has one.
func (c *compiler) ftsExpr(n node) (expr string, inexact, ok bool) {
	switch n := n.(type) {
	case *textNode:
		expr, inexact = c.textExpr(n)
		return expr, inexact, true
	case *termNode:
		return c.ftsTerm(n)
	case *andNode:
		return c.ftsJoin(n.kids, " AND ")
	case *orNode:
		return c.ftsJoin(n.kids, " OR ")
	}
	return "", false, false
}

func (c *compiler) ftsJoin(kids []node, sep string) (expr string, inexact, ok bool) {
	var parts []string
	all := false // a kid selects everything
	for _, k := range kids {
		e, inx, ok := c.ftsExpr(k)
		if !ok {
			return "", false, false
		}
		inexact = inexact || inx
		if e == "" {
			all = true
		} else {
			parts = append(parts, e)
		}
	}
	if len(parts) == 0 || all && sep == " OR " {
		return "", inexact, true
	}
	return "(" + strings.Join(parts, sep) + ")", inexact, true
}

// textExpr returns the FTS5 expression of a full-text term: all its words,
// the last one as a prefix for a prefix term. Without positions a phrase
// of several words is a superset; a blind index has no keyed hash for a
// prefix, so the last word of a prefix term is left to Match.
func (c *compiler) textExpr(t *textNode) (string, bool) {
	inexact := len(t.toks) > 1
	var parts []string
	for i, tok := range t.toks {
		last := t.prefix && i == len(t.toks)-1
		if c.blind != nil {
			if last {
				inexact = true
				continue
			}
			tok = c.blind("", tok)
		}
		p := `"` + strings.ReplaceAll(tok, `"`, `""`) + `"`
		if last {
			p += " *"
		}
		parts = append(parts, p)
	}
	if len(parts) > 1 {
		return "(" + strings.Join(parts, " AND ") + ")", inexact
	}
	return strings.Join(parts, ""), inexact
}

// compiler writes the SQL of one plan. Every leaf it writes is 0 or 1,
// never NULL, so NOT is exact on absent fields.
type compiler struct {
	tid     int64
	tenant  string
	b       strings.Builder
	args    []any
	negated bool // under an odd number of NOTs
	exact   bool // false once a phrase is compiled to a superset
	blind   Blinder
	keyOf   KeyOf
	probe   map[*termNode]bool // fv comparisons driven by their magnitude tokens (classExprs)

	noTenantToken bool // Options.NoTenantToken
}

// superset compiles a term the index cannot decide: true (or, under NOT,
// false), leaving it to Match.
func (c *compiler) superset() {
	c.exact = false
	c.constant(!c.negated)
}

func (c *compiler) sql(s string, args ...any) {
	c.b.WriteString(s)
	c.args = append(c.args, args...)
}

func (c *compiler) expr(n node) {
	switch n := n.(type) {
	case *andNode:
		c.join(n.kids, " AND ")
	case *orNode:
		c.join(n.kids, " OR ")
	case *notNode:
		c.sql("NOT (")
		c.negated = !c.negated
		c.expr(n.kid)
		c.negated = !c.negated
		c.sql(")")
	case *termNode:
		c.term(n)
	case *textNode:
		c.text(n)
	}
}

// text compiles a full-text term. A phrase of several words becomes "all
// its words" — a superset — so under NOT, where a superset would wrongly
// exclude events, it becomes false (a subset, whose negation is again a
// superset); Match then decides.
func (c *compiler) text(n *textNode) {
	if c.blind != nil && n.prefix {
		c.superset() // a prefix of a word has no keyed hash
		return
	}
	c.ftsIn(c.textExpr(n))
}

// ftsIn selects the tenant's events whose fts row matches expr: a set the
// subquery collects once. (Probing each candidate's row instead under NOT
// was measured: about 1 ms per probe with FTS5, slower than collecting.)
// An inexact expr selects a superset, so under NOT, where a superset would
// wrongly exclude events, it becomes false (a subset, whose negation is
// again a superset); Match then decides.
func (c *compiler) ftsIn(expr string, inexact bool) {
	if inexact {
		c.exact = false
		if c.negated {
			c.sql("0")
			return
		}
	}
	c.sql("e.k IN (SELECT rowid FROM fts WHERE fts MATCH ?)", `"`+TenantToken(c.tid)+`" AND `+expr)
}

func (c *compiler) join(kids []node, sep string) {
	c.sql("(")
	for i, k := range kids {
		if i > 0 {
			c.sql(sep)
		}
		c.expr(k)
	}
	c.sql(")")
}

func (c *compiler) term(t *termNode) {
	switch t.f.kind {
	case kindString:
		if t.f.col == "id" && t.op == opEq && c.keyOf != nil {
			if k, found, err := c.keyOf(t.val); err == nil {
				if found {
					c.sql("e.k = ?", k)
				} else {
					c.constant(false)
				}
				return
			}
		}
		// Under NOT, a token column is compared as a column: the set of
		// a common value's events would be collected whole first.
		if expr, _, ok := c.ftsTerm(t); ok && !c.negated {
			c.ftsIn(expr, false)
			return
		}
		if c.blind != nil {
			c.blindColumn(t)
			return
		}
		c.column("e."+t.f.col, t)
	case kindTenant:
		c.constant(t.matchString(c.tenant))
	case kindNumber:
		c.number(t)
	case kindTime:
		c.sql("e."+t.f.col+compareSQL(t.op)+"?", t.ns)
	case kindText, kindTree:
		c.field(t)
	}
}

// blindColumn compiles a term on a blinded text column (type, id and key_id
// stay in clear).
func (c *compiler) blindColumn(t *termNode) {
	col := t.f.col
	if col == "type" || col == "id" || col == "key_id" {
		c.column("e."+col, t)
		return
	}
	switch t.op {
	case opEq:
		c.sql("e."+col+c.eq(), c.blind(col, t.val))
	case opExists:
		c.sql("e." + col + " IS NOT NULL")
	default:
		c.superset()
	}
}

// fieldPath is the path of a kindText or kindTree term's field.
func (t *termNode) fieldPath() string {
	if t.dotted {
		return t.f.name + "." + t.path
	}
	return t.f.name
}

// longValueExpr returns the FTS5 expression that selects a superset of
// the events whose field f (a WordsField) holds the long value v, or with
// prefix a value starting with v (over HeadLen bytes), in a clear index:
// the head token of v and its longest words — at most maxNarrowWords,
// complete ones (a prefix's last word may be cut): more words read more
// doclists and narrow little more.
func longValueExpr(f, v string, prefix bool) string {
	head := `"` + HeadToken(f, v) + `"`
	if words := narrowWords(v, prefix, nil); words != "" {
		return "(" + head + " AND " + words + ")"
	}
	return head
}

// narrowWords returns the FTS5 expression ANDing the maxNarrowWords
// longest distinct words of v (through blind when set), leaving out its
// last word when v is a prefix that may end inside it; "" when there is
// none.
func narrowWords(v string, prefix bool, blind Blinder) string {
	toks := Tokenize(v)
	if r, _ := utf8.DecodeLastRuneInString(v); prefix && len(toks) > 0 && isTokenRune(r) {
		toks = toks[:len(toks)-1]
	}
	slices.Sort(toks)
	toks = slices.Compact(toks)
	slices.SortStableFunc(toks, func(a, b string) int { return len(b) - len(a) })
	toks = toks[:min(len(toks), maxNarrowWords)]
	var parts []string
	for _, tok := range toks {
		if blind != nil {
			tok = blind("", tok)
		}
		parts = append(parts, `"`+strings.ReplaceAll(tok, `"`, `""`)+`"`)
	}
	return strings.Join(parts, " AND ")
}

// maxNarrowWords bounds the words longValueExpr ANDs with a head token.
const maxNarrowWords = 4

// ftsTerm returns the FTS5 expression (tenant token aside) selecting the
// events that hold what field term t asks for, from their value, number
// and field tokens; inexact when it selects a superset (a prefix longer
// than the part of a value kept in clear). ok is false when the tokens
// cannot answer: numeric comparisons (fv), and in a blind index prefixes
// that do not end at a "/" and numeric equality outside usage.* (42, 42.0
// and 4.2e1 are equal numbers with different texts, and only usage.* keeps
// numbers in clear).
// Tokens are token text (letters, digits, non-ASCII) and markers: no
// double quote to escape.
func (c *compiler) ftsTerm(t *termNode) (expr string, inexact, ok bool) {
	if t.f.kind == kindString && t.op == opEq && TokenColumn(t.f.col) {
		// col:X is its column token (other terms on the column test the
		// column).
		return `"` + ColumnToken(t.f.col, ColumnValue(t.f.col, t.val, c.blind)) + `"`, false, true
	}
	if t.f.kind != kindText && t.f.kind != kindTree {
		return "", false, false
	}
	f := t.fieldPath()
	numeric := t.f.kind == kindTree && t.isNum
	switch t.op {
	case opEq:
		v := IndexValue(t.val)
		if c.blind != nil {
			if numeric && !strings.HasPrefix(f, "usage.") {
				return "", false, false
			}
			v = c.blind(f, v)
		}
		expr = `"` + ValueToken(f, v) + `"`
		if c.blind == nil && !HasValueToken(f, v) {
			// A long value of a words field has no value token: its head
			// and words narrow.
			expr, inexact = longValueExpr(f, t.val, false), true
		}
		if numeric {
			expr = "(" + expr + ` OR "` + NumberToken(f, t.num) + `")`
		}
		return expr, inexact, true
	case opPrefix:
		if c.blind != nil {
			// A blind index answers a prefix ending at a "/" from its
			// blind prefix token; other prefixes of a keyed hash mean
			// nothing.
			if prefixQueryable(t.val) {
				return `"` + prefixToken(f, c.blind(blindPrefixField(f), t.val)) + `"`, false, true
			}
			if WordsField(f) {
				// The prefix's complete words are the value's words:
				// their keyed hashes narrow, Match decides (without
				// them every event of the tenant is a candidate).
				if expr := narrowWords(t.val, true, c.blind); expr != "" {
					return "(" + expr + ")", true, true
				}
			}
			return "", false, false
		}
		if tok, ok := prefixQueryToken(f, t.val); ok {
			return `"` + tok + `"`, false, true
		}
		p := indexPrefix(t.val)
		expr = `"` + ValueToken(f, p) + `" *`
		if WordsField(f) {
			// Its long values have head tokens instead (HasValueToken):
			// a prefix of up to HeadLen bytes is a head token's prefix;
			// a longer one narrows by its head and words.
			if len(t.val) <= HeadLen {
				return "(" + expr + ` OR "` + HeadToken(f, t.val) + `" *)`, false, true
			}
			return "(" + expr + " OR " + longValueExpr(f, t.val, true) + ")", true, true
		}
		return expr, p != t.val, true
	case opExists:
		return `"` + FieldToken(f) + `"`, false, true
	}
	return "", false, false
}

// field compiles a term on a field kept as tokens (and, for numeric
// comparisons, fv rows).
func (c *compiler) field(t *termNode) {
	if expr, inexact, ok := c.ftsTerm(t); ok {
		c.ftsIn(expr, inexact)
		return
	}
	if c.fvComparison(t) {
		if c.probe[t] {
			// Driven by its magnitude tokens: each candidate's rows are
			// probed, rather than every row of the field collected.
			c.sql("EXISTS (SELECT 1 FROM fv WHERE tid = ? AND f = ? AND k = e.k AND n"+compareSQL(t.op)+"?)", c.tid, t.fieldPath(), t.num)
			return
		}
		c.sql("e.k IN (SELECT k FROM fv WHERE tid = ? AND f = ? AND n"+compareSQL(t.op)+"?)", c.tid, t.fieldPath(), t.num)
		return
	}
	c.superset()
}

func (c *compiler) constant(b bool) {
	if b {
		c.sql("1")
	} else {
		c.sql("0")
	}
}

// eq is the operator of a column's equality with a value: " = ?" where
// no NOT is above it, so that SQLite may read the column's partial index
// (ev_tool, ev_status: only rows with a value; it reads one only for a
// comparison other than IS), and NULL, which "=" gives on an absent
// field, counts as false either way; " IS ?" under a NOT, where NOT NULL
// would be NULL and drop the event.
func (c *compiler) eq() string {
	if c.negated {
		return " IS ?"
	}
	return " = ?"
}

// column compiles a term on a nullable text column.
func (c *compiler) column(col string, t *termNode) {
	switch t.op {
	case opEq:
		c.sql(col+c.eq(), t.val)
	case opExists:
		c.sql(col + " IS NOT NULL")
	case opPrefix:
		c.sql("(" + col + " IS NOT NULL")
		c.prefixRange(col, t.val)
		c.sql(")")
	}
}

// prefixRange writes " AND col >= p AND col < succ(p)".
func (c *compiler) prefixRange(col, p string) {
	c.sql(" AND "+col+" >= ?", p)
	if s, ok := Successor(p); ok {
		c.sql(" AND "+col+" < ?", s)
	}
}

// Successor returns the least string greater than every string with
// prefix p: p with its last byte incremented, after dropping trailing 0xFF
// bytes; false when there is none (p is empty or all 0xFF).
func Successor(p string) (string, bool) {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xFF {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "", false
	}
	b[len(b)-1]++
	return string(b), true
}

// number compiles a term on a numeric column, compared as REAL like Match.
func (c *compiler) number(t *termNode) {
	col := "CAST(e." + t.f.col + " AS REAL)"
	c.sql("coalesce("+col+compareSQL(t.op)+"?, 0)", t.num)
}

func compareSQL(o op) string {
	switch o {
	case opLT:
		return " < "
	case opLE:
		return " <= "
	case opGT:
		return " > "
	case opGE:
		return " >= "
	}
	return " = "
}

// indexedColumns are the text columns the index keeps a b-tree on, by
// (tid, column, k): a value's events come from it newest first.
var indexedColumns = []string{"type", "tool", "status"}

// ColumnPrefix reports a wildcard col:P* on an indexed column (type, tool,
// status) in the top-level conjunction of q, with a function that returns
// q with that term replaced by col:v. Such a term compiles to the range of
// the column's b-tree, whose matches SQLite sorts whole by key before the
// first page; replaced by each of the few values the column holds under
// the prefix, each read newest first, the pages merge instead (the store's
// searchKeys).
func (q *Query) ColumnPrefix() (col, prefix string, with func(v string) *Query, ok bool) {
	kids := conjuncts(q.root)
	for i, k := range kids {
		t, ok := k.(*termNode)
		if !ok || t.f.kind != kindString || t.op != opPrefix || !slices.Contains(indexedColumns, t.f.col) {
			continue
		}
		with = func(v string) *Query {
			eq := *t
			eq.op, eq.val = opEq, v
			rest := slices.Clone(kids)
			rest[i] = &eq
			return &Query{root: mkAnd(rest), namesType: q.namesType}
		}
		return t.f.col, t.val, with, true
	}
	return "", "", nil, false
}
