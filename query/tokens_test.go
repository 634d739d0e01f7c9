package query

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clawtrail/clawtrail"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"---", nil},
		{"Send an email", []string{"send", "an", "email"}},
		{"support@vendor.com", []string{"support", "vendor", "com"}},
		{"send_email", []string{"send", "email"}},
		{"v1.2-beta", []string{"v1", "2", "beta"}},
		{"Grüße aus Köln", []string{"grüße", "aus", "köln"}},
		{"東京タワー", []string{"東京タワー"}},
		{"ΣΊΣΥΦΟΣ", []string{"σίσυφοσ"}},
		{"x² ½ ١٢٣", []string{"x²", "½", "١٢٣"}},
		{"İstanbul", []string{"istanbul"}}, // Go lowercases İ to i (simple case mapping)
		{"a\xffb", []string{"a", "b"}},
		{"a\uFFFDb", []string{"a", "b"}},
		{"🙂ok€x", []string{"ok", "x"}},
		{"tab\tnew\nline", []string{"tab", "new", "line"}},
	}
	for _, tt := range tests {
		if got := Tokenize(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFTSText(t *testing.T) {
	e := &clawtrail.Event{
		Content:   "Send it",
		Tool:      "send_email", // not full text
		Arguments: jsonValue(t, `{"to": ["A@x.com", null], "n": 1.5e3, "ok": true, "sub": {"key": "Val"}}`),
		Result:    jsonValue(t, `"Done!"`),
		Error:     "Permission denied",
		Reason:    "not full text",
	}
	want := "send it a x com 1 5e3 true val done permission denied"
	if got := FTSText(e); got != want {
		t.Errorf("FTSText = %q, want %q", got, want)
	}
	if got := FTSText(&clawtrail.Event{}); got != "" {
		t.Errorf("FTSText of an empty event = %q, want empty", got)
	}
}

func TestIndexValue(t *testing.T) {
	short := strings.Repeat("a", MaxIndexValueLen)
	if got := IndexValue(short); got != short {
		t.Errorf("IndexValue of %d bytes changed it to %q", MaxIndexValueLen, got)
	}
	long := strings.Repeat("a", 201)
	want := strings.Repeat("a", MaxIndexValueLen) + "\x00" + "a92efd82109373e58f9a2056dee01e80" // sha256sum, first 16 bytes
	if got := IndexValue(long); got != want {
		t.Errorf("IndexValue(201 × a) = %q, want %q", got, want)
	}
	// "é" is two bytes: 63 bytes of "a" then "é" straddles byte 64.
	straddle := strings.Repeat("a", MaxIndexValueLen-1) + "é" + "tail"
	got := IndexValue(straddle)
	head, _, _ := strings.Cut(got, "\x00")
	if head != strings.Repeat("a", MaxIndexValueLen-1) || !utf8.ValidString(head) {
		t.Errorf("IndexValue cut at %d bytes (%q), want %d at a rune boundary", len(head), head, MaxIndexValueLen-1)
	}
	if IndexValue(long+"b") == IndexValue(long+"c") {
		t.Error("long values differing after the kept prefix have the same IndexValue")
	}
}

func TestFVRows(t *testing.T) {
	e := &clawtrail.Event{
		Content:    "hi",
		Error:      "",
		Reason:     "why",
		Arguments:  jsonValue(t, `{"to": ["5", 5, null], "a.b": true, "a": {"b": "x"}, "items": [{"n": 1}, {"n": 2}], "e": ""}`),
		Result:     jsonValue(t, `[7, "seven"]`),
		Usage:      jsonValue(t, `{"input_tokens": 1e400}`),
		Attributes: jsonValue(t, `{"http": {"route": "/r"}}`),
	}
	type row struct {
		F, V string
		N    float64
		HasN bool
	}
	var got []row
	for _, r := range FVRows(e) {
		x := row{F: r.F, V: r.V}
		if r.N != nil {
			x.N, x.HasN = *r.N, true
		}
		got = append(got, x)
	}
	want := []row{
		{F: "content", V: "hi"},
		{F: "reason", V: "why"},
		{F: "arguments.to", V: "5", N: 5, HasN: true}, // "5" and 5 share a row, which keeps the number
		{F: "arguments.a.b", V: "true"},
		{F: "arguments.a.b", V: "x"},
		{F: "arguments.items.n", V: "1", N: 1, HasN: true},
		{F: "arguments.items.n", V: "2", N: 2, HasN: true},
		{F: "arguments.e", V: ""},
		{F: "result", V: "7", N: 7, HasN: true},
		{F: "result", V: "seven"},
		{F: "usage.input_tokens", V: "1e400"}, // not finite: no number
		{F: "attributes.http.route", V: "/r"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("FVRows =\n%v\nwant\n%v", got, want)
	}
}

func TestIndexText(t *testing.T) {
	e := &clawtrail.Event{Content: "The cat saw the other cat", Error: "cat"}
	if got, want := IndexText(7, e), "§t7 the cat saw other"; got != want {
		t.Errorf("IndexText = %q, want %q", got, want)
	}
	if got := IndexText(7, &clawtrail.Event{Content: "---"}); got != "" {
		t.Errorf("IndexText without words = %q, want empty", got)
	}
	if toks := Tokenize(TenantToken(7)); len(toks) != 1 || toks[0] == TenantToken(7) {
		t.Errorf("Tokenize(%q) = %q: text could forge the tenant token", TenantToken(7), toks)
	}
}

func TestIndexBody(t *testing.T) {
	n := 42.0
	rows := []FVRow{{F: "arguments.to", V: "a@b.c"}, {F: "arguments.to", V: "d"}, {F: "usage.x", V: "42", N: &n}}
	want := "§t7 cat §argumentsĮto§aŀbĮc §argumentsĮto §argumentsĮto§d §usageĮx§42 §usageĮx§¹42 §usageĮx§°p5 §usageĮx§°p5s6 §usageĮx§°p5s6t4 §usageĮx"
	if got := IndexBody(7, "§t7 cat", nil, rows); got != want {
		t.Errorf("IndexBody =\n%q\nwant\n%q", got, want)
	}
	// A long value of a words field has no value token (its words narrow),
	// but keeps its directory prefixes and field token; a long value of
	// another field (reason, attributes.*) keeps its value token.
	longV := IndexValue("/a/" + strings.Repeat("x", 80))
	longRows := []FVRow{{F: "content", V: longV}, {F: "result.out", V: longV}, {F: "reason", V: longV}, {F: "attributes.k", V: longV}}
	longBody := IndexBody(7, "§t7", nil, longRows)
	for _, r := range longRows {
		if has := strings.Contains(longBody, ValueToken(r.F, r.V)); has != !WordsField(r.F) {
			t.Errorf("IndexBody of a long %s value: value token present %v", r.F, has)
		}
		if has := strings.Contains(longBody, HeadToken(r.F, r.V)+" "); has != WordsField(r.F) {
			t.Errorf("IndexBody of a long %s value: head token present %v", r.F, has)
		}
		if !strings.Contains(longBody, prefixToken(r.F, "/a/")) || !strings.Contains(longBody, FieldToken(r.F)+" ") && !strings.HasSuffix(longBody, FieldToken(r.F)) {
			t.Errorf("IndexBody of a long %s value = %q: want its prefix and field tokens", r.F, longBody)
		}
	}
	if !strings.Contains(IndexBody(7, "§t7", nil, []FVRow{{F: "content", V: "short"}}), ValueToken("content", "short")) {
		t.Error("IndexBody of a short content value has no value token")
	}
	// Values without words still carry the tenant token; nothing stays nothing.
	if got := IndexBody(7, "", nil, rows[1:2]); got != "§t7 §argumentsĮto§d §argumentsĮto" {
		t.Errorf("IndexBody without words = %q", got)
	}
	// An event with nothing to index still has the tenant token: every
	// event has an fts row (FTS5's NOT drives from the tenant's doclist).
	if got := IndexBody(7, "", nil, nil); got != "§t7" {
		t.Errorf("IndexBody of nothing = %q, want the tenant token", got)
	}
	// A session id alone still gives a row, with the tenant token.
	if got, want := IndexBody(7, "", []ColRow{{Col: "session_id", V: "s1"}}, nil), "§t7 §sessionşid§s1"; got != want {
		t.Errorf("IndexBody of a session id = %q, want %q", got, want)
	}
	if got, want := IndexBody(7, "§t7 cat", []ColRow{{Col: "session_id", V: "s1"}}, rows[1:2]), "§t7 cat §sessionşid§s1 §argumentsĮto§d §argumentsĮto"; got != want {
		t.Errorf("IndexBody with a session id = %q, want %q", got, want)
	}
	// Every token column of an event, in stored form, blinded in a blind
	// index; type, tool, status, channel, id and span_id are not.
	// The numeric columns' magnitude classes follow, in clear either way.
	dur, size := 1500.0, int64(-3)
	e := &clawtrail.Event{ID: "ev1", Type: "tool_call", Tool: "exec", Status: "ok", SessionID: "s1", UserID: "alice",
		TraceID: "t1", SpanID: "sp1", KeyID: "k1", Channel: "cli", Path: strings.Repeat("p", 70), DurationMS: &dur, Bytes: &size}
	cols := ColumnRows(e, nil)
	wantCols := []ColRow{{Col: "session_id", V: "s1"}, {Col: "user_id", V: "alice"}, {Col: "trace_id", V: "t1"},
		{Col: "key_id", V: "k1"}, {Col: "path", V: IndexValue(e.Path)}, {Col: "span_id", V: "hba45", Mag: true}, {Col: "duration_ms", V: "p10", Mag: true}, {Col: "duration_ms", V: "p10s8", Mag: true}, {Col: "duration_ms", V: "p10s8t12", Mag: true},
		{Col: "bytes", V: "m", Mag: true}}
	if !slices.Equal(cols, wantCols) {
		t.Errorf("ColumnRows = %v, want %v", cols, wantCols)
	}
	blind := func(f, v string) string { return "B" + f + "=" + v }
	if got := ColumnRows(e, blind); got[1] != (ColRow{Col: "user_id", V: "Buser_id=alice"}) || got[4].V != "Bpath="+IndexValue(e.Path) ||
		got[5] != (ColRow{Col: "span_id", V: spanBucket("Bspan_id=sp1"), Mag: true}) || got[5] == wantCols[5] || got[7] != wantCols[7] {
		t.Errorf("blind ColumnRows = %v", got)
	}
	if got, want := IndexBody(7, "", cols[6:9], nil), "§t7 §durationşms§°p10 §durationşms§°p10s8 §durationşms§°p10s8t12"; got != want {
		t.Errorf("IndexBody of a duration = %q, want %q", got, want)
	}
	if got, want := IndexBody(7, "", cols[1:2], nil), "§t7 §userşid§alice"; got != want {
		t.Errorf("IndexBody of a user id = %q, want %q", got, want)
	}
	for x, want := range map[float64]string{42: "42", 4.2e-7: "4.2e-07", math.Copysign(0, -1): "0", 1e21: "1e+21"} {
		if got := NumberToken("n", x); got != FieldToken("n")+"§¹"+tokenText(want) {
			t.Errorf("NumberToken(%v) = %q, want the token text of %q", x, got, want)
		}
	}
	// A string value holding "/" also carries a prefix token per "/" of its
	// clear part (the value itself when it ends with one); numbers do not.
	path := "arguments.p"
	long := "/a/" + strings.Repeat("b", 70) + "/c"
	got := IndexBody(7, "", nil, []FVRow{{F: path, V: "/home/x/"}, {F: path, V: IndexValue(long)}})
	var prefixes []string
	for _, tok := range strings.Fields(got) {
		if p, ok := strings.CutPrefix(tok, FieldToken(path)+"§²"); ok {
			prefixes = append(prefixes, fromTokenText(t, p))
		}
	}
	if want := []string{"/", "/home/", "/home/x/", "/", "/a/"}; !slices.Equal(prefixes, want) {
		t.Errorf("prefix tokens of %q = %q, want %q", got, prefixes, want)
	}
	if got := NumberRows(rows); len(got) != 1 || got[0].F != "usage.x" {
		t.Errorf("NumberRows = %v", got)
	}
	// A long path is named by a hash, distinct from any path in token text.
	longPath := "attributes." + strings.Repeat("k", 100)
	if tok := FieldToken(longPath); len(tok) != len("§³")+32 || !strings.HasPrefix(tok, "§³") || tok == FieldToken(longPath+"x") {
		t.Errorf("FieldToken(long path) = %q", tok)
	}
}

func tokenText(s string) string { return string(appendTokenText(nil, s)) }

// fromTokenText decodes token text (the test's own decoder: the index
// never needs one).
func fromTokenText(t *testing.T, s string) string {
	t.Helper()
	var out []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			out = append(out, c)
		case c >= 0xC4 && c <= 0xC7 && i+1 < len(s) && s[i+1]&0xC0 == 0x80:
			out = append(out, byte((int(c&0x1F)<<6|int(s[i+1]&0x3F))-0x100))
			i++
		default:
			t.Fatalf("%q: byte %#x at %d is not token text", s, c, i)
		}
	}
	return string(out)
}

// Token text: ASCII lower case and digits as themselves, every other byte
// as a character of U+0100–U+01FF. It must be one token for FTS5's ascii
// tokenizer (ASCII letters and digits, non-ASCII bytes), never hold an
// ASCII upper-case letter (folded by it) or a double quote, decode back to
// the value byte for byte, keep a byte prefix a prefix, and never start
// with the markers' lead byte C2.
func TestTokenText(t *testing.T) {
	for v, want := range map[string]string{"abc09": "abc09", "A": "\u0141", "/a b": "\u012fa\u0120b", "é": "\u01c3\u01a9", "\"": "\u0122", "": ""} {
		if got := tokenText(v); got != want {
			t.Errorf("tokenText(%q) = %q, want %q", v, got, want)
		}
	}
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	values := []string{"/", "/home/agent/x.go", "git status", "Hello, World!", "naïve 東京", "a\x00b\xff", string(all), "nfoo", "p/x"}
	for _, v := range values {
		tok := tokenText(v)
		if got := fromTokenText(t, tok); got != v {
			t.Errorf("%q: decodes to %q", v, got)
		}
		for i := range len(tok) {
			c := tok[i]
			if c < 0x80 && !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
				t.Errorf("%q: token text %q holds %q, which FTS5 would split at or fold", v, tok, c)
			}
		}
		if tok != "" && tok[0] == 0xC2 {
			t.Errorf("%q: token text starts with the markers' lead byte", v)
		}
		for i := range len(v) {
			if !strings.HasPrefix(tok, tokenText(v[:i])) {
				t.Errorf("%q: the token text of its first %d bytes is not a prefix of its own", v, i)
			}
		}
	}
	// Value, number and prefix tokens of one field never coincide, whatever
	// the value: the markers after the field's code differ.
	for _, v := range values {
		if ValueToken("f", v) == NumberToken("f", 42) || ValueToken("f", v) == prefixToken("f", "/") || ValueToken("f", "n"+v) == NumberToken("f", 0) {
			t.Errorf("%q: a value token equals a number or prefix token", v)
		}
	}
	if ValueToken("f", "¹42") == NumberToken("f", 42) || ValueToken("f", "²/") == prefixToken("f", "/") {
		t.Error("a value holding a marker's character forges a number or prefix token")
	}
}

