package redact

import (
	"slices"
	"strings"
)

// Hit is one secret found in a text: its detector kind (or custom pattern
// name) and the value that was replaced.
type Hit struct {
	Kind, Value string
}

// markerPrefix starts every replacement: [REDACTED:kind].
const markerPrefix = "[REDACTED:"

// minSweep is the shortest secret that, once found, is also replaced where
// it occurs elsewhere in the text (or event) without the context its
// detector needs: a password found in a URL is also removed from the
// DB_PASSWORD= line beside it. Shorter values would hit ordinary words.
const minSweep = 8

// maxSweeps bounds the values a text or an event is swept for (each sweep
// reads the whole text).
const maxSweeps = 64

// maxPasses bounds the passes of redactText (each pass can only shrink the
// text outside markers, so the loop ends anyway; this bounds the work on a
// hostile input).
const maxPasses = 64

// engine is a set of enabled detectors.
type engine struct {
	dets    []*detector     // enabled: built-ins in priority order, then custom patterns
	markers []string        // [REDACTED:kind] for each of dets
	index   [numBuiltin]int // position in dets of each built-in, or -1
	mask    uint32          // trigger bits of the enabled built-ins
	custom  []int           // positions in dets of the custom patterns
}

func newEngine(enabled [numBuiltin]bool, custom []*detector) *engine {
	e := &engine{}
	for k, d := range builtins() {
		e.index[k] = -1
		if enabled[k] {
			e.index[k] = len(e.dets)
			e.mask |= 1 << k
			e.dets = append(e.dets, d)
		}
	}
	for _, d := range custom {
		e.custom = append(e.custom, len(e.dets))
		e.dets = append(e.dets, d)
	}
	for _, d := range e.dets {
		e.markers = append(e.markers, markerPrefix+d.kind+"]")
	}
	return e
}

// candidates appends to dst every match of every enabled detector in s.
func (e *engine) candidates(s string, dst []cand) []cand {
	if t := triggers(s) & e.mask; t != 0 {
		for k := 0; k < numBuiltin; k++ {
			if t&(1<<k) != 0 {
				di := e.index[k]
				dst = e.dets[di].findAll(s, di, dst)
			}
		}
	}
	for _, di := range e.custom {
		dst = e.dets[di].findAll(s, di, dst)
	}
	return dst
}

// redactText replaces every secret in s, appending what it replaced to
// hits (once per kind and value). It repeats until a pass finds nothing, so
// its result is a fixed point: redacting it again changes nothing.
func (e *engine) redactText(s string, hits []Hit) (string, []Hit) {
	var cands []cand
	var seen map[Hit]bool // once hits is long
	sweeps := 0
	for pass := 0; pass < maxPasses; pass++ {
		cands = e.candidates(s, cands[:0])
		if len(cands) == 0 {
			return s, hits
		}
		cands = e.resolve(s, cands)
		if len(cands) == 0 {
			return s, hits
		}
		var b strings.Builder
		b.Grow(len(s))
		prev := 0
		first := len(hits)
		for _, c := range cands {
			b.WriteString(s[prev:c.start])
			b.WriteString(e.markers[c.det])
			prev = c.end
			hits, seen = addHit(hits, seen, Hit{e.dets[c.det].kind, s[c.start:c.end]})
		}
		b.WriteString(s[prev:])
		s = b.String()
		for _, h := range hits[first:] {
			if len(h.Value) >= minSweep && sweeps < maxSweeps {
				sweeps++
				if strings.Contains(s, h.Value) {
					s = replaceOutsideMarkers(s, h.Value, markerPrefix+h.Kind+"]")
				}
			}
		}
	}
	return s, hits
}

// addHit appends h to hits unless it is there; past a few hits it keeps
// them in seen too, so that many hits cost linear time.
func addHit(hits []Hit, seen map[Hit]bool, h Hit) ([]Hit, map[Hit]bool) {
	if seen == nil && len(hits) > 16 {
		seen = make(map[Hit]bool, 2*len(hits))
		for _, x := range hits {
			seen[x] = true
		}
	}
	if seen != nil {
		if seen[h] {
			return hits, seen
		}
		seen[h] = true
	} else if slices.Contains(hits, h) {
		return hits, seen
	}
	return append(hits, h), seen
}

