package query

import (
	"errors"
	"testing"
)

// fuzzSeeds are the SPEC §3 examples and other lines worth starting from;
// testdata/fuzz/FuzzParse holds them too.
var fuzzSeeds = []string{
	"tool:send_email",
	"status:error OR status:blocked",
	"-type:prompt   NOT type:prompt",
	"tool:send_*",
	"tool:(send_email OR exec)",
	"duration_ms:>1000   bytes:<=4096",
	`path:"/workspace/config.json"`,
	`"delayed shipment"`,
	"(type:tool_call OR type:api_call) AND -status:success",
	"attributes.model:claude-3",
	`tool:"send_*" arguments.to:support\@vendor.com`,
	`attributes.http.route:/v1/* -(a OR b c) NOT d`,
	`timestamp:>=2026-01-01 received_at:<2026-01-31T14:22:33.456Z`,
	`tool:(a OR -(b c)) usage.input_tokens:>100 result:*`,
	`a\ b\:c\*d\\ "e \" f"* -\-x`,
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	events := append(seedEvents(f), nestedEvent(f))
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Pos < 0 || qe.Pos > len(s) {
				t.Fatalf("Parse(%q): error %v is not an *Error with a position in the query", s, err)
			}
			return
		}
		norm := q.String()
		// The normal form may be longer than the query; the length limit is
		// not what this checks.
		q2, err := parse(norm, len(norm))
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q, which does not parse: %v", s, norm, err)
		}
		if got := q2.String(); got != norm {
			t.Fatalf("String() is not a fixpoint: %q -> %q -> %q", s, norm, got)
		}
		if q2.NamesType() != q.NamesType() {
			t.Fatalf("NamesType differs for %q and %q", s, norm)
		}
		for _, e := range events {
			if q.Match(e) != q2.Match(e) {
				t.Fatalf("%q and its normal form %q disagree on event %s", s, norm, e.ID)
			}
		}
		if _, err := q.SQLite(1, "acme"); err != nil {
			t.Fatalf("SQLite(%q): %v", s, err)
		}
	})
}
