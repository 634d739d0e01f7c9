package query

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail"
)

// openIndex creates the index schema in a new database in a temp dir.
func openIndex(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(SQLiteSchema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	return db
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullPtr[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

const insertEv = `INSERT INTO ev(k, tid, seq, ts, received_at, id, key_id, type,
	session_id, user_id, agent_id, channel, trace_id, span_id, parent_id,
	tool, status, model, destination, method, endpoint, operation, path, decision, approver,
	duration_ms, tokens_used, status_code, bytes)
	VALUES(?,?,?,?,?,?,?,?, ?,?,?,?,?,?,?, ?,?,?,?,?,?,?,?,?,?, ?,?,?,?)`

// loadIndex writes events into the index as an indexer would: k is the
// event's position, tid the position of its tenant in tenants.
func loadIndex(t testing.TB, db *sql.DB, events []*clawtrail.Event, tids map[string]int64) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for k, e := range events {
		tid := tids[e.TenantID]
		if _, err := tx.Exec(insertEv, evColumns(int64(k), tid, e)...); err != nil {
			t.Fatalf("insert ev: %v", err)
		}
		for _, r := range NumberRows(FVRows(e)) {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO fv(tid, f, v, k, n) VALUES(?,?,?,?,?)`,
				tid, r.F, r.V, k, nullPtr(r.N)); err != nil {
				t.Fatalf("insert fv: %v", err)
			}
		}
		if _, err := tx.Exec(`INSERT INTO fts(rowid, body) VALUES(?,?)`,
			k, IndexBody(tid, IndexText(tid, e), ColumnRows(e, nil), FVRows(e))); err != nil {
			t.Fatalf("insert fts: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func evColumns(k, tid int64, e *clawtrail.Event) []any {
	return []any{k, tid, e.Seq, e.Timestamp.UnixNano(), e.ReceivedAt.UnixNano(), e.ID, nullString(e.KeyID), e.Type,
		nullString(e.SessionID), nullString(e.UserID), nullString(e.AgentID), nullString(e.Channel),
		nullString(e.TraceID), nullString(e.SpanID), nullString(e.ParentID),
		nullString(e.Tool), nullString(e.Status), nullString(e.Model), nullString(e.Destination),
		nullString(e.Method), nullString(e.Endpoint), nullString(e.Operation), nullString(e.Path),
		nullString(e.Decision), nullString(e.Approver),
		nullPtr(e.DurationMS), nullPtr(e.TokensUsed), nullPtr(e.StatusCode), nullPtr(e.Bytes)}
}

// selectSeqs runs a plan the way the store does and returns the seqs, sorted.
func selectSeqs(db *sql.DB, p Plan, tid int64) ([]int64, error) {
	var rows *sql.Rows
	var err error
	if p.FTS != "" {
		args := append([]any{p.FTS, tid}, p.Args...)
		rows, err = db.Query(`SELECT e.k, e.seq FROM fts JOIN ev e ON e.k=fts.rowid WHERE fts MATCH ? AND e.tid=? AND (`+
			p.Where+`) ORDER BY fts.rowid DESC`, args...)
	} else {
		args := append([]any{tid}, p.Args...)
		rows, err = db.Query(`SELECT e.k, e.seq FROM ev e WHERE e.tid=? AND (`+p.Where+`) ORDER BY e.k DESC`, args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seqs := []int64{}
	for rows.Next() {
		var k, seq int64
		if err := rows.Scan(&k, &seq); err != nil {
			return nil, err
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs, rows.Err()
}

// differ checks that every form of the SQL of query selects, in every
// tenant, exactly the events Match accepts.
type differ struct {
	t      *testing.T
	db     *sql.DB
	tids   map[string]int64
	events map[string][]*clawtrail.Event // by tenant

	checks, partial int // (query, tenant) pairs, and those matching some but not all events
	driven          int // plans with FTS
	inexact         int // plans that select a superset (phrases)
	resolved        int // plans where KeyOf turned an id:X into its key
	untokened       int // plans whose FTS expression NoTenantToken changed
}

func (d *differ) check(query string) bool {
	q, err := Parse(query)
	if err != nil {
		d.t.Errorf("Parse(%q): %v", query, err)
		return false
	}
	for tenant, tid := range d.tids {
		want := []int64{}
		for _, e := range d.events[tenant] {
			if q.Match(e) {
				want = append(want, e.Seq)
			}
		}
		d.checks++
		if len(want) > 0 && len(want) < len(d.events[tenant]) {
			d.partial++
		}
		driving, err := q.SQLite(tid, tenant)
		if err != nil {
			d.t.Errorf("%q: SQLite: %v", query, err)
			return false
		}
		if driving.FTS != "" {
			d.driven++
		}
		if !driving.Exact {
			d.inexact++
		}
		// id:X resolved to its event's key, as the store compiles it.
		resolved, _ := q.SQLiteWith(tid, tenant, Options{KeyOf: func(id string) (int64, bool, error) {
			var k int64
			err := d.db.QueryRow(`SELECT k FROM ev WHERE tid = ? AND id = ?`, tid, id).Scan(&k)
			if errors.Is(err, sql.ErrNoRows) {
				return 0, false, nil
			}
			return k, err == nil, err
		}})
		if resolved.Where != driving.Where {
			d.resolved++
		}
		// Without the tenant token: the join on e.tid keeps the tenant's.
		untokened, _ := q.SQLiteWith(tid, tenant, Options{NoTenantToken: true})
		if untokened.FTS != driving.FTS {
			d.untokened++
		}
		for _, p := range []Plan{driving, q.compile(tid, tenant, false, nil), resolved, untokened} {
			if !d.same(query, tenant, p, want) {
				return false
			}
		}
	}
	return true
}

func (d *differ) same(query, tenant string, p Plan, want []int64) bool {
	got, err := selectSeqs(d.db, p, d.tids[tenant])
	if err != nil {
		d.t.Errorf("query %q, tenant %s: SQL error %v\nWHERE %s\nFTS %s", query, tenant, err, p.Where, p.FTS)
		return false
	}
	if slices.Equal(got, want) {
		return true
	}
	if !p.Exact && isSubset(want, got) {
		return true // a superset, as an inexact plan may select; Match filters it
	}
	seq, inSQL := firstDifference(got, want)
	var e *clawtrail.Event
	for _, x := range d.events[tenant] {
		if x.Seq == seq {
			e = x
		}
	}
	d.t.Errorf("query %q, tenant %s: event seq %d: SQL says %v, Match says %v\nWHERE %s\nARGS %q\nFTS %s\nevent: %s",
		query, tenant, seq, inSQL, !inSQL, p.Where, p.Args, p.FTS, describe(e))
	return false
}

func isSubset(small, big []int64) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

// firstDifference returns the first seq in one set but not the other, and
// whether it is in got.
func firstDifference(got, want []int64) (int64, bool) {
	for _, s := range got {
		if !slices.Contains(want, s) {
			return s, true
		}
	}
	for _, s := range want {
		if !slices.Contains(got, s) {
			return s, false
		}
	}
	return -1, false
}

func describe(e *clawtrail.Event) string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id=%s type=%q tool=%q status=%q session=%q ts=%s dur=%v tokens=%v code=%v bytes=%v\n",
		e.ID, e.Type, e.Tool, e.Status, e.SessionID, e.Timestamp.Format("2006-01-02T15:04:05.999999999Z07:00"),
		nullPtr(e.DurationMS), nullPtr(e.TokensUsed), nullPtr(e.StatusCode), nullPtr(e.Bytes))
	fmt.Fprintf(&b, "  fts: %q\n", FTSText(e))
	for _, r := range FVRows(e) {
		fmt.Fprintf(&b, "  fv %s = %q n=%v\n", r.F, r.V, nullPtr(r.N))
	}
	return b.String()
}

func TestSQLiteDifferential(t *testing.T) {
	n, queries := 2000, 500
	if testing.Short() || raceEnabled {
		n, queries = 400, 120
	}
	c := newCorpus(1, n)
	d := &differ{t: t, db: openIndex(t), tids: map[string]int64{}, events: map[string][]*clawtrail.Event{}}
	for i, tenant := range corpusTenants {
		d.tids[tenant] = int64(i + 1)
	}
	for _, e := range c.events {
		d.events[e.TenantID] = append(d.events[e.TenantID], e)
	}
	loadIndex(t, d.db, c.events, d.tids)

	failures := 0
	all := append(slices.Clone(handQueries), seedQueries(t)...)
	for range queries {
		all = append(all, c.query(3))
	}
	for _, query := range all {
		if !d.check(query) {
			if failures++; failures >= 5 {
				t.Fatal("too many disagreements")
			}
		}
	}
	t.Logf("%d events, %d queries, %d checks: %d matched some but not all events, %d used an FTS join, %d inexact (phrases), %d with an id resolved, %d without the tenant token",
		n, len(all), d.checks, d.partial, d.driven, d.inexact, d.resolved, d.untokened)
	if d.partial < d.checks/3 || d.driven < d.checks/20 {
		t.Errorf("the random queries are too easy: %d of %d checks partial, %d driven", d.partial, d.checks, d.driven)
	}
	if d.untokened < 100 {
		t.Errorf("%d plans left the tenant token out: the queries should have positive full-text terms", d.untokened)
	}
	if d.resolved < 10 {
		t.Errorf("%d plans resolved an id to its key: the queries should name ids", d.resolved)
	}
	if d.inexact == 0 || d.inexact > d.checks/2 {
		t.Errorf("%d of %d plans inexact: phrases should be some, not most", d.inexact, d.checks)
	}
}

// seedQueries returns the seed corpus of FuzzParse.
func seedQueries(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, q := range fuzzSeeds {
		if _, err := Parse(q); err == nil {
			out = append(out, q)
		}
	}
	return out
}

func TestSQLiteSeed(t *testing.T) {
	events := seedEvents(t)
	d := &differ{t: t, db: openIndex(t), tids: map[string]int64{"tenant_acme_corp": 7},
		events: map[string][]*clawtrail.Event{"tenant_acme_corp": events}}
	loadIndex(t, d.db, events, d.tids)
	for _, query := range []string{"tool:send_email", `"delayed shipment"`, "support@vendor.com -type:prompt",
		"(type:tool_call OR type:api_call) AND -status:success", "duration_ms:>500", "arguments.to:support*"} {
		d.check(query)
	}
}

func TestSQLitePlan(t *testing.T) {
	inexact := map[string]bool{`"delayed shipment" email*`: true, `-"delayed shipment" OR -email`: true, `invoice -"delayed shipment"`: true,
		`content:"the ticket, summarized at once"*`: true, `content:"` + strings.Repeat("a b ", 20) + `c"`: true}
	tests := []struct {
		q     string
		where string
		args  []any
		fts   string
	}{
		{"", "1", nil, ""},
		{"tool:send_email", "e.tool = ?", []any{"send_email"}, ""},
		{"-status:*", "NOT (e.status IS NOT NULL)", nil, ""},
		{"tool:send_*", "(e.tool IS NOT NULL AND e.tool >= ? AND e.tool < ?)", []any{"send_", "send`"}, ""},
		{`"delayed shipment" email*`, "1", nil, `"§t3" AND ("delayed" AND "shipment") AND "email" *`},
		{"email tool:x", "e.tool = ?", []any{"x"}, `"§t3" AND "email"`},
		{"email OR tool:x", "(e.k IN (SELECT rowid FROM fts WHERE fts MATCH ?) OR e.tool = ?)",
			[]any{`"§t3" AND "email"`, "x"}, ""},
		{`-"delayed shipment" OR -email`, "(NOT (0) OR NOT (e.k IN (SELECT rowid FROM fts WHERE fts MATCH ?)))",
			[]any{`"§t3" AND "email"`}, ""},
		{"tenant:acme", "1", nil, ""},
		// session_id:X is the session's token ("§" + "session_id" + "§" + X, in token text),
		// and so are the values of the other token columns (user_id, trace_id, ...);
		// negated, or other than equality, a term tests the column.
		{"session_id:s1 type:prompt", "e.type = ?", []any{"prompt"}, `"§t3" AND "§sessionşid§s1"`},
		{"-session:s1", "1", nil, `("§t3") NOT ("§sessionşid§s1")`},
		{"session_id:s*", "(e.session_id IS NOT NULL AND e.session_id >= ? AND e.session_id < ?)", []any{"s", "t"}, ""},
		{"user:alice", "1", nil, `"§t3" AND "§userşid§alice"`},
		{"trace_id:t1 -user:alice", "1", nil, `("§t3" AND "§traceşid§t1") NOT ("§userşid§alice")`},
		{"channel:cli -user:alice", "e.channel = ?", []any{"cli"}, `("§t3") NOT ("§userşid§alice")`},
		// Under a NOT deeper down, a token column is compared as a column.
		{"-(user:alice status:x)", "NOT ((e.user_id IS ? AND e.status IS ?))", []any{"alice", "x"}, ""},
		{"user:alice OR status:error", "(e.k IN (SELECT rowid FROM fts WHERE fts MATCH ?) OR e.status = ?)",
			[]any{`"§t3" AND "§userşid§alice"`, "error"}, ""},
		{"key_id:k1 OR parent_id:p1", "1", nil, `"§t3" AND ("§keyşid§k1" OR "§parentşid§p1")`},
		{"id:e1", "e.id = ?", []any{"e1"}, ""},
		// span_id:X drives from its bucket's token; the column decides.
		{"span_id:s1 channel:cli", "(e.span_id = ? AND e.channel = ?)", []any{"s1", "cli"}, `"§t3" AND "§spanşid§°hb8c9"`},
		{"span_id:s1 OR channel:cli", "(e.span_id = ? OR e.channel = ?)", []any{"s1", "cli"}, ""},
		{"tenant:beta", "0", nil, ""},
		// A comparison on a numeric column drives with the magnitude classes its
		// matches can be in (a superset: the comparison stays in Where) — unless
		// every class can hold one.
		{"bytes:<=3", "coalesce(CAST(e.bytes AS REAL) <= ?, 0)", []any{3.0},
			`"§t3" AND ("§bytes§°m" OR "§bytes§°z" OR "§bytes§°p0" OR "§bytes§°p1s0" OR "§bytes§°p1s1" OR "§bytes§°p1s2" OR "§bytes§°p1s3" OR "§bytes§°p1s4" OR "§bytes§°p1s5" OR "§bytes§°p1s6" OR "§bytes§°p1s7" OR "§bytes§°p1s8" OR "§bytes§°p1s9t0" OR "§bytes§°p1s9t1" OR "§bytes§°p1s9t2" OR "§bytes§°p1s9t3" OR "§bytes§°p1s9t4" OR "§bytes§°p1s9t5")`},
		{"status_code:500 tool:x", "(coalesce(CAST(e.status_code AS REAL) = ?, 0) AND e.tool = ?)", []any{500.0, "x"},
			`"§t3" AND ("§statusşcode§°p8s15t7")`},
		{"duration_ms:>-5", "coalesce(CAST(e.duration_ms AS REAL) > ?, 0)", []any{-5.0}, ""},
		{"seq:>5", "coalesce(CAST(e.seq AS REAL) > ?, 0)", []any{5.0}, ""},
		{"-bytes:>5", "NOT (coalesce(CAST(e.bytes AS REAL) > ?, 0))", []any{5.0}, ""},
		{"timestamp:2026-01-01", "e.ts = ?", []any{int64(1767225600000000000)}, ""},
		// Values are tokens in fts: "§" + path + "§" + value, in token text; a
		// number also "§" + path + "§¹" + shortest form (in token text). Positive
		// terms of the top-level conjunction drive the FTS join.
		{"arguments.to:5", "1", nil, `"§t3" AND ("§argumentsĮto§5" OR "§argumentsĮto§¹5")`},
		{"content:hi", "1", nil, `"§t3" AND "§content§hi"`},
		// A prefix of a words field also takes its words: long values have no value token.
		{"content:hi* cat", "1", nil, `"§t3" AND ("§content§hi" * OR "§content§´hi" *) AND "cat"`},
		{"content:hi.* cat", "1", nil, `"§t3" AND ("§content§hiĮ" * OR "§content§´hiĮ" *) AND "cat"`},
		{`content:"the ticket, summarized at once"*`, "1", nil, `"§t3" AND ("§content§theĠticketĬĠsummarizedĠatĠonce" * OR ("§content§´theĠticketĬĠsumm" AND "summarized" AND "ticket" AND "the" AND "at"))`},
		{"reason:hi*", "1", nil, `"§t3" AND "§reason§hi" *`},
		// A long value of a words field: its field and its words.
		{`content:"` + strings.Repeat("a b ", 20) + `c"`, "1", nil, `"§t3" AND ("§content§´aĠbĠaĠbĠaĠbĠaĠbĠ" AND "a" AND "b" AND "c")`},
		{"content:* type:prompt", "e.type = ?", []any{"prompt"}, `"§t3" AND "§content"`},
		// A wildcard ending at "/" is one prefix token ("§p"); others scan the value tokens.
		{"arguments.path:/home/*", "1", nil, `"§t3" AND "§argumentsĮpath§²įhomeį"`},
		{"arguments.path:/home/a*", "1", nil, `"§t3" AND ("§argumentsĮpath§įhomeįa" * OR "§argumentsĮpath§´įhomeįa" *)`},
		// Elsewhere a term is a subquery.
		// An OR of what the full-text index holds drives too.
		{"content:hi OR cat dog", "1", nil, `"§t3" AND ("§content§hi" OR ("cat" AND "dog"))`},
		// Elsewhere a subquery.
		{"NOT content:hi", "1", nil, `("§t3") NOT ("§content§hi")`},
		// An exact negated full-text term of the top-level conjunction drives
		// the join with FTS5's NOT (every event has an fts row); a phrase,
		// a superset, cannot.
		{"invoice -refund -email*", "1", nil, `(("§t3" AND "invoice") NOT ("refund")) NOT ("email" *)`},
		{`invoice -"delayed shipment"`, "NOT (0)", nil, `"§t3" AND "invoice"`},
		{"-(email OR tool:x)", "NOT ((e.k IN (SELECT rowid FROM fts WHERE fts MATCH ?) OR e.tool IS ?))", []any{`"§t3" AND "email"`, "x"}, ""},
		{"content:hi OR usage.x:<1", "(e.k IN (SELECT rowid FROM fts WHERE fts MATCH ?) OR e.k IN (SELECT k FROM fv WHERE tid = ? AND f = ? AND n < ?))",
			[]any{`"§t3" AND "§content§hi"`, int64(3), "usage.x", 1.0}, ""},
		// A numeric comparison inside arguments./usage./... drives with its
		// magnitude classes too, each candidate's fv rows probed; under OR or NOT
		// (or when every class may hold a match) the field's rows are collected.
		{"usage.x:<1", "EXISTS (SELECT 1 FROM fv WHERE tid = ? AND f = ? AND k = e.k AND n < ?)", []any{int64(3), "usage.x", 1.0},
			`"§t3" AND ("§usageĮx§°m" OR "§usageĮx§°z")`},
		{"usage.x:<1 OR tool:x", "(e.k IN (SELECT k FROM fv WHERE tid = ? AND f = ? AND n < ?) OR e.tool = ?)", []any{int64(3), "usage.x", 1.0, "x"}, ""},
		{"usage.x:>-5", "e.k IN (SELECT k FROM fv WHERE tid = ? AND f = ? AND n > ?)", []any{int64(3), "usage.x", -5.0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			q, err := Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			p, err := q.SQLite(3, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if p.Where != tt.where || !slices.Equal(p.Args, tt.args) || p.FTS != tt.fts || p.Exact == inexact[tt.q] {
				t.Errorf("SQLite(%q) =\n  %q %v %q exact=%v\nwant\n  %q %v %q", tt.q, p.Where, p.Args, p.FTS, p.Exact, tt.where, tt.args, tt.fts)
			}
		})
	}
}

// ev_tool and ev_status are partial indexes (rows with a value): SQLite
// reads one only for a comparison other than IS, so a compiled equality
// outside a NOT must be "=" for tool:X and status:X to walk their index.
func TestPartialIndexesRead(t *testing.T) {
	db := openIndex(t)
	for q, index := range map[string]string{"tool:send_email": "ev_tool", "status:error": "ev_status"} {
		parsed, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parsed.SQLite(3, "acme")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT e.k, e.seq FROM ev e WHERE e.tid = ? AND (`+p.Where+`) ORDER BY e.k DESC LIMIT 100`, append([]any{3}, p.Args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "; ")
		}
		rows.Close()
		if !strings.Contains(plan.String(), "INDEX "+index) {
			t.Errorf("%s: plan %q does not read %s", q, plan.String(), index)
		}
	}
}
