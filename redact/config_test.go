package redact

import (
	"reflect"
	"strings"
	"testing"
)

func TestNewErrors(t *testing.T) {
	k := testKeys()
	for _, c := range []struct {
		name string
		cfg  Config
		keys Keys
		want []string
	}{
		{"unknown kind", Config{Enable: []string{"emial"}}, k,
			[]string{`enable: unknown detector kind "emial" (known kinds: anthropic_key, openai_key,`, `iban)`}},
		{"unknown kind in disable", Config{Disable: []string{"jwts"}}, k,
			[]string{`disable: unknown detector kind "jwts"`}},
		{"enabled and disabled", Config{Enable: []string{"email"}, Disable: []string{"email"}}, k,
			[]string{`detector kind "email" is both enabled and disabled`}},
		{"bad regex", Config{Patterns: []Pattern{{Name: "x", Regex: "a(b"}}}, k,
			[]string{`pattern "x": bad regex: error parsing regexp: missing closing ): ` + "`a(b`"}},
		{"empty regex", Config{Patterns: []Pattern{{Name: "x", Regex: ""}}}, k,
			[]string{`pattern "x": empty regex`}},
		{"regex matching nothing", Config{Patterns: []Pattern{{Name: "x", Regex: "a*"}}}, k,
			[]string{`pattern "x": regex matches the empty string`}},
		{"bad pattern name", Config{Patterns: []Pattern{{Name: "Bad-Name", Regex: "a"}}}, k,
			[]string{`pattern 1: bad name "Bad-Name" (want ^[a-z][a-z0-9_]{0,63}$)`}},
		{"pattern named like a built-in", Config{Patterns: []Pattern{{Name: "email", Regex: "a"}}}, k,
			[]string{`pattern "email": the name is taken by a built-in kind`}},
		{"pattern named field", Config{Patterns: []Pattern{{Name: "field", Regex: "a"}}}, k,
			[]string{`pattern "field": the name is taken`}},
		{"unknown action", Config{Fields: []FieldRule{{"user_id", "mask"}, {"agent_id", "drop"}, {"arguments.to", "hash"}}}, k,
			[]string{`field rule 3: unknown action "hash" (want drop, mask or hmac)`}},
		{"empty field", Config{Fields: []FieldRule{{"", "drop"}}}, k,
			[]string{`field rule 1: field "" is empty`}},
		{"empty segment", Config{Fields: []FieldRule{{"arguments..to", "drop"}}}, k,
			[]string{`field rule 1: field "arguments..to" has an empty path segment`}},
		{"kept field", Config{Fields: []FieldRule{{"seq", "mask"}}}, k,
			[]string{`field rule 1: field "seq" cannot be redacted (id, seq, tenant_id, type, timestamp, received_at, key_id, redactions are kept as they are)`}},
		{"number field", Config{Fields: []FieldRule{{"tokens_used", "drop"}}}, k,
			[]string{`field rule 1: field "tokens_used" cannot be redacted (a number;`}},
		{"unknown field", Config{Fields: []FieldRule{{"usr_id", "drop"}}}, k,
			[]string{`field rule 1: unknown field "usr_id" (want one of agent_id, approver,`, `or a path into arguments, result, usage or attributes)`}},
		{"member of a string", Config{Fields: []FieldRule{{"content.x", "drop"}}}, k,
			[]string{`field rule 1: field "content.x": content is a string and has no members`}},
		{"mask a whole object", Config{Fields: []FieldRule{{"arguments", "mask"}}}, k,
			[]string{`field rule 1: cannot mask "arguments" as a whole (it must stay an object)`}},
		{"duplicate field", Config{Fields: []FieldRule{{"arguments.to", "mask"}, {"arguments.to", "hmac"}}}, k,
			[]string{`field rule 2: field "arguments.to" already has a rule (field rule 1)`}},
		{"short keys", Config{}, Keys{Fingerprint: []byte("short"), Pseudonym: make([]byte, 31)},
			[]string{`fingerprint key is 5 bytes, want at least 32`, `pseudonym key is 31 bytes, want at least 32`}},
		{"no keys", Config{}, Keys{}, []string{`fingerprint key is 0 bytes`}},
		{"every problem", Config{Enable: []string{"emial"}, Fields: []FieldRule{{"id", "drop"}}}, k,
			[]string{`unknown detector kind "emial"`, `field rule 1: field "id" cannot be redacted`}},
	} {
		r, err := New(c.cfg, c.keys)
		if err == nil {
			t.Errorf("%s: New succeeded", c.name)
			continue
		}
		if r != nil {
			t.Errorf("%s: New returned a Redactor with its error", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q\ndoes not contain %q", c.name, err, w)
			}
		}
	}
}

