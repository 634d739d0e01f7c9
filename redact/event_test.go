package redact

import (
	"reflect"
	"strings"
	"testing"

	clawtrail "github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// parseEvent decodes a client event.
func parseEvent(t testing.TB, body string) *clawtrail.Event {
	t.Helper()
	v, err := strictjson.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e, errs := clawtrail.DecodeEvent(&v, false)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return e
}

func encode(e *clawtrail.Event) string { return string(e.AppendJSON(nil)) }

func newRedactor(t testing.TB, c Config) *Redactor {
	t.Helper()
	r, err := New(c, testKeys())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEventDetectors(t *testing.T) {
	r := newRedactor(t, Config{})
	e := parseEvent(t, `{"type":"tool_call","content":"key `+fakeOpenAI+`",
		"arguments":{"headers":{"Authorization":"Bearer `+fakeBearer+`"},"urls":["https://x.io","postgres://a:Xk92mPq7Lw@db/x"],"a.b":{"x y":"`+fakeStripe+`"},"`+fakeGitHub+`":1},
		"result":[{"text":"ok"},{"text":"ok"},{"text":"token `+fakeSlack+`","n":4111111111111111}],
		"error":"auth failed for `+fakeAKIA+`","endpoint":"/v1?key=`+fakeGoogle+`","path":"/home/u/.ssh/`+fakeJWT+`","reason":"leaked `+fakeClawtrail+`",
		"attributes":{"deep":{"list":[["`+fakeAnthropic+`"]]}},"user_id":"`+fakeGitHub+`","tool":"`+fakeGitHub+`"}`)
	r.Event(e)
	fp := r.Fingerprint
	want := reds([]red{
		{"openai_key", "content", fp(fakeOpenAI)},
		{"bearer_token", "arguments.headers.Authorization", fp(fakeBearer)},
		{"url_password", "arguments.urls[1]", fp("Xk92mPq7Lw")},
		{"stripe_key", `arguments["a.b"]["x y"]`, fp(fakeStripe)},
		{"slack_token", "result[2].text", fp(fakeSlack)},
		{"card_number", "result[2].n", fp("4111111111111111")},
		{"aws_access_key", "error", fp(fakeAKIA)},
		{"google_api_key", "endpoint", fp(fakeGoogle)},
		{"jwt", "path", fp(fakeJWT)},
		{"clawtrail_key", "reason", fp(fakeClawtrail)},
		{"anthropic_key", "attributes.deep.list[0][0]", fp(fakeAnthropic)},
	})
	if !reflect.DeepEqual(e.Redactions, want) {
		t.Errorf("Redactions =\n%v\nwant\n%v", e.Redactions, want)
	}
	body := encode(e)
	for _, s := range []string{fakeOpenAI, fakeBearer, "Xk92mPq7Lw", fakeStripe, fakeSlack, "4111111111111111", fakeAKIA, fakeGoogle, fakeJWT, fakeClawtrail, fakeAnthropic} {
		if strings.Contains(body, s) {
			t.Errorf("the encoded event still holds %q", s)
		}
	}
	// Object keys and fields outside the scanned ones are left alone.
	if !strings.Contains(body, `"`+fakeGitHub+`":1`) || e.UserID != fakeGitHub || e.Tool != fakeGitHub {
		t.Errorf("keys or unscanned fields changed: %s", body)
	}
	// A number that was a card number is now a string.
	if n, _ := e.Result.Items[2].Get("n"); n.Kind != strictjson.String || n.Str != "[REDACTED:card_number]" {
		t.Errorf("result[2].n = %+v", n)
	}
	// The body still decodes as a stored event.
	if _, err := clawtrail.ParseEvent([]byte(body)); err != nil {
		t.Errorf("ParseEvent: %v", err)
	}
}

func TestEventCleanUnchanged(t *testing.T) {
	r := newRedactor(t, Config{Enable: []string{"email", "phone", "us_ssn", "iban"}})
	e := benchEvent(t, false)
	// The bench event's addresses (a recipient, a Message-ID) are personal
	// data for the email detector: take them out.
	e.Arguments.Members[0].Value.Str = "customer-88213"
	e.Result.Members[1].Value.Str = "msg-20250302101522-4471"
	before := encode(e)
	r.Event(e)
	if after := encode(e); after != before || e.Redactions != nil {
		t.Errorf("a clean event changed:\n%s\n%s", before, after)
	}
	if n := testing.AllocsPerRun(100, func() { r.Event(e) }); n != 0 && !raceEnabled {
		t.Errorf("Event of a clean event allocates %v times", n)
	}
}

func TestEventIdempotent(t *testing.T) {
	r := newRedactor(t, Config{
		Enable: []string{"email", "phone"},
		Fields: []FieldRule{{"user_id", "hmac"}, {"session_id", "mask"}, {"agent_id", "drop"},
			{"arguments.to", "hmac"}, {"arguments.customer", "mask"}, {"result.rows.email", "hmac"}, {"attributes.ip", "drop"}},
	})
	body := `{"type":"tool_call","user_id":"alice","session_id":"s1","agent_id":"a1","content":"mail bob@example.com, key ` + fakeOpenAI + ` pw https://u:Xk92mPq7Lw@db and Xk92mPq7Lw",
		"arguments":{"to":["bob@example.com",7,true],"customer":{"name":"Bob","phone":"+1 415 555 0132"},"note":"call +1 415 555 0132"},
		"result":{"rows":[{"email":"a@example.com"},{"email":"b@example.com"},{"other":1}]},"attributes":{"ip":"203.0.113.7","k":"` + fakeGitHub + `"}}`
	once := parseEvent(t, body)
	r.Event(once)
	first := encode(once)
	r.Event(once)
	if second := encode(once); second != first {
		t.Errorf("Event twice differs from once:\n%s\n%s", first, second)
	}
	// And from a stored copy.
	stored, err := clawtrail.ParseEvent([]byte(first))
	if err != nil {
		t.Fatal(err)
	}
	r.Event(stored)
	if again := encode(stored); again != first {
		t.Errorf("Event of the stored event differs:\n%s\n%s", first, again)
	}
}

func TestEventDedupe(t *testing.T) {
	r := newRedactor(t, Config{})
	e := parseEvent(t, `{"type":"x","content":"`+fakeGitHub+` and again `+fakeGitHub+`","arguments":{"a":"`+fakeGitHub+`","b":"`+fakeGitHub+`"}}`)
	r.Event(e)
	fp := r.Fingerprint(fakeGitHub)
	want := reds([]red{{"github_token", "content", fp}, {"github_token", "arguments.a", fp}, {"github_token", "arguments.b", fp}})
	if !reflect.DeepEqual(e.Redactions, want) {
		t.Errorf("Redactions = %v, want %v", e.Redactions, want)
	}
}

func TestEventSweepAcrossFields(t *testing.T) {
	r := newRedactor(t, Config{})
	// The password is only recognisable in the URL; the sweep removes it
	// from the other fields too.
	e := parseEvent(t, `{"type":"x","content":"DB_PASSWORD=Xk92mPq7Lw3n","arguments":{"url":"postgres://app:Xk92mPq7Lw3n@db/x"},"error":"login failed with Xk92mPq7Lw3n"}`)
	r.Event(e)
	if body := encode(e); strings.Contains(body, "Xk92mPq7Lw3n") {
		t.Errorf("password left in %s", body)
	}
	fp := r.Fingerprint("Xk92mPq7Lw3n")
	want := reds([]red{{"url_password", "arguments.url", fp}, {"url_password", "content", fp}, {"url_password", "error", fp}})
	if !reflect.DeepEqual(e.Redactions, want) {
		t.Errorf("Redactions = %v, want %v", e.Redactions, want)
	}
}

func TestFieldRules(t *testing.T) {
	body := `{"type":"tool_call","user_id":"alice","session_id":"s-1","channel":"slack","reason":"r",
		"arguments":{"to":"bob@example.com","cc":["c@example.com","d@example.com"],"amount":12.50,"ok":true,"nothing":null,
			"customer":{"name":"Bob","tags":["vip"]},"items":[{"sku":"A1","price":3},{"sku":"B2","price":4},{"price":5}],
			"matrix":[[{"id":"m1"}],[{"id":"m2"}]]},
		"result":{"text":"done","list":[1,2]},
		"usage":{"input_tokens":10,"output_tokens":20},
		"attributes":{"customer":{"email":"bob@example.com","plan":"gold"},"ip":"203.0.113.7"}}`
	keys := testKeys()
	pseudo := func(v string) string { return Pseudonym(keys.Pseudonym, v) }
	obj := func(s string) string { // canonical text of a JSON value
		v, err := strictjson.Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return canonicalText(&v)
	}
	for _, c := range []struct {
		rules []FieldRule
		check func(e *clawtrail.Event) []string // problems
		want  []clawtrail.Redaction             // (rule, field, fingerprint-of)
	}{
		{[]FieldRule{{"user_id", "drop"}, {"session_id", "mask"}, {"channel", "hmac"}},
			func(e *clawtrail.Event) []string {
				return diff(e.UserID, "", e.SessionID, MaskText, e.Channel, pseudo("slack"))
			},
			reds([]red{{"field:drop", "user_id", "alice"}, {"field:mask", "session_id", "s-1"}, {"field:hmac", "channel", "slack"}})},
		{[]FieldRule{{"approver", "drop"}}, // absent: nothing fires
			func(e *clawtrail.Event) []string { return nil }, nil},
		{[]FieldRule{{"arguments.to", "hmac"}, {"arguments.cc", "hmac"}, {"arguments.amount", "hmac"}, {"arguments.ok", "hmac"}, {"arguments.nothing", "hmac"}},
			func(e *clawtrail.Event) []string {
				cc, _ := e.Arguments.Get("cc")
				amount, _ := e.Arguments.Get("amount")
				ok, _ := e.Arguments.Get("ok")
				null, _ := e.Arguments.Get("nothing")
				to, _ := e.Arguments.Get("to")
				return diff(to.Str, pseudo("bob@example.com"), cc.Items[1].Str, pseudo("d@example.com"),
					amount.Str, pseudo("12.5"), amount.Kind.String(), "string", ok.Str, pseudo("true"), null.Kind.String(), "null")
			},
			reds([]red{{"field:hmac", "arguments.to", "bob@example.com"}, {"field:hmac", "arguments.cc[0]", "c@example.com"},
				{"field:hmac", "arguments.cc[1]", "d@example.com"}, {"field:hmac", "arguments.amount", "12.5"}, {"field:hmac", "arguments.ok", "true"}})},
		{[]FieldRule{{"arguments.customer", "mask"}, {"arguments.items.price", "drop"}, {"arguments.matrix.id", "mask"}},
			func(e *clawtrail.Event) []string {
				cust, _ := e.Arguments.Get("customer")
				items, _ := e.Arguments.Get("items")
				matrix, _ := e.Arguments.Get("matrix")
				id, _ := matrix.Items[1].Items[0].Get("id")
				_, hasPrice := items.Items[0].Get("price")
				sku, _ := items.Items[1].Get("sku")
				return diff(cust.Str, MaskText, cust.Kind.String(), "string", strings.Repeat("x", len(items.Items[2].Members)), "",
					hasPriceString(hasPrice), "false", sku.Str, "B2", id.Str, MaskText)
			},
			reds([]red{{"field:mask", "arguments.customer", obj(`{"name":"Bob","tags":["vip"]}`)},
				{"field:drop", "arguments.items[0].price", "3"}, {"field:drop", "arguments.items[1].price", "4"}, {"field:drop", "arguments.items[2].price", "5"},
				{"field:mask", "arguments.matrix[0][0].id", "m1"}, {"field:mask", "arguments.matrix[1][0].id", "m2"}})},
		{[]FieldRule{{"result", "mask"}, {"attributes", "drop"}, {"usage.input_tokens", "mask"}},
			func(e *clawtrail.Event) []string {
				in, _ := e.Usage.Get("input_tokens")
				return diff(e.Result.Str, MaskText, boolString(e.Attributes == nil), "true", in.Str, MaskText)
			},
			reds([]red{{"field:mask", "result", obj(`{"text":"done","list":[1,2]}`)},
				{"field:drop", "attributes", obj(`{"customer":{"email":"bob@example.com","plan":"gold"},"ip":"203.0.113.7"}`)},
				{"field:mask", "usage.input_tokens", "10"}})},
		{[]FieldRule{{"result.list", "hmac"}, {"attributes.customer.email", "drop"}, {"attributes.customer.missing", "drop"}, {"result.text.deeper", "mask"}},
			func(e *clawtrail.Event) []string {
				list, _ := e.Result.Get("list")
				cust, _ := e.Attributes.Get("customer")
				_, hasEmail := cust.Get("email")
				return diff(list.Items[0].Str, pseudo("1"), hasPriceString(hasEmail), "false")
			},
			reds([]red{{"field:hmac", "result.list[0]", "1"}, {"field:hmac", "result.list[1]", "2"},
				{"field:drop", "attributes.customer.email", "bob@example.com"}})},
	} {
		r := newRedactor(t, Config{Fields: c.rules})
		e := parseEvent(t, body)
		r.Event(e)
		for _, p := range c.check(e) {
			t.Errorf("%v: %s", c.rules, p)
		}
		var want []clawtrail.Redaction
		for _, w := range c.want {
			want = append(want, clawtrail.Redaction{Rule: w.Rule, Field: w.Field, Fingerprint: r.Fingerprint(w.Fingerprint)})
		}
		if !reflect.DeepEqual(e.Redactions, want) {
			t.Errorf("%v: Redactions =\n%v\nwant\n%v", c.rules, e.Redactions, want)
		}
		// Applying the rules again changes nothing.
		first := encode(e)
		r.Event(e)
		if second := encode(e); second != first {
			t.Errorf("%v: not idempotent:\n%s\n%s", c.rules, first, second)
		}
	}
}

func TestFieldRulesBeforeDetectors(t *testing.T) {
	// An hmac rule pseudonymises the raw value: the detectors do not see
	// it, and an equality search on the pseudonym works.
	r := newRedactor(t, Config{Enable: []string{"email"}, Fields: []FieldRule{{"arguments.to", "hmac"}}})
	e := parseEvent(t, `{"type":"x","arguments":{"to":"bob@example.com","body":"hi bob@example.com"}}`)
	r.Event(e)
	to, _ := e.Arguments.Get("to")
	bodyV, _ := e.Arguments.Get("body")
	if to.Str != r.Pseudonym("bob@example.com") || bodyV.Str != "hi [REDACTED:email]" {
		t.Errorf("to = %q, body = %q", to.Str, bodyV.Str)
	}
	fp := r.Fingerprint("bob@example.com")
	want := reds([]red{{"field:hmac", "arguments.to", fp}, {"email", "arguments.body", fp}})
	if !reflect.DeepEqual(e.Redactions, want) {
		t.Errorf("Redactions = %v, want %v", e.Redactions, want)
	}
}

func TestPathString(t *testing.T) {
	for _, c := range []struct {
		root string
		path []pathSeg
		want string
	}{
		{"content", nil, "content"},
		{"arguments", []pathSeg{{key: "to", idx: -1}}, "arguments.to"},
		{"result", []pathSeg{{idx: 2}, {key: "text", idx: -1}}, "result[2].text"},
		{"attributes", []pathSeg{{key: "a.b", idx: -1}, {key: "", idx: -1}, {key: `q"`, idx: -1}, {key: "naïve_ok-1", idx: -1}},
			`attributes["a.b"][""]["q\""].naïve_ok-1`},
	} {
		if got := pathString(c.root, c.path); got != c.want {
			t.Errorf("pathString = %s, want %s", got, c.want)
		}
	}
}

// red is a Redaction in a test table.
type red struct{ rule, field, fingerprint string }

func reds(rs []red) []clawtrail.Redaction {
	var out []clawtrail.Redaction
	for _, r := range rs {
		out = append(out, clawtrail.Redaction{Rule: r.rule, Field: r.field, Fingerprint: r.fingerprint})
	}
	return out
}

func diff(pairs ...string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] != pairs[i+1] {
			out = append(out, "got "+pairs[i]+", want "+pairs[i+1])
		}
	}
	return out
}

func hasPriceString(b bool) string { return boolString(b) }

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
