package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An export's limit sends the oldest N matching events (beyond a search
// page's maximum too); a cursor or a newest-first order is refused, not
// ignored. The CLI's --limit passes it, for exports and bundles.
func TestExportLimit(t *testing.T) {
	ts := startServer(t, t.TempDir())
	var in strings.Builder
	for i := range 25 {
		fmt.Fprintf(&in, `{"id":"ev%02d","type":"tool_call","tool":"exec","timestamp":"2026-11-01T10:00:%02dZ"}`+"\n", i, i)
	}
	if _, e, code := ts.cli(in.String(), "ingest", "-"); code != 0 {
		t.Fatalf("ingest: %s", e)
	}
	ids := func(body string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
			if i := strings.Index(l, `"id":"`); i >= 0 {
				out = append(out, l[i+6:i+10])
			}
		}
		return out
	}
	st, body := ts.do("GET", "/v1/export?wait_seq=latest&q=type:tool_call&limit=7", "")
	if got := ids(body); st != 200 || strings.Join(got, ",") != "ev00,ev01,ev02,ev03,ev04,ev05,ev06" {
		t.Fatalf("limit=7: %d %v\n%s", st, got, body)
	}
	// A limit over a search page's maximum is an export's to take.
	if st, body := ts.do("GET", "/v1/export?q=type:tool_call&limit=20000", ""); st != 200 || len(ids(body)) != 25 {
		t.Fatalf("limit=20000: %d, %d events", st, len(ids(body)))
	}
	if st, body := ts.do("GET", "/v1/export?q=type:tool_call&order=asc&format=json&limit=2", ""); st != 200 || strings.Count(body, `"id"`) != 2 || !strings.HasPrefix(body, "[") {
		t.Fatalf("order=asc, json, limit=2: %d %s", st, body)
	}
	for path, want := range map[string]string{
		"/v1/export?limit=0":         "limit must be an integer from 1 to",
		"/v1/export?limit=x":         "limit must be an integer from 1 to",
		"/v1/export?cursor=abc":      "cursor is a search parameter",
		"/v1/export?order=desc":      "an export is oldest first",
		"/v1/bundle?order=desc":      "an export is oldest first",
		"/v1/bundle?limit=-1":        "limit must be an integer from 1 to",
		"/v1/export?format=jsonl&q=": "",
	} {
		st, body := ts.do("GET", path, "")
		if want == "" {
			if st != 200 {
				t.Errorf("%s: %d %s", path, st, body)
			}
			continue
		}
		if st != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want 400 naming %q", path, st, body, want)
		}
	}

	out := mustCLI(t, ts, 0, "logs", "export", "--format", "jsonl", "--output", "-", "--query", "type:tool_call", "--limit", "3")
	if got := ids(out); strings.Join(got, ",") != "ev00,ev01,ev02" {
		t.Fatalf("CLI --limit 3: %v\n%s", got, out)
	}
	mustCLI(t, ts, 2, "logs", "export", "--output", "-", "--limit", "0")

	bundle := filepath.Join(t.TempDir(), "evidence.jsonl")
	mustCLI(t, ts, 0, "logs", "export", "--bundle", "--query", "type:tool_call", "--limit", "4", "--output", bundle)
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"event":`); n != 4 {
		t.Fatalf("bundle --limit 4 holds %d events:\n%s", n, b)
	}
	if out := mustCLI(t, ts, 0, "verify", "--bundle", bundle); !strings.Contains(out, "INTACT") {
		t.Fatalf("verify --bundle: %s", out)
	}
}
