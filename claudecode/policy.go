package claudecode

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/query"
	"github.com/clawtrail/clawtrail/sdk"
	"github.com/goccy/go-yaml"
)

// Rule is a deny rule: a query (SPEC §3) and the reason Claude Code shows
// the model and the user when the rule refuses a call.
type Rule struct {
	Query  string `yaml:"query" json:"query"`
	Reason string `yaml:"reason,omitempty" json:"reason,omitempty"`
	q      *query.Query
}

// Policy is an ordered list of deny rules; the first that matches wins.
type Policy struct {
	Deny []Rule `yaml:"deny" json:"deny"`
}

// Compile parses every rule's query, naming the rule that is wrong.
func (pol *Policy) Compile() error {
	for i := range pol.Deny {
		r := &pol.Deny[i]
		if strings.TrimSpace(r.Query) == "" {
			return fmt.Errorf("deny rule %d: the query is empty (it would refuse everything)", i+1)
		}
		q, err := query.Parse(r.Query)
		if err != nil {
			return fmt.Errorf("deny rule %d (%q): %w", i+1, r.Query, err)
		}
		r.q = q
		if r.Reason == "" {
			r.Reason = "denied by the rule " + r.Query
		}
	}
	return nil
}

// LoadPolicy reads a YAML (or JSON) file of deny rules:
//
//	deny:
//	  - query: 'tool:Bash AND "rm -rf"'
//	    reason: no recursive deletes
func LoadPolicy(path string) (Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, err
	}
	var pol Policy
	if err := yaml.UnmarshalWithOptions(b, &pol, yaml.Strict()); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := pol.Compile(); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	return pol, nil
}

// refusable are the hook calls a rule can refuse, and how each is
// recorded when it is.
var refusable = map[string]string{
	PreToolUse:        "blocked",
	UserPromptSubmit:  "blocked",
	PermissionRequest: "denied",
}

// Apply checks a mapped hook call against the deny rules. When a rule
// matches a call Claude Code lets a hook refuse (PreToolUse,
// UserPromptSubmit, PermissionRequest), it marks e refused (status blocked
// or denied, reason, attributes.rule) and returns the rule and the JSON to
// answer Claude Code with. tenant is the tenant the event will be stored
// in, so that rules may name tenant:. Calls that already happened (Post…,
// Stop) are never refused.
//
// The rules see the whole call: p mapped as e was (same identity and
// time) but with nothing cut, so that no part of a long command or input
// can hide past --max-field-bytes or the event size limit.
func (pol *Policy) Apply(p *Payload, e *sdk.Event, tenant string) (*Rule, []byte, error) {
	status, ok := refusable[p.Event]
	if !ok || len(pol.Deny) == 0 {
		return nil, nil, nil
	}
	at := e.Timestamp
	view := mapPayload(p, Options{User: e.UserID, Agent: e.AgentID, Channel: e.Channel,
		Now: func() time.Time { return at }}, false)
	ev, err := decodeWith(&viewDecoder, view)
	if err != nil {
		return nil, nil, fmt.Errorf("the deny rules cannot be matched against this %s call: %w", p.Event, err)
	}
	ev.TenantID = tenant
	for i := range pol.Deny {
		r := &pol.Deny[i]
		if r.q == nil || !r.q.Match(ev) {
			continue
		}
		e.Status, e.Reason = status, r.Reason
		e.Attributes["rule"] = r.Query
		return r, Refusal(p.Event, "clawtrail: "+r.Reason), nil
	}
	return nil, nil, nil
}

// Refusal is the hook output that makes Claude Code refuse a call, for the
// events that can be refused; nil for the others.
func Refusal(hookEvent, reason string) []byte {
	var v any
	switch hookEvent {
	case PreToolUse:
		v = map[string]any{"hookSpecificOutput": map[string]any{"hookEventName": PreToolUse,
			"permissionDecision": "deny", "permissionDecisionReason": reason}}
	case PermissionRequest:
		v = map[string]any{"hookSpecificOutput": map[string]any{"hookEventName": PermissionRequest,
			"decision": map[string]any{"behavior": "deny", "message": reason}}}
	case UserPromptSubmit:
		v = map[string]any{"decision": "block", "reason": reason}
	default:
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

// decoder is the server's own event decoder, so that rules see exactly
// the event the server will store.
var decoder = ingest.Decoder{Limits: ingest.DefaultLimits(), Now: time.Now}

// viewDecoder decodes the uncut event rules are matched against: the
// server's validation without its event size limit (the payload itself is
// bounded by the hook's input limit or the server's request limit).
var viewDecoder = ingest.Decoder{Limits: ingest.Limits{MaxEventBytes: math.MaxInt, MaxRequestBytes: math.MaxInt,
	MaxClockSkew: ingest.DefaultMaxClockSkew}, Now: time.Now}

// Decode turns a mapped event into the server's form, validated as the
// server validates it.
func Decode(e sdk.Event) (*clawtrail.Event, error) {
	return decodeWith(&decoder, e)
}

func decodeWith(d *ingest.Decoder, e sdk.Event) (*clawtrail.Event, error) {
	line, err := e.MarshalJSON()
	if err != nil {
		return nil, err
	}
	ps, err := d.Decode(line, true)
	if err != nil {
		return nil, err
	}
	return ps[0].Event, nil
}
