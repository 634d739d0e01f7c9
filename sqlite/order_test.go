package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
)

// Order keys place events by their 4 ms unit only; within a unit, results
// still come in exact timestamp order (ties by seq) — newest first for
// search, oldest first for export and session timelines — whatever order
// the events arrived in, on every page size, through every kind of plan.
func TestExactOrderWithinAUnit(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	type ev struct {
		id  string
		ts  time.Time
		seq int
	}
	var evs []ev
	// Three units: 40 events in one (ties included: every fifth shares the
	// previous one's timestamp), 6 in each of its neighbours.
	for i := range 52 {
		var ts time.Time
		switch {
		case i < 6:
			ts = base.Add(-time.Duration(1 + rng.IntN(3_000_000))) // the unit before
		case i < 46:
			ts = base.Add(time.Duration(rng.IntN(3_999_000)))
			if i%5 == 0 {
				ts = evs[len(evs)-1].ts
			}
		default:
			ts = base.Add(4*time.Millisecond + time.Duration(rng.IntN(3_999_000)))
		}
		evs = append(evs, ev{id: fmt.Sprintf("e%02d", i), ts: ts})
	}
	// Arrival in a random order, in three requests.
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	for part := range 3 {
		var b strings.Builder
		for j := part * 18; j < min(len(evs), (part+1)*18); j++ {
			evs[j].seq = j
			tool := "send_email"
			if j%2 == 1 {
				tool = "search_web"
			}
			fmt.Fprintf(&b, `{"id":%q,"type":"tool_call","tool":%q,"session_id":"s1","content":"quarterly invoice draft","timestamp":%q}`+"\n",
				evs[j].id, tool, evs[j].ts.Format(time.RFC3339Nano))
		}
		mustAppend(t, s, "acme", b.String())
	}
	search(t, s, "acme", "")
	asc := slices.Clone(evs)
	slices.SortFunc(asc, func(a, b ev) int { return cmp.Or(a.ts.Compare(b.ts), cmp.Compare(a.seq, b.seq)) })
	ids := func(es []ev) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.id)
		}
		return out
	}
	wantAsc := ids(asc)
	wantDesc := slices.Clone(wantAsc)
	slices.Reverse(wantDesc)
	ctx := context.Background()
	for _, q := range []string{
		"",                        // ev_tid_kc
		"invoice",                 // FTS drives
		`"invoice draft"`,         // a phrase: a superset, filtered
		"type:tool_call",          // ev_type
		"tool:s*",                 // one arm per tool, merged
		"session_id:s1 invoice",   // a token column
		`-content:"no such text"`, // NOT
	} {
		pq, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 3, 7, 100} {
			for _, up := range []bool{false, true} {
				var got []string
				req := SearchRequest{Tenant: "acme", Query: pq, Limit: limit, Asc: up}
				for range 100 {
					page, err := s.Search(ctx, req)
					if err != nil {
						t.Fatalf("%q limit %d: %v", q, limit, err)
					}
					got = append(got, pageIDs(t, page)...)
					if page.NextCursor == "" {
						break
					}
					req.Cursor = page.NextCursor
				}
				want := wantDesc
				if up {
					want = wantAsc
				}
				if !slices.Equal(got, want) {
					t.Fatalf("search %q, pages of %d, asc %v:\n got %v\nwant %v", q, limit, up, got, want)
				}
			}
		}
		if got := exportIDs(t, s, SearchRequest{Tenant: "acme", Query: pq}); !slices.Equal(got, wantAsc) {
			t.Fatalf("export %q:\n got %v\nwant %v", q, got, wantAsc)
		}
	}
	for _, limit := range []int{1, 4, 100} {
		var got []string
		cursor := ""
		for range 100 {
			page, err := s.Session(ctx, "acme", "s1", limit, cursor)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, pageIDs(t, page)...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, wantAsc) {
			t.Fatalf("session timeline, pages of %d:\n got %v\nwant %v", limit, got, wantAsc)
		}
	}
	// A time window ending inside the crowded unit.
	to := asc[30].ts
	pq, _ := query.Parse("")
	var got []string
	req := SearchRequest{Tenant: "acme", Query: pq, Limit: 4, To: to.UnixNano(), From: base.Add(-time.Hour).UnixNano()}
	for range 100 {
		page, err := s.Search(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pageIDs(t, page)...)
		if req.Cursor = page.NextCursor; req.Cursor == "" {
			break
		}
	}
	var want []string
	for i := len(asc) - 1; i >= 0; i-- {
		if !asc[i].ts.After(to) {
			want = append(want, asc[i].id)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("window to %v, pages of 4:\n got %v\nwant %v", to, got, want)
	}
}

func pageIDs(t *testing.T, p Page) []string {
	t.Helper()
	var out []string
	for _, st := range p.Events {
		e, err := clawtrail.ParseEvent(st.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.ID)
	}
	return out
}

