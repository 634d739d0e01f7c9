package redact

import (
	"testing"
	"time"

	clawtrail "github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// benchEvent is a realistic tool_call event of about 1 KB of JSON; with
// secrets, three of its strings carry one each.
func benchEvent(t testing.TB, secrets bool) *clawtrail.Event {
	body := `{"tenant_id":"tenant_acme_corp","type":"tool_call","timestamp":"2025-03-02T10:15:22.481Z",` +
		`"session_id":"sess_8f3a2c1d","user_id":"user_4471","agent_id":"support-agent-v2","channel":"slack",` +
		`"content":"The customer asked why their order 88213 shipped late. I looked up the shipment in the warehouse system, found a carrier delay of two days (weather in the Midwest), and drafted a reply that apologises, gives the new delivery date of 2025-03-05 and offers a 10% voucher. Sending it now.",` +
		`"tool":"send_email","arguments":{"to":"customer-88213@example.com","subject":"About your order 88213",` +
		`"body":"Hello,\n\nyour order 88213 was delayed by the carrier because of the weather. It will arrive on 5 March. As an apology, here is a voucher for 10% off your next order: SORRY10.\n\nBest regards,\nAcme Support","priority":"normal","tags":["support","delay","voucher"]},` +
		`"result":{"status":"sent","message_id":"<20250302101522.4471@mail.acme.io>","queued_ms":42,"recipients":1},` +
		`"status":"success","duration_ms":812.5,"model":"claude-sonnet-4-5","usage":{"input_tokens":1532,"output_tokens":412},` +
		`"attributes":{"environment":"production","region":"eu-west-1","trace_flags":"01","customer_tier":"gold","retry":0}}`
	if secrets {
		body = `{"tenant_id":"tenant_acme_corp","type":"tool_call","timestamp":"2025-03-02T10:15:22.481Z",` +
			`"session_id":"sess_8f3a2c1d","user_id":"user_4471","agent_id":"support-agent-v2","channel":"slack",` +
			`"content":"The deploy script failed. I reran it with OPENAI_API_KEY=sk-proj-Tq3vX9aLmN2pR7sK1wY5zB8cD4eF6gH0jJ and it worked; the database is at postgres://app:Xk92mPq7Lw3nZ8@db.internal:5432/orders for reference.",` +
			`"tool":"http_request","arguments":{"method":"GET","url":"https://api.acme.io/v1/reports",` +
			`"headers":{"Authorization":"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.kX9mP2qL7wN3zR8tY5vB1cD4eF6gH0jJaQ","Accept":"application/json"},"priority":"normal","tags":["report","weekly"]},` +
			`"result":{"status":200,"body":"{\"rows\": 42, \"generated\": \"2025-03-02\"}","queued_ms":42},` +
			`"status":"success","duration_ms":812.5,"model":"claude-sonnet-4-5","usage":{"input_tokens":1532,"output_tokens":412},` +
			`"attributes":{"environment":"production","region":"eu-west-1","trace_flags":"01","customer_tier":"gold","retry":0}}`
	}
	v, err := strictjson.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e, errs := clawtrail.DecodeEvent(&v, false)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	e.ReceivedAt = time.Date(2025, 3, 2, 10, 15, 23, 0, time.UTC)
	return e
}

// cloneEvent deep-copies e (Event modifies its trees in place).
func cloneEvent(e *clawtrail.Event) *clawtrail.Event {
	c := *e
	for _, p := range []**strictjson.Value{&c.Arguments, &c.Result, &c.Usage, &c.Attributes} {
		if *p != nil {
			v := cloneValue(**p)
			*p = &v
		}
	}
	c.Redactions = append([]clawtrail.Redaction(nil), e.Redactions...)
	return &c
}

func cloneValue(v strictjson.Value) strictjson.Value {
	switch v.Kind {
	case strictjson.Array:
		items := make([]strictjson.Value, len(v.Items))
		for i, it := range v.Items {
			items[i] = cloneValue(it)
		}
		v.Items = items
	case strictjson.Object:
		ms := make([]strictjson.Member, len(v.Members))
		for i, m := range v.Members {
			ms[i] = strictjson.Member{Key: m.Key, Value: cloneValue(m.Value)}
		}
		v.Members = ms
	}
	return v
}

func BenchmarkEventClean(b *testing.B) {
	r, err := New(Config{}, testKeys())
	if err != nil {
		b.Fatal(err)
	}
	e := benchEvent(b, false)
	b.SetBytes(int64(len(e.AppendJSON(nil))))
	b.ReportAllocs()
	for b.Loop() {
		r.Event(e) // nothing matches, so e is unchanged
	}
	if len(e.Redactions) != 0 {
		b.Fatalf("clean event redacted: %v", e.Redactions)
	}
}

func BenchmarkEventCleanPII(b *testing.B) {
	r, err := New(Config{Enable: []string{"phone", "us_ssn", "iban"}}, testKeys())
	if err != nil {
		b.Fatal(err)
	}
	e := benchEvent(b, false)
	b.SetBytes(int64(len(e.AppendJSON(nil))))
	b.ReportAllocs()
	for b.Loop() {
		r.Event(e)
	}
	if len(e.Redactions) != 0 {
		b.Fatalf("clean event redacted: %v", e.Redactions)
	}
}

func BenchmarkEventWithSecrets(b *testing.B) {
	r, err := New(Config{}, testKeys())
	if err != nil {
		b.Fatal(err)
	}
	orig := benchEvent(b, true)
	e := cloneEvent(orig)
	b.SetBytes(int64(len(orig.AppendJSON(nil))))
	b.ReportAllocs()
	for b.Loop() {
		restore(e, orig) // cheap: copies strings back, allocates nothing
		r.Event(e)
		if len(e.Redactions) != 3 {
			b.Fatalf("got %v, want 3 redactions", e.Redactions)
		}
	}
}

// restore makes e, a clone of orig that Event may have redacted, equal to
// orig again, reusing its memory.
func restore(e, orig *clawtrail.Event) {
	e.Content, e.Error, e.Reason, e.Endpoint, e.Path = orig.Content, orig.Error, orig.Reason, orig.Endpoint, orig.Path
	e.Redactions = e.Redactions[:0]
	restoreValue(e.Arguments, orig.Arguments)
	restoreValue(e.Result, orig.Result)
	restoreValue(e.Attributes, orig.Attributes)
}

func restoreValue(v, orig *strictjson.Value) {
	if v == nil {
		return
	}
	v.Kind, v.Str = orig.Kind, orig.Str
	for i := range v.Items {
		restoreValue(&v.Items[i], &orig.Items[i])
	}
	for i := range v.Members {
		restoreValue(&v.Members[i].Value, &orig.Members[i].Value)
	}
}

func BenchmarkText(b *testing.B) {
	r, err := New(Config{}, testKeys())
	if err != nil {
		b.Fatal(err)
	}
	e := benchEvent(b, false)
	b.SetBytes(int64(len(e.Content)))
	b.ReportAllocs()
	for b.Loop() {
		r.Text(e.Content)
	}
}
