package otlp

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// ClaudeCodeScope is the instrumentation scope of Claude Code's log events.
const ClaudeCodeScope = "com.anthropic.claude_code.events"

// Logs maps every log record of ld that is agent activity to an event.
func Logs(ld plog.Logs, o Options) Result {
	o = o.withDefaults()
	var r Result
	for _, rl := range ld.ResourceLogs().All() {
		src := newSource(rl.Resource().Attributes(), "logs")
		for _, sl := range rl.ScopeLogs().All() {
			src.setScope(sl.Scope().Name(), sl.Scope().Version())
			for _, lr := range sl.LogRecords().All() {
				e, reason := src.logRecord(lr)
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

// logRecord maps one log record, or returns the reason it is skipped.
func (s *source) logRecord(lr plog.LogRecord) (*event, string) {
	a := newAttrs(lr.Attributes())
	body := lr.Body()
	bodyStr := ""
	if body.Type() == pcommon.ValueTypeStr {
		bodyStr = body.Str()
	}
	name := lr.EventName()
	if name == "" {
		name = a.peek("event.name")
	}
	agentEvents := strings.HasPrefix(bodyStr, "claude_code.") || strings.HasPrefix(bodyStr, "codex.")
	switch {
	case agentEvents || s.scope == ClaudeCodeScope && name != "":
		evName := bodyStr
		if !agentEvents {
			evName = "claude_code." + strings.TrimPrefix(name, "claude_code.")
		}
		e := s.logBase(lr, a)
		a.strNums = true
		e.agentLog(evName, a)
		s.finish(e, a)
		return e, ""
	case strings.HasPrefix(name, "gen_ai."):
		e := s.logBase(lr, a)
		e.genAILog(name, a, body)
		s.finish(e, a)
		return e, ""
	case s.scope == "openclaw" || strings.HasPrefix(bodyStr, "openclaw."):
		sev := lr.SeverityNumber()
		switch {
		case bodyStr == "openclaw.security.event":
			e := s.logBase(lr, a)
			e.Type = "openclaw.security.event"
			s.finish(e, a)
			return e, ""
		case sev >= plog.SeverityNumberWarn:
			e := s.logBase(lr, a)
			e.Type = "openclaw.log"
			e.Content = bodyStr
			if sev >= plog.SeverityNumberError {
				e.Status = "error"
			}
			if bodyStr == "" && body.Type() != pcommon.ValueTypeEmpty {
				e.attr("otlp.body", toAny(body))
			}
			s.finish(e, a)
			return e, ""
		}
		return nil, SkipOperational
	}
	return nil, SkipNotAgent
}

func (s *source) logBase(lr plog.LogRecord, a *attrs) *event {
	e := s.base()
	e.idPrefix = "otlp.log."
	e.TraceID = traceID(lr.TraceID())
	e.SpanID = spanID(lr.SpanID())
	if t := lr.Timestamp(); t != 0 {
		e.setTime(uint64(t))
	} else {
		e.setTime(uint64(lr.ObservedTimestamp()))
	}
	if t := lr.SeverityText(); t != "" {
		e.attr("otlp.severity", t)
	} else if n := lr.SeverityNumber(); n != plog.SeverityNumberUnspecified {
		e.attr("otlp.severity", n.String())
	}
	if n := lr.EventName(); n != "" {
		e.attr("otlp.event_name", n)
	}
	s.identity(e, a)
	return e
}

// agentLog maps Claude Code's log events (and Codex's, which share their
// shape): every attribute is a string, numbers included.
func (e *event) agentLog(name string, a *attrs) {
	a.use("event.name", "event.timestamp")
	e.Type = validType(name)
	_, short, _ := strings.Cut(name, ".")
	toolID := func() {
		if id := a.str("tool_use_id", "call_id", "gen_ai.tool.call.id"); id != "" {
			e.attr("tool_call_id", id)
		}
	}
	switch short {
	case "user_prompt":
		e.Type = TypePrompt
		e.Content = a.str("prompt", "prompt_text")
	case "api_request", "api_error":
		// One request to the model provider's API: model, usage, cost and
		// latency. The text it returned is the assistant_response event.
		e.Type = TypeAPICall
		e.Model = a.str("model")
		e.setUsage(a.usage(), true)
		if d, ok := a.float("duration_ms"); ok {
			e.setDuration(d)
		}
		if code, ok := a.integer("status_code", "http.response.status_code"); ok {
			e.StatusCode = code
		}
		e.Status = "success"
		if short == "api_error" {
			e.Status = "error"
			e.Error = a.str("error")
			if e.Error == "" {
				e.Error = "API error"
			}
		}
	case "assistant_response":
		e.Type = TypeOutput
		e.Content = a.str("response")
		e.Model = a.str("model")
	case "tool_decision":
		e.Type = TypeApproval
		e.Decision = decision(a.str("decision"))
		e.Status = e.Decision
		e.Approver = a.str("source")
		e.Tool = a.str("tool_name")
		if p := a.str("tool_parameters", "arguments"); p != "" {
			e.Arguments = asObject(p)
		}
		toolID()
	case "tool_result":
		e.Type = TypeToolCall
		e.Tool = a.str("tool_name")
		if in := a.str("tool_input", "arguments"); in != "" {
			e.Arguments = asObject(in)
			if p, ok := a.get("tool_parameters"); ok {
				// The summary Claude Code also sends; kept parsed.
				a.use("tool_parameters")
				if v := asObject(p.Str()); v != nil {
					e.attr("tool_parameters", v)
				}
			}
		} else if p := a.str("tool_parameters"); p != "" {
			e.Arguments = asObject(p)
		}
		if out := a.str("output", "tool_result"); out != "" {
			e.Result = asJSON(out)
		}
		if ok, present := a.boolean("success"); present {
			e.Status = "success"
			if !ok {
				e.Status = "error"
				e.Error = a.str("error")
				if e.Error == "" {
					e.Error = "tool failed"
				}
			}
		}
		if d, ok := a.float("duration_ms"); ok {
			e.setDuration(d)
		}
		toolID()
	default:
		if d, ok := a.float("duration_ms", "total_duration_ms"); ok {
			e.setDuration(d)
		}
		if ok, present := a.boolean("success"); present {
			e.Status = "success"
			if !ok {
				e.Status = "error"
				e.Error = a.str("error")
			}
		}
	}
}

// genAILog maps GenAI semantic-convention log events.
func (e *event) genAILog(name string, a *attrs, body pcommon.Value) {
	raw := toAny(body)
	bodyMap, _ := raw.(map[string]any)
	text := ""
	switch {
	case bodyMap != nil:
		text = messageText(bodyMap)
	default:
		if s, ok := raw.(string); ok {
			text = s
		}
	}
	e.Model = a.str("gen_ai.response.model", "gen_ai.request.model")
	e.Type = validType(name)
	switch name {
	case "gen_ai.user.message":
		e.Type = TypePrompt
		e.Content = text
	case "gen_ai.assistant.message", "gen_ai.choice":
		e.Type = TypeOutput
		e.Content = text
		if bodyMap != nil && hasNonText(bodyMap) || bodyMap != nil && bodyMap["message"] != nil && hasNonText(asMap(bodyMap["message"])) {
			e.Result = bodyMap
		}
	case "gen_ai.client.inference.operation.details":
		e.Type = TypeOutput
		e.setUsage(a.usage(), true)
		in := inputOf(a, events{})
		if in.messages != nil || in.system != nil {
			e.Arguments = map[string]any{}
			if in.messages != nil {
				e.Arguments["input_messages"] = in.messages
			}
			if in.system != nil {
				e.Arguments["system_instructions"] = in.system
			}
		}
		out := outputOf(a, events{})
		e.Content = out.text
		if out.structured {
			e.Result = out.messages
		}
	default:
		e.Content = text
		if bodyMap != nil {
			if id, ok := bodyMap["id"].(string); ok && id != "" {
				e.attr("tool_call_id", id)
			}
		}
	}
	if bodyMap != nil && e.Result == nil && text == "" {
		e.attr("otlp.body", bodyMap)
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
