package strictjson

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AppendCanonical appends the canonical encoding of v to dst: object members
// sorted by key (bytewise), no whitespace, strings as by AppendString,
// numbers as by CanonicalNumber.
//
// IMPORTANT: these bytes feed hashes (docs/ledger.md); never change them.
func AppendCanonical(dst []byte, v Value) []byte {
	switch v.Kind {
	case Null:
		return append(dst, "null"...)
	case Bool:
		return append(dst, v.Str...)
	case Number:
		return append(dst, CanonicalNumber(v.Str)...)
	case String:
		return AppendString(dst, v.Str)
	case Array:
		dst = append(dst, '[')
		for i, item := range v.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendCanonical(dst, item)
		}
		return append(dst, ']')
	case Object:
		members := v.Members
		if !slices.IsSortedFunc(members, compareMembers) {
			members = slices.Clone(members)
			slices.SortFunc(members, compareMembers)
		}
		dst = append(dst, '{')
		for i, m := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, m.Key)
			dst = append(dst, ':')
			dst = AppendCanonical(dst, m.Value)
		}
		return append(dst, '}')
	}
	return dst
}

func compareMembers(a, b Member) int { return strings.Compare(a.Key, b.Key) }

// CanonicalNumber normalises a JSON number literal: an integer literal is
// kept as written ("-0" becomes "0"); any other literal is parsed as a
// float64 and written in its shortest form, without an exponent when it is
// an integer below 1e21. A literal out of float64 range is kept as written.
func CanonicalNumber(lit string) string {
	if isIntegerLiteral(lit) {
		if lit == "-0" {
			return "0"
		}
		return lit
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return lit
	}
	if f == 0 {
		return "0"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	// Exponents without a leading zero, as ECMAScript (and RFC 8785) write them.
	s := strconv.FormatFloat(f, 'g', -1, 64)
	s = strings.Replace(s, "e-0", "e-", 1)
	return strings.Replace(s, "e+0", "e+", 1)
}

func isIntegerLiteral(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string: '"' and '\\' are escaped, control
// characters below U+0020 use \b \f \n \r \t or \u00XX, everything else is
// kept as UTF-8. Invalid UTF-8 bytes become U+FFFD (Parse never yields them).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// CanonicalFloat writes f as CanonicalNumber writes a non-integer literal.
func CanonicalFloat(f float64) string {
	return CanonicalNumber(strconv.FormatFloat(f, 'g', -1, 64))
}
