package query

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

func jsonValue(t testing.TB, s string) *strictjson.Value {
	t.Helper()
	v, err := strictjson.Parse([]byte(s))
	if err != nil {
		t.Fatalf("strictjson.Parse(%q): %v", s, err)
	}
	return &v
}

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func ptr[T any](v T) *T { return &v }

// seedEvents returns the five example events of the seed guide, with seqs 0-4.
func seedEvents(t testing.TB) []*clawtrail.Event {
	base := func(seq int64, typ, at string) *clawtrail.Event {
		return &clawtrail.Event{ID: fmt.Sprintf("ev%d", seq), Seq: seq, TenantID: "tenant_acme_corp",
			Type: typ, Timestamp: ts(t, at), ReceivedAt: ts(t, at).Add(time.Second), SessionID: "sess_abc123"}
	}
	prompt := base(0, "prompt", "2026-01-31T14:22:33.456Z")
	prompt.UserID = "user_jane"
	prompt.Content = "Send an email to support@vendor.com about the delayed shipment"
	prompt.Channel = "slack"

	call := base(1, "tool_call", "2026-01-31T14:22:34.123Z")
	call.Tool = "send_email"
	call.Arguments = jsonValue(t, `{"to": "support@vendor.com", "subject": "Shipment Delay Inquiry", "body": "..."}`)
	call.Status = "success"
	call.DurationMS = ptr(892.0)

	output := base(2, "output", "2026-01-31T14:22:35.015Z")
	output.Content = "I've sent an email to support@vendor.com inquiring about..."
	output.TokensUsed = ptr[int64](156)

	api := base(3, "api_call", "2026-01-31T14:22:34.500Z")
	api.Destination = "api.anthropic.com"
	api.Method = "POST"
	api.Endpoint = "/v1/messages"
	api.StatusCode = ptr[int64](200)
	api.DurationMS = ptr(456.0)

	file := base(4, "file_operation", "2026-01-31T14:22:33.800Z")
	file.Operation = "read"
	file.Path = "/workspace/config.json"
	file.Bytes = ptr[int64](2048)
	file.Status = "success"
	return []*clawtrail.Event{prompt, call, output, api, file}
}

// matching returns the seqs of the events q matches.
func matching(t testing.TB, query string, events []*clawtrail.Event) []int64 {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("Parse(%q): %v", query, err)
	}
	got := []int64{}
	for _, e := range events {
		if q.Match(e) {
			got = append(got, e.Seq)
		}
	}
	return got
}

