package otlp

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Event types this package writes besides the open-ended own-name types.
const (
	TypePrompt   = "prompt"
	TypeToolCall = "tool_call"
	TypeOutput   = "output"
	TypeAPICall  = "api_call"
	TypeApproval = "approval"
	TypeAgentRun = "agent_run"
)

// Traces maps every span of td that is agent activity to an event.
func Traces(td ptrace.Traces, o Options) Result {
	o = o.withDefaults()
	var r Result
	for _, rs := range td.ResourceSpans().All() {
		src := newSource(rs.Resource().Attributes(), "traces")
		for _, ss := range rs.ScopeSpans().All() {
			src.setScope(ss.Scope().Name(), ss.Scope().Version())
			for _, sp := range ss.Spans().All() {
				e, reason := src.span(sp)
				if e == nil {
					r.skip(reason)
					continue
				}
				if !r.add(e.encode(o), o) {
					return r
				}
			}
		}
	}
	return r
}

// source is what every event from one resource and scope shares.
type source struct {
	signal   string
	res      *attrs
	resource map[string]any
	service  string
	scope    string
	scopeVer string
	hits     []string // resource attributes scrubbed
}

func newSource(res pcommon.Map, signal string) *source {
	s := &source{signal: signal, res: newAttrs(res)}
	s.resource = mapToAny(res, &s.hits)
	s.service = s.res.peek("service.name")
	return s
}

func (s *source) setScope(name, version string) { s.scope, s.scopeVer = name, version }

// base starts an event with what every event carries: the capture path
// and the resource's attributes.
func (s *source) base() *event {
	e := &event{}
	e.attr("otlp.signal", s.signal)
	if s.scope != "" {
		e.attr("otlp.scope", s.scope)
		if s.scopeVer != "" {
			e.attr("otlp.scope_version", s.scopeVer)
		}
	}
	if len(s.resource) > 0 {
		e.attr("resource", s.resource)
	}
	return e
}

func isUnknown(v string) bool { return v == "unknown" }

// identity fills session, user, agent and channel from the span's or
// record's attributes, then the resource's. OpenClaw exports "unknown"
// where it withholds an id; that is treated as absent.
func (s *source) identity(e *event, a *attrs) {
	sessionKeys := []string{"session.id", "gen_ai.conversation.id", "openclaw.sessionId", "openclaw.session.id",
		"openclaw.sessionKey", "openclaw.session.key", "conversation.id"}
	userKeys := []string{"user.id", "enduser.id", "user.email", "user.account_uuid", "user.name"}
	agentKeys := []string{"gen_ai.agent.id", "gen_ai.agent.name", "openclaw.agent", "openclaw.agentId", "openclaw.agent.id"}
	e.SessionID = a.strExcept(isUnknown, sessionKeys...)
	if e.SessionID == "" {
		e.SessionID = s.res.strExcept(isUnknown, sessionKeys...)
	}
	e.UserID = a.strExcept(isUnknown, userKeys...)
	if e.UserID == "" {
		e.UserID = s.res.strExcept(isUnknown, userKeys...)
	}
	e.AgentID = a.strExcept(isUnknown, agentKeys...)
	if e.AgentID == "" {
		e.AgentID = s.res.strExcept(isUnknown, agentKeys...)
	}
	if e.AgentID == "" {
		e.AgentID = s.service
	}
	e.Channel = a.strExcept(isUnknown, "openclaw.channel", "openclaw.message.channel")
}

