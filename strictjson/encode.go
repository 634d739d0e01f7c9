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
		dst = append(dst, '{')
		switch {
		case slices.IsSortedFunc(members, compareMembers):
			for i := range members {
				dst = appendMember(dst, i, &members[i])
			}
		case len(members) <= smallObject:
			// Sort a permutation on the stack, not a copy of the members
			// (a Member is ~90 bytes): insertion sort, as pdqsort does at
			// this size anyway.
			var buf [smallObject]uint8
			order := buf[:len(members)]
			for i := range order {
				order[i] = uint8(i)
				for j := i; j > 0 && members[order[j]].Key < members[order[j-1]].Key; j-- {
					order[j], order[j-1] = order[j-1], order[j]
				}
			}
			for i, m := range order {
				dst = appendMember(dst, i, &members[m])
			}
		default:
			members = slices.Clone(members)
			slices.SortFunc(members, compareMembers)
			for i := range members {
				dst = appendMember(dst, i, &members[i])
			}
		}
		return append(dst, '}')
	}
	return dst
}

// smallObject is the most members AppendCanonical sorts without a copy.
const smallObject = 32

// appendMember appends the i-th member of a canonical object.
func appendMember(dst []byte, i int, m *Member) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = AppendString(dst, m.Key)
	dst = append(dst, ':')
	return AppendCanonical(dst, m.Value)
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
		i += plainPrefix(s[i:])
		if i == len(s) {
			break
		}
		c := s[i]
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

// plainPrefix returns the length of the longest prefix of s whose bytes a
// JSON string holds as they are: ASCII, not a control character, '"' or
// '\\'. It tests eight bytes at a time (each test below sets a byte's high
// bit exactly when some byte of the word is of its kind: a byte at or over
// 0x80, under 0x20, equal to '"', equal to '\\'), then finds the first
// other byte one at a time.
func plainPrefix(s string) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := x ^ (ones * '"')
		b := x ^ (ones * '\\')
		if (x|((x-ones*0x20)&^x)|((q-ones)&^q)|((b-ones)&^b))&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			break
		}
	}
	return i
}
