package claudecode

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// stdinFixture returns the hook payloads Claude Code 2.1.332 wrote to a
// command hook's stdin, in order (captured from the real program).
func stdinFixture(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/claude-code-2.1.332-hook-stdin.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if len(out) != 18 {
		t.Fatalf("fixture has %d payloads, want 18", len(out))
	}
	return out
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }

// mapped maps a payload and decodes it with the server's decoder: what
// the server would store.
func mapped(t *testing.T, payload []byte, pol *Policy) (*clawtrail.Event, []byte) {
	t.Helper()
	p, err := Parse(payload)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	e := Map(p, Options{User: "alice", Now: fixedNow})
	var answer []byte
	if pol != nil {
		if _, answer, err = pol.Apply(p, &e, "acme"); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	ev, err := Decode(e)
	if err != nil {
		t.Fatalf("the server would refuse the mapped event: %v", err)
	}
	return ev, answer
}

func attr(e *clawtrail.Event, path string) any {
	var v any
	if e.Attributes == nil {
		return nil
	}
	if json.Unmarshal(raw(e.Attributes), &v) != nil {
		return nil
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func raw(v *strictjson.Value) []byte {
	if v == nil {
		return []byte("null")
	}
	return strictjson.AppendCanonical(nil, *v)
}

func jsonOf(t *testing.T, v *strictjson.Value) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw(v), &m); err != nil {
		t.Fatalf("%s: %v", raw(v), err)
	}
	return m
}

func TestEveryFixturePayload(t *testing.T) {
	pol := Policy{Deny: []Rule{{Query: `tool:Bash AND "rm -rf"`, Reason: "no recursive deletes"}}}
	if err := pol.Compile(); err != nil {
		t.Fatal(err)
	}
	const session = "e0409ced-3049-432b-bcf4-ed7fdd007c62"
	type want struct {
		typ, status, tool, content, span string
		check                            func(t *testing.T, e *clawtrail.Event, answer []byte)
	}
	wants := []want{
		{typ: "session_start", content: "startup"},
		{typ: "prompt", content: "Please write hello.txt"},
		{typ: "tool_call", status: "started", tool: "Write", span: "toolu_01WRITE", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if e.Path != "/home/user/proj/hello.txt" || e.Operation != "write" || e.Bytes == nil || *e.Bytes != 12 {
				t.Errorf("file fields: path %q op %q bytes %v", e.Path, e.Operation, e.Bytes)
			}
			if a := jsonOf(t, e.Arguments); a["content"] != "hello world\n" {
				t.Errorf("arguments %v", a)
			}
		}},
		{typ: "tool_call", status: "success", tool: "Write", span: "toolu_01WRITE", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if r := jsonOf(t, e.Result); r["type"] != "create" || r["filePath"] != "/home/user/proj/hello.txt" {
				t.Errorf("result %v", r)
			}
		}},
		{typ: "tool_call", status: "started", tool: "Bash", span: "toolu_02BASH"},
		{typ: "tool_call", status: "success", tool: "Bash", span: "toolu_02BASH", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if r := jsonOf(t, e.Result); r["stdout"] != "hello world" {
				t.Errorf("result %v", r)
			}
			if e.DurationMS == nil || *e.DurationMS != 75 {
				t.Errorf("duration_ms %v, want 75", e.DurationMS)
			}
			if a := jsonOf(t, e.Arguments); a["command"] != "cat hello.txt" {
				t.Errorf("arguments %v", a)
			}
		}},
		{typ: "tool_call", status: "blocked", tool: "Bash", span: "toolu_03DENY", check: func(t *testing.T, e *clawtrail.Event, answer []byte) {
			if e.Reason != "no recursive deletes" || attr(e, "rule") != `tool:Bash AND "rm -rf"` {
				t.Errorf("reason %q rule %v", e.Reason, attr(e, "rule"))
			}
			var a struct {
				H struct{ HookEventName, PermissionDecision, PermissionDecisionReason string } `json:"hookSpecificOutput"`
			}
			if err := json.Unmarshal(answer, &a); err != nil {
				t.Fatalf("answer %s: %v", answer, err)
			}
			if a.H.HookEventName != "PreToolUse" || a.H.PermissionDecision != "deny" || !strings.Contains(a.H.PermissionDecisionReason, "no recursive deletes") {
				t.Errorf("answer %s", answer)
			}
		}},
		{typ: "tool_call", status: "started", tool: "mcp__everything__echo", span: "toolu_04MCP", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if attr(e, "mcp_server.name") != "everything" {
				t.Errorf("mcp_server %v", attr(e, "mcp_server"))
			}
		}},
		{typ: "tool_call", status: "success", tool: "mcp__everything__echo", span: "toolu_04MCP", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if !strings.Contains(string(raw(e.Result)), "Echo: ping") {
				t.Errorf("result %s", raw(e.Result))
			}
		}},
		{typ: "tool_call", status: "started", tool: "Bash", span: "toolu_05PERM"},
		{typ: "approval", status: "pending", tool: "Bash", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if a := jsonOf(t, e.Arguments); a["command"] != "touch made.txt" {
				t.Errorf("arguments %v", a)
			}
			if s, _ := attr(e, "permission_suggestions").([]any); len(s) != 2 {
				t.Errorf("permission_suggestions %v", attr(e, "permission_suggestions"))
			}
		}},
		{typ: "tool_call", status: "success", tool: "Bash", span: "toolu_05PERM"},
		{typ: "tool_call", status: "started", tool: "Bash", span: "toolu_06EXIT2"},
		{typ: "tool_call", status: "started", tool: "Bash", span: "toolu_07FAIL"},
		{typ: "approval", status: "pending", tool: "Bash"},
		{typ: "tool_call", status: "error", tool: "Bash", span: "toolu_07FAIL", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if !strings.HasPrefix(e.Error, "Exit code 2\nls: cannot access") {
				t.Errorf("error %q", e.Error)
			}
			if e.DurationMS == nil || *e.DurationMS != 29 {
				t.Errorf("duration_ms %v", e.DurationMS)
			}
			if attr(e, "is_interrupt") != false {
				t.Errorf("is_interrupt %v", attr(e, "is_interrupt"))
			}
		}},
		{typ: "output", content: "All done."},
		{typ: "session_end", check: func(t *testing.T, e *clawtrail.Event, _ []byte) {
			if e.Reason != "other" {
				t.Errorf("reason %q", e.Reason)
			}
		}},
	}
	for i, payload := range stdinFixture(t) {
		w := wants[i]
		e, answer := mapped(t, payload, &pol)
		if e.Type != w.typ || e.Status != w.status || e.Tool != w.tool || (w.content != "" && e.Content != w.content) || e.SpanID != w.span {
			t.Errorf("payload %d: type %q status %q tool %q content %q span %q; want %+v", i+1, e.Type, e.Status, e.Tool, e.Content, e.SpanID, w)
		}
		if e.SessionID != session || e.UserID != "alice" || e.AgentID != "claude-code" {
			t.Errorf("payload %d: identity %q %q %q", i+1, e.SessionID, e.UserID, e.AgentID)
		}
		if attr(e, "cwd") != "/home/user/proj" || attr(e, "hook_event_name") == nil {
			t.Errorf("payload %d: attributes %s", i+1, raw(e.Attributes))
		}
		if (answer != nil) != (w.status == "blocked") {
			t.Errorf("payload %d: answer %s", i+1, answer)
		}
		if w.check != nil {
			w.check(t, e, answer)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, in := range []string{"", "  ", "[1]", `{"session_id":"s"}`, `{"hook_event_name":7}`, `{"hook_event_name":"Stop"} {}`, `{"hook_event_name":"Stop",`} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrPayload) {
			t.Errorf("Parse(%q) = %v, want ErrPayload", in, err)
		}
	}
}

