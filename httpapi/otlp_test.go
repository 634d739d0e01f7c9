package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	fixtureTrace = "0c48a3b9f3d3efc505b3e704ef1153c6"
	fixtureSess  = "cba5783b-234f-4f6f-af46-f201848fc48e"
)

// fixture reads the body of a captured Claude Code OTLP/JSON export
// (otlp/testdata, copied from the real program's output).
func fixture(t *testing.T, signal string) []byte {
	t.Helper()
	name := "claude-code-2.1.332-otlp-json-" + signal + ".json"
	raw, err := os.ReadFile(filepath.Join("..", "otlp", "testdata", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var w struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	return w.Body
}

type answer struct {
	status int
	ct     string
	body   []byte
}

func post(t *testing.T, ts *testserver.Server, token, path, ct string, body []byte, gz bool) answer {
	t.Helper()
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	req, _ := http.NewRequest("POST", ts.URL+path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), b}
}

func byType(evs []map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, e := range evs {
		t := e["type"].(string)
		out[t] = append(out[t], e)
	}
	return out
}

func byID(evs []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, e := range evs {
		out[e["id"].(string)] = e
	}
	return out
}

func attrs(e map[string]any) map[string]any {
	a, _ := e["attributes"].(map[string]any)
	return a
}

// check compares one field of a stored event.
func check(t *testing.T, e map[string]any, field string, want any) {
	t.Helper()
	got, _ := json.Marshal(e[field])
	w, _ := json.Marshal(want)
	if !bytes.Equal(got, w) {
		t.Errorf("event %v: %s = %s, want %s", e["id"], field, got, w)
	}
}

func TestOTLPClaudeCodeTracesGolden(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{})
	body := fixture(t, "traces")
	a := post(t, ts, ts.Ingest, "/v1/otlp/v1/traces", "application/json", body, false)
	if a.status != 200 || string(a.body) != `{"partialSuccess":{}}` || a.ct != "application/json" {
		t.Fatalf("answer %d %s %s", a.status, a.ct, a.body)
	}
	evs := ts.Ledger("acme")

	// One event per span, id and ids straight from the fixture's hex.
	var in struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct{ TraceID, SpanID, ParentSpanID, Name string }
			}
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatal(err)
	}
	stored := byID(evs)
	n := 0
	for _, s := range in.ResourceSpans[0].ScopeSpans[0].Spans {
		n++
		e := stored["otlp."+s.TraceID+"."+s.SpanID]
		if e == nil {
			t.Errorf("span %s %s not stored", s.Name, s.SpanID)
			continue
		}
		check(t, e, "trace_id", s.TraceID)
		check(t, e, "span_id", s.SpanID)
		if s.ParentSpanID != "" {
			check(t, e, "parent_id", s.ParentSpanID)
		}
		check(t, e, "session_id", fixtureSess)
		check(t, e, "agent_id", "claude-code")
		if attrs(e)["otlp.span_name"] != s.Name {
			t.Errorf("span name %v, want %s", attrs(e)["otlp.span_name"], s.Name)
		}
	}
	if n != 29 || len(evs) != 29 {
		t.Fatalf("%d spans in, %d events stored", n, len(evs))
	}
	types := byType(evs)
	counts := map[string]int{}
	for k, v := range types {
		counts[k] = len(v)
	}
	wantCounts := map[string]int{"output": 8, "tool_call": 7, "approval": 7, "claude_code.tool.execution": 6, "agent_run": 1}
	if fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
		t.Errorf("types %v, want %v", counts, wantCounts)
	}

	llm := stored["otlp."+fixtureTrace+".fc2328234fa974a4"]
	check(t, llm, "type", "output")
	check(t, llm, "model", "claude-opus-5-5")
	check(t, llm, "usage", map[string]any{"input_tokens": 123, "output_tokens": 45, "cache_read_tokens": 0, "cache_write_tokens": 0})
	check(t, llm, "tokens_used", 168)
	check(t, llm, "timestamp", "2026-11-26T16:47:02.322Z")
	check(t, llm, "user_id", "3da6b30acd1d22df57c62b4fb97b354ffb089ac85557eb97e111838c5d84ddac")
	if attrs(llm)["request_id"] != "req_mock2" {
		t.Errorf("request_id %v", attrs(llm)["request_id"])
	}

	write := stored["otlp."+fixtureTrace+".4902cf1ee7928bb2"]
	check(t, write, "type", "tool_call")
	check(t, write, "tool", "Write")
	check(t, write, "arguments", map[string]any{"file_path": "/home/user/proj/hello.txt"})
	if attrs(write)["tool_call_id"] != "toolu_01WRITE" {
		t.Errorf("tool_call_id %v", attrs(write)["tool_call_id"])
	}
	mcp := stored["otlp."+fixtureTrace+".1f243bb9bfec37e2"]
	check(t, mcp, "tool", "mcp__everything__echo")

	denied := stored["otlp."+fixtureTrace+".1d5055dc1385d2e6"]
	check(t, denied, "type", "approval")
	check(t, denied, "decision", "denied")
	check(t, denied, "approver", "hook")
	check(t, denied, "parent_id", "5283f322fb8ae39b")
	deniedTool := stored["otlp."+fixtureTrace+".5283f322fb8ae39b"]
	check(t, deniedTool, "arguments", map[string]any{"full_command": "rm -rf /home/user/scratch"})

	failed := stored["otlp."+fixtureTrace+".386f3aabea18a31b"]
	check(t, failed, "type", "claude_code.tool.execution")
	check(t, failed, "status", "error")
	check(t, failed, "error", "Shell command failed")
	if attrs(failed)["tool_call_id"] != "toolu_07FAIL" || attrs(failed)["error_class"] != "ShellError" {
		t.Errorf("attributes %v", attrs(failed))
	}

	run := types["agent_run"][0]
	check(t, run, "content", "Please write hello.txt")
	check(t, run, "span_id", "57b35914f073464a")
	if _, ok := run["parent_id"]; ok {
		t.Error("the root span has no parent")
	}

	// The exporter retries: nothing new is stored.
	if a := post(t, ts, ts.Ingest, "/v1/otlp/v1/traces", "application/json", body, false); a.status != 200 {
		t.Fatalf("retry: %d %s", a.status, a.body)
	}
	if n := len(ts.Ledger("acme")); n != 29 {
		t.Errorf("after a retry the ledger holds %d events, want 29", n)
	}
}