func TestMatchSeed(t *testing.T) {
	events := seedEvents(t)
	tests := []struct {
		q    string
		want []int64
	}{
		{"", []int64{0, 1, 2, 3, 4}},
		// SPEC §3 examples
		{"tool:send_email", []int64{1}},
		{"status:error OR status:blocked", []int64{}},
		{"status:success OR status:blocked", []int64{1, 4}},
		{"-type:prompt", []int64{1, 2, 3, 4}},
		{"NOT type:prompt", []int64{1, 2, 3, 4}},
		{"tool:send_*", []int64{1}},
		{"tool:(send_email OR exec)", []int64{1}},
		{"duration_ms:>1000", []int64{}},
		{"duration_ms:>500", []int64{1}},
		{"bytes:<=4096", []int64{4}},
		{"duration_ms:>1000   bytes:<=4096", []int64{}},
		{`path:"/workspace/config.json"`, []int64{4}},
		{`"delayed shipment"`, []int64{0}},
		{"(type:tool_call OR type:api_call) AND -status:success", []int64{3}},
		{"attributes.model:claude-3", []int64{}},
		// the guide's own search
		{"tool:send_email timestamp:>=2026-01-01", []int64{1}},
		// fields
		{"session:sess_abc123", []int64{0, 1, 2, 3, 4}},
		{"user:user_jane", []int64{0}},
		{"tenant:tenant_acme_corp", []int64{0, 1, 2, 3, 4}},
		{"tenant_id:tenant_*", []int64{0, 1, 2, 3, 4}},
		{"tenant:other", []int64{}},
		{"channel:slack", []int64{0}},
		{"id:ev3", []int64{3}},
		{"seq:>=3", []int64{3, 4}},
		{"seq:2", []int64{2}},
		{"status_code:200", []int64{3}},
		{"status_code:200.0", []int64{3}},
		{"tokens_used:156", []int64{2}},
		{"tokens_used:<100", []int64{}},
		{"method:POST", []int64{3}},
		{"method:post", []int64{}},
		{"destination:api.*", []int64{3}},
		{"endpoint:/v1/messages", []int64{3}},
		{"operation:read", []int64{4}},
		{"status:*", []int64{1, 4}},
		{"-status:*", []int64{0, 2, 3}},
		{"-status:success", []int64{0, 2, 3}},
		{"timestamp:2026-01-31T14:22:34.5Z", []int64{3}},
		{"timestamp:>2026-01-31T14:22:34Z", []int64{1, 2, 3}},
		{"timestamp:<2026-01-31T14:22:34Z timestamp:>=2026-01-31", []int64{0, 4}},
		{"timestamp:>2026-02-01", []int64{}},
		{"received_at:2026-01-31T14:22:34.456Z", []int64{0}},
		// content, a text field
		{`content:"Send an email"*`, []int64{0}},
		{`content:"Send an email"`, []int64{}},
		{"content:*", []int64{0, 2}},
		{"error:*", []int64{}},
		// nested
		{"arguments.to:support@vendor.com", []int64{1}},
		{"arguments.to:support@*", []int64{1}},
		{"arguments.subject:*", []int64{1}},
		{"arguments.to:SUPPORT@vendor.com", []int64{}},
		// full text
		{"support@vendor.com", []int64{0, 1, 2}},
		{"email", []int64{0, 2}},
		{"EMAIL", []int64{0, 2}},
		{"send_email", []int64{}},   // the phrase "send email"; tool names are not full text
		{"an_email", []int64{0, 2}}, // the phrase "an email"
		{`"Shipment Delay"`, []int64{1}},
		{"delay*", []int64{0, 1}},
		{"inquir*", []int64{1, 2}},
		{"delayed shipment", []int64{0}},
		{"shipment delayed", []int64{0}},
		{`"shipment delayed"`, []int64{}},
		{"-email", []int64{1, 3, 4}},
		{"email OR tool:*", []int64{0, 1, 2}},
		// boolean structure
		{"type:prompt OR type:output tokens_used:156", []int64{0, 2}},
		{"(type:prompt OR type:output) tokens_used:156", []int64{2}},
		{"type:prompt OR type:output AND tokens_used:156", []int64{0, 2}},
		{"NOT (type:prompt OR type:output)", []int64{1, 3, 4}},
		{"tool:(send_email AND NOT exec)", []int64{1}},
		{"tool:(-exec)", []int64{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			if got := matching(t, tt.q, events); !slices.Equal(got, tt.want) {
				t.Errorf("%q matched seqs %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

// nestedEvent has arguments, result, usage and attributes exercising paths.
func nestedEvent(t testing.TB) *clawtrail.Event {
	return &clawtrail.Event{
		ID: "n1", Type: "tool_call", TenantID: "t", Timestamp: time.Unix(0, 0),
		Content:   "hello world",
		Arguments: jsonValue(t, `{"to": ["a@x.com", "b@x.com"], "items": [{"name": "n1"}, {"name": "n2", "qty": 3}], "count": 5, "ratio": 1.50, "dry": false, "none": null, "empty": "", "nested": [[1, 2], [3]]}`),
		Result:    jsonValue(t, `{"ok": true, "x": {"y": "deep"}}`),
		Usage:     jsonValue(t, `{"input_tokens": 120, "output_tokens": 30}`),
		Attributes: jsonValue(t, `{"http": {"route": "/v1/a"}, "http.route": "/v1/b", "model": "claude-3",
			"big": 1e400, "a b": "spaced", "k:v": 1}`),
	}
}

func TestMatchNested(t *testing.T) {
	e := nestedEvent(t)
	scalar := &clawtrail.Event{ID: "s", Type: "tool_call", Result: jsonValue(t, `42`)}
	array := &clawtrail.Event{ID: "a", Type: "tool_call", Result: jsonValue(t, `["x", 7, null]`)}
	tests := []struct {
		q     string
		event *clawtrail.Event
		want  bool
	}{
		{"arguments.to:b@x.com", e, true},
		{"arguments.to:c@x.com", e, false},
		{"arguments.to:*", e, true},
		{"arguments.items.name:n2", e, true},
		{"arguments.items.qty:>=3", e, true},
		{"arguments.items:*", e, false},
		{"arguments.count:5", e, true},
		{"arguments.count:5.0", e, true},
		{"arguments.count:5e0", e, true},
		{"arguments.count:>4.5", e, true},
		{"arguments.count:<5", e, false},
		{"arguments.count:5*", e, true},
		{"arguments.ratio:1.5", e, true},
		{"arguments.ratio:1.50", e, true},
		{"arguments.ratio:1.50*", e, true},
		{"arguments.ratio:1.5*", e, true},
		{"arguments.dry:false", e, true},
		{"arguments.dry:true", e, false},
		{"arguments.dry:>0", e, false},
		{"arguments.none:*", e, false},
		{"arguments.none:null", e, false},
		{"-arguments.none:*", e, true},
		{"arguments.empty:*", e, true},
		{`arguments.empty:""`, e, true},
		{"arguments.nested:2", e, true},
		{"arguments.nested:>2", e, true},
		{"arguments.missing:*", e, false},
		{"-arguments.missing:x", e, true},
		{"result.ok:true", e, true},
		{"result.x.y:deep", e, true},
		{"result.x:*", e, false},
		{"result:*", e, false},
		{"result:42", scalar, true},
		{"result:>40", scalar, true},
		{"result:4*", scalar, true},
		{"result:x", array, true},
		{"result:7", array, true},
		{"result:null", array, false},
		{"usage.input_tokens:>100", e, true},
		{"usage.output_tokens:>100", e, false},
		{"attributes.http.route:/v1/a", e, true},
		{"attributes.http.route:/v1/b", e, true},
		{"attributes.http.route:/v1/*", e, true},
		{"attributes.model:claude-3", e, true},
		{"attributes.model:claude*", e, true},
		{"attributes.big:1e400", e, true},
		{"attributes.big:>1", e, false},
		{`attributes.a\ b:spaced`, e, true},
		{`attributes."a b":spaced`, e, true},
		{`attributes.k\:v:1`, e, true},
		{"content:hello*", e, true},
		{"content:hello", e, false},
		{`content:"hello world"`, e, true},
		{"deep", e, true},
		{"n2 3", e, true},
		{"model", e, false},  // keys are not full text
		{"claude", e, false}, // attributes are not full text
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			q, err := Parse(tt.q)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.q, err)
			}
			if got := q.Match(tt.event); got != tt.want {
				t.Errorf("%q on %s: got %v, want %v", tt.q, tt.event.ID, got, tt.want)
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	e := seedEvents(b)[1]
	q, err := Parse("type:tool_call tool:send_* -status:error")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !q.Match(e) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchFullText(b *testing.B) {
	e := seedEvents(b)[1]
	q, err := Parse(`type:tool_call arguments.to:support@* "shipment delay"`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !q.Match(e) {
			b.Fatal("no match")
		}
	}
}
