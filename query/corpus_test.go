package query

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
)

// A random corpus and random queries for the differential test.

var (
	corpusTenants  = []string{"acme", "beta", "gamma"}
	corpusTypes    = []string{"prompt", "tool_call", "output", "api_call", "file_operation", "approval", "access", "auth"}
	corpusTools    = []string{"send_email", "exec", "read_file", "write_file", "send_sms", "send_", ""}
	corpusStatuses = []string{"success", "error", "blocked", "denied", "pending", "", ""}
	corpusWords    = []string{
		"send", "email", "to", "support", "vendor", "delayed", "shipment", "delay", "inquiry",
		"the", "and", "or", "NOT", "Permission", "denied", "read", "file", "config", "json",
		"Grüße", "naïve", "東京", "İstanbul", "ΣΊΣΥΦΟΣ", "١٢٣", "½", "x²", "ǅemal", "K", "ß",
		"42", "3.14", "1e3", "v1", "e2e", "under_score", "dash-ed", "a.b", "€uro", "🙂ok",
	}
	corpusPaths = []string{
		"arguments.to", "arguments.subject", "arguments.cmd", "arguments.count", "arguments.ratio",
		"arguments.dry_run", "arguments.items.name", "arguments.items.qty", "arguments.a.b",
		"arguments.meta.k", "arguments.meta", "arguments.none", "result", "result.ok", "result.x.y",
		"result.code", "usage.input_tokens", "usage.output_tokens", "attributes.http.route",
		"attributes.model", "attributes.env", "attributes.n", "attributes.flag",
	}
	corpusNumbers = []string{"0", "-0", "1", "5", "5.0", "1.50", "1e3", "1000", "-7", "3.14", "1e400", "123456789012345678901", "0.1"}
)

// corpus builds events with rng and remembers values to query for.
type corpus struct {
	rng    *rand.Rand
	events []*clawtrail.Event
	seqs   map[string]int64
	values map[string][]string // field path -> values seen
	base   time.Time
}

func newCorpus(seed uint64, n int) *corpus {
	c := &corpus{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		seqs: map[string]int64{}, values: map[string][]string{},
		base: time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)}
	for range n {
		c.events = append(c.events, c.event())
	}
	for _, args := range trickyArguments {
		e := c.event()
		v, err := strictjson.Parse([]byte(args))
		if err != nil {
			panic(err)
		}
		e.Arguments, e.Result = &v, &v
		c.events = append(c.events, e)
	}
	return c
}

// trickyArguments are arguments (and results) that random ones seldom are.
var trickyArguments = []string{
	`{"to": ["5", 5]}`,
	`{"to": [5, "5"]}`,
	`{"to": ["5.0", 5, true, "true", null]}`,
	`{"a.b": 1, "a": {"b": 2}, "": {"": 3}}`,
	`{"items": [[{"name": "n1"}], {"name": ["n2", {"x": 1}]}], "count": 1e400, "ratio": -0}`,
	`{"to": "\u0000", "subject": "a\u0000b", "cmd": ""}`,
	`[1, [2, [3, "x"]], {"ok": true}]`,
	`"scalar result"`,
	`12345678901234567890123`,
}

func (c *corpus) pick(xs []string) string { return xs[c.rng.IntN(len(xs))] }
func (c *corpus) chance(p float64) bool   { return c.rng.Float64() < p }

func (c *corpus) remember(f, v string) {
	if v != "" && len(c.values[f]) < 400 {
		c.values[f] = append(c.values[f], v)
	}
}

// sentence returns n random words joined by random separators.
func (c *corpus) sentence(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(c.pick([]string{" ", " ", ", ", "-", " — ", "_", "/", "\t"}))
		}
		b.WriteString(c.pick(corpusWords))
	}
	return b.String()
}

// text returns a short or a long (over 200 bytes) sentence.
func (c *corpus) text() string {
	if c.chance(0.1) {
		return strings.Repeat("é", 99) + c.pick([]string{"", "a", "ab"}) + c.sentence(20)
	}
	return c.sentence(1 + c.rng.IntN(6))
}

func (c *corpus) str(f string, choices []string) string {
	v := c.pick(choices)
	c.remember(f, v)
	return v
}

