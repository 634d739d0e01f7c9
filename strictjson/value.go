// Package strictjson is a small, strict JSON decoder and canonical encoder for
// audit events.
//
// Unlike encoding/json it rejects what an audit log must not silently accept:
// duplicate object keys, invalid UTF-8, lone UTF-16 surrogates in \u escapes,
// trailing data, and nesting deeper than MaxDepth. Numbers keep their literal
// text, so nothing is rounded on the way in. Errors carry the byte offset of
// the problem.
//
// The canonical encoding (AppendCanonical) is what feeds hashes: object keys
// sorted by their UTF-8 bytes, no insignificant whitespace, strings escaped
// minimally, numbers normalised (see CanonicalNumber). IMPORTANT: the bytes of
// the canonical encoding are frozen (docs/ledger.md); never change them in
// place.
package strictjson

// Kind is the JSON type of a Value.
type Kind uint8

// The JSON kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	}
	return "invalid"
}

// Value is a decoded JSON value.
type Value struct {
	Kind Kind
	// Str holds the decoded text of a String, the literal text of a Number,
	// and "true" or "false" for a Bool.
	Str string
	// Items holds the elements of an Array.
	Items []Value
	// Members holds the members of an Object, in input order; keys are unique.
	Members []Member
}

// Member is one key/value pair of an Object.
type Member struct {
	Key   string
	Value Value
}

// Get returns the member of an Object named key.
func (v *Value) Get(key string) (*Value, bool) {
	for i := range v.Members {
		if v.Members[i].Key == key {
			return &v.Members[i].Value, true
		}
	}
	return nil, false
}

// StringValue returns a String value.
func StringValue(s string) Value { return Value{Kind: String, Str: s} }