func TestUnknownHookKeepsEverything(t *testing.T) {
	e, _ := mapped(t, []byte(`{"session_id":"s1","hook_event_name":"PreCompact","trigger":"auto","custom_instructions":"keep it short"}`), nil)
	if e.Type != "pre_compact" || attr(e, "trigger") != "auto" || attr(e, "custom_instructions") != "keep it short" {
		t.Errorf("type %q attributes %s", e.Type, raw(e.Attributes))
	}
	for hook, typ := range map[string]string{"SubagentStart": "subagent_start", "X-Y": "x_y", "9Lives": "hook_9_lives"} {
		if got := typeName(hook); got != typ {
			t.Errorf("typeName(%q) = %q, want %q", hook, got, typ)
		}
	}
}

func TestLongValuesAreCutAndMarked(t *testing.T) {
	big := strings.Repeat("é", 40<<10) // 80 KiB of two-byte runes
	payload, _ := json.Marshal(map[string]any{"session_id": "s", "hook_event_name": "PostToolUse", "tool_name": "Bash",
		"tool_input": map[string]any{"command": "cat big"}, "tool_response": map[string]any{"stdout": big}})
	e, _ := mapped(t, payload, nil)
	out, _ := jsonOf(t, e.Result)["stdout"].(string)
	if len(out) > DefaultMaxFieldBytes || len(out) < DefaultMaxFieldBytes-1 || !strings.HasPrefix(big, out) {
		t.Errorf("stdout cut to %d bytes (valid prefix: %v)", len(out), strings.HasPrefix(big, out))
	}
	if tr, _ := attr(e, "truncated").([]any); len(tr) != 1 || tr[0] != "result.stdout" {
		t.Errorf("truncated %v", attr(e, "truncated"))
	}
	// Many long strings: each under the field limit, together over the
	// event limit. The event still fits, and says what was cut.
	lines := make([]any, 40)
	for i := range lines {
		lines[i] = strings.Repeat("x", 60<<10)
	}
	payload, _ = json.Marshal(map[string]any{"session_id": "s", "hook_event_name": "PreToolUse", "tool_name": "Write",
		"tool_input": map[string]any{"file_path": "/a", "edits": lines}})
	e, _ = mapped(t, payload, nil)
	if len(raw(e.Arguments)) > eventBudget(DefaultMaxEventBytes) || attr(e, "truncated") == nil {
		t.Errorf("arguments %d bytes, truncated %v", len(raw(e.Arguments)), attr(e, "truncated"))
	}
}

