package httpapi

import (
	"fmt"
	"net/http"

	"github.com/clawtrail/clawtrail"
)

// AgentHook maps one hook call of an agent to an event and the answer the
// agent expects (claudecode.HTTPHook for Claude Code). It is an interface
// so that this package does not depend on the integrations.
type AgentHook interface {
	// Hook returns the event as one JSON line for tenant, within
	// maxEventBytes; the answer (nil: "{}"); and the rule that refused the
	// call, if one did. An error means the request is wrong (a 400).
	Hook(body []byte, header http.Header, tenant string, maxEventBytes int) (line, answer []byte, refused string, err error)
}

// handleClaudeCodeHook is POST /v1/hooks/claude-code: Claude Code's HTTP
// hooks (Config.ClaudeCode). The call is recorded as one event through the
// same decoder and commit as POST /v1/events. A refusal is answered even
// when recording it failed, so that a rule never depends on storage; the
// failure is logged.
func (s *Server) handleClaudeCodeHook(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	if s.cfg.ClaudeCode == nil {
		s.writeError(w, r, fmt.Errorf("%w: Claude Code hooks are not enabled on this server", clawtrail.ErrNotFound))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	line, answer, refused, err := s.cfg.ClaudeCode.Hook(body, r.Header, c.tenant, s.cfg.Limits.MaxEventBytes)
	if err != nil {
		s.writeError(w, r, &clawtrail.InvalidError{Message: err.Error()})
		return
	}
	events, err := s.dec.Decode(line, true)
	if err == nil {
		_, _, err = s.commit(r, c, events)
	}
	if err != nil {
		if refused == "" {
			s.writeCommitError(w, r, err)
			return
		}
		s.log.Error("claude-code hook: refused a call but could not record it", "rule", refused, "err", err)
	}
	if refused != "" {
		s.metrics.hookRefusals.Inc()
	}
	if answer == nil {
		answer = []byte("{}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(answer)
}