// finish keeps the attributes not mapped to a field, scrubbed of
// credentials, beside the otlp.* and resource attributes base set.
func (s *source) finish(e *event, a *attrs) {
	hits := append([]string(nil), s.hits...)
	for i := range hits {
		hits[i] = "resource." + hits[i]
	}
	for k, v := range a.rest(&hits) {
		if _, taken := e.Attributes[k]; taken || k == "truncated" {
			k = "otlp.attr." + k
		}
		e.attr(k, v)
	}
	if body, ok := e.Attributes["otlp.body"]; ok {
		// A log record's structured body (a header map, a request) is
		// scrubbed like its attributes.
		scrub(body, "otlp.body", &hits)
	}
	if e.Arguments != nil {
		var argHits []string
		scrub(e.Arguments, "", &argHits)
		for _, h := range argHits {
			hits = append(hits, "arguments."+h)
		}
	}
	if len(hits) > 0 {
		sort.Strings(hits)
		list := make([]any, len(hits))
		for i, h := range hits {
			list[i] = h
		}
		e.attr("otlp.redacted", list)
	}
}

// GenAI operation names (gen_ai.operation.name, or a span name's first
// word): the current semantic conventions and the older tool_call.
var genAIOps = map[string]string{
	"chat":             TypeOutput,
	"text_completion":  TypeOutput,
	"generate_content": TypeOutput,
	"completion":       TypeOutput,
	"execute_tool":     TypeToolCall,
	"tool_call":        TypeToolCall,
	"invoke_agent":     TypeAgentRun,
	"create_agent":     "gen_ai.create_agent",
	"embeddings":       "gen_ai.embeddings",
}

// operation returns the GenAI operation of a span and the rest of its name
// ("chat gpt-4" → chat, gpt-4; "execute_tool search" → execute_tool, search).
func operation(a *attrs, name string) (op, rest string) {
	first, rest, _ := strings.Cut(strings.TrimSpace(name), " ")
	op = a.peek("gen_ai.operation.name")
	if op == "" {
		if _, ok := genAIOps[first]; ok {
			op = first
		}
	} else if first != op {
		rest = ""
	}
	return op, strings.TrimSpace(rest)
}

// OpenClaw spans that are agent activity but not one of the standard
// types: kept under their own names.
var openclawOwn = map[string]bool{
	"openclaw.exec":              true,
	"openclaw.model.usage":       true,
	"openclaw.message.processed": true,
	"openclaw.message.delivery":  true,
	"openclaw.tool.loop":         true,
	"openclaw.skill.used":        true,
}

func (s *source) claudeScope() bool {
	return strings.Contains(s.scope, "claude_code") || s.service == "claude-code"
}

