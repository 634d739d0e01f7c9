// Package claudecode turns Claude Code hook calls into clawtrail events and
// applies deny rules to them. The same code serves the command hook
// (clawtrail hook claude-code, payload on stdin) and the HTTP hook (POST
// /v1/hooks/claude-code), so both record a hook call identically.
//
// A hook payload is the JSON object Claude Code sends: session_id,
// transcript_path, cwd, hook_event_name, and per event prompt, tool_name,
// tool_input, tool_response, tool_use_id, error, duration_ms, … (see
// docs/integrations/claude-code.md for the table).
package claudecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail/internal/fit"
	"github.com/clawtrail/clawtrail/sdk"
)

// ErrPayload is wrapped by every error about a payload that is not a
// Claude Code hook call.
var ErrPayload = errors.New("not a Claude Code hook payload")

// Options are what a payload does not say: who is at the keyboard and
// which agent this is.
type Options struct {
	User    string // user_id (the command hook uses the OS user)
	Agent   string // agent_id (default "claude-code")
	Channel string // channel (default none)
	// MaxFieldBytes bounds each string inside arguments, result and error
	// (default 64 KiB). A longer one is cut at a UTF-8 boundary and its
	// path listed in attributes.truncated, so nothing is cut silently.
	MaxFieldBytes int
	// MaxEventBytes is the server's event size limit (default 1 MiB); the
	// mapped event is kept under it, with room for what the server adds.
	MaxEventBytes int
	Now           func() time.Time
	// ReadTranscript: on Stop, read the session transcript Claude Code
	// names for the turn's model and token usage (the command hook runs
	// where the file is; the server never reads paths from requests).
	ReadTranscript bool
}

// DefaultMaxFieldBytes is Options.MaxFieldBytes's default.
const DefaultMaxFieldBytes = 64 << 10

// DefaultMaxEventBytes is Options.MaxEventBytes's default (the server's).
const DefaultMaxEventBytes = 1 << 20

// eventBudget is the size a mapped event must stay under: the server's
// limit less room for what the server adds (seq, key_id, received_at,
// tenant_id, redaction records).
func eventBudget(limit int) int {
	if limit >= 256<<10 {
		return limit - 124<<10
	}
	return limit * 3 / 4
}

// maxValueDepth is how deeply a payload value (tool_input, tool_response,
// any other field) may nest objects and arrays; deeper parts are kept as
// their JSON text, so that the event stays within the server's nesting
// limit (strictjson.MaxDepth, 64, counted from the event itself).
const maxValueDepth = 32

// maxDurationMS is the longest duration_ms mapped to the event's
// duration (time.Duration holds about 292 years); a larger value is kept
// under attributes as sent.
const maxDurationMS = 1e12

// Hook event names Claude Code sends (2.1.x).
const (
	SessionStart       = "SessionStart"
	SessionEnd         = "SessionEnd"
	UserPromptSubmit   = "UserPromptSubmit"
	PreToolUse         = "PreToolUse"
	PostToolUse        = "PostToolUse"
	PostToolUseFailure = "PostToolUseFailure"
	PermissionRequest  = "PermissionRequest"
	Stop               = "Stop"
	Notification       = "Notification"
)

// Payload is a decoded hook call.
type Payload struct {
	Event     string // hook_event_name
	SessionID string
	fields    map[string]json.RawMessage
}

// Parse decodes a hook payload: a JSON object naming hook_event_name.
func Parse(b []byte) (*Payload, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: the input is empty (Claude Code writes one JSON object to the hook's stdin)", ErrPayload)
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("%w: expected a JSON object, got %q…", ErrPayload, firstRunes(string(b), 20))
	}
	p := &Payload{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&p.fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value in the input", ErrPayload)
	}
	p.Event = p.str("hook_event_name")
	if p.Event == "" {
		return nil, fmt.Errorf("%w: hook_event_name is missing or not a string", ErrPayload)
	}
	p.SessionID = p.str("session_id")
	return p, nil
}

