package query

import (
	"strings"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// Match reports whether e matches q. It does not leave out the server's
// own record types (see NamesType); callers do.
func (q *Query) Match(e *clawtrail.Event) bool {
	if q.root == nil {
		return true
	}
	m := matcher{e: e}
	return m.eval(q.root)
}

// matcher evaluates a query against one event, tokenizing the event's
// full text at most once.
type matcher struct {
	e         *clawtrail.Event
	toks      []string
	tokenized bool
}

func (m *matcher) eval(n node) bool {
	switch n := n.(type) {
	case *andNode:
		for _, k := range n.kids {
			if !m.eval(k) {
				return false
			}
		}
		return true
	case *orNode:
		for _, k := range n.kids {
			if m.eval(k) {
				return true
			}
		}
		return false
	case *notNode:
		return !m.eval(n.kid)
	case *termNode:
		return n.match(m.e)
	case *textNode:
		return containsPhrase(m.tokens(), n.toks, n.prefix)
	}
	return false
}

func (m *matcher) tokens() []string {
	if !m.tokenized {
		m.toks, m.tokenized = ftsTokens(m.e), true
	}
	return m.toks
}

// match evaluates a field term; a term on an absent field is false.
func (t *termNode) match(e *clawtrail.Event) bool {
	switch t.f.kind {
	case kindString, kindTenant, kindText:
		return t.matchString(t.f.str(e))
	case kindNumber:
		x, ok := t.f.num(e)
		return ok && t.compareFloat(x)
	case kindTime:
		return t.compareNS(t.f.ns(e))
	case kindTree:
		return t.matchTree(t.f.tree(e))
	}
	return false
}

// matchString matches a top-level string field; "" is absent.
func (t *termNode) matchString(s string) bool {
	if s == "" {
		return false
	}
	switch t.op {
	case opEq:
		return s == t.val
	case opPrefix:
		return strings.HasPrefix(s, t.val)
	}
	return t.op == opExists
}

func (t *termNode) compareFloat(x float64) bool {
	switch t.op {
	case opEq:
		return x == t.num
	case opLT:
		return x < t.num
	case opLE:
		return x <= t.num
	case opGT:
		return x > t.num
	case opGE:
		return x >= t.num
	}
	return false
}

func (t *termNode) compareNS(ns int64) bool {
	switch t.op {
	case opEq:
		return ns == t.ns
	case opLT:
		return ns < t.ns
	case opLE:
		return ns <= t.ns
	case opGT:
		return ns > t.ns
	case opGE:
		return ns >= t.ns
	}
	return false
}

// matchTree reports whether a leaf at the term's path in v matches.
func (t *termNode) matchTree(v *strictjson.Value) bool {
	if v == nil {
		return false
	}
	if !t.dotted {
		return t.anyLeaf(v)
	}
	return t.anyMember(v, t.path)
}

// anyLeaf reports whether a scalar leaf whose path is v's own matches:
// v itself, or the elements of an array, at any depth.
func (t *termNode) anyLeaf(v *strictjson.Value) bool {
	switch v.Kind {
	case strictjson.String, strictjson.Number, strictjson.Bool:
		return t.matchLeaf(v)
	case strictjson.Array:
		for i := range v.Items {
			if t.anyLeaf(&v.Items[i]) {
				return true
			}
		}
	}
	return false
}

// anyMember reports whether a leaf at path rest below v matches; a member
// key may itself contain dots, and arrays are transparent.
func (t *termNode) anyMember(v *strictjson.Value, rest string) bool {
	switch v.Kind {
	case strictjson.Array:
		for i := range v.Items {
			if t.anyMember(&v.Items[i], rest) {
				return true
			}
		}
	case strictjson.Object:
		for i := range v.Members {
			if t.member(&v.Members[i], rest) {
				return true
			}
		}
	}
	return false
}

func (t *termNode) member(m *strictjson.Member, rest string) bool {
	if m.Key == rest {
		return t.anyLeaf(&m.Value)
	}
	k := len(m.Key)
	if len(rest) > k && rest[k] == '.' && rest[:k] == m.Key {
		return t.anyMember(&m.Value, rest[k+1:])
	}
	return false
}

// matchLeaf matches one non-null scalar leaf.
func (t *termNode) matchLeaf(v *strictjson.Value) bool {
	switch t.op {
	case opExists:
		return true
	case opPrefix:
		return strings.HasPrefix(v.Str, t.val)
	case opEq:
		if v.Str == t.val {
			return true
		}
		if !t.isNum {
			return false
		}
	}
	x, ok := leafNumber(v)
	return ok && t.compareFloat(x)
}
