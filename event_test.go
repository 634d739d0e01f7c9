package clawtrail

import (
	"testing"
	"time"
)

// The body of docs/ledger.md's test vector is what AppendJSON writes for
// that event.
func TestBodyMatchesLedgerVector(t *testing.T) {
	e := Event{ID: "evt_1", Seq: 0, TenantID: "tenant_acme_corp", Type: "prompt",
		Timestamp:  time.Date(2026, 1, 31, 14, 22, 33, 456e6, time.UTC),
		ReceivedAt: time.Unix(0, 1769869353500000000), KeyID: "0123456789abcdef", Content: "hi"}
	want := `{"id":"evt_1","seq":0,"received_at":"2026-01-31T14:22:33.5Z","tenant_id":"tenant_acme_corp","type":"prompt","timestamp":"2026-01-31T14:22:33.456Z","key_id":"0123456789abcdef","content":"hi"}`
	if got := string(e.AppendJSON(nil)); got != want {
		t.Fatalf("body =\n%s\nwant\n%s", got, want)
	}
	back, err := ParseEvent([]byte(want))
	if err != nil || back.Content != "hi" || back.Seq != 0 || !back.ReceivedAt.Equal(e.ReceivedAt) {
		t.Fatalf("ParseEvent = %+v, %v", back, err)
	}
}

func TestParseTimeBound(t *testing.T) {
	now := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in    string
		upper bool
		want  time.Time
	}{
		{"2026-01-01", false, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-01-01", true, time.Date(2026, 1, 1, 23, 59, 59, 999999999, time.UTC)},
		{"2026-01-31T14:22:33.456+01:00", false, time.Date(2026, 1, 31, 13, 22, 33, 456e6, time.UTC)},
		{"15m", false, now.Add(-15 * time.Minute)},
		{"7d", false, now.Add(-7 * 24 * time.Hour)},
		{"", false, time.Time{}},
	}
	for _, tt := range tests {
		got, err := ParseTimeBound(tt.in, now, tt.upper)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTimeBound(%q, %v) = %v, %v; want %v", tt.in, tt.upper, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "-5m", "2026-13-01", "7x"} {
		if _, err := ParseTimeBound(bad, now, false); err == nil {
			t.Errorf("ParseTimeBound(%q) accepted", bad)
		}
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		r, need Role
		ok      bool
	}{
		{RoleIngest, RoleIngest, true}, {RoleIngest, RoleReader, false},
		{RoleReader, RoleIngest, false}, {RoleReader, RoleReader, true}, {RoleReader, RoleAuditor, false},
		{RoleAuditor, RoleReader, true}, {RoleAuditor, RoleAdmin, false},
		{RoleAdmin, RoleIngest, true}, {RoleAdmin, RoleAdmin, true},
	}
	for _, c := range cases {
		if got := c.r.Can(c.need); got != c.ok {
			t.Errorf("%s.Can(%s) = %v, want %v", c.r, c.need, got, c.ok)
		}
	}
}

func TestValidators(t *testing.T) {
	for _, c := range []struct {
		f    func(string) bool
		s    string
		want bool
	}{
		{ValidID, "sess_abc-123:x@y.z", true}, {ValidID, "", false}, {ValidID, "a b", false}, {ValidID, "é", false},
		{ValidID, string(make([]byte, 129)), false},
		{ValidTenant, "tenant_acme_corp", true}, {ValidTenant, "Acme", false}, {ValidTenant, "a:b", false},
		{ValidType, "tool_call", true}, {ValidType, "otel.span", true}, {ValidType, "9x", false}, {ValidType, "a-b", false},
		{ValidType, "", false},
	} {
		if got := c.f(c.s); got != c.want {
			t.Errorf("validator(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

// AppendBodyAt with received_at formatted by AppendReceivedAt writes what
// AppendBody writes (packed bodies are rebuilt with it, and their
// commitments cover AppendBody's bytes), after what dst held.
func TestAppendBodyAtMatchesAppendBody(t *testing.T) {
	at := time.Date(2026, 11, 28, 23, 1, 2, 345600000, time.FixedZone("x", 3600))
	for _, c := range []struct {
		id   string
		seq  int64
		at   time.Time
		tail string
		want string
	}{
		{"ev-1", 7, at, `"type":"prompt"}`, `{"id":"ev-1","seq":7,"received_at":"2026-11-28T22:01:02.3456Z","type":"prompt"}`},
		{"ev-\"2\"\n", 0, at, `}`, `{"id":"ev-\"2\"\n","seq":0,"received_at":"2026-11-28T22:01:02.3456Z"}`},
		{"", -1, time.Time{}, `"type":"prompt"}`, `{"type":"prompt"}`},
		{"ev-3", 12, time.Time{}, ``, `{"id":"ev-3","seq":12`},
	} {
		if got := AppendBody(nil, c.id, c.seq, c.at, []byte(c.tail)); string(got) != c.want {
			t.Errorf("AppendBody %+v:\n%s", c, got)
		}
		got := AppendBodyAt([]byte("x"), c.id, c.seq, AppendReceivedAt(nil, c.at), []byte(c.tail))
		if string(got) != "x"+c.want {
			t.Errorf("AppendBodyAt %+v:\n%s", c, got)
		}
	}
}
