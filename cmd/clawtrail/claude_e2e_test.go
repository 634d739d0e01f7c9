package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/claudecode"
	"github.com/clawtrail/clawtrail/internal/e2e"
)

// mockMessages is a scripted Anthropic Messages API: the first model turn
// asks for a harmless Bash command, the second for `rm -rf`, the third
// answers in text. The step is the number of tool results in the request,
// so it follows the conversation, whatever else Claude Code asks.
type mockMessages struct {
	mu          sync.Mutex
	toolResults []map[string]any // every tool_result block the model was sent
}

func (m *mockMessages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || !strings.HasPrefix(r.URL.Path, "/v1/messages") {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Tools    []any  `json:"tools"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var results []map[string]any
	for _, msg := range req.Messages {
		var blocks []map[string]any
		if json.Unmarshal(msg.Content, &blocks) != nil {
			continue
		}
		for _, b := range blocks {
			if b["type"] == "tool_result" {
				results = append(results, b)
			}
		}
	}
	var content []map[string]any
	stop := "end_turn"
	switch {
	case len(req.Tools) == 0: // a side request (titles, summaries)
		content = []map[string]any{{"type": "text", "text": "ok"}}
	case len(results) == 0:
		content = []map[string]any{{"type": "tool_use", "id": "toolu_e2e_1", "name": "Bash",
			"input": map[string]any{"command": "echo hello-from-mock", "description": "greet"}}}
		stop = "tool_use"
	case len(results) == 1:
		content = []map[string]any{{"type": "tool_use", "id": "toolu_e2e_2", "name": "Bash",
			"input": map[string]any{"command": "rm -rf ./scratch", "description": "clean up"}}}
		stop = "tool_use"
	default:
		content = []map[string]any{{"type": "text", "text": "MOCK-DONE: all finished"}}
	}
	if len(req.Tools) > 0 {
		m.mu.Lock()
		m.toolResults = results
		m.mu.Unlock()
	}
	usage := map[string]any{"input_tokens": 120, "output_tokens": 30}
	msg := map[string]any{"id": fmt.Sprintf("msg_e2e_%d", len(results)), "type": "message", "role": "assistant",
		"model": req.Model, "content": content, "stop_reason": stop, "stop_sequence": nil, "usage": usage}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(msg)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	send := func(event string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	}
	start := map[string]any{}
	for k, v := range msg {
		start[k] = v
	}
	start["content"], start["stop_reason"] = []any{}, nil
	send("message_start", map[string]any{"type": "message_start", "message": start})
	for i, c := range content {
		if c["type"] == "tool_use" {
			input, _ := json.Marshal(c["input"])
			send("content_block_start", map[string]any{"type": "content_block_start", "index": i,
				"content_block": map[string]any{"type": "tool_use", "id": c["id"], "name": c["name"], "input": map[string]any{}}})
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": string(input)}})
		} else {
			send("content_block_start", map[string]any{"type": "content_block_start", "index": i,
				"content_block": map[string]any{"type": "text", "text": ""}})
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i,
				"delta": map[string]any{"type": "text_delta", "text": c["text"]}})
		}
		send("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	send("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": 30}})
	send("message_stop", map[string]any{"type": "message_stop"})
}

// TestClaudeCodeEndToEnd drives the real Claude Code (npm
// @anthropic-ai/claude-code, installed by scripts/e2e-deps) against the
// mock Messages API, with the hooks --print-settings prints, once as
// command hooks and once as HTTP hooks. Both times the ledger must hold
// the whole session, and the rm -rf the model asks for must be refused by
// the deny rule, recorded as blocked, and never run.
func TestClaudeCodeEndToEnd(t *testing.T) {
	rule := `tool:Bash AND "rm -rf"`
	ts := startServer(t, t.TempDir(), func(c *serveConfig) {
		c.Hooks.ClaudeCode = claudecode.Policy{Deny: []claudecode.Rule{{Query: rule, Reason: "recursive deletes need a human"}}}
	})
	for _, mode := range []string{"command", "http"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"--deny", rule}
			if mode == "http" {
				args = []string{"--http"}
			}
			run := runClaude(t, ts, args, "stream-json", "--verbose")
			out, proj, mock := run.out, run.proj, run.mock
			var session string
			for _, line := range strings.Split(string(out), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["session_id"] != nil && session == "" {
					session, _ = m["session_id"].(string)
				}
			}
			if session == "" {
				t.Fatalf("no session id in Claude Code's output:\n%s", tail(out, 3000))
			}
			if _, err := os.Stat(filepath.Join(proj, "scratch")); err != nil {
				t.Errorf("the refused rm -rf ran: %v", err)
			}
			mock.mu.Lock()
			results := mock.toolResults
			mock.mu.Unlock()
			if len(results) != 2 || !strings.Contains(fmt.Sprint(results[0]["content"]), "hello-from-mock") ||
				results[1]["is_error"] != true || !strings.Contains(fmt.Sprint(results[1]["content"]), "clawtrail") {
				t.Errorf("what the model was told: %v", results)
			}

			evs := sessionEvents(t, ts, session)
			var got []string
			var echo, blocked, output map[string]any
			for _, e := range evs {
				s := e["type"].(string)
				if st, _ := e["status"].(string); st != "" {
					s += "/" + st
				}
				got = append(got, s)
				args, _ := e["arguments"].(map[string]any)
				switch {
				case e["status"] == "success" && args["command"] == "echo hello-from-mock":
					echo = e
				case e["status"] == "blocked":
					blocked = e
				case e["type"] == "output":
					output = e
				}
				if e["user_id"] != "tester" {
					t.Errorf("user_id %v", e["user_id"])
				}
			}
			timeline := strings.Join(got, " ")
			t.Logf("%s session %s: %s", mode, session, timeline)
			for _, want := range []string{"prompt", "tool_call/started tool_call/success", "tool_call/blocked", "output", "session_end"} {
				if !strings.Contains(timeline, want) {
					t.Errorf("timeline %q lacks %q", timeline, want)
				}
			}
			if mode == "command" && !strings.HasPrefix(timeline, "session_start prompt") {
				t.Errorf("timeline %q should start with session_start prompt", timeline)
			}
			if echo == nil || !strings.Contains(fmt.Sprint(echo["result"]), "hello-from-mock") {
				t.Errorf("the echo tool call: %v", echo)
			}
			if blocked == nil || blocked["tool"] != "Bash" || !strings.Contains(fmt.Sprint(blocked["arguments"]), "rm -rf ./scratch") {
				t.Errorf("the blocked call: %v", blocked)
			}
			if output == nil || !strings.Contains(fmt.Sprint(output["content"]), "MOCK-DONE") {
				t.Errorf("output %v", output)
			}
			// The command hook reads the turn's usage from the transcript.
			if tok, _ := output["tokens_used"].(float64); mode == "command" && (tok <= 0 || output["model"] == nil) {
				t.Errorf("output without model or usage: %v", output)
			}
			if evs[0]["content"] != nil && mode == "command" && evs[1]["content"] != "say hello, then clean up the scratch directory" {
				t.Errorf("prompt %v", evs[1]["content"])
			}
		})
	}
}

type claudeRun struct {
	out  []byte        // Claude Code's stdout and stderr
	proj string        // the project directory it ran in
	mock *mockMessages // the model API it talked to
}

// runClaude runs the real Claude Code once in a fresh project and home,
// against a fresh mock model API, with the hooks `clawtrail hook
// claude-code --print-settings hookArgs…` prints in the project's
// settings, the prompt "say hello, then clean up the scratch directory"
// (the project has a scratch directory), output format format (and
// extraFlag, if any), and env added to a minimal environment.
func runClaude(t *testing.T, ts *testServer, hookArgs []string, format, extraFlag string, env ...string) claudeRun {
	t.Helper()
	claude := e2e.Claude(t)
	bin := binary(t)
	mock := &mockMessages{}
	llm := httptest.NewServer(mock)
	t.Cleanup(llm.Close)
	tmp := t.TempDir()
	proj := filepath.Join(tmp, "proj")
	home := filepath.Join(tmp, "home")
	for _, d := range []string{filepath.Join(proj, ".claude"), filepath.Join(proj, "scratch"), home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"hook", "claude-code", "--print-settings", "--server", ts.url, "--spool", filepath.Join(tmp, "spool")}, hookArgs...)
	settings, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("print-settings: %v", err)
	}
	if err := os.WriteFile(filepath.Join(proj, ".claude", "settings.json"), settings, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flags := []string{"-p", "say hello, then clean up the scratch directory", "--output-format", format, "--allowedTools", "Bash"}
	if extraFlag != "" {
		flags = append(flags, extraFlag)
	}
	cmd := exec.CommandContext(ctx, claude, flags...)
	cmd.Dir = proj
	cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "USER=tester",
		"ANTHROPIC_BASE_URL=" + llm.URL, "ANTHROPIC_API_KEY=sk-ant-test",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1", "CLAWTRAIL_TOKEN=" + ts.token}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("claude: %v\n%s", err, tail(out, 3000))
	}
	return claudeRun{out, proj, mock}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// TestClaudeCodeTelemetryEndToEnd points the real Claude Code's own
// OpenTelemetry export (OTLP/HTTP JSON, logs and traces) at clawtrail's
// OTLP endpoint, next to the command hooks: the events that arrive by
// telemetry carry the same session id as the hook events.
func TestClaudeCodeTelemetryEndToEnd(t *testing.T) {
	ts := startServer(t, t.TempDir())
	out := runClaude(t, ts, nil, "json", "",
		"CLAUDE_CODE_ENABLE_TELEMETRY=1", "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1",
		"OTEL_LOGS_EXPORTER=otlp", "OTEL_TRACES_EXPORTER=otlp", "OTEL_METRICS_EXPORTER=none",
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/json", "OTEL_EXPORTER_OTLP_ENDPOINT="+ts.url+"/v1/otlp",
		"OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer "+ts.token,
		"OTEL_LOG_USER_PROMPTS=1", "OTEL_LOG_TOOL_DETAILS=1",
		"OTEL_LOGS_EXPORT_INTERVAL=500", "OTEL_BSP_SCHEDULE_DELAY=500").out
	var res struct {
		SessionID string `json:"session_id"`
	}
	if err := json.Unmarshal(out[strings.LastIndex(string(out), "\n{")+1:], &res); err != nil || res.SessionID == "" {
		if err2 := json.Unmarshal(out, &res); err2 != nil || res.SessionID == "" {
			t.Fatalf("no session id in Claude Code's output (%v):\n%s", err, tail(out, 3000))
		}
	}
	// Telemetry is exported in batches; give the last one a moment.
	var evs []map[string]any
	var kinds map[string]int
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs = sessionEvents(t, ts, res.SessionID)
		kinds = map[string]int{}
		for _, e := range evs {
			a, _ := e["attributes"].(map[string]any)
			if _, hook := a["hook_event_name"]; hook {
				kinds["hook:"+e["type"].(string)]++
			} else {
				kinds["otel:"+e["type"].(string)]++
			}
		}
		if kinds["otel:prompt"] > 0 && kinds["otel:tool_call"] > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("session %s: %v", res.SessionID, kinds)
	if kinds["hook:prompt"] != 1 || kinds["otel:prompt"] < 1 || kinds["otel:tool_call"] < 1 {
		t.Errorf("want the hook events and the telemetry events under one session id; got %v", kinds)
	}
	for _, e := range evs {
		if e["type"] == "prompt" && e["content"] != "say hello, then clean up the scratch directory" {
			t.Errorf("prompt %v", e)
		}
	}
}
