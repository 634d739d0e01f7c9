package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/claudecode"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
)

const fixtureSession = "e0409ced-3049-432b-bcf4-ed7fdd007c62"

// hookPayloads are the 18 payloads Claude Code 2.1.332 gave a command
// hook on stdin (captured from the real program).
func hookPayloads(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../claudecode/testdata/claude-code-2.1.332-hook-stdin.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// sessionEvents reads a session's timeline with the CLI.
func sessionEvents(t *testing.T, ts *testServer, id string) []map[string]any {
	t.Helper()
	out, errOut, code := ts.cli("", "logs", "session", id, "--format", "jsonl")
	if code != 0 {
		t.Fatalf("logs session: %d %s", code, errOut)
	}
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		evs = append(evs, m)
	}
	return evs
}

func TestClaudeCodeHookCommandRecordsEveryFixture(t *testing.T) {
	ts := startServer(t, t.TempDir())
	spool := t.TempDir()
	rule := `tool:Bash AND "rm -rf"`
	var denied int
	for i, p := range hookPayloads(t) {
		out, errOut, code := ts.cli(p, "hook", "claude-code", "--deny", rule, "--spool", spool, "--user", "alice")
		if code != 0 || errOut != "" {
			t.Fatalf("payload %d: exit %d, stderr %q", i+1, code, errOut)
		}
		if strings.Contains(p, "rm -rf") && strings.Contains(p, `"PreToolUse"`) {
			denied++
			var a struct {
				H map[string]string `json:"hookSpecificOutput"`
			}
			if err := json.Unmarshal([]byte(out), &a); err != nil || a.H["permissionDecision"] != "deny" || a.H["hookEventName"] != "PreToolUse" {
				t.Errorf("payload %d: answer %q (%v), want Claude Code's deny JSON", i+1, out, err)
			}
		} else if out != "" {
			t.Errorf("payload %d: unexpected answer %q", i+1, out)
		}
	}
	if denied != 1 {
		t.Fatalf("%d payloads denied, want 1", denied)
	}
	evs := sessionEvents(t, ts, fixtureSession)
	var got []string
	for _, e := range evs {
		s := e["type"].(string)
		if st, _ := e["status"].(string); st != "" {
			s += "/" + st
		}
		got = append(got, s)
		if e["user_id"] != "alice" || e["agent_id"] != "claude-code" {
			t.Errorf("identity of %v", e)
		}
	}
	want := "session_start prompt tool_call/started tool_call/success tool_call/started tool_call/success tool_call/blocked " +
		"tool_call/started tool_call/success tool_call/started approval/pending tool_call/success tool_call/started " +
		"tool_call/started approval/pending tool_call/error output session_end"
	if strings.Join(got, " ") != want {
		t.Errorf("timeline:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// The blocked call is findable by the rule that blocked it.
	out, _, code := ts.cli("", "logs", "search", "--query", "status:blocked", "--format", "jsonl")
	if code != 0 || !strings.Contains(out, `rm -rf /home/user/scratch`) || !strings.Contains(out, `"rule":"tool:Bash AND \"rm -rf\""`) {
		t.Errorf("search status:blocked: %d %s", code, out)
	}
}

func TestClaudeCodeHookWhileServerIsDown(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	url, token := ts.url, ts.token
	ts.close()
	spool := t.TempDir()
	p := hookPayloads(t)
	start := time.Now()
	ts.url = url // the dead server's address
	out, errOut, code := ts.cli(p[1], "hook", "claude-code", "--spool", spool, "--deny", `tool:Bash AND "rm -rf"`)
	if code != 0 || out != "" || !strings.Contains(errOut, "kept in the spool") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("the hook held Claude Code for %v with the server down", d)
	}
	// Rules hold while the server is down.
	out, _, code = ts.cli(p[6], "hook", "claude-code", "--spool", spool, "--deny", `tool:Bash AND "rm -rf"`)
	if code != 0 || !strings.Contains(out, `"permissionDecision":"deny"`) {
		t.Fatalf("deny while down: %d %q", code, out)
	}
	// The server comes back (another port, same data): the next hook call
	// delivers what the earlier ones spooled.
	ts2 := startServer(t, dir)
	if ts2.token != token {
		t.Fatal("a restarted server has another admin key")
	}
	if _, errOut, code := ts2.cli(p[17], "hook", "claude-code", "--spool", spool); code != 0 || errOut != "" {
		t.Fatalf("after restart: %d %q", code, errOut)
	}
	evs := sessionEvents(t, ts2, fixtureSession)
	if len(evs) != 3 || evs[0]["type"] != "prompt" || evs[1]["status"] != "blocked" || evs[2]["type"] != "session_end" {
		t.Errorf("after the server came back: %v", evs)
	}
}

func TestClaudeCodeHookErrorsNeverExit2(t *testing.T) {
	ts := startServer(t, t.TempDir())
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, []byte("x"), 0o600)
	pre := hookPayloads(t)[4] // PreToolUse Bash cat
	cases := []struct {
		name, stdin string
		args        []string
		code        int
		stdout      string
		stderr      string
	}{
		{"not JSON", "hello", nil, 1, "", "not a Claude Code hook payload"},
		{"no event name", `{"session_id":"s"}`, nil, 1, "", "hook_event_name"},
		{"bad rule", pre, []string{"--deny", "tool:("}, 1, "", "deny rule 1"},
		{"spool unusable", pre, []string{"--spool", notDir}, 1, "", "spool"},
		{"spool unusable, --require-record", pre, []string{"--spool", notDir, "--require-record"}, 0,
			`"permissionDecision":"deny"`, "spool"},
	}
	for _, c := range cases {
		out, errOut, code := ts.cli(c.stdin, append([]string{"hook", "claude-code"}, c.args...)...)
		if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) {
			t.Errorf("%s: exit %d (want %d), stdout %q, stderr %q", c.name, code, c.code, out, errOut)
		}
	}
}

