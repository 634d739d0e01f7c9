package httpapi_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
	"github.com/clawtrail/clawtrail/otlp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// benchSpans is an export of n GenAI spans (a chat and a tool call per
// turn) with ids unique to seed, so that no request is a duplicate.
func benchSpans(seed, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bench-agent")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		var tid [16]byte
		var sid [8]byte
		binary.BigEndian.PutUint64(tid[:], uint64(seed))
		binary.BigEndian.PutUint64(tid[8:], uint64(i/2+1))
		binary.BigEndian.PutUint64(sid[:], uint64(seed)<<20|uint64(i+1))
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID(sid))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(120 * time.Millisecond)))
		a := sp.Attributes()
		a.PutStr("session.id", fmt.Sprintf("bench-%d", seed))
		if i%2 == 0 {
			sp.SetName("chat gpt-5")
			a.PutStr("gen_ai.operation.name", "chat")
			a.PutStr("gen_ai.request.model", "gpt-5")
			a.PutInt("gen_ai.usage.input_tokens", 1200)
			a.PutInt("gen_ai.usage.output_tokens", 80)
		} else {
			sp.SetName("execute_tool send_email")
			a.PutStr("gen_ai.operation.name", "execute_tool")
			a.PutStr("gen_ai.tool.name", "send_email")
			a.PutStr("gen_ai.tool.call.arguments", `{"to":"customer@example.com","subject":"Your order has shipped"}`)
			a.PutStr("gen_ai.tool.call.result", `{"status":"sent","message_id":"m-123"}`)
		}
	}
	return td
}

// BenchmarkOTLPIngest: 100 GenAI spans per request through POST
// /v1/otlp/v1/traces (protobuf, as the Go SDK's exporter sends), against
// the same events sent as NDJSON to POST /v1/events (the baseline: the
// ingest path without decoding and mapping). Report: spans/s.
func BenchmarkOTLPIngest(b *testing.B) {
	const perReq = 100
	for _, kind := range []string{"otlp-protobuf", "ndjson-baseline"} {
		b.Run(kind, func(b *testing.B) {
			ts := testserver.New(b, ingest.Limits{})
			bodies := make([][]byte, b.N)
			for i := range bodies {
				td := benchSpans(i+1, perReq)
				if kind == "otlp-protobuf" {
					bodies[i], _ = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
				} else {
					bodies[i] = otlp.Traces(td, otlp.Options{}).NDJSON()
				}
			}
			path, ct := "/v1/otlp/v1/traces", "application/x-protobuf"
			if kind != "otlp-protobuf" {
				path, ct = "/v1/events", "application/x-ndjson"
			}
			b.ResetTimer()
			for i := range b.N {
				benchPost(b, ts.URL+path, ct, ts.Ingest, bytes.NewReader(bodies[i]))
			}
			b.ReportMetric(float64(b.N*perReq)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkOTLPMap: decoding and mapping alone (no HTTP, no store), per
// span.
func BenchmarkOTLPMap(b *testing.B) {
	body, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(benchSpans(1, 100))
	b.ResetTimer()
	for range b.N {
		td, err := otlp.DecodeTraces(body, false)
		if err != nil {
			b.Fatal(err)
		}
		if r := otlp.Traces(td, otlp.Options{}); len(r.Lines) != 100 {
			b.Fatal(len(r.Lines))
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "spans/s")
}
