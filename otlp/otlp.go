// Package otlp maps OpenTelemetry data (OTLP traces and logs, decoded with
// the collector's pdata) to clawtrail events. It is pure: pdata in, event
// JSON lines out, with no I/O, so the HTTP handler runs the lines through the
// same decoder, validation, idempotency and commit path as POST /v1/events.
//
// What is mapped (docs/integrations/opentelemetry.md has the user's table):
//
//   - GenAI semantic-convention spans, by gen_ai.operation.name or the span
//     name's first word: execute_tool → tool_call, invoke_agent → agent_run,
//     chat / text_completion / generate_content → output (old attribute names
//     such as gen_ai.usage.prompt_tokens and gen_ai.prompt are read too);
//   - Claude Code's claude_code.* spans and its com.anthropic.claude_code.events
//     log records; OpenClaw's openclaw.* spans and security log records;
//   - HTTP client spans → api_call.
//
// Everything else (server spans, database spans, ordinary application logs)
// is skipped and counted by reason in Result.Skipped.
//
// Every event's body depends only on its own span or log record (plus the
// resource and scope it came in), never on what else is in the batch, and
// its id is derived from it: otlp.<trace_id>.<span_id> for spans, a hash of
// the mapped record for log records. An exporter's retry therefore maps to
// the same ids and bodies, which the server stores once (a duplicate); a
// re-batched retry cannot turn into a conflict.
package otlp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail/internal/fit"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Defaults for Options.
const (
	DefaultMaxEventBytes = 1 << 20
	DefaultMaxFieldBytes = 64 << 10
)

// Options bound what one mapped event may hold.
type Options struct {
	// MaxEventBytes is the server's event size limit; a mapped event is kept
	// below it, with room for what the server adds (default 1 MiB).
	MaxEventBytes int
	// MaxFieldBytes bounds each string value (content, arguments, result,
	// error, attributes); a longer one is cut at a UTF-8 boundary and its
	// path listed in attributes.truncated (default 64 KiB).
	MaxFieldBytes int
	// MaxTotalBytes bounds the mapped lines of one batch together (default
	// 64 MiB): every event carries its resource's attributes, so a small
	// request of many spans under a large resource would otherwise map to
	// gigabytes. Past it, mapping stops and Result.TooLarge is set.
	MaxTotalBytes int
}

// DefaultMaxTotalBytes is Options.MaxTotalBytes's default.
const DefaultMaxTotalBytes = 64 << 20

func (o Options) withDefaults() Options {
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	if o.MaxFieldBytes <= 0 {
		o.MaxFieldBytes = DefaultMaxFieldBytes
	}
	return o
}

// budget is the size a mapped event line must stay under: the server's
// limit less room for seq, key_id, received_at, tenant_id, redaction
// records and a clock-skew mark.
func (o Options) budget() int {
	if o.MaxEventBytes >= 256<<10 {
		return o.MaxEventBytes - 32<<10
	}
	return o.MaxEventBytes * 7 / 8
}

// Skip reasons (the reason label of clawtrail_otlp_skipped_total).
const (
	// SkipNotAgent: a span or log record that is not agent activity (a
	// server span, a database call, an ordinary application log line).
	SkipNotAgent = "not_agent_activity"
	// SkipOperational: OpenClaw's operational telemetry (gateway RPC,
	// memory pressure, liveness, queue and session bookkeeping, and its
	// ordinary log lines below WARN).
	SkipOperational = "operational"
)

// Result is what a batch maps to.
type Result struct {
	Lines   [][]byte       // one event JSON object per line, in input order
	Skipped map[string]int // spans or log records not mapped, by reason
	// TooLarge: the lines went over Options.MaxTotalBytes and mapping
	// stopped; Lines is incomplete and must not be stored.
	TooLarge bool
	size     int
}

// add appends a line; false when the batch is over the total limit.
func (r *Result) add(line []byte, o Options) bool {
	r.size += len(line) + 1
	if r.size > o.MaxTotalBytes {
		r.TooLarge = true
		return false
	}
	r.Lines = append(r.Lines, line)
	return true
}

func (r *Result) skip(reason string) {
	if r.Skipped == nil {
		r.Skipped = map[string]int{}
	}
	r.Skipped[reason]++
}

