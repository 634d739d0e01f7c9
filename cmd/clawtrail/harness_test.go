package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testServer is a real clawtrail server on 127.0.0.1:0 over a temp dir.
type testServer struct {
	t     *testing.T
	url   string
	dir   string
	token string
	stop  func()
	done  chan error
	env   map[string]string // more environment for cli (e.g. CLAWTRAIL_CONFIG_DIR)
}

func startServer(t *testing.T, dir string, mods ...func(*serveConfig)) *testServer {
	t.Helper()
	cfg := defaultServeConfig()
	cfg.Data = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.LogLevel = "error"
	for _, m := range mods {
		m(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	ts := &testServer{t: t, dir: dir, stop: cancel, done: make(chan error, 1)}
	var out bytes.Buffer
	go func() {
		ts.done <- serve(ctx, cfg, env{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }}, func(a string) { ready <- a })
	}()
	select {
	case addr := <-ready:
		ts.url = "http://" + addr
	case err := <-ts.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	tok, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	ts.token = strings.TrimSpace(string(tok))
	t.Cleanup(ts.close)
	return ts
}

func (ts *testServer) close() {
	if ts.stop == nil {
		return
	}
	ts.stop()
	ts.stop = nil
	if err := <-ts.done; err != nil {
		ts.t.Errorf("serve returned %v", err)
	}
}

// cli runs a client command against the server and returns stdout, stderr
// and the exit code.
func (ts *testServer) cli(stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "CLAWTRAIL_URL":
			return ts.url
		case "CLAWTRAIL_TOKEN":
			return ts.token
		}
		return ts.env[k]
	}
	code := runEnv(context.Background(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: getenv})
	return out.String(), errb.String(), code
}

// do sends an HTTP request with the root key unless token is given.
func (ts *testServer) do(method, path, body string, hdr ...string) (int, string) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func seedExamples(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/seed-examples.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