func (c *corpus) event() *clawtrail.Event {
	tenant := c.pick(corpusTenants)
	e := &clawtrail.Event{ID: fmt.Sprintf("ev%d", len(c.events)), Seq: c.seqs[tenant], TenantID: tenant}
	c.seqs[tenant]++
	c.remember("id", e.ID)
	e.Timestamp = c.base.Add(time.Duration(c.rng.Int64N(int64(48 * time.Hour))))
	e.ReceivedAt = e.Timestamp.Add(time.Duration(c.rng.Int64N(int64(time.Second))))
	c.remember("timestamp", e.Timestamp.Format(time.RFC3339Nano))
	e.Type = c.str("type", corpusTypes)
	e.Tool = c.str("tool", corpusTools)
	e.Status = c.str("status", corpusStatuses)
	e.SessionID = c.str("session_id", []string{"sess_1", "sess_2", "sess_3", "sess_10", ""})
	e.UserID = c.str("user_id", []string{"user_jane", "user_joe", "", ""})
	e.AgentID = c.str("agent_id", []string{"agent_prod_main", "", ""})
	e.KeyID = c.str("key_id", []string{"k1", "k2", ""})
	e.Channel = c.str("channel", []string{"slack", "cli", ""})
	e.SpanID = c.str("span_id", []string{"span_a", "span_b", "", fmt.Sprintf("span_%d", len(c.events))})
	c.fill(e)
	return e
}

// fill sets the optional fields of e.
func (c *corpus) fill(e *clawtrail.Event) {
	if c.chance(0.6) {
		e.Content = c.text()
		c.remember("content", e.Content)
	}
	if c.chance(0.2) {
		e.Error = c.str("error", []string{"Permission denied", "timeout after 30s", "ENOENT: no such file"})
	}
	if c.chance(0.1) {
		e.Decision = c.str("decision", []string{"approved", "denied", "expired"})
		e.Reason = c.str("reason", []string{"looks fine", "too risky", c.sentence(3)})
		e.Approver = c.str("approver", []string{"alice", "bob"})
	}
	if c.chance(0.5) {
		e.DurationMS = ptr(float64(c.rng.IntN(2000)) + []float64{0, 0.5, 0.25}[c.rng.IntN(3)])
	}
	if c.chance(0.3) {
		e.TokensUsed = ptr(c.rng.Int64N(500))
	}
	if c.chance(0.3) {
		e.StatusCode = ptr([]int64{200, 201, 404, 500}[c.rng.IntN(4)])
		e.Method = c.str("method", []string{"GET", "POST"})
		e.Destination = c.str("destination", []string{"api.anthropic.com", "api.openai.com", "evil.example"})
		e.Endpoint = c.str("endpoint", []string{"/v1/messages", "/v1/chat"})
	}
	if c.chance(0.3) {
		e.Bytes = ptr(c.rng.Int64N(10000))
		e.Operation = c.str("operation", []string{"read", "write"})
		e.Path = c.str("path", []string{"/workspace/config.json", "/etc/passwd", "/tmp/a b"})
	}
	e.Model = c.str("model", []string{"claude-3", "gpt-4", ""})
	e.Arguments = c.object("arguments", c.argumentKeys())
	e.Result = c.result()
	if c.chance(0.4) {
		e.Usage = c.object("usage", []string{"input_tokens", "output_tokens"})
	}
	if c.chance(0.6) {
		e.Attributes = c.object("attributes", []string{"http", "http.route", "model", "env", "n", "flag"})
	}
}

func (c *corpus) argumentKeys() []string {
	keys := []string{"to", "subject", "cmd", "count", "ratio", "dry_run", "items", "a.b", "a", "meta", "none", "body"}
	c.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys[:c.rng.IntN(len(keys))]
}

func (c *corpus) object(path string, keys []string) *strictjson.Value {
	if len(keys) == 0 && c.chance(0.5) {
		return nil
	}
	v := &strictjson.Value{Kind: strictjson.Object}
	for _, k := range keys {
		if c.chance(0.3) {
			continue
		}
		v.Members = append(v.Members, strictjson.Member{Key: k, Value: c.member(path+"."+k, k)})
	}
	return v
}

