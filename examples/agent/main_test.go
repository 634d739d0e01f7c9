package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
	"github.com/clawtrail/clawtrail/sdk"
)

// The example agent, run against a real server, leaves one session that
// reads as what it did, in order, without its API key.
func TestExampleAgent(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{})
	var out bytes.Buffer
	cfg := sdk.Config{URL: ts.URL, Token: ts.Ingest, SpoolDir: t.TempDir()}
	if err := run(context.Background(), cfg, "demo-test", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "session demo-test: 8 events recorded") || !strings.Contains(out.String(), "clawtrail logs session demo-test") {
		t.Fatalf("output: %s", out.String())
	}
	var steps []string
	for _, e := range ts.Session("demo-test", 8) {
		step := fmt.Sprint(e["type"])
		if tool, ok := e["tool"]; ok {
			step += ":" + fmt.Sprint(tool) + ":" + fmt.Sprint(e["status"])
		}
		steps = append(steps, step)
		if e["user_id"] != "user_123" || e["agent_id"] != "support-bot" || e["channel"] != "slack" {
			t.Errorf("identity missing from %v", e)
		}
	}
	want := "prompt tool_call:track_shipment:success api_call tool_call:lookup_customer:error file_operation " +
		"approval:send_email:approved tool_call:send_email:success output"
	if got := strings.Join(steps, " "); got != want {
		t.Fatalf("timeline\n got %s\nwant %s", got, want)
	}
	for _, e := range ts.Ledger("acme") {
		if strings.Contains(fmt.Sprint(e), "carrier-api-key") {
			t.Fatalf("the API key was recorded: %v", e)
		}
	}
}
