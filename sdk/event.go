package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one audit record, with the fields of the clawtrail event
// contract (SPEC §1). Empty strings and zero numbers are left out of the
// JSON, except that a file_operation always carries bytes. The server sets
// seq, key_id, received_at and redactions.
type Event struct {
	ID        string    // client-assigned id; Log fills one in when empty, which makes retries idempotent
	Timestamp time.Time // when it happened; Log fills in time.Now() when zero

	TenantID  string // root key only: the tenant the event belongs to
	SessionID string
	UserID    string
	AgentID   string
	Channel   string
	TraceID   string
	SpanID    string
	ParentID  string

	Type      string // required: prompt, tool_call, output, api_call, file_operation, approval, or your own
	Content   string
	Tool      string
	Arguments any // must encode as a JSON object (a map, a struct, or json.RawMessage)
	Result    any // any JSON
	Status    string
	Error     string

	Duration   time.Duration // sent as duration_ms
	TokensUsed int64
	Usage      *Usage
	Model      string

	Destination string
	Method      string
	Endpoint    string
	StatusCode  int

	Operation string
	Path      string
	Bytes     int64

	Decision string
	Approver string
	Reason   string

	Attributes map[string]any
}

// Usage is token accounting for a model call.
type Usage struct {
	InputTokens         int64 `json:"input_tokens"`
	OutputTokens        int64 `json:"output_tokens"`
	CacheReadTokens     int64 `json:"cache_read_input_tokens,omitempty"`
	CacheCreationTokens int64 `json:"cache_creation_input_tokens,omitempty"`
}

// ErrInvalid is wrapped by every error Log returns for an event the server
// would refuse; the message names the field.
var ErrInvalid = errors.New("invalid event")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// validType mirrors the server's rule: ^[a-z][a-z0-9_.]{0,63}$, and not
// one of the types only the server writes.
func validType(t string) error {
	if t == "" {
		return invalidf("type is required")
	}
	if len(t) > 64 || t[0] < 'a' || t[0] > 'z' {
		return invalidf("type %q must match ^[a-z][a-z0-9_.]{0,63}$", t)
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return invalidf("type %q must match ^[a-z][a-z0-9_.]{0,63}$", t)
		}
	}
	switch t {
	case "auth", "access", "config_change", "alert", "tombstone":
		return invalidf("type %q is written only by the server", t)
	}
	return nil
}

func validID(id string) error {
	if len(id) > 128 {
		return invalidf("id is %d bytes; the limit is 128", len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '@' || c == '-') {
			return invalidf("id %q may hold only [A-Za-z0-9_.:@-]", id)
		}
	}
	return nil
}

func validTenant(t string) error {
	if len(t) > 64 {
		return invalidf("tenant_id is over 64 bytes")
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return invalidf("tenant_id %q may hold only [a-z0-9_.-]", t)
		}
	}
	return nil
}

// MarshalJSON encodes e as the server reads it (SPEC §1), without
// validating it: the same bytes Log would send, less the newline. It lets
// a program that builds Events (an integration, a converter) hand them to
// something other than a Client.
func (e Event) MarshalJSON() ([]byte, error) {
	b, err := appendEvent(nil, &e)
	if err != nil {
		return nil, err
	}
	return b[:len(b)-1], nil
}

