package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
)

// A server configured with a smaller event limit than the default still
// records a large HTTP hook call: cut to its limit, not refused with a
// 400 (which loses the call from the trail).
func TestClaudeCodeHookHonoursTheServersEventLimit(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{MaxEventBytes: 64 << 10, MaxRequestBytes: 16 << 20})
	out := make([]any, 6)
	for i := range out {
		out[i] = strings.Repeat("z", 60<<10)
	}
	body, _ := json.Marshal(map[string]any{"session_id": "sess-limit", "hook_event_name": "PostToolUse",
		"tool_name": "Bash", "tool_input": map[string]any{"command": "cat big"}, "tool_response": out})
	a := post(t, ts, ts.Ingest, "/v1/hooks/claude-code", "application/json", body, false)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	evs := ts.Ledger("acme")
	if len(evs) != 1 || attrs(evs[0])["truncated"] == nil {
		t.Fatalf("stored %v", evs)
	}
}