// str returns a string field, or "" when it is absent or not a string.
func (p *Payload) str(name string) string {
	raw, ok := p.fields[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// num returns a numeric field and whether it was one.
func (p *Payload) num(name string) (float64, bool) {
	raw, ok := p.fields[name]
	if !ok {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

// value returns a field decoded as any JSON value (numbers as json.Number).
func (p *Payload) value(name string) (any, bool) {
	raw, ok := p.fields[name]
	if !ok {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	return v, true
}

// ToolName is the payload's tool_name ("" for non-tool events).
func (p *Payload) ToolName() string { return p.str("tool_name") }

// common are the fields every hook call carries; they go to fixed event
// fields or to the attributes below, never twice.
var common = map[string]bool{
	"session_id": true, "hook_event_name": true,
}

// reservedAttr are the attributes clawtrail itself writes; a payload key
// of the same name is kept as payload_<name>.
var reservedAttr = map[string]bool{"truncated": true, "flattened": true, "rule": true, "hook_event_name": true,
	"effort": true, "is_interrupt": true}

// attrFields are copied to attributes under the same name when present.
var attrFields = []string{"cwd", "transcript_path", "prompt_id", "permission_mode", "tool_use_id", "mcp_server",
	"agent_id", "agent_type"}

// Map turns a hook call into one event. The event has no id: the caller's
// client (or the server) assigns one.
func Map(p *Payload, o Options) sdk.Event {
	return mapPayload(p, o, true)
}

// mapPayload is Map; with cut false nothing is cut (the event deny rules
// are matched against, so that no part of a call can hide past a cut).
func mapPayload(p *Payload, o Options, cut bool) sdk.Event {
	if o.Agent == "" {
		o.Agent = "claude-code"
	}
	if o.MaxFieldBytes <= 0 {
		o.MaxFieldBytes = DefaultMaxFieldBytes
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	if !cut {
		o.MaxFieldBytes = math.MaxInt
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	e := sdk.Event{
		Timestamp: now().UTC(), SessionID: p.SessionID, UserID: o.User, AgentID: o.Agent, Channel: o.Channel,
		Attributes: map[string]any{"hook_event_name": p.Event},
	}
	used := map[string]bool{}
	var flat []string
	// take reads a payload field for the event field at path.
	take := func(name, path string) (any, bool) {
		used[name] = true
		v, ok := p.value(name)
		return fit.Flatten(v, 1, maxValueDepth, path, &flat), ok
	}
	takeStr := func(name string) string {
		used[name] = true
		return p.str(name)
	}
	for _, f := range attrFields {
		if v, ok := take(f, "attributes."+f); ok {
			e.Attributes[f] = v
		}
	}
	if v, ok := take("effort", "attributes.effort"); ok {
		if m, ok := v.(map[string]any); ok && m["level"] != nil {
			e.Attributes["effort"] = m["level"]
		} else {
			e.Attributes["effort"] = v
		}
	}
	e.SpanID = p.str("tool_use_id")
	var cuts []string
	toolCall := func() {
		e.Type = "tool_call"
		e.Tool = takeStr("tool_name")
		if v, ok := take("tool_input", "arguments"); ok {
			e.Arguments = fit.Value(objectOf(v), o.MaxFieldBytes, "arguments", &cuts)
		}
		if ms, ok := p.num("duration_ms"); ok && ms >= 0 && ms <= maxDurationMS {
			used["duration_ms"] = true
			e.Duration = time.Duration(ms * float64(time.Millisecond))
		}
		fileFields(&e)
	}
	switch p.Event {
	case UserPromptSubmit:
		e.Type = "prompt"
		e.Content = takeStr("prompt")
	case PreToolUse:
		toolCall()
		e.Status = "started"
	case PostToolUse:
		toolCall()
		e.Status = "success"
		if v, ok := take("tool_response", "result"); ok {
			e.Result = fit.Value(v, o.MaxFieldBytes, "result", &cuts)
			if e.Operation == "write" && e.Bytes == 0 {
				if m, ok := v.(map[string]any); ok {
					if s, ok := m["content"].(string); ok {
						e.Bytes = int64(len(s))
					}
				}
			}
		}
	case PostToolUseFailure:
		toolCall()
		e.Status = "error"
		e.Error = fit.String(takeStr("error"), o.MaxFieldBytes, "error", &cuts)
		if v, ok := take("is_interrupt", "attributes.is_interrupt"); ok {
			e.Attributes["is_interrupt"] = v
			if v == true {
				e.Status = "interrupted"
			}
		}
	case PermissionRequest:
		toolCall()
		e.Type = "approval"
		e.Status = "pending"
		e.Content = "permission requested for " + e.Tool
	case Stop, "SubagentStop":
		e.Type = "output"
		if p.Event == "SubagentStop" {
			e.Type = "subagent_output"
		}
		e.Content = fit.String(takeStr("last_assistant_message"), o.MaxFieldBytes, "content", &cuts)
		if o.ReadTranscript {
			if model, u, ok := TurnUsage(p.str("transcript_path"), p.str("prompt_id")); ok {
				e.Model, e.Usage, e.TokensUsed = model, u, u.InputTokens+u.OutputTokens
			}
		}
	case SessionStart:
		e.Type = "session_start"
		e.Content = takeStr("source")
	case SessionEnd:
		e.Type = "session_end"
		e.Reason = takeStr("reason")
	case Notification:
		e.Type = "notification"
		e.Content = takeStr("message")
	default:
		e.Type = typeName(p.Event)
	}
	// Whatever else the payload carries is kept, under attributes.
	for k := range p.fields {
		if common[k] || used[k] {
			continue
		}
		if v, ok := p.value(k); ok {
			name := k
			if reservedAttr[k] {
				// Never let a payload pose as clawtrail's own markings.
				name = "payload_" + k
			}
			v = fit.Flatten(v, 1, maxValueDepth, "attributes."+name, &flat)
			e.Attributes[name] = fit.Value(v, o.MaxFieldBytes, "attributes."+name, &cuts)
		}
	}
	if len(flat) > 0 {
		flat = fit.Paths(flat)
		sort.Strings(flat)
		e.Attributes["flattened"] = flat
	}
	if !cut {
		return e
	}
	if len(cuts) > 0 {
		e.Attributes["truncated"] = fit.Paths(cuts)
	}
	shrink(&e, &cuts, eventBudget(o.MaxEventBytes))
	return e
}

// fileFields fills path, operation and bytes for Claude Code's file tools,
// so that `path:` and `operation:` searches find them like any file
// operation.
func fileFields(e *sdk.Event) {
	args, _ := e.Arguments.(map[string]any)
	if args == nil {
		return
	}
	op := map[string]string{"Write": "write", "Edit": "edit", "MultiEdit": "edit", "Read": "read",
		"NotebookEdit": "edit"}[e.Tool]
	if op == "" {
		return
	}
	path, _ := args["file_path"].(string)
	if path == "" {
		path, _ = args["notebook_path"].(string)
	}
	if path == "" {
		return
	}
	e.Operation, e.Path = op, path
	if s, ok := args["content"].(string); ok && op == "write" {
		e.Bytes = int64(len(s))
	}
}

// objectOf returns v when it is a JSON object and wraps it as
// {"input": v} otherwise: arguments must be an object.
func objectOf(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{"input": v}
}

// typeName makes an event type of a hook name: SubagentStart →
// subagent_start.
func typeName(hook string) string {
	var b strings.Builder
	for i, r := range hook {
		switch {
		case r >= 'A' && r <= 'Z': // ASCII only: event types are [a-z0-9_.]
			if i > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			b.WriteByte(byte(r) + 'a' - 'A')
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "hook_" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// shrink makes sure the event fits the server's size limit (budget bytes):
// strings cut at MaxFieldBytes can still add up (a Write of many long
// lines, a long array, many fields). It cuts harder, in steps, then
// replaces what is still too large by a marker, and says so in
// attributes.truncated each time.
func shrink(e *sdk.Event, cuts *[]string, budget int) {
	fits := func() bool {
		b, err := e.MarshalJSON()
		return err == nil && len(b) <= budget
	}
	note := func() { e.Attributes["truncated"] = fit.Paths(*cuts) }
	if fits() {
		return
	}
	for _, max := range []int{16 << 10, 4 << 10, 1 << 10, 256} {
		e.Arguments = fit.Value(e.Arguments, max, "arguments", cuts)
		e.Result = fit.Value(e.Result, max, "result", cuts)
		e.Content = fit.String(e.Content, max, "content", cuts)
		e.Error = fit.String(e.Error, max, "error", cuts)
		for k, v := range e.Attributes {
			if k != "truncated" && k != "flattened" {
				e.Attributes[k] = fit.Value(v, max, "attributes."+k, cuts)
			}
		}
		note()
		if fits() {
			return
		}
	}
	// Many small values, or fields no one expects to be long: replace.
	if e.Result != nil {
		e.Result = removed
		*cuts = append(*cuts, "result")
	}
	if e.Arguments != nil {
		e.Arguments = map[string]any{"removed": "too large to record"}
		*cuts = append(*cuts, "arguments")
	}
	ids := []struct {
		name string
		s    *string
	}{{"session_id", &e.SessionID}, {"tool", &e.Tool}, {"path", &e.Path}, {"reason", &e.Reason},
		{"operation", &e.Operation}, {"span_id", &e.SpanID}, {"user_id", &e.UserID}, {"agent_id", &e.AgentID},
		{"channel", &e.Channel}}
	cutIDs := func(max int) {
		for _, f := range ids {
			*f.s = fit.String(*f.s, max, f.name, cuts)
		}
	}
	cutIDs(1 << 10)
	note()
	if fits() {
		return
	}
	for k := range e.Attributes {
		switch k {
		case "hook_event_name", "rule", "truncated", "flattened":
		default:
			delete(e.Attributes, k)
			*cuts = append(*cuts, "attributes."+k)
		}
	}
	note()
	// Still too large for a small limit: the identifying fields, cut
	// harder (a control character takes 6 bytes as JSON, so 1 KiB of
	// them is 6 KiB on the wire).
	for _, max := range []int{256, 64, 16} {
		if fits() {
			return
		}
		cutIDs(max)
		if h, ok := e.Attributes["hook_event_name"].(string); ok {
			e.Attributes["hook_event_name"] = fit.String(h, max, "attributes.hook_event_name", cuts)
		}
		note()
	}
	if !fits() {
		// Only the lists of what was cut can be left too long.
		*cuts = append(*cuts, "attributes")
		e.Attributes["truncated"] = []string{"arguments", "attributes", "result"}
		delete(e.Attributes, "flattened")
	}
}

// removed is what a value too large to record is replaced with.
const removed = "[removed: too large to record]"

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
