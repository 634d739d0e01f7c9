package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/internal/ixtest"
	"github.com/clawtrail/clawtrail/query"
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
		s := openStoreBlind(t, dir, blind, &k)
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
		// The session token holds the id (token text) in a clear index, and
		// nowhere in a blind one.
		if n := ixtest.TermsHolding(t, dir, query.TokenText("marmot-1")); (n > 0) == blind {
			t.Errorf("blind %v: %d full-text terms hold the token text of a session id", blind, n)
		}
	}
}

// The session listing — the most recently active sessions first, each
// summarised over its events that match — agrees with a summary computed
// here from the events themselves, for queries, time windows and limits
// that cut the list, in a clear and a blind index.
func TestSessionListing(t *testing.T) {
	k := crypt.NewKey()
	type ev struct {
		id, sess, tool, status, word string
		ts                           time.Time
	}
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var evs []ev
	var b strings.Builder
	for i := range 400 {
		e := ev{id: fmt.Sprintf("e%03d", i), sess: fmt.Sprintf("s%02d", r.IntN(30)), tool: []string{"exec", "read_file", "send_email"}[r.IntN(3)],
			status: []string{"success", "error"}[r.IntN(2)], word: []string{"alpha", "beta", "gamma"}[r.IntN(3)],
			ts: base.Add(time.Duration(r.IntN(48*3600)) * time.Second)}
		if i%50 == 7 {
			e.sess = "" // no session: never listed
		}
		evs = append(evs, e)
		fmt.Fprintf(&b, `{"id":%q,"type":"tool_call","session_id":%q,"tool":%q,"status":%q,"content":%q,"timestamp":%q}`+"\n",
			e.id, e.sess, e.tool, e.status, e.word, e.ts.Format(time.RFC3339Nano))
	}
	for _, blind := range []bool{false, true} {
		s := openStoreBlind(t, t.TempDir(), blind, &k)
		mustAppend(t, s, "acme", b.String())
		search(t, s, "acme", "")
		for _, c := range []struct {
			q        string
			from, to time.Time
			limit    int
			match    func(ev) bool
		}{
			{"", time.Time{}, time.Time{}, 10, func(ev) bool { return true }},
			{"", time.Time{}, time.Time{}, 100, func(ev) bool { return true }},
			{"tool:send_email", time.Time{}, time.Time{}, 7, func(e ev) bool { return e.tool == "send_email" }},
			{"alpha -status:error", time.Time{}, time.Time{}, 12, func(e ev) bool { return e.word == "alpha" && e.status != "error" }},
			{"", base.Add(10 * time.Hour), base.Add(20 * time.Hour), 5, func(ev) bool { return true }},
			{"beta", base, base.Add(30 * time.Hour), 50, func(e ev) bool { return e.word == "beta" }},
			{"session_id:s03", time.Time{}, time.Time{}, 10, func(e ev) bool { return e.sess == "s03" }},
		} {
			in := func(e ev) bool {
				return e.sess != "" && c.match(e) && (c.from.IsZero() || !e.ts.Before(c.from)) && (c.to.IsZero() || !e.ts.After(c.to))
			}
			byID := map[string]*SessionSummary{}
			tools := map[string]map[string]bool{}
			for _, e := range evs {
				if !in(e) {
					continue
				}
				ts := e.ts.UnixNano()
				ss := byID[e.sess]
				if ss == nil {
					ss = &SessionSummary{ID: e.sess, First: ts, Last: ts}
					byID[e.sess], tools[e.sess] = ss, map[string]bool{}
				}
				ss.First, ss.Last = min(ss.First, ts), max(ss.Last, ts)
				ss.Events++
				if e.status == "error" {
					ss.Errors++
				}
				tools[e.sess][e.tool] = true
			}
			var want []SessionSummary
			for id, ss := range byID {
				ss.Tools = slices.Sorted(maps.Keys(tools[id]))
				want = append(want, *ss)
			}
			slices.SortFunc(want, func(a, b SessionSummary) int { return cmp.Or(cmp.Compare(b.Last, a.Last), strings.Compare(a.ID, b.ID)) })
			want = want[:min(len(want), c.limit)]
			req := SearchRequest{Tenant: "acme", Limit: c.limit}
			if c.q != "" {
				pq, err := query.Parse(c.q)
				if err != nil {
					t.Fatal(err)
				}
				req.Query = pq
			}
			if !c.from.IsZero() {
				req.From, req.To = c.from.UnixNano(), c.to.UnixNano()
			}
			got, err := s.Sessions(context.Background(), req)
			if err != nil {
				t.Fatalf("blind %v: %q: %v", blind, c.q, err)
			}
			for i := range got {
				slices.Sort(got[i].Tools)
			}
			if len(want) == 0 {
				t.Fatalf("%q: the case selects no session", c.q)
			}
			if !slices.EqualFunc(got, want, func(a, b SessionSummary) bool {
				return a.ID == b.ID && a.First == b.First && a.Last == b.Last && a.Events == b.Events && a.Errors == b.Errors && slices.Equal(a.Tools, b.Tools)
			}) {
				t.Errorf("blind %v: sessions for %q [%v, %v] limit %d:\n got %+v\nwant %+v", blind, c.q, c.from, c.to, c.limit, got, want)
			}
		}
		s.Close()
	}
}
