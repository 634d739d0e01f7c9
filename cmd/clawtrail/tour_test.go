package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/httpapi"
)

// The README's five-minute tour, as a user runs it.
func TestTour(t *testing.T) {
	ts := startServer(t, t.TempDir())
	out, errOut, code := ts.cli(seedExamples(t), "ingest", "-")
	if code != 0 || out != "accepted 5, duplicates 0\n" {
		t.Fatalf("ingest: code %d, out %q, err %q", code, out, errOut)
	}
	// Wait for the index through the API's wait_seq.
	if st, body := ts.do("GET", "/v1/events?limit=1&wait_seq=4", ""); st != 200 {
		t.Fatalf("wait_seq: %d %s", st, body)
	}

	out, _, code = ts.cli("", "logs", "search", "--query", "tool:send_email", "--from", "2026-01-01")
	if code != 0 || !strings.Contains(out, "send_email") || !strings.Contains(out, "892ms") || strings.Count(out, "\n") != 2 {
		t.Fatalf("search table (code %d):\n%s", code, out)
	}
	out, _, _ = ts.cli("", "logs", "search", "--query", `"delayed shipment"`, "--format", "jsonl")
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev["type"] != "prompt" || ev["seq"] != float64(0) {
		t.Fatalf("full-text search jsonl = %q (%v)", out, err)
	}
	out, _, _ = ts.cli("", "logs", "search", "--query", "status:error OR status:blocked", "--format", "json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("search with no match, json = %q, want []", out)
	}

	// Session timeline: in time order with offsets, the five steps.
	out, _, code = ts.cli("", "logs", "session", "sess_abc123")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	wantOrder := []string{"prompt", "file_operation", "tool_call", "api_call", "output"}
	if code != 0 || len(lines) != 6 {
		t.Fatalf("session timeline (code %d):\n%s", code, out)
	}
	for i, typ := range wantOrder {
		if !strings.Contains(lines[i+1], typ) {
			t.Fatalf("timeline line %d = %q, want %s", i+1, lines[i+1], typ)
		}
	}
	if !strings.HasPrefix(lines[1], "+0.000s") || !strings.HasPrefix(lines[5], "+1.559s") {
		t.Fatalf("timeline offsets: %q … %q", lines[1], lines[5])
	}
	out, _, _ = ts.cli("", "logs", "sessions", "--format", "json")
	var sp httpapi.SessionsPage
	if err := json.Unmarshal([]byte(out), &sp); err != nil || len(sp.Sessions) != 1 || sp.Sessions[0].Events != 5 ||
		sp.Sessions[0].First != "2026-01-31T14:22:33.456Z" || fmt.Sprint(sp.Sessions[0].Tools) != "[send_email]" {
		t.Fatalf("sessions = %q (%v)", out, err)
	}

	// Export in every format to a file.
	dir := t.TempDir()
	for _, f := range []string{"json", "jsonl", "csv"} {
		path := filepath.Join(dir, "audit."+f)
		if _, e, code := ts.cli("", "logs", "export", "--format", f, "--output", path); code != 0 {
			t.Fatalf("export %s: %s", f, e)
		}
		b, _ := os.ReadFile(path)
		switch f {
		case "json":
			var arr []map[string]any
			if err := json.Unmarshal(b, &arr); err != nil || len(arr) != 5 || arr[0]["type"] != "prompt" {
				t.Fatalf("export json = %s (%v)", b, err)
			}
		case "jsonl":
			if n := strings.Count(string(b), "\n"); n != 5 {
				t.Fatalf("export jsonl has %d lines", n)
			}
		case "csv":
			rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
			if err != nil || len(rows) != 6 || strings.Join(rows[0], ",") != strings.Join(httpapi.CSVHeader, ",") {
				t.Fatalf("export csv = %s (%v)", b, err)
			}
			if rows[3][15] != "send_email" || !strings.Contains(rows[3][16], `"to":"support@vendor.com"`) {
				t.Fatalf("csv row for the tool call = %q", rows[3])
			}
		}
	}
}

func TestTailFollowsAndResumes(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := &httpapi.Client{BaseURL: ts.url, Token: ts.token}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan int64, 100)
	tailCtx, stopTail := context.WithCancel(ctx)
	// after_seq=-1: from the start of the ledger, so the test does not race
	// the stream's opening.
	go c.Tail(tailCtx, url.Values{"q": {"type:tool_call"}, "after_seq": {"-1"}}, func(seq int64, body []byte) error {
		got <- seq
		return nil
	})
	send := func(n int) {
		for i := 0; i < n; i++ {
			ts.do("POST", "/v1/events", `{"type":"prompt"}`+"\n"+`{"type":"tool_call","tool":"exec"}`, "Content-Type", "application/x-ndjson")
		}
	}
	send(3)
	var seqs []int64
	for len(seqs) < 3 {
		select {
		case s := <-got:
			seqs = append(seqs, s)
		case <-ctx.Done():
			t.Fatalf("tail got %v, want 3 tool calls", seqs)
		}
	}
	if fmt.Sprint(seqs) != "[1 3 5]" {
		t.Fatalf("tail seqs = %v, want [1 3 5] (tool calls only)", seqs)
	}
	stopTail()

	// Resume from Last-Event-ID after events committed while disconnected.
	send(2)
	// A stream's first, data-less event names where it starts, so that a
	// client that reconnects before any event resumes from there.
	if _, first := resumeTailRaw(t, ts, "9"); !strings.Contains(first, "id: 9") {
		t.Fatalf("tail's opening lines = %q, want its start position id: 9", first)
	}
	status, body := resumeTail(t, ts, "3", 3)
	if status != 200 || fmt.Sprint(body) != "[5 7 9]" {
		t.Fatalf("resumed tail = %d %v, want [5 7 9]", status, body)
	}
}

