package strictjson

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Parse accepts.
const MaxDepth = 64

// SyntaxError reports malformed input at a byte offset.
type SyntaxError struct {
	Offset int    // byte offset of the problem in the input
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Parse decodes exactly one JSON value from data (surrounding whitespace is
// allowed, anything else after the value is an error).
func Parse(data []byte) (Value, error) {
	d := decoder{data: data, src: string(data)}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return Value{}, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return Value{}, d.errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// ParseArray decodes a top-level JSON array and calls fn for each element
// with its index and its byte range in data; it stops at the first error
// returned by fn or found in the input.
func ParseArray(data []byte, fn func(i int, v Value, raw []byte) error) error {
	d := decoder{data: data, src: string(data)}
	d.skipSpace()
	if !d.consume('[') {
		return d.errorf("expected '['")
	}
	d.skipSpace()
	if d.consume(']') {
		return d.trailer()
	}
	for i := 0; ; i++ {
		d.skipSpace()
		start := d.pos
		v, err := d.value(1)
		if err != nil {
			return err
		}
		if err := fn(i, v, data[start:d.pos]); err != nil {
			return err
		}
		d.skipSpace()
		if d.consume(']') {
			return d.trailer()
		}
		if !d.consume(',') {
			return d.errorf("expected ',' or ']' after array element")
		}
	}
}

type decoder struct {
	data []byte
	// src is data as one string, copied once: strings without escapes are
	// sliced from it rather than allocated one by one.
	src string
	pos int
}

func (d *decoder) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) trailer() error {
	d.skipSpace()
	if d.pos != len(d.data) {
		return d.errorf("unexpected data after the JSON value")
	}
	return nil
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *decoder) value(depth int) (Value, error) {
	if d.pos >= len(d.data) {
		return Value{}, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, err := d.str()
		return Value{Kind: String, Str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return d.literal("true", Value{Kind: Bool, Str: "true"})
	case c == 'f':
		return d.literal("false", Value{Kind: Bool, Str: "false"})
	case c == 'n':
		return d.literal("null", Value{Kind: Null})
	default:
		return Value{}, d.errorf("unexpected character %q", rune(c))
	}
}

func (d *decoder) literal(word string, v Value) (Value, error) {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return v, nil
	}
	return Value{}, d.errorf("invalid literal")
}

func (d *decoder) object(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, d.errorf("nesting deeper than %d", MaxDepth)
	}
	d.pos++ // '{'
	v := Value{Kind: Object}
	d.skipSpace()
	if d.consume('}') {
		return v, nil
	}
	v.Members = make([]Member, 0, memberCap(depth))
	var seen map[string]struct{} // for large objects: keeps the duplicate check linear
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return Value{}, d.errorf("expected a string key")
		}
		keyPos := d.pos
		key, err := d.str()
		if err != nil {
			return Value{}, err
		}
		if isDuplicate(&v, &seen, key) {
			return Value{}, &SyntaxError{Offset: keyPos, Msg: fmt.Sprintf("duplicate key %q", key)}
		}
		d.skipSpace()
		if !d.consume(':') {
			return Value{}, d.errorf("expected ':' after object key")
		}
		d.skipSpace()
		mv, err := d.value(depth)
		if err != nil {
			return Value{}, err
		}
		v.Members = append(v.Members, Member{Key: key, Value: mv})
		d.skipSpace()
		if d.consume('}') {
			return v, nil
		}
		if !d.consume(',') {
			return Value{}, d.errorf("expected ',' or '}' in object")
		}
	}
}

// isDuplicate reports whether key is already a member of v: by scanning
// while v is small, by a set once it grows (so that an object of 100k keys
// costs 100k lookups, not 5·10⁹ comparisons).
func isDuplicate(v *Value, seen *map[string]struct{}, key string) bool {
	const small = 16
	if len(v.Members) < small {
		_, dup := v.Get(key)
		return dup
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*small)
		for _, m := range v.Members {
			(*seen)[m.Key] = struct{}{}
		}
	}
	if _, dup := (*seen)[key]; dup {
		return true
	}
	(*seen)[key] = struct{}{}
	return false
}

