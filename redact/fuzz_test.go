package redact

import (
	"strings"
	"testing"

	clawtrail "github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// FuzzText checks, for any text: no panic; every secret found of minSweep
// bytes or more is gone from the output (each place it still occurs lies in
// a [REDACTED:...] marker); and redacting the output again changes nothing.
func FuzzText(f *testing.F) {
	for _, s := range append(loadCorpus(f, "testdata/corpus.jsonl"), loadCorpus(f, "testdata/holdout.jsonl")...) {
		f.Add(s.Text)
	}
	for _, s := range []string{
		fakeAnthropic, fakeOpenAI, fakeOpenAIOld, fakeAKIA, "aws_secret_access_key=" + fakeAWSSecret, fakeGitHub, fakeGitHubPAT,
		fakeSlack, "https://hooks.slack.com/services/" + fakeSlackHook, fakeStripe, fakeGoogle, fakeJWT, "Bearer " + fakeBearer,
		"postgres://u:Xk92mPq7Lw@h", fakePEM, fakeClawtrail, "4111 1111 1111 1111", "bob@example.com", "+1 (415) 555-0132",
		"123-45-6789", "DE89 3704 0044 0532 0130 00", "[REDACTED:jwt]", "http://u:[REDACTED:x]@h", "x" + fakeGitHub + "y",
		"Xk92mPq7Lw http://a:Xk92mPq7Lw@b Xk92mPq7Lw", "INTERNAL_PASSWORD=hunter2x", "EMP-04217",
	} {
		f.Add(s)
	}
	r, err := New(Config{
		Enable: []string{"email", "phone", "us_ssn", "iban"},
		Patterns: []Pattern{
			{Name: "internal_pw", Regex: `(?i)internal[_ ]password\s*=\s*(?P<secret>\S+)`},
			{Name: "employee_id", Regex: `EMP-(?P<secret>[0-9]{5})`},
		},
	}, testKeys())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, hits := r.Text(s)
		for _, h := range hits {
			if h.Value == "" || h.Kind == "" {
				t.Fatalf("empty hit %+v", h)
			}
			if len(h.Value) >= minSweep && occursOutsideMarkers(out, h.Value) {
				t.Fatalf("Text(%q) = %q still holds %s %q", s, out, h.Kind, h.Value)
			}
		}
		if len(hits) == 0 && out != s {
			t.Fatalf("Text(%q) = %q with no hits", s, out)
		}
		again, more := r.Text(out)
		if again != out || len(more) > 0 {
			t.Fatalf("not idempotent:\n in    %q\n once  %q\n twice %q %v", s, out, again, more)
		}
	})
}

// occursOutsideMarkers reports whether v occurs in s somewhere that does
// not overlap a [REDACTED:...] marker.
func occursOutsideMarkers(s, v string) bool {
	marks := markers(s)
	for off := 0; ; {
		i := strings.Index(s[off:], v)
		if i < 0 {
			return false
		}
		i += off
		inside := false
		for _, m := range marks {
			if i < m[1] && m[0] < i+len(v) {
				inside = true
			}
		}
		if !inside {
			return true
		}
		off = i + 1
	}
}

// FuzzEvent checks Event on an event whose fields hold the fuzzed text:
// no panic; redacting twice gives what redacting once gave; no secret of
// minSweep bytes or more that a Redaction names is left in the encoding.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{fakeOpenAI, "postgres://u:Xk92mPq7Lw@h Xk92mPq7Lw", "4111111111111111", "bob@example.com x", fakePEM} {
		f.Add(s, s)
	}
	r, err := New(Config{
		Enable: []string{"email", "phone", "us_ssn", "iban"},
		Fields: []FieldRule{{"user_id", "hmac"}, {"arguments.to", "mask"}, {"attributes.list.x", "hmac"}},
	}, testKeys())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		obj := func(m ...strictjson.Member) *strictjson.Value {
			return &strictjson.Value{Kind: strictjson.Object, Members: m}
		}
		str := strictjson.StringValue
		e := &clawtrail.Event{Type: "x", Content: a, Error: b, UserID: a,
			Arguments:  obj(strictjson.Member{Key: "to", Value: str(a)}, strictjson.Member{Key: "b", Value: str(b)}),
			Result:     &strictjson.Value{Kind: strictjson.Array, Items: []strictjson.Value{str(a), {Kind: strictjson.Number, Str: "4111111111111111"}}},
			Attributes: obj(strictjson.Member{Key: "list", Value: strictjson.Value{Kind: strictjson.Array, Items: []strictjson.Value{*obj(strictjson.Member{Key: "x", Value: str(b)})}}}),
		}
		hits := map[string]bool{}
		for _, s := range []string{a, b} {
			_, hs := r.Text(s)
			for _, h := range hs {
				if len(h.Value) >= minSweep {
					hits[h.Value] = true
				}
			}
		}
		r.Event(e)
		once := string(e.AppendJSON(nil))
		r.Event(e)
		if twice := string(e.AppendJSON(nil)); twice != once {
			t.Fatalf("Event twice differs:\n%s\n%s", once, twice)
		}
		// The secrets found in a and b are gone from the scanned fields.
		var texts []string
		texts = append(texts, e.Content, e.Error)
		for _, m := range e.Arguments.Members {
			texts = append(texts, m.Value.Str)
		}
		for v := range hits {
			for _, s := range texts {
				if occursOutsideMarkers(s, v) {
					t.Fatalf("%q left in %q", v, s)
				}
			}
		}
	})
}
