package ingest

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

var fixedNow = time.Date(2026, 1, 31, 14, 30, 0, 0, time.UTC)

func newDecoder() *Decoder {
	return &Decoder{Limits: DefaultLimits(), Now: func() time.Time { return fixedNow }}
}

// The guide's five example objects are accepted verbatim, and stored as
// they were sent (the stored body re-decodes to the same fields).
func TestSeedExamplesVerbatim(t *testing.T) {
	data, err := os.ReadFile("../testdata/seed-examples.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	events, err := newDecoder().Decode(data, true)
	if err != nil || len(events) != 5 {
		t.Fatalf("Decode = %d events, %v", len(events), err)
	}
	tc := events[1].Event
	if tc.Tool != "send_email" || *tc.DurationMS != 892 || tc.Status != "success" || tc.SessionID != "sess_abc123" {
		t.Fatalf("tool call decoded as %+v", tc)
	}
	if to, _ := tc.Arguments.Get("to"); to.Str != "support@vendor.com" {
		t.Fatalf("arguments.to = %v", to)
	}
	if api := events[3].Event; *api.StatusCode != 200 || api.Destination != "api.anthropic.com" {
		t.Fatalf("api call decoded as %+v", api)
	}
	for i, p := range events {
		if p.Event.ID == "" || p.Line != i+1 {
			t.Fatalf("event %d: id %q line %d", i, p.Event.ID, p.Line)
		}
		p.Event.Seq = int64(i)
		body := p.Event.AppendJSON(nil)
		back, err := clawtrail.ParseEvent(body)
		if err != nil {
			t.Fatalf("stored body %s does not parse: %v", body, err)
		}
		if again := back.AppendJSON(nil); string(again) != string(body) {
			t.Fatalf("body is not stable:\n%s\n%s", body, again)
		}
	}
}

func TestIdempotencyHashIsCanonical(t *testing.T) {
	d := newDecoder()
	a, _ := d.Decode([]byte(`{"id":"x","type":"prompt","arguments":{"b":1,"a":2.0}}`), false)
	b, _ := d.Decode([]byte(` { "arguments" : {"a":2, "b":1.0}, "type":"prompt", "id":"x" } `), false)
	c, _ := d.Decode([]byte(`{"id":"x","type":"prompt","arguments":{"b":1,"a":3}}`), false)
	if a[0].ReqHash != b[0].ReqHash {
		t.Error("the same event with reordered keys and equivalent numbers hashes differently")
	}
	if a[0].ReqHash == c[0].ReqHash {
		t.Error("different bodies hash the same")
	}
}

func TestDefaultsAndSkew(t *testing.T) {
	events, err := newDecoder().Decode([]byte(`[{"type":"prompt"},{"type":"prompt","timestamp":"2026-01-31T14:30:00+02:00"},{"type":"prompt","timestamp":"2026-01-31T14:29:00Z","attributes":{"k":"v"}}]`), false)
	if err != nil {
		t.Fatal(err)
	}
	if !events[0].Event.Timestamp.Equal(fixedNow) {
		t.Errorf("default timestamp = %v, want the receive time", events[0].Event.Timestamp)
	}
	if e := events[1].Event; e.Timestamp.Location() != time.UTC || e.Attributes != nil {
		t.Errorf("+02:00 timestamp: %v, attributes %v (2 h of skew is within 24 h)", e.Timestamp, e.Attributes)
	}
	d := newDecoder()
	d.Limits.MaxClockSkew = 30 * time.Second
	events, _ = d.Decode([]byte(`{"type":"prompt","timestamp":"2026-01-31T14:29:00Z","attributes":{"k":"v"}}`), false)
	body := string(events[0].Event.AppendJSON(nil))
	if !strings.Contains(body, `"attributes":{"clock_skew_ms":-60000,"k":"v"}`) {
		t.Errorf("skewed event body = %s", body)
	}
}

func TestUnknownFieldsMoveToAttributes(t *testing.T) {
	events, err := newDecoder().Decode([]byte(`{"type":"prompt","custom":{"x":1},"attributes":{"y":2}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if body := string(events[0].Event.AppendJSON(nil)); !strings.Contains(body, `"attributes":{"custom":{"x":1},"y":2}`) {
		t.Fatalf("body = %s", body)
	}
}

func TestReadBodyLimits(t *testing.T) {
	if _, err := ReadBody(strings.NewReader(strings.Repeat("x", 11)), "", 10); !errors.Is(err, clawtrail.ErrTooLarge) {
		t.Errorf("11 bytes over a limit of 10: %v", err)
	}
	if _, err := ReadBody(strings.NewReader("x"), "br", 10); !errors.Is(err, clawtrail.ErrInvalid) {
		t.Errorf("unsupported encoding: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	seed, _ := os.ReadFile("../testdata/seed-examples.jsonl")
	f.Add(seed, true)
	f.Add([]byte(`[{"type":"prompt","arguments":{"a":[1,{"b":null}]}}]`), false)
	f.Add([]byte(`{"type":"tool_call","duration_ms":1e3,"tokens_used":-0,"x":"\u00e9"}`), false)
	f.Fuzz(func(t *testing.T, data []byte, ndjson bool) {
		events, err := newDecoder().Decode(data, ndjson)
		if err != nil {
			var inv *clawtrail.InvalidError
			if !errors.As(err, &inv) || len(inv.Details) == 0 && !strings.Contains(inv.Message, "empty") {
				t.Fatalf("error %v is not an InvalidError naming what is wrong", err)
			}
			return
		}
		for _, p := range events {
			e := p.Event
			if e.Type == "" || clawtrail.ReservedType(e.Type) || !clawtrail.ValidID(e.ID) {
				t.Fatalf("accepted an invalid event %+v", e)
			}
			e.Seq = 1
			body := e.AppendJSON(nil)
			back, err := clawtrail.ParseEvent(body)
			if err != nil {
				t.Fatalf("stored body %q does not parse: %v", body, err)
			}
			if again := back.AppendJSON(nil); string(again) != string(body) {
				t.Fatalf("stored body is not stable:\n%q\n%q", body, again)
			}
			if _, err := strictjson.Parse(body); err != nil {
				t.Fatal(err)
			}
		}
	})
}