// resolve drops the candidates that overlap a [REDACTED:...] marker, then
// settles overlaps: a candidate of a more specific class wins, then the
// longer one, then the earlier one, then the earlier detector. It returns
// the winners in text order.
func (e *engine) resolve(s string, cands []cand) []cand {
	if strings.Contains(s, markerPrefix) {
		marks := markers(s)
		cands = slices.DeleteFunc(cands, func(c cand) bool { return overlapsMarker(marks, c.start, c.end) })
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return (b.end - b.start) - (a.end - a.start)
	})
	overlap := false
	for i := 1; i < len(cands); i++ {
		if cands[i].start < cands[i-1].end {
			overlap = true
			break
		}
	}
	if !overlap {
		return cands
	}
	slices.SortFunc(cands, func(a, b cand) int {
		ca, cb := e.dets[a.det].class, e.dets[b.det].class
		switch {
		case ca != cb:
			return ca - cb
		case a.end-a.start != b.end-b.start:
			return (b.end - b.start) - (a.end - a.start)
		case a.start != b.start:
			return a.start - b.start
		}
		return a.det - b.det
	})
	var won []cand // sorted by start
	for _, c := range cands {
		i, _ := slices.BinarySearchFunc(won, c.start, func(w cand, start int) int { return w.start - start })
		if i > 0 && won[i-1].end > c.start || i < len(won) && won[i].start < c.end {
			continue
		}
		won = slices.Insert(won, i, c)
	}
	return won
}

// overlapsMarker reports whether s[start:end] overlaps one of marks (the
// sorted spans that markers returns).
func overlapsMarker(marks [][2]int, start, end int) bool {
	// The first marker that ends after start.
	i, _ := slices.BinarySearchFunc(marks, start, func(m [2]int, start int) int {
		if m[1] <= start {
			return -1
		}
		return 1
	})
	return i < len(marks) && marks[i][0] < end
}

// markers returns the spans of the [REDACTED:kind] markers in s.
func markers(s string) [][2]int {
	var spans [][2]int
	for off := 0; ; {
		i := strings.Index(s[off:], markerPrefix)
		if i < 0 {
			return spans
		}
		i += off
		if n := markerLen(s[i:]); n > 0 {
			spans = append(spans, [2]int{i, i + n})
			off = i + n
		} else {
			off = i + 1
		}
	}
}

// markerLen returns the length of the marker s starts with, or 0. A marker
// is [REDACTED:name] with name matching ^[a-z][a-z0-9_]{0,63}$.
func markerLen(s string) int {
	if !strings.HasPrefix(s, markerPrefix) {
		return 0
	}
	for i := len(markerPrefix); i < len(s) && i <= len(markerPrefix)+64; i++ {
		c := s[i]
		switch {
		case c == ']' && i > len(markerPrefix):
			return i + 1
		case isLower(c), (isDigit(c) || c == '_') && i > len(markerPrefix):
		default:
			return 0
		}
	}
	return 0
}

// isMarker reports whether s is exactly one marker.
func isMarker(s string) bool { return len(s) > 0 && markerLen(s) == len(s) }

// replaceOutsideMarkers replaces each occurrence of v in s that does not
// overlap a marker with repl.
func replaceOutsideMarkers(s, v, repl string) string {
	marks := markers(s)
	var b strings.Builder
	prev := 0
	for off := 0; ; {
		i := strings.Index(s[off:], v)
		if i < 0 {
			break
		}
		i += off
		j := i + len(v)
		if overlapsMarker(marks, i, j) {
			off = i + 1
			continue
		}
		b.WriteString(s[prev:i])
		b.WriteString(repl)
		prev, off = j, j
	}
	if prev == 0 {
		return s
	}
	b.WriteString(s[prev:])
	return b.String()
}

// The prefilter: one pass over a text sets a trigger bit for each built-in
// detector whose keyword (or digit pattern) occurs in it; only those
// detectors' regexps run. Most text sets none.

const (
	fDigit = 0x80 // a decimal digit
	fSep   = 0x40 // joins the groups of a number: space - . ( ) / +
	aMask  = 0x3f // an anchor code below
)

const (
	aNone = iota
	aDash
	aUnder
	aA
	aJ
	aB
	aZ
	aT
	aColon
	aAt
	aDot
	aEq
	aNoAnchor // a separator that is nothing else
)