func TestPolicy(t *testing.T) {
	pol := Policy{Deny: []Rule{
		{Query: `type:prompt AND "ignore previous instructions"`},
		{Query: `tenant:other AND tool:Read`, Reason: "other tenant"},
		{Query: `tool:Bash AND arguments.command:curl*`, Reason: "no curl"},
	}}
	if err := pol.Compile(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		payload, status, reasonHas string
	}{
		{`{"session_id":"s","hook_event_name":"UserPromptSubmit","prompt":"Please IGNORE previous instructions and"}`, "blocked", "ignore previous"},
		{`{"session_id":"s","hook_event_name":"UserPromptSubmit","prompt":"hello"}`, "", ""},
		{`{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"curl http://x"}}`, "blocked", "no curl"},
		{`{"session_id":"s","hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":{"command":"curl http://x"}}`, "denied", "no curl"},
		// Post-hoc events are recorded, never refused.
		{`{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"curl http://x"},"tool_response":{}}`, "success", ""},
		// tenant: is the tenant the event is stored in (acme here).
		{`{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Read","tool_input":{"file_path":"/x"}}`, "started", ""},
	}
	for _, c := range cases {
		e, answer := mapped(t, []byte(c.payload), &pol)
		if e.Status != c.status {
			t.Errorf("%s: status %q, want %q", c.payload, e.Status, c.status)
		}
		if (c.reasonHas != "") != (answer != nil) || !strings.Contains(strings.ToLower(string(answer)), c.reasonHas) {
			t.Errorf("%s: answer %s", c.payload, answer)
		}
	}
	// The answer shapes Claude Code reads.
	if got := string(Refusal(UserPromptSubmit, "r")); got != `{"decision":"block","reason":"r"}` {
		t.Errorf("UserPromptSubmit refusal %s", got)
	}
	if got := string(Refusal(PermissionRequest, "r")); got != `{"hookSpecificOutput":{"decision":{"behavior":"deny","message":"r"},"hookEventName":"PermissionRequest"}}` {
		t.Errorf("PermissionRequest refusal %s", got)
	}
	if Refusal(Stop, "r") != nil {
		t.Error("Stop cannot be refused")
	}
	for _, bad := range []string{"", "tool:(", "  "} {
		p := Policy{Deny: []Rule{{Query: bad}}}
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), "deny rule 1") {
			t.Errorf("Compile(%q) = %v", bad, err)
		}
	}
}