// member returns a value for key k at path.
func (c *corpus) member(path, k string) strictjson.Value {
	switch k {
	case "items":
		n := c.rng.IntN(3)
		arr := strictjson.Value{Kind: strictjson.Array}
		for range n {
			arr.Items = append(arr.Items, *c.object(path, []string{"name", "qty"}))
		}
		return arr
	case "http", "meta", "a":
		return *c.object(path, []string{"route", "k", "b"})
	case "to":
		if c.chance(0.5) {
			return strictjson.Value{Kind: strictjson.Array, Items: []strictjson.Value{c.scalar(path), c.scalar(path)}}
		}
	case "none":
		return strictjson.Value{Kind: strictjson.Null}
	}
	return c.scalar(path)
}

func (c *corpus) scalar(path string) strictjson.Value {
	var v strictjson.Value
	switch c.rng.IntN(6) {
	case 0, 1:
		v = strictjson.StringValue(c.pick([]string{"support@vendor.com", "a@x.com", "/v1/a", "/home/agent/", "/home/agent/src/main.go", "https://api.x.com/v1/", "ls -la", "", "5", "true", c.text()}))
	case 2, 3:
		v = strictjson.Value{Kind: strictjson.Number, Str: c.pick(corpusNumbers)}
	case 4:
		v = strictjson.Value{Kind: strictjson.Bool, Str: c.pick([]string{"true", "false"})}
	default:
		v = strictjson.Value{Kind: strictjson.Null}
	}
	if v.Kind != strictjson.Null {
		c.remember(path, v.Str)
	}
	return v
}

func (c *corpus) result() *strictjson.Value {
	switch c.rng.IntN(5) {
	case 0:
		return nil
	case 1:
		v := c.scalar("result")
		return &v
	case 2:
		v := strictjson.Value{Kind: strictjson.Array, Items: []strictjson.Value{c.scalar("result"), c.scalar("result")}}
		return &v
	}
	return c.object("result", []string{"ok", "x", "code"})
}

// quoteValue writes v so the lexer reads it back literally, by quotes or by
// backslashes.
func (c *corpus) quoteValue(v string) string {
	if c.chance(0.5) {
		var b strings.Builder
		writeQuoted(&b, v)
		return b.String()
	}
	var b strings.Builder
	if keyword(word{text: v}) != tokWord {
		b.WriteByte('\\')
	}
	for _, r := range v {
		if specialRune(r) || r == '>' || r == '<' || r == '-' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return `""`
	}
	return b.String()
}

// value returns a value of field f: one seen in the corpus, or not.
func (c *corpus) value(f string) string {
	if vs := c.values[f]; len(vs) > 0 && c.chance(0.8) {
		return c.pick(vs)
	}
	return c.pick(append([]string{"nope", "5", "support@vendor.com", "success"}, corpusNumbers...))
}

// prefixOf returns a valid-UTF-8 prefix of s, mostly within what the index
// keeps in clear, sometimes longer.
func (c *corpus) prefixOf(s string) string {
	if s == "" {
		return ""
	}
	// Often just after a "/": a prefix the index answers with one token.
	var atSlash []string
	for j := range min(len(s), MaxIndexValueLen+8) {
		if s[j] == '/' {
			atSlash = append(atSlash, s[:j+1])
		}
	}
	if len(atSlash) > 0 && c.chance(0.4) {
		return c.pick(atSlash)
	}
	n := c.rng.IntN(min(len(s), MaxIndexValueLen+16) + 1)
	for n > 0 && !utf8RuneStartAt(s, n) {
		n--
	}
	return s[:n]
}

func utf8RuneStartAt(s string, n int) bool {
	return n == len(s) || s[n]&0xC0 != 0x80
}

var queryFields = []string{
	"type", "tool", "status", "session_id", "session", "user", "agent_id", "key_id", "channel", "model",
	"method", "destination", "endpoint", "operation", "path", "decision", "approver", "id", "span_id",
}

