package strictjson

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// plainPrefixRef is plainPrefix one byte at a time.
func plainPrefixRef(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return i
		}
	}
	return len(s)
}

// plainPrefix's eight-bytes-at-a-time test agrees with the byte loop for
// every byte value at every position of strings of up to 20 bytes, over a
// background of each plain byte next to the special ones (a borrow from a
// lower byte must not hide or invent one).
func TestPlainPrefix(t *testing.T) {
	for _, fill := range []byte{'a', ' ', '!', '#', '[', ']', '~', 0x7f, '0'} {
		for n := 0; n <= 20; n++ {
			base := strings.Repeat(string(fill), n)
			if got := plainPrefix(base); got != n {
				t.Fatalf("plainPrefix(%q) = %d, want %d", base, got, n)
			}
			for pos := 0; pos < n; pos++ {
				for c := 0; c < 256; c++ {
					b := []byte(base)
					b[pos] = byte(c)
					if got, want := plainPrefix(string(b)), plainPrefixRef(string(b)); got != want {
						t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
					}
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x60))
			if r.IntN(30) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		if got, want := plainPrefix(string(b)), plainPrefixRef(string(b)); got != want {
			t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
		}
	}
}

// appendStringRef is AppendString one byte at a time (as it was written
// before plainPrefix): the bytes it makes feed hashes and must not change.
func appendStringRef(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\ufffd"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, `\b`...)
		case c == '\f':
			dst = append(dst, `\f`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c < 0x20:
			dst = append(dst, fmt.Sprintf(`\u%04x`, c)...)
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// AppendString writes what the byte-at-a-time encoder wrote, for strings
// of plain text with escapes, control characters, multi-byte and invalid
// UTF-8 at random places; and Parse reads each back.
func TestAppendStringMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "plain text ", `"`, `\`, "\n", "\t", "\x00", "\x1f", "\x7f", "é", "😀", "\xff", "\xe2\x82", "/", "<>&"}
	for range 50000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		got, want := AppendString(nil, s), appendStringRef(nil, s)
		if string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		v, err := Parse(got)
		if err != nil {
			t.Fatalf("Parse(%s): %v", got, err)
		}
		if utf8.ValidString(s) && v.Str != s {
			t.Fatalf("Parse(AppendString(%q)) = %q", s, v.Str)
		}
	}
}

// Parse's string scanning stops at the same byte as before for every
// kind of byte: plain text up to a quote, an escape, a control character
// (refused), invalid UTF-8 (refused), valid multi-byte UTF-8 (kept).
func TestParseStringBytes(t *testing.T) {
	for n := 0; n <= 17; n++ {
		for c := 0; c < 256; c++ {
			s := strings.Repeat("x", n) + string([]byte{byte(c)}) + "yz"
			in := `"` + s + `"`
			v, err := Parse([]byte(in))
			ok := json.Valid([]byte(in)) && utf8.ValidString(in) // Parse also refuses invalid UTF-8
			if (err == nil) != ok {
				t.Fatalf("Parse(%q): err %v, encoding/json valid %v", in, err, ok)
			}
			if err == nil && c != '"' && c != '\\' && v.Str != s {
				t.Fatalf("Parse(%q) = %q", in, v.Str)
			}
		}
	}
}

// Objects of every size up to past smallObject, their members in random
// order, come out sorted by key (bytewise), whatever the order in.
func TestCanonicalSortsMembers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n <= smallObject+8; n++ {
		for range 20 {
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("%c%d", 'a'+r.IntN(26), i)
			}
			r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			v := Value{Kind: Object}
			for _, k := range keys {
				v.Members = append(v.Members, Member{Key: k, Value: Value{Kind: String, Str: "v" + k}})
			}
			in := slices.Clone(v.Members)
			slices.Sort(keys)
			var want strings.Builder
			want.WriteString("{")
			for i, k := range keys {
				if i > 0 {
					want.WriteString(",")
				}
				fmt.Fprintf(&want, `"%s":"v%s"`, k, k)
			}
			want.WriteString("}")
			if got := string(AppendCanonical(nil, v)); got != want.String() {
				t.Fatalf("%d members: canonical = %s, want %s", n, got, want.String())
			}
			if !slices.EqualFunc(in, v.Members, func(a, b Member) bool { return a.Key == b.Key }) {
				t.Fatalf("%d members: AppendCanonical reordered its argument", n)
			}
		}
	}
}

var benchEvent = []byte(`{"id":"01KB0000000000000000000000","type":"tool_call","timestamp":"2026-01-31T14:22:34.123Z","session_id":"sess_abc123","user_id":"user_jane","agent_id":"agent_prod_main","tool":"send_email","arguments":{"body":"The invoice for order 1234 is late; please advise on the delayed shipment.","subject":"Shipment Delay Inquiry","to":"support@vendor.com"},"status":"success","duration_ms":892}`)

func BenchmarkParse(b *testing.B) {
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		if _, err := Parse(benchEvent); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendCanonical(b *testing.B) {
	v, err := Parse(benchEvent)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCanonical(buf[:0], v)
	}
}