// span maps one span, or returns the reason it is skipped.
func (s *source) span(sp ptrace.Span) (*event, string) {
	a := newAttrs(sp.Attributes())
	name := sp.Name()
	op, nameRest := operation(a, name)

	kind := ""
	switch {
	case strings.HasPrefix(name, "claude_code.") || s.claudeScope() && strings.HasPrefix(name, "tool."):
		switch strings.TrimPrefix(name, "claude_code.") {
		case "tool.blocked_on_user":
			kind = TypeApproval
		case "tool.execution":
			// The tool's outcome; the tool_call itself is the parent
			// claude_code.tool span (it alone exists for denied tools too).
			kind = "claude_code.tool.execution"
		case "tool":
			kind = TypeToolCall
		case "interaction":
			kind = TypeAgentRun
		case "llm_request":
			kind = TypeOutput
		default:
			if k, ok := genAIOps[op]; ok {
				kind = k
			} else {
				kind = validType(name)
			}
		}
	case strings.HasPrefix(name, "openclaw."):
		switch {
		case name == "openclaw.run" || name == "openclaw.harness.run":
			kind = TypeAgentRun
		case name == "openclaw.model.call":
			kind = TypeOutput
		case name == "openclaw.tool.execution":
			kind = TypeToolCall
		case openclawOwn[name] || strings.HasPrefix(name, "openclaw.message."):
			kind = validType(name)
		default:
			return nil, SkipOperational
		}
	case genAIOps[op] != "":
		kind = genAIOps[op]
	case sp.Kind() == ptrace.SpanKindClient && a.peek("http.request.method", "http.method") != "":
		kind = TypeAPICall
	default:
		return nil, SkipNotAgent
	}

	e := s.base()
	e.Type = kind
	e.TraceID = traceID(sp.TraceID())
	e.SpanID = spanID(sp.SpanID())
	e.ParentID = spanID(sp.ParentSpanID())
	if e.TraceID != "" && e.SpanID != "" {
		e.ID = "otlp." + e.TraceID + "." + e.SpanID
	}
	e.setTime(uint64(sp.StartTimestamp()))
	if st, en := sp.StartTimestamp(), sp.EndTimestamp(); st != 0 && en >= st {
		e.setDuration(float64(en-st) / float64(time.Millisecond))
	}
	e.attr("otlp.span_name", name)
	e.attr("otlp.span_kind", strings.ToLower(sp.Kind().String()))
	s.identity(e, a)

	ev := spanEvents(sp, e)
	e.spanStatus(sp, a, ev)

	switch kind {
	case TypeToolCall:
		e.toolCall(a, nameRest)
		if name == "claude_code.tool" {
			// tool_name is the name Claude Code's hooks and log events use
			// (mcp__server__tool); gen_ai.tool.name drops the MCP prefix.
			if tn := a.peek("tool_name"); tn != "" && tn != e.Tool {
				delete(a.used, "gen_ai.tool.name")
				a.use("tool_name")
				e.Tool = tn
			}
			e.claudeToolInput(a)
			if sp.Status().Code() != ptrace.StatusCodeError {
				// Unset here says nothing: the outcome is on the child
				// tool.execution and tool.blocked_on_user spans.
				e.Status = ""
			}
		}
	case TypeAgentRun:
		e.agentRun(a, ev)
	case TypeOutput:
		e.output(a, ev, nameRest)
	case TypeApproval:
		e.approval(a)
	case TypeAPICall:
		e.apiCall(a)
	case "claude_code.tool.execution":
		if id := a.str("gen_ai.tool.call.id", "tool_use_id"); id != "" {
			e.attr("tool_call_id", id)
		}
	case "openclaw.model.usage":
		// A run-level aggregate of the model calls' usage: usage is kept,
		// tokens_used is not, so summing tokens_used over output events
		// does not count the same tokens twice.
		e.Model = a.str("gen_ai.response.model", "gen_ai.request.model", "openclaw.model")
		e.setUsage(a.usage(), false)
	default:
		if m := a.str("gen_ai.response.model", "gen_ai.request.model", "openclaw.model"); m != "" {
			e.Model = m
		}
		if kind == "gen_ai.embeddings" {
			e.setUsage(a.usage(), true)
		}
	}
	if len(ev.other) > 0 {
		e.attr("otlp.events", ev.other)
	}
	if n := sp.Links().Len(); n > 0 {
		links := make([]any, 0, n)
		for _, l := range sp.Links().All() {
			links = append(links, map[string]any{"trace_id": traceID(l.TraceID()), "span_id": spanID(l.SpanID())})
		}
		e.attr("otlp.links", links)
	}
	if n := sp.DroppedAttributesCount(); n > 0 {
		e.attr("otlp.dropped_attributes_count", int64(n))
	}
	s.finish(e, a)
	return e, ""
}

// events are a span's events: old-style GenAI content events and
// exceptions are read; the rest are kept under attributes.otlp.events.
type events struct {
	prompt, completion string
	exception          string
	other              []any
}

func spanEvents(sp ptrace.Span, e *event) events {
	var ev events
	for _, se := range sp.Events().All() {
		a := newAttrs(se.Attributes())
		switch se.Name() {
		case "gen_ai.content.prompt":
			if p := a.str("gen_ai.prompt"); p != "" {
				ev.prompt = p
				continue
			}
		case "gen_ai.content.completion":
			if c := a.str("gen_ai.completion"); c != "" {
				ev.completion = c
				continue
			}
		case "exception":
			if ev.exception == "" {
				ev.exception = strings.TrimSpace(a.peek("exception.type") + ": " + a.peek("exception.message"))
				ev.exception = strings.TrimPrefix(ev.exception, ": ")
			}
		}
		item := map[string]any{"name": se.Name()}
		if t := se.Timestamp(); t != 0 {
			item["time"] = time.Unix(0, int64(t)).UTC().Format(time.RFC3339Nano)
		}
		var hits []string
		if rest := a.rest(&hits); len(rest) > 0 {
			item["attributes"] = rest
		}
		ev.other = append(ev.other, item)
	}
	return ev
}

