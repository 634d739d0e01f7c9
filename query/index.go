package query

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// MaxIndexValueLen is the length in bytes up to which IndexValue keeps a
// value whole. A wildcard prefix up to that long is decided by the index;
// a longer one is narrowed by the index and decided by Match.
const MaxIndexValueLen = 64

// IndexValue returns the form of s stored in, and compared with, the fv.v
// column: s itself when it is at most MaxIndexValueLen bytes long; otherwise
// its first MaxIndexValueLen bytes (cut back to a rune boundary), a NUL byte,
// and the hex of the first 16 bytes of SHA-256(s). Equality therefore stays
// exact (up to a hash collision) and a prefix of at most MaxIndexValueLen
// bytes is still a prefix of the stored form.
func IndexValue(s string) string {
	if len(s) <= MaxIndexValueLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return indexPrefix(s) + "\x00" + hex.EncodeToString(sum[:16])
}

// indexPrefix returns the first MaxIndexValueLen bytes of s, cut back to a
// rune boundary: the part of a long value that IndexValue keeps in clear.
func indexPrefix(s string) string {
	if len(s) <= MaxIndexValueLen {
		return s
	}
	cut := MaxIndexValueLen
	for back := 0; back < utf8.UTFMax-1 && !utf8.RuneStart(s[cut]); back++ {
		cut--
	}
	return s[:cut]
}

// FVRow is one field value of an event: F is the field path ("content",
// "error", "reason", "result", or a dotted path such as "arguments.to"), V
// is IndexValue of the leaf's text, and N is the value of a finite Number
// leaf. Every row becomes a value token of the event's fts row (ValueToken;
// but a long value of a words field, HasValueToken; with a FieldToken per
// field), and a row with N also a row of the fv table, which numeric
// comparisons read.
type FVRow struct {
	F, V string
	N    *float64
	// Prefixes, in a blind index, are the values of the row's prefix
	// tokens: BlindPrefixes of the clear value, computed before V was
	// blinded (a blind V holds no "/"). Nil in a clear index: IndexBody
	// takes the prefixes from V.
	Prefixes []string
}

// FVRows returns the fv rows the indexer writes for e: one for each of
// Content, Error and Reason that is not empty, and one for each non-null
// scalar leaf under Arguments, Result, Usage and Attributes. A leaf's path is
// the field name and the keys that lead to it joined by "."; arrays are
// transparent (their elements share the array's path). Rows are unique by
// (F, V); when a Number leaf and another leaf share both, the row keeps the
// number.
func FVRows(e *clawtrail.Event) []FVRow {
	var b fvBuilder
	b.text("content", e.Content)
	b.text("error", e.Error)
	b.text("reason", e.Reason)
	b.tree("arguments", e.Arguments)
	b.tree("result", e.Result)
	b.tree("usage", e.Usage)
	b.tree("attributes", e.Attributes)
	for _, r := range e.Redactions {
		b.text("redactions", r.Fingerprint) // clawtrail hash: where did a secret leak?
	}
	return b.rows
}

type fvBuilder struct {
	rows []FVRow
	seen map[[2]string]int // (F, V) -> index in rows
}

func (b *fvBuilder) text(f, s string) {
	if s != "" {
		b.add(f, s, nil)
	}
}

func (b *fvBuilder) tree(f string, v *strictjson.Value) {
	if v != nil {
		eachLeaf(f, v, b.leaf)
	}
}

func (b *fvBuilder) leaf(f string, v *strictjson.Value) {
	var n *float64
	if x, ok := leafNumber(v); ok {
		n = &x
	}
	b.add(f, v.Str, n)
}

func (b *fvBuilder) add(f, s string, n *float64) {
	key := [2]string{f, IndexValue(s)}
	if i, ok := b.seen[key]; ok {
		if n != nil {
			b.rows[i].N = n
		}
		return
	}
	if b.seen == nil {
		b.seen = make(map[[2]string]int)
	}
	b.seen[key] = len(b.rows)
	b.rows = append(b.rows, FVRow{F: key[0], V: key[1], N: n})
}

