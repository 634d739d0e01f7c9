package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/query"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func decode(t testing.TB, ndjson string) []clawtrail.Pending {
	t.Helper()
	return decodeAt(t, ndjson, time.Now)
}

// decodeAt decodes as the server does at the time now gives (events more
// than the clock skew limit from it are marked attributes.clock_skew_ms).
func decodeAt(t testing.TB, ndjson string, now func() time.Time) []clawtrail.Pending {
	t.Helper()
	d := ingest.Decoder{Limits: ingest.DefaultLimits(), Now: now}
	p, err := d.Decode([]byte(ndjson), true)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return p
}

func mustAppend(t *testing.T, s *Store, tenant, ndjson string) AppendResult {
	t.Helper()
	// The store's clock, as the server's handlers decode with it: a test
	// that sets Config.Now gets the same answers on any day.
	res, err := s.Append(context.Background(), tenant, "k1", decodeAt(t, ndjson, s.now))
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

func TestAppendSequencesAndPersists(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	r1 := mustAppend(t, s, "acme", `{"type":"prompt","content":"a"}`+"\n"+`{"type":"output","content":"b"}`)
	r2 := mustAppend(t, s, "acme", `{"type":"prompt","content":"c"}`)
	r3 := mustAppend(t, s, "other", `{"type":"prompt","content":"d"}`)
	if r1.FirstSeq != 0 || r1.LastSeq != 1 || r2.FirstSeq != 2 || r3.FirstSeq != 0 || r1.Accepted != 2 {
		t.Fatalf("seqs = %+v %+v %+v, want 0-1, 2, 0 (per tenant)", r1, r2, r3)
	}
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	if got := s.Head("acme"); got != 3 {
		t.Fatalf("after restart Head(acme) = %d, want 3", got)
	}
	r4 := mustAppend(t, s, "acme", `{"type":"prompt","content":"e"}`)
	if r4.FirstSeq != 3 {
		t.Fatalf("after restart next seq = %d, want 3", r4.FirstSeq)
	}
}

func TestIdempotencyAndConflictAtomicity(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	mustAppend(t, s, "acme", `{"id":"e1","type":"prompt","content":"x"}`)
	res := mustAppend(t, s, "acme", `{"id":"e1","type":"prompt","content":"x"}`+"\n"+`{"id":"e2","type":"prompt"}`)
	if res.Accepted != 1 || res.Duplicates != 1 || res.FirstSeq != 1 {
		t.Fatalf("retry = %+v, want 1 accepted (seq 1), 1 duplicate", res)
	}
	// Same id, other body, in the middle of a request: nothing is stored.
	_, err := s.Append(ctx, "acme", "k1", decode(t, `{"id":"e3","type":"prompt"}`+"\n"+`{"id":"e1","type":"prompt","content":"changed"}`))
	var ce *clawtrail.ConflictError
	if !errors.As(err, &ce) || ce.ID != "e1" || ce.Line != 2 || !errors.Is(err, clawtrail.ErrConflict) {
		t.Fatalf("conflict error = %v, want ConflictError for e1 at line 2", err)
	}
	if got := s.Head("acme"); got != 2 {
		t.Fatalf("Head after refused request = %d, want 2", got)
	}
	if _, err := s.Get(ctx, "acme", "e3"); !errors.Is(err, clawtrail.ErrNotFound) {
		t.Fatalf("e3 of the refused request: Get error = %v, want ErrNotFound", err)
	}
	// e3 can still be sent afterwards and takes the next seq.
	if res := mustAppend(t, s, "acme", `{"id":"e3","type":"prompt"}`); res.FirstSeq != 2 {
		t.Fatalf("e3 later = %+v, want seq 2", res)
	}
	// The same id in another tenant is another event.
	if res := mustAppend(t, s, "beta", `{"id":"e1","type":"prompt","content":"other"}`); res.Accepted != 1 {
		t.Fatalf("same id in another tenant = %+v, want accepted", res)
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	var mu sync.Mutex
	commits := 0
	s, err := Open(context.Background(), Config{Dir: t.TempDir(), Metrics: Metrics{
		CommitSeconds: func(float64, int) { mu.Lock(); commits++; mu.Unlock() }}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const workers, perWorker, batch = 8, 25, 10
	var wg sync.WaitGroup
	seen := make(chan int64, workers*perWorker*batch)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				var b strings.Builder
				for j := 0; j < batch; j++ {
					fmt.Fprintf(&b, `{"id":"w%d-%d-%d","type":"tool_call","tool":"exec"}`+"\n", w, i, j)
				}
				res, err := s.Append(context.Background(), "acme", "k", decode(t, b.String()))
				if err != nil || res.Accepted != batch {
					t.Errorf("Append = %+v, %v", res, err)
					return
				}
				for q := res.FirstSeq; q <= res.LastSeq; q++ {
					seen <- q
				}
			}
		}(w)
	}
	wg.Wait()
	close(seen)
	got := map[int64]bool{}
	for q := range seen {
		if got[q] {
			t.Fatalf("seq %d assigned twice", q)
		}
		got[q] = true
	}
	total := workers * perWorker * batch
	for q := int64(0); q < int64(total); q++ {
		if !got[q] {
			t.Fatalf("seq %d missing: seqs are not dense", q)
		}
	}
	if commits >= workers*perWorker {
		t.Errorf("%d commits for %d requests: concurrent requests never shared a commit", commits, workers*perWorker)
	}
}

// The leaf hash stored with each event (its first bytes) is the one its
// columns and body commit to.
func TestLeafStoredWithEvent(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	mustAppend(t, s, "acme", `{"id":"e1","type":"prompt","content":"hello"}`)
	var id, typ, key string
	var seq, recv int64
	var commit, lh, salt, body []byte
	err := s.reader.QueryRow(`SELECT id, seq, received_at, type, key_id, body_commit, leaf_hash, salt, body FROM events`).
		Scan(&id, &seq, &recv, &typ, &key, &commit, &lh, &salt, &body)
	if err != nil {
		t.Fatal(err)
	}
	c := ledger.BodyCommit(salt, body)
	if string(c[:]) != string(commit) {
		t.Fatal("stored body_commit is not SHA-256(domain ‖ salt ‖ body)")
	}
	l := ledger.Leaf{Tenant: "acme", ID: id, Seq: uint64(seq), ReceivedAt: recv, Type: typ, KeyID: key, BodyCommit: c}
	want := ledger.LeafHash(l.Append(nil))
	if string(want[:StoredLeafPrefix]) != string(lh) {
		t.Fatalf("stored leaf_hash %x is not the first %d bytes of the leaf recomputed from the row (%x)", lh, StoredLeafPrefix, want)
	}
	if len(salt) != ledger.ClearSaltSize {
		t.Fatalf("salt of %d bytes, want %d", len(salt), ledger.ClearSaltSize)
	}
	e, err := clawtrail.ParseEvent(body)
	if err != nil || e.Seq != seq || e.ReceivedAt.UnixNano() != recv || e.KeyID != "k1" || e.TenantID != "acme" {
		t.Fatalf("body = %s, %v; want the server fields of the row", body, err)
	}
}

func search(t *testing.T, s *Store, tenant, q string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitIndexed(ctx, tenant, s.Head(tenant)-1); err != nil {
		t.Fatalf("WaitIndexed: %v", err)
	}
	pq, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.Search(ctx, SearchRequest{Tenant: tenant, Query: pq, Limit: 100})
	if err != nil {
		t.Fatalf("Search(%q): %v", q, err)
	}
	return pageIDs(t, page)
}

func TestSearchOrderIsolationAndReindex(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	mustAppend(t, s, "acme", strings.Join([]string{
		`{"id":"b","type":"tool_call","tool":"send_email","timestamp":"2026-01-31T14:22:34Z"}`,
		`{"id":"a","type":"tool_call","tool":"send_email","timestamp":"2026-01-31T14:22:33Z"}`,
		`{"id":"c","type":"tool_call","tool":"exec","timestamp":"2026-01-31T14:22:35Z"}`,
		`{"id":"d","type":"tool_call","tool":"send_email","timestamp":"2026-01-31T14:22:34Z"}`,
	}, "\n"))
	mustAppend(t, s, "beta", `{"id":"x","type":"tool_call","tool":"send_email"}`)
	// Newest first by timestamp; equal timestamps keep seq order (b before d, reversed).
	if got := strings.Join(search(t, s, "acme", "tool:send_email"), ","); got != "d,b,a" {
		t.Fatalf("search = %s, want d,b,a", got)
	}
	if got := strings.Join(search(t, s, "beta", ""), ","); got != "x" {
		t.Fatalf("tenant beta sees %s, want only x", got)
	}
	if got := search(t, s, "nobody", ""); len(got) != 0 {
		t.Fatalf("unknown tenant sees %v", got)
	}
	s.Close()
	// Delete the index: it is rebuilt from the ledger on open.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		removeIfExists(t, dir+"/index.db"+suffix)
	}
	s = openStore(t, dir)
	defer s.Close()
	if got := strings.Join(search(t, s, "acme", "tool:send_email"), ","); got != "d,b,a" {
		t.Fatalf("after rebuilding the index, search = %s, want d,b,a", got)
	}
	if err := s.Reindex(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(search(t, s, "acme", "-tool:exec"), ","); got != "d,b,a" {
		t.Fatalf("after Reindex, search = %s, want d,b,a", got)
	}
	if lag := s.IndexLag(); lag != 0 {
		t.Fatalf("IndexLag = %d after catching up", lag)
	}
}

func TestIndexCoversExactlyTheLedger(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	for i := 0; i < 30; i++ {
		mustAppend(t, s, fmt.Sprintf("t%d", i%3), fmt.Sprintf(`{"type":"prompt","content":"n%d"}`, i))
	}
	search(t, s, "t0", "")
	search(t, s, "t1", "")
	search(t, s, "t2", "")
	db, err := sql.Open("sqlite", "file:"+s.cfg.Dir+"/index.db?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, fts int
	db.QueryRow(`SELECT count(*) FROM ev`).Scan(&n)
	db.QueryRow(`SELECT count(*) FROM fts WHERE fts MATCH '"n1"'`).Scan(&fts)
	if n != 30 || fts != 1 {
		t.Fatalf("index holds %d events (want 30) and %d matches of n1 (want 1)", n, fts)
	}
}

func removeIfExists(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// More than 16 events (kPerMicro) in one microsecond spill into the
// following keys and still come back in seq order.
func TestOrderKeySpill(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	var b strings.Builder
	for i := 0; i < 1100; i++ {
		fmt.Fprintf(&b, `{"id":"s%04d","type":"prompt","timestamp":"2026-03-01T00:00:00Z"}`+"\n", i)
	}
	b.WriteString(`{"id":"later","type":"prompt","timestamp":"2026-03-01T00:00:00.000002Z"}` + "\n")
	b.WriteString(`{"id":"earlier","type":"prompt","timestamp":"2026-02-28T23:59:59Z"}` + "\n")
	mustAppend(t, s, "acme", b.String())
	search(t, s, "acme", "")
	var got []string
	err := s.Export(context.Background(), SearchRequest{Tenant: "acme"}, func(st Stored) error {
		e, _ := clawtrail.ParseEvent(st.Body)
		got = append(got, e.ID)
		return nil
	})
	if err != nil || len(got) != 1102 || got[0] != "earlier" || got[1101] != "later" {
		t.Fatalf("export = %d events (%v), first %v", len(got), err, got[:3])
	}
	for i := 1; i <= 1100; i++ {
		if got[i] != fmt.Sprintf("s%04d", i-1) {
			t.Fatalf("position %d = %s, want s%04d (seq order among equal timestamps)", i, got[i], i-1)
		}
	}
}

// A cursor carries the index schema version: one from an index of another
// layout (before an upgrade rebuilt it, when order keys changed scale) is
// refused with a message saying so, not read as a key of this one.
func TestCursorOfAnotherIndexVersion(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	mustAppend(t, s, "acme", `{"id":"a","type":"prompt"}`+"\n"+`{"id":"b","type":"prompt"}`+"\n")
	search(t, s, "acme", "")
	ctx := context.Background()
	page, err := s.Search(ctx, SearchRequest{Tenant: "acme", Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %v %q", err, page.NextCursor)
	}
	if next, err := s.Search(ctx, SearchRequest{Tenant: "acme", Limit: 1, Cursor: page.NextCursor}); err != nil || len(next.Events) != 1 {
		t.Fatalf("second page: %v, %d events", err, len(next.Events))
	}
	raw, _ := base64.RawURLEncoding.DecodeString(page.NextCursor)
	for name, old := range map[string][]byte{"schema 16": raw[:9], "schema 17": append(raw[:9:9], 17), "another version": append(raw[:cursorLen-1:cursorLen-1], IndexSchemaVersion+1)} {
		_, err := s.Search(ctx, SearchRequest{Tenant: "acme", Limit: 1, Cursor: base64.RawURLEncoding.EncodeToString(old)})
		var inv *clawtrail.InvalidError
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), "search index was rebuilt") {
			t.Fatalf("cursor of %s: %v", name, err)
		}
	}
}

// Events with the timestamps of events indexed in an earlier batch find
// their unit's first keys taken: they take the next free keys of its
// bucket, come back in timestamp order, ties in seq order, and a batch
// mixing taken and free keys loses none of its events.
func TestOrderKeysTakenByAnEarlierBatch(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	batch := func(prefix string, n int) string {
		var b strings.Builder
		for i := range n {
			// 30 events in 15 microseconds: pairs share one.
			fmt.Fprintf(&b, `{"id":"%s%03d","type":"prompt","timestamp":"2026-03-01T00:00:00.%06dZ"}`+"\n", prefix, i, i/2)
		}
		return b.String()
	}
	mustAppend(t, s, "acme", batch("a", 30))
	search(t, s, "acme", "")
	mustAppend(t, s, "acme", batch("b", 30)+`{"id":"late","type":"prompt","timestamp":"2026-03-02T00:00:00Z"}`+"\n")
	search(t, s, "acme", "")
	var got []string
	if err := s.Export(context.Background(), SearchRequest{Tenant: "acme"}, func(st Stored) error {
		e, _ := clawtrail.ParseEvent(st.Body)
		got = append(got, e.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for us := range 15 { // per microsecond: the first batch's pair, then the second's
		want = append(want, fmt.Sprintf("a%03d", 2*us), fmt.Sprintf("a%03d", 2*us+1), fmt.Sprintf("b%03d", 2*us), fmt.Sprintf("b%03d", 2*us+1))
	}
	want = append(want, "late")
	if !slices.Equal(got, want) {
		t.Fatalf("export order:\n%v\nwant\n%v", got, want)
	}
}

// A phrase selects a superset in the index (no word positions); Match keeps
// exactly the events holding the phrase, across pages and in sessions.
func TestPhraseFilteredExactly(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	var b strings.Builder
	for i := 0; i < 450; i++ {
		content := "shipment was delayed again" // both words, not the phrase
		if i%50 == 0 {
			content = "the delayed shipment arrived"
		}
		fmt.Fprintf(&b, `{"id":"p%03d","type":"prompt","session_id":"s%d","content":%q,"timestamp":"2026-04-01T00:00:%02d.%03dZ"}`+"\n", i, i%3, content, i/1000, i%1000)
	}
	mustAppend(t, s, "acme", b.String())
	want := "p400,p350,p300,p250,p200,p150,p100,p050,p000"
	if got := strings.Join(search(t, s, "acme", `"delayed shipment"`), ","); got != want {
		t.Fatalf("phrase search = %s, want %s", got, want)
	}
	// Pages of 4 through the filtered path.
	pq, _ := query.Parse(`"delayed shipment"`)
	var ids []string
	req := SearchRequest{Tenant: "acme", Query: pq, Limit: 4}
	for pages := 0; pages < 10; pages++ {
		page, err := s.Search(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			e, _ := clawtrail.ParseEvent(ev.Body)
			ids = append(ids, e.ID)
		}
		if page.NextCursor == "" {
			break
		}
		req.Cursor = page.NextCursor
	}
	if got := strings.Join(ids, ","); got != want {
		t.Fatalf("paged phrase search = %s, want %s", got, want)
	}
	if got := len(search(t, s, "acme", `-"delayed shipment"`)); got != 100 {
		t.Fatalf("negated phrase returned %d events (first page), want 100", got)
	}
	sessions, err := s.Sessions(context.Background(), SearchRequest{Tenant: "acme", Query: pq, Limit: 10})
	if err != nil || len(sessions) != 3 || sessions[0].Events+sessions[1].Events+sessions[2].Events != 9 {
		t.Fatalf("sessions of a phrase = %+v, %v; want 9 events over 3 sessions", sessions, err)
	}
}

// A request whose later chunk holds stored ids falls back to event-by-event
// inserts without leaving the earlier chunks' rows behind.
func TestChunkFallback(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	batch := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, `{"id":"c%03d","type":"prompt","content":"n%d"}`+"\n", i, i)
		}
		return b.String()
	}
	mustAppend(t, s, "acme", batch(60, 100))
	res := mustAppend(t, s, "acme", batch(0, 100))
	if res.Accepted != 60 || res.Duplicates != 40 || res.FirstSeq != 40 || res.LastSeq != 99 || s.Head("acme") != 100 {
		t.Fatalf("result %+v, head %d; want 60 accepted as seqs 40-99, 40 duplicates", res, s.Head("acme"))
	}
	var rows int
	s.reader.QueryRow(`SELECT count(*) FROM events`).Scan(&rows)
	if rows != 100 {
		t.Fatalf("%d rows stored, want 100", rows)
	}
}

// An index written with another schema version is rebuilt from the ledger;
// a ledger of a newer version is refused.
func TestSchemaVersions(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	mustAppend(t, s, "acme", `{"id":"a","type":"prompt","content":"hello"}`)
	search(t, s, "acme", "hello")
	s.Close()

	db, err := sql.Open("sqlite", "file:"+dir+"/index.db")
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`UPDATE ix_state SET value = 1 WHERE name = 'schema'`)
	db.Exec(`DELETE FROM ev`) // an old index that would not find the event
	db.Close()
	s = openStore(t, dir)
	if got := search(t, s, "acme", "hello"); len(got) != 1 {
		t.Fatalf("after a schema change the index finds %v, want it rebuilt", got)
	}
	s.Close()

	db, _ = sql.Open("sqlite", "file:"+dir+"/ledger.db")
	db.Exec(`UPDATE meta SET value = '99' WHERE name = 'schema_version'`)
	db.Close()
	if _, err := Open(context.Background(), Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("Open of a newer ledger: %v", err)
	}
}

func TestSessionsTimeRange(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	mustAppend(t, s, "acme", strings.Join([]string{
		`{"type":"prompt","session_id":"old","timestamp":"2026-01-01T10:00:00Z"}`,
		`{"type":"tool_call","tool":"exec","status":"error","session_id":"new","timestamp":"2026-02-01T10:00:00Z"}`,
		`{"type":"output","session_id":"new","timestamp":"2026-02-01T10:00:05Z"}`,
	}, "\n"))
	search(t, s, "acme", "")
	from := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC).UnixNano()
	list, err := s.Sessions(context.Background(), SearchRequest{Tenant: "acme", From: from, Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != "new" || list[0].Events != 2 || list[0].Errors != 1 || fmt.Sprint(list[0].Tools) != "[exec]" {
		t.Fatalf("sessions from Jan 15 = %+v, %v", list, err)
	}
	to := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	list, _ = s.Sessions(context.Background(), SearchRequest{Tenant: "acme", To: to, Limit: 10})
	if len(list) != 1 || list[0].ID != "old" {
		t.Fatalf("sessions to Jan 2 = %+v", list)
	}
}

// Appends racing Close either commit or fail with ErrClosed; none waits
// for ever.
func TestAppendRacingClose(t *testing.T) {
	for round := 0; round < 20; round++ {
		s := openStore(t, t.TempDir())
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					_, err := s.Append(context.Background(), "acme", "k", decode(t, `{"type":"prompt"}`))
					if err != nil {
						if !errors.Is(err, clawtrail.ErrClosed) {
							t.Errorf("Append during Close: %v", err)
						}
						return
					}
				}
			}()
		}
		s.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("an Append racing Close never returned")
		}
	}
}