// query returns a random query of at most the given depth.
func (c *corpus) query(depth int) string {
	if depth <= 0 || c.chance(0.45) {
		return c.term()
	}
	a, b := c.query(depth-1), c.query(depth-1)
	switch c.rng.IntN(6) {
	case 0:
		return a + " OR " + b
	case 1:
		return "(" + a + " OR " + b + ")"
	case 2:
		return a + " AND " + b
	case 3:
		return "-(" + a + ")"
	case 4:
		return "NOT " + a + " " + b
	}
	return a + " " + b
}

// term returns a random term.
func (c *corpus) term() string {
	switch c.rng.IntN(10) {
	case 0, 1:
		return c.stringTerm(c.pick(queryFields))
	case 2:
		return c.numberTerm()
	case 3:
		return c.timeTerm()
	case 4, 5:
		return c.nestedTerm(c.pick(corpusPaths))
	case 6:
		return c.stringTerm(c.pick([]string{"content", "error", "reason", "tenant", "tenant_id"}))
	case 7:
		return c.group()
	}
	return c.fullText()
}

func (c *corpus) stringTerm(f string) string {
	key := strings.TrimSuffix(f, "_id") + "_id"
	if _, ok := c.values[f]; ok || f == "content" || f == "error" || f == "reason" || f == "type" || f == "tool" || f == "id" {
		key = f
	}
	if f == "tenant" || f == "tenant_id" {
		return f + ":" + c.quoteValue(c.pick(append(corpusTenants, "ac", "zzz")))
	}
	v := c.value(key)
	switch c.rng.IntN(4) {
	case 0:
		return f + ":*"
	case 1:
		return f + ":" + c.quoteValue(c.prefixOf(v)) + "*"
	}
	return f + ":" + c.quoteValue(v)
}

func (c *corpus) numberTerm() string {
	f := c.pick([]string{"seq", "duration_ms", "tokens_used", "status_code", "bytes"})
	n := c.pick([]string{"0", "1", "10", "200", "404", "500.0", "892", "1000", "1e3", "250.5", "-1", "5000"})
	return f + ":" + c.pick([]string{"", ">", ">=", "<", "<="}) + n
}

func (c *corpus) timeTerm() string {
	f := c.pick([]string{"timestamp", "received_at"})
	v := c.pick([]string{"2026-02-01", "2026-01-31", "2026-02-01T10:00:00Z", "2026-01-31T20:00:00.5+01:00", c.pick(c.values["timestamp"])})
	return f + ":" + c.pick([]string{"", ">", ">=", "<", "<="}) + v
}

func (c *corpus) nestedTerm(path string) string {
	v := c.value(path)
	switch c.rng.IntN(6) {
	case 0:
		return path + ":*"
	case 1:
		return path + ":" + c.quoteValue(c.prefixOf(v)) + "*"
	case 2:
		return path + ":" + c.pick([]string{">", ">=", "<", "<="}) + c.pick(corpusNumbers[:10])
	}
	return path + ":" + c.quoteValue(v)
}

func (c *corpus) group() string {
	f := c.pick(append([]string{"arguments.to", "content"}, queryFields[:6]...))
	parts := []string{c.quoteValue(c.value(f)), c.quoteValue(c.value(f))}
	sep := c.pick([]string{" OR ", " ", " AND ", " OR -", " -"})
	return f + ":(" + strings.Join(parts, sep) + ")"
}

// fullText returns a word, a phrase or a prefix, often one an event holds.
func (c *corpus) fullText() string {
	var toks []string
	if c.chance(0.7) {
		e := c.events[c.rng.IntN(len(c.events))]
		all := ftsTokens(e)
		if len(all) > 0 {
			i := c.rng.IntN(len(all))
			toks = all[i:min(len(all), i+1+c.rng.IntN(3))]
		}
	}
	if len(toks) == 0 {
		toks = Tokenize(c.sentence(1 + c.rng.IntN(2)))
	}
	if len(toks) == 0 {
		toks = []string{"email"}
	}
	s := strings.Join(toks, c.pick([]string{" ", "_", "-"}))
	if c.chance(0.3) {
		s = strings.ToUpper(s)
	}
	if c.chance(0.3) {
		last := toks[len(toks)-1]
		cut := c.prefixOf(last)
		if cut == "" {
			cut = last
		}
		s = s[:len(s)-len(strings.ToUpper(last))] // the last token may be upper-cased
		return c.quoteValue(s+cut) + "*"
	}
	return c.quoteValue(s)
}