// Value and field tokens. A field value is indexed as one full-text token
// of the event's fts row — "§", the field's code, "§", the value in token
// text — rather than as a row of a b-tree keyed by value: values are
// mostly distinct (contents, paths, subjects), so such rows land on random
// pages of a large table, each costing a page read and write, where FTS5
// writes sorted segments and merges them. "§" is not a letter or digit, so
// no word of full text is a token.
//
// Token text (appendTokenText) keeps a value one token for FTS5's ascii
// tokenizer (ASCII letters and digits and every non-ASCII byte are token
// characters; only ASCII upper case is folded), exact (case and every byte
// kept), and a byte prefix of a value a prefix of its token: ASCII
// lower-case letters and digits stand for themselves, every other byte for
// one of the 256 characters U+0100–U+01FF (two bytes, C4 80 to C7 BF).
// Paths, commands, hosts and ids are mostly the former: over the values
// of 20,000 bench events token text took 1.09 bytes per byte, where hex
// (index schema 12 and before) took 2; the tokens were 57% of their hex:
// fewer bytes for FTS5 to tokenize, hash, write and merge. The markers
// after a field's code start with C2, which token text never does: "§"
// (C2 A7) before a value, "§¹" (C2 B9) before a number, "§²" (C2 B2)
// before a directory prefix, "§´" (C2 B4) before the head of a long value
// (HasValueToken); a field code ends at the first "§".

// TokenText returns s in token text: the form a value takes in its token
// (what a look at the index's vocabulary finds of it).
func TokenText(s string) string { return string(appendTokenText(nil, s)) }

// appendTokenText appends the token text of s to dst.
func appendTokenText(dst []byte, s string) []byte {
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			dst = append(dst, c)
			continue
		}
		r := 0x100 + int(c)
		dst = append(dst, byte(0xC0|r>>6), byte(0x80|r&0x3F))
	}
	return dst
}

// Token markers (see above).
const (
	numberMark    = "§\u00b9"
	prefixMark    = "§\u00b2"
	hashedMark    = "\u00b3"
	magnitudeMark = "§\u00b0"
	headMark      = "§\u00b4"
)

// maxFieldText bounds the field part of a token: a longer path is named by
// a hash (FTS5 truncates tokens over 32 KiB).
const maxFieldText = 64

// fieldCode appends the code naming field path f in its tokens to dst.
func fieldCode(dst []byte, f string) []byte {
	if len(f) <= maxFieldText {
		return appendTokenText(dst, f)
	}
	sum := sha256.Sum256([]byte(f))
	return hex.AppendEncode(append(dst, hashedMark...), sum[:16]) // no token text starts with C2
}

// fieldToken appends FieldToken(f) to dst.
func fieldToken(dst []byte, f string) []byte { return fieldCode(append(dst, "§"...), f) }

// FieldToken is the token every event holding a leaf at path f carries.
func FieldToken(f string) string { return string(fieldToken(nil, f)) }

// ValueToken is the token of stored value v (IndexValue of the text, or
// its blind form) at path f.
func ValueToken(f, v string) string { return string(valueToken(nil, fieldToken(nil, f), v)) }

// valueToken appends the value token of v to dst, given its field's token.
func valueToken(dst, field []byte, v string) []byte {
	return appendTokenText(append(append(dst, field...), "§"...), v)
}

// NumberToken is the token of a number leaf x at path f, so that equality
// on numbers (42 matches 42.0) is a token too: the shortest decimal form
// of x, in token text after numberMark.
func NumberToken(f string, x float64) string { return string(numberToken(nil, fieldToken(nil, f), x)) }

// numberToken appends the number token of x to dst, given its field's token.
func numberToken(dst, field []byte, x float64) []byte {
	if x == 0 {
		x = 0 // -0 is 0
	}
	var num [32]byte
	return appendTokenText(append(append(dst, field...), numberMark...), string(strconv.AppendFloat(num[:0], x, 'g', -1, 64)))
}

// prefixToken is the token of a prefix p of a string value at path f that
// ends at a "/" (a directory of a path, a step of a URL): prefixMark and
// p in token text after the field's code. A wildcard query on such a
// prefix (path:/home/agent/*) reads this one token's doclist, where a
// prefix query over the value tokens merges the doclists of every distinct
// value under it (~0.4 s at 10 M events).
func prefixToken(f, p string) string { return string(appendPrefixToken(nil, fieldToken(nil, f), p)) }