// id:X is answered by a rowid lookup of its event's key (found through the
// ledger's (tid, id) index and the search index's (tid, seq) one), not by
// walking the tenant's events; an id of another tenant, or of no event,
// selects nothing.
func TestSearchByID(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	mustAppend(t, s, "acme", strings.Join([]string{
		`{"id":"a1","type":"tool_call","tool":"exec","timestamp":"2026-01-31T14:22:33Z"}`,
		`{"id":"a2","type":"tool_call","tool":"send_email","timestamp":"2026-01-31T14:22:34Z"}`,
		`{"id":"a3","type":"prompt","timestamp":"2026-01-31T14:22:35Z"}`,
	}, "\n"))
	mustAppend(t, s, "beta", `{"id":"b1","type":"tool_call","tool":"exec"}`)
	for q, want := range map[string]string{
		"id:a2":                "a2",
		"id:a2 tool:exec":      "",
		"-id:a2":               "a3,a1",
		"id:(a1 OR a3)":        "a3,a1",
		"id:b1":                "",
		"id:nope":              "",
		"id:a1 OR tool:send_*": "a2,a1",
		"id:a*":                "a3,a2,a1",
	} {
		if got := strings.Join(search(t, s, "acme", q), ","); got != want {
			t.Errorf("search %q = %s, want %s", q, got, want)
		}
	}
	pq, _ := query.Parse("id:a2")
	tid, _ := s.tenantID("acme")
	_, plan, err := s.compile(context.Background(), SearchRequest{Tenant: "acme", Query: pq}, tid)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("SELECT e.k, e.seq")
	_, args := selection(&sb, tid, SearchRequest{Tenant: "acme"}, kSpillSlack, pq, plan, anyKeyLo, anyKeyHi)
	if got := queryPlan(t, s, sb.String(), args...); !strings.Contains(got, "INTEGER PRIMARY KEY (rowid=?)") {
		t.Errorf("id:a2 plans %q: want a lookup of its key\n%s %v", got, sb.String(), args)
	}
}

