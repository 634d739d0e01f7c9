package clawtrail

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/clawtrail/clawtrail/strictjson"
)

// Limits on identifiers (SPEC §1).
const (
	MaxIDLen     = 128
	MaxTenantLen = 64
)

// ValidID reports whether s is a valid event id: ^[A-Za-z0-9_.:@-]{1,128}$.
func ValidID(s string) bool {
	return validChars(s, MaxIDLen, func(c byte) bool {
		return isLower(c) || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '.' || c == ':' || c == '@' || c == '-'
	})
}

// ValidTenant reports whether s is a valid tenant id: ^[a-z0-9_.-]{1,64}$.
func ValidTenant(s string) bool {
	return validChars(s, MaxTenantLen, func(c byte) bool {
		return isLower(c) || isDigit(c) || c == '_' || c == '.' || c == '-'
	})
}

// ValidType reports whether s is a well-formed event type:
// ^[a-z][a-z0-9_.]{0,63}$.
func ValidType(s string) bool {
	return s != "" && isLower(s[0]) && validChars(s, 64, func(c byte) bool {
		return isLower(c) || isDigit(c) || c == '_' || c == '.'
	})
}

func validChars(s string, max int, ok func(byte) bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// FieldError names one problem with one field of one event of a request.
type FieldError struct {
	Line    int    `json:"line,omitempty"`  // 1-based line of an NDJSON body, or 1-based element of an array
	Field   string `json:"field,omitempty"` // the offending field, when there is one
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	switch {
	case e.Line > 0 && e.Field != "":
		return fmt.Sprintf("line %d: field %s: %s", e.Line, e.Field, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	case e.Field != "":
		return fmt.Sprintf("field %s: %s", e.Field, e.Message)
	}
	return e.Message
}

// TimestampLayout is how timestamps are written: RFC 3339, UTC, up to ns.
const TimestampLayout = time.RFC3339Nano

// Timestamps outside [MinTime, MaxTime) are refused.
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// DecodeEvent maps a JSON object to an Event. With trusted false (a client's
// event) the server fields seq, received_at, key_id and redactions are
// refused; with trusted true (a stored body) they are read. Unknown
// top-level fields are moved under attributes. It returns every problem
// found, not just the first.
func DecodeEvent(v *strictjson.Value, trusted bool) (*Event, []FieldError) {
	if v.Kind != strictjson.Object {
		return nil, []FieldError{{Message: "an event must be a JSON object, not " + v.Kind.String()}}
	}
	d := eventDecoder{e: &Event{Seq: -1}, trusted: trusted}
	for i := range v.Members {
		d.member(&v.Members[i])
	}
	d.finish()
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return d.e, nil
}

type eventDecoder struct {
	e       *Event
	trusted bool
	extra   []strictjson.Member
	errs    []FieldError
}

func (d *eventDecoder) fail(field, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (d *eventDecoder) str(m *strictjson.Member, dst *string) {
	switch m.Value.Kind {
	case strictjson.String:
		*dst = m.Value.Str
	case strictjson.Null:
	default:
		d.fail(m.Key, "must be a string, not %s", m.Value.Kind)
	}
}

func (d *eventDecoder) object(m *strictjson.Member, dst **strictjson.Value) {
	switch m.Value.Kind {
	case strictjson.Object:
		v := m.Value
		*dst = &v
	case strictjson.Null:
	default:
		d.fail(m.Key, "must be an object, not %s", m.Value.Kind)
	}
}

func (d *eventDecoder) integer(m *strictjson.Member, dst **int64) {
	switch m.Value.Kind {
	case strictjson.Null:
		return
	case strictjson.Number:
		n, err := strconv.ParseInt(strictjson.CanonicalNumber(m.Value.Str), 10, 64)
		if err != nil {
			d.fail(m.Key, "must be an integer, not %s", m.Value.Str)
			return
		}
		*dst = &n
	default:
		d.fail(m.Key, "must be an integer, not %s", m.Value.Kind)
	}
}

func (d *eventDecoder) time(m *strictjson.Member, dst *time.Time) {
	if m.Value.Kind != strictjson.String {
		d.fail(m.Key, "must be an RFC 3339 timestamp string, not %s", m.Value.Kind)
		return
	}
	t, err := ParseTimestamp(m.Value.Str)
	if err != nil {
		d.fail(m.Key, "%v", err)
		return
	}
	*dst = t
}

// ParseTimestamp parses an RFC 3339 timestamp (any offset, up to ns) and
// returns it in UTC; it refuses times outside [MinTime, MaxTime).
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp (like 2026-01-31T14:22:33.456Z)", s)
	}
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return time.Time{}, fmt.Errorf("%q is outside the years 1970 to 2199", s)
	}
	return t.UTC(), nil
}

func (d *eventDecoder) serverField(m *strictjson.Member) bool {
	if d.trusted {
		return true
	}
	d.fail(m.Key, "is set by the server; a client may not send it")
	return false
}