// appendPrefixToken appends the prefix token of p to dst, given its
// field's token.
func appendPrefixToken(dst, field []byte, p string) []byte {
	return appendTokenText(append(append(dst, field...), prefixMark...), p)
}

// prefixTokenMax is the longest prefix queried through prefixToken: every
// value starting with a prefix that long and ending at a "/" holds the
// whole prefix in the part that IndexValue keeps in clear (indexPrefix
// cuts back to a rune start, and the byte after a "/" is one), so it
// carries the prefix's token.
const prefixTokenMax = MaxIndexValueLen

// prefixQueryToken returns the token that decides the wildcard prefix p
// of field f exactly, and false when p does not end at a "/" or is longer
// than prefixTokenMax (the prefix is then matched on the value tokens).
func prefixQueryToken(f, p string) (string, bool) {
	if !prefixQueryable(p) {
		return "", false
	}
	return prefixToken(f, p), true
}

// prefixQueryable reports whether the wildcard prefix p has a prefix token.
func prefixQueryable(p string) bool {
	return p != "" && p[len(p)-1] == '/' && len(p) <= prefixTokenMax
}

// BlindPrefixes returns the blind forms of the prefixes of stored value v
// that end at a "/" (slashPrefixes), each under the field name "§p" + f
// (no field path starts with "§", so a prefix's keyed hash never equals a
// value's): the Prefixes of v's row in a blind index. A blind prefix token
// reveals which events share a directory under a field, as a blind value
// token reveals which share a value, and nothing of its text.
func BlindPrefixes(f, v string, blind Blinder) []string {
	var out []string
	slashPrefixes(v, func(p string) { out = append(out, blind(blindPrefixField(f), p)) })
	return out
}

// blindPrefixField is the field name prefixes of field f are blinded under.
func blindPrefixField(f string) string { return "§p" + f }

// slashPrefixes calls fn with every prefix of the clear part of stored
// value v that ends at a "/" (v itself included when it ends with one). A
// blind value (letters and digits) has none.
func slashPrefixes(v string, fn func(p string)) {
	if len(v) > MaxIndexValueLen {
		// IndexValue: the clear part, NUL, the hex of a hash.
		if i := strings.LastIndexByte(v, 0); i >= 0 {
			v = v[:i]
		}
	}
	for i := range len(v) {
		if v[i] == '/' {
			fn(v[:i+1])
		}
	}
}

// SessionToken is the token of an event's session id, whose stored form
// is v (SessionValue). A session's timeline reads this one token's doclist
// in key order. An index on (tid, session_id, k) did the same, but put
// every new event on its session's page of a large b-tree — with many
// sessions active, a random page per event, the largest share of the pages
// an index transaction wrote (docs/benchmarks.md, "Seventh pass").
func SessionToken(v string) string { return ColumnToken(sessionField, v) }

// sessionField names the session id in its token. No field of FVRows is
// called that (their paths are content, error, reason, result and the
// dotted paths under arguments, result, usage and attributes).
const sessionField = "session_id"

// SessionValue is the stored form of session id s in its token
// (ColumnValue of the session_id column). The indexer, the compiler and
// the timeline all take it from here.
func SessionValue(s string, blind Blinder) string { return ColumnValue(sessionField, s, blind) }

// tokenColumns are the ev text columns whose values are also full-text
// tokens (ColumnToken), so that col:X reads one token's doclist newest
// first instead of walking the tenant's events until a page is full: for a
// user, trace or API key with few events that walk read most of the
// tenant (0.24–0.66 s at 1 M events, growing with the tenant; a token:
// 0.3–4 ms; docs/benchmarks.md, "Eighth pass"). These are the columns of
// many distinct values. Left out: type, tool and status (a b-tree index
// on (tid, column, k) each, already in key order); channel, model, method,
// operation and decision (a few values, each common, which the walk finds
// at once — a token per event for them cost indexing throughput); id and
// span_id (unique per event, where a token costs the most space: 36 bytes
// an event for span_id; GET /v1/events/{id} reads the ledger's index).
var tokenColumns = []string{sessionField, "user_id", "agent_id", "trace_id", "parent_id", "key_id",
	"destination", "endpoint", "path", "approver"}