func TestOTLPClaudeCodeLogsGolden(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{})
	body := fixture(t, "logs")
	if a := post(t, ts, ts.Ingest, "/v1/otlp/v1/logs", "application/json", body, false); a.status != 200 || string(a.body) != `{"partialSuccess":{}}` {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	evs := ts.Ledger("acme")
	counts := map[string]int{}
	for k, v := range byType(evs) {
		counts[k] = len(v)
	}
	wantCounts := map[string]int{"prompt": 1, "api_call": 4, "output": 1, "approval": 3, "tool_call": 2,
		"claude_code.hook_execution_start": 7, "claude_code.hook_execution_complete": 6}
	if fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
		t.Fatalf("types %v, want %v", counts, wantCounts)
	}
	for _, e := range evs {
		check(t, e, "trace_id", fixtureTrace)
		check(t, e, "session_id", fixtureSess)
		if !strings.HasPrefix(e["id"].(string), "otlp.log.") {
			t.Errorf("id %v", e["id"])
		}
	}
	types := byType(evs)
	p := types["prompt"][0]
	check(t, p, "content", "Please write hello.txt")
	check(t, p, "span_id", "57b35914f073464a")
	check(t, p, "timestamp", "2026-11-26T16:47:02.169Z")

	api := types["api_call"][0]
	check(t, api, "model", "claude-opus-5-5")
	check(t, api, "usage", map[string]any{"input_tokens": 123, "output_tokens": 45, "cache_read_tokens": 0, "cache_write_tokens": 0})
	check(t, api, "tokens_used", 168)
	check(t, api, "duration_ms", 58)
	if a := attrs(api); a["cost_usd"] != 0.001392 || a["request_id"] != "req_mock2" {
		t.Errorf("cost/request id: %v", a)
	}
	check(t, types["output"][0], "content", "I will write a file.")

	tools := map[string]map[string]any{}
	for _, e := range types["tool_call"] {
		tools[e["tool"].(string)] = e
	}
	check(t, tools["Write"], "arguments", map[string]any{"file_path": "/home/user/proj/hello.txt", "content": "hello world\n"})
	check(t, tools["Write"], "status", "success")
	check(t, tools["Write"], "duration_ms", 16)
	check(t, tools["Bash"], "arguments", map[string]any{"command": "cat hello.txt", "description": "Show file"})
	if attrs(tools["Bash"])["tool_call_id"] != "toolu_02BASH" || attrs(tools["Bash"])["tool_result_size_bytes"] != float64(11) {
		t.Errorf("attributes %v", attrs(tools["Bash"]))
	}
	var denied map[string]any
	for _, e := range types["approval"] {
		if attrs(e)["tool_call_id"] == "toolu_03DENY" {
			denied = e
		}
	}
	if denied == nil {
		t.Fatal("no approval for toolu_03DENY")
	}
	check(t, denied, "decision", "denied")
	check(t, denied, "approver", "hook")
	check(t, denied, "tool", "Bash")
	check(t, denied, "arguments", map[string]any{"bash_command": "rm", "full_command": "rm -rf /home/user/scratch", "description": "Delete"})
	hook := types["claude_code.hook_execution_complete"][0]
	if attrs(hook)["num_success"] != float64(1) || attrs(hook)["hook_event"] != "UserPromptSubmit" {
		t.Errorf("hook attributes %v", attrs(hook))
	}

	// Retried: duplicates, nothing new.
	post(t, ts, ts.Ingest, "/v1/otlp/v1/logs", "application/json", body, false)
	if n := len(ts.Ledger("acme")); n != 24 {
		t.Errorf("after a retry: %d events, want 24", n)
	}
}

