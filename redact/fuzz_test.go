package redact

import (
	"strings"
	"testing"
)

// FuzzText checks, for any text: no panic; every secret found of minSweep
// bytes or more is gone from the output (each place it still occurs lies in
// a [REDACTED:...] marker); and redacting the output again changes nothing.
func FuzzText(f *testing.F) {
	for _, s := range loadCorpus(f) {
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
