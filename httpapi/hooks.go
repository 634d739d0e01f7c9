package httpapi

import (
	"fmt"
	"net/http"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/claudecode"
)

// maxHookHeader bounds the identity headers a hook may send.
const maxHookHeader = 256

// handleClaudeCodeHook is POST /v1/hooks/claude-code: Claude Code's HTTP
// hooks. The body is the hook payload; X-Clawtrail-User, X-Clawtrail-Agent
// and X-Clawtrail-Channel name who and what (Claude Code expands
// environment variables in hook headers). The call is recorded as one
// event, and the server's deny rules (Config.ClaudeCode) may refuse it:
// the answer is then Claude Code's refusal JSON. A refusal is answered
// even when recording it failed, so that a rule never depends on storage;
// the failure is logged.
func (s *Server) handleClaudeCodeHook(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	if s.hookRulesErr != nil {
		s.writeError(w, r, fmt.Errorf("the server's Claude Code deny rules are invalid: %w", s.hookRulesErr))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := claudecode.Parse(body)
	if err != nil {
		s.writeError(w, r, &clawtrail.InvalidError{Message: err.Error()})
		return
	}
	o := claudecode.Options{Now: s.now, MaxEventBytes: s.cfg.Limits.MaxEventBytes}
	for _, h := range []struct {
		name string
		dst  *string
	}{{"X-Clawtrail-User", &o.User}, {"X-Clawtrail-Agent", &o.Agent}, {"X-Clawtrail-Channel", &o.Channel}} {
		v := r.Header.Get(h.name)
		if len(v) > maxHookHeader {
			s.writeError(w, r, &clawtrail.InvalidError{Message: h.name + " is over 256 bytes"})
			return
		}
		*h.dst = v
	}
	e := claudecode.Map(p, o)
	rule, answer, err := s.cfg.ClaudeCode.Apply(p, &e, c.tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	line, err := e.MarshalJSON()
	if err == nil {
		var events []clawtrail.Pending
		if events, err = s.dec.Decode(line, true); err == nil {
			_, _, err = s.commit(r, c, events)
		}
	}
	if err != nil {
		if rule == nil {
			s.writeCommitError(w, r, err)
			return
		}
		s.log.Error("claude-code hook: refused a call but could not record it", "rule", rule.Query, "err", err)
	}
	if rule != nil {
		s.metrics.hookRefusals.Inc()
	}
	if answer == nil {
		answer = []byte("{}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(answer)
}