// A full-text plan over a key range (a page after a cursor, a time window,
// a bucket) is driven by the full-text index: with e.k = fts.rowid, a range
// on the rowid is one on e.k too, and SQLite would otherwise walk the
// tenant's ev_tid_kc rows in the range and probe FTS5 for each.
func TestFullTextDrivesKeyRanges(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, `{"type":"prompt","session_id":"s%d","content":"word%d"}`+"\n", i%7, i)
	}
	mustAppend(t, s, "acme", b.String())
	search(t, s, "acme", "")
	plan := func(sqlText string, args ...any) string { return queryPlan(t, s, sqlText, args...) }
	pq, _ := query.Parse("word7")
	tid, _ := s.tenantID("acme")
	_, p, err := s.compile(context.Background(), SearchRequest{Tenant: "acme", Query: pq}, tid)
	if err != nil || p.FTS == "" {
		t.Fatalf("word7: %+v %v", p, err)
	}
	for _, r := range [][2]int64{{anyKeyLo, anyKeyHi}, {anyKeyLo, 1 << 50}, {1 << 40, 1 << 50}} {
		var sb strings.Builder
		sb.WriteString(`SELECT e.k, e.seq, e.ts`)
		keyCol, args := selection(&sb, tid, SearchRequest{Tenant: "acme", From: 1, To: 1 << 62}, kSpillSlack, pq, p, r[0], r[1])
		sb.WriteString(" ORDER BY " + keyCol + " DESC LIMIT 10")
		if got := plan(sb.String(), args...); !strings.HasPrefix(got, "SCAN fts VIRTUAL TABLE") {
			t.Errorf("search over keys %v: plan %q", r, got)
		}
	}
	if got := plan(sessionKeysSQL, `"`+query.SessionToken("s1")+`"`, tid, "s1", 1<<40, 1<<50, 10); !strings.HasPrefix(got, "SCAN fts VIRTUAL TABLE") {
		t.Errorf("session timeline over a key range: plan %q", got)
	}
}

