package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"
)

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Line    int    `json:"line"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func TestIngestRejections(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *serveConfig) { c.MaxEventBytes = 2048; c.MaxRequestBytes = 64 << 10 })
	nd := []string{"Content-Type", "application/x-ndjson"}
	tests := []struct {
		name   string
		body   string
		hdr    []string
		status int
		line   int
		field  string
		msg    string
	}{
		{"malformed", `{"type":"prompt"`, nil, 400, 1, "", "expected ','"},
		{"truncated", `{"type":"prompt","content":"x`, nil, 400, 1, "", "unterminated string"},
		{"duplicate key", `{"type":"prompt","type":"output"}`, nil, 400, 1, "", "duplicate key"},
		{"missing type", `{"content":"x"}`, nil, 400, 1, "type", "required"},
		{"invalid type", `{"type":"Prompt!"}`, nil, 400, 1, "type", "must match"},
		{"reserved type", `{"type":"prompt"}` + "\n" + `{"type":"access"}`, nd, 400, 2, "type", "reserved"},
		{"wrong type string", `{"type":"prompt","content":5}`, nil, 400, 1, "content", "must be a string"},
		{"wrong type duration", `{"type":"tool_call","duration_ms":"1s"}`, nil, 400, 1, "duration_ms", "must be a number"},
		{"negative duration", `{"type":"tool_call","duration_ms":-1}`, nil, 400, 1, "duration_ms", ">= 0"},
		{"wrong type arguments", `{"type":"tool_call","arguments":[1]}`, nil, 400, 1, "arguments", "must be an object"},
		{"non-integer tokens", `{"type":"output","tokens_used":1.5}`, nil, 400, 1, "tokens_used", "integer"},
		{"invalid utf8", "{\"type\":\"prompt\",\"content\":\"\xff\"}", nil, 400, 1, "", "invalid UTF-8"},
		{"lone surrogate", `{"type":"prompt","content":"\ud800"}`, nil, 400, 1, "", "surrogate"},
		{"bad id", `{"type":"prompt","id":"a b"}`, nil, 400, 1, "id", "characters"},
		{"bad tenant", `{"type":"prompt","tenant_id":"Acme Corp"}`, nil, 400, 1, "tenant_id", "characters"},
		{"client seq", `{"type":"prompt","seq":3}`, nil, 400, 1, "seq", "set by the server"},
		{"client received_at", `{"type":"prompt","received_at":"2026-01-01T00:00:00Z"}`, nil, 400, 1, "received_at", "set by the server"},
		{"client key_id", `{"type":"prompt","key_id":"x"}`, nil, 400, 1, "key_id", "set by the server"},
		{"bad timestamp", `{"type":"prompt","timestamp":"yesterday"}`, nil, 400, 1, "timestamp", "RFC 3339"},
		{"attribute clash", `{"type":"prompt","foo":1,"attributes":{"foo":2}}`, nil, 400, 1, "foo", "also present"},
		{"not an object", `[{"type":"prompt"}, 3]`, nil, 400, 2, "", "JSON object"},
		{"oversize event", `{"type":"prompt","content":"` + strings.Repeat("x", 3000) + `"}`, nil, 400, 1, "", "over the 2048-byte limit"},
		{"oversize request", strings.Repeat(`{"type":"prompt","content":"`+strings.Repeat("x", 1000)+`"}`+"\n", 80), nd, 413, 0, "", "over"},
		{"gzip bomb", gz(strings.Repeat(" ", 10<<20)), []string{"Content-Encoding", "gzip"}, 413, 0, "", "after gzip"},
		{"bad gzip", "not gzip", []string{"Content-Encoding", "gzip"}, 400, 0, "", "gzip"},
		{"empty", "", nil, 400, 0, "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := ts.do("POST", "/v1/events", tt.body, tt.hdr...)
			var e apiErr
			if err := json.Unmarshal([]byte(body), &e); err != nil || status != tt.status {
				t.Fatalf("status %d body %s; want %d", status, body, tt.status)
			}
			all := e.Error.Message
			found := tt.line == 0 && tt.field == ""
			for _, d := range e.Error.Details {
				all += " | " + d.Message
				if d.Line == tt.line && d.Field == tt.field && strings.Contains(d.Message, tt.msg) {
					found = true
				}
			}
			if !found || !strings.Contains(all, tt.msg) {
				t.Fatalf("error %s does not name line %d field %q with %q", body, tt.line, tt.field, tt.msg)
			}
		})
	}
	// Nothing of any rejected request was stored.
	if st, body := ts.do("GET", "/v1/events", ""); st != 200 || !strings.Contains(body, `"events":[]`) {
		t.Fatalf("after rejected requests the ledger holds: %s", body)
	}
}

func TestIngestReportsEveryBadLine(t *testing.T) {
	ts := startServer(t, t.TempDir())
	body := `{"type":"prompt"}` + "\n" + `{"type":5}` + "\n" + `{"type":"prompt"}` + "\n" + `{"type":"tool_call","duration_ms":"x","seq":1}` + "\n"
	status, resp := ts.do("POST", "/v1/events", body, "Content-Type", "application/x-ndjson")
	var e apiErr
	json.Unmarshal([]byte(resp), &e)
	if status != 400 || len(e.Error.Details) != 3 || e.Error.Details[0].Line != 2 || e.Error.Details[1].Line != 4 || e.Error.Details[2].Line != 4 {
		t.Fatalf("status %d, details %+v; want lines 2, 4, 4", status, e.Error.Details)
	}
}

