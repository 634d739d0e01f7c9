package claudecode

import (
	"fmt"
	"net/http"
	"time"
)

// maxHookHeader bounds the identity headers an HTTP hook may send.
const maxHookHeader = 256

// HTTPHook serves Claude Code's HTTP hooks for the server (it satisfies
// httpapi.AgentHook): the server's deny rules, applied to each call.
type HTTPHook struct {
	Policy Policy // compiled
	Now    func() time.Time
}

// Hook maps one HTTP hook call to its event (one JSON line, for tenant)
// and the answer Claude Code expects (nil: nothing to say). The
// X-Clawtrail-User, X-Clawtrail-Agent and X-Clawtrail-Channel headers name
// who and what (Claude Code expands environment variables in hook
// headers). refused is the query of the rule that refused the call, if
// one did. An error means the request is wrong.
func (h *HTTPHook) Hook(body []byte, header http.Header, tenant string, maxEventBytes int) (line, answer []byte, refused string, err error) {
	p, err := Parse(body)
	if err != nil {
		return nil, nil, "", err
	}
	o := Options{Now: h.Now, MaxEventBytes: maxEventBytes}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"X-Clawtrail-User", &o.User}, {"X-Clawtrail-Agent", &o.Agent}, {"X-Clawtrail-Channel", &o.Channel}} {
		v := header.Get(f.name)
		if len(v) > maxHookHeader {
			return nil, nil, "", fmt.Errorf("%s is over %d bytes", f.name, maxHookHeader)
		}
		*f.dst = v
	}
	e := Map(p, o)
	rule, answer, err := h.Policy.Apply(p, &e, tenant)
	if err != nil {
		return nil, nil, "", err
	}
	if rule != nil {
		refused = rule.Query
	}
	line, err = e.MarshalJSON()
	return line, answer, refused, err
}
