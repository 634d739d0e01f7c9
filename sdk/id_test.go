package sdk

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
)

// Ids are ULIDs, bit for bit as oklog/ulid encodes the same 128 bits.
func TestAppendULIDMatchesULID(t *testing.T) {
	for _, tc := range []struct {
		ms, rnd uint64
		ctr     uint32
	}{{0, 0, 0}, {1, 2, 3}, {1<<48 - 1, 1<<48 - 1, 1<<32 - 1}, {1764212043123, 0xa1b2c3d4e5f6, 42}} {
		var u ulid.ULID
		if err := u.SetTime(tc.ms); err != nil {
			t.Fatal(err)
		}
		var ent [10]byte
		binary.BigEndian.PutUint16(ent[0:], uint16(tc.rnd>>32))
		binary.BigEndian.PutUint32(ent[2:], uint32(tc.rnd))
		binary.BigEndian.PutUint32(ent[6:], tc.ctr)
		copy(u[6:], ent[:])
		if got := string(appendULID(nil, tc.ms, tc.rnd, tc.ctr)); got != u.String() {
			t.Errorf("%+v: %s, want %s", tc, got, u.String())
		}
	}
}

// A client's ids increase in the order it logged (the server's id index is
// appended to), and two clients' ids differ.
func TestIDsAreOrderedAndDistinct(t *testing.T) {
	ts := NewTestServer(t)
	a := newClient(t, fastConfig(t, ts, t.TempDir()))
	b := newClient(t, fastConfig(t, ts, t.TempDir()))
	logMany(t, a, "ida", 300, nil)
	logMany(t, b, "idb", 300, nil)
	flush(t, a)
	flush(t, b)
	prev := map[string]string{}
	seen := map[string]bool{}
	for _, e := range ts.Ledger("acme") {
		id := e["id"].(string)
		if _, err := ulid.ParseStrict(id); err != nil {
			t.Fatalf("id %q is not a ULID: %v", id, err)
		}
		s := e["session_id"].(string)
		if strings.Compare(id, prev[s]) <= 0 {
			t.Fatalf("%s: id %s after %s", s, id, prev[s])
		}
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		prev[s], seen[id] = id, true
	}
	if len(seen) != 600 {
		t.Fatalf("%d ids", len(seen))
	}
}
