package claudecode

import (
	"testing"
)

// FuzzMap: whatever a hook sends, a payload that parses maps to an event
// the server accepts (so a call is never lost to a 400), and deny rules
// can be applied to it.
func FuzzMap(f *testing.F) {
	for _, p := range stdinFixture(&testing.T{}) {
		f.Add(p)
	}
	f.Add([]byte(`{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":"rm -rf /","duration_ms":1e300}`))
	f.Add([]byte(`{"hook_event_name":"X","rule":1,"truncated":[[[[]]]],"tool_input":{"a":{"b":{"c":[1,2,{"d":null}]}}}}`))
	pol := Policy{Deny: []Rule{{Query: `tool:Bash AND "rm -rf"`}, {Query: `type:prompt AND arguments.x:>3`}}}
	if err := pol.Compile(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := Parse(payload)
		if err != nil {
			return
		}
		for _, limit := range []int{DefaultMaxEventBytes, 4 << 10} {
			e := Map(p, Options{MaxEventBytes: limit, MaxFieldBytes: 1 << 10})
			if _, _, err := pol.Apply(p, &e, "acme"); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			line, err := e.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			if _, err := Decode(e); err != nil {
				t.Fatalf("the server would refuse the event (%d bytes): %v", len(line), err)
			}
			if len(line) > limit {
				t.Fatalf("event of %d bytes over the limit %d", len(line), limit)
			}
		}
	})
}
