package otlp

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/ingest"
)

// FuzzMap: whatever an exporter sends, a body that decodes as OTLP/JSON
// maps to events the server accepts, each within the event limit (so one
// odd span never costs its whole batch a 400).
func FuzzMap(f *testing.F) {
	for _, name := range []string{"traces", "logs"} {
		raw, err := os.ReadFile("testdata/claude-code-2.1.332-otlp-json-" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		var w struct {
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(w.Body), name == "traces")
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"execute_tool","attributes":[{"key":"gen_ai.tool.call.arguments","value":{"stringValue":"[[[[1]]]]"}}]}]}]}]}`), true)
	dec := ingest.Decoder{Limits: ingest.Limits{MaxEventBytes: 8 << 10, MaxRequestBytes: 1 << 30}, Now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte, traces bool) {
		o := Options{MaxEventBytes: 8 << 10, MaxFieldBytes: 1 << 10}
		var r Result
		if traces {
			td, err := DecodeTraces(body, true)
			if err != nil {
				return
			}
			r = Traces(td, o)
		} else {
			ld, err := DecodeLogs(body, true)
			if err != nil {
				return
			}
			r = Logs(ld, o)
		}
		if r.TooLarge {
			return
		}
		for _, line := range r.Lines {
			if _, err := dec.Decode(line, true); err != nil {
				t.Fatalf("the server would refuse %q: %v", line, err)
			}
		}
	})
}
