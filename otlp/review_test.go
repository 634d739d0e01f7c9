package otlp

import (
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/ingest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// One hostile span must not make the server refuse its whole batch (a 400
// that an exporter does not retry: every span of the batch lost): values
// nested deeper than the server's nesting limit, a huge session id,
// service name or tool name, an array of many small strings.
func TestHostileSpansMapToValidEvents(t *testing.T) {
	dec := ingest.Decoder{Limits: ingest.DefaultLimits(), Now: time.Now}
	deepArgs := `"rm -rf /"`
	for i := 0; i < 100; i++ {
		deepArgs = `[` + deepArgs + `]`
	}
	cases := map[string]func() ptrace.Traces{
		"deep attribute": func() ptrace.Traces {
			td, sp := newSpan("svc", "chat gpt")
			v := sp.Attributes().PutEmptyMap("deep")
			for i := 0; i < 100; i++ {
				v = v.PutEmptyMap("a")
			}
			v.PutStr("x", "y")
			return td
		},
		"deep JSON arguments": func() ptrace.Traces {
			td, sp := newSpan("svc", "execute_tool t")
			sp.Attributes().PutStr("gen_ai.tool.call.arguments", `{"a":`+deepArgs+`}`)
			return td
		},
		"deep span event attribute": func() ptrace.Traces {
			td, sp := newSpan("svc", "chat gpt")
			v := sp.Events().AppendEmpty().Attributes().PutEmptySlice("deep")
			for i := 0; i < 100; i++ {
				v = v.AppendEmpty().SetEmptySlice()
			}
			return td
		},
		"huge session id": func() ptrace.Traces {
			td, sp := newSpan("svc", "chat gpt")
			sp.Attributes().PutStr("session.id", strings.Repeat("s", 2<<20))
			return td
		},
		"huge service name": func() ptrace.Traces {
			td, _ := newSpan(strings.Repeat("S", 2<<20), "chat gpt")
			return td
		},
		"huge tool name": func() ptrace.Traces {
			td, sp := newSpan("svc", "execute_tool x")
			sp.Attributes().PutStr("gen_ai.tool.name", strings.Repeat("T", 2<<20))
			return td
		},
		"many small strings": func() ptrace.Traces {
			td, sp := newSpan("svc", "chat gpt")
			sl := sp.Attributes().PutEmptySlice("many")
			for i := 0; i < 80000; i++ {
				sl.AppendEmpty().SetStr(strings.Repeat("q", 200))
			}
			return td
		},
	}
	for name, mk := range cases {
		r := Traces(mk(), Options{})
		if len(r.Lines) != 1 {
			t.Fatalf("%s: %d events", name, len(r.Lines))
		}
		if budget := (Options{}).withDefaults().budget(); len(r.Lines[0]) > budget {
			t.Errorf("%s: the event is %d bytes", name, len(r.Lines[0]))
		}
		if _, err := dec.Decode(r.NDJSON(), true); err != nil {
			t.Errorf("%s: the server refuses the event: %.300v", name, err)
			continue
		}
		e := decode(t, r)[0]
		a := attrsOf(e)
		switch name {
		case "deep JSON arguments":
			if args, _ := e["arguments"].(map[string]any); !strings.Contains(jsonString(args), "rm -rf /") || a["otlp.flattened"] == nil {
				t.Errorf("%s: arguments %v, flattened %v", name, e["arguments"], a["otlp.flattened"])
			}
		case "many small strings":
			// Only the attribute too large to keep goes, and says so.
			if a["otlp.span_name"] != "chat gpt" || a["many"] != nil || !strings.Contains(jsonString(a["truncated"]), "attributes.many") {
				t.Errorf("%s: attributes %v", name, a)
			}
		}
	}
}

func jsonString(v any) string { return string(jsonBytes(v)) }

// Mapping stops once a batch's events together pass MaxTotalBytes, for
// logs as for traces.
func TestMaxTotalBytesStopsMapping(t *testing.T) {
	ld, _ := newLog(ClaudeCodeScope, "")
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("big", strings.Repeat("b", 50<<10))
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < 30; i++ {
		lr := recs.AppendEmpty()
		lr.SetEventName("claude_code.user_prompt")
		lr.Attributes().PutStr("prompt", "p"+itoa(i))
	}
	if r := Logs(ld, Options{MaxTotalBytes: 1 << 20}); !r.TooLarge || len(r.Lines) >= 30 {
		t.Errorf("logs: TooLarge %v with %d lines", r.TooLarge, len(r.Lines))
	}
	if r := Logs(ld, Options{}); r.TooLarge || len(r.Lines) != 30 {
		t.Errorf("logs under the default: TooLarge %v with %d lines", r.TooLarge, len(r.Lines))
	}
}

// Credentials in url.query (the query alone, no '?') and in a log
// record's structured body are scrubbed like those of url.full and of
// attributes.
func TestQueryAndLogBodyCredentialsScrubbed(t *testing.T) {
	td, sp := newSpan("svc", "GET")
	sp.SetKind(ptrace.SpanKindClient)
	sp.Attributes().PutStr("http.request.method", "GET")
	sp.Attributes().PutStr("url.full", "https://api.example.com/v1?api_key=SECRET1")
	sp.Attributes().PutStr("url.query", "api_key=SECRET2&page=2")
	line := string(Traces(td, Options{}).Lines[0])
	if strings.Contains(line, "SECRET") || !strings.Contains(line, `"url.query":"api_key=[REDACTED]&page=[REDACTED]"`) {
		t.Errorf("url.query kept: %s", line)
	}
	ld, lr := newLog("openclaw", "")
	lr.SetSeverityNumber(plog.SeverityNumberError)
	m := lr.Body().SetEmptyMap()
	m.PutStr("message", "upstream refused")
	m.PutEmptyMap("headers").PutStr("Authorization", "Basic SECRET3")
	e := one(t, Logs(ld, Options{}))
	if line := jsonString(e); strings.Contains(line, "SECRET") || !strings.Contains(line, "otlp.body.headers.Authorization") {
		t.Errorf("log body kept: %s", line)
	}
}
