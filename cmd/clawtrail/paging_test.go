package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/spf13/pflag"
)

func TestCursorPagingAndOrder(t *testing.T) {
	ts := startServer(t, t.TempDir())
	var b strings.Builder
	for i := 0; i < 25; i++ {
		// Timestamps out of arrival order, and some equal.
		fmt.Fprintf(&b, `{"id":"e%02d","type":"tool_call","tool":"exec","timestamp":"2026-02-01T00:00:%02dZ"}`+"\n", i, (i*7)%20)
	}
	if st, body := ts.do("POST", "/v1/events", b.String(), "Content-Type", "application/x-ndjson"); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	collect := func(order string) []string {
		var ids []string
		params := url.Values{"limit": {"7"}, "wait_seq": {"latest"}, "q": {"tool:exec"}}
		if order != "" {
			params.Set("order", order)
		}
		for pages := 0; ; pages++ {
			_, body := ts.do("GET", "/v1/events?"+params.Encode(), "")
			var page httpapi.SearchPage
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatal(err)
			}
			for _, raw := range page.Events {
				var ev struct{ ID, Timestamp string }
				json.Unmarshal(raw, &ev)
				ids = append(ids, ev.Timestamp[17:19]+"/"+ev.ID)
			}
			if page.NextCursor == "" {
				if pages != 3 {
					t.Fatalf("%d pages for 25 events of 7, want 4", pages+1)
				}
				return ids
			}
			params.Set("cursor", page.NextCursor)
		}
	}
	desc, asc := collect(""), collect("asc")
	if len(desc) != 25 || len(asc) != 25 {
		t.Fatalf("paging returned %d and %d events, want 25", len(desc), len(asc))
	}
	for i := range asc {
		if asc[i] != desc[24-i] {
			t.Fatalf("asc is not desc reversed at %d: %v vs %v", i, asc, desc)
		}
		if i > 0 && asc[i] < asc[i-1] {
			t.Fatalf("asc out of (timestamp, seq) order: %v", asc)
		}
	}
	if st, body := ts.do("GET", "/v1/events?cursor=bogus", ""); st != 400 || !strings.Contains(body, "cursor") {
		t.Fatalf("bogus cursor: %d %s", st, body)
	}
	// Bounds far in the future (past 2262, where ns overflow) select what
	// any bound after the last event would, and far in the past what any
	// before the first would.
	for _, c := range []struct {
		params string
		want   int
	}{{"to=9999-12-31T00:00:00Z&limit=100", 25}, {"from=2262-05-01T00:00:00Z", 0}, {"from=2000-01-01T00:00:00Z&to=3000-01-01T00:00:00Z&limit=100", 25},
		// and before 1678, likewise (it wrapped to 2169)
		{"to=1000-01-01T00:00:00Z&limit=100", 0}, {"from=1000-01-01T00:00:00Z&limit=100", 25}, {"to=1960-01-01T00:00:00Z", 0}} {
		_, body := ts.do("GET", "/v1/events?"+c.params, "")
		var page httpapi.SearchPage
		if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Events) != c.want {
			t.Fatalf("events?%s: %d events (%v), want %d", c.params, len(page.Events), err, c.want)
		}
	}
}

func TestCSVNeutralizesFormulas(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.do("POST", "/v1/events", `{"type":"prompt","content":"=HYPERLINK(\"http://evil\")","user_id":"@admin","tool":"+1","status":"-2"}`)
	out, _, code := ts.cli("", "logs", "export", "--format", "csv", "--output", "-")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 2 {
		t.Fatalf("export: %d %v %q", code, err, out)
	}
	for _, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
			t.Fatalf("cell %q would run as a formula", cell)
		}
	}
	if rows[1][14] != `'=HYPERLINK("http://evil")` {
		t.Fatalf("content cell = %q", rows[1][14])
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9001\ndata: /from/file\nlog_level: warn\nmax_event_bytes: 4096\n"), 0o600)
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var c serveConfig
	c.registerFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--listen", "127.0.0.1:9003"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CLAWTRAIL_LISTEN": "127.0.0.1:9002", "CLAWTRAIL_DATA": "/from/env"}
	if err := c.load(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9003" || c.Data != "/from/env" || c.LogLevel != "warn" || c.MaxEventBytes != 4096 || c.MaxRequestBytes != 16<<20 {
		t.Fatalf("config = %+v; want listen from the flag, data from env, log level and event size from the file, request size default", c)
	}
	for name, content := range map[string]string{"unknown key": "lisen: x\n", "bad listen": "listen: nope\n", "public without tls": "listen: 0.0.0.0:7300\n"} {
		os.WriteFile(file, []byte(content), 0o600)
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		c.registerFlags(fs)
		fs.Parse([]string{"--config", file})
		if err := c.load(fs, func(string) string { return "" }); err == nil {
			t.Errorf("%s: config accepted", name)
		}
	}
}

// --debug-listen serves Go's profiler on a loopback address, and only
// there: it answers without a key, and its dumps can hold event data.
func TestDebugListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", "10.0.0.1:6060", "nope"} {
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		var c serveConfig
		c.registerFlags(fs)
		fs.Parse([]string{"--debug-listen", addr})
		if err := c.load(fs, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "debug-listen") {
			t.Errorf("--debug-listen %s: %v, want refused", addr, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ts := startServer(t, t.TempDir(), func(c *serveConfig) { c.DebugListen = addr })
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("profiler: %d %.200s", resp.StatusCode, body)
	}
	// The API listener does not serve it.
	resp, err = http.Get(ts.url + "/debug/pprof/heap")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("the API serves the profiler")
	}
	ts.close()
	if _, err := http.Get("http://" + addr + "/debug/pprof/"); err == nil {
		t.Fatal("the profiler still answers after shutdown")
	}
}
