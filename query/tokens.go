package query

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// Tokenize splits s into full-text tokens: maximal runs of letters and
// numbers (unicode.IsLetter, unicode.IsDigit, unicode.IsNumber), each
// lowercased with strings.ToLower. Every other rune, and every byte that is
// not valid UTF-8, separates tokens. The matcher, the SQLite compiler and the
// indexer all tokenize with this function, so they agree exactly.
func Tokenize(s string) []string {
	return appendTokens(nil, s)
}

// appendTokens appends the tokens of s to dst.
func appendTokens(dst []string, s string) []string {
	start := -1
	for i := 0; i < len(s); {
		var word bool
		size := 1
		if c := s[i]; c < utf8.RuneSelf { // ASCII: what isTokenRune says of it, without the tables
			word = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			word = (r != utf8.RuneError || size > 1) && isTokenRune(r)
		}
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			dst = append(dst, strings.ToLower(s[start:i]))
			start = -1
		}
		i += size
	}
	if start >= 0 {
		dst = append(dst, strings.ToLower(s[start:]))
	}
	return dst
}

func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r)
}

// FTSText returns the text the full-text index holds for e: the tokens of
// Content, of every scalar under Arguments (members in input order, arrays
// element by element, keys left out; strings, number literals, booleans), of
// every scalar under Result (the same walk), and of Error, in that order,
// joined by single spaces. A phrase may therefore match across the boundary
// of two fields.
func FTSText(e *clawtrail.Event) string {
	return strings.Join(ftsTokens(e), " ")
}

// IndexText returns the body of e's row in the full-text index of tenant
// tid: the tenant's token, then each distinct token of FTSText once (the
// index keeps no positions or counts, so repeats would only cost time).
// It is empty when e has no words: such events need no row.
func IndexText(tid int64, e *clawtrail.Event) string {
	toks := ftsTokens(e)
	if len(toks) == 0 {
		return ""
	}
	seen := seenPool.Get().(map[string]struct{})
	defer func() {
		if len(seen) <= 1024 { // a large set goes: it would stay large, and slow to clear
			clear(seen)
			seenPool.Put(seen)
		}
	}()
	n := 0
	for _, t := range toks {
		n += 1 + len(t)
	}
	b := make([]byte, 0, n+24)
	b = append(b, TenantToken(tid)...)
	for _, t := range toks {
		if _, dup := seen[t]; dup {
			continue
		}
		seen[t] = struct{}{}
		b = append(append(b, ' '), t...)
	}
	return string(b)
}

// seenPool holds IndexText's sets of the words written (cleared after use).
var seenPool = sync.Pool{New: func() any { return map[string]struct{}{} }}

// ftsTokens returns the token sequence of FTSText(e).
func ftsTokens(e *clawtrail.Event) []string {
	toks := appendTokens(nil, e.Content)
	toks = appendScalarTokens(toks, e.Arguments)
	toks = appendScalarTokens(toks, e.Result)
	return appendTokens(toks, e.Error)
}

// appendScalarTokens appends the tokens of every non-null scalar in v.
func appendScalarTokens(dst []string, v *strictjson.Value) []string {
	if v == nil {
		return dst
	}
	switch v.Kind {
	case strictjson.String, strictjson.Number, strictjson.Bool:
		return appendTokens(dst, v.Str)
	case strictjson.Array:
		for i := range v.Items {
			dst = appendScalarTokens(dst, &v.Items[i])
		}
	case strictjson.Object:
		for i := range v.Members {
			dst = appendScalarTokens(dst, &v.Members[i].Value)
		}
	}
	return dst
}

// containsPhrase reports whether toks holds phrase as consecutive tokens;
// with prefix, the last phrase token need only be a prefix of its token.
func containsPhrase(toks, phrase []string, prefix bool) bool {
	n := len(phrase)
	for i := 0; i+n <= len(toks); i++ {
		if phraseAt(toks[i:i+n], phrase, prefix) {
			return true
		}
	}
	return false
}

func phraseAt(toks, phrase []string, prefix bool) bool {
	last := len(phrase) - 1
	for j := 0; j < last; j++ {
		if toks[j] != phrase[j] {
			return false
		}
	}
	if prefix {
		return strings.HasPrefix(toks[last], phrase[last])
	}
	return toks[last] == phrase[last]
}
