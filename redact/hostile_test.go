package redact

import (
	"strings"
	"testing"
	"time"
)

// TestHostileInputs: texts built to make a naive scanner quadratic (many
// candidate starts in one long run, many matches, many markers) are
// redacted in time proportional to their size.
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	r := allOn(t)
	const n = 1 << 20
	rep := func(s string) string { return strings.Repeat(s, n/len(s)) }
	for name, s := range map[string]string{
		"jwt starts":       rep("-eyJ"),
		"at signs":         rep("a@"),
		"sk- starts":       rep("sk-"),
		"url starts":       rep("a://") + "@",
		"digit groups":     rep("1 "),
		"card numbers":     rep("4111111111111111 "),
		"emails":           rep("ab1@example.com "),
		"phones":           rep("+1 415 555 0132 "),
		"bearer words":     rep("bearer "),
		"bearer tokens":    rep("Bearer Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0 "),
		"authorization":    rep("authorization: "),
		"secret labels":    rep("secret ") + rep("A")[:4096],
		"iban starts":      rep("DE89 "),
		"markers":          rep("[REDACTED:x]"),
		"marker passwords": rep("http://u:[REDACTED:x]@h "),
		"url passwords":    rep("http://u:Xk92mPq7Lw@h "),
		"pem begins":       rep("-----BEGIN PRIVATE KEY-----"),
		"distinct secrets": func() string {
			var b strings.Builder
			for i := 0; b.Len() < n; i++ {
				b.WriteString("ghp_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd")
				b.WriteString(strings.Repeat(string(rune('A'+i%26)), 5))
				b.WriteString(string(rune('a'+(i/26)%26)) + " ")
			}
			return b.String()
		}(),
	} {
		start := time.Now()
		out, _ := r.Text(s)
		r.Text(out)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: %v for 1 MiB", name, d)
		} else {
			t.Logf("%-18s %v", name, d)
		}
	}
}
