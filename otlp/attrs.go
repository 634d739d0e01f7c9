package otlp

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// attrs reads an OTel attribute map, remembering which keys went into a
// top-level event field so that the rest can be kept under attributes
// without repeating them.
type attrs struct {
	m    pcommon.Map
	used map[string]bool
	// strNums: numbers and booleans may arrive as strings (Claude Code's
	// log attributes) and are converted when kept.
	strNums bool
}

func newAttrs(m pcommon.Map) *attrs { return &attrs{m: m, used: map[string]bool{}} }

// get returns a key's value without marking it used.
func (a *attrs) get(k string) (pcommon.Value, bool) {
	v, ok := a.m.Get(k)
	if !ok || v.Type() == pcommon.ValueTypeEmpty {
		return v, false
	}
	return v, true
}

// peek returns the first non-empty string value among keys, unmarked.
func (a *attrs) peek(keys ...string) string {
	for _, k := range keys {
		if v, ok := a.get(k); ok {
			if s := valueString(v); s != "" {
				return s
			}
		}
	}
	return ""
}

// str returns the first non-empty string among keys and marks as used every
// listed key that holds the same value (duplicates such as session.id and
// gen_ai.conversation.id carrying the same id are not kept twice; a key with
// a different value is kept under attributes).
func (a *attrs) str(keys ...string) string {
	return a.strExcept(nil, keys...)
}

// strExcept is str ignoring values for which skip returns true.
func (a *attrs) strExcept(skip func(string) bool, keys ...string) string {
	got := ""
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok {
			continue
		}
		s := valueString(v)
		if s == "" || skip != nil && skip(s) {
			continue
		}
		if got == "" {
			got = s
		}
		if s == got {
			a.used[k] = true
		}
	}
	return got
}

// integer returns the first key holding an integer (or a string or double
// that is a whole number), marked used.
func (a *attrs) integer(keys ...string) (*int64, bool) {
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok {
			continue
		}
		var n int64
		switch v.Type() {
		case pcommon.ValueTypeInt:
			n = v.Int()
		case pcommon.ValueTypeDouble:
			f := v.Double()
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				continue
			}
			n = int64(f)
		case pcommon.ValueTypeStr:
			p, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64)
			if err != nil {
				continue
			}
			n = p
		default:
			continue
		}
		a.used[k] = true
		return &n, true
	}
	return nil, false
}

// float returns the first key holding a number, marked used.
func (a *attrs) float(keys ...string) (float64, bool) {
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok {
			continue
		}
		var f float64
		switch v.Type() {
		case pcommon.ValueTypeInt:
			f = float64(v.Int())
		case pcommon.ValueTypeDouble:
			f = v.Double()
		case pcommon.ValueTypeStr:
			p, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
			if err != nil {
				continue
			}
			f = p
		default:
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		a.used[k] = true
		return f, true
	}
	return 0, false
}

// boolean returns the first key holding a boolean (or "true"/"false"),
// marked used.
func (a *attrs) boolean(keys ...string) (val, ok bool) {
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok {
			continue
		}
		switch {
		case v.Type() == pcommon.ValueTypeBool:
			a.used[k] = true
			return v.Bool(), true
		case v.Type() == pcommon.ValueTypeStr && (v.Str() == "true" || v.Str() == "false"):
			a.used[k] = true
			return v.Str() == "true", true
		}
	}
	return false, false
}

// raw returns the first present key's value as plain Go data, marked used.
func (a *attrs) raw(keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := a.get(k); ok {
			a.used[k] = true
			return toAny(v), true
		}
	}
	return nil, false
}

func (a *attrs) use(keys ...string) {
	for _, k := range keys {
		a.used[k] = true
	}
}

