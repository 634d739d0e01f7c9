package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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
