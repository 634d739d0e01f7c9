package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/strictjson"
)

// encodeLine runs appendEvent and checks the line's framing: one line,
// ending in '\n', with no other raw control character and no raw U+2028
// or U+2029, and valid JSON.
func encodeLine(t testing.TB, e *Event) []byte {
	t.Helper()
	line, err := appendEvent(nil, e)
	if err != nil {
		t.Fatalf("appendEvent: %v", err)
	}
	checkFraming(t, line)
	return line
}

func checkFraming(t testing.TB, line []byte) {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' {
		t.Fatalf("line does not end in a newline: %q", line)
	}
	body := line[:len(line)-1]
	for i, c := range body {
		if c < 0x20 {
			t.Fatalf("raw control byte %#x at %d of %q: NDJSON framing is broken", c, i, line)
		}
	}
	if bytes.Contains(body, []byte("\u2028")) || bytes.Contains(body, []byte("\u2029")) {
		t.Fatalf("raw U+2028/U+2029 in %q", line)
	}
	if !json.Valid(body) {
		t.Fatalf("not valid JSON: %q", line)
	}
}

// serverDecode runs the line through the server's own decoder, as POST
// /v1/events does with Content-Type application/x-ndjson.
func serverDecode(t testing.TB, line []byte) *clawtrail.Event {
	t.Helper()
	d := ingest.Decoder{Limits: ingest.DefaultLimits(), Now: time.Now}
	ps, err := d.Decode(line, true)
	if err != nil {
		var ie *clawtrail.InvalidError
		if errors.As(err, &ie) {
			t.Fatalf("the server refuses %q: %v (details %+v)", line, err, ie.Details)
		}
		t.Fatalf("the server refuses %q: %v", line, err)
	}
	if len(ps) != 1 {
		t.Fatalf("the server decoded %d events from %q", len(ps), line)
	}
	return ps[0].Event
}

// clientView is the line as encoding/json reads it.
func clientView(t testing.TB, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", line, err)
	}
	return m
}

// serverView is the stored form of what the server decoded (id, then the
// SPEC fields), as encoding/json reads it, with the timestamp returned
// apart (its layout differs).
func serverView(t testing.TB, ev *clawtrail.Event) (map[string]any, time.Time) {
	t.Helper()
	m := clientView(t, ev.AppendJSON(nil))
	delete(m, "timestamp")
	return m, ev.Timestamp
}

// viaJSON is v as encoding/json encodes and decodes it.
func viaJSON(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%v): %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// canonical is the server's canonical form of v, which feeds the
// idempotency hash.
func canonical(t testing.TB, v *strictjson.Value) string {
	t.Helper()
	if v == nil {
		return "<nil>"
	}
	return string(strictjson.AppendCanonical(nil, *v))
}

func canonicalOf(t testing.TB, jsonText []byte) string {
	t.Helper()
	v, err := strictjson.Parse(jsonText)
	if err != nil {
		t.Fatalf("strictjson.Parse(%q): %v", jsonText, err)
	}
	return canonical(t, &v)
}