// TokenColumn reports whether ev column col holds a token per value.
func TokenColumn(col string) bool { return slices.Contains(tokenColumns, col) }

// tokenGetters read the token columns from an event, in tokenColumns' order.
var tokenGetters = func() []func(*clawtrail.Event) string {
	out := make([]func(*clawtrail.Event) string, len(tokenColumns))
	for i, col := range tokenColumns {
		f, ok := stringField(col)
		if !ok || f.col != col {
			panic("query: token column " + col + " is not a string column")
		}
		out[i] = f.str
	}
	return out
}()

// ColRow is one token column's value of an event: V is its stored form
// (ColumnValue), or with Mag a class (MagnitudeToken): the magnitude class
// of a numeric column's value, or the bucket of the span id.
type ColRow struct {
	Col, V string
	Mag    bool
}

// ColumnRows returns the event's values of the token columns, in stored
// form (blinded when blind is not nil), then the bucket of its span id and
// the magnitude classes of its numeric columns' values (rows with Mag
// set).
func ColumnRows(e *clawtrail.Event, blind Blinder) []ColRow {
	var out []ColRow
	for i, col := range tokenColumns {
		if v := tokenGetters[i](e); v != "" {
			out = append(out, ColRow{Col: col, V: ColumnValue(col, v, blind)})
		}
	}
	if sp := e.SpanID; sp != "" {
		if blind != nil {
			sp = blind(spanField, sp)
		}
		out = append(out, ColRow{Col: spanField, V: spanBucket(sp), Mag: true})
	}
	for i, col := range magnitudeColumns {
		if x, ok := magnitudeGetters[i](e); ok {
			class, sixteenth, fine := magnitudeClassNames(x)
			out = append(out, ColRow{Col: col, V: class, Mag: true})
			if sixteenth != "" {
				out = append(out, ColRow{Col: col, V: sixteenth, Mag: true}, ColRow{Col: col, V: fine, Mag: true})
			}
		}
	}
	return out
}

// Magnitude tokens. A numeric column's value x also gets the tokens of its
// magnitude classes — "§", the column's code, "§°", the class — so that a
// comparison (duration_ms:>30000, bytes:<=4096) can drive a search from
// the full-text index: the OR of the classes that may hold a matching
// value selects a superset, newest first, and the column's comparison in
// the plan's Where keeps the events that match (without it, a comparison
// few events meet walked the tenant). Classes: "m" for x ≤ -1, "z" for
// -1 < x < 1, "p<n>" for the octave 2^n ≤ x < 2^(n+1), the last, "p40",
// open above (2^40 ms is 35 years; bytes and tokens rarely reach a
// terabyte). Below p40 a value also has the class of its sixteenth of the
// octave, "p<n>s<j>" (2^(n+j/16) ≤ x < 2^(n+(j+1)/16)), and of its
// sixteenth of that, "p<n>s<j>t<i>" (a 256th of the octave, ~0.27% wide).
// A query names the octaves inside its range, the sixteenths inside it of
// the octave its bound cuts, and the 256ths of the sixteenth the bound
// cuts, so what it reads beyond its matches is at most a 256th of an
// octave either side — with quarters only (index schema 14–15) a bound
// inside a dense quarter read a tenth of the model outputs at 10 M events
// (docs/benchmarks.md, "Eleventh pass") — and it names at most 72
// classes. The numeric columns are stored in clear in a blind index too,
// so their classes are also written in clear.

// magnitudeColumns are the numeric columns with magnitude tokens (seq is
// the ledger's order, which the (tid, seq) b-tree answers).
var magnitudeColumns = []string{"duration_ms", "tokens_used", "status_code", "bytes"}

// magnitudeGetters read magnitudeColumns from an event.
var magnitudeGetters = func() []func(*clawtrail.Event) (float64, bool) {
	out := make([]func(*clawtrail.Event) (float64, bool), len(magnitudeColumns))
	for i, col := range magnitudeColumns {
		f, ok := numberField(col)
		if !ok {
			panic("query: magnitude column " + col + " is not a numeric column")
		}
		out[i] = f.num
	}
	return out
}()

// magnitudeTop is the last octave: p40 holds every x ≥ 2^40.
const magnitudeTop = 40

// magnitudeSplit is how many parts each level of an octave is cut into:
// sixteenths, then sixteenths of those.
const magnitudeSplit = 16