func TestPrefixQueryToken(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/home/agent/": true, "https://x.com/": true, "": false, "/home": false,
		strings.Repeat("a", prefixTokenMax-1) + "/": true, strings.Repeat("a", prefixTokenMax) + "/": false,
	} {
		tok, ok := prefixQueryToken("f", p)
		if ok != want || (ok && tok != prefixToken("f", p)) {
			t.Errorf("prefixQueryToken(%q) = %q, %v; want ok %v", p, tok, ok, want)
		}
	}
	// Every value starting with a prefix short enough to be queried by its
	// token carries that token, however the value's clear part was cut.
	p := strings.Repeat("a", prefixTokenMax-1) + "/"
	for _, v := range []string{p, p + "x", p + strings.Repeat("é", 40), p + "🙂🙂🙂🙂"} {
		if body := IndexBody(1, "", nil, []FVRow{{F: "f", V: IndexValue(v)}}); !slices.Contains(strings.Fields(body), prefixToken("f", p)) {
			t.Errorf("the tokens of %q lack the prefix token of %q", v, p)
		}
	}
}

// BenchmarkIndexBody: the fts row of a tool call with a few arguments, a
// result, a session, a user and a trace (the indexer's read-ahead builds
// one per event).
func BenchmarkIndexBody(b *testing.B) {
	e, err := clawtrail.ParseEvent([]byte(`{"id":"e1","type":"tool_call","tool":"exec","session_id":"sess_000dff8c4169","user_id":"user_345","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","content":"Run the build and report","arguments":{"command":"git status","path":"/home/agent/project/src/main.go","timeout":30},"result":"exit 0","usage":{"input_tokens":1200,"output_tokens":340}}`))
	if err != nil {
		b.Fatal(err)
	}
	words, cols, rows := IndexText(7, e), ColumnRows(e, nil), FVRows(e)
	b.ReportAllocs()
	for b.Loop() {
		IndexBody(7, words, cols, rows)
	}
}

