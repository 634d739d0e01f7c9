// Package redact finds secrets and personal data in audit events and
// replaces them with [REDACTED:kind] before anything is stored. Each
// replacement is recorded on the event as a Redaction: the rule that fired,
// the field, and a keyed fingerprint of the value, so that whoever holds a
// value can tell whether it was redacted (clawtrail hash) while the log never
// holds the value itself.
//
// # Detectors
//
// On by default (secrets):
//
//	anthropic_key    sk-ant-...
//	openai_key       sk-proj-..., sk-svcacct-..., sk-admin-..., legacy sk-<48 letters and digits>
//	aws_access_key   AKIA/ASIA... key ids; secret access keys where labelled (aws_secret_access_key=..., "SecretAccessKey": ...)
//	github_token     ghp_, gho_, ghu_, ghs_, ghr_, github_pat_
//	slack_token      xoxb-/xoxp-/... tokens, xapp- tokens, webhook URLs (only the path after hooks.slack.com/services/)
//	stripe_key       sk_live_, rk_live_, sk_test_, rk_test_, whsec_ (not the publishable pk_)
//	google_api_key   AIza... keys, GOCSPX- OAuth client secrets, ya29. access tokens
//	jwt              eyJ<header>.eyJ<payload>.<signature>
//	bearer_token     the token of "Bearer <token>" (16+ characters, not a word or a $VARIABLE),
//	                 and the credential of an Authorization: Basic/Token/Bearer header
//	url_password     the password of scheme://user:password@host, and password= in a URL's query
//	pem_private_key  -----BEGIN ... PRIVATE KEY----- blocks, to the END line or the end of the text
//	clawtrail_key    ct_<16 hex>_<secret>
//	card_number      13 to 19 digits, optionally grouped by spaces or dashes, with a card
//	                 network's prefix and length, passing the Luhn check, not part of a longer number
//
// Off by default (personal data; a tenant turns them on with Config.Enable):
//
//	email            addresses (not git@host:path, file@2x.png, or user:password@ in a URL)
//	phone            +CC international numbers, US (415) 555-0132 / 415-555-0132 / 1-800-555-0199,
//	                 European national numbers (020 7946 0958, 06 12 34 56 78, 030 12345678);
//	                 not versions, dates, times, IPs, hex dumps or numbers inside longer ones
//	us_ssn           AAA-GG-SSSS, without area 000, 666 or 9xx, group 00 or serial 0000
//	iban             country, check digits and account, compact or in groups of four, of the
//	                 registry length for the country, passing the mod-97 check
//
// Kinds lists them. A match is kept minimal: url_password replaces the
// password only (postgres://app:[REDACTED:url_password]@db), bearer_token
// keeps the scheme word (Bearer [REDACTED:bearer_token]), slack webhooks keep
// the host. Where matches overlap, a specific kind (a key format, a custom
// pattern) wins over a generic one (bearer_token, url_password), which wins
// over personal data; then the longer match wins. Nothing inside an
// existing [REDACTED:name] marker is matched, and redaction runs until
// nothing more is found, so redacting redacted text changes nothing. A
// secret of 8 bytes or more, once found, is also replaced wherever else it
// occurs in the text (or the event), even where its detector would not
// recognise it: the password of a URL also goes from the DB_PASSWORD= line
// beside it (this sweep covers the first 64 such secrets of a text or an
// event).
//
// Speed: one pass over each text looks for the detectors' keywords and
// digit runs; only the detectors whose keyword occurs run, and their
// regexps run anchored where a match can start, on a window that just holds
// it. A text without secrets costs that one pass and no allocation. The
// work on any text stays proportional to its length: a text built to make
// the anchored tries quadratic exhausts a budget, and the rest of it gets
// one unanchored (linear-time) search.
//
// # Configuration
//
// A Config is the server's default merged with a tenant's (Config.Merge:
// lists appended; a kind the tenant enables leaves the disabled list and
// vice versa; a tenant's field rule replaces the default's rule on the same
// field). New validates it, naming every problem:
//
//	enable:   [email, phone]          # detector kinds to turn on
//	disable:  [card_number]           # detector kinds to turn off
//	patterns:                         # custom detectors; a match becomes [REDACTED:<name>]
//	  - name: acme_ticket             # ^[a-z][a-z0-9_]{0,63}$, not a built-in kind
//	    regex: 'ACME-[0-9]{6}'        # RE2; if it has a group named "secret", only the group is replaced
//	fields:                           # field rules, applied before the detectors
//	  - {field: user_id, action: hmac}
//	  - {field: arguments.to, action: mask}
//	  - {field: attributes.customer, action: drop}
//
// Field rule actions: drop removes the field (a top-level string field
// becomes ""), mask replaces the value, whatever it is, with
// "[REDACTED:field]", hmac replaces each string, number (by its canonical
// text) and bool with Pseudonym(keys.Pseudonym, value): "hmac:" and 32 hex
// digits, the same for the same value, so equality search still works
// (FieldPseudonym tells a query layer which fields to pseudonymise). A rule
// records Redaction{Rule: "field:<action>", Field: path, Fingerprint} with
// the fingerprint of the value it replaced (a string as is, a number in
// canonical form, an object or array as canonical JSON). The fields a rule
// can name: the top-level string fields (user_id, session_id, agent_id,
// channel, content, error, reason, endpoint, path, destination, approver,
// model, tool, status, method, operation, decision, trace_id, span_id,
// parent_id), and arguments, result, usage, attributes or dotted paths into
// them (arguments.to, attributes.customer.email); a path that meets an array
// goes into each of its elements. id, seq, tenant_id, type, timestamp,
// received_at, key_id and redactions cannot be redacted; arguments, usage
// and attributes can be dropped but not masked as a whole (they must stay
// objects).
//
// Keys are per tenant, 32 bytes or more: one for fingerprints (Fingerprint:
// HMAC-SHA256 of "clawtrail/fingerprint/v1\x00" + value, first 16 bytes in
// hex), one for pseudonyms.
//
// # Events and field paths
//
// Redactor.Event applies the field rules, then the detectors to content,
// arguments, result, error, destination, endpoint, path, reason and attributes: every
// string at any depth of arguments, result and attributes (and every number,
// for card numbers), never object keys. The Field of a detector's Redaction
// is the JSON path of the value: the top-level field's name, then ".key" for
// an object member and "[i]" for an array item — content,
// arguments.headers.Authorization, result[2].text, attributes.list[0][1]. A
// key that is not made only of letters, digits, '_', '-' and non-ASCII
// characters is written as a JSON string in brackets: attributes["a.b"]["x
// y"]. Field rules are configured with dotted paths without indexes; the
// Redactions they record use the same path syntax, with the indexes of the
// elements they reached. Redactions come in a deterministic order (field
// rules in their order, then the fields above in that order, members and
// items in their order, matches in text order) and each (rule, field,
// fingerprint) once.
package redact