// coerced is s with each invalid UTF-8 byte replaced by U+FFFD, as
// encoding/json does (a range over a string yields U+FFFD per bad byte).
func coerced(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

var specNames = []string{"id", "timestamp", "tenant_id", "session_id", "user_id", "agent_id", "channel",
	"trace_id", "span_id", "parent_id", "type", "content", "tool", "arguments", "result", "status", "error",
	"duration_ms", "tokens_used", "usage", "model", "destination", "method", "endpoint", "status_code",
	"operation", "path", "bytes", "decision", "approver", "reason", "attributes"}

func fullEvent(ts time.Time) Event {
	return Event{
		ID: "ev-1.A:b@c_d-e", Timestamp: ts, TenantID: "acme",
		SessionID: "sess-1", UserID: "user-1", AgentID: "agent-1", Channel: "slack",
		TraceID: "trace-1", SpanID: "span-1", ParentID: "parent-1",
		Type: "tool_call", Content: "hello", Tool: "search",
		Arguments: map[string]any{"q": "x", "n": 3, "nested": map[string]any{"a": []any{1, "b", true, nil}}},
		Result:    map[string]any{"hits": []string{"one", "two"}},
		Status:    "error", Error: "boom",
		Duration: 1500 * time.Microsecond, TokensUsed: 42,
		Usage: &Usage{InputTokens: 10, OutputTokens: 20, CacheReadTokens: 3, CacheCreationTokens: 4},
		Model: "claude-x", Destination: "api.example.com", Method: "POST", Endpoint: "/v1/x", StatusCode: 201,
		Operation: "write", Path: "/tmp/f", Bytes: 7,
		Decision: "approved", Approver: "ops@example.com", Reason: "ok",
		Attributes: map[string]any{"k": "v", "n": 1},
	}
}

// Every field lands under its SPEC §1 name, with its value, and the
// server's decoder reads each one into the right field.
func TestAppendEventFieldNames(t *testing.T) {
	ts := time.Now().Add(-time.Hour).Truncate(time.Second).Add(891234567).In(time.FixedZone("X", 5*3600+1800))
	e := fullEvent(ts)
	line := encodeLine(t, &e)
	got := clientView(t, line)
	want := map[string]any{
		"id": "ev-1.A:b@c_d-e", "timestamp": ts.UTC().Format(time.RFC3339Nano), "tenant_id": "acme",
		"session_id": "sess-1", "user_id": "user-1", "agent_id": "agent-1", "channel": "slack",
		"trace_id": "trace-1", "span_id": "span-1", "parent_id": "parent-1",
		"type": "tool_call", "content": "hello", "tool": "search",
		"arguments":   map[string]any{"q": "x", "n": 3.0, "nested": map[string]any{"a": []any{1.0, "b", true, nil}}},
		"result":      map[string]any{"hits": []any{"one", "two"}},
		"status":      "error",
		"error":       "boom",
		"duration_ms": 1.5, "tokens_used": 42.0,
		"usage": map[string]any{"input_tokens": 10.0, "output_tokens": 20.0, "cache_read_input_tokens": 3.0, "cache_creation_input_tokens": 4.0},
		"model": "claude-x", "destination": "api.example.com", "method": "POST", "endpoint": "/v1/x", "status_code": 201.0,
		"operation": "write", "path": "/tmp/f", "bytes": 7.0,
		"decision": "approved", "approver": "ops@example.com", "reason": "ok",
		"attributes": map[string]any{"k": "v", "n": 1.0},
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, slices.Sorted(slices.Values(specNames))) {
		t.Fatalf("keys %v, want the SPEC names %v", keys, specNames)
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if !strings.HasSuffix(got["timestamp"].(string), "Z") || !strings.Contains(got["timestamp"].(string), ".891234567") {
		t.Errorf("timestamp %v: want UTC with nanoseconds", got["timestamp"])
	}

	// The server reads every field into its own place: nothing ends up
	// under attributes as an unknown field, nothing is refused.
	ev := serverDecode(t, line)
	if !ev.Timestamp.Equal(ts) {
		t.Errorf("server timestamp %v, want %v", ev.Timestamp, ts)
	}
	sv, _ := serverView(t, ev)
	delete(want, "timestamp")
	if !reflect.DeepEqual(sv, want) {
		t.Errorf("the server decoded\n%v\nwant\n%v", sv, want)
	}
	if ev.DurationMS == nil || *ev.DurationMS != 1.5 || ev.TokensUsed == nil || *ev.TokensUsed != 42 ||
		ev.StatusCode == nil || *ev.StatusCode != 201 || ev.Bytes == nil || *ev.Bytes != 7 {
		t.Errorf("server numbers: duration %v tokens %v status_code %v bytes %v", ev.DurationMS, ev.TokensUsed, ev.StatusCode, ev.Bytes)
	}
	if ev.Content != "hello" || ev.Tool != "search" || ev.SessionID != "sess-1" || ev.TenantID != "acme" || ev.Type != "tool_call" {
		t.Errorf("server strings: %+v", ev)
	}
}

// Zero values are left out, except bytes of a file_operation; a non-nil
// result is a result, even a zero one.
func TestAppendEventOmitsZeroValues(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		e    Event
		keys []string
	}{
		{"minimal", Event{ID: "e1", Timestamp: now, Type: "prompt"}, []string{"id", "timestamp", "type"}},
		{"file_operation", Event{ID: "e2", Timestamp: now, Type: "file_operation"}, []string{"bytes", "id", "timestamp", "type"}},
		{"api_call", Event{ID: "e3", Timestamp: now, Type: "api_call", Bytes: 0, StatusCode: 0, Duration: 0}, []string{"id", "timestamp", "type"}},
		{"empty attributes", Event{ID: "e4", Timestamp: now, Type: "prompt", Attributes: map[string]any{}}, []string{"id", "timestamp", "type"}},
		{"nil usage and arguments", Event{ID: "e5", Timestamp: now, Type: "tool_call", Usage: nil, Arguments: nil, Result: nil}, []string{"id", "timestamp", "type"}},
		{"zero result", Event{ID: "e6", Timestamp: now, Type: "tool_call", Result: 0}, []string{"id", "result", "timestamp", "type"}},
		{"false result", Event{ID: "e7", Timestamp: now, Type: "tool_call", Result: false}, []string{"id", "result", "timestamp", "type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := encodeLine(t, &tc.e)
			got := clientView(t, line)
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, tc.keys) {
				t.Fatalf("keys %v, want %v (line %q)", keys, tc.keys, line)
			}
			ev := serverDecode(t, line)
			if tc.name == "file_operation" {
				if got["bytes"] != 0.0 || ev.Bytes == nil || *ev.Bytes != 0 {
					t.Fatalf("file_operation bytes: %v, server %v", got["bytes"], ev.Bytes)
				}
			} else if ev.Bytes != nil {
				t.Fatalf("bytes %d sent for a %s", *ev.Bytes, tc.e.Type)
			}
		})
	}
}