func TestClaudeCodePrintSettings(t *testing.T) {
	ts := startServer(t, t.TempDir())
	rule := `tool:Bash AND "rm -rf" OR arguments.command:it's*`
	out, errOut, code := ts.cli("", "hook", "claude-code", "--print-settings", "--deny", rule, "--token-file", "/etc/ct.key")
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	var s struct {
		Hooks map[string][]struct {
			Hooks []map[string]any `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, ev := range claudeHookEvents {
		h := s.Hooks[ev]
		if len(h) != 1 || len(h[0].Hooks) != 1 || h[0].Hooks[0]["type"] != "command" {
			t.Fatalf("%s: %v", ev, h)
		}
	}
	cmdline := s.Hooks["PreToolUse"][0].Hooks[0]["command"].(string)
	if strings.Contains(out, ts.token) {
		t.Fatal("the settings carry the API key")
	}
	// The shell Claude Code runs the command with gets the arguments back
	// exactly, the rule's quotes included.
	argv, err := exec.Command("sh", "-c", "printf '%s\\n' "+cmdline).Output()
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(argv), "\n"), "\n")
	wantTail := []string{"hook", "claude-code", "--server", ts.url, "--token-file", "/etc/ct.key", "--deny", rule}
	if len(args) != len(wantTail)+1 || strings.Join(args[1:], "\x00") != strings.Join(wantTail, "\x00") {
		t.Errorf("the shell sees %q, want [exe] %q", args, wantTail)
	}

	out, _, code = ts.cli("", "hook", "claude-code", "--print-settings", "--http")
	if code != 0 {
		t.Fatal(code)
	}
	s.Hooks = nil
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	h := s.Hooks["PreToolUse"][0].Hooks[0]
	if h["type"] != "http" || h["url"] != ts.url+"/v1/hooks/claude-code" || !strings.Contains(out, `"Bearer $CLAWTRAIL_TOKEN"`) {
		t.Errorf("http hook %v", h)
	}
	if s.Hooks["SessionStart"][0].Hooks[0]["type"] != "command" {
		t.Error("SessionStart must stay a command hook (Claude Code 2.1 does not fire HTTP SessionStart hooks)")
	}
}

// httpHookRequests are the requests Claude Code 2.1.332 made to an HTTP
// hook endpoint (captured from the real program).
func httpHookRequests(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile("../../claudecode/testdata/claude-code-2.1.332-http-hook-requests.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestClaudeCodeHTTPHook(t *testing.T) {
	rule := `tool:Write AND path:/home/user/proj/hello*`
	ts := startServer(t, t.TempDir(), func(c *serveConfig) {
		c.Hooks.ClaudeCode = claudecode.Policy{Deny: []claudecode.Rule{{Query: rule, Reason: "hello.txt is read-only"}}}
	})
	reqs := httpHookRequests(t)
	var session string
	for i, r := range reqs {
		body, _ := json.Marshal(r["body"])
		hdr := r["headers"].(map[string]any)
		code, resp := ts.do("POST", "/v1/hooks/claude-code", string(body), "Content-Type", hdr["content-type"].(string),
			"X-Clawtrail-User", "bob")
		if code != 200 {
			t.Fatalf("request %d: %d %s", i+1, code, resp)
		}
		b := r["body"].(map[string]any)
		session = b["session_id"].(string)
		if b["hook_event_name"] == "PreToolUse" && b["tool_name"] == "Write" {
			if !strings.Contains(resp, `"permissionDecision":"deny"`) || !strings.Contains(resp, "hello.txt is read-only") {
				t.Errorf("request %d: %s", i+1, resp)
			}
		} else if resp != "{}" {
			t.Errorf("request %d: answer %s", i+1, resp)
		}
	}
	evs := sessionEvents(t, ts, session)
	if len(evs) != len(reqs) {
		t.Fatalf("%d events for %d hook calls", len(evs), len(reqs))
	}
	var blocked int
	for _, e := range evs {
		if e["user_id"] != "bob" || e["agent_id"] != "claude-code" {
			t.Errorf("identity %v", e)
		}
		if e["status"] == "blocked" {
			blocked++
			if e["tool"] != "Write" || e["reason"] != "hello.txt is read-only" {
				t.Errorf("blocked event %v", e)
			}
		}
	}
	if blocked != 1 {
		t.Errorf("%d blocked events, want 1", blocked)
	}
	// Bad input, no key, a key without the ingest role.
	if code, resp := ts.do("POST", "/v1/hooks/claude-code", `[1,2]`); code != 400 || !strings.Contains(resp, "not a Claude Code hook payload") {
		t.Errorf("array body: %d %s", code, resp)
	}
	if code, _ := ts.do("POST", "/v1/hooks/claude-code", `{"hook_event_name":"Stop"}`, "Authorization", "Bearer nope"); code != 401 {
		t.Errorf("bad key: %d", code)
	}
	reader, errOut, c := ts.cli("", "keys", "create", "--tenant", "default", "--role", "reader")
	if c != 0 {
		t.Fatal(errOut)
	}
	if code, _ := ts.do("POST", "/v1/hooks/claude-code", `{"hook_event_name":"Stop"}`, "Authorization", "Bearer "+strings.TrimSpace(reader)); code != 403 {
		t.Errorf("reader key: %d", code)
	}
	if code, resp := ts.do("POST", "/v1/hooks/claude-code", `{"hook_event_name":"Stop"}`, "X-Clawtrail-User", strings.Repeat("u", 300)); code != 400 {
		t.Errorf("long header: %d %s", code, resp)
	}
}

func TestServeRefusesBadHookRule(t *testing.T) {
	cfg := defaultServeConfig()
	cfg.Hooks.ClaudeCode.Deny = []claudecode.Rule{{Query: "tool:("}}
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "hooks.claude_code") {
		t.Errorf("validate = %v", err)
	}
}

// A server configured with a smaller event limit than the default still
// records a large HTTP hook call: cut to its limit, not refused with a
// 400 (which loses the call from the trail).
func TestClaudeCodeHookHonoursTheServersEventLimit(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *serveConfig) { c.MaxEventBytes = 64 << 10 })
	out := make([]any, 6)
	for i := range out {
		out[i] = strings.Repeat("z", 60<<10)
	}
	body, _ := json.Marshal(map[string]any{"session_id": "sess-limit", "hook_event_name": "PostToolUse",
		"tool_name": "Bash", "tool_input": map[string]any{"command": "cat big"}, "tool_response": out})
	if code, resp := ts.do("POST", "/v1/hooks/claude-code", string(body)); code != 200 {
		t.Fatalf("%d %s", code, resp)
	}
	evs := sessionEvents(t, ts, "sess-limit")
	if len(evs) != 1 || evs[0]["attributes"].(map[string]any)["truncated"] == nil {
		t.Fatalf("stored %v", evs)
	}
}

// A server built without the hook (a library user's) says so.
func TestClaudeCodeHookNotEnabled(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{})
	req, _ := http.NewRequest("POST", ts.URL+"/v1/hooks/claude-code", strings.NewReader(`{"hook_event_name":"Stop"}`))
	req.Header.Set("Authorization", "Bearer "+ts.Ingest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "not enabled") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}