// spanStatus sets status and error from the span's status, a success
// attribute (Claude Code) and OpenClaw's outcome.
func (e *event) spanStatus(sp ptrace.Span, a *attrs, ev events) {
	st := sp.Status()
	e.Status = "success"
	if st.Code() == ptrace.StatusCodeError {
		e.Status = "error"
		e.Error = st.Message()
	}
	if ok, present := a.boolean("success"); present && !ok {
		e.Status = "error"
	}
	switch outcome := a.peek("openclaw.outcome"); outcome {
	case "":
	case "blocked", "denied":
		a.use("openclaw.outcome")
		e.Status = "blocked"
		e.Reason = a.str("openclaw.deniedReason", "openclaw.blocked_by")
	case "error", "failed", "failure", "timeout", "timed_out":
		a.use("openclaw.outcome")
		e.Status = "error"
	case "ok", "success", "completed", "succeeded":
		a.use("openclaw.outcome")
		if e.Status != "error" {
			e.Status = "success"
		}
	default:
		// Another outcome (cancelled, aborted, …) is kept as it is.
		a.use("openclaw.outcome")
		e.Status = validType(outcome)
	}
	if e.Status == "error" && e.Error == "" {
		e.Error = a.str("error", "openclaw.error")
		if e.Error == "" {
			e.Error = ev.exception
		}
		if e.Error == "" {
			e.Error = a.peek("openclaw.errorCategory", "openclaw.failureKind", "error.type")
		}
		if e.Error == "" {
			e.Error = "error"
		}
	}
}

// toolCall fills a tool_call from GenAI and OpenClaw attributes.
func (e *event) toolCall(a *attrs, nameRest string) {
	e.Tool = a.str("gen_ai.tool.name", "openclaw.toolName", "tool_name", "tool_name_safe", "tool.name")
	if e.Tool == "" {
		e.Tool = nameRest
	}
	if args := a.str("gen_ai.tool.call.arguments", "openclaw.content.tool_input"); args != "" {
		e.Arguments = asObject(args)
	} else if v, ok := a.raw("gen_ai.tool.call.arguments"); ok {
		e.Arguments = asObject(v)
	}
	if res := a.str("gen_ai.tool.call.result", "openclaw.content.tool_output"); res != "" {
		e.Result = asJSON(res)
	} else if v, ok := a.raw("gen_ai.tool.call.result"); ok {
		e.Result = v
	}
	if id := a.str("gen_ai.tool.call.id", "tool_use_id", "openclaw.toolCallId"); id != "" {
		e.attr("tool_call_id", id)
	}
}

// claudeToolInput: Claude Code's tool span carries the command or file it
// acts on as plain attributes; they are the call's arguments.
func (e *event) claudeToolInput(a *attrs) {
	if e.Arguments != nil {
		return
	}
	for _, k := range []string{"full_command", "file_path", "path", "pattern", "url", "query"} {
		if v := a.str(k); v != "" {
			if e.Arguments == nil {
				e.Arguments = map[string]any{}
			}
			e.Arguments[k] = v
		}
	}
}

// agentRun: content is the prompt that started the run, result the final
// output text when captured.
func (e *event) agentRun(a *attrs, ev events) {
	e.Model = a.str("gen_ai.response.model", "gen_ai.request.model", "openclaw.model")
	e.setUsage(a.usage(), true)
	in := inputOf(a, ev)
	e.Content = a.str("user_prompt")
	if e.Content == "" {
		e.Content = in.lastUser
	}
	if in.messages != nil {
		e.Arguments = map[string]any{"input_messages": in.messages}
	}
	if out := outputOf(a, ev); out.text != "" {
		e.Result = out.text
	}
}

