package query

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Error is a malformed query. Pos is the byte offset (0-based) in the query
// text where the problem was found.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("query: position %d: %s", e.Pos, e.Msg)
}

func errorf(pos int, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokLParen
	tokRParen
	tokMinus
	tokAnd
	tokOr
	tokNot
	tokWord
)

func (k tokenKind) String() string {
	switch k {
	case tokEOF:
		return "end of query"
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokMinus:
		return `"-"`
	case tokAnd:
		return "AND"
	case tokOr:
		return "OR"
	case tokNot:
		return "NOT"
	}
	return "word"
}

// token is one lexical token. A word keeps its unescaped text with, for each
// byte, whether it was literal (escaped or quoted) and its offset in the
// query, so the parser can find the unescaped ":", "*", ">" and "<" and name
// positions.
type token struct {
	kind     tokenKind
	pos, end int
	word
}

// word is an unescaped word. quotes holds the byte offsets in text where
// each quoted segment began, so that an empty "" is still seen.
type word struct {
	text   string
	lit    []bool
	off    []int
	quotes []int
}

// slice returns bytes [i, j) of w.
func (w word) slice(i, j int) word {
	s := word{text: w.text[i:j], lit: w.lit[i:j], off: w.off[i:j]}
	for _, q := range w.quotes {
		if q >= i && q <= j {
			s.quotes = append(s.quotes, q-i)
		}
	}
	return s
}

// quotedFrom reports whether a quoted segment begins at or after byte i.
func (w word) quotedFrom(i int) bool {
	return len(w.quotes) > 0 && w.quotes[len(w.quotes)-1] >= i
}

// special reports whether byte i of w is the unescaped byte c.
func (w word) special(i int, c byte) bool {
	return i >= 0 && i < len(w.text) && w.text[i] == c && !w.lit[i]
}

// index returns the offset of the first unescaped c in w, or -1.
func (w word) index(c byte) int {
	for i := 0; i < len(w.text); i++ {
		if w.special(i, c) {
			return i
		}
	}
	return -1
}

// lexer turns query text into tokens.
type lexer struct {
	src  string
	pos  int
	toks []token
}

// lex returns the tokens of src, ending with a tokEOF token.
func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for {
		if err := l.skipSpace(); err != nil {
			return nil, err
		}
		if l.pos >= len(src) {
			l.toks = append(l.toks, token{kind: tokEOF, pos: l.pos, end: l.pos})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

// rune decodes the rune at i, rejecting invalid UTF-8.
func (l *lexer) rune(i int) (rune, int, error) {
	r, size := utf8.DecodeRuneInString(l.src[i:])
	if r == utf8.RuneError && size <= 1 {
		return 0, 0, errorf(i, "invalid UTF-8")
	}
	return r, size, nil
}

func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		r, size, err := l.rune(l.pos)
		if err != nil {
			return err
		}
		if !unicode.IsSpace(r) {
			return nil
		}
		l.pos += size
	}
	return nil
}

// boundary reports whether the text at i ends a word: the end of the
// query, white space or a parenthesis.
func (l *lexer) boundary(i int) bool {
	if i >= len(l.src) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(l.src[i:])
	return r == '(' || r == ')' || unicode.IsSpace(r)
}

func (l *lexer) emit(kind tokenKind, n int) {
	l.toks = append(l.toks, token{kind: kind, pos: l.pos, end: l.pos + n})
	l.pos += n
}

// next lexes one token at l.pos, which is not white space.
func (l *lexer) next() error {
	switch l.src[l.pos] {
	case '(':
		l.emit(tokLParen, 1)
	case ')':
		l.emit(tokRParen, 1)
	case '-':
		if l.boundary(l.pos+1) && !l.startsGroup(l.pos+1) {
			return errorf(l.pos, `expected a term after "-"`)
		}
		l.emit(tokMinus, 1)
	default:
		return l.word()
	}
	return nil
}

func (l *lexer) startsGroup(i int) bool {
	return i < len(l.src) && l.src[i] == '('
}

// word lexes a word: a run of characters up to white space, a parenthesis
// or the end, where "\" makes the next character literal and "..." makes
// its contents literal.
func (l *lexer) word() error {
	start := l.pos
	var b wordBuilder
	for !l.boundary(l.pos) {
		var err error
		switch l.src[l.pos] {
		case '\\':
			err = l.escape(&b)
		case '"':
			err = l.quoted(&b)
		default:
			err = l.plain(&b)
		}
		if err != nil {
			return err
		}
	}
	w := b.word()
	l.toks = append(l.toks, token{kind: keyword(w), pos: start, end: l.pos, word: w})
	return nil
}

// keyword returns the kind of an unescaped AND, OR or NOT, else tokWord.
func keyword(w word) tokenKind {
	if len(w.quotes) > 0 {
		return tokWord
	}
	for _, lit := range w.lit {
		if lit {
			return tokWord
		}
	}
	switch w.text {
	case "AND":
		return tokAnd
	case "OR":
		return tokOr
	case "NOT":
		return tokNot
	}
	return tokWord
}

func (l *lexer) plain(b *wordBuilder) error {
	_, size, err := l.rune(l.pos)
	if err != nil {
		return err
	}
	b.add(l.src[l.pos:l.pos+size], false, l.pos)
	l.pos += size
	return nil
}

func (l *lexer) escape(b *wordBuilder) error {
	at := l.pos
	if at+1 >= len(l.src) {
		return errorf(at, `trailing backslash; escape it as "\\\\"`)
	}
	_, size, err := l.rune(at + 1)
	if err != nil {
		return err
	}
	b.add(l.src[at+1:at+1+size], true, at)
	l.pos = at + 1 + size
	return nil
}

func (l *lexer) quoted(b *wordBuilder) error {
	open := l.pos
	l.pos++
	b.quotes = append(b.quotes, len(b.text))
	for {
		if l.pos >= len(l.src) {
			return errorf(open, "unterminated quote")
		}
		switch l.src[l.pos] {
		case '"':
			l.pos++
			return nil
		case '\\':
			if err := l.escape(b); err != nil {
				return err
			}
		default:
			if err := l.plainLiteral(b); err != nil {
				return err
			}
		}
	}
}

func (l *lexer) plainLiteral(b *wordBuilder) error {
	_, size, err := l.rune(l.pos)
	if err != nil {
		return err
	}
	b.add(l.src[l.pos:l.pos+size], true, l.pos)
	l.pos += size
	return nil
}

// wordBuilder accumulates the bytes of a word.
type wordBuilder struct {
	text   []byte
	lit    []bool
	off    []int
	quotes []int
}

func (b *wordBuilder) add(s string, lit bool, off int) {
	for i := 0; i < len(s); i++ {
		b.text = append(b.text, s[i])
		b.lit = append(b.lit, lit)
		b.off = append(b.off, off+i)
	}
}

func (b *wordBuilder) word() word {
	return word{text: string(b.text), lit: b.lit, off: b.off, quotes: b.quotes}
}
