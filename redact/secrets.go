// Package redact finds secrets in text and replaces them with
// [REDACTED:kind] before anything is stored. This is its first part: the
// secret detectors the server applies to the text it writes itself (the
// query of an access record). Per-tenant rules, personal-data detectors and
// keyed fingerprints come with data protection (issue 5).
package redact

import (
	"regexp"
	"strings"
)

type detector struct {
	kind string
	re   *regexp.Regexp
}

// detectors, most specific first. Each regexp matches the secret itself.
var detectors = []detector{
	{"pem_private_key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`)},
	{"clawtrail_key", regexp.MustCompile(`\bct_[0-9a-f]{16}_[A-Za-z0-9_-]{20,}`)},
	{"anthropic_key", regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`)},
	{"openai_key", regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`)},
	{"aws_access_key", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"github_token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})`)},
	{"slack_token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"stripe_key", regexp.MustCompile(`\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}`)},
	{"google_api_key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"jwt", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
	{"bearer_token", regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}`)},
	{"url_password", regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
}

// Secrets replaces every secret found in s with [REDACTED:kind] and
// returns the kinds found (in the order of the detectors).
func Secrets(s string) (string, []string) {
	var kinds []string
	for _, d := range detectors {
		if !d.re.MatchString(s) {
			continue
		}
		kinds = append(kinds, d.kind)
		if d.kind == "url_password" {
			// Keep the scheme and user: redact the password only.
			s = d.re.ReplaceAllStringFunc(s, func(m string) string {
				i := strings.LastIndex(m[:len(m)-1], ":")
				return m[:i+1] + "[REDACTED:url_password]@"
			})
			continue
		}
		s = d.re.ReplaceAllString(s, "[REDACTED:"+d.kind+"]")
	}
	return s, kinds
}