func TestIngestFormsAndIdempotency(t *testing.T) {
	ts := startServer(t, t.TempDir())
	forms := []struct{ name, body, ctype string }{
		{"object", `{"id":"o1","type":"prompt"}`, "application/json"},
		{"array", `[{"id":"a1","type":"prompt"},{"id":"a2","type":"output"}]`, "application/json"},
		{"ndjson", `{"id":"n1","type":"prompt"}` + "\n\n" + `{"id":"n2","type":"output"}` + "\n", "application/x-ndjson"},
		{"ndjson undeclared", `{"id":"u1","type":"prompt"}` + "\n" + `{"id":"u2","type":"output"}`, "application/json"},
		{"gzip", gz(`{"id":"g1","type":"prompt"}`), "application/json"},
	}
	want := []string{`"accepted":1`, `"accepted":2`, `"accepted":2`, `"accepted":2`, `"accepted":1`}
	for i, f := range forms {
		hdr := []string{"Content-Type", f.ctype}
		if f.name == "gzip" {
			hdr = append(hdr, "Content-Encoding", "gzip")
		}
		st, body := ts.do("POST", "/v1/events", f.body, hdr...)
		if st != 200 || !strings.Contains(body, want[i]) {
			t.Fatalf("%s: %d %s", f.name, st, body)
		}
	}
	st, body := ts.do("POST", "/v1/events", `[{"id":"a1","type":"prompt"},{"id":"a2","type":"output"}]`)
	if st != 200 || !strings.Contains(body, `"accepted":0,"duplicates":2,"first_seq":null,"last_seq":null`) {
		t.Fatalf("retry: %d %s", st, body)
	}
	st, body = ts.do("POST", "/v1/events", `[{"id":"new","type":"prompt"},{"id":"a2","type":"prompt"}]`)
	var e apiErr
	json.Unmarshal([]byte(body), &e)
	if st != 409 || len(e.Error.Details) != 1 || e.Error.Details[0].Line != 2 || e.Error.Details[0].Field != "id" {
		t.Fatalf("conflict: %d %s", st, body)
	}
	if st, _ := ts.do("GET", "/v1/events/new", ""); st != 404 {
		t.Fatalf("event of the refused request: %d, want 404", st)
	}
	st, body = ts.do("GET", "/v1/events/a2", "")
	if st != 200 || !strings.Contains(body, `"seq":2`) || !strings.Contains(body, `"type":"output"`) {
		t.Fatalf("GET /v1/events/a2: %d %s", st, body)
	}
}

func TestIngestTenantsAndClockSkew(t *testing.T) {
	ts := startServer(t, t.TempDir())
	// The seed's tenant_acme_corp fits; the root key may write any tenant.
	st, body := ts.do("POST", "/v1/events", `{"type":"prompt","tenant_id":"tenant_acme_corp","timestamp":"2020-01-01T00:00:00Z"}`)
	if st != 200 {
		t.Fatalf("tenant_id by root: %d %s", st, body)
	}
	st, body = ts.do("POST", "/v1/events", `{"type":"prompt","tenant_id":"a"}`+"\n"+`{"type":"prompt","tenant_id":"b"}`, "Content-Type", "application/x-ndjson")
	if st != 400 || !strings.Contains(body, "one tenant") {
		t.Fatalf("mixed tenants: %d %s", st, body)
	}
	// The default tenant does not see it; ?tenant= does, and marks the skew.
	if _, body := ts.do("GET", "/v1/events", ""); !strings.Contains(body, `"events":[]`) {
		t.Fatalf("default tenant sees another tenant's event: %s", body)
	}
	_, body = ts.do("GET", "/v1/events?tenant=tenant_acme_corp&wait_seq=0", "")
	if !strings.Contains(body, `"clock_skew_ms":-`) || !strings.Contains(body, `"tenant_id":"tenant_acme_corp"`) {
		t.Fatalf("tenant_acme_corp search: %s", body)
	}
}

func TestAuthAndOperations(t *testing.T) {
	ts := startServer(t, t.TempDir())
	for _, tc := range []struct {
		auth   string
		status int
	}{{"", 401}, {"Bearer nope", 401}, {"Bearer ct_0123456789abcdef_wrong", 401}, {"Basic abc", 401}} {
		if st, body := ts.do("GET", "/v1/events", "", "Authorization", tc.auth); st != tc.status || !strings.Contains(body, `"code":"unauthorized"`) {
			t.Errorf("Authorization %q: %d %s", tc.auth, st, body)
		}
	}
	if st, _ := ts.do("GET", "/healthz", "", "Authorization", ""); st != 200 {
		t.Errorf("/healthz without a key: %d", st)
	}
	if st, _ := ts.do("GET", "/readyz", "", "Authorization", ""); st != 200 {
		t.Errorf("/readyz without a key: %d", st)
	}
	if st, _ := ts.do("GET", "/metrics", "", "Authorization", ""); st != 401 {
		t.Errorf("/metrics without a key: %d, want 401", st)
	}
	ts.do("POST", "/v1/events", `{"type":"prompt"}`)
	ts.do("GET", "/v1/events?q=tool:(", "")
	st, body := ts.do("GET", "/metrics", "")
	for _, want := range []string{"clawtrail_events_ingested_total 1", "clawtrail_commit_seconds_bucket", "clawtrail_commit_batch_events_bucket",
		`clawtrail_requests_rejected_total{reason="invalid"} 1`, "clawtrail_index_lag_events"} {
		if st != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	st, body = ts.do("GET", "/v1/events?q=tool:(send", "")
	if st != 400 || !strings.Contains(body, "position") {
		t.Errorf("bad query: %d %s", st, body)
	}
}
