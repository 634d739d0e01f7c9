package clawtrail

import (
	"strconv"
	"time"

	"github.com/clawtrail/clawtrail/strictjson"
)

// AppendJSON appends the event's stored form: a JSON object whose members
// come in a fixed order (id, seq, received_at, then the SPEC §1 order;
// absent fields omitted), nested objects
// in canonical form (keys sorted), timestamps as RFC 3339 UTC with up to
// nine fractional digits, numbers as strictjson.CanonicalNumber writes them.
// These bytes are the body that the leaf's body commitment covers, and what
// the API returns for the event.
//
// IMPORTANT: the bytes are frozen (docs/ledger.md, format version 1); never
// change this encoding in place — add a new format version instead.
func (e *Event) AppendJSON(dst []byte) []byte {
	return AppendBody(dst, e.ID, e.Seq, e.ReceivedAt, e.AppendTail(nil))
}

// AppendBody appends a body from its server-assigned head (id, seq,
// received_at) and the tail AppendTail wrote. The sequencer uses it so that
// the tail, the costly part, is encoded before the single-writer section.
func AppendBody(dst []byte, id string, seq int64, receivedAt time.Time, tail []byte) []byte {
	var b [40]byte
	return AppendBodyAt(dst, id, seq, AppendReceivedAt(b[:0], receivedAt), tail)
}

// AppendReceivedAt appends received_at as AppendBody writes it (between
// its quotes; nothing for the zero time), for AppendBodyAt.
func AppendReceivedAt(dst []byte, receivedAt time.Time) []byte {
	if receivedAt.IsZero() {
		return dst
	}
	return receivedAt.UTC().AppendFormat(dst, TimestampLayout)
}

// AppendBodyAt is AppendBody with received_at formatted already
// (AppendReceivedAt): readers that rebuild many bodies of one commit
// format it once.
func AppendBodyAt(dst []byte, id string, seq int64, receivedAt []byte, tail []byte) []byte {
	w := objWriter{dst: append(dst, '{')}
	w.str("id", id)
	if seq >= 0 {
		w.key("seq")
		w.dst = strconv.AppendInt(w.dst, seq, 10)
	}
	if len(receivedAt) > 0 {
		w.key("received_at")
		w.dst = append(append(append(w.dst, '"'), receivedAt...), '"')
	}
	if w.n > 0 && len(tail) > 0 && tail[0] != '}' {
		w.dst = append(w.dst, ',')
	}
	return append(w.dst, tail...)
}

// AppendTail appends the body's members after id, seq and received_at, and
// the closing brace.
func (e *Event) AppendTail(dst []byte) []byte {
	w := objWriter{dst: dst}
	w.str("tenant_id", e.TenantID)
	w.str("type", e.Type)
	w.time("timestamp", e.Timestamp)
	w.str("key_id", e.KeyID)
	w.str("session_id", e.SessionID)
	w.str("user_id", e.UserID)
	w.str("agent_id", e.AgentID)
	w.str("channel", e.Channel)
	w.str("trace_id", e.TraceID)
	w.str("span_id", e.SpanID)
	w.str("parent_id", e.ParentID)
	w.str("content", e.Content)
	w.str("tool", e.Tool)
	w.value("arguments", e.Arguments)
	w.value("result", e.Result)
	w.str("status", e.Status)
	w.str("error", e.Error)
	if e.DurationMS != nil {
		w.key("duration_ms")
		w.dst = append(w.dst, strictjson.CanonicalFloat(*e.DurationMS)...)
	}
	w.int("tokens_used", e.TokensUsed)
	w.value("usage", e.Usage)
	w.str("model", e.Model)
	w.str("destination", e.Destination)
	w.str("method", e.Method)
	w.str("endpoint", e.Endpoint)
	w.int("status_code", e.StatusCode)
	w.str("operation", e.Operation)
	w.str("path", e.Path)
	w.int("bytes", e.Bytes)
	w.str("decision", e.Decision)
	w.str("approver", e.Approver)
	w.str("reason", e.Reason)
	w.value("attributes", e.Attributes)
	w.redactions(e.Redactions)
	return append(w.dst, '}')
}

type objWriter struct {
	dst []byte
	n   int
}

func (w *objWriter) key(k string) {
	if w.n > 0 {
		w.dst = append(w.dst, ',')
	}
	w.n++
	w.dst = strictjson.AppendString(w.dst, k)
	w.dst = append(w.dst, ':')
}

func (w *objWriter) str(k, v string) {
	if v != "" {
		w.key(k)
		w.dst = strictjson.AppendString(w.dst, v)
	}
}

func (w *objWriter) time(k string, t time.Time) {
	if !t.IsZero() {
		w.key(k)
		w.dst = append(w.dst, '"')
		w.dst = t.UTC().AppendFormat(w.dst, TimestampLayout)
		w.dst = append(w.dst, '"')
	}
}

func (w *objWriter) int(k string, v *int64) {
	if v != nil {
		w.key(k)
		w.dst = strconv.AppendInt(w.dst, *v, 10)
	}
}

func (w *objWriter) value(k string, v *strictjson.Value) {
	if v != nil {
		w.key(k)
		w.dst = strictjson.AppendCanonical(w.dst, *v)
	}
}

func (w *objWriter) redactions(rs []Redaction) {
	if len(rs) == 0 {
		return
	}
	w.key("redactions")
	w.dst = append(w.dst, '[')
	for i, r := range rs {
		if i > 0 {
			w.dst = append(w.dst, ',')
		}
		o := objWriter{dst: append(w.dst, '{')}
		o.str("rule", r.Rule)
		o.str("field", r.Field)
		o.str("fingerprint", r.Fingerprint)
		w.dst = append(o.dst, '}')
	}
	w.dst = append(w.dst, ']')
}

// ParseEvent decodes a stored event body (trusted: server fields allowed).
func ParseEvent(body []byte) (*Event, error) {
	v, err := strictjson.Parse(body)
	if err != nil {
		return nil, err
	}
	e, errs := DecodeEvent(&v, true)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return e, nil
}
