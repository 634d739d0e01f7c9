package httpapi_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Every mapped event carries its resource's attributes: a request of many
// small spans under a large resource must not map to many times the
// request limit (a 16 MiB request could otherwise take the server's
// memory by the gigabyte). It is refused with a 413 naming the cause, and
// nothing is stored.
func TestOTLPResourceAmplificationIsBounded(t *testing.T) {
	ts := testserver.New(t, ingest.Limits{MaxEventBytes: 1 << 20, MaxRequestBytes: 2 << 20})
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	for i := 0; i < 14; i++ {
		rs.Resource().Attributes().PutStr("r"+strconv.Itoa(i), strings.Repeat("r", 60<<10))
	}
	ss := rs.ScopeSpans().AppendEmpty()
	for i := 0; i < 10; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("chat model")
		sp.SetTraceID(pcommon.TraceID{1})
		sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
	}
	pb, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	a := post(t, ts, ts.Ingest, "/v1/otlp/v1/traces", "application/x-protobuf", pb, true)
	if a.status != 413 || !strings.Contains(string(a.body), "resource") {
		t.Errorf("%d %s", a.status, a.body)
	}
	if n := len(ts.Ledger("acme")); n != 0 {
		t.Errorf("%d events stored", n)
	}
	// The same spans under a small resource are fine.
	rs.Resource().Attributes().Clear()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	pb, _ = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if a := post(t, ts, ts.Ingest, "/v1/otlp/v1/traces", "application/x-protobuf", pb, false); a.status != 200 {
		t.Errorf("%d %s", a.status, a.body)
	}
	if n := len(ts.Ledger("acme")); n != 10 {
		t.Errorf("%d events stored, want 10", n)
	}
}
