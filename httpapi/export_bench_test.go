package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
)

// benchPost sends body to url with a key and fails b unless it is a 200.
func benchPost(b *testing.B, url, contentType, token string, body io.Reader) {
	req, _ := http.NewRequest("POST", url, body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

// BenchmarkHTTPExport: GET /v1/export?format=jsonl of 100k events, the
// client in this process reading the lines as the bench does. One op
// exports all of them; report: events/s.
func BenchmarkHTTPExport(b *testing.B) {
	const n, perReq = 100_000, 5000
	ts := testserver.New(b, ingest.Limits{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tools := []string{"send_email", "exec", "read_file", "http_get"}
	for i := 0; i < n; i += perReq {
		var body strings.Builder
		for j := i; j < i+perReq; j++ {
			fmt.Fprintf(&body, `{"type":"tool_call","timestamp":%q,"session_id":"sess_%d","user_id":"user_%d","agent_id":"agent_prod_main","tool":%q,"arguments":{"to":"support%d@vendor.com","subject":"Shipment delay inquiry number %d","body":"The invoice for order %d is late; please advise on the delayed shipment."},"status":"success","duration_ms":%d}`+"\n",
				base.Add(time.Duration(j)*10*time.Millisecond).Format(time.RFC3339Nano), j/80, j%50, tools[j%4], j%100, j, j, j%2000)
		}
		benchPost(b, ts.URL+"/v1/events", "application/x-ndjson", ts.Ingest, strings.NewReader(body.String()))
	}
	export := func(wait string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/export?format=jsonl"+wait, nil)
		req.Header.Set("Authorization", "Bearer "+ts.Reader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("export: %d", resp.StatusCode)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		got := 0
		for sc.Scan() {
			got++
		}
		return got
	}
	export(fmt.Sprintf("&wait_seq=%d", n-1))
	b.ResetTimer()
	for range b.N {
		if got := export(""); got != n {
			b.Fatalf("exported %d of %d", got, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