// usage reads token counts under the current and old GenAI names, Claude
// Code's own names and OpenClaw's.
func (a *attrs) usage() usage {
	var u usage
	u.input, _ = a.integer("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "openclaw.tokens.input",
		"openclaw.model_call.usage.input", "input_tokens", "llm.usage.prompt_tokens")
	u.output, _ = a.integer("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "openclaw.tokens.output",
		"openclaw.model_call.usage.output", "output_tokens", "llm.usage.completion_tokens")
	u.cacheRead, _ = a.integer("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
		"openclaw.tokens.cache_read", "openclaw.model_call.usage.cache_read", "cache_read_tokens")
	u.cacheWrite, _ = a.integer("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
		"gen_ai.usage.cache_creation_input_tokens", "openclaw.tokens.cache_write", "openclaw.model_call.usage.cache_write",
		"cache_creation_tokens")
	u.total, _ = a.integer("gen_ai.usage.total_tokens", "openclaw.tokens.total", "openclaw.model_call.usage.total",
		"llm.usage.total_tokens")
	// The duplicate copies Claude Code sends under its own names.
	for _, k := range []struct {
		p *int64
		k string
	}{{u.input, "input_tokens"}, {u.output, "output_tokens"}, {u.cacheRead, "cache_read_tokens"}, {u.cacheWrite, "cache_creation_tokens"}} {
		if v, ok := a.get(k.k); ok && k.p != nil && v.Type() == pcommon.ValueTypeInt && v.Int() == *k.p {
			a.used[k.k] = true
		}
	}
	return u
}

// rest returns the attributes not used, as plain Go data, with the values
// of credential keys replaced (their paths appended to hits).
func (a *attrs) rest(hits *[]string) map[string]any {
	out := map[string]any{}
	for k, v := range a.m.All() {
		if a.used[k] {
			continue
		}
		val := toAny(v)
		if a.strNums && v.Type() == pcommon.ValueTypeStr && !textKey(k) {
			if n, ok := numeric(v.Str()); ok {
				val = n
			}
		}
		putKey(out, k, val)
	}
	return clean(out, hits)
}

// putKey stores v under k made valid UTF-8 (JSON would otherwise rewrite
// it, and two keys that differ only in invalid bytes would become one
// duplicated key, which the server refuses).
func putKey(m map[string]any, k string, v any) {
	if !utf8.ValidString(k) {
		k = strings.ToValidUTF8(k, "\uFFFD")
		for base, i := k, 2; ; i++ {
			if _, taken := m[k]; !taken {
				break
			}
			k = base + "#" + strconv.Itoa(i)
		}
	}
	m[k] = v
}

// clean scrubs credentials from kept attributes.
func clean(m map[string]any, hits *[]string) map[string]any {
	for k, v := range m {
		if s, ok := v.(string); ok && urlKey(k) {
			scrubbed := scrubURL
			if k == "url.query" {
				// The query alone, without its '?'.
				scrubbed = func(q string) (string, bool) {
					u, changed := scrubURL("?" + q)
					return u[1:], changed
				}
			}
			if u, changed := scrubbed(s); changed {
				m[k] = u
				*hits = append(*hits, k)
			}
		}
	}
	scrub(m, "", hits)
	return m
}

func urlKey(k string) bool {
	switch k {
	case "url.full", "http.url", "url.query", "http.target", "url.original":
		return true
	}
	return false
}

// textKey: string attributes that stay strings even when they look numeric
// (ids, free text).
func textKey(k string) bool {
	if strings.HasSuffix(k, "id") || strings.HasSuffix(k, "_name") || strings.HasSuffix(k, ".name") {
		return true
	}
	switch k {
	case "prompt", "prompt_text", "response", "tool_input", "tool_parameters", "error", "full_command",
		"model", "version", "app.version", "service.version":
		return true
	}
	return false
}

// mapToAny converts a whole attribute map (resource attributes, span event
// attributes).
func mapToAny(m pcommon.Map, hits *[]string) map[string]any {
	out := make(map[string]any, m.Len())
	for k, v := range m.All() {
		putKey(out, k, toAny(v))
	}
	return clean(out, hits)
}

// toAny converts an attribute value to plain Go data that encodes to JSON:
// bytes as base64, non-finite doubles as strings.
func toAny(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return f
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeMap:
		out := make(map[string]any, v.Map().Len())
		for k, e := range v.Map().All() {
			putKey(out, k, toAny(e))
		}
		return out
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, s.Len())
		for i := 0; i < s.Len(); i++ {
			out[i] = toAny(s.At(i))
		}
		return out
	}
	return nil
}

// valueString renders a scalar value as a string ("" for maps, slices,
// bytes and empty values).
func valueString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt, pcommon.ValueTypeDouble, pcommon.ValueTypeBool:
		return v.AsString()
	}
	return ""
}