// resumeTailRaw returns the first lines of a tail resumed after lastID.
func resumeTailRaw(t *testing.T, ts *testServer, lastID string) (int, string) {
	req, _ := http.NewRequest("GET", ts.url+"/v1/tail", nil)
	req.Header.Set("Authorization", "Bearer "+ts.token)
	req.Header.Set("Last-Event-ID", lastID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return resp.StatusCode, strings.Join(lines, "\n")
}

// resumeTail reads n events from a tail resumed after lastID.
func resumeTail(t *testing.T, ts *testServer, lastID string, n int) (int, []int64) {
	req, _ := http.NewRequest("GET", ts.url+"/v1/tail?q=type:tool_call", nil)
	req.Header.Set("Authorization", "Bearer "+ts.token)
	req.Header.Set("Last-Event-ID", lastID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seqs []int64
	var id int64 = -99
	sc := bufio.NewScanner(resp.Body)
	for len(seqs) < n && sc.Scan() {
		line := sc.Text()
		if _, err := fmt.Sscanf(line, "id: %d", &id); err == nil {
			continue
		}
		if strings.HasPrefix(line, "data: ") {
			seqs = append(seqs, id) // an event: its id came just before
		}
	}
	return resp.StatusCode, seqs
}

func TestCLIExitCodes(t *testing.T) {
	ts := startServer(t, t.TempDir())
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad query", []string{"logs", "search", "--query", "tool:(a"}, 2, "position"},
		{"bad time", []string{"logs", "search", "--from", "yesterday"}, 2, "--from"},
		{"bad format", []string{"logs", "search", "--format", "xml"}, 2, "--format"},
		{"bad key", []string{"logs", "search", "--token", "ct_0000000000000000_nope"}, 4, "unknown key"},
		{"unreachable", []string{"logs", "search", "--server", "http://127.0.0.1:1"}, 3, "unreachable"},
		{"missing session", []string{"logs", "session", "nope"}, 2, "no events"},
		{"unknown flag", []string{"logs", "search", "--nope"}, 2, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := ts.cli("", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want exit %d and one line mentioning %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
	// A rejected ingest names the bad line of the file and exits 2.
	_, errOut, code := ts.cli(`{"type":"prompt"}`+"\n"+`{"type":"auth"}`+"\n", "ingest")
	if code != 2 || !strings.Contains(errOut, "line 2: field type") {
		t.Fatalf("bad ingest: exit %d, %q", code, errOut)
	}
}

func TestTableStripsControlCharacters(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.do("POST", "/v1/events", `{"type":"prompt","session_id":"s\u001b[2J","content":"evil \u001b]0;title\u0007 text\r\nnext"}`)
	out, _, _ := ts.cli("", "logs", "search", "--query", "", "--limit", "1")
	if strings.ContainsAny(out, "\x1b\x07\r") || !strings.Contains(out, "evil ]0;title tex") {
		t.Fatalf("table output carries control characters: %q", out)
	}
}

func TestGracefulShutdownKeepsData(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	if st, body := ts.do("POST", "/v1/events", seedExamples(t), "Content-Type", "application/x-ndjson"); st != 200 {
		t.Fatalf("ingest: %d %s", st, body)
	}
	ts.close()
	ts2 := startServer(t, dir)
	if ts2.token != ts.token {
		t.Fatal("restart replaced the admin key")
	}
	st, body := ts2.do("GET", "/v1/events?wait_seq=4", "")
	var page httpapi.SearchPage
	if err := json.Unmarshal([]byte(body), &page); st != 200 || err != nil || len(page.Events) != 5 {
		t.Fatalf("after restart: %d %s", st, body)
	}
	st, body = ts2.do("POST", "/v1/events", `{"type":"prompt"}`)
	if st != 200 || !strings.Contains(body, `"first_seq":5`) {
		t.Fatalf("after restart the next seq: %d %s", st, body)
	}
}

// A client tail that has seen no event yet survives a server restart and
// misses nothing committed before it reconnects.
func TestTailSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	addr := strings.TrimPrefix(ts.url, "http://")
	c := &httpapi.Client{BaseURL: ts.url, Token: ts.token}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan int64, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Tail(ctx, nil, func(seq int64, _ []byte) error { got <- seq; return nil })
	}()
	time.Sleep(300 * time.Millisecond) // connected, at position -1
	ts.close()
	ts2 := startServer(t, dir, func(c *serveConfig) { c.Listen = addr })
	_, resp := ts2.do("POST", "/v1/events", `{"type":"prompt"}`+"\n"+`{"type":"output"}`, "Content-Type", "application/x-ndjson")
	var res struct {
		FirstSeq int64 `json:"first_seq"`
	}
	json.Unmarshal([]byte(resp), &res)
	// (The tail's own access record takes a seq too; tail does not show it.)
	want := fmt.Sprint([]int64{res.FirstSeq, res.FirstSeq + 1})
	var seqs []int64
	for len(seqs) < 2 {
		select {
		case s := <-got:
			seqs = append(seqs, s)
		case err := <-errc:
			t.Fatalf("tail ended: %v (after %v)", err, seqs)
		case <-ctx.Done():
			t.Fatalf("tail got %v after the restart, want %s", seqs, want)
		}
	}
	if fmt.Sprint(seqs) != want {
		t.Fatalf("tail got %v, want %s", seqs, want)
	}
}