func TestNewValid(t *testing.T) {
	cfg := Config{
		Enable:   []string{"email", "jwt"},
		Disable:  []string{"card_number"},
		Patterns: []Pattern{{Name: "acme_ticket", Regex: `ACME-[0-9]{6}`}, {Name: "acme_ticket", Regex: `TKT-[0-9]{6}`}},
		Fields: []FieldRule{{"user_id", "hmac"}, {"arguments.to", "hmac"}, {"result", "mask"}, {"attributes", "drop"},
			{"usage.input_tokens", "mask"}, {"attributes.customer.email", "drop"}},
	}
	r, err := New(cfg, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{"user_id": true, "arguments.to": true, "result": false, "arguments": false, "arguments.to.x": false} {
		if got := r.FieldPseudonym(f); got != want {
			t.Errorf("FieldPseudonym(%q) = %v, want %v", f, got, want)
		}
	}
	out, _ := r.Text("card 4111 1111 1111 1111 ACME-123456 TKT-654321 bob@example.com")
	if want := "card 4111 1111 1111 1111 [REDACTED:acme_ticket] [REDACTED:acme_ticket] [REDACTED:email]"; out != want {
		t.Errorf("Text = %q, want %q", out, want)
	}
}

func TestCustomPatterns(t *testing.T) {
	r, err := New(Config{Patterns: []Pattern{
		{Name: "acme_token", Regex: `acme_tok_[a-z0-9]{12}`},                             // literal prefix
		{Name: "internal_pw", Regex: `(?i)\binternal[_ ]password\s*=\s*(?P<secret>\S+)`}, // secret group, no prefix
		{Name: "employee_id", Regex: `\bEMP-(?P<secret>[0-9]{5})\b`},                     // secret group, required literal
	}}, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"use acme_tok_ab12cd34ef56 now":    "use [REDACTED:acme_token] now",
		"INTERNAL_PASSWORD = hunter2x; ok": "INTERNAL_PASSWORD = [REDACTED:internal_pw] ok",
		"badge EMP-04217 at desk":          "badge EMP-[REDACTED:employee_id] at desk",
		"EMP-1234 too short":               "EMP-1234 too short",
		"acme_tok_short":                   "acme_tok_short",
	} {
		out, hits := r.Text(in)
		if out != want {
			t.Errorf("Text(%q) = %q, want %q", in, out, want)
		}
		if out != in && (len(hits) != 1 || strings.Contains(out, hits[0].Value)) {
			t.Errorf("Text(%q): hits %v", in, hits)
		}
	}
	// Idempotent too.
	once, _ := r.Text("INTERNAL_PASSWORD = hunter2x")
	if twice, hits := r.Text(once); twice != once || hits != nil {
		t.Errorf("custom pattern not idempotent: %q -> %q %v", once, twice, hits)
	}
}

func TestMerge(t *testing.T) {
	base := Config{
		Enable:   []string{"email", "phone"},
		Disable:  []string{"card_number", "jwt"},
		Patterns: []Pattern{{Name: "a", Regex: "A"}},
		Fields:   []FieldRule{{"user_id", "hmac"}, {"arguments.to", "mask"}},
	}
	over := Config{
		Enable:   []string{"jwt", "iban"},
		Disable:  []string{"phone"},
		Patterns: []Pattern{{Name: "b", Regex: "B"}},
		Fields:   []FieldRule{{"arguments.to", "hmac"}, {"result", "drop"}},
	}
	got := base.Merge(over)
	want := Config{
		Enable:   []string{"email", "jwt", "iban"},
		Disable:  []string{"card_number", "phone"},
		Patterns: []Pattern{{Name: "a", Regex: "A"}, {Name: "b", Regex: "B"}},
		Fields:   []FieldRule{{"user_id", "hmac"}, {"arguments.to", "hmac"}, {"result", "drop"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := New(got, testKeys()); err != nil {
		t.Errorf("merged config: %v", err)
	}
	// Merge does not touch its inputs.
	if base.Enable[1] != "phone" || len(base.Disable) != 2 || base.Fields[1].Action != "mask" {
		t.Errorf("Merge modified its receiver: %+v", base)
	}
	// Nothing over nothing is nothing.
	if got := (Config{}).Merge(Config{}); !reflect.DeepEqual(got, Config{}) {
		t.Errorf("empty Merge = %+v", got)
	}
}

func TestKinds(t *testing.T) {
	ks := Kinds()
	if len(ks) != numBuiltin {
		t.Fatalf("%d kinds, want %d", len(ks), numBuiltin)
	}
	def := map[string]bool{}
	for _, k := range ks {
		def[k.Kind] = k.Default
		if k.Default == k.PII || k.Description == "" {
			t.Errorf("kind %+v", k)
		}
	}
	for _, k := range []string{"anthropic_key", "openai_key", "aws_access_key", "github_token", "slack_token", "stripe_key",
		"google_api_key", "jwt", "bearer_token", "url_password", "pem_private_key", "clawtrail_key", "card_number"} {
		if on, ok := def[k]; !ok || !on {
			t.Errorf("%s: known %v, default %v; want on by default", k, ok, on)
		}
	}
	for _, k := range []string{"email", "phone", "us_ssn", "iban"} {
		if on, ok := def[k]; !ok || on {
			t.Errorf("%s: known %v, default %v; want off by default", k, ok, on)
		}
	}
}

func TestDisable(t *testing.T) {
	r, err := New(Config{Disable: []string{"card_number", "jwt"}}, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	in := "4111 1111 1111 1111 " + fakeJWT + " " + fakeGitHub
	out, _ := r.Text(in)
	if want := "4111 1111 1111 1111 " + fakeJWT + " [REDACTED:github_token]"; out != want {
		t.Errorf("Text = %q, want %q", out, want)
	}
}

func TestKeysCopied(t *testing.T) {
	k := testKeys()
	r, err := New(Config{}, k)
	if err != nil {
		t.Fatal(err)
	}
	before := r.Fingerprint("x")
	k.Fingerprint[0] ^= 0xff
	if r.Fingerprint("x") != before {
		t.Error("the Redactor uses the caller's key slice")
	}
}

func TestFingerprints(t *testing.T) {
	k := testKeys()
	r, err := New(Config{}, k)
	if err != nil {
		t.Fatal(err)
	}
	fp := r.Fingerprint(fakeOpenAI)
	if fp != Fingerprint(k.Fingerprint, fakeOpenAI) || fp != r.Fingerprint(fakeOpenAI) {
		t.Error("fingerprints are not deterministic")
	}
	if len(fp) != 32 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("fingerprint %q: want 32 lower-case hex digits", fp)
	}
	other := Keys{Fingerprint: []byte("another-fingerprint-key-012345678"), Pseudonym: k.Pseudonym}
	r2, _ := New(Config{}, other)
	if r2.Fingerprint(fakeOpenAI) == fp {
		t.Error("a different key gives the same fingerprint")
	}
	if r.Fingerprint(fakeOpenAI+"x") == fp {
		t.Error("a different value gives the same fingerprint")
	}
	// The fingerprint is not the pseudonym, even with the same key.
	if "hmac:"+Fingerprint(k.Pseudonym, "v") == Pseudonym(k.Pseudonym, "v") {
		t.Error("fingerprint and pseudonym are the same function")
	}
	// Known answers (computed with Python's hmac module).
	key := []byte("0123456789abcdef0123456789abcdef")
	if got := Fingerprint(key, "secret"); got != "4c83f742b21dbf8e36dbfe60b8428909" {
		t.Errorf("Fingerprint known answer = %s", got)
	}
	if got := Pseudonym(key, "alice"); got != "hmac:433deb45467e4e53dbaba594c88bc3a2" {
		t.Errorf("Pseudonym known answer = %s", got)
	}
	p := r.Pseudonym("alice")
	if p != Pseudonym(k.Pseudonym, "alice") || !isPseudonym(p) {
		t.Errorf("Redactor.Pseudonym = %q", p)
	}
}
