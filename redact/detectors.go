package redact

import (
	"encoding/base64"
	"regexp"
	"strings"
	"sync"
)

// The built-in detector kinds, in priority order (see resolve).
const (
	kAnthropic = iota
	kOpenAI
	kAWS
	kGitHub
	kSlack
	kStripe
	kGoogle
	kJWT
	kPEM
	kClawtrail
	kCard
	kBearer
	kURLPassword
	kEmail
	kPhone
	kSSN
	kIBAN
	numBuiltin
)

// Priority classes: a candidate of a lower class wins over an overlapping
// candidate of a higher class; within a class the longer one wins.
const (
	classSpecific = iota // secrets with a recognisable format, and custom patterns
	classGeneric         // bearer tokens and URL passwords: any token in a position
	classPII             // personal data
)

// detector finds one kind of secret (or of personal data).
type detector struct {
	kind  string
	desc  string
	pii   bool // off by default
	class int
	rules []rule
	// find, when set, is used instead of rules.
	find func(s string, det int, dst []cand) []cand
}

// rule is one regexp of a detector. The regexp is anchored: it runs only
// where at says a match may start, on a window that holds any match that
// starts there: head bytes, then as far as the bytes are in body (head -1:
// the rest of the text). Go's regexp backtracker costs time in proportion
// to its input, so the window is kept tight.
//
// group is the submatch that is the secret (0: the whole match). check,
// when set, vets a match: it gets the text, the submatch indexes (into the
// whole text) and the secret's span, and returns the span to redact (it may
// narrow it) or ok false.
type rule struct {
	re    *regexp.Regexp // anchored
	plain *regexp.Regexp // the same, unanchored: the fallback when the budget runs out
	at    finder
	head  int
	body  *charset
	// extent, when set, computes the window instead of head and body.
	extent func(s string, pos int) int
	// need, when set, is a byte every match holds: without it in the
	// window, the regexp does not run.
	need  byte
	group int
	check func(s string, m []int, start, end int) (int, int, bool)
	// scan, for a custom pattern that has no start to anchor on: the
	// regexp runs unanchored over texts that contain contains.
	scan     bool
	contains string
}

// cand is a candidate match: the span s[start:end] found by detector det.
type cand struct {
	start, end int
	det        int
}

func (d *detector) findAll(s string, det int, dst []cand) []cand {
	if d.find != nil {
		return d.find(s, det, dst)
	}
	for i := range d.rules {
		dst = d.rules[i].findAll(s, det, dst)
	}
	return dst
}

func (r *rule) findAll(s string, det int, dst []cand) []cand {
	add := func(m []int) {
		start, end := m[2*r.group], m[2*r.group+1]
		if start < 0 {
			return
		}
		if r.check != nil {
			var ok bool
			if start, end, ok = r.check(s, m, start, end); !ok {
				return
			}
		}
		if start < end {
			dst = append(dst, cand{start, end, det})
		}
	}
	if r.scan {
		if strings.Contains(s, r.contains) {
			for _, m := range r.re.FindAllStringSubmatchIndex(s, -1) {
				add(m)
			}
		}
		return dst
	}
	cache := finderCache()
	// Anchored tries cost their windows; a hostile text (-eyJ-eyJ-eyJ...)
	// could make them cost the square of its length. Past a budget, the
	// rest of the text gets one unanchored search, which Go's regexp runs
	// in linear time.
	budget := 8*len(s) + 4096
	for pos := r.at.next(s, 0, &cache); pos >= 0; pos = r.at.next(s, pos, &cache) {
		if budget < 0 {
			for _, m := range r.plain.FindAllStringSubmatchIndex(s[pos:], -1) {
				for i := range m {
					if m[i] >= 0 {
						m[i] += pos
					}
				}
				add(m)
			}
			break
		}
		m, cost := r.matchAt(s, pos)
		budget -= cost
		if m == nil {
			pos++
			continue
		}
		add(m)
		pos = max(m[1], pos+1)
	}
	return dst
}

// matchAt runs the anchored regexp at s[pos:] and returns the submatch
// indexes in s, or nil, and the length of the window it looked at.
func (r *rule) matchAt(s string, pos int) ([]int, int) {
	end := len(s)
	if r.extent != nil {
		end = r.extent(s, pos)
	} else if r.head >= 0 {
		end = min(pos+r.head, len(s))
		if r.body != nil {
			for end < len(s) && r.body[s[end]] {
				end++
			}
		}
	}
	if r.need != 0 && strings.IndexByte(s[pos:end], r.need) < 0 {
		return nil, end - pos
	}
	m := r.re.FindStringSubmatchIndex(s[pos:end])
	for i := range m {
		if m[i] >= 0 {
			m[i] += pos
		}
	}
	return m, end - pos
}

// charset is a set of bytes.
type charset [256]bool

// newCharset returns the set of the ASCII letters and digits (if alnum)
// and of the bytes of extra.
func newCharset(alnum bool, extra string) *charset {
	var c charset
	for b := 0; b < 256; b++ {
		c[b] = alnum && isAlnum(byte(b))
	}
	for i := 0; i < len(extra); i++ {
		c[extra[i]] = true
	}
	return &c
}