// memberCap guesses an object's size: an event has a dozen or so members,
// nested objects a few.
func memberCap(depth int) int {
	if depth == 1 {
		return 16
	}
	return 4
}

func (d *decoder) array(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, d.errorf("nesting deeper than %d", MaxDepth)
	}
	d.pos++ // '['
	v := Value{Kind: Array}
	d.skipSpace()
	if d.consume(']') {
		v.Items = []Value{}
		return v, nil
	}
	for {
		d.skipSpace()
		item, err := d.value(depth)
		if err != nil {
			return Value{}, err
		}
		v.Items = append(v.Items, item)
		d.skipSpace()
		if d.consume(']') {
			return v, nil
		}
		if !d.consume(',') {
			return Value{}, d.errorf("expected ',' or ']' in array")
		}
	}
}

func (d *decoder) number() (Value, error) {
	start := d.pos
	d.consume('-')
	switch {
	case d.consume('0'):
	case d.pos < len(d.data) && d.data[d.pos] >= '1' && d.data[d.pos] <= '9':
		d.digits()
	default:
		return Value{}, d.errorf("invalid number")
	}
	if d.consume('.') {
		if d.digits() == 0 {
			return Value{}, d.errorf("invalid number: digits expected after '.'")
		}
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if d.digits() == 0 {
			return Value{}, d.errorf("invalid number: digits expected in exponent")
		}
	}
	return Value{Kind: Number, Str: string(d.data[start:d.pos])}, nil
}

func (d *decoder) digits() int {
	n := 0
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
		n++
	}
	return n
}

// str decodes a string starting at the opening quote.
func (d *decoder) str() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes, ASCII or valid UTF-8.
	for d.pos < len(d.data) {
		d.pos += plainPrefix(d.src[d.pos:])
		if d.pos == len(d.data) {
			break
		}
		c := d.data[d.pos]
		if c == '"' {
			s := d.src[start:d.pos]
			d.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.errorf("control character in string")
		}
		r, size := utf8.DecodeRune(d.data[d.pos:])
		if r == utf8.RuneError && size == 1 {
			return "", d.errorf("invalid UTF-8")
		}
		d.pos += size
	}
	if d.pos >= len(d.data) {
		return "", d.errorf("unterminated string")
	}
	buf := append([]byte(nil), d.data[start:d.pos]...)
	return d.strSlow(buf)
}

func (d *decoder) strSlow(buf []byte) (string, error) {
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c == '\\':
			var err error
			if buf, err = d.escape(buf); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.errorf("invalid UTF-8")
			}
			buf = append(buf, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) escape(buf []byte) ([]byte, error) {
	if d.pos+1 >= len(d.data) {
		return nil, d.errorf("unterminated escape")
	}
	c := d.data[d.pos+1]
	if r, ok := simpleEscape(c); ok {
		d.pos += 2
		return append(buf, r), nil
	}
	if c != 'u' {
		return nil, d.errorf("invalid escape \\%c", c)
	}
	r, err := d.hex4(d.pos + 2)
	if err != nil {
		return nil, err
	}
	d.pos += 6
	if utf16.IsSurrogate(r) {
		if r >= 0xDC00 || d.pos+1 >= len(d.data) || d.data[d.pos] != '\\' || d.data[d.pos+1] != 'u' {
			return nil, d.errorf("lone UTF-16 surrogate")
		}
		r2, err := d.hex4(d.pos + 2)
		if err != nil {
			return nil, err
		}
		if r2 < 0xDC00 || r2 > 0xDFFF {
			return nil, d.errorf("lone UTF-16 surrogate")
		}
		d.pos += 6
		r = utf16.DecodeRune(r, r2)
	}
	return utf8.AppendRune(buf, r), nil
}

func (d *decoder) hex4(at int) (rune, error) {
	if at+4 > len(d.data) {
		return 0, &SyntaxError{Offset: at, Msg: "truncated \\u escape"}
	}
	n, err := strconv.ParseUint(string(d.data[at:at+4]), 16, 32)
	if err != nil {
		return 0, &SyntaxError{Offset: at, Msg: "invalid \\u escape"}
	}
	return rune(n), nil
}

func simpleEscape(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}