// The names of the classes ("p<n>", "p<n>s<j>", "p<n>s<j>t<i>"), spelled
// once: the indexer names three per number.
var octaveClass, sixteenthClass, fineClass = func() (o [magnitudeTop + 1]string, s [magnitudeTop][magnitudeSplit]string, f [magnitudeTop][magnitudeSplit * magnitudeSplit]string) {
	for n := range o {
		o[n] = "p" + strconv.Itoa(n)
		if n == magnitudeTop {
			continue
		}
		for j := range magnitudeSplit {
			s[n][j] = o[n] + "s" + strconv.Itoa(j)
			for i := range magnitudeSplit {
				f[n][j*magnitudeSplit+i] = s[n][j] + "t" + strconv.Itoa(i)
			}
		}
	}
	return o, s, f
}()

// magnitudeClassNames returns the classes of x: its octave (or m, z) and,
// for an x in an octave below the last, its sixteenth and 256th of it (""
// otherwise). The two finer classes come from one index, so a value's
// 256th is always inside its sixteenth.
func magnitudeClassNames(x float64) (class, sixteenth, fine string) {
	switch {
	case x <= -1:
		return "m", "", ""
	case x < 1:
		return "z", "", ""
	}
	n := math.Ilogb(x) // floor(log2 x), exactly, for x ≥ 1
	if n >= magnitudeTop {
		return octaveClass[magnitudeTop], "", ""
	}
	const cells = magnitudeSplit * magnitudeSplit
	t := max(0, min(int(cells*math.Log2(math.Ldexp(x, -n))), cells-1)) // x / 2^n is in [1, 2)
	return octaveClass[n], sixteenthClass[n][t/magnitudeSplit], fineClass[n][t]
}

// appendMagnitudeTokens appends, each after a space, the magnitude tokens
// of x to dst, given its field's token.
func appendMagnitudeTokens(dst, field []byte, x float64) []byte {
	class, sixteenth, fine := magnitudeClassNames(x)
	dst = appendMagnitudeToken(append(dst, ' '), field, class)
	if sixteenth != "" {
		dst = appendMagnitudeToken(append(dst, ' '), field, sixteenth)
		dst = appendMagnitudeToken(append(dst, ' '), field, fine)
	}
	return dst
}

// magnitudeClasses returns classes that together hold every value x with
// x op v: every class that meets the range — an octave inside it as
// itself, one it cuts as its sixteenths that meet it, each of those inside
// the range as itself and one it cuts as its 256ths that meet it (the
// parts taken as closed and widened by a relative 1e-9 for Log2's
// rounding). A superset at the 256ths' edges; the column's comparison
// decides.
func magnitudeClasses(o op, v float64) []string {
	// meets reports whether the interval from lo to hi (each end
	// included or not) holds an x with x op v.
	meets := func(lo, hi float64, loIn, hiIn bool) bool {
		le := lo < v || loIn && lo == v // it holds an x ≤ v
		ge := hi > v || hiIn && hi == v // it holds an x ≥ v
		switch o {
		case opLT:
			return lo < v
		case opLE:
			return le
		case opGT:
			return hi > v
		case opGE:
			return ge
		}
		return le && ge // opEq
	}
	inside := func(lo, hi float64) bool { // [lo, hi) within the range
		switch o {
		case opLT, opLE:
			return hi <= v
		case opGT:
			return lo > v
		case opGE:
			return lo >= v
		}
		return false
	}
	// part returns the bounds of the parts from a to b (in 256ths) of
	// octave n: irrational, so closed and widened for Log2's rounding.
	part := func(n, a, b int) (lo, hi float64) {
		const cells = magnitudeSplit * magnitudeSplit
		return math.Ldexp(math.Exp2(float64(a)/cells)*(1-1e-9), n), math.Ldexp(math.Exp2(float64(b)/cells)*(1+1e-9), n)
	}
	var out []string
	if meets(math.Inf(-1), -1, false, true) {
		out = append(out, "m")
	}
	if meets(-1, 1, false, false) {
		out = append(out, "z")
	}
	for n := 0; n <= magnitudeTop; n++ {
		lo, hi := math.Ldexp(1, n), math.Ldexp(1, n+1)
		if n == magnitudeTop {
			hi = math.Inf(1)
		}
		switch {
		case !meets(lo, hi, true, false):
		case n == magnitudeTop || inside(lo, hi):
			out = append(out, octaveClass[n])
		default:
			for j := range magnitudeSplit {
				a := j * magnitudeSplit
				slo, shi := part(n, a, a+magnitudeSplit)
				switch {
				case !meets(slo, shi, true, true):
				case inside(slo, shi):
					out = append(out, sixteenthClass[n][j])
				default:
					for i := range magnitudeSplit {
						if flo, fhi := part(n, a+i, a+i+1); meets(flo, fhi, true, true) {
							out = append(out, fineClass[n][a+i])
						}
					}
				}
			}
		}
	}
	return out
}