// queryPlan returns the steps of SQLite's plan for sqlText on the search
// index, joined by "; ".
func queryPlan(t *testing.T, s *Store, sqlText string, args ...any) string {
	t.Helper()
	rows, err := s.index.reader.Query(`EXPLAIN QUERY PLAN `+sqlText, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}

// Events stamped alike past a unit's 64 keys spill into the next units'
// buckets. The index transaction gives each event of a unit the key after
// the last one it gave (once one lookup found where the free keys start),
// so such events cost a lookup per bucket that earlier index transactions
// filled, once per transaction (the feed hands the writer 1,000 events at
// a time here: ~250 lookups for the 6,000 events below). Before pass 18
// each event cost a lookup, and before pass 17 each looked up every unit
// already full, O(n²): 3,000 such events took over 10 s to index.
func TestSpillCostsALookupPerBucket(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	const n = 3000
	var ids []string
	before := kLookups.Load()
	for round := range 2 {
		var b strings.Builder
		for i := range n {
			id := fmt.Sprintf("e%d%04d", round, i)
			ids = append(ids, id)
			fmt.Fprintf(&b, `{"id":%q,"type":"prompt","timestamp":"2026-03-01T00:00:00Z"}`+"\n", id)
		}
		mustAppend(t, s, "acme", b.String())
		search(t, s, "acme", "")
	}
	if lookups := kLookups.Load() - before; lookups > 2*n/8 {
		t.Fatalf("%d key lookups for %d events stamped alike, want a few per index transaction (one per bucket already full), not one an event", lookups, 2*n)
	}
	if got := exportIDs(t, s, SearchRequest{Tenant: "acme"}); !slices.Equal(got, ids) {
		t.Fatalf("export: %d events, want %d in seq order", len(got), len(ids))
	}
}

// A sustained rate over a bucket's 64 keys per 4 ms (16,000 events a
// second across the server; 40,000 here, for 1.5 s) spills without end:
// each unit's keys run on past the ones after it, further and further
// past their timestamps. A time window must still find its events (the
// index records how far keys have run, per hour: before, a window of the last 100 ms
// found none of its 4,001 events, whose keys lay 1.5 s past their unit,
// beyond the fixed 1 s slack), after a restart too, and finding a free key
// must not walk every full bucket (a gallop: about 7,000 lookups here,
// ~100,000 bucket by bucket).
// The sessions list and the count by type per day take a window's slack
// the way searches do: after a burst whose keys ran past their units, at
// the end of a day, the sessions of the burst's last 100 ms are listed
// with all their events, and the count for the day with a query has every
// event of the burst (a fixed slack misses the last ones).
func TestSustainedRateKeepsSessionsAndStats(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	const n, gap = 60000, 25 * time.Microsecond
	dayEnd := time.Date(2026, 3, 1, 23, 59, 59, 999_000_000, time.UTC)
	t0 := dayEnd.Add(-time.Duration(n-1) * gap)
	for r := range n / 1000 {
		var b strings.Builder
		for i := r * 1000; i < (r+1)*1000; i++ {
			fmt.Fprintf(&b, `{"id":"e%06d","type":"prompt","session_id":"s%02d","timestamp":%q}`+"\n", i, i/1000, t0.Add(time.Duration(i)*gap).Format(time.RFC3339Nano))
		}
		mustAppend(t, s, "acme", b.String())
		search(t, s, "acme", "")
	}
	if d := s.index.slackFor(t0.UnixNano(), dayEnd.UnixNano()); d <= kSpillSlack {
		t.Fatalf("recorded drift %d keys, want past the fixed slack %d (the test no longer makes keys run on)", d, kSpillSlack)
	}
	ctx := context.Background()
	from := dayEnd.Add(-100 * time.Millisecond)
	list, err := s.Sessions(ctx, SearchRequest{Tenant: "acme", From: from.UnixNano(), To: dayEnd.UnixNano(), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, ss := range list {
		got[ss.ID] = ss.Events
	}
	// The last 100 ms hold events 55,999 to 59,999: one of s55, all of
	// s56 to s59.
	want := map[string]int64{"s55": 1, "s56": 1000, "s57": 1000, "s58": 1000, "s59": 1000}
	if !maps.Equal(got, want) {
		t.Errorf("sessions of the last 100 ms = %v, want %v", got, want)
	}
	pq, err := query.Parse("type:prompt")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	counts, err := s.DailyCounts(ctx, SearchRequest{Tenant: "acme", Query: pq, From: day.UnixNano(), To: dayEnd.UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Count != n || counts[0].Type != "prompt" {
		t.Errorf("count by type for the day = %+v, want %d prompts", counts, n)
	}
}

func TestSustainedRateKeepsTimeWindows(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const n, gap = 60000, 25 * time.Microsecond
	before := kLookups.Load()
	for r := range n / 1000 {
		var b strings.Builder
		for i := r * 1000; i < (r+1)*1000; i++ {
			fmt.Fprintf(&b, `{"id":"e%06d","type":"prompt","timestamp":%q}`+"\n", i, t0.Add(time.Duration(i)*gap).Format(time.RFC3339Nano))
		}
		mustAppend(t, s, "acme", b.String())
		search(t, s, "acme", "") // an index transaction per request, as under steady load
	}
	if lookups := kLookups.Load() - before; lookups > 20000 {
		t.Errorf("%d key lookups for %d events, want a few per unit and transaction", lookups, n)
	}
	last := t0.Add(time.Duration(n-1) * gap)
	if d := s.index.slackFor(t0.UnixNano(), last.UnixNano()); d <= kSpillSlack {
		t.Fatalf("recorded drift %d keys, want past the fixed slack %d (the test no longer makes keys run on)", d, kSpillSlack)
	}
	// The drift belongs to the hour it happened in: a window of another
	// hour keeps the fixed slack (a burst must not widen every window
	// for ever).
	if d := s.index.slackFor(t0.Add(-3*time.Hour).UnixNano(), t0.Add(-time.Hour-time.Nanosecond).UnixNano()); d != kSpillSlack {
		t.Errorf("a window two hours before the burst reaches %d keys past its end, want %d", d, kSpillSlack)
	}
	check := func(s *Store) {
		t.Helper()
		for _, w := range []time.Duration{time.Millisecond, 100 * time.Millisecond, time.Second} {
			got := exportIDs(t, s, SearchRequest{Tenant: "acme", From: last.Add(-w).UnixNano(), To: last.UnixNano()})
			if want := int(w/gap) + 1; len(got) != want || got[len(got)-1] != fmt.Sprintf("e%06d", n-1) {
				t.Errorf("window of the last %v: %d events, want %d", w, len(got), want)
			}
		}
	}
	check(s)
	s.Close()
	s = openStore(t, dir) // the drift is read back from the index
	defer s.Close()
	check(s)
}

// Units, hours and days round down, before 1970 too (one floorDiv for
// all three).
func TestFloorDivRoundsDown(t *testing.T) {
	day := int64(24 * time.Hour)
	for _, c := range []struct{ ns, unit, hour, day int64 }{
		{0, 0, 0, 0},
		{1, 0, 0, 0},
		{-1, -1, -1, -1},
		{-kUnit, -1, -1, -1},
		{-kUnit - 1, -2, -1, -1},
		{int64(time.Hour), int64(time.Hour) / kUnit, 1, 0},
		{-day, -day / kUnit, -24, -1},
		{-day - 1, -day/kUnit - 1, -25, -2},
	} {
		if u, h, d := unitOf(c.ns), hourOf(c.ns), DayOf(c.ns); u != c.unit || h != c.hour || d != c.day {
			t.Errorf("ns %d: unit %d, hour %d, day %d; want %d, %d, %d", c.ns, u, h, d, c.unit, c.hour, c.day)
		}
	}
}