// NDJSON joins the lines, one per line.
func (r Result) NDJSON() []byte {
	var b bytes.Buffer
	for _, l := range r.Lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// DecodeTraces decodes an ExportTraceServiceRequest, OTLP/JSON when json is
// true, else protobuf. pdata's JSON decoder reads trace and span ids as hex,
// as OTLP/JSON requires (plain protojson would read them as base64).
func DecodeTraces(body []byte, json bool) (ptrace.Traces, error) {
	if json {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			return td, fmt.Errorf("the body is not an OTLP/JSON ExportTraceServiceRequest: %w", err)
		}
		return td, nil
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		return td, fmt.Errorf("the body is not a protobuf ExportTraceServiceRequest: %w", err)
	}
	return td, nil
}

// DecodeLogs decodes an ExportLogsServiceRequest, OTLP/JSON when json is
// true, else protobuf.
func DecodeLogs(body []byte, json bool) (plog.Logs, error) {
	if json {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(body)
		if err != nil {
			return ld, fmt.Errorf("the body is not an OTLP/JSON ExportLogsServiceRequest: %w", err)
		}
		return ld, nil
	}
	ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body)
	if err != nil {
		return ld, fmt.Errorf("the body is not a protobuf ExportLogsServiceRequest: %w", err)
	}
	return ld, nil
}

