package main

import (
	"net/http"
	"strings"
	"testing"
)

// A reader cannot fill the ledger through its own access records, nor a
// mistyped token put its secret into an auth record.
func TestAuditRecordsAreBounded(t *testing.T) {
	ts := startServer(t, t.TempDir(), noQueryLimit)
	root := bearerOf(ts.token)
	reader := acCreateKey(t, ts, "acme", "reader", "r", "")
	if st, _, _ := acReq(t, ts, "GET", "/v1/sessions/"+strings.Repeat("s", 5000), "", bearerOf(reader.token)); st != 400 {
		t.Fatalf("a 5,000-byte session id: %d, want 400", st)
	}
	long := strings.Repeat("word ", 20000) // 100 KB of query
	acReq(t, ts, "GET", "/v1/events?q="+acQ(long), "", bearerOf(reader.token))
	secret := "MistypedSecretMistypedSecretMistypedSecret"
	acReq(t, ts, "GET", "/v1/events", "", "Bearer ct_0123456789abcdef"+secret)
	evs := acPoll(t, ts, root, "/v1/events?limit=1000&wait_seq=latest&tenant=acme&q="+acQ("type:access"), func(evs []acEvent) bool { return len(evs) > 0 })
	for _, e := range evs {
		if q := e.attrStr("query"); len(q) > 1100 || !strings.HasSuffix(q, "[cut]") && len(q) > 1000 {
			t.Fatalf("access record query of %d bytes", len(q))
		}
	}
	_, _, body := acReq(t, ts, "GET", "/v1/export?wait_seq=latest&tenant=system&q="+acQ("type:auth"), "", root)
	if strings.Contains(body, secret) {
		t.Fatalf("a mistyped token's secret is in an auth record: %s", body)
	}
}

// A batch larger than a second's worth of the ingest rate leaves the key in
// debt: the next batch waits.
func TestIngestRateDebt(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *serveConfig) { c.IngestRate = 10 })
	batch := strings.Repeat(`{"type":"prompt"}`+"\n", 50)
	if st, _, body := acReq(t, ts, "POST", "/v1/events", batch, bearerOf(ts.token), "Content-Type", "application/x-ndjson"); st != 200 {
		t.Fatalf("first batch: %d %s", st, body)
	}
	st, hdr, _ := acReq(t, ts, "POST", "/v1/events", batch, bearerOf(ts.token), "Content-Type", "application/x-ndjson")
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("a second batch of 50 at 10 events/s: %d, want 429 with Retry-After", st)
	}
}

// An export cut short by its client is on record with what it read.
func TestAbortedExportRecorded(t *testing.T) {
	ts := startServer(t, t.TempDir(), noQueryLimit)
	root := bearerOf(ts.token)
	var b strings.Builder
	for i := 0; i < 3000; i++ {
		b.WriteString(`{"type":"prompt","content":"` + strings.Repeat("x", 200) + `"}` + "\n")
	}
	acIngest(t, ts, "acme", b.String())
	reader := acCreateKey(t, ts, "acme", "reader", "r", "")
	req, _ := http.NewRequest("GET", ts.url+"/v1/export?wait_seq=latest", nil)
	req.Header.Set("Authorization", bearerOf(reader.token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	resp.Body.Read(buf)
	resp.Body.Close() // abort
	evs := acPoll(t, ts, root, "/v1/events?limit=1000&wait_seq=latest&tenant=acme&q="+acQ("type:access"), func(evs []acEvent) bool {
		for _, e := range evs {
			if e.attrStr("action") == "export" {
				return true
			}
		}
		return false
	})
	found := false
	for _, e := range evs {
		found = found || e.attrStr("action") == "export"
	}
	if !found {
		t.Fatal("an aborted export left no access record")
	}
}