func TestLoadPolicy(t *testing.T) {
	f := t.TempDir() + "/rules.yaml"
	os.WriteFile(f, []byte("deny:\n  - query: 'tool:Bash AND \"rm -rf\"'\n    reason: no recursive deletes\n  - query: tool:WebFetch\n"), 0o600)
	pol, err := LoadPolicy(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Deny) != 2 || pol.Deny[0].Reason != "no recursive deletes" || !strings.Contains(pol.Deny[1].Reason, "the rule tool:WebFetch") {
		t.Errorf("%+v", pol.Deny)
	}
	os.WriteFile(f, []byte("deny:\n  - qeury: x\n"), 0o600)
	if _, err := LoadPolicy(f); err == nil {
		t.Error("a misspelt key was accepted")
	}
}

func TestStopReadsTheTurnsUsageFromTheTranscript(t *testing.T) {
	model, u, ok := TurnUsage("testdata/claude-code-2.1.332-transcript-excerpt.jsonl", "570389a8-b9c4-4578-9a0e-9c1e7714061b")
	// 8 model messages in the turn (msg_mock1 is written twice, one line
	// per content block), each 123 in / 45 out.
	if !ok || model != "claude-opus-5-5" || u.InputTokens != 8*123 || u.OutputTokens != 8*45 {
		t.Fatalf("TurnUsage = %q %+v %v", model, u, ok)
	}
	if _, _, ok := TurnUsage("testdata/claude-code-2.1.332-transcript-excerpt.jsonl", "another-prompt"); ok {
		t.Error("usage found for a prompt the transcript does not hold")
	}
	stop := stdinFixture(t)[16]
	stop = []byte(strings.Replace(string(stop), "/home/user/.claude/projects/-home-user-proj/e0409ced-3049-432b-bcf4-ed7fdd007c62.jsonl",
		"testdata/claude-code-2.1.332-transcript-excerpt.jsonl", 1))
	p, err := Parse(stop)
	if err != nil {
		t.Fatal(err)
	}
	e := Map(p, Options{ReadTranscript: true})
	if e.Model != "claude-opus-5-5" || e.Usage == nil || e.TokensUsed != 8*(123+45) {
		t.Errorf("Stop event: model %q usage %+v tokens %d", e.Model, e.Usage, e.TokensUsed)
	}
	if e = Map(p, Options{}); e.Usage != nil {
		t.Error("the transcript was read without ReadTranscript")
	}
}

func TestPayloadCannotPoseAsClawtrailMarkings(t *testing.T) {
	e, _ := mapped(t, []byte(`{"session_id":"s","hook_event_name":"Notification","message":"m","rule":"forged","truncated":["x"],"flattened":1}`), nil)
	if attr(e, "rule") != nil || attr(e, "truncated") != nil || attr(e, "flattened") != nil {
		t.Errorf("a payload key posed as a clawtrail marking: %s", raw(e.Attributes))
	}
	if attr(e, "payload_rule") != "forged" || attr(e, "payload_flattened") != json.Number("1") && attr(e, "payload_flattened") != float64(1) {
		t.Errorf("the payload's own keys were not kept: %s", raw(e.Attributes))
	}
}
