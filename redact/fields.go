package redact

import (
	"fmt"
	"slices"
	"strings"

	clawtrail "github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// stringFields are the top-level string fields a field rule may name.
var stringFields = map[string]func(*clawtrail.Event) *string{
	"session_id":  func(e *clawtrail.Event) *string { return &e.SessionID },
	"user_id":     func(e *clawtrail.Event) *string { return &e.UserID },
	"agent_id":    func(e *clawtrail.Event) *string { return &e.AgentID },
	"channel":     func(e *clawtrail.Event) *string { return &e.Channel },
	"trace_id":    func(e *clawtrail.Event) *string { return &e.TraceID },
	"span_id":     func(e *clawtrail.Event) *string { return &e.SpanID },
	"parent_id":   func(e *clawtrail.Event) *string { return &e.ParentID },
	"content":     func(e *clawtrail.Event) *string { return &e.Content },
	"tool":        func(e *clawtrail.Event) *string { return &e.Tool },
	"status":      func(e *clawtrail.Event) *string { return &e.Status },
	"error":       func(e *clawtrail.Event) *string { return &e.Error },
	"model":       func(e *clawtrail.Event) *string { return &e.Model },
	"destination": func(e *clawtrail.Event) *string { return &e.Destination },
	"method":      func(e *clawtrail.Event) *string { return &e.Method },
	"endpoint":    func(e *clawtrail.Event) *string { return &e.Endpoint },
	"operation":   func(e *clawtrail.Event) *string { return &e.Operation },
	"path":        func(e *clawtrail.Event) *string { return &e.Path },
	"decision":    func(e *clawtrail.Event) *string { return &e.Decision },
	"approver":    func(e *clawtrail.Event) *string { return &e.Approver },
	"reason":      func(e *clawtrail.Event) *string { return &e.Reason },
}

// valueFields are the top-level JSON fields a field rule may name or reach
// into.
var valueFields = map[string]func(*clawtrail.Event) **strictjson.Value{
	"arguments":  func(e *clawtrail.Event) **strictjson.Value { return &e.Arguments },
	"result":     func(e *clawtrail.Event) **strictjson.Value { return &e.Result },
	"usage":      func(e *clawtrail.Event) **strictjson.Value { return &e.Usage },
	"attributes": func(e *clawtrail.Event) **strictjson.Value { return &e.Attributes },
}

// keptFields are never redacted: the ledger, the index and the API need
// them as they are.
var keptFields = []string{"id", "seq", "tenant_id", "type", "timestamp", "received_at", "key_id", "redactions"}

// numberFields are the top-level numbers; no rule applies to them.
var numberFields = []string{"duration_ms", "tokens_used", "status_code", "bytes"}

// fieldRule is a parsed FieldRule.
type fieldRule struct {
	field  string   // as configured
	rest   []string // the path below the top-level field
	action string
	str    func(*clawtrail.Event) *string            // a top-level string field, or
	val    func(*clawtrail.Event) **strictjson.Value // a top-level JSON field
	root   string                                    // its name
}

func parseFieldRule(n int, f FieldRule) (fieldRule, error) {
	switch f.Action {
	case ActionDrop, ActionMask, ActionHMAC:
	default:
		return fieldRule{}, fmt.Errorf("field rule %d: unknown action %q (want drop, mask or hmac)", n, f.Action)
	}
	if f.Field == "" {
		return fieldRule{}, fmt.Errorf("field rule %d: field \"\" is empty (want a field such as user_id or a path such as arguments.to)", n)
	}
	segs := strings.Split(f.Field, ".")
	if slices.Contains(segs, "") {
		return fieldRule{}, fmt.Errorf("field rule %d: field %q has an empty path segment", n, f.Field)
	}
	fr := fieldRule{field: f.Field, root: segs[0], rest: segs[1:], action: f.Action}
	switch {
	case slices.Contains(keptFields, fr.root):
		return fieldRule{}, fmt.Errorf("field rule %d: field %q cannot be redacted (%s are kept as they are)", n, f.Field, strings.Join(keptFields, ", "))
	case slices.Contains(numberFields, fr.root):
		return fieldRule{}, fmt.Errorf("field rule %d: field %q cannot be redacted (a number; rules apply to string fields and to arguments, result, usage and attributes)", n, f.Field)
	case stringFields[fr.root] != nil:
		if len(fr.rest) > 0 {
			return fieldRule{}, fmt.Errorf("field rule %d: field %q: %s is a string and has no members", n, f.Field, fr.root)
		}
		fr.str = stringFields[fr.root]
	case valueFields[fr.root] != nil:
		if len(fr.rest) == 0 && f.Action == ActionMask && fr.root != "result" {
			return fieldRule{}, fmt.Errorf("field rule %d: cannot mask %q as a whole (it must stay an object): mask a path inside it, or drop it", n, f.Field)
		}
		fr.val = valueFields[fr.root]
	default:
		var names []string
		for name := range stringFields {
			names = append(names, name)
		}
		slices.Sort(names)
		return fieldRule{}, fmt.Errorf("field rule %d: unknown field %q (want one of %s, or a path into arguments, result, usage or attributes)", n, f.Field, strings.Join(names, ", "))
	}
	return fr, nil
}

// canonicalText is the text a field rule fingerprints: a string as it is,
// a number in canonical form, true, false, null, or the canonical JSON of
// an array or object.
func canonicalText(v *strictjson.Value) string {
	switch v.Kind {
	case strictjson.String, strictjson.Bool:
		return v.Str
	case strictjson.Number:
		return strictjson.CanonicalNumber(v.Str)
	case strictjson.Null:
		return "null"
	}
	return string(strictjson.AppendCanonical(nil, *v))
}

// applyRule applies one field rule to the event.
func (st *eventState) applyRule(fr *fieldRule) {
	rule := "field:" + fr.action
	if fr.str != nil {
		p := fr.str(st.e)
		v := *p
		if v == "" {
			return
		}
		switch fr.action {
		case ActionDrop:
			*p = ""
		case ActionMask:
			if v == MaskText {
				return
			}
			*p = MaskText
		case ActionHMAC:
			if isPseudonym(v) || isMarker(v) {
				return
			}
			*p = st.r.Pseudonym(v)
		}
		st.add(rule, fr.root, st.r.Fingerprint(v))
		return
	}
	pp := fr.val(st.e)
	if *pp == nil {
		return
	}
	var buf [16]pathSeg
	if len(fr.rest) > 0 {
		st.applyPath(*pp, fr, fr.rest, buf[:0])
		return
	}
	switch fr.action {
	case ActionDrop:
		st.add(rule, fr.root, st.r.Fingerprint(canonicalText(*pp)))
		*pp = nil
	case ActionMask: // result only (New refuses the others)
		if (*pp).Kind == strictjson.String && (*pp).Str == MaskText {
			return
		}
		st.add(rule, fr.root, st.r.Fingerprint(canonicalText(*pp)))
		*pp = &strictjson.Value{Kind: strictjson.String, Str: MaskText}
	case ActionHMAC:
		st.hmacLeaves(*pp, fr.root, buf[:0])
	}
}

// applyPath follows rest from v (through every element of the arrays it
// meets) and applies the rule to the member it names.
func (st *eventState) applyPath(v *strictjson.Value, fr *fieldRule, rest []string, path []pathSeg) {
	switch v.Kind {
	case strictjson.Array:
		for i := range v.Items {
			st.applyPath(&v.Items[i], fr, rest, append(path, pathSeg{idx: i}))
		}
	case strictjson.Object:
		i := slices.IndexFunc(v.Members, func(m strictjson.Member) bool { return m.Key == rest[0] })
		if i < 0 {
			return
		}
		m := &v.Members[i]
		p := append(path, pathSeg{key: m.Key, idx: -1})
		if len(rest) > 1 {
			st.applyPath(&m.Value, fr, rest[1:], p)
			return
		}
		rule := "field:" + fr.action
		switch fr.action {
		case ActionDrop:
			st.add(rule, pathString(fr.root, p), st.r.Fingerprint(canonicalText(&m.Value)))
			v.Members = slices.Delete(v.Members, i, i+1)
		case ActionMask:
			if m.Value.Kind == strictjson.String && m.Value.Str == MaskText {
				return
			}
			st.add(rule, pathString(fr.root, p), st.r.Fingerprint(canonicalText(&m.Value)))
			m.Value = strictjson.Value{Kind: strictjson.String, Str: MaskText}
		case ActionHMAC:
			st.hmacLeaves(&m.Value, fr.root, p)
		}
	}
}

// hmacLeaves replaces every string, number and bool in v with its
// pseudonym (a number by its canonical text).
func (st *eventState) hmacLeaves(v *strictjson.Value, root string, path []pathSeg) {
	switch v.Kind {
	case strictjson.String, strictjson.Number, strictjson.Bool:
		if v.Kind == strictjson.String && (isPseudonym(v.Str) || isMarker(v.Str)) {
			return
		}
		text := canonicalText(v)
		st.add("field:"+ActionHMAC, pathString(root, path), st.r.Fingerprint(text))
		*v = strictjson.Value{Kind: strictjson.String, Str: st.r.Pseudonym(text)}
	case strictjson.Array:
		for i := range v.Items {
			st.hmacLeaves(&v.Items[i], root, append(path, pathSeg{idx: i}))
		}
	case strictjson.Object:
		for i := range v.Members {
			st.hmacLeaves(&v.Members[i].Value, root, append(path, pathSeg{key: v.Members[i].Key, idx: -1}))
		}
	}
}
