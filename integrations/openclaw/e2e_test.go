package openclaw_test

// End-to-end: a real OpenClaw (scripts/e2e-deps openclaw) loads this
// directory's plugin, talks to a mock OpenAI-compatible model served here,
// runs the `exec` tool the model asks for, and the plugin delivers what
// happened to a real clawtrail server in this process. The first run has the
// server down (its events wait in the plugin's spool); the second run, with
// the server up, delivers the first run's spool and then its own.

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
	"syscall"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/e2e"
	"github.com/clawtrail/clawtrail/internal/testserver"
)

const internalContext = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"

// mockLLM answers chat/completions like an OpenAI-compatible provider: a
// turn with no tool result yet asks for one exec call; a turn with a tool
// result answers with text quoting it. It looks only at the current turn
// (after the last real user prompt), since sessions keep their history.
type mockLLM struct {
	mu    sync.Mutex
	calls int
}

func (m *mockLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models") {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"mock-1","object":"model","owned_by":"mock"}]}`)
		return
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	m.calls++
	n := m.calls
	m.mu.Unlock()
	if n > 20 { // a loop would otherwise spin until the test's deadline
		http.Error(w, "too many model calls", http.StatusInternalServerError)
		return
	}
	turn := 0
	for i, msg := range req.Messages {
		if msg.Role == "user" && !strings.Contains(string(msg.Content), internalContext) {
			turn = i
		}
	}
	toolResult := ""
	for _, msg := range req.Messages[turn:] {
		if msg.Role == "tool" {
			toolResult = text(msg.Content)
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(v map[string]any) {
		v["id"] = fmt.Sprintf("chatcmpl-%d", n)
		v["object"] = "chat.completion.chunk"
		v["created"] = time.Now().Unix()
		v["model"] = "mock-1"
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	choice := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	if toolResult == "" {
		chunk(choice(map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{
			"index": 0, "id": fmt.Sprintf("call_mock_%d", n), "type": "function",
			"function": map[string]any{"name": "exec", "arguments": `{"command":"echo hello-from-mock"}`},
		}}}, nil))
		chunk(choice(map[string]any{}, "tool_calls"))
	} else {
		chunk(choice(map[string]any{"role": "assistant", "content": "MOCK-FINAL: tool said: " + toolResult}, nil))
		chunk(choice(map[string]any{}, "stop"))
	}
	chunk(map[string]any{"choices": []any{}, "usage": map[string]any{"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}})
	io.WriteString(w, "data: [DONE]\n\n")
}

// text is a message content's text: a string, or text parts.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// tmpLeftovers are what OpenClaw writes under /tmp whatever its config says.
func tmpLeftovers() []string {
	return []string{"/tmp/openclaw", fmt.Sprintf("/tmp/openclaw-state-locks-%d", os.Getuid())}
}

func TestOpenClawEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real OpenClaw (about 45 s)")
	}
	node := e2e.Node24(t)
	openclaw := e2e.OpenClaw(t)
	plugin, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}

	// Remove what OpenClaw leaves in /tmp, but only what this test created.
	for _, p := range tmpLeftovers() {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			t.Cleanup(func() { os.RemoveAll(p) })
		}
	}

	ts := testserver.New(t, ingest.Limits{})
	llm := httptest.NewServer(&mockLLM{})
	defer llm.Close()

	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	state := filepath.Join(home, ".openclaw")
	work := filepath.Join(dir, "work")
	spool := filepath.Join(dir, "spool")
	for _, d := range []string{state, work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	config := map[string]any{
		"models": map[string]any{
			"mode":           "replace",
			"catalogRefresh": map[string]any{"enabled": false},
			"providers": map[string]any{"mock": map[string]any{
				"baseUrl": llm.URL + "/v1", "apiKey": "mock-key", "api": "openai-completions",
				"models": []any{map[string]any{
					"id": "mock-1", "name": "Mock 1", "reasoning": false, "input": []string{"text"},
					"cost":          map[string]any{"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
					"contextWindow": 128000, "maxTokens": 4096,
				}},
			}},
		},
		"agents": map[string]any{"defaults": map[string]any{
			"workspace": work, "model": map[string]any{"primary": "mock/mock-1"}, "heartbeat": map[string]any{"every": "0m"},
		}},
		"update":    map[string]any{"checkOnStart": false},
		"telemetry": map[string]any{"enabled": false},
		"logging":   map[string]any{"file": filepath.Join(dir, "logs", "openclaw.log")},
		"plugins": map[string]any{
			"allow": []string{"clawtrail"},
			"load":  map[string]any{"paths": []string{plugin}},
			"entries": map[string]any{"clawtrail": map[string]any{
				"enabled": true,
				"hooks":   map[string]any{"allowConversationAccess": true},
				"config": map[string]any{
					"url": ts.URL, "token": ts.Ingest, "spoolDir": spool, "flushIntervalMs": 200, "timeoutMs": 5000,
				},
			}},
		},
	}
	b, _ := json.MarshalIndent(config, "", "  ")
	if err := os.WriteFile(filepath.Join(state, "openclaw.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	run := func(session string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, openclaw, "agent", "--local", "--session-id", session,
			"--message", "run the echo command for me", "--json")
		cmd.Dir = work
		cmd.Env = append(os.Environ(),
			"PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"HOME="+home, "OPENCLAW_STATE_DIR="+state, "OPENCLAW_NO_AUTO_UPDATE=1",
			"CLAWTRAIL_URL=", "CLAWTRAIL_TOKEN=")
		// Its own process group: OpenClaw starts worker processes, and every
		// one of them is killed when the run ends, however it ends.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		t.Logf("openclaw agent --local --session-id %s: %v in %s", session, err, time.Since(start).Round(100*time.Millisecond))
		if err != nil || !strings.Contains(stdout.String(), "hello-from-mock") {
			t.Fatalf("openclaw agent: %v\nstdout: %s\nstderr: %s", err, stdout.String(), tail(stderr.String(), 4000))
		}
	}

	// Run 1, server down: the events wait in the spool.
	ts.Stop()
	run("oc-e2e-down")
	left := spoolFiles(t, spool)
	if len(left) == 0 {
		t.Fatalf("no spool files in %s after a run with the server down", spool)
	}

	// Run 2, server up: the new process adopts run 1's spool, sends it, then its own events.
	ts.Start()
	run("oc-e2e-up")

	var ledger []map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		ledger = ts.Ledger("acme")
		if complete(ledger, "oc-e2e-down") && complete(ledger, "oc-e2e-up") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range []string{"oc-e2e-down", "oc-e2e-up"} {
		checkSession(t, ledger, s)
	}
	// The spooled run reached the ledger before the later one.
	if first(ledger, "oc-e2e-down") > first(ledger, "oc-e2e-up") {
		t.Errorf("the spooled run's events were committed after the next run's")
	}
	// Every event once (ids are unique in the ledger by construction; the
	// events are not doubled under different ids either).
	counts := map[string]int{}
	for _, e := range ledger {
		counts[fmt.Sprint(e["session_id"], e["type"], e["status"], e["attributes"].(map[string]any)["hook"])]++
	}
	for k, n := range counts {
		if n > 1 && !strings.Contains(k, "model_call") {
			t.Errorf("%d events of kind %s", n, k)
		}
	}
	if files := spoolFiles(t, spool); len(files) != 0 {
		t.Errorf("spool not emptied: %v", files)
	}
	// Both runs are sessions the API lists, with the tool the model used.
	events := ts.Session("oc-e2e-up", 4)
	if len(events) < 4 {
		t.Errorf("GET /v1/sessions/oc-e2e-up: %d events", len(events))
	}
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "seg-*.ndjson"))
	return m
}