// A wildcard on an indexed column (tool:send_*) is read as one page per
// value it stands for, merged: every page, either order, with a time
// window and with other terms, selects what the same values spelled out
// (tool:(send_email OR …), the plan it replaces) select.
func TestColumnPrefixMerged(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	tools := []string{"send_email", "send_slack", "send_sms", "exec", "sendmail", "send_"}
	statuses := []string{"success", "error"}
	var lines []string
	for i := range 120 {
		lines = append(lines, fmt.Sprintf(`{"id":"e%03d","type":"tool_call","tool":%q,"status":%q,"timestamp":"2026-01-31T14:%02d:%02dZ"}`,
			i, tools[i*7%len(tools)], statuses[i%3%2], i%60, (i*13)%60))
	}
	mustAppend(t, s, "acme", strings.Join(lines, "\n"))
	ctx := context.Background()
	if err := s.WaitIndexed(ctx, "acme", s.Head("acme")-1); err != nil {
		t.Fatal(err)
	}
	tid, _ := s.tenantID("acme")
	all := func(q string, asc bool, limit int, from, to int64) []string {
		pq, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		req := SearchRequest{Tenant: "acme", Query: pq, Limit: limit, Asc: asc, From: from, To: to}
		for range 200 {
			page, err := s.Search(ctx, req)
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			for _, ev := range page.Events {
				e, _ := clawtrail.ParseEvent(ev.Body)
				ids = append(ids, e.ID)
			}
			if page.NextCursor == "" {
				return ids
			}
			req.Cursor = page.NextCursor
		}
		t.Fatalf("%q: paging did not end", q)
		return nil
	}
	from := time.Date(2026, 1, 31, 14, 10, 0, 0, time.UTC).UnixNano()
	to := time.Date(2026, 1, 31, 14, 40, 0, 0, time.UTC).UnixNano()
	for _, c := range []struct{ wild, spelled string }{
		{"tool:send_*", "tool:(send_email OR send_slack OR send_sms OR send_)"},
		{"tool:send_* status:error", "tool:(send_email OR send_slack OR send_sms OR send_) status:error"},
		{"tool:send* -status:error", "tool:(send_email OR send_slack OR send_sms OR send_ OR sendmail) -status:error"},
		{"status:err*", "status:error"},
		{"type:tool* tool:send_s*", "type:tool_call tool:(send_slack OR send_sms)"},
		{"tool:nothing*", "tool:nothing"},
	} {
		for _, asc := range []bool{false, true} {
			for _, limit := range []int{1, 7, 100} {
				for _, w := range [][2]int64{{0, 0}, {from, to}} {
					got, want := all(c.wild, asc, limit, w[0], w[1]), all(c.spelled, asc, limit, w[0], w[1])
					if strings.Join(got, ",") != strings.Join(want, ",") {
						t.Fatalf("%q asc=%v limit=%d window=%v:\n got %v\nwant %v (%q)", c.wild, asc, limit, w != [2]int64{}, got, want, c.spelled)
					}
				}
			}
		}
	}
	// The wildcard is read as one plan per value, found in the index.
	for q, want := range map[string]int{"tool:send_*": 4, "tool:send*": 5, "status:err*": 1, "tool:nothing*": 0, "tool:send_* OR status:x": 0} {
		pq, _ := query.Parse(q)
		_, plan, err := s.compile(ctx, SearchRequest{Tenant: "acme", Query: pq}, tid)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := s.prefixVariants(ctx, tid, SearchRequest{Tenant: "acme", Query: pq}, pq, plan)
		if err != nil || len(vs) != want {
			t.Errorf("%q: %d variants (%v), want %d", q, len(vs), err, want)
		}
	}
}

