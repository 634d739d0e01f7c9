package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// ledgerBy returns the ledger's events of tenant acme keyed by field
// key's value, failing on a repeat.
func ledgerBy(t *testing.T, ts *TestServer, key string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, e := range ts.Ledger("acme") {
		k, _ := e[key].(string)
		if _, dup := out[k]; dup {
			t.Fatalf("two events with %s %q", key, k)
		}
		out[k] = e
	}
	return out
}

// the single event in the ledger
func onlyEvent(t *testing.T, ts *TestServer) map[string]any {
	t.Helper()
	evs := ts.Ledger("acme")
	if len(evs) != 1 {
		t.Fatalf("%d events in the ledger, want 1: %v", len(evs), evs)
	}
	return evs[0]
}

func attrsOf(e map[string]any) map[string]any {
	a, _ := e["attributes"].(map[string]any)
	return a
}

func truncatedOf(e map[string]any) map[string]any {
	tr, _ := attrsOf(e)["truncated"].(map[string]any)
	return tr
}

// A panic inside the tool goes on with the very same value, after the
// event (status error, "panic: …") is in the spool.
func TestToolCallPanic(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.FlushInterval = time.Hour // only the panic path itself can spool it
	c := newClient(t, cfg)
	ctx := WithSession(WithClient(context.Background(), c), "panic")

	boom := errors.New("kaboom")
	var recovered any
	var spooled int64 = -1
	returned := false
	func() {
		defer func() {
			recovered = recover()
			spooled = c.Stats().Spooled
		}()
		ToolCall(ctx, "explode", map[string]any{"x": 1}, func(ctx context.Context) (int, error) {
			panic(boom)
		})
		returned = true
	}()
	if returned {
		t.Fatal("ToolCall returned after fn panicked")
	}
	if err, ok := recovered.(error); !ok || err != boom {
		t.Fatalf("recovered %#v, want the very value fn panicked with (%p)", recovered, boom)
	}
	if spooled != 1 {
		t.Fatalf("Spooled %d when the panic reached the caller, want 1: the event must be in the spool first", spooled)
	}

	// A runtime error goes on as the same runtime.Error.
	var rerr runtime.Error
	func() {
		defer func() { rerr, _ = recover().(runtime.Error) }()
		ToolCall(ctx, "nilmap", nil, func(ctx context.Context) (string, error) {
			var m map[string]int
			m["x"] = 1
			return "", nil
		})
	}()
	if rerr == nil || !strings.Contains(rerr.Error(), "nil map") {
		t.Fatalf("runtime error re-panicked as %v", rerr)
	}

	flush(t, c)
	evs := ledgerBy(t, ts, "tool")
	e := evs["explode"]
	if e == nil || e["type"] != "tool_call" || e["status"] != "error" || e["error"] != "panic: kaboom" || e["session_id"] != "panic" {
		t.Fatalf("panic event %v", e)
	}
	if a, _ := e["arguments"].(map[string]any); a["x"] != 1.0 {
		t.Fatalf("panic event arguments %v", e["arguments"])
	}
	if _, ok := e["result"]; ok {
		t.Fatalf("a panicked call has no result: %v", e["result"])
	}
	if _, ok := e["duration_ms"].(float64); !ok {
		t.Fatalf("panic event without duration: %v", e)
	}
	if e := evs["nilmap"]; e == nil || e["status"] != "error" || e["error"] != "panic: "+rerr.Error() {
		t.Fatalf("runtime panic event %v", e)
	}
}

