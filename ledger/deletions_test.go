package ledger

import (
	"encoding/json"
	"testing"
)

func mkSpecial(seq, at int64, typ string, attrs map[string]string) *Record {
	b, _ := json.Marshal(map[string]any{"type": typ, "attributes": attrs})
	return &Record{Seq: seq, ID: "r", ReceivedAt: at, Type: typ, Body: b}
}

func TestDeletions(t *testing.T) {
	const day = int64(86400e9)
	policy := mkSpecial(5, 10*day, "config_change", map[string]string{"action": "retention.set", "keep_ns": "86400000000000"})
	tomb := func(seq, at int64, keep, cutoff, deleted string) *Record {
		return mkSpecial(seq, at, "tombstone", map[string]string{"cause": "retention", "keep_ns": keep, "cutoff_ns": cutoff, "deleted": deleted})
	}
	cut := "777600000000000" // day 9
	for _, c := range []struct {
		name     string
		recs     []*Record
		seq, at  int64
		allowed  bool
		findings int
	}{
		{"allowed", []*Record{policy, tomb(20, 10*day, "86400000000000", cut, "0-4,6-9")}, 3, 8 * day, true, 0},
		{"a seq the tombstone skips", []*Record{policy, tomb(20, 10*day, "86400000000000", cut, "0-4,6-9")}, 5, 8 * day, false, 0},
		{"younger than the cutoff", []*Record{policy, tomb(20, 10*day, "86400000000000", cut, "0-9")}, 3, 9*day + 1, false, 0},
		{"no policy in force", []*Record{tomb(20, 10*day, "86400000000000", cut, "0-9")}, 3, 8 * day, false, 1},
		{"another policy named", []*Record{policy, tomb(20, 10*day, "3600000000000", cut, "0-9")}, 3, 8 * day, false, 1},
		{"cutoff younger than the policy allows", []*Record{policy, tomb(20, 10*day, "86400000000000", "820000000000000", "0-9")}, 3, 8 * day, false, 1},
		{"whole-tenant hold", []*Record{policy, mkSpecial(6, 0, "config_change", map[string]string{"action": "hold.add", "hold_id": "h1", "scope": "tenant"}),
			tomb(20, 10*day, "86400000000000", cut, "0-4")}, 3, 8 * day, false, 1},
		{"hold released before", []*Record{policy, mkSpecial(6, 0, "config_change", map[string]string{"action": "hold.add", "hold_id": "h1", "scope": "tenant"}),
			mkSpecial(7, 0, "config_change", map[string]string{"action": "hold.release", "hold_id": "h1"}),
			tomb(20, 10*day, "86400000000000", cut, "0-4")}, 3, 8 * day, true, 0},
		{"query hold is not tenant-wide", []*Record{policy, mkSpecial(6, 0, "config_change", map[string]string{"action": "hold.add", "hold_id": "h1", "scope": "query"}),
			tomb(20, 10*day, "86400000000000", cut, "0-4")}, 3, 8 * day, true, 0},
		{"erasure", []*Record{mkSpecial(20, 10*day, "tombstone", map[string]string{"cause": "erasure", "deleted": "3"})}, 3, 9*day + 5, true, 0},
		{"names itself or later", []*Record{mkSpecial(20, 10*day, "tombstone", map[string]string{"cause": "erasure", "deleted": "3,20"})}, 3, 0, false, 1},
		{"unknown cause", []*Record{mkSpecial(20, 10*day, "tombstone", map[string]string{"cause": "whim", "deleted": "3"})}, 3, 0, false, 1},
	} {
		d := NewDeletions(c.recs)
		if got := d.Allowed(c.seq, c.at); got != c.allowed {
			t.Errorf("%s: Allowed = %v, want %v", c.name, got, c.allowed)
		}
		if len(d.Findings()) != c.findings {
			t.Errorf("%s: findings %v, want %d", c.name, d.Findings(), c.findings)
		}
	}
	locked := mkSpecial(5, 0, "config_change", map[string]string{"action": "retention.set", "keep_ns": "86400000000000", "locked": "true"})
	shorter := mkSpecial(6, 0, "config_change", map[string]string{"action": "retention.set", "keep_ns": "3600000000000", "locked": "true"})
	longer := mkSpecial(7, 0, "config_change", map[string]string{"action": "retention.set", "keep_ns": "172800000000000", "locked": "true"})
	if f := NewDeletions([]*Record{locked, longer}).Findings(); len(f) != 0 {
		t.Errorf("lengthening a locked policy: %v", f)
	}
	if f := NewDeletions([]*Record{locked, shorter}).Findings(); len(f) != 1 || f[0].Seq != 6 {
		t.Errorf("shortening a locked policy: %v", f)
	}
	var nilD *Deletions
	if nilD.Allowed(0, 0) {
		t.Error("no tombstones allow nothing")
	}
}

func TestRanges(t *testing.T) {
	s := FormatRanges([]int64{9, 1, 2, 3, 5, 7, 8})
	if s != "1-3,5,7-9" {
		t.Fatalf("FormatRanges = %q", s)
	}
	r, err := ParseRanges(s)
	if err != nil || len(r) != 3 || r[0] != [2]int64{1, 3} || r[2] != [2]int64{7, 9} {
		t.Fatalf("ParseRanges = %v %v", r, err)
	}
	for _, bad := range []string{"x", "3-1", "-1", "1,,2"} {
		if _, err := ParseRanges(bad); err == nil {
			t.Errorf("ParseRanges(%q) accepted", bad)
		}
	}
}