// duration_ms is milliseconds with microsecond precision, no trailing
// zeros, and the server reads the same number.
func TestAppendEventDuration(t *testing.T) {
	re := regexp.MustCompile(`"duration_ms":([^,}]*)`)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{1385856 * time.Nanosecond, "1.386"},
		{1500 * time.Microsecond, "1.5"},
		{2 * time.Millisecond, "2"},
		{1005 * time.Microsecond, "1.005"},
		{10 * time.Microsecond, "0.01"},
		{999 * time.Nanosecond, "0.001"},
		{400 * time.Nanosecond, "0"},
		{time.Hour + time.Nanosecond, "3600000"},
		{123456789*time.Millisecond + 120*time.Microsecond, "123456789.12"},
	} {
		e := Event{ID: "d", Timestamp: time.Now(), Type: "tool_call", Duration: tc.d}
		line := encodeLine(t, &e)
		m := re.FindSubmatch(line)
		if m == nil || string(m[1]) != tc.want {
			t.Errorf("%v: duration_ms in %q, want %s", tc.d, line, tc.want)
			continue
		}
		ev := serverDecode(t, line)
		if w, _ := strconv.ParseFloat(tc.want, 64); ev.DurationMS == nil || *ev.DurationMS != w {
			t.Errorf("%v: the server read %v, want %s", tc.d, ev.DurationMS, tc.want)
		}
	}
}

// The plain string fields, with how to set them on an Event and read them
// from the server's.
var stringFields = []struct {
	key string
	set func(*Event, string)
	get func(*clawtrail.Event) string
}{
	{"session_id", func(e *Event, s string) { e.SessionID = s }, func(e *clawtrail.Event) string { return e.SessionID }},
	{"user_id", func(e *Event, s string) { e.UserID = s }, func(e *clawtrail.Event) string { return e.UserID }},
	{"agent_id", func(e *Event, s string) { e.AgentID = s }, func(e *clawtrail.Event) string { return e.AgentID }},
	{"channel", func(e *Event, s string) { e.Channel = s }, func(e *clawtrail.Event) string { return e.Channel }},
	{"trace_id", func(e *Event, s string) { e.TraceID = s }, func(e *clawtrail.Event) string { return e.TraceID }},
	{"span_id", func(e *Event, s string) { e.SpanID = s }, func(e *clawtrail.Event) string { return e.SpanID }},
	{"parent_id", func(e *Event, s string) { e.ParentID = s }, func(e *clawtrail.Event) string { return e.ParentID }},
	{"content", func(e *Event, s string) { e.Content = s }, func(e *clawtrail.Event) string { return e.Content }},
	{"tool", func(e *Event, s string) { e.Tool = s }, func(e *clawtrail.Event) string { return e.Tool }},
	{"status", func(e *Event, s string) { e.Status = s }, func(e *clawtrail.Event) string { return e.Status }},
	{"error", func(e *Event, s string) { e.Error = s }, func(e *clawtrail.Event) string { return e.Error }},
	{"model", func(e *Event, s string) { e.Model = s }, func(e *clawtrail.Event) string { return e.Model }},
	{"destination", func(e *Event, s string) { e.Destination = s }, func(e *clawtrail.Event) string { return e.Destination }},
	{"method", func(e *Event, s string) { e.Method = s }, func(e *clawtrail.Event) string { return e.Method }},
	{"endpoint", func(e *Event, s string) { e.Endpoint = s }, func(e *clawtrail.Event) string { return e.Endpoint }},
	{"operation", func(e *Event, s string) { e.Operation = s }, func(e *clawtrail.Event) string { return e.Operation }},
	{"path", func(e *Event, s string) { e.Path = s }, func(e *clawtrail.Event) string { return e.Path }},
	{"decision", func(e *Event, s string) { e.Decision = s }, func(e *clawtrail.Event) string { return e.Decision }},
	{"approver", func(e *Event, s string) { e.Approver = s }, func(e *clawtrail.Event) string { return e.Approver }},
	{"reason", func(e *Event, s string) { e.Reason = s }, func(e *clawtrail.Event) string { return e.Reason }},
}

