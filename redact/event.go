package redact

import (
	"slices"
	"strconv"
	"strings"

	clawtrail "github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// Event redacts e in place: the field rules first (in their order), then
// the detectors over the text of content, arguments, result, error,
// endpoint, path, reason and attributes (every string and number inside
// arguments, result and attributes, at any depth; object keys are left
// alone). A secret of 8 bytes or more found anywhere is also replaced
// wherever else it occurs in those fields. Each redaction appends a
// Redaction (rule, field path, fingerprint of the value) unless e already
// has the same one, in a deterministic order: field rules, then the fields
// in the order above (members and items in their order, matches in text
// order). Event of a redacted event changes nothing.
//
// The JSON trees of e (arguments, result, usage, attributes) are modified
// in place: clone them first if the unredacted tree is still needed.
func (r *Redactor) Event(e *clawtrail.Event) {
	st := eventState{r: r, e: e}
	for i := range r.fields {
		st.applyRule(&r.fields[i])
	}
	st.scanAll()
	// Sweeping a secret out of a longer text can leave a piece a detector
	// now finds (bob@example.com minus a swept tail is bob@example.co):
	// rescan until nothing new fires, so that redacting twice changes
	// nothing (bounded: each round only shortens the text).
	for round := 0; round < 4 && len(st.sweep) > 0; round++ {
		n := len(e.Redactions)
		st.sweeping = true
		st.scanAll()
		st.sweeping = false
		st.scanAll()
		if len(e.Redactions) == n {
			break
		}
	}
}

type eventState struct {
	r        *Redactor
	e        *clawtrail.Event
	sweep    []Hit // secrets found, to replace wherever else they occur
	swept    map[Hit]bool
	sweeping bool
	seen     map[clawtrail.Redaction]bool // once e.Redactions is long
}

// add appends a Redaction unless the event has it already.
func (st *eventState) add(rule, field, fingerprint string) {
	x := clawtrail.Redaction{Rule: rule, Field: field, Fingerprint: fingerprint}
	rs := st.e.Redactions
	if st.seen == nil && len(rs) > 16 {
		st.seen = make(map[clawtrail.Redaction]bool, 2*len(rs))
		for _, y := range rs {
			st.seen[y] = true
		}
	}
	if st.seen != nil {
		if st.seen[x] {
			return
		}
		st.seen[x] = true
	} else if slices.Contains(rs, x) {
		return
	}
	st.e.Redactions = append(rs, x)
}

func (st *eventState) scanAll() {
	var buf [16]pathSeg
	e := st.e
	st.str(&e.Content, "content", nil)
	st.value(e.Arguments, "arguments", buf[:0])
	st.value(e.Result, "result", buf[:0])
	st.str(&e.Error, "error", nil)
	st.str(&e.Destination, "destination", nil) // a URL may carry a password
	st.str(&e.Endpoint, "endpoint", nil)
	st.str(&e.Path, "path", nil)
	st.str(&e.Reason, "reason", nil)
	st.value(e.Attributes, "attributes", buf[:0])
}

func (st *eventState) value(v *strictjson.Value, root string, path []pathSeg) {
	if v == nil {
		return
	}
	switch v.Kind {
	case strictjson.String:
		st.str(&v.Str, root, path)
	case strictjson.Number:
		// A card number sent as a JSON number is still a card number.
		s := v.Str
		st.str(&s, root, path)
		if s != v.Str {
			*v = strictjson.Value{Kind: strictjson.String, Str: s}
		}
	case strictjson.Array:
		for i := range v.Items {
			st.value(&v.Items[i], root, append(path, pathSeg{idx: i}))
		}
	case strictjson.Object:
		for i := range v.Members {
			st.value(&v.Members[i].Value, root, append(path, pathSeg{key: v.Members[i].Key, idx: -1}))
		}
	}
}

// str redacts the text at p, the field at root and path.
func (st *eventState) str(p *string, root string, path []pathSeg) {
	s := *p
	if s == "" {
		return
	}
	if st.sweeping {
		field := ""
		for _, h := range st.sweep {
			if !strings.Contains(s, h.Value) {
				continue
			}
			if t := replaceOutsideMarkers(s, h.Value, markerPrefix+h.Kind+"]"); t != s {
				s = t
				if field == "" {
					field = pathString(root, path)
				}
				st.add(h.Kind, field, st.r.Fingerprint(h.Value))
			}
		}
		*p = s
		return
	}
	out, hits := st.r.eng.redactText(s, nil)
	if len(hits) == 0 {
		return
	}
	*p = out
	field := pathString(root, path)
	for _, h := range hits {
		st.add(h.Kind, field, st.r.Fingerprint(h.Value))
		if len(h.Value) >= minSweep && len(st.sweep) < maxSweeps {
			st.sweep, st.swept = addHit(st.sweep, st.swept, h)
		}
	}
}

// pathSeg is one step of a path: a member key, or (idx >= 0) an array
// index.
type pathSeg struct {
	key string
	idx int
}

// pathString writes a field path: the top-level field's name, then
// ".key" for each object member and "[i]" for each array item
// (arguments.to, result[2].text). A key that is not made only of letters,
// digits, '_', '-' and non-ASCII characters is written as a JSON string in
// brackets: attributes["a.b"]["x y"].
func pathString(root string, path []pathSeg) string {
	if len(path) == 0 {
		return root
	}
	b := make([]byte, 0, len(root)+16*len(path))
	b = append(b, root...)
	for _, p := range path {
		switch {
		case p.idx >= 0:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(p.idx), 10)
			b = append(b, ']')
		case plainKey(p.key):
			b = append(b, '.')
			b = append(b, p.key...)
		default:
			b = append(b, '[')
			b = strictjson.AppendString(b, p.key)
			b = append(b, ']')
		}
	}
	return string(b)
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !isAlnum(c) && c != '_' && c != '-' && c < 0x80 {
			return false
		}
	}
	return true
}