// Every value x with x op v is in a class magnitudeClasses(op, v) names
// (the drive is a superset), and the classes are narrow: a comparison few
// values meet names few classes.
func TestMagnitudeClasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	edges := []float64{0, 1, -1, 0.5, -0.5, 2, 3, 4, 1023, 1024, 1025, 30000, math.Ldexp(1, 40), math.Ldexp(1, 41), 1e300, -1e300, math.MaxInt64}
	var values []float64
	for _, x := range edges {
		values = append(values, x, math.Nextafter(x, math.Inf(1)), math.Nextafter(x, math.Inf(-1)))
	}
	for range 2000 {
		values = append(values, math.Ldexp(rng.Float64(), rng.IntN(100)-10)*float64(1-2*rng.IntN(2)), float64(rng.IntN(5000)))
	}
	for _, o := range []op{opEq, opLT, opLE, opGT, opGE} {
		for _, v := range values[:200] {
			classes := magnitudeClasses(o, v)
			for _, x := range values {
				tn := &termNode{op: o, num: v}
				of := magnitudeClassesOf(x)
				if tn.compareFloat(x) && !slices.ContainsFunc(of, func(c string) bool { return slices.Contains(classes, c) }) {
					t.Fatal(fmt.Sprintf("x=%v matches %v%v but none of its classes %v is in %v", x, o, v, of, classes))
				}
			}
		}
	}
	for _, c := range []struct {
		o    op
		v    float64
		want string
	}{
		// 30000 is in octave 14's 14th sixteenth (2^14.8125 = 28761 to
		// 2^14.875 = 30048), its last 256th (from 29917).
		{opGT, 30000, "p14s13t15 p14s14 p14s15 p15 p16 p17 p18 p19 p20 p21 p22 p23 p24 p25 p26 p27 p28 p29 p30 p31 p32 p33 p34 p35 p36 p37 p38 p39 p40"},
		{opLE, 4096, "m z p0 p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11 p12s0t0"},
		{opLT, 4096, "m z p0 p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11"},
		{opGE, 2048, "p11 p12 p13 p14 p15 p16 p17 p18 p19 p20 p21 p22 p23 p24 p25 p26 p27 p28 p29 p30 p31 p32 p33 p34 p35 p36 p37 p38 p39 p40"},
		{opEq, 500, "p8s15t7"},
		{opEq, 0, "z"},
		{opLT, -2, "m"},
		{opGE, 1e20, "p40"},
	} {
		if got := strings.Join(magnitudeClasses(c.o, c.v), " "); got != c.want {
			t.Errorf("magnitudeClasses(%v %v) = %s, want %s", c.o, c.v, got, c.want)
		}
	}
	for x, want := range map[float64]string{-1: "m", -0.99: "z", 0: "z", 1: "p0 p0s0 p0s0t0", 1.99: "p0 p0s15 p0s15t14", 2: "p1 p1s0 p1s0t0",
		1500: "p10 p10s8 p10s8t12", 3000: "p11 p11s8 p11s8t12", 1e13: "p40", 1e300: "p40"} {
		if got := strings.Join(magnitudeClassesOf(x), " "); got != want {
			t.Errorf("magnitudeClassesOf(%v) = %s, want %s", x, got, want)
		}
	}

}