func (d *eventDecoder) member(m *strictjson.Member) {
	e := d.e
	switch m.Key {
	case "id":
		d.str(m, &e.ID)
		if e.ID != "" && !ValidID(e.ID) {
			d.fail("id", "must be 1 to 128 characters of A-Z a-z 0-9 _ . : @ -")
		}
	case "seq":
		if d.serverField(m) {
			var n *int64
			d.integer(m, &n)
			if n != nil {
				e.Seq = *n
			}
		}
	case "key_id":
		if d.serverField(m) {
			d.str(m, &e.KeyID)
		}
	case "received_at":
		if d.serverField(m) {
			d.time(m, &e.ReceivedAt)
		}
	case "redactions":
		if d.serverField(m) {
			d.redactions(m)
		}
	case "timestamp":
		d.time(m, &e.Timestamp)
	case "tenant_id":
		d.str(m, &e.TenantID)
		if e.TenantID != "" && !ValidTenant(e.TenantID) {
			d.fail("tenant_id", "must be 1 to 64 characters of a-z 0-9 _ . -")
		}
	case "type":
		d.str(m, &e.Type)
	case "arguments":
		d.object(m, &e.Arguments)
	case "usage":
		d.object(m, &e.Usage)
	case "attributes":
		d.object(m, &e.Attributes)
	case "result":
		if m.Value.Kind != strictjson.Null {
			v := m.Value
			e.Result = &v
		}
	case "duration_ms":
		d.duration(m)
	case "tokens_used":
		d.integer(m, &e.TokensUsed)
	case "status_code":
		d.integer(m, &e.StatusCode)
	case "bytes":
		d.integer(m, &e.Bytes)
	default:
		if p := e.stringField(m.Key); p != nil {
			d.str(m, p)
			return
		}
		d.extra = append(d.extra, *m)
	}
}

func (d *eventDecoder) duration(m *strictjson.Member) {
	switch m.Value.Kind {
	case strictjson.Null:
	case strictjson.Number:
		f, err := strconv.ParseFloat(m.Value.Str, 64)
		if err != nil || math.IsInf(f, 0) || f < 0 {
			d.fail(m.Key, "must be a number of milliseconds >= 0, not %s", m.Value.Str)
			return
		}
		d.e.DurationMS = &f
	default:
		d.fail(m.Key, "must be a number, not %s", m.Value.Kind)
	}
}

func (d *eventDecoder) redactions(m *strictjson.Member) {
	if m.Value.Kind != strictjson.Array {
		d.fail(m.Key, "must be an array")
		return
	}
	for _, item := range m.Value.Items {
		var r Redaction
		for _, f := range item.Members {
			switch f.Key {
			case "rule":
				r.Rule = f.Value.Str
			case "field":
				r.Field = f.Value.Str
			case "fingerprint":
				r.Fingerprint = f.Value.Str
			}
		}
		d.e.Redactions = append(d.e.Redactions, r)
	}
}

// stringField returns the address of the plain string field named key.
func (e *Event) stringField(key string) *string {
	switch key {
	case "session_id":
		return &e.SessionID
	case "user_id":
		return &e.UserID
	case "agent_id":
		return &e.AgentID
	case "channel":
		return &e.Channel
	case "trace_id":
		return &e.TraceID
	case "span_id":
		return &e.SpanID
	case "parent_id":
		return &e.ParentID
	case "content":
		return &e.Content
	case "tool":
		return &e.Tool
	case "status":
		return &e.Status
	case "error":
		return &e.Error
	case "model":
		return &e.Model
	case "destination":
		return &e.Destination
	case "method":
		return &e.Method
	case "endpoint":
		return &e.Endpoint
	case "operation":
		return &e.Operation
	case "path":
		return &e.Path
	case "decision":
		return &e.Decision
	case "approver":
		return &e.Approver
	case "reason":
		return &e.Reason
	}
	return nil
}

func (d *eventDecoder) finish() {
	e := d.e
	switch {
	case e.Type == "" && !hasErr(d.errs, "type"):
		d.fail("type", "is required")
	case e.Type != "" && !ValidType(e.Type):
		d.fail("type", "%q must match ^[a-z][a-z0-9_.]{0,63}$", e.Type)
	case !d.trusted && ReservedType(e.Type):
		d.fail("type", "%q is reserved for the server", e.Type)
	}
	if len(d.extra) == 0 {
		return
	}
	if e.Attributes == nil {
		e.Attributes = &strictjson.Value{Kind: strictjson.Object}
	} else {
		attrs := *e.Attributes
		attrs.Members = append([]strictjson.Member(nil), attrs.Members...)
		e.Attributes = &attrs
	}
	keys := make(map[string]struct{}, len(e.Attributes.Members)+len(d.extra))
	for _, m := range e.Attributes.Members {
		keys[m.Key] = struct{}{}
	}
	for _, m := range d.extra {
		if _, dup := keys[m.Key]; dup {
			d.fail(m.Key, "is an unknown top-level field and also present in attributes")
			continue
		}
		keys[m.Key] = struct{}{}
		e.Attributes.Members = append(e.Attributes.Members, m)
	}
}

func hasErr(errs []FieldError, field string) bool {
	for _, e := range errs {
		if e.Field == field {
			return true
		}
	}
	return false
}