// handQueries are queries the differential test always runs.
var handQueries = []string{
	"", "tool:send_email", "id:ev3", "-id:ev5 type:prompt", "id:ev7 OR tool:exec", "id:(ev1 OR ev2) -status:error", "id:nope", "status:error OR status:blocked", "-type:prompt", "NOT type:prompt",
	"tool:send_*", "tool:(send_email OR exec)", "duration_ms:>1000 bytes:<=4096",
	`path:"/workspace/config.json"`, `"delayed shipment"`,
	"(type:tool_call OR type:api_call) AND -status:success", "attributes.model:claude-3",
	"-status:success", "-status:*", "status:*", "-tool:send*", "-content:*", "content:*",
	"arguments.to:*", "-arguments.to:*", "arguments.none:*", "arguments.count:5", "arguments.count:>=5",
	"arguments.count:1e400", "arguments.count:>1e300", "arguments.count:-0", "arguments.count:0",
	"arguments.ratio:1.5", "arguments.ratio:1.50", "arguments.dry_run:true", "arguments.to:5",
	"arguments.a.b:*", "arguments.a.b:5", "arguments.items.name:*", "arguments.items.qty:<1",
	"result:*", "result:5", "result:true", "-result:*", "result.ok:*", "result.x.y:*",
	"usage.input_tokens:>0", "attributes.http.route:*", "attributes.http.route:/v1/a",
	"email", "email*", "e*", "-email", "email OR -shipment", "delay* -delayed", "grüße", "GRÜSSE",
	"istanbul", "İSTANBUL", "σίσυφος", "東京", "١٢٣", "½", "x²", "ǆemal", "k", "ß", "ok", "1e3",
	"tenant:acme", "tenant:beta", "-tenant:acme", "tenant:*", "tenant:a*",
	"session:sess_1", "-session_id:sess_2", "session_id:sess_1 OR tool:exec", "session_id:sess_1*", "session_id:*",
	"session_id:sess_3 -type:prompt", "session_id:sess_1 session_id:sess_2",
	// the other token columns: positive equality a token, the rest the column
	"user:user_jane", "-user:user_joe", "user_id:user_jane OR status:error", "user:user_jane agent_id:agent_prod_main",
	"key_id:k1 -channel:slack", "channel:(slack OR cli) -user:user_jane", "agent:agent_prod_main -(user:user_joe OR key_id:k2)",
	"user:*", "-user:*", "user:user_j*", "channel:nope", "key_id:k1 key_id:k2",
	"seq:0", "seq:<10", "timestamp:>2026-02-01", "timestamp:<2026-01-31T20:00:00Z",
	"received_at:>=2026-02-01T00:00:00.5Z", "content:" + strings.Repeat("é", 99) + "*",
	"content:" + strings.Repeat("é", 100) + "*", "content:" + strings.Repeat("é", 99) + "a*",
	"type:tool_call tool:send_* -status:error", "support vendor com -(tool:exec OR status:denied)",
	`"send email" OR "permission denied"`, "error:Permission*", "error:\"Permission denied\"",
	"arguments.to:>4", "arguments.to:>=5", "arguments.to:5.0", "arguments.to:true", "arguments.a.b:>1",
	"arguments.a.b:1", "arguments.a.b:2", "arguments..:3", "result.:*", "arguments.items.name:n2",
	"arguments.items.name.x:1", "arguments.to:\u0000", "result:3", "result:x", "result.ok:true",
	"result:12345678901234567890123", "result:12345678901234567890000", "result:>1e22", "scalar",
	"decision:* -reason:*", "reason:(\"looks fine\" OR \"too risky\")",
	// prefix tokens: at a "/", the whole value ending at one, under NOT and OR
	"arguments.to:/home/agent/*", "arguments.to:/*", "arguments.subject:/home/*", "result:https://api.x.com/v1/*",
	"-arguments.to:/home/agent/*", "arguments.to:/home/agent/* OR arguments.cmd:/v1/*", "attributes.env:/home/agent/src/*",
}