func sessionEvents(ledger []map[string]any, session string) []map[string]any {
	var out []map[string]any
	for _, e := range ledger {
		if e["session_id"] == session {
			out = append(out, e)
		}
	}
	return out
}

// index returns the position of the first event of session matching f, or -1.
func index(evs []map[string]any, f func(map[string]any) bool) int {
	for i, e := range evs {
		if f(e) {
			return i
		}
	}
	return -1
}

func isPrompt(e map[string]any) bool { return e["type"] == "prompt" }
func isStarted(e map[string]any) bool {
	return e["type"] == "tool_call" && e["status"] == "started"
}
func isDone(e map[string]any) bool {
	return e["type"] == "tool_call" && e["status"] == "success"
}
func isOutput(e map[string]any) bool { return e["type"] == "output" }

func complete(ledger []map[string]any, session string) bool {
	evs := sessionEvents(ledger, session)
	for _, f := range []func(map[string]any) bool{isPrompt, isStarted, isDone, isOutput} {
		if index(evs, f) < 0 {
			return false
		}
	}
	return true
}

func first(ledger []map[string]any, session string) int {
	for i, e := range ledger {
		if e["session_id"] == session {
			return i
		}
	}
	return len(ledger)
}

func checkSession(t *testing.T, ledger []map[string]any, session string) {
	t.Helper()
	evs := sessionEvents(ledger, session)
	p, s, d, o := index(evs, isPrompt), index(evs, isStarted), index(evs, isDone), index(evs, isOutput)
	if p < 0 || s < 0 || d < 0 || o < 0 {
		var got []string
		for _, e := range ledger {
			got = append(got, fmt.Sprint(e["session_id"], " ", e["type"], " ", e["status"]))
		}
		t.Fatalf("session %s: prompt %d, tool started %d, tool done %d, output %d; the ledger holds:\n%s", session, p, s, d, o, strings.Join(got, "\n"))
	}
	if !(p < s && s < d && d < o) {
		t.Errorf("session %s: out of order: prompt %d, tool started %d, tool done %d, output %d", session, p, s, d, o)
	}
	if c, _ := evs[p]["content"].(string); !strings.Contains(c, "run the echo command for me") {
		t.Errorf("session %s: prompt content %q", session, c)
	}
	for _, i := range []int{s, d} {
		e := evs[i]
		args, _ := e["arguments"].(map[string]any)
		if e["tool"] != "exec" || args["command"] != "echo hello-from-mock" {
			t.Errorf("session %s: tool call %v %v", session, e["tool"], e["arguments"])
		}
		if e["span_id"] != evs[s]["span_id"] || e["span_id"] == nil {
			t.Errorf("session %s: tool call span ids %v, %v", session, evs[s]["span_id"], e["span_id"])
		}
	}
	if r, _ := evs[d]["result"].(string); !strings.Contains(r, "hello-from-mock") {
		t.Errorf("session %s: tool result %v", session, evs[d]["result"])
	}
	if _, ok := evs[d]["duration_ms"].(float64); !ok {
		t.Errorf("session %s: tool call without duration_ms", session)
	}
	out := evs[o]
	if c, _ := out["content"].(string); !strings.Contains(c, "hello-from-mock") {
		t.Errorf("session %s: output %q", session, c)
	}
	if out["model"] != "mock-1" || out["tokens_used"] == nil {
		t.Errorf("session %s: output model %v tokens %v", session, out["model"], out["tokens_used"])
	}
	if u, _ := out["usage"].(map[string]any); u["input_tokens"] == nil || u["output_tokens"] == nil {
		t.Errorf("session %s: output usage %v", session, out["usage"])
	}
	for _, e := range evs {
		attrs, _ := e["attributes"].(map[string]any)
		if attrs["session_key"] != "agent:main:explicit:"+session {
			t.Errorf("session %s: %v event with session_key %v", session, e["type"], attrs["session_key"])
		}
		if e["agent_id"] != nil && e["agent_id"] != "main" {
			t.Errorf("session %s: agent_id %v", session, e["agent_id"])
		}
		if strings.Contains(fmt.Sprint(e), "You are a personal assistant") {
			t.Errorf("session %s: the system prompt was recorded", session)
		}
	}
	if index(evs, func(e map[string]any) bool { return e["type"] == "agent_end" && e["status"] == "success" }) < 0 {
		t.Errorf("session %s: no successful agent_end", session)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