// The bytes a match's tail can hold.
var (
	alnumChars = newCharset(true, "")
	alnumUnder = newCharset(true, "_")
	tokenChars = newCharset(true, "_-")
	alnumDash  = newCharset(true, "-")
	jwtChars   = newCharset(true, "_-.")
	b64Chars   = newCharset(true, "+/=_-.~")
	hookChars  = newCharset(true, "_-/.")
	emailChars = newCharset(true, "._%+-@")
	urlChars   = func() *charset { // what a URL in text can hold
		c := newCharset(false, "")
		for b := 0x21; b < 0x7f; b++ {
			c[b] = b != '"' && b != '\'' && b != '<' && b != '>'
		}
		for b := 0x80; b < 0x100; b++ {
			c[b] = true
		}
		return c
	}()
)

// finder says where the matches of a rule may start: at a literal, at a
// word in any case, or where a function says.
type finder struct {
	lits []string                     // case-sensitive literals
	fold []string                     // lower-case ASCII words, in any case
	fn   func(s string, from int) int // the next start at or after from, or -1
}

const maxFinderWords = 8

// finderCache remembers, for each literal or word of a finder, the next
// place it occurs (-2: not looked for yet; -1: no more), so that a long
// text is scanned once per literal however many candidates it has.
func finderCache() [maxFinderWords]int {
	var c [maxFinderWords]int
	for i := range c {
		c[i] = -2
	}
	return c
}

func (f *finder) next(s string, from int, cache *[maxFinderWords]int) int {
	if from > len(s) {
		return -1
	}
	if f.fn != nil {
		return f.fn(s, from)
	}
	best := -1
	for i, w := range f.lits {
		best = nearest(best, cachedIndex(s, from, i, cache, func(from int) int { return index(s, from, w) }))
	}
	for i, w := range f.fold {
		j := len(f.lits) + i
		best = nearest(best, cachedIndex(s, from, j, cache, func(from int) int { return indexFold(s, from, w) }))
	}
	return best
}

func cachedIndex(s string, from, i int, cache *[maxFinderWords]int, find func(int) int) int {
	if c := cache[i]; c == -1 || c >= from {
		return c
	}
	cache[i] = find(from)
	return cache[i]
}

func nearest(a, b int) int {
	if a < 0 || b >= 0 && b < a {
		return b
	}
	return a
}

// index is strings.Index of w in s from from, as a position in s.
func index(s string, from int, w string) int {
	if i := strings.Index(s[from:], w); i >= 0 {
		return from + i
	}
	return -1
}

// indexFold finds the lower-case ASCII word w in s from from, in any case.
func indexFold(s string, from int, w string) int {
	for i := from; i+len(w) <= len(s); i++ {
		if s[i]|0x20 == w[0] && hasFold(s, i, w) {
			return i
		}
	}
	return -1
}

func lits(ws ...string) finder { return finder{lits: ws} }
func fold(ws ...string) finder { return finder{fold: ws} }

// rx is a rule whose matches start where at says and fit in head bytes
// followed by bytes of body.
func rx(expr string, at finder, head int, body *charset, group int, check func(string, []int, int, int) (int, int, bool)) rule {
	return rule{re: regexp.MustCompile(`^(?:` + expr + `)`), plain: regexp.MustCompile(expr),
		at: at, head: head, body: body, group: group, check: check}
}

// tok is a rule for a token: a literal prefix of head bytes, then a tail
// of body bytes that the regexp's tail takes greedily, so that a match
// ends where the window does. The regexp is anchored at both ends, which
// lets Go run it one-pass (fast, no backtracking).
func tok(expr string, at finder, head int, body *charset, check func(string, []int, int, int) (int, int, bool)) rule {
	return rule{re: regexp.MustCompile(`^(?:` + expr + `)\z`), plain: regexp.MustCompile(expr),
		at: at, head: head, body: body, check: check}
}

func (r rule) needing(c byte) rule { r.need = c; return r }

// bearerExtent: "bearer", blanks, then the token's bytes.
func bearerExtent(s string, pos int) int {
	i := pos + len("bearer")
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for i < len(s) && b64Chars[s[i]] {
		i++
	}
	return i
}

// urlStart finds the start of a URL's scheme: the first letter of the run
// of scheme characters before a "://".
func urlStart(s string, from int) int {
	for j := from; ; j += 3 {
		i := index(s, j, "://")
		if i < 0 {
			return -1
		}
		k := i
		for k > 0 && i-k < 32 && (isAlnum(s[k-1]) || s[k-1] == '+' || s[k-1] == '.' || s[k-1] == '-') {
			k--
		}
		for k < i && !isUpper(s[k]) && !isLower(s[k]) {
			k++
		}
		if k >= from && k < i {
			return k
		}
		j = i
	}
}

