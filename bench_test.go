package clawtrail

import "testing"

var benchBody = []byte(`{"id":"01KB0000000000000000000000","seq":12345,"received_at":"2026-11-26T19:39:14.066577008Z","tenant_id":"default","type":"tool_call","timestamp":"2026-01-31T14:22:34.123Z","key_id":"578459b1ca83304b","session_id":"sess_abc123","user_id":"user_jane","agent_id":"agent_prod_main","tool":"send_email","arguments":{"body":"The invoice for order 1234 is late; please advise on the delayed shipment.","subject":"Shipment Delay Inquiry","to":"support@vendor.com"},"status":"success","duration_ms":892}`)

func BenchmarkParseEvent(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseEvent(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e, _ := ParseEvent(benchBody)
	buf := make([]byte, 0, 1024)
	for i := 0; i < b.N; i++ {
		buf = e.AppendJSON(buf[:0])
	}
}
