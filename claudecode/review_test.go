package claudecode

import (
	"encoding/json"
	"strings"
	"testing"
)

func preToolUse(t *testing.T, tool string, input any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"session_id": "s1", "hook_event_name": "PreToolUse",
		"tool_name": tool, "tool_input": input, "tool_use_id": "toolu_1", "cwd": "/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A deny rule sees the whole call: a command longer than --max-field-bytes
// (or than the event size limit) cannot hide the matching part past the
// cut, and an input nested deeper than the server's nesting limit neither
// escapes the rules nor makes the hook fail.
func TestDenyRulesSeeTheWholeCall(t *testing.T) {
	pol := Policy{Deny: []Rule{{Query: `tool:Bash AND "rm -rf"`}}}
	if err := pol.Compile(); err != nil {
		t.Fatal(err)
	}
	cmd := "echo " + strings.Repeat("a", 70<<10) + "; rm -rf /"
	e, answer := mapped(t, preToolUse(t, "Bash", map[string]any{"command": cmd}), &pol)
	if answer == nil {
		t.Fatal("a command longer than MaxFieldBytes escapes the deny rule")
	}
	if e.Status != "blocked" || attr(e, "truncated") == nil {
		t.Errorf("status %q, truncated %v", e.Status, attr(e, "truncated"))
	}
	var v any = "rm -rf /"
	for i := 0; i < 80; i++ {
		v = map[string]any{"a": v}
	}
	e, answer = mapped(t, preToolUse(t, "Bash", map[string]any{"command": "ls", "x": v}), &pol)
	if answer == nil {
		t.Fatal("deep nesting escapes the deny rule")
	}
	if f, _ := attr(e, "flattened").([]any); len(f) != 1 || !strings.HasPrefix(f[0].(string), "arguments.x.a.a") {
		t.Errorf("flattened %v", attr(e, "flattened"))
	}
}

// Hostile payloads still map to an event the server accepts, within the
// event size limit it was given.
func TestHostilePayloadsMapToValidEvents(t *testing.T) {
	deep := any("rm -rf /")
	for i := 0; i < 200; i++ {
		deep = []any{map[string]any{"k": deep}}
	}
	many := make([]any, 300000)
	for i := range many {
		many[i] = "ab"
	}
	manyLong := make([]any, 20000)
	for i := range manyLong {
		manyLong[i] = strings.Repeat("y", 300)
	}
	keys := map[string]any{}
	for i := 0; i < 60000; i++ {
		keys[strings.Repeat("k", 20)+itoa(i)] = i
	}
	cases := map[string]map[string]any{
		"deep tool_input":        {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": deep},
		"deep tool_response":     {"hook_event_name": "PostToolUse", "tool_name": "mcp__x__y", "tool_input": map[string]any{}, "tool_response": deep},
		"deep unknown field":     {"hook_event_name": "PermissionRequest", "tool_name": "Bash", "permission_suggestions": deep},
		"huge duration":          {"hook_event_name": "PostToolUse", "tool_name": "Bash", "duration_ms": 1e300},
		"many small strings":     {"hook_event_name": "PermissionRequest", "tool_name": "Bash", "permission_suggestions": many},
		"many long strings":      {"hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_response": manyLong},
		"many keys":              {"hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_input": keys},
		"many keys in attribute": {"hook_event_name": "Notification", "extra": keys},
		"huge tool name":         {"hook_event_name": "PreToolUse", "tool_name": strings.Repeat("T", 2<<20)},
		"huge session id":        {"hook_event_name": "Stop", "session_id": strings.Repeat("s", 2<<20)},
	}
	for name, c := range cases {
		b, _ := json.Marshal(c)
		p, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, limit := range []int{DefaultMaxEventBytes, 64 << 10} {
			e := Map(p, Options{MaxEventBytes: limit})
			line, err := e.MarshalJSON()
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if len(line) > eventBudget(limit) {
				t.Errorf("%s (limit %d): the event is %d bytes", name, limit, len(line))
			}
			if _, err := Decode(e); err != nil {
				t.Errorf("%s (limit %d): the server refuses it: %.300v", name, limit, err)
			}
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// Identifying fields of control characters (each 6 bytes as JSON) still
// fit a small event limit: shrink cuts them harder once the rest is gone
// (found by FuzzMap: a session_id of DEL characters cut to 1 KiB was 6 KiB
// on the wire, over a 4 KiB limit).
func TestEscapedIdentifiersFitASmallLimit(t *testing.T) {
	del := strings.Repeat("\x7f", 2000)
	for name, c := range map[string]map[string]any{
		"session id":      {"hook_event_name": "Stop", "session_id": del},
		"every id":        {"hook_event_name": "PreToolUse", "session_id": del, "tool_name": del, "cwd": del, "transcript_path": del},
		"hook event name": {"hook_event_name": del, "session_id": del},
	} {
		b, _ := json.Marshal(c)
		p, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		const limit = 4 << 10
		e := Map(p, Options{MaxEventBytes: limit, MaxFieldBytes: 1 << 10})
		line, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(line) > limit {
			t.Errorf("%s: the event is %d bytes, over the limit %d", name, len(line), limit)
		}
		if _, err := Decode(e); err != nil {
			t.Errorf("%s: the server refuses it: %.300v", name, err)
		}
	}
}