// emailStart finds the start of the local part before an '@'.
func emailStart(s string, from int) int {
	for j := from; ; {
		i := strings.IndexByte(s[j:], '@')
		if i < 0 {
			return -1
		}
		i += j
		k := i
		for k > 0 && i-k < 64 && isEmailLocal(s[k-1]) {
			k--
		}
		if k >= from && k < i {
			return k
		}
		j = i + 1
	}
}

func isEmailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// authStart finds "authorization" in any case, or "proxy-authorization".
func authStart(s string, from int) int {
	i := indexFold(s, from, "authorization")
	if i >= 6 && i-6 >= from && hasFold(s, i-6, "proxy-") {
		return i - 6
	}
	return i
}

// phoneRules are the phone number formats, tried in turn where a number
// starts (phoneStart): international, US, then the national ones.
var phoneRules = sync.OnceValue(func() []rule {
	return []rule{
		rx(`\+[1-9][0-9]{0,2}(?:[ .-]?\([0-9]{1,4}\))?(?:[ .-]?[0-9]{1,6}){1,6}`, finder{}, 64, nil, 0, phoneIntl),
		rx(`(?:1[ .-])?(\(?)[2-9][0-9]{2}(\)?)([ .-]?)[2-9][0-9]{2}([ .-])[0-9]{4}`, finder{}, 64, nil, 0, phoneUS),
		rx(`0[1-9][0-9]{0,4}(?: [0-9]{2,8}){1,4}`, finder{}, 64, nil, 0, phoneNational),
		rx(`0[1-9][0-9]{0,4}(?:-[0-9]{2,8}){1,4}`, finder{}, 64, nil, 0, phoneNational),
		rx(`0[1-9][0-9]{0,4}(?:\.[0-9]{2,8}){1,4}`, finder{}, 64, nil, 0, phoneNational),
		rx(`0[1-9][0-9]{0,4}/[0-9]{3,9}`, finder{}, 64, nil, 0, phoneNational),
	}
})

// findPhones finds phone numbers: at each place a number starts, the
// longest match of the formats that passes its checks.
func findPhones(s string, det int, dst []cand) []cand {
	for pos := phoneStart(s, 0); pos >= 0; pos = phoneStart(s, pos) {
		best := cand{pos, pos, det}
		// The formats by their first byte: + international, 0 national,
		// else US.
		rules := phoneRules()[1:2]
		switch s[pos] {
		case '+':
			rules = phoneRules()[:1]
		case '0':
			rules = phoneRules()[2:]
		}
		for i := range rules {
			r := &rules[i]
			if m, _ := r.matchAt(s, pos); m != nil {
				if start, end, ok := r.check(s, m, m[0], m[1]); ok && end-start > best.end-best.start {
					best = cand{start, end, det}
				}
			}
		}
		if best.end > best.start {
			dst = append(dst, best)
			pos = best.end
		} else {
			pos++
		}
	}
	return dst
}

// phoneStart finds where a phone number may start: at a group of digits
// (after something else than a digit, or after a '+' or '(') from which a
// number (digit groups joined by one or two separators) has 7 digits or
// more.
func phoneStart(s string, from int) int {
	for i := from; i < len(s); i++ {
		if !isDigit(s[i]) || i > 0 && isDigit(s[i-1]) {
			continue
		}
		if n, end := numberRun(s, i, 7); n < 7 {
			i = end // no later group of this number has 7 digits after it
			continue
		}
		start := i
		if i > 0 && (s[i-1] == '+' || s[i-1] == '(') && i-1 >= from {
			start = i - 1
		}
		return start
	}
	return -1
}

// numberRun counts the digits (up to limit) of the number that starts at
// s[i]: digit groups joined by one or two separators (space . - ( ) /). It
// returns the count and where it stopped counting.
func numberRun(s string, i, limit int) (int, int) {
	n := 0
	for i < len(s) && n < limit {
		if isDigit(s[i]) {
			n++
			i++
			continue
		}
		j := i
		for j < len(s) && j-i < 2 && strings.IndexByte(" .-()/", s[j]) >= 0 {
			j++
		}
		if j == i || j == len(s) || !isDigit(s[j]) {
			break
		}
		i = j
	}
	return n, i
}

