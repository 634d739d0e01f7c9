package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/internal/ixtest"
)

// A session's timeline comes from its session token (there is no b-tree
// index on session_id): every event of the session, oldest first, paged,
// in a clear and in a blind index, for a short id and for one longer than
// the part of a value the index keeps in clear; and a blind index holds no
// session id in clear.
func TestSessionTimelineFromToken(t *testing.T) {
	k := crypt.NewKey()
	long := "sess-" + strings.Repeat("x", 80) // > MaxIndexValueLen: stored as prefix + hash
	twin := long[:len(long)-1] + "y"          // same clear prefix, another hash
	for _, blind := range []bool{false, true} {
		dir := t.TempDir()
		var s *Store
		if blind {
			s = openEncrypted(t, dir, &k)
		} else {
			s = openStore(t, dir)
		}
		var b strings.Builder
		want := map[string][]string{}
		base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		for i := range 60 {
			sess := []string{"marmot-1", "marmot-2", long, twin}[i%4]
			id := fmt.Sprintf("e%02d", i)
			// Timestamps run backwards against arrival for half the
			// events: the timeline is in timestamp order, not seq order.
			ts := base.Add(time.Duration(i) * time.Second)
			if i%2 == 1 {
				ts = base.Add(-time.Duration(i) * time.Second)
			}
			fmt.Fprintf(&b, `{"id":%q,"type":"tool_call","session_id":%q,"timestamp":%q}`+"\n", id, sess, ts.Format(time.RFC3339Nano))
			want[sess] = append(want[sess], id)
		}
		mustAppend(t, s, "acme", b.String())
		mustAppend(t, s, "beta", `{"id":"other","type":"tool_call","session_id":"marmot-1"}`)
		search(t, s, "acme", "")
		search(t, s, "beta", "")

		for _, sess := range []string{"marmot-1", "marmot-2", long, twin, "nobody"} {
			var got []string
			var times []int64
			cursor := ""
			for pages := 0; ; pages++ {
				page, err := s.Session(context.Background(), "acme", sess, 4, cursor)
				if err != nil {
					t.Fatalf("blind %v: Session(%q): %v", blind, sess, err)
				}
				for _, st := range page.Events {
					e, err := clawtrail.ParseEvent(st.Body)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, e.ID)
					times = append(times, e.Timestamp.UnixNano())
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
				if pages > 10 {
					t.Fatalf("blind %v: session %q pages without end", blind, sess)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want[sess]) {
				t.Errorf("blind %v: session %.12q holds %v, want %v", blind, sess, got, want[sess])
			}
			if !slices.IsSorted(times) {
				t.Errorf("blind %v: session %.12q not oldest first: %v", blind, sess, times)
			}
		}
		if got := search(t, s, "acme", "session_id:marmot-2 -id:e01"); len(got) != len(want["marmot-2"])-1 {
			t.Errorf("blind %v: session_id:marmot-2 -id:e01 found %d, want %d", blind, len(got), len(want["marmot-2"])-1)
		}
		if got := search(t, s, "acme", "-session_id:marmot-2"); len(got) != 60-len(want["marmot-2"]) {
			t.Errorf("blind %v: -session_id:marmot-2 found %d, want %d", blind, len(got), 60-len(want["marmot-2"]))
		}
		s.Close()

		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "index.db"))
		if err != nil {
			t.Fatal(err)
		}
		var idx int
		db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql LIKE '%session_id%'`).Scan(&idx)
		if idx != 0 {
			t.Errorf("blind %v: index.db has %d b-tree indexes on session_id, want none", blind, idx)
		}
		db.Close()
		// The session token is the hex of the id in a clear index, and
		// nowhere in a blind one.
		if n := ixtest.TermsHolding(t, dir, hex.EncodeToString([]byte("marmot-1"))); (n > 0) == blind {
			t.Errorf("blind %v: %d full-text terms hold the hex of a session id", blind, n)
		}
	}
}