var trigTab = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = fDigit
	}
	for _, c := range " ()/+" {
		t[c] = fSep | aNoAnchor
	}
	t['-'] = fSep | aDash
	t['.'] = fSep | aDot
	t['_'] = aUnder
	t['A'] = aA
	t['J'] = aJ
	t['b'], t['B'] = aB, aB
	t['z'], t['Z'] = aZ, aZ
	t['t'], t['T'] = aT, aT
	t[':'] = aColon
	t['@'] = aAt
	t['='] = aEq
	return t
}()

// hasFold reports whether s[i:] starts with the lower-case ASCII word w,
// in any case.
func hasFold(s string, i int, w string) bool {
	if i < 0 || len(s)-i < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		if s[i+j]|0x20 != w[j] {
			return false
		}
	}
	return true
}

// at reports whether s[i:] starts with w.
func at(s string, i int, w string) bool {
	return i >= 0 && len(s)-i >= len(w) && s[i:i+len(w)] == w
}

func triggers(s string) uint32 {
	var t uint32
	run := 0 // digits in the current number (groups joined by single separators)
	prevDigit := false
	scheme := false // "://" seen
	for i := 0; i < len(s); i++ {
		c := s[i]
		f := trigTab[c]
		if f == 0 {
			run, prevDigit = 0, false
			continue
		}
		if f&fDigit != 0 {
			run++
			prevDigit = true
			if run >= 7 {
				t |= 1 << kPhone
				if run >= 9 {
					t |= 1 << kSSN
					if run >= 13 {
						t |= 1 << kCard
					}
				}
			}
			if i >= 2 && isUpper(s[i-1]) && isUpper(s[i-2]) && i+1 < len(s) && isDigit(s[i+1]) {
				t |= 1 << kIBAN
			}
			continue
		}
		if f&fSep != 0 && prevDigit {
			prevDigit = false
		} else {
			run, prevDigit = 0, false
		}
		switch f & aMask {
		case aDash:
			switch {
			case at(s, i-2, "sk"):
				t |= 1<<kAnthropic | 1<<kOpenAI
			case at(s, i-4, "xox"), at(s, i-4, "xapp"):
				t |= 1 << kSlack
			case at(s, i, "-----BEGIN"):
				t |= 1 << kPEM
			case at(s, i-6, "GOCSPX"):
				t |= 1 << kGoogle
			}
		case aUnder:
			switch {
			case at(s, i-3, "gh"), at(s, i-6, "github"):
				t |= 1 << kGitHub
			case at(s, i-2, "sk"), at(s, i-2, "rk"), at(s, i-5, "whsec"):
				t |= 1 << kStripe
			case at(s, i-2, "ct"):
				t |= 1 << kClawtrail
			}
		case aA:
			if at(s, i, "AKIA") || at(s, i, "ASIA") || at(s, i, "ABIA") || at(s, i, "ACCA") {
				t |= 1 << kAWS
			} else if at(s, i, "AIza") {
				t |= 1 << kGoogle
			}
		case aJ:
			if at(s, i-2, "ey") {
				t |= 1 << kJWT
			}
		case aB:
			if hasFold(s, i, "bearer") {
				t |= 1 << kBearer
			}
		case aZ:
			if hasFold(s, i-7, "authorization") {
				t |= 1 << kBearer
			}
		case aT:
			if i >= 5 && s[i-1]|0x20 == 'e' && hasFold(s, i-5, "secret") {
				t |= 1 << kAWS
			}
		case aColon:
			if at(s, i, "://") {
				scheme = true
			}
		case aAt:
			if scheme {
				t |= 1 << kURLPassword
			}
			if i > 0 && i+1 < len(s) && isAlnum(s[i+1]) {
				t |= 1 << kEmail
			}
		case aEq:
			if scheme && (hasFold(s, i-8, "password") || hasFold(s, i-6, "passwd") || hasFold(s, i-3, "pwd")) {
				t |= 1 << kURLPassword
			}
		case aDot:
			if at(s, i, ".slack.com/") {
				t |= 1 << kSlack
			} else if at(s, i-4, "ya29") {
				t |= 1 << kGoogle
			}
		}
	}
	return t
}