// magnitudeClassesOf returns the classes of x: one, or an octave, its
// sixteenth and its 256th.
func magnitudeClassesOf(x float64) []string {
	o, s, f := magnitudeClassNames(x)
	if s == "" {
		return []string{o}
	}
	return []string{o, s, f}
}

// BenchmarkIndexText: the distinct words of a prompt of 45 words (the
// indexer's read-ahead tokenizes every event's text).
func BenchmarkIndexText(b *testing.B) {
	e, err := clawtrail.ParseEvent([]byte(`{"id":"e1","type":"prompt","content":"contract data deadline the to the bekota fusonu shipment mirul the to report file the of viluzifi of to and is warehouse and the ropece cite account in on folder is request report ketinoti gefopi have a please a that it please bugabuto the notes the shipment"}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		IndexText(7, e)
	}
}

// Tokenize's ASCII fast path agrees with isTokenRune on every ASCII byte,
// alone and between words.
func TestTokenizeASCIIMatchesRunes(t *testing.T) {
	for c := range rune(utf8.RuneSelf) {
		want := []string{"ab", "cd"}
		if isTokenRune(c) {
			want = []string{strings.ToLower("ab" + string(c) + "cd")}
		}
		if got := Tokenize("ab" + string(c) + "cd"); !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %q, want %q", "ab"+string(c)+"cd", got, want)
		}
	}
}