// strip removes what the server adds, so that two servers' events compare.
func strip(evs []map[string]any) string {
	for _, e := range evs {
		for _, k := range []string{"seq", "received_at", "key_id", "tenant_id"} {
			delete(e, k)
		}
		delete(attrs(e), "clock_skew_ms")
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i]["id"].(string) < evs[j]["id"].(string) })
	b, _ := json.Marshal(evs)
	return string(b)
}

func TestOTLPProtobufGzipMatchesJSON(t *testing.T) {
	js := fixture(t, "traces")
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(js)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	a1 := testserver.New(t, ingest.Limits{})
	if a := post(t, a1, a1.Ingest, "/v1/otlp/v1/traces", "application/json", js, false); a.status != 200 {
		t.Fatalf("json: %d %s", a.status, a.body)
	}
	a2 := testserver.New(t, ingest.Limits{})
	a := post(t, a2, a2.Ingest, "/v1/otlp/v1/traces", "application/x-protobuf", pb, true)
	if a.status != 200 || a.ct != "application/x-protobuf" {
		t.Fatalf("protobuf+gzip: %d %s %q", a.status, a.ct, a.body)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(a.body); err != nil {
		t.Fatalf("the answer is not an ExportTraceServiceResponse: %v", err)
	}
	j, p := strip(a1.Ledger("acme")), strip(a2.Ledger("acme"))
	if j != p || !strings.Contains(p, fixtureTrace) {
		t.Errorf("JSON and protobuf of the same export stored different events:\n%s\n%s", j, p)
	}
	// The protobuf retry against the JSON-fed server: the same ids and
	// bodies, so duplicates, not conflicts.
	if a := post(t, a1, a1.Ingest, "/v1/otlp/v1/traces", "application/x-protobuf", pb, false); a.status != 200 {
		t.Fatalf("protobuf retry on the JSON server: %d %s", a.status, a.body)
	}
	if n := len(a1.Ledger("acme")); n != 29 {
		t.Errorf("%d events after the cross-encoding retry, want 29", n)
	}
}

func TestOTLPRefusals(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{})
	body := fixture(t, "logs")
	for _, c := range []struct {
		name, token, path, ct string
		body                  []byte
		status                int
		msg                   string
	}{
		{"no key", "", "/v1/otlp/v1/logs", "application/json", body, 401, "missing API key"},
		{"reader key", ts.Reader, "/v1/otlp/v1/logs", "application/json", body, 403, "needs ingest"},
		{"wrong content type", ts.Ingest, "/v1/otlp/v1/traces", "text/plain", body, 415, "application/x-protobuf or application/json"},
		{"no content type", ts.Ingest, "/v1/otlp/v1/traces", "", body, 415, "not none"},
		{"garbage JSON", ts.Ingest, "/v1/otlp/v1/traces", "application/json", []byte(`{"resourceSpans": [{]`), 400, "OTLP/JSON ExportTraceServiceRequest"},
		{"garbage protobuf", ts.Ingest, "/v1/otlp/v1/logs", "application/x-protobuf", []byte{0x0a, 0xff, 0xff, 0xff, 0x0f}, 400, "protobuf ExportLogsServiceRequest"},
		{"GET", ts.Ingest, "/v1/otlp/v1/logs", "", nil, 405, ""},
	} {
		var a answer
		if c.name == "GET" {
			req, _ := http.NewRequest("GET", ts.URL+c.path, nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			a.status = resp.StatusCode
		} else {
			a = post(t, ts, c.token, c.path, c.ct, c.body, false)
		}
		if a.status != c.status || !strings.Contains(string(a.body), c.msg) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, a.status, a.body, c.status, c.msg)
		}
	}
	if n := len(ts.Ledger("acme")); n != 0 {
		t.Errorf("%d events stored by refused requests", n)
	}
}

