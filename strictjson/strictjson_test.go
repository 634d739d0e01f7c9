package strictjson

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in, want string
		offset   int
	}{
		{`{"a":1,"a":2}`, `duplicate key "a"`, 7},
		{"\"\xff\"", "invalid UTF-8", 1},
		{`"\ud800"`, "lone UTF-16 surrogate", 7},
		{`"\udc00\ud800"`, "lone UTF-16 surrogate", 7},
		{`"\ud800\u0041"`, "lone UTF-16 surrogate", 7},
		{`{"a":1} x`, "unexpected data", 8},
		{`{"a":01}`, "expected ',' or '}'", 6},
		{`[1,]`, "unexpected character", 3},
		{`"a` + "\n" + `"`, "control character", 2},
		{`{"a" 1}`, "expected ':'", 5},
		{`1.`, "digits expected after '.'", 2},
		{`1e`, "digits expected in exponent", 2},
		{`tru`, "invalid literal", 0},
		{``, "unexpected end", 0},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nesting deeper", MaxDepth},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want a *SyntaxError", tt.in, err)
			}
			if !strings.Contains(se.Msg, tt.want) || se.Offset != tt.offset {
				t.Errorf("Parse(%q) = %q at %d, want %q at %d", tt.in, se.Msg, se.Offset, tt.want, tt.offset)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,false,null],"c":{"z":"x","y":"\u00e9\n"}}`, `{"a":[true,false,null],"b":1,"c":{"y":"é\n","z":"x"}}`},
		{`[1.0, -0, 1e3, 1.5e-7, 12345678901234567890123, 0.1, -0.0, 1E400]`, `[1,0,1000,1.5e-7,12345678901234567890123,0.1,0,1E400]`},
		{`"\ud83d\ude00 \u0001 \"q\" \\ \/"`, "\"😀 \\u0001 \\\"q\\\" \\\\ /\""},
		{` { } `, `{}`},
		{`[]`, `[]`},
	}
	for _, tt := range tests {
		v, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := string(AppendCanonical(nil, v)); got != tt.want {
			t.Errorf("canonical(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseArray(t *testing.T) {
	var got []string
	err := ParseArray([]byte(` [ {"a":1} , "x" ] `), func(i int, v Value, raw []byte) error {
		got = append(got, string(raw))
		return nil
	})
	if err != nil || len(got) != 2 || got[0] != `{"a":1}` || got[1] != `"x"` {
		t.Fatalf("ParseArray = %q, %v", got, err)
	}
	if err := ParseArray([]byte(`[1,2`), func(int, Value, []byte) error { return nil }); err == nil {
		t.Fatal("ParseArray accepted a truncated array")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"type":"prompt","content":"hi"}`, `[1,2.5e3,"\u00e9"]`, `{"a":{"b":[null,true]}}`, `"\ud83d\ude00"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Parse accepted %q, which encoding/json rejects", data)
		}
		c1 := AppendCanonical(nil, v)
		if !json.Valid(c1) {
			t.Fatalf("canonical form %q is not valid JSON", c1)
		}
		v2, err := Parse(c1)
		if err != nil {
			t.Fatalf("canonical form %q does not re-parse: %v", c1, err)
		}
		if c2 := AppendCanonical(nil, v2); string(c2) != string(c1) {
			t.Fatalf("canonical form is not a fixpoint: %q then %q", c1, c2)
		}
	})
}

// A large object's duplicate-key check stays linear: 200k keys parse
// quickly, and a duplicate among them is still found.
func TestLargeObjectDuplicates(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 200000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	ok := b.String() + "}"
	v, err := Parse([]byte(ok))
	if err != nil || len(v.Members) != 200000 {
		t.Fatalf("Parse of 200k keys: %d members, %v", len(v.Members), err)
	}
	if _, err := Parse([]byte(b.String() + `,"k199998":2}`)); err == nil || !strings.Contains(err.Error(), `duplicate key "k199998"`) {
		t.Fatalf("duplicate among 200k keys: %v", err)
	}
	if _, err := Parse([]byte(`{"a":1,"b":2,"a":3}`)); err == nil {
		t.Fatal("duplicate in a small object accepted")
	}
}
