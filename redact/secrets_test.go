package redact

import (
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	for _, c := range []struct{ in, kind, keep string }{
		{`"sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123"`, "anthropic_key", `"`},
		{`key:sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX`, "openai_key", "key:"},
		{`AKIAIOSFODNN7EXAMPLE leaked`, "aws_access_key", " leaked"},
		{`ghp_0123456789abcdefghijklmnopqrstuvwxyzAB`, "github_token", ""},
		{`xoxb-1234567890-abcdefghij`, "slack_token", ""},
		{`sk_live_0123456789abcdefABCD`, "stripe_key", ""},
		{`AIzaSyA0123456789abcdefghijklmnopqrstuv`, "google_api_key", ""},
		{`eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U`, "jwt", ""},
		{`Authorization: Bearer abcdefghijklmnop1234`, "bearer_token", "Authorization: "},
		{`postgres://app:hunter2secret@db:5432/x`, "url_password", "postgres://app:"},
		{`ct_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`, "clawtrail_key", ""},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "pem_private_key", ""},
	} {
		out, kinds := Secrets(c.in)
		if len(kinds) == 0 || kinds[0] != c.kind || !strings.Contains(out, "[REDACTED:"+c.kind+"]") || !strings.Contains(out, c.keep) {
			t.Errorf("Secrets(%q) = %q %v, want kind %s", c.in, out, kinds, c.kind)
		}
	}
	for _, clean := range []string{`tool:send_email AND user:alice`, `"delayed shipment"`, `sk-short`, `bearer of bad news`} {
		if out, kinds := Secrets(clean); out != clean || kinds != nil {
			t.Errorf("Secrets(%q) = %q %v, want it unchanged", clean, out, kinds)
		}
	}
}
