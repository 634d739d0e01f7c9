package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hookRun runs the hook command with its own environment (no test server).
func hookRun(stdin string, getenv map[string]string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := runEnv(context.Background(), append([]string{"hook", "claude-code"}, args...),
		env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return getenv[k] }})
	return out.String(), errb.String(), code
}

// A slow server (up, but not answering) holds the hook no longer than
// --timeout: the event stays in the spool.
func TestClaudeCodeHookSlowServerIsBoundedByTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	pre := `{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}`
	start := time.Now()
	_, errOut, code := hookRun(pre, map[string]string{"CLAWTRAIL_TOKEN": "k"}, "--server", srv.URL, "--spool", t.TempDir(), "--timeout", "500ms")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a slow server held the hook %v with --timeout 500ms", d)
	}
	if code != 0 || !strings.Contains(errOut, "kept in the spool") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// A hook command called wrongly (a flag or argument this version does not
// know, a mistyped hook name) exits 1, never 2 (Claude Code's "block",
// which would block every prompt and tool call) nor 0 with the help on
// stdout (which Claude Code hands the model as context).
func TestClaudeCodeHookUsageErrorsNeverExit2(t *testing.T) {
	pre := `{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}`
	for _, args := range [][]string{{"--no-such-flag"}, {"--timeout", "soon"}, {"extra-arg"}, {"--max-field-bytes", "x"}} {
		_, errOut, code := hookRun(pre, map[string]string{"CLAWTRAIL_TOKEN": "k"}, append(args, "--spool", t.TempDir(), "--server", "http://127.0.0.1:1")...)
		if code != 1 || !strings.Contains(errOut, args[0]) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	var out, errb bytes.Buffer
	code := runEnv(context.Background(), []string{"hook", "claude_code"}, env{stdin: strings.NewReader("{}"), stdout: &out,
		stderr: &errb, getenv: func(string) string { return "" }})
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), `unknown hook "claude_code"`) {
		t.Errorf("hook claude_code: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// --print-settings carries every flag that changes what the hook does:
// --timeout and --max-field-bytes were dropped (the installed hook then
// ran with the defaults), Claude Code's own timeout leaves the command
// its --timeout, and deny rules with --http (which never run this
// command) are refused instead of silently ignored.
func TestClaudeCodePrintSettingsKeepsEveryFlag(t *testing.T) {
	ts := startServer(t, t.TempDir())
	out, errOut, code := ts.cli("", "hook", "claude-code", "--print-settings", "--timeout", "20s", "--max-field-bytes", "4096")
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	var s struct {
		Hooks map[string][]struct {
			Hooks []map[string]any `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	h := s.Hooks["PreToolUse"][0].Hooks[0]
	cmdline, _ := h["command"].(string)
	if !strings.HasSuffix(cmdline, " --timeout 20s --max-field-bytes 4096") || h["timeout"] != float64(25) {
		t.Errorf("command %q, timeout %v", cmdline, h["timeout"])
	}
	out, errOut, code = ts.cli("", "hook", "claude-code", "--print-settings", "--http", "--deny", "tool:Bash")
	if code == 0 || out != "" || !strings.Contains(errOut, "hooks.claude_code.deny") {
		t.Errorf("--http --deny: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// The SDK reports problems of different error types (a line the server
// refuses for good, then a 503 for the rest): the hook must survive both
// (it stored them in an atomic.Value, which panics on a second type, on
// the SDK's goroutine: exit 2, Claude Code's "block").
func TestClaudeCodeHookSurvivesMixedDeliveryErrors(t *testing.T) {
	spool := t.TempDir()
	pre := `{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}`
	// One event waits in the spool from a call made while the server was down.
	if _, errOut, code := hookRun(pre, map[string]string{"CLAWTRAIL_TOKEN": "k"}, "--server", "http://127.0.0.1:1", "--spool", spool); code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) == 1 {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"invalid","message":"1 problem(s) in the request; nothing was stored","details":[{"line":1,"message":"bad"}]}}`))
			return
		}
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"try later"}}`))
	}))
	defer srv.Close()
	_, errOut, code := hookRun(pre, map[string]string{"CLAWTRAIL_TOKEN": "k"}, "--server", srv.URL, "--spool", spool, "--timeout", "2s")
	if code != 0 || !strings.Contains(errOut, "kept in the spool") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