// A tenant holding most of the events searches without the tenant token in
// its full-text expression (the join on the tenant keeps its own events);
// a smaller one with it. Both find exactly their own events.
func TestTenantTokenLeftOutForMostEvents(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	var big []string
	for i := range 6 {
		big = append(big, fmt.Sprintf(`{"id":"a%d","type":"prompt","content":"refund %d","user_id":"u1","span_id":"sp%d"}`, i, i, i%2))
	}
	mustAppend(t, s, "acme", strings.Join(big, "\n"))
	mustAppend(t, s, "beta", `{"id":"b0","type":"prompt","content":"refund","user_id":"u1","span_id":"sp0"}`+"\n"+
		`{"id":"b1","type":"prompt","content":"other","user_id":"u2"}`)
	for _, c := range []struct {
		tenant, q, want string
		token           bool
	}{
		{"acme", "refund", "a5,a4,a3,a2,a1,a0", false},
		{"acme", "user:u1 span_id:sp0", "a4,a2,a0", false},
		{"acme", "-refund", "", true}, // no positive term: the tenant token is the base
		{"beta", "refund", "b0", true},
		{"beta", "user:u1 span_id:sp0", "b0", true},
	} {
		if got := strings.Join(search(t, s, c.tenant, c.q), ","); got != c.want {
			t.Errorf("%s: search %q = %s, want %s", c.tenant, c.q, got, c.want)
		}
		tid, _ := s.tenantID(c.tenant)
		pq, _ := query.Parse(c.q)
		_, plan, err := s.compile(context.Background(), SearchRequest{Tenant: c.tenant, Query: pq}, tid)
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(plan.FTS, query.TenantToken(tid)); has != c.token {
			t.Errorf("%s: %q plans FTS %s: tenant token %v, want %v", c.tenant, c.q, plan.FTS, has, c.token)
		}
	}
}