// Span buckets. A span id is unique to its span (an event, or the pair of
// a tool call's pre and post events), so a token per value would cost ~36
// bytes an event — the most of any column — for a lookup users make by
// hand. Instead each event with a span id carries the token of its
// bucket, "§span_id§°h" and four hex digits of a hash of the stored span
// id (the keyed hash in a blind index): span_id:X drives from the one
// bucket's doclist (at 10 M events ~150 events) and span_id = X in Where
// keeps the span's. Without it, span_id:X walked the tenant.

// spanField is the column span buckets are written under.
const spanField = "span_id"

// spanBucket returns the bucket class of stored span id v: "h" and the
// low 16 bits of its FNV-1a hash in hex.
func spanBucket(v string) string {
	h := uint32(2166136261)
	for i := range len(v) {
		h = (h ^ uint32(v[i])) * 16777619
	}
	const digits = "0123456789abcdef"
	return string([]byte{'h', digits[h>>12&15], digits[h>>8&15], digits[h>>4&15], digits[h&15]})
}

// MagnitudeToken is the token of magnitude class class of numeric column
// col.
func MagnitudeToken(col, class string) string {
	return string(appendMagnitudeToken(nil, fieldToken(nil, col), class))
}

// appendMagnitudeToken appends the magnitude token of class to dst, given
// its column's field token.
func appendMagnitudeToken(dst, field []byte, class string) []byte {
	return append(append(append(dst, field...), magnitudeMark...), class...)
}

// ColumnValue is the stored form of value s of token column col in its
// token: IndexValue of s, blinded under the column's name when blind is
// not nil (a blind index); "" for no value.
func ColumnValue(col, s string, blind Blinder) string {
	if s == "" {
		return ""
	}
	v := IndexValue(s)
	if blind != nil {
		v = blind(col, v)
	}
	return v
}

// ColumnToken is the token of stored value v (ColumnValue) of column col.
// No path of FVRows is a column's name, so it never equals a value token.
func ColumnToken(col, v string) string { return ValueToken(col, v) }

// IndexBody returns the body of an event's fts row: words (IndexText: ""
// or the tenant token and the words), the token of each column value and
// magnitude class in cols (ColumnRows), then the value token of each row
// (or its head token: HasValueToken), the number and magnitude tokens of
// each row with N, the prefix tokens of a string value holding a "/", and
// the field token of each field (once per run of rows of that field). An event with nothing else still has the
// tenant token: every event has an fts row, so that the tenant token's
// doclist holds all of the tenant's events and a query can drive the join
// with FTS5's NOT (a negated term then excludes only events holding it).
func IndexBody(tid int64, words string, cols []ColRow, rows []FVRow) string {
	if len(rows) == 0 && len(cols) == 0 {
		if words == "" {
			return TenantToken(tid)
		}
		return words
	}
	// One buffer for the row; each field's token is spelled once (field)
	// and copied into its value, number, prefix and field tokens.
	b := make([]byte, 0, 1024)
	if words == "" {
		b = strconv.AppendInt(append(b, "§t"...), tid, 10) // TenantToken
	} else {
		b = append(b, words...)
	}
	var field []byte
	for _, c := range cols {
		field = fieldToken(field[:0], c.Col)
		if c.Mag {
			b = appendMagnitudeToken(append(b, ' '), field, c.V) // MagnitudeToken
			continue
		}
		b = valueToken(append(b, ' '), field, c.V) // ColumnToken
	}
	for i, r := range rows {
		// A field's rows are mostly together (the leaves of an array): its
		// code is spelled, and its field token written, once per run. (A
		// field token repeated in a row costs FTS5 a little, nothing more:
		// without positions a row holds each term once.)
		run := i == 0 || r.F != rows[i-1].F
		if run {
			field = fieldToken(field[:0], r.F)
		}
		if HasValueToken(r.F, r.V) {
			b = valueToken(append(b, ' '), field, r.V)
		} else {
			b = appendHeadToken(append(b, ' '), field, r.V)
		}
		if r.N != nil {
			b = numberToken(append(b, ' '), field, *r.N)
			b = appendMagnitudeTokens(b, field, *r.N)
		} else if r.Prefixes != nil {
			for _, p := range r.Prefixes {
				b = appendPrefixToken(append(b, ' '), field, p)
			}
		} else {
			slashPrefixes(r.V, func(p string) { b = appendPrefixToken(append(b, ' '), field, p) })
		}
		if run {
			b = append(append(b, ' '), field...)
		}
	}
	return string(b)
}