// output is a model call: model, usage, the output text as content, and
// the input (messages, prompt, system instructions) as arguments when
// captured. The input is not a separate prompt event: it is the whole
// conversation resent on every call (docs/integrations/opentelemetry.md).
func (e *event) output(a *attrs, ev events, nameRest string) {
	e.Model = a.str("gen_ai.response.model", "gen_ai.request.model", "openclaw.model", "model")
	if e.Model == "" {
		e.Model = nameRest
	}
	e.setUsage(a.usage(), true)
	in := inputOf(a, ev)
	if in.messages != nil || in.system != nil {
		e.Arguments = map[string]any{}
		if in.messages != nil {
			e.Arguments["input_messages"] = in.messages
		}
		if in.system != nil {
			e.Arguments["system_instructions"] = in.system
		}
	}
	out := outputOf(a, ev)
	e.Content = out.text
	if out.structured {
		e.Result = out.messages
	}
}

type input struct {
	messages any // what was sent (messages array, or the prompt string)
	system   any
	lastUser string
}

// inputOf reads the input of a model call or agent run: the current
// gen_ai.input.messages, the old gen_ai.prompt (a string or JSON), the old
// indexed gen_ai.prompt.N.* attributes, OpenClaw's copy, or the old span
// event.
func inputOf(a *attrs, ev events) input {
	var in input
	in.messages = messagesOf(a, []string{"gen_ai.input.messages", "openclaw.content.input_messages", "input.value"},
		"gen_ai.prompt", ev.prompt, "input.mime_type")
	if sys := a.str("gen_ai.system_instructions", "openclaw.content.system_prompt"); sys != "" {
		in.system = asJSON(sys)
	}
	switch m := in.messages.(type) {
	case string:
		in.lastUser = m
	case []any:
		for i := len(m) - 1; i >= 0; i-- {
			if msg, ok := m[i].(map[string]any); ok && msg["role"] == "user" {
				if t := messageText(msg); t != "" {
					in.lastUser = t
					break
				}
			}
		}
	}
	return in
}

// messagesOf reads one direction of a model call's messages, in order of
// preference: the current attribute or its copies (keys, as JSON text), the
// old flat attribute (old, e.g. gen_ai.prompt), the old span event
// (fromEvent), the current attribute as a structured value, or the old
// indexed attributes (old + ".N.*"). It marks mime (the copies' MIME type)
// used when it finds any.
func messagesOf(a *attrs, keys []string, old, fromEvent, mime string) any {
	raw := a.str(keys...)
	if raw == "" {
		raw = a.str(old)
	}
	if raw == "" {
		raw = fromEvent
	}
	var m any
	if raw != "" {
		m = asJSON(raw)
	} else if v, ok := a.raw(keys[0]); ok {
		m = v
	} else if msgs := indexed(a, old+"."); msgs != nil {
		m = msgs
	}
	if m != nil {
		a.use(mime)
	}
	return m
}

type output struct {
	text       string
	messages   any
	structured bool // has parts other than text (tool calls the model asked for)
}

func outputOf(a *attrs, ev events) output {
	var out output
	out.messages = messagesOf(a, []string{"gen_ai.output.messages", "openclaw.content.output_messages", "output.value"},
		"gen_ai.completion", ev.completion, "output.mime_type")
	switch m := out.messages.(type) {
	case string:
		out.text = m
	case []any:
		var texts []string
		for _, item := range m {
			msg, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if t := messageText(msg); t != "" {
				texts = append(texts, t)
			}
			if hasNonText(msg) {
				out.structured = true
			}
		}
		out.text = strings.Join(texts, "\n")
	case map[string]any:
		out.text = messageText(m)
		out.structured = hasNonText(m)
	}
	return out
}

