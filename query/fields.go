package query

import (
	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// fieldKind says how a field is stored and compared.
type fieldKind uint8

const (
	kindString fieldKind = iota // an ev column holding a string
	kindTenant                  // tenant_id: a constant per index partition
	kindNumber                  // an ev column holding a number
	kindTime                    // an ev column holding ns since the epoch
	kindText                    // a top-level string kept in fv (content, error, reason)
	kindTree                    // a JSON value kept in fv by leaf path
)

// field is a resolved query field.
type field struct {
	name string // canonical top-level name, e.g. "session_id" or "attributes"
	kind fieldKind
	col  string // ev column for kindString, kindNumber and kindTime

	str  func(*clawtrail.Event) string
	num  func(*clawtrail.Event) (float64, bool)
	ns   func(*clawtrail.Event) int64
	tree func(*clawtrail.Event) *strictjson.Value
}

// stringField returns the definition of a top-level string field, or false.
func stringField(name string) (field, bool) {
	var get func(*clawtrail.Event) string
	switch name {
	case "id":
		get = func(e *clawtrail.Event) string { return e.ID }
	case "key_id":
		get = func(e *clawtrail.Event) string { return e.KeyID }
	case "session_id":
		get = func(e *clawtrail.Event) string { return e.SessionID }
	case "user_id":
		get = func(e *clawtrail.Event) string { return e.UserID }
	case "agent_id":
		get = func(e *clawtrail.Event) string { return e.AgentID }
	case "channel":
		get = func(e *clawtrail.Event) string { return e.Channel }
	case "trace_id":
		get = func(e *clawtrail.Event) string { return e.TraceID }
	case "span_id":
		get = func(e *clawtrail.Event) string { return e.SpanID }
	case "parent_id":
		get = func(e *clawtrail.Event) string { return e.ParentID }
	case "type":
		get = func(e *clawtrail.Event) string { return e.Type }
	case "tool":
		get = func(e *clawtrail.Event) string { return e.Tool }
	case "status":
		get = func(e *clawtrail.Event) string { return e.Status }
	case "model":
		get = func(e *clawtrail.Event) string { return e.Model }
	case "destination":
		get = func(e *clawtrail.Event) string { return e.Destination }
	case "method":
		get = func(e *clawtrail.Event) string { return e.Method }
	case "endpoint":
		get = func(e *clawtrail.Event) string { return e.Endpoint }
	case "operation":
		get = func(e *clawtrail.Event) string { return e.Operation }
	case "path":
		get = func(e *clawtrail.Event) string { return e.Path }
	case "decision":
		get = func(e *clawtrail.Event) string { return e.Decision }
	case "approver":
		get = func(e *clawtrail.Event) string { return e.Approver }
	default:
		return field{}, false
	}
	return field{name: name, kind: kindString, col: name, str: get}, true
}

// textField returns the definition of content, error or reason, or false.
func textField(name string) (field, bool) {
	var get func(*clawtrail.Event) string
	switch name {
	case "content":
		get = func(e *clawtrail.Event) string { return e.Content }
	case "error":
		get = func(e *clawtrail.Event) string { return e.Error }
	case "reason":
		get = func(e *clawtrail.Event) string { return e.Reason }
	default:
		return field{}, false
	}
	return field{name: name, kind: kindText, str: get}, true
}

// numberField returns the definition of a numeric top-level field, or false.
func numberField(name string) (field, bool) {
	var get func(*clawtrail.Event) (float64, bool)
	switch name {
	case "seq":
		get = func(e *clawtrail.Event) (float64, bool) { return float64(e.Seq), true }
	case "duration_ms":
		get = func(e *clawtrail.Event) (float64, bool) { return optFloat(e.DurationMS) }
	case "tokens_used":
		get = func(e *clawtrail.Event) (float64, bool) { return optInt(e.TokensUsed) }
	case "status_code":
		get = func(e *clawtrail.Event) (float64, bool) { return optInt(e.StatusCode) }
	case "bytes":
		get = func(e *clawtrail.Event) (float64, bool) { return optInt(e.Bytes) }
	default:
		return field{}, false
	}
	return field{name: name, kind: kindNumber, col: name, num: get}, true
}

// timeField returns the definition of timestamp or received_at, or false.
func timeField(name string) (field, bool) {
	switch name {
	case "timestamp":
		return field{name: name, kind: kindTime, col: "ts",
			ns: func(e *clawtrail.Event) int64 { return e.Timestamp.UnixNano() }}, true
	case "received_at":
		return field{name: name, kind: kindTime, col: "received_at",
			ns: func(e *clawtrail.Event) int64 { return e.ReceivedAt.UnixNano() }}, true
	}
	return field{}, false
}

// treeField returns the definition of a JSON-valued field, or false.
func treeField(name string) (field, bool) {
	var get func(*clawtrail.Event) *strictjson.Value
	switch name {
	case "arguments":
		get = func(e *clawtrail.Event) *strictjson.Value { return e.Arguments }
	case "result":
		get = func(e *clawtrail.Event) *strictjson.Value { return e.Result }
	case "usage":
		get = func(e *clawtrail.Event) *strictjson.Value { return e.Usage }
	case "attributes":
		get = func(e *clawtrail.Event) *strictjson.Value { return e.Attributes }
	default:
		return field{}, false
	}
	return field{name: name, kind: kindTree, tree: get}, true
}

// topField resolves a top-level field name or alias.
func topField(name string) (field, bool) {
	switch name {
	case "session", "user", "agent", "tenant":
		name += "_id"
	}
	if name == "tenant_id" {
		return field{name: name, kind: kindTenant,
			str: func(e *clawtrail.Event) string { return e.TenantID }}, true
	}
	for _, lookup := range []func(string) (field, bool){stringField, textField, numberField, timeField, treeField} {
		if f, ok := lookup(name); ok {
			return f, true
		}
	}
	return field{}, false
}

func optFloat(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

func optInt(p *int64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return float64(*p), true
}