func TestOTLPTenantIsolationAndSkippedMetric(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{})
	// A second tenant's ingest key, made through the API by the root key.
	req, _ := http.NewRequest("POST", ts.URL+"/v1/keys", strings.NewReader(`{"tenant":"globex","role":"ingest"}`))
	req.Header.Set("Authorization", "Bearer "+ts.Root)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if created.Token == "" {
		t.Fatalf("key creation: %s", resp.Status)
	}
	if a := post(t, ts, created.Token, "/v1/otlp/v1/logs", "application/json", fixture(t, "logs"), false); a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if n, m := len(ts.Ledger("globex")), len(ts.Ledger("acme")); n != 24 || m != 0 {
		t.Errorf("globex holds %d events, acme %d; want 24 and 0", n, m)
	}

	// Spans that are not agent activity: 200, nothing stored, counted.
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("GET /healthz")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetTraceID([16]byte{1})
	sp.SetSpanID([8]byte{2})
	js, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if a := post(t, ts, ts.Ingest, "/v1/otlp/v1/traces", "application/json", js, false); a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("plain app log")
	lj, _ := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	if a := post(t, ts, ts.Ingest, "/v1/otlp/v1/logs", "application/json", lj, false); a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if n := len(ts.Ledger("acme")); n != 0 {
		t.Errorf("%d events stored for skipped spans and logs", n)
	}
	req, _ = http.NewRequest("GET", ts.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+ts.Root)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`clawtrail_otlp_skipped_total{reason="not_agent_activity",signal="traces"} 1`,
		`clawtrail_otlp_skipped_total{reason="not_agent_activity",signal="logs"} 1`,
	} {
		if !strings.Contains(string(m), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestOTLPRealOTelSDK exports with the OpenTelemetry Go SDK itself
// (protobuf, gzip, the API key in a header) and checks what is stored.
func TestOTLPRealOTelSDK(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{})
	ctx := context.Background()
	headers := map[string]string{"Authorization": "Bearer " + ts.Ingest}
	res := resource.NewSchemaless(attribute.String("service.name", "weather-agent"), attribute.String("service.version", "0.3.0"))

	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(ts.URL+"/v1/otlp/v1/traces"),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	tr := tp.Tracer("weather-agent")
	ctx, run := tr.Start(ctx, "invoke_agent weather", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"),
		attribute.String("gen_ai.agent.name", "weather"),
		attribute.String("gen_ai.conversation.id", "conv-42")))
	_, chat := tr.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.request.model", "gpt-4o"),
		attribute.Int("gen_ai.usage.input_tokens", 50),
		attribute.Int("gen_ai.usage.output_tokens", 9),
		attribute.String("gen_ai.conversation.id", "conv-42")))
	chat.End()
	_, tool := tr.Start(ctx, "execute_tool get_forecast", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "execute_tool"),
		attribute.String("gen_ai.tool.name", "get_forecast"),
		attribute.String("gen_ai.tool.call.id", "call_7"),
		attribute.String("gen_ai.tool.call.arguments", `{"city":"Oslo"}`),
		attribute.String("gen_ai.conversation.id", "conv-42")))
	tool.End()
	run.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("the SDK's export failed: %v", err)
	}

	evs := ts.Ledger("acme")
	if len(evs) != 3 {
		t.Fatalf("%d events stored, want 3", len(evs))
	}
	tid := run.SpanContext().TraceID().String()
	stored := byID(evs)
	for _, sp := range []trace.Span{run, chat, tool} {
		sc := sp.SpanContext()
		e := stored["otlp."+tid+"."+sc.SpanID().String()]
		if e == nil {
			t.Fatalf("span %s not stored", sc.SpanID())
		}
		check(t, e, "trace_id", tid)
		check(t, e, "session_id", "conv-42")
		if attrs(e)["resource"].(map[string]any)["service.name"] != "weather-agent" {
			t.Errorf("resource %v", attrs(e)["resource"])
		}
	}
	c := stored["otlp."+tid+"."+chat.SpanContext().SpanID().String()]
	check(t, c, "type", "output")
	check(t, c, "model", "gpt-4o")
	check(t, c, "tokens_used", 59)
	check(t, c, "parent_id", run.SpanContext().SpanID().String())
	tl := stored["otlp."+tid+"."+tool.SpanContext().SpanID().String()]
	check(t, tl, "type", "tool_call")
	check(t, tl, "tool", "get_forecast")
	check(t, tl, "arguments", map[string]any{"city": "Oslo"})
	r := stored["otlp."+tid+"."+run.SpanContext().SpanID().String()]
	check(t, r, "type", "agent_run")
	check(t, r, "agent_id", "weather")

	// Logs, with the SDK's OTLP log exporter.
	lexp, err := otlploghttp.New(context.Background(),
		otlploghttp.WithEndpointURL(ts.URL+"/v1/otlp/v1/logs"),
		otlploghttp.WithCompression(otlploghttp.GzipCompression),
		otlploghttp.WithHeaders(headers),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))
	var rec otellog.Record
	rec.SetEventName("gen_ai.user.message")
	rec.SetBody(attribute.MapValue(attribute.String("content", "Will it rain in Oslo?")))
	rec.AddAttributes(attribute.String("gen_ai.conversation.id", "conv-42"))
	lp.Logger("weather-agent").Emit(ctx, rec)
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatalf("the SDK's log export failed: %v", err)
	}
	evs = ts.Ledger("acme")
	if len(evs) != 4 {
		t.Fatalf("%d events after the log export, want 4", len(evs))
	}
	p := evs[3]
	check(t, p, "type", "prompt")
	check(t, p, "content", "Will it rain in Oslo?")
	check(t, p, "session_id", "conv-42")
	check(t, p, "trace_id", tid) // emitted inside the run's context
}