// runtime.Goexit inside fn (t.FailNow in a helper) is recorded and goes
// on as a Goexit: no panic, the goroutine ends.
func TestToolCallGoexit(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	ctx := WithClient(context.Background(), c)

	var wg sync.WaitGroup
	var recovered any
	returned := false
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { recovered = recover() }()
		ToolCall(ctx, "quit", map[string]any{"why": "goexit"}, func(ctx context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		returned = true
	}()
	wg.Wait()
	if recovered != nil {
		t.Fatalf("Goexit turned into a panic: %v", recovered)
	}
	if returned {
		t.Fatal("ToolCall returned after a Goexit")
	}
	if s := c.Stats().Spooled; s != 1 {
		t.Fatalf("Spooled %d after the Goexit, want 1", s)
	}
	flush(t, c)
	e := onlyEvent(t, ts)
	if e["tool"] != "quit" || e["status"] != "error" || e["error"] != "the goroutine exited inside the tool call" {
		t.Fatalf("goexit event %v", e)
	}
}

type toolOut struct {
	N    int      `json:"n"`
	Tags []string `json:"tags"`
}

// ToolCall returns exactly what fn returned, with or without a client,
// and records it.
func TestToolCallReturnsFnValues(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	ctx := WithClient(context.Background(), c)

	out := &toolOut{N: 3, Tags: []string{"a"}}
	got, err := ToolCall(ctx, "ptr", nil, func(ctx context.Context) (*toolOut, error) { return out, nil })
	if got != out || err != nil {
		t.Fatalf("ToolCall returned %p, %v; want %p, nil", got, err, out)
	}
	sentinel := errors.New("tool failed")
	n, err := ToolCall(ctx, "fails", nil, func(ctx context.Context) (int, error) { return 7, sentinel })
	if n != 7 || err != sentinel {
		t.Fatalf("ToolCall returned %v, %v; want 7 and the same error", n, err)
	}
	var nilOut *toolOut
	got, err = ToolCall(ctx, "nilptr", nil, func(ctx context.Context) (*toolOut, error) { return nil, nil })
	if got != nilOut || err != nil {
		t.Fatalf("ToolCall returned %v, %v", got, err)
	}
	// The tool's context is the caller's.
	type key struct{}
	kctx := context.WithValue(ctx, key{}, "v")
	ToolCall(kctx, "ctx", nil, func(ctx context.Context) (bool, error) {
		if ctx.Value(key{}) != "v" {
			t.Error("fn did not get the caller's context")
		}
		return true, nil
	})
	// No client anywhere: the tool still runs and its values come back.
	prev := Default()
	SetDefault(nil)
	t.Cleanup(func() { SetDefault(prev) })
	s, err := ToolCall(context.Background(), "orphan", nil, func(ctx context.Context) (string, error) { return "ran", sentinel })
	if s != "ran" || err != sentinel {
		t.Fatalf("without a client ToolCall returned %q, %v", s, err)
	}

	flush(t, c)
	evs := ledgerBy(t, ts, "tool")
	if e := evs["ptr"]; e == nil || e["status"] != "success" || e["error"] != nil ||
		!reflect.DeepEqual(e["result"], map[string]any{"n": 3.0, "tags": []any{"a"}}) {
		t.Fatalf("ptr event %v", e)
	}
	if e := evs["fails"]; e == nil || e["status"] != "error" || e["error"] != "tool failed" || e["result"] != 7.0 {
		t.Fatalf("fails event %v", e)
	}
	if e := evs["nilptr"]; e == nil || e["status"] != "success" {
		t.Fatalf("nilptr event %v", e)
	} else if _, ok := e["result"]; ok {
		t.Fatalf("a nil result is recorded as %v", e["result"])
	}
	if _, ok := evs["orphan"]; ok {
		t.Fatal("an event without a client reached the server")
	}
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
}

// Arguments that are not a JSON object are recorded as {"input": …};
// objects (maps, structs, raw objects) as they are.
func TestToolCallArgumentsAreAnObject(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	ctx := WithClient(context.Background(), c)
	type query struct {
		Q     string `json:"q"`
		Limit int    `json:"limit"`
	}
	cases := []struct {
		tool string
		args any
		want any // nil: no arguments
	}{
		{"string", "hello", map[string]any{"input": "hello"}},
		{"int", 42, map[string]any{"input": 42.0}},
		{"bool", true, map[string]any{"input": true}},
		{"slice", []int{1, 2}, map[string]any{"input": []any{1.0, 2.0}}},
		{"strings", []string{"a"}, map[string]any{"input": []any{"a"}}},
		{"raw-array", json.RawMessage(`[1,2]`), map[string]any{"input": []any{1.0, 2.0}}},
		{"raw-string", json.RawMessage(`"s"`), map[string]any{"input": "s"}},
		{"raw-object", json.RawMessage(`{"r":true}`), map[string]any{"r": true}},
		{"struct", query{"x", 5}, map[string]any{"q": "x", "limit": 5.0}},
		{"struct-ptr", &query{"y", 1}, map[string]any{"q": "y", "limit": 1.0}},
		{"map-any", map[string]any{"k": "v"}, map[string]any{"k": "v"}},
		{"map-string", map[string]string{"k": "v"}, map[string]any{"k": "v"}},
		{"map-int", map[string]int{"n": 3}, map[string]any{"n": 3.0}},
		{"unencodable", func() {}, map[string]any{"unencodable": "json: unsupported type: func()"}},
		{"nil", nil, nil},
	}
	for _, tc := range cases {
		if _, err := ToolCall(ctx, tc.tool, tc.args, func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, c)
	evs := ledgerBy(t, ts, "tool")
	for _, tc := range cases {
		e := evs[tc.tool]
		if e == nil {
			t.Errorf("%s: no event (%d in the ledger)", tc.tool, len(evs))
			continue
		}
		got, present := e["arguments"]
		if tc.want == nil {
			if present {
				t.Errorf("%s: arguments %v, want none", tc.tool, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: arguments %#v, want %#v", tc.tool, got, tc.want)
		}
	}
}

// A result over Config.MaxResultBytes is cut (a string, measured as text,
// on a rune boundary; anything else becomes its cut JSON text) and
// attributes.truncated.result holds the size it had.
func TestToolCallResultTruncated(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.MaxResultBytes = 100
	c := newClient(t, cfg)
	ctx := WithClient(context.Background(), c)

	long := strings.Repeat("x", 1000)
	euros := strings.Repeat("€", 100) // 300 bytes; byte 100 is inside a rune
	bigMap := map[string]any{"data": strings.Repeat("y", 500)}
	bigMapJSON, _ := json.Marshal(bigMap)
	fits := strings.Repeat("z", 100) // exactly the limit
	run := func(tool string, v any) {
		if _, err := ToolCall(ctx, tool, nil, func(ctx context.Context) (any, error) { return v, nil }); err != nil {
			t.Fatal(err)
		}
	}
	run("long", long)
	run("euros", euros)
	run("map", bigMap)
	run("fits", fits)
	run("bytes", []byte(long))
	flush(t, c)
	evs := ledgerBy(t, ts, "tool")

	if e := evs["long"]; e["result"] != long[:100] || truncatedOf(e)["result"] != float64(len(long)) {
		t.Errorf("long string: result %q, attributes %v; want its first 100 bytes and truncated.result %d", e["result"], attrsOf(e), len(long))
	}
	e := evs["euros"]
	if r, _ := e["result"].(string); r != strings.Repeat("€", 33) || !utf8.ValidString(r) {
		t.Errorf("euros: result %q, want 33 whole runes", r)
	}
	if truncatedOf(e)["result"] != float64(len(euros)) {
		t.Errorf("euros: attributes %v", attrsOf(e))
	}
	if e := evs["map"]; e["result"] != string(bigMapJSON[:100]) || truncatedOf(e)["result"] != float64(len(bigMapJSON)) {
		t.Errorf("map: result %v, attributes %v; want the first 100 bytes of its JSON, truncated.result %d", e["result"], attrsOf(e), len(bigMapJSON))
	}
	if e := evs["bytes"]; e["result"] != long[:100] || truncatedOf(e)["result"] == nil {
		t.Errorf("bytes: result %v, attributes %v", e["result"], attrsOf(e))
	}
	if e := evs["fits"]; e["result"] != fits || e["attributes"] != nil {
		t.Errorf("a result of exactly the limit is kept whole and not marked: %v, %v", e["result"], e["attributes"])
	}
}

// The truncation mark says the result was cut only when it was.
func TestToolCallTruncationMarkOnlyWhenCut(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.MaxResultBytes = 100
	c := newClient(t, cfg)
	ctx := WithClient(context.Background(), c)
	html := strings.Repeat("<", 30)
	ToolCall(ctx, "html", nil, func(ctx context.Context) (string, error) { return html, nil })
	flush(t, c)
	e := onlyEvent(t, ts)
	if e["result"] == html && e["attributes"] != nil {
		t.Fatalf("result stored whole (%d bytes) but marked %v", len(html), e["attributes"])
	}
}

// FileOp and the file helpers record operation, path, bytes, status and
// error, and return what the operation returned.
func TestFileOps(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	ctx := WithClient(context.Background(), c)
	dir := t.TempDir()

	data := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(data, []byte("hello world"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctxS := func(s string) context.Context { return WithSession(ctx, s) }
	b, err := ReadFile(ctxS("read-ok"), data)
	if err != nil || string(b) != "hello world" {
		t.Fatalf("ReadFile: %q, %v", b, err)
	}
	missing := filepath.Join(dir, "missing.txt")
	if _, err := ReadFile(ctxS("read-missing"), missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file: %v", err)
	}
	gone := filepath.Join(dir, "gone.txt")
	if err := os.WriteFile(gone, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Remove(ctxS("remove-ok"), gone); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gone); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove left the file: %v", err)
	}
	if err := Remove(ctxS("remove-missing"), gone); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove of a missing file: %v", err)
	}
	out := filepath.Join(dir, "out.txt")
	if err := WriteFile(ctxS("write-ok"), out, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ctxS("write-bad"), filepath.Join(dir, "no-such-dir", "x"), []byte("abc"), 0o600); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
	opErr := errors.New("permission denied by policy")
	n, err := FileOp(ctxS("custom"), "chmod", "/etc/shadow", func() (int64, error) { return 0, opErr })
	if n != 0 || err != opErr {
		t.Fatalf("FileOp returned %d, %v", n, err)
	}
	n, err = FileOp(ctxS("custom-ok"), "copy", "/a/b", func() (int64, error) { return 4096, nil })
	if n != 4096 || err != nil {
		t.Fatalf("FileOp returned %d, %v", n, err)
	}

	flush(t, c)
	evs := ledgerBy(t, ts, "session_id")
	for _, tc := range []struct {
		session, op, path string
		bytes             float64
		status, errHas    string
	}{
		{"read-ok", "read", data, 11, "success", ""},
		{"read-missing", "read", missing, 0, "error", "no such file"},
		{"remove-ok", "delete", gone, 5, "success", ""},
		{"remove-missing", "delete", gone, 0, "error", "no such file"},
		{"write-ok", "write", out, 3, "success", ""},
		{"write-bad", "write", filepath.Join(dir, "no-such-dir", "x"), 0, "error", "no such file"},
		{"custom", "chmod", "/etc/shadow", 0, "error", "permission denied by policy"},
		{"custom-ok", "copy", "/a/b", 4096, "success", ""},
	} {
		e := evs[tc.session]
		if e == nil {
			t.Errorf("%s: no event", tc.session)
			continue
		}
		if e["type"] != "file_operation" || e["operation"] != tc.op || e["path"] != tc.path || e["bytes"] != tc.bytes || e["status"] != tc.status {
			t.Errorf("%s: %v; want operation %s path %s bytes %v status %s", tc.session, e, tc.op, tc.path, tc.bytes, tc.status)
		}
		errText, _ := e["error"].(string)
		if tc.errHas == "" && errText != "" || tc.errHas != "" && !strings.Contains(errText, tc.errHas) {
			t.Errorf("%s: error %q, want %q", tc.session, errText, tc.errHas)
		}
	}
}

// Prompt, Output and Approval record their fields, under the context's
// identity, each in a span of its own whose parent is the context's.
func TestPromptOutputApproval(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	ctx := WithClient(context.Background(), c)
	ctx = WithTrace(WithAgent(WithUser(WithSession(ctx, "s-1"), "u-1"), "a-1"), "trace-1", "span-parent")
	ctx = WithChannel(ctx, "web")

	Prompt(ctx, "What is 2+2?")
	Output(ctx, "4", "model-x", Usage{InputTokens: 10, OutputTokens: 2, CacheReadTokens: 5})
	Output(ctx, "no usage", "model-y", Usage{})
	Approval(ctx, "wire_transfer", "denied", "cfo@example.com", "over the limit")
	flush(t, c)

	evs := ts.Ledger("acme")
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	spans := map[any]bool{}
	for _, e := range evs {
		for k, v := range map[string]string{"session_id": "s-1", "user_id": "u-1", "agent_id": "a-1", "channel": "web",
			"trace_id": "trace-1", "parent_id": "span-parent", "tenant_id": "acme"} {
			if e[k] != v {
				t.Errorf("%s: %s = %v, want %q", e["type"], k, e[k], v)
			}
		}
		if s, _ := e["span_id"].(string); s == "" || s == "span-parent" || spans[s] {
			t.Errorf("%s: span_id %v: want a fresh one", e["type"], e["span_id"])
		}
		spans[e["span_id"]] = true
	}
	p, o, o2, a := evs[0], evs[1], evs[2], evs[3]
	if p["type"] != "prompt" || p["content"] != "What is 2+2?" {
		t.Errorf("prompt %v", p)
	}
	wantUsage := map[string]any{"input_tokens": 10.0, "output_tokens": 2.0, "cache_read_input_tokens": 5.0}
	if o["type"] != "output" || o["content"] != "4" || o["model"] != "model-x" || o["tokens_used"] != 12.0 || !reflect.DeepEqual(o["usage"], wantUsage) {
		t.Errorf("output %v", o)
	}
	if o2["type"] != "output" || o2["content"] != "no usage" || o2["model"] != "model-y" || o2["usage"] != nil || o2["tokens_used"] != nil {
		t.Errorf("output without usage %v", o2)
	}
	if a["type"] != "approval" || a["tool"] != "wire_transfer" || a["decision"] != "denied" || a["approver"] != "cfo@example.com" ||
		a["reason"] != "over the limit" || a["status"] != "denied" {
		t.Errorf("approval %v", a)
	}
}

// The package-level Log needs a client: the context's (WithClient) wins
// over the default (SetDefault); with neither it returns ErrNoClient.
func TestPackageLogChoosesTheClient(t *testing.T) {
	prev := Default()
	SetDefault(nil)
	t.Cleanup(func() { SetDefault(prev) })

	if err := Log(context.Background(), Event{Type: "prompt", Content: "nowhere"}); !errors.Is(err, ErrNoClient) {
		t.Fatalf("Log without a client: %v, want ErrNoClient", err)
	}
	Prompt(context.Background(), "nowhere either") // must not panic

	ts := NewTestServer(t)
	c1 := newClient(t, fastConfig(t, ts, t.TempDir()))
	c2 := newClient(t, fastConfig(t, ts, t.TempDir()))
	SetDefault(c1)
	t.Cleanup(func() { SetDefault(nil) })
	if Default() != c1 {
		t.Fatal("Default() is not the client given to SetDefault")
	}
	bg := context.Background()
	if err := Log(WithSession(bg, "to-default"), Event{Type: "prompt", Content: "d"}); err != nil {
		t.Fatal(err)
	}
	if err := Log(WithSession(WithClient(bg, c2), "to-ctx"), Event{Type: "prompt", Content: "c"}); err != nil {
		t.Fatal(err)
	}
	Prompt(WithSession(bg, "wrapper-default"), "wd")
	Prompt(WithSession(WithClient(bg, c2), "wrapper-ctx"), "wc")
	if err := Log(bg, Event{Type: "Bad Type"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("package Log of an invalid event: %v", err)
	}
	if l1, l2 := c1.Stats().Logged, c2.Stats().Logged; l1 != 2 || l2 != 2 {
		t.Fatalf("logged %d by the default client and %d by the context's; want 2 and 2", l1, l2)
	}
	flush(t, c1)
	flush(t, c2)
	evs := ledgerBy(t, ts, "session_id")
	for s, content := range map[string]string{"to-default": "d", "to-ctx": "c", "wrapper-default": "wd", "wrapper-ctx": "wc"} {
		if e := evs[s]; e == nil || e["content"] != content {
			t.Errorf("session %s: %v", s, e)
		}
	}
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	SetDefault(nil)
	if err := Log(bg, Event{Type: "prompt"}); !errors.Is(err, ErrNoClient) {
		t.Fatalf("after SetDefault(nil): %v", err)
	}
}
