package query

import (
	"errors"
	"strings"
	"testing"
)

func TestParseString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   \t\n", ""},
		{"tool:send_email", "tool:send_email"},
		{"status:error OR status:blocked", "status:error OR status:blocked"},
		{"-type:prompt", "-type:prompt"},
		{"NOT type:prompt", "-type:prompt"},
		{"tool:send_*", "tool:send_*"},
		{"tool:(send_email OR exec)", "tool:send_email OR tool:exec"},
		{"duration_ms:>1000   bytes:<=4096", "duration_ms:>1000 bytes:<=4096"},
		{`path:"/workspace/config.json"`, "path:/workspace/config.json"},
		{`"delayed shipment"`, `"delayed shipment"`},
		{"(type:tool_call OR type:api_call) AND -status:success", "(type:tool_call OR type:api_call) -status:success"},
		{"attributes.model:claude-3", "attributes.model:claude-3"},
		// precedence: AND binds tighter than OR, NOT tighter than AND
		{"a OR b c", "a OR b c"},
		{"a b OR c", "a b OR c"},
		{"a OR b AND c", "a OR b c"},
		{"(a OR b) c", "(a OR b) c"},
		{"NOT a b", "-a b"},
		{"NOT (a b)", "-(a b)"},
		{"-(a OR b)", "-(a OR b)"},
		{"--a", "--a"},
		{"NOT NOT a", "--a"},
		{"((a))", "a"},
		{"a (b c) d", "a b c d"},
		{"a OR (b OR c)", "a OR b OR c"},
		// lowercase keywords are words
		{"a and b or c", "a and b or c"},
		// aliases
		{"session:s1 user:u agent:a tenant:t", "session_id:s1 user_id:u agent_id:a tenant_id:t"},
		// escapes and quotes
		{`tool:send\_email`, "tool:send_email"},
		{`tool:"send_*"`, `tool:"send_*"`},
		{`tool:send\*`, `tool:"send*"`},
		{`path:a\ b`, `path:"a b"`},
		{`path:"a \"b\" \\c"`, `path:"a \"b\" \\c"`},
		{`path:a\:b`, "path:a:b"},
		{`path:a:b`, "path:a:b"},
		{`tool:""`, `tool:""`},
		{`tool:"AND"`, `tool:"AND"`},
		{`tool:AND`, `tool:"AND"`},
		{`tool:\>5`, `tool:">5"`},
		{`tool:"("`, `tool:"("`},
		{`"a b"*`, `"a b"*`},
		{`tool:"a b"*`, `tool:"a b"*`},
		{`tool:""*`, "tool:*"},
		{`"OR"`, "or"},
		{`\AND`, "and"},
		// full text
		{"send_email", `"send email"`},
		{"Delayed", "delayed"},
		{"deliv*", "deliv*"},
		{"send_em*", `"send em"*`},
		{`"foo*"`, "foo"},
		{"-error", "-error"},
		// groups
		{"tool:(a b)", "tool:a tool:b"},
		{"tool:(a OR b c)", "tool:a OR tool:b tool:c"},
		{"tool:(a OR -b)", "tool:a OR -tool:b"},
		{"tool:(NOT (a OR b))", "-(tool:a OR tool:b)"},
		{"x tool:(a OR b)", "x (tool:a OR tool:b)"},
		{"duration_ms:(>10 <20)", "duration_ms:>10 duration_ms:<20"},
		{"tool:(a OR b) OR c", "tool:a OR tool:b OR c"},
		// comparisons
		{"duration_ms:>=1.5", "duration_ms:>=1.5"},
		{"seq:<3", "seq:<3"},
		{"status_code:200", "status_code:200"},
		{"timestamp:>2026-01-31T14:22:33Z", "timestamp:>2026-01-31T14:22:33Z"},
		{"timestamp:>=2026-01-01", "timestamp:>=2026-01-01"},
		{"received_at:<2026-01-31T14:22:33.123456789+02:00", "received_at:<2026-01-31T14:22:33.123456789+02:00"},
		{"arguments.count:>=3", "arguments.count:>=3"},
		{"usage.input_tokens:<100", "usage.input_tokens:<100"},
		{"result:>5", "result:>5"},
		// nested
		{"attributes.http.route:/x", "attributes.http.route:/x"},
		{`attributes.a\ b:1`, `attributes.a\ b:1`},
		{`attributes.a\:b:1`, `attributes.a\:b:1`},
		{"arguments.to:*", "arguments.to:*"},
		{"result.x:y", "result.x:y"},
		{"result:ok", "result:ok"},
		{"content:hi*", "content:hi*"},
		{"error:*", "error:*"},
		{"reason:x", "reason:x"},
		{"tenant_id:acme", "tenant_id:acme"},
		{"x:-5", "x:-5"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if strings.HasPrefix(tt.in, "x:") {
				tt.in = "arguments." + tt.in
				tt.want = "arguments." + tt.want
			}
			q, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := q.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			q2, err := Parse(q.String())
			if err != nil {
				t.Fatalf("Parse(%q) (the normalized form): %v", q.String(), err)
			}
			if got := q2.String(); got != tt.want {
				t.Errorf("normalized form is not a fixpoint: %q -> %q", tt.want, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in      string
		pos     int
		wantMsg string
	}{
		{"foo:bar", 0, `unknown field "foo"; nested fields live under attributes., arguments., result., usage.`},
		{"a foo:bar", 2, `unknown field "foo"`},
		{"tool.x:y", 0, `unknown field "tool.x"`},
		{"arguments:x", 0, `field "arguments" is an object: name a key, as in arguments.KEY`},
		{"usage:1", 0, `name a key`},
		{"attributes:x", 0, `name a key`},
		{":x", 0, `missing field name`},
		{"(a", 2, `expected ")" to close "(" at position 0, found end of query`},
		{"(a b", 4, `expected ")"`},
		{"a)", 1, `unexpected ")"`},
		{"()", 0, "empty parentheses"},
		{"tool:()", 5, "empty group"},
		{"a OR", 4, "expected a term after OR, found end of query"},
		{"OR a", 0, "expected a term, found OR"},
		{"a AND", 5, "expected a term after AND"},
		{"a AND OR b", 6, "expected a term after AND, found OR"},
		{"NOT", 3, "expected a term after NOT"},
		{"a NOT", 5, "expected a term after NOT"},
		{"a -", 2, `expected a term after "-"`},
		{"a - b", 2, `expected a term after "-"`},
		{"tool:", 5, `expected a value after "tool:"`},
		{"tool: x", 5, `expected a value after "tool:"`},
		{"tool: (x)", 5, `expected a value after "tool:"`},
		{`tool:"abc`, 5, "unterminated quote"},
		{`"abc`, 0, "unterminated quote"},
		{`abc\`, 3, "trailing backslash"},
		{"---", 2, `expected a term after "-"`},
		{"--- x", 2, `expected a term after "-"`},
		{`x -"---"`, 3, `no searchable characters`},
		{`"---"`, 0, "no searchable characters"},
		{"*", 0, "no searchable characters"},
		{"a*b", 1, `wildcard "*" is only allowed at the end`},
		{"tool:a*b*", 6, `wildcard "*" is only allowed at the end`},
		{"duration_ms:abc", 12, `field duration_ms holds numbers: "abc" is not a number`},
		{"duration_ms:>abc", 12, `"abc" is not a number`},
		{"seq:1*", 4, "field seq does not support wildcards"},
		{"seq:*", 4, "does not support wildcards"},
		{"timestamp:2026*", 10, "does not support wildcards"},
		{"bytes:NaN", 6, "not a number"},
		{"bytes:Inf", 6, "not a number"},
		{"tool:>5", 5, "field tool does not support comparisons"},
		{"content:>5", 8, "does not support comparisons"},
		{"tenant:<a", 7, "does not support comparisons"},
		{"arguments.x:>y", 12, `field arguments.x compares numbers: "y" is not a number`},
		{"duration_ms:>", 12, `"" is not a number`},
		{"timestamp:yesterday", 10, "is not an RFC 3339 time or a date"},
		{"timestamp:>3000-01-01", 10, "is not an RFC 3339 time"},
		{strings.Repeat("a ", 2049), 4096, "longer than 4096 bytes"},
		{strings.Repeat("(", 33) + "a" + strings.Repeat(")", 33), 32, "deeper than 32"},
		{strings.Repeat("-", 33) + "a", 32, "deeper than 32"},
		{"a \xff", 2, "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.in, q)
			}
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", tt.in, err, err)
			}
			if qe.Pos != tt.pos || !strings.Contains(qe.Msg, tt.wantMsg) {
				t.Errorf("Parse(%q) = position %d %q, want position %d containing %q", tt.in, qe.Pos, qe.Msg, tt.pos, tt.wantMsg)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("(status:error OR x")
	if got, want := err.Error(), `query: position 18: expected ")" to close "(" at position 0, found end of query`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestDepthLimit(t *testing.T) {
	ok := strings.Repeat("(", 32) + "a" + strings.Repeat(")", 32)
	if _, err := Parse(ok); err != nil {
		t.Errorf("Parse at depth 32: %v", err)
	}
	if _, err := Parse(strings.Repeat("a ", 2048)); err != nil {
		t.Errorf("Parse of 4096 bytes: %v", err)
	}
}

func TestNamesType(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"type:prompt", true},
		{"-type:access", true},
		{"tool:x OR (a -type:auth)", true},
		{"type:*", true},
		{"tool:type", false},
		{"attributes.type:x", false},
		{"type", false},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := q.NamesType(); got != tt.want {
			t.Errorf("Parse(%q).NamesType() = %v, want %v", tt.in, got, tt.want)
		}
	}
}