// event is one clawtrail event (SPEC §1) as this package writes it. The
// field order is fixed and maps are written with sorted keys, so the same
// input always gives the same bytes (the idempotency hash depends on it).
type event struct {
	ID          string         `json:"id"`
	Timestamp   string         `json:"timestamp,omitempty"`
	Type        string         `json:"type"`
	SessionID   string         `json:"session_id,omitempty"`
	UserID      string         `json:"user_id,omitempty"`
	AgentID     string         `json:"agent_id,omitempty"`
	Channel     string         `json:"channel,omitempty"`
	TraceID     string         `json:"trace_id,omitempty"`
	SpanID      string         `json:"span_id,omitempty"`
	ParentID    string         `json:"parent_id,omitempty"`
	Content     string         `json:"content,omitempty"`
	Tool        string         `json:"tool,omitempty"`
	Arguments   map[string]any `json:"arguments,omitempty"`
	Result      any            `json:"result,omitempty"`
	Status      string         `json:"status,omitempty"`
	Error       string         `json:"error,omitempty"`
	DurationMS  *float64       `json:"duration_ms,omitempty"`
	TokensUsed  *int64         `json:"tokens_used,omitempty"`
	Usage       map[string]any `json:"usage,omitempty"`
	Model       string         `json:"model,omitempty"`
	Destination string         `json:"destination,omitempty"`
	Method      string         `json:"method,omitempty"`
	Endpoint    string         `json:"endpoint,omitempty"`
	StatusCode  *int64         `json:"status_code,omitempty"`
	Decision    string         `json:"decision,omitempty"`
	Approver    string         `json:"approver,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	Attributes  map[string]any `json:"attributes,omitempty"`

	idPrefix string // for an event without id: the hash id's prefix
}

func (e *event) attr(k string, v any) {
	if e.Attributes == nil {
		e.Attributes = map[string]any{}
	}
	e.Attributes[k] = v
}

func (e *event) setTime(ns uint64) {
	if ns == 0 || ns > math.MaxInt64 {
		return
	}
	t := time.Unix(0, int64(ns)).UTC()
	if t.Year() < 1970 || t.Year() >= 2200 {
		return
	}
	e.Timestamp = t.Format(time.RFC3339Nano)
}

func (e *event) setDuration(ms float64) {
	if ms >= 0 && !math.IsInf(ms, 0) && !math.IsNaN(ms) {
		e.DurationMS = &ms
	}
}

// setUsage fills usage and tokens_used (input + output) from what is known.
func (e *event) setUsage(u usage, total bool) {
	if !u.any() {
		return
	}
	e.Usage = map[string]any{}
	put := func(k string, v *int64) {
		if v != nil {
			e.Usage[k] = *v
		}
	}
	put("input_tokens", u.input)
	put("output_tokens", u.output)
	put("cache_read_tokens", u.cacheRead)
	put("cache_write_tokens", u.cacheWrite)
	put("total_tokens", u.total)
	if total && (u.input != nil || u.output != nil) {
		var n int64
		if u.input != nil {
			n += *u.input
		}
		if u.output != nil {
			n += *u.output
		}
		e.TokensUsed = &n
	}
}

type usage struct{ input, output, cacheRead, cacheWrite, total *int64 }

func (u usage) any() bool {
	return u.input != nil || u.output != nil || u.cacheRead != nil || u.cacheWrite != nil || u.total != nil
}

// encode writes the event as one JSON line within the options' limits:
// values nested deeper than the server accepts are kept as their JSON text
// (listed in attributes.otlp.flattened); strings are cut to MaxFieldBytes,
// then shorter until the event fits, and as a last resort the attributes,
// then arguments and result, are dropped. Every cut is listed in
// attributes.truncated. When the event has no id yet (log records), its id
// is a hash of the rest.
func (e *event) encode(o Options) []byte {
	orig := *e
	var flat []string
	if orig.Arguments != nil {
		orig.Arguments = fit.Flatten(orig.Arguments, 1, maxValueDepth, "arguments", &flat).(map[string]any)
	}
	if orig.Result != nil {
		orig.Result = fit.Flatten(orig.Result, 1, maxValueDepth, "result", &flat)
	}
	if orig.Attributes != nil {
		orig.Attributes = fit.Flatten(orig.Attributes, 1, maxValueDepth, "attributes", &flat).(map[string]any)
	}
	if len(flat) > 0 {
		attrs := make(map[string]any, len(orig.Attributes)+1)
		for k, v := range orig.Attributes {
			attrs[k] = v
		}
		attrs["otlp.flattened"] = fit.Paths(flat)
		orig.Attributes = attrs
	}
	for limit := o.MaxFieldBytes; ; limit /= 2 {
		var cuts []string
		c := orig
		for _, f := range c.stringFields() {
			*f.s = fit.String(*f.s, limit, f.name, &cuts)
		}
		if orig.Arguments != nil {
			c.Arguments = fit.Value(orig.Arguments, limit, "arguments", &cuts).(map[string]any)
		}
		if orig.Result != nil {
			c.Result = fit.Value(orig.Result, limit, "result", &cuts)
		}
		if orig.Attributes != nil {
			c.Attributes = fit.Value(orig.Attributes, limit, "attributes", &cuts).(map[string]any)
		}
		if limit < 256 {
			// Many small values: drop the largest attributes, then whole
			// fields, named (and what was cut inside them said once, by
			// the dropped name).
			if b := c.marshal(cuts); len(b) > o.budget() && len(c.Attributes) > 0 {
				c.Attributes, cuts = dropLargest(c.Attributes, cuts, len(b)-o.budget())
				if b := c.marshal(cuts); len(b) > o.budget() {
					cuts = fit.Without(cuts, "attributes")
					c.Attributes = nil
				}
			}
			if b := c.marshal(cuts); len(b) > o.budget() {
				if c.Arguments != nil {
					cuts = fit.Without(cuts, "arguments")
					c.Arguments = nil
				}
				if c.Result != nil {
					cuts = fit.Without(cuts, "result")
					c.Result = nil
				}
			}
			return c.marshal(cuts)
		}
		if b := c.marshal(cuts); len(b) <= o.budget() {
			return b
		}
	}
}

// stringFields are the event's free string fields, which a sender can make
// as long as it likes (ids, type, status and timestamp are bounded).
func (e *event) stringFields() []struct {
	name string
	s    *string
} {
	return []struct {
		name string
		s    *string
	}{{"content", &e.Content}, {"error", &e.Error}, {"session_id", &e.SessionID}, {"user_id", &e.UserID},
		{"agent_id", &e.AgentID}, {"channel", &e.Channel}, {"tool", &e.Tool}, {"model", &e.Model},
		{"destination", &e.Destination}, {"method", &e.Method}, {"endpoint", &e.Endpoint},
		{"approver", &e.Approver}, {"reason", &e.Reason}}
}

// dropLargest drops the largest attributes (ties by key) until at least
// need bytes are gone, and lists each as cut instead of what was cut
// inside it.
func dropLargest(attrs map[string]any, cuts []string, need int) (map[string]any, []string) {
	type sized struct {
		k string
		n int
	}
	list := make([]sized, 0, len(attrs))
	for k, v := range attrs {
		list = append(list, sized{k, len(k) + 4 + len(jsonBytes(v))})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].k < list[j].k
	})
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	gone := map[string]bool{}
	for _, a := range list {
		if need <= 0 {
			break
		}
		delete(out, a.k)
		gone[a.k] = true
		need -= a.n
	}
	kept := cuts[:0:0]
	for _, c := range cuts {
		rest, ok := strings.CutPrefix(c, "attributes.")
		inside := false
		for i := 0; ok && i <= len(rest) && !inside; i++ {
			if i == len(rest) || rest[i] == '.' {
				inside = gone[rest[:i]]
			}
		}
		if !inside {
			kept = append(kept, c)
		}
	}
	for k := range gone {
		kept = append(kept, "attributes."+k)
	}
	return out, kept
}

// maxValueDepth is how deeply a field's value may nest objects and arrays;
// deeper parts become their JSON text, so that the event stays within the
// server's nesting limit (strictjson.MaxDepth, 64, from the event itself).
const maxValueDepth = 40

func (e event) marshal(cuts []string) []byte {
	if len(cuts) > 0 {
		attrs := make(map[string]any, len(e.Attributes)+1)
		for k, v := range e.Attributes {
			attrs[k] = v
		}
		attrs["truncated"] = fit.Paths(cuts)
		e.Attributes = attrs
	}
	if e.ID == "" {
		sum := sha256.Sum256(jsonBytes(e))
		prefix := e.idPrefix
		if prefix == "" {
			prefix = "otlp.h."
		}
		e.ID = prefix + hex.EncodeToString(sum[:20])
	}
	return jsonBytes(e)
}

func jsonBytes(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Values are built here from strings, integers, finite floats,
		// booleans, maps and slices: encoding cannot fail.
		panic(fmt.Sprintf("otlp: encode event: %v", err))
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// validType turns a name into a valid event type (^[a-z][a-z0-9_.]{0,63}$)
// that is not one of the server's reserved types.
func validType(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if b.Len() >= 64 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	t := b.String()
	if t == "" || t[0] < 'a' || t[0] > 'z' {
		t = "otlp." + t
	}
	switch t {
	case "auth", "access", "config_change", "alert", "tombstone":
		t = "otlp." + t
	}
	if len(t) > 64 {
		t = t[:64]
	}
	return t
}

// parseJSONString reads a JSON-encoded attribute (tool arguments and
// results, GenAI messages). ok is false when s is not JSON.
func parseJSONString(s string) (any, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !json.Valid([]byte(s)) {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// asObject makes tool arguments an object: a JSON object string is parsed,
// anything else is wrapped as {"input": …}.
func asObject(v any) map[string]any {
	if s, ok := v.(string); ok {
		if p, ok := parseJSONString(s); ok {
			v = p
		}
	}
	if m, ok := v.(map[string]any); ok {
		return m
	}
	if v == nil {
		return nil
	}
	return map[string]any{"input": v}
}

// asJSON parses a JSON string result, keeping non-JSON text as it is.
func asJSON(v any) any {
	if s, ok := v.(string); ok {
		if p, ok := parseJSONString(s); ok {
			return p
		}
	}
	return v
}

// secretKey reports whether an attribute key names a credential whose value
// must not be stored (its last dot- or slash-separated segment).
func secretKey(k string) bool {
	if i := strings.LastIndexAny(k, "./"); i >= 0 {
		k = k[i+1:]
	}
	k = strings.ReplaceAll(strings.ToLower(k), "-", "_")
	switch k {
	case "authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key", "api_key", "apikey",
		"x_auth_token", "auth_token", "access_token", "refresh_token", "id_token", "token", "bearer",
		"password", "passwd", "secret", "client_secret", "private_key":
		return true
	}
	return false
}

// redacted is what a credential's value is replaced with.
const redacted = "[REDACTED]"

// scrub replaces the values of credential keys inside v (recursively) and
// records their paths.
func scrub(v any, path string, hits *[]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if secretKey(k) && val != nil {
				x[k] = redacted
				*hits = append(*hits, p)
				continue
			}
			x[k] = scrub(val, p, hits)
		}
	case []any:
		for i := range x {
			x[i] = scrub(x[i], path, hits)
		}
	}
	return v
}

// scrubURL drops the user info and the query values of a URL attribute:
// both are where credentials travel.
func scrubURL(s string) (string, bool) {
	changed := false
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			s = s[:i+3] + redacted + "@" + rest[at+1:]
			changed = true
		}
	}
	if q := strings.IndexByte(s, '?'); q >= 0 {
		frag := ""
		if h := strings.IndexByte(s[q:], '#'); h >= 0 {
			frag = s[q+h:]
			s = s[:q+h]
		}
		pairs := strings.Split(s[q+1:], "&")
		for i, p := range pairs {
			if k, _, ok := strings.Cut(p, "="); ok {
				pairs[i] = k + "=" + redacted
				changed = true
			}
		}
		s = s[:q+1] + strings.Join(pairs, "&") + frag
	}
	return s, changed
}

// numeric converts a string that holds a plain number or boolean (Claude
// Code sends every log attribute as a string) to that value.
func numeric(s string) (any, bool) {
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	if s == "" || len(s) > 20 {
		return nil, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) &&
		strings.Trim(s, "0123456789.-") == "" && strings.Count(s, ".") == 1 && s[0] != '.' && s[len(s)-1] != '.' {
		return f, true
	}
	return nil, false
}