// appendEvent appends e as one line of NDJSON (with the newline). The
// fixed fields are written by hand (no reflection, no allocation); the
// free-form ones (arguments, result, usage, attributes) by encoding/json.
// If b is not empty it holds the start of the object with the id already.
func appendEvent(b []byte, e *Event) ([]byte, error) {
	if len(b) == 0 {
		b = append(b, '{')
		if e.ID != "" {
			b = appendStr(b, "id", e.ID, true)
			b = append(b, ',')
		}
	} else {
		b = append(b, ',')
	}
	b = append(b, `"timestamp":"`...)
	b = e.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendStr(b, "tenant_id", e.TenantID, false)
	b = appendStr(b, "session_id", e.SessionID, false)
	b = appendStr(b, "user_id", e.UserID, false)
	b = appendStr(b, "agent_id", e.AgentID, false)
	b = appendStr(b, "channel", e.Channel, false)
	b = appendStr(b, "trace_id", e.TraceID, false)
	b = appendStr(b, "span_id", e.SpanID, false)
	b = appendStr(b, "parent_id", e.ParentID, false)
	b = appendStr(b, "type", e.Type, false)
	b = appendStr(b, "content", e.Content, false)
	b = appendStr(b, "tool", e.Tool, false)
	var err error
	if e.Arguments != nil {
		start := len(b)
		if b, err = appendAny(b, "arguments", e.Arguments); err != nil {
			return b, err
		}
		if v := b[start+len(`,"arguments":`):]; len(v) > 0 && v[0] != '{' && string(v) != "null" {
			return b, invalidf("arguments must encode as a JSON object, not %s", kindOf(v))
		}
	}
	if e.Result != nil {
		if b, err = appendAny(b, "result", e.Result); err != nil {
			return b, err
		}
	}
	b = appendStr(b, "status", e.Status, false)
	b = appendStr(b, "error", e.Error, false)
	if e.Duration != 0 {
		if e.Duration < 0 {
			return b, invalidf("duration is negative")
		}
		b = append(b, `,"duration_ms":`...)
		// Microsecond precision: 1.386, not 1.385856.
		us := e.Duration.Round(time.Microsecond)
		b = strconv.AppendInt(b, int64(us/time.Millisecond), 10)
		if frac := int64(us % time.Millisecond / time.Microsecond); frac != 0 {
			b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
			for b[len(b)-1] == '0' {
				b = b[:len(b)-1]
			}
		}
	}
	if e.TokensUsed != 0 {
		b = append(b, `,"tokens_used":`...)
		b = strconv.AppendInt(b, e.TokensUsed, 10)
	}
	if e.Usage != nil {
		if b, err = appendAny(b, "usage", e.Usage); err != nil {
			return b, err
		}
	}
	b = appendStr(b, "model", e.Model, false)
	b = appendStr(b, "destination", e.Destination, false)
	b = appendStr(b, "method", e.Method, false)
	b = appendStr(b, "endpoint", e.Endpoint, false)
	if e.StatusCode != 0 {
		b = append(b, `,"status_code":`...)
		b = strconv.AppendInt(b, int64(e.StatusCode), 10)
	}
	b = appendStr(b, "operation", e.Operation, false)
	b = appendStr(b, "path", e.Path, false)
	if e.Bytes != 0 || e.Type == "file_operation" {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, e.Bytes, 10)
	}
	b = appendStr(b, "decision", e.Decision, false)
	b = appendStr(b, "approver", e.Approver, false)
	b = appendStr(b, "reason", e.Reason, false)
	if len(e.Attributes) > 0 {
		if b, err = appendAny(b, "attributes", e.Attributes); err != nil {
			return b, err
		}
	}
	return append(b, '}', '\n'), nil
}

func kindOf(v []byte) string {
	switch v[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func appendAny(b []byte, key string, v any) ([]byte, error) {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	if out, ok := appendValue(b, v, 0); ok {
		return out, nil
	}
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		// Compacted: a pretty-printed value would break the one-line framing.
		var buf bytes.Buffer
		if err := json.Compact(&buf, x); err != nil {
			return b, invalidf("%s is not valid JSON: %v", key, err)
		}
		raw = buf.Bytes()
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return b, invalidf("%s: %v", key, err)
		}
	}
	return append(b, raw...), nil
}

// appendValue encodes the JSON-shaped values agents pass most (maps of
// strings to scalars, slices, strings, numbers) without reflection; ok is
// false for anything else, which encoding/json then handles.
func appendValue(b []byte, v any, depth int) ([]byte, bool) {
	if depth > 16 {
		return b, false
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendQuoted(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, false
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64), true
	case map[string]any:
		// Pairs collected while iterating (no second lookup), sorted by key
		// as encoding/json does.
		var arr [16]kv
		pairs := arr[:0]
		for k, v := range x {
			pairs = append(pairs, kv{k, v})
		}
		slices.SortFunc(pairs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		b = append(b, '{')
		for i, p := range pairs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, p.k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendValue(b, p.v, depth+1); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case map[string]string:
		var arr [16]string
		keys := arr[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, k)
			b = append(b, ':')
			b = appendQuoted(b, x[k])
		}
		return append(b, '}'), true
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendValue(b, e, depth+1); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, e)
		}
		return append(b, ']'), true
	}
	return b, false
}

// appendStr appends ,"key":"value" (no comma when first), skipping empty
// values. Invalid UTF-8 becomes U+FFFD, as encoding/json does, so the
// server never refuses a line for it.
func appendStr(b []byte, key, v string, first bool) []byte {
	if v == "" {
		return b
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendQuoted(b, v)
}

const hexDigits = "0123456789abcdef"

type kv struct {
	k string
	v any
}

// plain marks the ASCII bytes a JSON string carries as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