func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

var awkwardStrings = map[string]string{
	"quotes":      `say "hi" and \"escaped\" \\ \n not a newline \u0041`,
	"backslashes": `C:\path\to\file\`,
	"controls":    "ctl \x00\x01\x07\b\f\n\r\t\x0b\x1b\x1f end",
	"del":         "del \x7f end",
	"separators":  "line\u2028sep\u2029para",
	"invalid":     "bad \xff\xfe end",
	"truncated":   "cut \xe2\x82",
	"surrogate":   "surrogate \xed\xa0\x80 half",
	"overlong":    "overlong \xc0\xaf slash",
	"unicode":     "emoji 😀 é 中 \ufffd \U0010ffff",
	"html":        "<script>alert('&')</script>",
	"all bytes":   allBytes(),
	"only bad":    "\x80",
}

// Strings with quotes, backslashes, control characters, U+2028, invalid
// UTF-8, in every string field, in attributes (keys and values), in
// arguments and in the result: one valid line that encoding/json reads as
// it would read its own encoding (invalid bytes become U+FFFD), and that
// the server accepts with the same text.
func TestAppendEventStrings(t *testing.T) {
	for name, s := range awkwardStrings {
		t.Run(name, func(t *testing.T) {
			want := coerced(s)
			if own := viaJSON(t, s); own != want {
				t.Fatalf("test premise: encoding/json reads %q back as %q, not %q", s, own, want)
			}
			if !utf8.ValidString(want) {
				t.Fatalf("test premise: %q is not valid UTF-8", want)
			}
			for _, f := range stringFields {
				e := Event{ID: "s1", Timestamp: time.Now(), Type: "prompt"}
				f.set(&e, s)
				line := encodeLine(t, &e)
				if got := clientView(t, line)[f.key]; got != want {
					t.Errorf("%s: encoding/json reads %q, want %q", f.key, got, want)
				}
				if got := f.get(serverDecode(t, line)); got != want {
					t.Errorf("%s: the server reads %q, want %q", f.key, got, want)
				}
			}
			// Free-form values: attribute key and value, map[string]string
			// arguments, []string and string results.
			e := Event{ID: "s2", Timestamp: time.Now(), Type: "tool_call",
				Attributes: map[string]any{"v": s, "k" + s: 1},
				Arguments:  map[string]string{"arg": s},
				Result:     []string{s, s + "!"},
			}
			line := encodeLine(t, &e)
			got := clientView(t, line)
			wantAttrs := map[string]any{"v": want, "k" + want: 1.0}
			if !reflect.DeepEqual(got["attributes"], wantAttrs) {
				t.Errorf("attributes %q, want %q", got["attributes"], wantAttrs)
			}
			if a, _ := got["arguments"].(map[string]any); a["arg"] != want {
				t.Errorf("arguments %q, want %q", got["arguments"], want)
			}
			if r, _ := got["result"].([]any); len(r) != 2 || r[0] != want || r[1] != want+"!" {
				t.Errorf("result %q", got["result"])
			}
			sv, _ := serverView(t, serverDecode(t, line))
			delete(got, "timestamp")
			if !reflect.DeepEqual(sv, got) {
				t.Errorf("the server decoded\n%q\nencoding/json\n%q", sv, got)
			}
			e = Event{ID: "s3", Timestamp: time.Now(), Type: "tool_call", Result: s}
			line = encodeLine(t, &e)
			if got := clientView(t, line)["result"]; got != want {
				t.Errorf("string result %q, want %q", got, want)
			}
			if r := serverDecode(t, line).Result; r == nil || r.Kind != strictjson.String || r.Str != want {
				t.Errorf("server string result %+v, want %q", r, want)
			}
		})
	}
}

// deepMap nests n maps.
func deepMap(n int) map[string]any {
	m := map[string]any{"leaf": "bottom"}
	for i := range n {
		m = map[string]any{fmt.Sprintf("l%d", i): m}
	}
	return m
}

// The free-form values (arguments, result, usage, attributes) encode as
// encoding/json would encode them — the reflection-free path for common
// shapes and the fallback alike — down to the server's canonical form,
// which feeds the idempotency hash.
func TestAppendEventValues(t *testing.T) {
	many := map[string]any{}
	for i := range 40 {
		many[fmt.Sprintf("key%02d", 39-i)] = i
	}
	type point struct {
		X int    `json:"x"`
		Y string `json:"y,omitempty"`
	}
	values := map[string]any{
		"scalars": map[string]any{"s": "x", "b": true, "f": false, "i": 1, "i64": int64(math.MinInt64), "i32": int32(-7),
			"u64": uint64(math.MaxUint64), "float": 1.25, "nil": nil},
		"floats": map[string]any{"big": 1e21, "bigint": 1e20, "small": 1e-7, "negzero": math.Copysign(0, -1), "tenth": 0.1,
			"max": math.MaxFloat64, "tiny": math.SmallestNonzeroFloat64, "frac": 123456789.125, "neg": -2.5e-300},
		"nested":          map[string]any{"arr": []any{1, "a", []string{"x", "y"}, map[string]string{"k": "v"}, []any{}}, "empty": map[string]any{}},
		"many keys":       many,
		"deep":            deepMap(20),
		"reflect inside":  map[string]any{"when": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "ints": []int{1, 2}, "p": point{X: 1}},
		"struct":          point{X: 3, Y: "y"},
		"pointer":         &point{X: 4},
		"map of ints":     map[string]int{"a": 1, "b": 2},
		"map of strings":  map[string]string{"b": "2", "a": "1"},
		"raw":             json.RawMessage(`{"raw":[1,2,{"z":null}]}`),
		"html in strings": map[string]any{"h": "<b>&</b>"},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			own, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			e := Event{ID: "v1", Timestamp: time.Now(), Type: "tool_call", Arguments: v, Result: v, Attributes: map[string]any{"x": v}}
			line := encodeLine(t, &e)
			got := clientView(t, line)
			wantV := viaJSON(t, v)
			if !reflect.DeepEqual(got["arguments"], wantV) || !reflect.DeepEqual(got["result"], wantV) {
				t.Fatalf("encoded\n%v\n%v\nencoding/json\n%v", got["arguments"], got["result"], wantV)
			}
			if a, _ := got["attributes"].(map[string]any); !reflect.DeepEqual(a["x"], wantV) {
				t.Fatalf("attributes.x %v, want %v", a["x"], wantV)
			}
			ev := serverDecode(t, line)
			wantC := canonicalOf(t, own)
			if c := canonical(t, ev.Arguments); c != wantC {
				t.Errorf("server arguments %s, want %s", c, wantC)
			}
			if c := canonical(t, ev.Result); c != wantC {
				t.Errorf("server result %s, want %s", c, wantC)
			}
			if c := canonical(t, ev.Attributes); c != `{"x":`+wantC+`}` {
				t.Errorf("server attributes %s", c)
			}
		})
	}
	// Top-level results of every shape.
	for _, v := range []any{"str", 0, -3, int64(1 << 62), 2.5, true, []any{1, "x", nil}, []string{"a"}, []int{1}, uint64(7)} {
		e := Event{ID: "v2", Timestamp: time.Now(), Type: "tool_call", Result: v}
		line := encodeLine(t, &e)
		own, _ := json.Marshal(v)
		if c := canonical(t, serverDecode(t, line).Result); c != canonicalOf(t, own) {
			t.Errorf("result %#v: server %s, want %s", v, c, own)
		}
	}
}

// Values the server would refuse are refused by appendEvent, with
// ErrInvalid naming the field.
func TestAppendEventRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Event
		want string
	}{
		{"array arguments", Event{Arguments: []string{"a"}}, "arguments must encode as a JSON object, not an array"},
		{"string arguments", Event{Arguments: "s"}, "not a string"},
		{"number arguments", Event{Arguments: 5}, "not a number"},
		{"bool arguments", Event{Arguments: true}, "not a boolean"},
		{"raw array arguments", Event{Arguments: json.RawMessage(`[1]`)}, "not an array"},
		{"invalid raw arguments", Event{Arguments: json.RawMessage(`{bad`)}, "arguments is not valid JSON"},
		{"invalid raw result", Event{Result: json.RawMessage(`nope`)}, "result is not valid JSON"},
		{"NaN result", Event{Result: math.NaN()}, "result"},
		{"Inf in a map", Event{Result: map[string]any{"x": math.Inf(1)}}, "result"},
		{"channel attribute", Event{Attributes: map[string]any{"c": make(chan int)}}, "attributes"},
		{"negative duration", Event{Duration: -time.Millisecond}, "duration is negative"},
	} {
		tc.e.ID, tc.e.Timestamp, tc.e.Type = "r1", time.Now(), "tool_call"
		_, err := appendEvent(nil, &tc.e)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalid with %q", tc.name, err, tc.want)
		}
	}
	// null arguments are allowed (and the server takes them).
	var p *struct{ A int }
	for _, args := range []any{json.RawMessage(`null`), p} {
		e := Event{ID: "r2", Timestamp: time.Now(), Type: "tool_call", Arguments: args}
		line := encodeLine(t, &e)
		if ev := serverDecode(t, line); ev.Arguments != nil {
			t.Errorf("null arguments decoded as %s", canonical(t, ev.Arguments))
		}
	}
}

// A json.RawMessage with insignificant whitespace (pretty-printed JSON)
// must still make exactly one line.
func TestAppendEventRawMessageIsOneLine(t *testing.T) {
	for _, e := range []Event{
		{Arguments: json.RawMessage("{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}")},
		{Result: json.RawMessage("[\n  1,\n  2\n]\n")},
		{Arguments: json.RawMessage("{\r\n\t\"a\": 1\r\n}")},
	} {
		e.ID, e.Timestamp, e.Type = "raw1", time.Now(), "tool_call"
		line := encodeLine(t, &e)
		serverDecode(t, line)
	}
}

// FuzzAppendEvent: whatever strings an agent passes, appendEvent makes one
// valid NDJSON line that the server accepts, with the text encoding/json
// would have sent (invalid UTF-8 bytes as U+FFFD).
func FuzzAppendEvent(f *testing.F) {
	for _, name := range slices.Sorted(maps.Keys(awkwardStrings)) {
		s := awkwardStrings[name]
		f.Add(s, "tool", "sess", s)
	}
	f.Add("", "", "", "")
	f.Add("plain", "\xff", "\u2028", `"}`)
	f.Add(`{"a":1}`+"\n"+`{"b":2}`, "t\x00", "s\\", "\x7f\xc3")
	ts := time.Now()
	f.Fuzz(func(t *testing.T, content, tool, session, attr string) {
		e := Event{ID: "fz-1", Timestamp: ts, Type: "tool_call", Content: content, Tool: tool, SessionID: session,
			Arguments: map[string]any{"q": attr}, Attributes: map[string]any{"v": attr}}
		line, err := appendEvent(nil, &e)
		if err != nil {
			t.Fatalf("appendEvent: %v", err)
		}
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("not one line ending in a newline: %q", line)
		}
		if !json.Valid(line) {
			t.Fatalf("not valid JSON: %q", line)
		}
		ev := serverDecode(t, line)
		if ev.Content != coerced(content) || ev.Tool != coerced(tool) || ev.SessionID != coerced(session) {
			t.Fatalf("server read content %q tool %q session %q from %q", ev.Content, ev.Tool, ev.SessionID, line)
		}
		wantAttr := string(strictjson.AppendString(nil, coerced(attr)))
		if c := canonical(t, ev.Attributes); c != `{"v":`+wantAttr+`}` {
			t.Fatalf("server attributes %s, want v = %s", c, wantAttr)
		}
		if c := canonical(t, ev.Arguments); c != `{"q":`+wantAttr+`}` {
			t.Fatalf("server arguments %s, want q = %s", c, wantAttr)
		}
		// encoding/json agrees.
		got, present := clientView(t, line)["content"]
		if present != (content != "") || present && got != coerced(content) {
			t.Fatalf("encoding/json read content %q (present %v), want %q", got, present, coerced(content))
		}
	})
}

func TestEventMarshalJSONIsTheLineLogSends(t *testing.T) {
	e := Event{ID: "e1", Type: "tool_call", Tool: "exec", Arguments: map[string]any{"command": "ls"},
		Duration: 1500 * time.Millisecond, Attributes: map[string]any{"k": "v"}}
	line, err := appendEvent(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(b)+"\n" != string(line) {
		t.Errorf("json.Marshal = %s, Log sends %s", b, line)
	}
}