// builtins are the built-in detectors, indexed by the k* constants. They
// are built on first use: compiling their expressions takes milliseconds,
// which every run of the CLI would otherwise pay at start (the Claude Code
// hook runs once per tool call).
var builtins = sync.OnceValue(func() [numBuiltin]*detector {
	return [numBuiltin]*detector{
		kAnthropic: {kind: "anthropic_key", desc: "Anthropic API keys (sk-ant-...)", rules: []rule{
			tok(`sk-ant-[A-Za-z0-9_-]{20,}`, lits("sk-ant-"), 0, tokenChars, wordStart),
		}},
		kOpenAI: {kind: "openai_key", desc: "OpenAI API keys (sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...)", rules: []rule{
			tok(`sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}`, lits("sk-"), 0, tokenChars, wordStart),
			// A legacy key is sk- and 48 letters and digits; a word after
			// "sk-" in prose is not a key.
			tok(`sk-[A-Za-z0-9]{20,}`, lits("sk-"), 3, alnumChars, all(wordStart, tokenEnd, randomishAfterPrefix)),
		}},
		kAWS: {kind: "aws_access_key", desc: "AWS access key ids (AKIA..., ASIA...) and secret access keys where labelled (aws_secret_access_key=...)", rules: []rule{
			rx(`A(?:KI|SI|BI|CC)A[0-9A-Z]{16}`, lits("AKIA", "ASIA", "ABIA", "ACCA"), 20, nil, 0, all(wordStart, wordEnd)),
			rx(`(?i)(?:secret[_.\- ]?access[_.\- ]?key|aws[_.\- ]?secret(?:[_.\- ]?key)?)["']?(?:[ \t]*(?:[:=]|=>)[ \t]*|[ \t]+)["']?([A-Za-z0-9/+]{40})`,
				fold("secret", "aws"), 128, b64Chars, 1, all(labelStart, b64End)),
		}},
		kGitHub: {kind: "github_token", desc: "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)", rules: []rule{
			tok(`gh[pousr]_[A-Za-z0-9]{36,}`, lits("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), 4, alnumChars, wordStart),
			tok(`github_pat_[A-Za-z0-9_]{40,}`, lits("github_pat_"), 0, alnumUnder, wordStart),
		}},
		kSlack: {kind: "slack_token", desc: "Slack tokens (xoxb-, xoxp-, xapp-, ...) and webhook URLs (hooks.slack.com/services/...)", rules: []rule{
			tok(`xox[abposre]-[0-9]+-[A-Za-z0-9-]{8,}`, lits("xox"), 0, alnumDash, wordStart),
			tok(`xapp-[0-9]+-[A-Za-z0-9-]{10,}`, lits("xapp-"), 0, alnumDash, wordStart),
			rx(`hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]{20,})`, lits("hooks.slack.com/"), 0, hookChars, 1, nil),
		}},
		kStripe: {kind: "stripe_key", desc: "Stripe secret and restricted keys (sk_live_, rk_live_, sk_test_, ...) and webhook secrets (whsec_)", rules: []rule{
			tok(`(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}`, lits("sk_", "rk_"), 8, alnumChars, wordStart),
			tok(`whsec_[A-Za-z0-9]{24,}`, lits("whsec_"), 6, alnumChars, wordStart),
		}},
		kGoogle: {kind: "google_api_key", desc: "Google API keys (AIza...), OAuth client secrets (GOCSPX-) and access tokens (ya29.)", rules: []rule{
			rx(`AIza[0-9A-Za-z_-]{35}`, lits("AIza"), 39, nil, 0, all(wordStart, tokenEnd)),
			rx(`GOCSPX-[0-9A-Za-z_-]{28}`, lits("GOCSPX-"), 35, nil, 0, all(wordStart, tokenEnd)),
			tok(`ya29\.[0-9A-Za-z_-]{30,}`, lits("ya29."), 5, tokenChars, wordStart),
		}},
		kJWT: {kind: "jwt", desc: "JSON Web Tokens (eyJ....eyJ....sig)", rules: []rule{
			// The signature runs to the end of the dotted token: a JWE or a
			// nested token goes whole.
			tok(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_.-]*`, lits("eyJ"), 0, jwtChars, wordStart),
		}},
		kPEM: {kind: "pem_private_key", desc: "PEM private key blocks (-----BEGIN ... PRIVATE KEY-----, to the END line or the end of the text)", rules: []rule{
			rx(`-----BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----|$)`, lits("-----BEGIN"), -1, nil, 0, nil),
		}},
		kClawtrail: {kind: "clawtrail_key", desc: "clawtrail API keys (ct_<id>_<secret>)", rules: []rule{
			tok(`ct_[0-9a-f]{16}_[A-Za-z0-9_-]{20,}`, lits("ct_"), 0, tokenChars, wordStart),
		}},
		kCard: {kind: "card_number", desc: "payment card numbers: 13-19 digits, optionally grouped by spaces or dashes, with a card network's prefix and length, Luhn-valid, not part of a longer number", find: findCards},
		kBearer: {kind: "bearer_token", class: classGeneric, desc: `bearer tokens ("Bearer <token>") and Authorization header credentials (Basic, Token); the scheme word is kept`, rules: []rule{
			{re: regexp.MustCompile(`^(?:(?i)bearer[ \t]+([A-Za-z0-9._~+/=-]{16,}))\z`), plain: regexp.MustCompile(`(?i)bearer[ \t]+([A-Za-z0-9._~+/=-]{16,})`),
				at: fold("bearer"), extent: bearerExtent, group: 1, check: all(bearerStart, randomishToken)},
			rx(`(?i)(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(bearer|token|basic)[ \t]+([A-Za-z0-9._~+/-]{8,}=*)`, finder{fn: authStart}, 64, b64Chars, 2, all(labelStart, authCredential)),
		}},
		kURLPassword: {kind: "url_password", class: classGeneric, desc: "passwords in URLs (scheme://user:PASSWORD@host, and password= in a URL's query); the scheme and user are kept", rules: []rule{
			// userinfo: no character a URL cannot hold unescaped, nor quotes and
			// commas (which end a URL in JSON, CSV and prose); a password may
			// hold a '#' (people write them unescaped).
			rx(`[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:"'<>\[\]{}\\^`+"`"+`|,]*:([^/?@\s"'<>\[\]{}\\^`+"`"+`|,]+)@`, finder{fn: urlStart}, 0, urlChars, 1, all(wordStart, notPlaceholder)).needing('@'),
			// a password in a URL's query (jdbc:...?user=app&password=...).
			rx(`://[^\s"'<>]*?[?&;](?i:password|passwd|pwd)=([^&#\s"'<>]+)`, lits("://"), 0, urlChars, 1, notPlaceholder).needing('='),
		}},
		kEmail: {kind: "email", pii: true, class: classPII, desc: "email addresses", rules: []rule{
			rx(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}`, finder{fn: emailStart}, 0, emailChars, 0, emailCheck).needing('@'),
		}},
		kPhone: {kind: "phone", pii: true, class: classPII, desc: "phone numbers: international (+CC ...), US ((415) 555-0132, 415-555-0132) and European national (020 7946 0958, 06 12 34 56 78) formats", find: findPhones},
		kSSN:   {kind: "us_ssn", pii: true, class: classPII, desc: "US social security numbers written AAA-GG-SSSS (no area 000, 666 or 9xx, group 00, serial 0000)", find: findSSNs},
		kIBAN:  {kind: "iban", pii: true, class: classPII, desc: "IBANs (country, check digits, account; compact or in groups of 4) of the registry's length that pass the mod-97 check", find: findIBANs},
	}
})

// Character classes (ASCII).

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isUpper(c) || isLower(c) }

// isToken reports whether c can be part of a key-like token.
func isToken(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// Checks used by the rules.

func all(checks ...func(string, []int, int, int) (int, int, bool)) func(string, []int, int, int) (int, int, bool) {
	return func(s string, m []int, start, end int) (int, int, bool) {
		for _, c := range checks {
			var ok bool
			if start, end, ok = c(s, m, start, end); !ok {
				return 0, 0, false
			}
		}
		return start, end, true
	}
}

// wordStart: the match does not continue a word (no letter or digit before
// it, unless that ends an escape: \n, %22, \u0022).
func wordStart(s string, m []int, start, end int) (int, int, bool) {
	return start, end, boundaryBefore(s, m[0])
}

// boundaryBefore reports whether s[:i] does not end in the middle of a
// word: it ends with something other than a letter or digit, or with an
// escape (\n, \t, \r in JSON-escaped text shown raw; %XX in URL-encoded
// text; \uXXXX).
func boundaryBefore(s string, i int) bool {
	switch {
	case i == 0 || !isAlnum(s[i-1]):
		return true
	case i >= 2 && s[i-2] == '\\' && strings.IndexByte("ntrfbv", s[i-1]) >= 0:
		return true
	case i >= 3 && s[i-3] == '%' && isHex(s[i-2]) && isHex(s[i-1]):
		return true
	case i >= 6 && s[i-6] == '\\' && s[i-5] == 'u' && isHex(s[i-4]) && isHex(s[i-3]) && isHex(s[i-2]) && isHex(s[i-1]):
		return true
	}
	return false
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// labelStart: the label that starts the match is not the tail of a longer
// word (a letter before it); digits and separators are fine (AWS_SECRET...).
func labelStart(s string, m []int, start, end int) (int, int, bool) {
	return start, end, m[0] == 0 || !isUpper(s[m[0]-1]) && !isLower(s[m[0]-1])
}

// bearerStart: "bearer" is a word of its own.
func bearerStart(s string, m []int, start, end int) (int, int, bool) {
	return start, end, m[0] == 0 || !isAlnum(s[m[0]-1]) && s[m[0]-1] != '_'
}

// wordEnd: the match is not followed by a letter or digit.
func wordEnd(s string, m []int, start, end int) (int, int, bool) {
	return start, end, m[1] == len(s) || !isAlnum(s[m[1]])
}

// tokenEnd: the match is not followed by a token character (the whole token
// has the expected shape).
func tokenEnd(s string, m []int, start, end int) (int, int, bool) {
	return start, end, m[1] == len(s) || !isToken(s[m[1]])
}

// b64End: a 40-character secret access key is not followed by more base64.
func b64End(s string, m []int, start, end int) (int, int, bool) {
	if m[1] == len(s) {
		return start, end, true
	}
	c := s[m[1]]
	return start, end, !isAlnum(c) && c != '/' && c != '+' && c != '='
}

// classes counts the character classes (lower, upper, digit) in t.
func classes(t string) int {
	var lo, up, di int
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case isLower(c):
			lo = 1
		case isUpper(c):
			up = 1
		case isDigit(c):
			di = 1
		}
	}
	return lo + up + di
}

// randomish: the secret mixes at least two of lower case, upper case and
// digits, as generated keys do and words do not.
func randomish(s string, m []int, start, end int) (int, int, bool) {
	return start, end, classes(s[start:end]) >= 2
}

// randomishAfterPrefix: randomish, judged on what follows the 3-byte
// prefix (so that sk-XXXXXXXX…, a placeholder, is not a key).
func randomishAfterPrefix(s string, m []int, start, end int) (int, int, bool) {
	return start, end, end-start > 3 && classes(s[start+3:end]) >= 2
}

// randomishToken: a bearer token has a digit or mixes upper and lower case
// (not "Bearer authentication-schemes", "Bearer YOUR_TOKEN_HERE").
func randomishToken(s string, m []int, start, end int) (int, int, bool) {
	t := s[start:end]
	var lo, up, di bool
	for i := 0; i < len(t); i++ {
		c := t[i]
		lo = lo || isLower(c)
		up = up || isUpper(c)
		di = di || isDigit(c)
	}
	return start, end, di || lo && up
}

// authCredential vets the credential of an Authorization header: a Basic
// credential must decode to user:password; a bearer or token credential
// must look generated.
func authCredential(s string, m []int, start, end int) (int, int, bool) {
	if strings.EqualFold(s[m[2]:m[3]], "basic") {
		t := strings.TrimRight(s[start:end], "=")
		b, err := base64.RawStdEncoding.DecodeString(t)
		return start, end, err == nil && strings.IndexByte(string(b), ':') >= 0
	}
	return randomishToken(s, m, start, end)
}

// notPlaceholder rejects URL passwords that are template variables or
// stars, not secrets: ${DB_PASSWORD}, $PASS, <password>, {{ .Pass }}, ****,
// %s.
func notPlaceholder(s string, m []int, start, end int) (int, int, bool) {
	p := s[start:end]
	switch {
	case p[0] == '$' || p[0] == '<' || p[0] == '{' || p[0] == '%':
		return 0, 0, false
	case strings.Trim(p, "*") == "" || strings.Trim(p, "xX") == "":
		return 0, 0, false
	}
	return start, end, true
}

// fileExtensions are "top-level domains" that name files (icon@2x.png).
var fileExtensions = map[string]bool{
	"png": true, "jpg": true, "jpeg": true, "gif": true, "svg": true, "webp": true, "ico": true,
	"js": true, "mjs": true, "ts": true, "tsx": true, "jsx": true, "css": true, "scss": true,
	"py": true, "go": true, "rs": true, "rb": true, "java": true, "kt": true, "swift": true,
	"json": true, "yaml": true, "yml": true, "toml": true, "txt": true, "md": true, "html": true,
	"lock": true, "tgz": true, "zip": true, "gz": true, "pdf": true, "wasm": true, "map": true,
}

// emailCheck trims the local part to start with a letter or digit and
// rejects what only looks like an address: user:password@host in a URL,
// git@github.com:org/repo (an scp-style path), icon@2x.png.
func emailCheck(s string, m []int, start, end int) (int, int, bool) {
	for start < end && !isAlnum(s[start]) {
		start++
	}
	at := strings.IndexByte(s[start:end], '@')
	if at <= 0 {
		return 0, 0, false
	}
	if end < len(s) {
		if c := s[end]; isAlnum(c) || c == '_' || c == '-' || c == '@' {
			return 0, 0, false
		}
		if s[end] == ':' && end+1 < len(s) && !isSpace(s[end+1]) {
			return 0, 0, false // git@github.com:org/repo.git
		}
	}
	// A file name (icon@2x.png) or a field (m.Path@m.Version) is not an
	// address.
	if tld := s[strings.LastIndexByte(s[:end], '.')+1 : end]; fileExtensions[strings.ToLower(tld)] || classes(tld) > 1 {
		return 0, 0, false
	}
	// In a URL's authority (https://user:pw@host) the address is not one.
	for i, n := start-1, 0; i >= 0 && n < 256; i, n = i-1, n+1 {
		c := s[i]
		if isSpace(c) || c == '"' || c == '\'' || c == '<' || c == '(' || c == ',' {
			break
		}
		if c == '/' && i > 0 && s[i-1] == '/' {
			return 0, 0, false
		}
	}
	return start, end, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// countDigits counts the decimal digits in t.
func countDigits(t string) int {
	n := 0
	for i := 0; i < len(t); i++ {
		if isDigit(t[i]) {
			n++
		}
	}
	return n
}

// numberEdges reports whether s[start:end] stands alone: not glued to a
// letter or digit, not the tail of a longer number (DE88 3704 0044 0532
// 0130 00) nor continued by a separator and a digit (1.2.3.4, 2024-01-15,
// 192.168.0.1), and not one stretch of a hex dump (50 4b 03 04 14 00 00).
func numberEdges(s string, start, end int) bool {
	if start >= 3 && s[start-1] == ' ' && hexPair(s, start-3) || end+3 <= len(s) && s[end] == ' ' && hexPair(s, end+1) {
		return false
	}
	if start > 0 {
		c := s[start-1]
		if isAlnum(c) || c == '_' || c == '+' || c == '/' {
			return false
		}
		if (c == '.' || c == '-' || c == ',' || c == ' ') && start > 1 && isDigit(s[start-2]) {
			return false
		}
	}
	if end < len(s) {
		c := s[end]
		if isAlnum(c) || c == '_' {
			return false
		}
		if (c == '.' || c == '-' || c == '/' || c == ':' || c == ',') && end+1 < len(s) && isDigit(s[end+1]) {
			return false
		}
	}
	return true
}

// hexPair reports whether s[i:i+2] is a byte of a hex dump: two hex
// digits, standing alone.
func hexPair(s string, i int) bool {
	if !isHex(s[i]) || !isHex(s[i+1]) || i > 0 && isAlnum(s[i-1]) || i+2 < len(s) && isAlnum(s[i+2]) {
		return false
	}
	return true
}

// phoneIntl: +CC and 8 to 15 digits in all (E.164), 10 or more when
// written without separators (+123456789 is a signed number).
func phoneIntl(s string, m []int, start, end int) (int, int, bool) {
	t := s[start:end]
	n := countDigits(t)
	if n == len(t)-1 && n < 10 {
		return 0, 0, false
	}
	// Not a decimal (+35236450.6): the last group has 2 digits or more,
	// and a dot is not the only separator.
	if len(t) >= 2 && !isDigit(t[len(t)-2]) || strings.Count(t, ".") == 1 {
		return 0, 0, false
	}
	return start, end, n >= 8 && n <= 15 && phoneDigits(t) && numberEdges(s, start, end)
}

// phoneDigits: a phone number uses at least three different digits (not
// 01110/11110, not 0000 000000).
func phoneDigits(t string) bool {
	var seen [10]bool
	n := 0
	for i := 0; i < len(t); i++ {
		if c := t[i]; isDigit(c) && !seen[c-'0'] {
			seen[c-'0'] = true
			n++
		}
	}
	return n >= 3
}

// phoneUS: (415) 555-0132, 415-555-0132, 415.555.0132, 415 555 0132,
// 1-800-555-0199 — parentheses around the area code, or the same
// separator twice.
func phoneUS(s string, m []int, start, end int) (int, int, bool) {
	open, closed := m[3] > m[2], m[5] > m[4]
	sep1, sep2 := s[m[6]:m[7]], s[m[8]:m[9]]
	switch {
	case open != closed:
		return 0, 0, false
	case open && sep1 != "" && sep1 != " ":
		return 0, 0, false
	case !open && sep1 != sep2:
		return 0, 0, false
	}
	return start, end, phoneDigits(s[start:end]) && numberEdges(s, start, end)
}

// phoneNational: a European national number (leading 0, one kind of
// separator), 10 to 12 digits.
func phoneNational(s string, m []int, start, end int) (int, int, bool) {
	n := countDigits(s[start:end])
	return start, end, n >= 10 && n <= 12 && phoneDigits(s[start:end]) && numberEdges(s, start, end)
}

// findSSNs finds AAA-GG-SSSS standing alone, in the ranges the SSA
// issues.
func findSSNs(s string, det int, dst []cand) []cand {
	for i := 0; i+11 <= len(s); i++ {
		if !isDigit(s[i]) || i > 0 && isDigit(s[i-1]) {
			continue
		}
		t := s[i : i+11]
		if !isDigit(t[1]) || !isDigit(t[2]) || t[3] != '-' || !isDigit(t[4]) || !isDigit(t[5]) || t[6] != '-' ||
			!isDigit(t[7]) || !isDigit(t[8]) || !isDigit(t[9]) || !isDigit(t[10]) {
			continue
		}
		if numberEdges(s, i, i+11) && ssnValid(t[:3], t[4:6], t[7:]) {
			dst = append(dst, cand{i, i + 11, det})
			i += 10
		}
	}
	return dst
}

// findCards finds payment card numbers. A digit run is a sequence of digit
// groups joined by single spaces or dashes. A card is a window of whole
// groups of such a run with one kind of separator, 13 to 19 digits, shaped
// like a card (a single group, or a first group of 4 digits, then groups of
// 4 to 6, the last one 1 to 6), with a card network's prefix and length
// (issuer), that passes the Luhn check, and that is not continued by another group of 4 or
// more digits joined by the same separator (that would make it part of a
// longer number).
func findCards(s string, det int, dst []cand) []cand {
	var buf [32][2]int
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups := buf[:0]
		j := i
		for {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			groups = append(groups, [2]int{j, k})
			if k+1 < len(s) && (s[k] == ' ' || s[k] == '-') && isDigit(s[k+1]) {
				j = k + 1
				continue
			}
			j = k
			break
		}
		if !runEdges(s, i, j) || j-i < 13 {
			i = j
			continue
		}
		for a := 0; a < len(groups); {
			b := cardWindow(s, groups, a)
			if b < 0 {
				a++
				continue
			}
			dst = append(dst, cand{groups[a][0], groups[b][1], det})
			a = b + 1
		}
		i = j
	}
	return dst
}

// runEdges: a digit run is not glued to letters or to a decimal point.
func runEdges(s string, start, end int) bool {
	if start > 0 {
		c := s[start-1]
		if !boundaryBefore(s, start) || c == '_' || (c == '.' || c == ',') && start > 1 && isDigit(s[start-2]) {
			return false
		}
		if c == '-' && (start == 1 || !isAlnum(s[start-2])) {
			return false // a negative number
		}
	}
	if end < len(s) {
		c := s[end]
		if isAlnum(c) || c == '_' || (c == '.' || c == ',') && end+1 < len(s) && isDigit(s[end+1]) {
			return false
		}
	}
	return true
}

// cardWindow returns the last group b of the longest card that starts at
// group a, or -1.
func cardWindow(s string, groups [][2]int, a int) int {
	glen := func(g int) int { return groups[g][1] - groups[g][0] }
	sep := func(g int) byte { return s[groups[g][0]-1] } // the separator before group g > 0
	for b := min(len(groups)-1, a+5); b >= a; b-- {
		n := glen(a)
		ok := n < 20
		for g := a + 1; g <= b && ok; g++ {
			ok = sep(g) == sep(a+1)
			n += glen(g)
		}
		if !ok || n < 13 || n > 19 {
			continue
		}
		if b > a {
			if glen(a) != 4 || glen(b) > 6 {
				continue
			}
			for g := a + 1; g < b && ok; g++ {
				ok = glen(g) >= 4 && glen(g) <= 6
			}
			if !ok {
				continue
			}
		}
		// Not continued by another group of 4 or more digits joined by the
		// same separator: that would make it part of a longer number.
		if a > 0 && glen(a-1) >= 4 && (b == a || sep(a) == sep(a+1)) {
			continue
		}
		if b+1 < len(groups) && glen(b+1) >= 4 && (b == a || sep(b+1) == sep(a+1)) {
			continue
		}
		t := s[groups[a][0]:groups[b][1]]
		if !issuer(t, n) || !luhn(t) || sameDigits(t) {
			continue
		}
		return b
	}
	return -1
}

// issuer reports whether a card number t of n digits starts like one of a
// card network's and has a length that network issues: Visa 4 (13, 16 or
// 19 digits), Mastercard 51-55 and 2221-2720 (16), American Express 34 and
// 37 (15), Diners Club 36 (14) and 30, 38, 39 (14 or 16), JCB 3528-3589
// (16 to 19), Maestro 50 and 56-59, Discover, UnionPay and the other 6s
// (16 to 19).
func issuer(t string, n int) bool {
	var p [4]int
	for i, k := 0, 0; i < len(t) && k < 4; i++ {
		if isDigit(t[i]) {
			p[k] = int(t[i] - '0')
			k++
		}
	}
	two := p[0]*10 + p[1]
	four := two*100 + p[2]*10 + p[3]
	switch {
	case p[0] == 4:
		return n == 13 || n == 16 || n == 19
	case two >= 51 && two <= 55, four >= 2221 && four <= 2720:
		return n == 16
	case two == 34 || two == 37:
		return n == 15
	case two == 36:
		return n == 14
	case two == 30 || two == 38 || two == 39:
		return n == 14 || n == 16
	case four >= 3528 && four <= 3589, two == 50, two >= 56 && two <= 59, p[0] == 6:
		return n >= 16
	}
	return false
}

// sameDigits reports whether every digit of t is the same (0000 0000 ...).
func sameDigits(t string) bool {
	var first byte
	for i := 0; i < len(t); i++ {
		if c := t[i]; isDigit(c) {
			if first == 0 {
				first = c
			} else if c != first {
				return false
			}
		}
	}
	return true
}

// findIBANs finds IBANs: two upper-case letters (a registry country), two
// check digits and the rest of the country's length, upper-case letters and
// digits, compact or in groups of four separated by single spaces, passing
// the mod-97 check.
func findIBANs(s string, det int, dst []cand) []cand {
	var buf [34]byte
	for i := 0; i+4 <= len(s); i++ {
		if !isUpper(s[i]) || !isUpper(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
			continue
		}
		if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '_') {
			continue
		}
		n, ok := ibanLengths[s[i:i+2]]
		if !ok {
			continue
		}
		copy(buf[:4], s[i:i+4])
		j, k := i+4, 4
		spaced := j < len(s) && s[j] == ' '
		for k < n {
			if spaced && k%4 == 0 {
				if j < len(s) && s[j] == ' ' {
					j++
				} else {
					break
				}
			}
			if j >= len(s) || !isUpper(s[j]) && !isDigit(s[j]) {
				break
			}
			buf[k] = s[j]
			k++
			j++
		}
		if k != n || j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
			continue
		}
		if !ibanValid(buf[:n]) {
			continue
		}
		dst = append(dst, cand{i, j, det})
		i = j - 1
	}
	return dst
}
