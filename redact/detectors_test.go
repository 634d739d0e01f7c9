package redact

import (
	"strings"
	"testing"
)

// allOn is a Redactor with every detector on.
func allOn(t testing.TB) *Redactor {
	t.Helper()
	r, err := New(Config{Enable: []string{"email", "phone", "us_ssn", "iban"}}, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Fake secrets, random characters in the real formats.
const (
	fakeAnthropic = "sk-ant-api03-Xq7Lm2Pw9Rt4Vz8Kb3Nc6Hd1Jf5Gs0Ay2Bx7Cw4Dv9Eu3Ft8Gq1Hp6Io5Jn0Km4Ll"
	fakeOpenAI    = "sk-proj-Tq3vX9aLmN2pR7sK1wY5zB8cD4eF6gH0jJkLmNoPqRsT"
	fakeOpenAIOld = "sk-Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6Kl9No2Qr5Tu"
	fakeAKIA      = "AKIAQX7Z3B5N8M2K4P6R"
	fakeAWSSecret = "Zx8Cv7Bn6Mq5Wr4Et3Ty2Ui1Op0As9Df8Gh7Jk6L"
	fakeGitHub    = "ghp_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7H"
	fakeGitHubPAT = "github_pat_11ABCDEFG0123456789_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7HjKlMnBvCx"
	fakeSlack     = "xoxb-123456789012-1234567890123-Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1"
	fakeSlackHook = "T0A1B2C3D4/B9Z8Y7X6W5/Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1"
	fakeStripe    = "sk_live_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol"
	fakeGoogle    = "AIzaSyZq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8"
	fakeJWT       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.kX9mP2qL7wN3zR8tY5vB1cD4eF6gH0jJaQ"
	fakeBearer    = "Mn4Bv3Cx2Zl1Kj0Hg9Fd8Sa7Po6Iu5Yt"
	fakeClawtrail = "ct_0123456789abcdef_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7Hj6Kl5M"
	fakePEM       = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7Hj6Kl5Mn4Bv\nZq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7Hj6Kl5Mn4BvCx3Zz2Aa1Qq0Ww9Ee8\n-----END RSA PRIVATE KEY-----"
)

func TestDetectors(t *testing.T) {
	r := allOn(t)
	for _, c := range []struct{ name, in, want string }{
		// Secrets.
		{"anthropic", `export ANTHROPIC_API_KEY=` + fakeAnthropic, `export ANTHROPIC_API_KEY=[REDACTED:anthropic_key]`},
		{"openai project", `"key": "` + fakeOpenAI + `"`, `"key": "[REDACTED:openai_key]"`},
		{"openai legacy", `openai.api_key = '` + fakeOpenAIOld + `'`, `openai.api_key = '[REDACTED:openai_key]'`},
		{"openai url-encoded", `body=%22` + fakeOpenAI + `%22`, `body=%22[REDACTED:openai_key]%22`},
		{"aws key id", `aws_access_key_id=` + fakeAKIA + ` region=eu`, `aws_access_key_id=[REDACTED:aws_access_key] region=eu`},
		{"aws secret labelled", `aws_secret_access_key = ` + fakeAWSSecret, `aws_secret_access_key = [REDACTED:aws_access_key]`},
		{"aws secret json", `{"SecretAccessKey": "` + fakeAWSSecret + `"}`, `{"SecretAccessKey": "[REDACTED:aws_access_key]"}`},
		{"github", `git clone https://x:` + fakeGitHub + `@github.com/a/b`, `git clone https://x:[REDACTED:github_token]@github.com/a/b`},
		{"github pat", `GITHUB_TOKEN=` + fakeGitHubPAT, `GITHUB_TOKEN=[REDACTED:github_token]`},
		{"slack token", `token=` + fakeSlack, `token=[REDACTED:slack_token]`},
		{"slack webhook", `https://hooks.slack.com/services/` + fakeSlackHook + ` ok`, `https://hooks.slack.com/services/[REDACTED:slack_token] ok`},
		{"stripe", `stripe.api_key = "` + fakeStripe + `"`, `stripe.api_key = "[REDACTED:stripe_key]"`},
		{"stripe webhook", `whsec_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd`, `[REDACTED:stripe_key]`},
		{"google", `key=` + fakeGoogle + `&q=x`, `key=[REDACTED:google_api_key]&q=x`},
		{"jwt", `token ` + fakeJWT + `.`, `token [REDACTED:jwt]`},
		{"jwt in bearer", `Authorization: Bearer ` + fakeJWT, `Authorization: Bearer [REDACTED:jwt]`},
		{"bearer keeps the word", `Authorization: Bearer ` + fakeBearer, `Authorization: Bearer [REDACTED:bearer_token]`},
		{"bearer lower case", `"authorization": "bearer ` + fakeBearer + `"`, `"authorization": "bearer [REDACTED:bearer_token]"`},
		{"basic auth", `Authorization: Basic dXNlcjpodW50ZXIy`, `Authorization: Basic [REDACTED:bearer_token]`},
		{"url password keeps scheme and user", `postgres://app:Xk92mPq7@db:5432/x`, `postgres://app:[REDACTED:url_password]@db:5432/x`},
		{"url password empty user", `redis://:s3cretpw@cache:6379`, `redis://:[REDACTED:url_password]@cache:6379`},
		{"url password in query", `jdbc:postgresql://db/app?user=a&password=Xk92mPq7&ssl=1`, `jdbc:postgresql://db/app?user=a&password=[REDACTED:url_password]&ssl=1`},
		{"pem", "key:\n" + fakePEM + "\nend", "key:\n[REDACTED:pem_private_key]\nend"},
		{"pem without END", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B", "[REDACTED:pem_private_key]"},
		{"clawtrail", `CLAWTRAIL_KEY=` + fakeClawtrail, `CLAWTRAIL_KEY=[REDACTED:clawtrail_key]`},
		{"card spaced", `card 4111 1111 1111 1111 exp 12/28`, `card [REDACTED:card_number] exp 12/28`},
		{"card dashed", `4111-1111-1111-1111`, `[REDACTED:card_number]`},
		{"card compact", `"pan":"5500005555555559"`, `"pan":"[REDACTED:card_number]"`},
		{"card amex", `3782 822463 10005.`, `[REDACTED:card_number].`},
		// Personal data.
		{"email", `mail bob.smith+x@mail.example.org, thanks`, `mail [REDACTED:email], thanks`},
		{"phone intl", `call +44 20 7946 0958 now`, `call [REDACTED:phone] now`},
		{"phone us", `(415) 555-0132 or 415.555.0133 or 1-800-555-0199`, `[REDACTED:phone] or [REDACTED:phone] or [REDACTED:phone]`},
		{"phone national", `06 12 34 56 78 / 030 12345678`, `[REDACTED:phone] / [REDACTED:phone]`},
		{"phone e164", `tel:+14155550132`, `tel:[REDACTED:phone]`},
		{"ssn", `SSN: 123-45-6789.`, `SSN: [REDACTED:us_ssn].`},
		{"iban spaced", `IBAN DE89 3704 0044 0532 0130 00 EUR`, `IBAN [REDACTED:iban] EUR`},
		{"iban compact", `GB82WEST12345698765432`, `[REDACTED:iban]`},
	} {
		out, hits := r.Text(c.in)
		if out != c.want {
			t.Errorf("%s: Text(%q)\n = %q\nwant %q", c.name, c.in, out, c.want)
		}
		if len(hits) == 0 {
			t.Errorf("%s: no hits", c.name)
		}
	}
}

func TestDetectorsLeaveAlone(t *testing.T) {
	r := allOn(t)
	for _, in := range []string{
		"request 7c9e6679-7425-40de-944b-e07fc1f90ae7",
		"commit 3f786850e387550fdab836ed7e6dc881de23001b",
		"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"aGVsbG8gd29ybGQsIHRoaXMgaXMgb3JkaW5hcnkgdGV4dA==",
		"we use the sk-learn-compatible-estimator-interface here",
		"OPENAI_API_KEY=sk-your-key-here",
		"sk-1234 ghp_short xoxb-1",
		"card 4111 1111 1111 1112 fails the Luhn check",
		"20 digits 41111111111111111111 and 1234 4111 1111 1111 1111",
		"negative -4111111111111111",
		"version 1.2.3.4, 10.0.19045.2965, v1.2.3+20240115",
		"at 2025-03-02 10:30:00 and 2025-03-02T11:45:12.123+01:00",
		"hosts 10.0.12.7:5432 192.168.100.200",
		"the bearer of bad news",
		"Authorization: Bearer $TOKEN and Bearer <your-token>",
		"https://docs.acme.io/guide?page=2#auth http://localhost:8080/health",
		`{"url":"http://a.com:8080","owner":"x@y"}`,
		"postgres://app:${DB_PASSWORD}@db:5432/x redis://default:****@cache",
		"git@github.com:acme/tools.git",
		"@app.route('/x') @login_required icon@2x.png m.Path@m.Version npm i @types/node@20.1.0",
		"IBAN DE88 3704 0044 0532 0130 00 fails mod-97",
		"SSN 000-12-3456 666-45-1234 912-34-5678 123-00-4567 123-45-0000",
		"pk_live_Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1 is publishable",
		"key id ct_0123456789abcdef is public",
		"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
		"0000000 50 4b 03 04 14 00 00 00 08 00 08 03 64 3c f9 f4",
		"unix ms 1709374222123",
		"[REDACTED:openai_key] [REDACTED:field]",
	} {
		if out, hits := r.Text(in); out != in || hits != nil {
			t.Errorf("Text(%q) = %q %v, want it unchanged", in, out, hits)
		}
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111":    true,
		"4111 1111 1111 1111": true,
		"4111111111111112":    false,
		"378282246310005":     true,
		"6011111111111117":    true,
		"79927398713":         true,
		"79927398710":         false,
		"":                    false,
	} {
		if got := luhn(s); got != want {
			t.Errorf("luhn(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestIBANCheck(t *testing.T) {
	for s, want := range map[string]bool{
		"DE89370400440532013000":      true,
		"GB82WEST12345698765432":      true,
		"FR1420041010050500013M02606": true,
		"NL91ABNA0417164300":          true,
		"DE88370400440532013000":      false,
		"GB82WEST12345698765433":      false,
		"DE8937040044053201300!":      false,
	} {
		if got := ibanValid(s); got != want {
			t.Errorf("ibanValid(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSSNRanges(t *testing.T) {
	for _, c := range []struct {
		a, g, s string
		want    bool
	}{
		{"123", "45", "6789", true}, {"000", "45", "6789", false}, {"666", "45", "6789", false},
		{"900", "45", "6789", false}, {"999", "45", "6789", false}, {"123", "00", "6789", false},
		{"123", "45", "0000", false}, {"899", "99", "9999", true},
	} {
		if got := ssnValid(c.a, c.g, c.s); got != c.want {
			t.Errorf("ssnValid(%s-%s-%s) = %v, want %v", c.a, c.g, c.s, got, c.want)
		}
	}
}

func TestIssuer(t *testing.T) {
	for _, c := range []struct {
		n    string
		want bool
	}{
		{"4111111111111111", true}, {"4222222222222", true}, {"41111111111111111", false},
		{"5500005555555559", true}, {"2221000000000009", true}, {"378282246310005", true},
		{"3782822463100050", false}, {"36148900647913", true}, {"3530111333300000", true},
		{"6011111111111117", true}, {"1111111111111117", false}, {"9111111111111111", false},
	} {
		if got := issuer(c.n, len(c.n)); got != c.want {
			t.Errorf("issuer(%s) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestPIIOffByDefault(t *testing.T) {
	r, err := New(Config{}, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	in := "mail alice@example.com, call +1 (415) 555-0132, SSN 123-45-6789, IBAN GB82WEST12345698765432"
	if out, hits := r.Text(in); out != in || hits != nil {
		t.Errorf("default config redacted personal data: %q %v", out, hits)
	}
}

func TestOverlapsPreferSpecific(t *testing.T) {
	r := allOn(t)
	// The password of a URL is a GitHub token: the specific kind wins.
	_, hits := r.Text("https://bot:" + fakeGitHub + "@github.com/a/b.git")
	if len(hits) != 1 || hits[0].Kind != "github_token" {
		t.Errorf("hits = %v, want one github_token", hits)
	}
	// The token of a bearer header is a Slack token.
	_, hits = r.Text("Authorization: Bearer " + fakeSlack)
	if len(hits) != 1 || hits[0].Kind != "slack_token" {
		t.Errorf("hits = %v, want one slack_token", hits)
	}
}

func TestSweep(t *testing.T) {
	r := allOn(t)
	// The password found in the URL also goes from the line beside it.
	out, hits := r.Text("DB_PASSWORD=Xk92mPq7Lw3n\nDATABASE_URL=postgres://app:Xk92mPq7Lw3n@db/x")
	if strings.Contains(out, "Xk92mPq7Lw3n") || len(hits) != 1 {
		t.Errorf("Text = %q %v", out, hits)
	}
	// A short one does not (it would hit ordinary words).
	out, _ = r.Text("pw is abc, url http://u:abc@h")
	if out != "pw is abc, url http://u:[REDACTED:url_password]@h" {
		t.Errorf("Text = %q", out)
	}
}

func TestIdempotentText(t *testing.T) {
	r := allOn(t)
	in := "k=" + fakeOpenAI + " url=postgres://a:Xk92mPq7@db mail bob@example.com " + fakePEM + " Bearer " + fakeBearer
	once, _ := r.Text(in)
	twice, hits := r.Text(once)
	if twice != once || hits != nil {
		t.Errorf("Text(Text(s)) = %q %v\nwant %q", twice, hits, once)
	}
}

func TestMarkers(t *testing.T) {
	for s, want := range map[string]int{
		"[REDACTED:jwt]":   14,
		"[REDACTED:a_1]x":  14,
		"[REDACTED:]":      0,
		"[REDACTED:Upper]": 0,
		"[REDACTED:1abc]":  0,
		"[REDACTED:abc":    0,
		"[REDACTED:" + strings.Repeat("a", 64) + "]": 75,
		"[REDACTED:" + strings.Repeat("a", 65) + "]": 0,
	} {
		if got := markerLen(s); got != want {
			t.Errorf("markerLen(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestLongTokens(t *testing.T) {
	r := allOn(t)
	// A match longer than any first window is found whole.
	long := "eyJhbGciOiJSUzI1NiJ9.eyJ" + strings.Repeat("QUJD", 600) + "." + strings.Repeat("x", 342)
	out, _ := r.Text("t=" + long + " end")
	if out != "t=[REDACTED:jwt] end" {
		t.Errorf("long jwt: %q", out[:min(len(out), 80)])
	}
	key := "sk-proj-" + strings.Repeat("Ab1", 200)
	if out, _ := r.Text(key); out != "[REDACTED:openai_key]" {
		t.Errorf("long key: %q", out[:min(len(out), 80)])
	}
}
