package redact

import (
	"strings"
	"testing"
	"time"
)

// TestHostileInputs: texts built to make a naive scanner quadratic (many
// candidate starts in one long run, many matches, many markers) must be
// redacted in time linear in their size. The check is a ratio, not a time
// limit: 8 times the input may take at most 24 times as long (a quadratic
// scanner takes 64 times as long), the best of three runs each.
func TestHostileInputs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("slow; timing ratios mean nothing under the race detector")
	}
	r := allOn(t)
	cases := map[string]func(n int) string{
		"jwt starts":       rep("-eyJ"),
		"at signs":         rep("a@"),
		"sk- starts":       rep("sk-"),
		"url starts":       func(n int) string { return rep("a://")(n) + "@" },
		"digit groups":     rep("1 "),
		"card numbers":     rep("4111111111111111 "),
		"emails":           rep("ab1@example.com "),
		"phones":           rep("+1 415 555 0132 "),
		"bearer words":     rep("bearer "),
		"bearer tokens":    rep("Bearer Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0 "),
		"authorization":    rep("authorization: "),
		"secret labels":    func(n int) string { return rep("secret ")(n) + strings.Repeat("A", 4096) },
		"iban starts":      rep("DE89 "),
		"markers":          rep("[REDACTED:x]"),
		"marker passwords": rep("http://u:[REDACTED:x]@h "),
		"url passwords":    rep("http://u:Xk92mPq7Lw@h "),
		"pem begins":       rep("-----BEGIN PRIVATE KEY-----"),
		"distinct secrets": func(n int) string {
			var b strings.Builder
			for i := 0; b.Len() < n; i++ {
				b.WriteString("ghp_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd")
				b.WriteString(strings.Repeat(string(rune('A'+i%26)), 5))
				b.WriteString(string(rune('a'+(i/26)%26)) + " ")
			}
			return b.String()
		},
	}
	measure := func(s string) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			out, _ := r.Text(s)
			r.Text(out)
			best = min(best, time.Since(start))
		}
		return best
	}
	for name, gen := range cases {
		small, large := measure(gen(64<<10)), measure(gen(512<<10))
		ratio := float64(large) / float64(max(small, time.Microsecond))
		t.Logf("%-18s 64 KiB %v, 512 KiB %v (×%.1f)", name, small, large, ratio)
		if ratio > 24 && large > 50*time.Millisecond {
			t.Errorf("%s: 8× the input took %.1f× the time (%v → %v): not linear", name, ratio, small, large)
		}
	}
}

func rep(s string) func(n int) string {
	return func(n int) string { return strings.Repeat(s, n/len(s)) }
}