// messageText joins a GenAI message's text: parts[].content (current
// semconv), content as a string (older and OpenAI style), or content[].text.
func messageText(msg map[string]any) string {
	var texts []string
	collect := func(parts []any) {
		for _, p := range parts {
			part, ok := p.(map[string]any)
			if !ok {
				if s, ok := p.(string); ok {
					texts = append(texts, s)
				}
				continue
			}
			if t, _ := part["type"].(string); t != "" && t != "text" {
				continue
			}
			if s, ok := part["content"].(string); ok {
				texts = append(texts, s)
			} else if s, ok := part["text"].(string); ok {
				texts = append(texts, s)
			}
		}
	}
	if parts, ok := msg["parts"].([]any); ok {
		collect(parts)
	}
	switch c := msg["content"].(type) {
	case string:
		texts = append(texts, c)
	case []any:
		collect(c)
	}
	if m, ok := msg["message"].(map[string]any); ok { // a choice
		if t := messageText(m); t != "" {
			texts = append(texts, t)
		}
	}
	return strings.Join(texts, "\n")
}

func hasNonText(msg map[string]any) bool {
	for _, key := range []string{"parts", "content"} {
		if parts, ok := msg[key].([]any); ok {
			for _, p := range parts {
				if part, ok := p.(map[string]any); ok {
					if t, _ := part["type"].(string); t != "" && t != "text" {
						return true
					}
				}
			}
		}
	}
	_, calls := msg["tool_calls"]
	return calls
}

// indexed collects old indexed attributes (gen_ai.prompt.0.role,
// gen_ai.prompt.0.content, …) into messages.
func indexed(a *attrs, prefix string) []any {
	byIndex := map[int]map[string]any{}
	for k, v := range a.m.All() {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || n > 10000 {
			continue
		}
		if byIndex[n] == nil {
			byIndex[n] = map[string]any{}
		}
		byIndex[n][field] = toAny(v)
		a.used[k] = true
	}
	if len(byIndex) == 0 {
		return nil
	}
	keys := make([]int, 0, len(byIndex))
	for k := range byIndex {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = byIndex[k]
	}
	return out
}

// approval is Claude Code's tool.blocked_on_user: the permission decision
// for one tool use (accept → approved, reject → denied) and who made it
// (source: config, hook, user, …).
func (e *event) approval(a *attrs) {
	e.Decision = decision(a.str("decision"))
	e.Status = e.Decision
	e.Approver = a.str("source")
	e.Tool = a.str("gen_ai.tool.name", "tool_name")
	if id := a.str("gen_ai.tool.call.id", "tool_use_id"); id != "" {
		e.attr("tool_call_id", id)
	}
}

func decision(d string) string {
	switch strings.ToLower(d) {
	case "accept", "allow", "approve", "approved", "yes":
		return "approved"
	case "reject", "deny", "denied", "block", "no":
		return "denied"
	case "":
		return ""
	}
	return validType(d)
}

// apiCall maps an HTTP client span.
func (e *event) apiCall(a *attrs) {
	e.Method = a.str("http.request.method", "http.method")
	full := a.peek("url.full", "http.url")
	host, path := splitURL(full)
	e.Destination = a.str("server.address", "net.peer.name", "http.host")
	if e.Destination == "" {
		e.Destination = host
	}
	e.Endpoint = a.str("url.path")
	if e.Endpoint == "" {
		e.Endpoint = path
	}
	if e.Endpoint == "" {
		if t := a.peek("http.target"); t != "" {
			e.Endpoint, _, _ = strings.Cut(t, "?")
		}
	}
	if code, ok := a.integer("http.response.status_code", "http.status_code"); ok {
		e.StatusCode = code
		if *code >= 400 && e.Status != "error" {
			e.Status = "error"
			e.Error = "HTTP " + strconv.FormatInt(*code, 10)
		}
	}
}

// splitURL returns a URL's host and path (no query).
func splitURL(u string) (host, path string) {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "", ""
	}
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	host, path, _ = strings.Cut(rest, "/")
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	return host, "/" + path
}

func traceID(id pcommon.TraceID) string {
	if id.IsEmpty() {
		return ""
	}
	return id.String()
}

func spanID(id pcommon.SpanID) string {
	if id.IsEmpty() {
		return ""
	}
	return id.String()
}