// HasValueToken reports whether a row of field f whose stored value is v
// has a value token. A long value (over MaxIndexValueLen bytes, stored as
// its clear prefix and a hash) of a field whose words are in the full-text
// index (WordsField) has none: such values are nearly all distinct — at
// 1 M bench events their tokens were ~100 bytes each, 87 bytes an event,
// a fifth of the full-text index. It has a head token instead (its first
// HeadLen bytes): a prefix of up to HeadLen bytes stays exact, and an
// equality or a longer prefix is narrowed by the head and the value's
// longest words, which the index holds (Match decides; docs/benchmarks.md,
// "Sixteenth pass"). The field token and the directory prefix tokens of
// such a value stay. A blind value is a 25-byte keyed hash: it always has
// its token.
func HasValueToken(f, v string) bool {
	return len(v) <= MaxIndexValueLen || !WordsField(f)
}

// HeadLen is the length in bytes of a head token's part of its value.
const HeadLen = 16

// appendHeadToken appends the head token of stored value v (a long value, or a
// query's prefix of one) to dst, given its field's token: headMark and the
// first HeadLen bytes of v in token text (bytes, not runes: token text
// spells each byte, so a head may end inside a rune).
func appendHeadToken(dst, field []byte, v string) []byte {
	return appendTokenText(append(append(dst, field...), headMark...), v[:min(len(v), HeadLen)])
}

// HeadToken is the head token of a long value v (or a prefix of one) at
// path f.
func HeadToken(f, v string) string { return string(appendHeadToken(nil, fieldToken(nil, f), v)) }

// WordsField reports whether the words of field path f's values are in
// the full-text index (FTSText): content, error, and every scalar under
// arguments and result.
func WordsField(f string) bool {
	switch f {
	case "content", "error", "arguments", "result":
		return true
	}
	return strings.HasPrefix(f, "arguments.") || strings.HasPrefix(f, "result.")
}

// NumberRows returns the rows that go to the fv table, which numeric
// comparisons read: those with N.
func NumberRows(rows []FVRow) []FVRow {
	var out []FVRow
	for _, r := range rows {
		if r.N != nil {
			out = append(out, r)
		}
	}
	return out
}

// eachLeaf calls fn with the path and value of every non-null scalar leaf
// in v, whose own path is path.
func eachLeaf(path string, v *strictjson.Value, fn func(string, *strictjson.Value)) {
	switch v.Kind {
	case strictjson.String, strictjson.Number, strictjson.Bool:
		fn(path, v)
	case strictjson.Array:
		for i := range v.Items {
			eachLeaf(path, &v.Items[i], fn)
		}
	case strictjson.Object:
		for i := range v.Members {
			m := &v.Members[i]
			eachLeaf(path+"."+m.Key, &m.Value, fn)
		}
	}
}

// leafNumber returns the value of a Number leaf when it is finite.
func leafNumber(v *strictjson.Value) (float64, bool) {
	if v.Kind != strictjson.Number {
		return 0, false
	}
	return parseNumber(v.Str)
}

// parseNumber parses s as a finite float64, the one definition of "a
// number" shared by the parser, the matcher and the indexer.
func parseNumber(s string) (float64, bool) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, false
	}
	return x, true
}
