package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/query"
	"github.com/clawtrail/clawtrail/strictjson"
)

// indexSchema extends the query package's search schema with the indexer's
// own state. The index is derived data: it can be deleted and rebuilt.
const indexSchema = query.SQLiteSchema + `
-- A tenant's events in time order, covering what an unfiltered search or
-- export reads (type for the server-record rule, seq for the ledger, ts for
-- the time range), so those walk the index alone.
CREATE INDEX IF NOT EXISTS ev_tid_kc ON ev(tid, k, type, seq, ts);
-- By seq: a tombstone's ranges (remove) and the server's coverage check.
-- (verify walks ev_tid_kc instead: it counts the daily rollup on the way.)
CREATE INDEX IF NOT EXISTS ev_tid_seq ON ev(tid, seq);
CREATE TABLE IF NOT EXISTS ix_state(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ix_tenants(tid INTEGER PRIMARY KEY, next_seq INTEGER NOT NULL);
-- seq ranges whose events a tombstone removed from the index (retention, erasure)
CREATE TABLE IF NOT EXISTS ix_gone(tid INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, PRIMARY KEY(tid, lo)) WITHOUT ROWID;
-- The rollup behind GET /v1/stats: events per tenant, UTC day of their
-- timestamp (days since 1970-01-01) and type, kept in the same
-- transactions as the ev rows they count.
CREATE TABLE IF NOT EXISTS ix_daily(tid INTEGER NOT NULL, day INTEGER NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(tid, day, type)) WITHOUT ROWID;
-- The hours (of event timestamps, floor(ts / 1 h)) some of whose events got
-- order keys further than kSpillSlack past their unit's first key, and the
-- furthest (in keys): a time window touching such an hour reaches that far
-- past its end (keySlack).
CREATE TABLE IF NOT EXISTS ix_drift(hour INTEGER PRIMARY KEY, keys INTEGER NOT NULL);
-- Merge FTS5 segments less eagerly than the default (4): fewer merges while
-- indexing, a few more segments per query (full-text queries stay ~ms).
INSERT INTO fts(fts, rank) VALUES ('automerge', 8);
`

// indexer follows the ledger by its global commit order g and writes the
// search index in large batches, in its own file.
type indexer struct {
	s      *Store
	db     *sql.DB // one connection: the indexer's writes
	reader *sql.DB // searches
	stop   chan struct{}
	done   chan struct{}
	reset  chan chan error

	lastYield time.Time // when yield last looked at the sequencer (indexer goroutine only)
	lastBusy  int64     // the sequencer's busyNS then

	mu        sync.Mutex
	cursor    int64           // last g indexed
	next      map[int64]int64 // tid → next seq not yet indexed
	progressC chan struct{}   // closed and replaced after every batch
	batches   int

	// drift holds ix_drift: for each hour some of whose events got keys
	// further than kSpillSlack past their unit's first key, the furthest
	// (in keys). Readers widen a time window's key range by the largest
	// of the hours it touches (keySlack). A map never changed once
	// published: the writer publishes a new one.
	drift atomic.Pointer[map[int64]int64]
}

// IndexSchemaVersion names the layout of index.db. An index written with
// another version is deleted and rebuilt from the ledger at open: it is
// derived data. Raise it with every change to the index's tables or to
// what the indexer writes in them.
const IndexSchemaVersion = 19 // 14: magnitude tokens of the numeric columns; 15: and of the fv numbers; 16: sixteenths and 256ths, span buckets; 17: a long value of a words field has a head token instead of its value token, 16 order keys a µs; 18: 64 order keys per 4 ms; 19: the keys' drift past their units recorded per hour (ix_drift), which time windows reach

func openIndexer(ctx context.Context, s *Store) (*indexer, error) {
	path := filepath.Join(s.cfg.Dir, "index.db")
	if err := checkIndexVersion(ctx, path, s.log, s.Encrypted()); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "synchronous(NORMAL)",
		"busy_timeout(10000)", "cache_size(-32768)", "secure_delete(1)", "temp_store(2)")+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	ix := &indexer{s: s, db: db, stop: make(chan struct{}), done: make(chan struct{}),
		reset: make(chan chan error), next: map[int64]int64{}, progressC: make(chan struct{})}
	if _, err := db.ExecContext(ctx, indexSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT OR IGNORE INTO ix_state(name, value) VALUES ('schema', ?), ('blind', ?)`, IndexSchemaVersion, s.Encrypted()); err != nil {
		db.Close()
		return nil, err
	}
	ix.reader, err = sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "busy_timeout(10000)",
		"query_only(1)", "cache_size(-16384)", mmapPragma, "temp_store(2)"))
	if err != nil {
		db.Close()
		return nil, err
	}
	ix.reader.SetMaxOpenConns(8)
	ix.reader.SetMaxIdleConns(8)
	if err := ix.load(ctx); err != nil {
		ix.reader.Close()
		db.Close()
		return nil, err
	}
	return ix, nil
}

func (ix *indexer) load(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	err := ix.db.QueryRowContext(ctx, `SELECT value FROM ix_state WHERE name='cursor'`).Scan(&ix.cursor)
	if errors.Is(err, sql.ErrNoRows) {
		ix.cursor = 0
	} else if err != nil {
		return err
	}
	drift := map[int64]int64{}
	dr, err := ix.db.QueryContext(ctx, `SELECT hour, keys FROM ix_drift`)
	if err != nil {
		return err
	}
	for dr.Next() {
		var h, d int64
		if err := dr.Scan(&h, &d); err != nil {
			dr.Close()
			return err
		}
		drift[h] = d
	}
	if err := dr.Close(); err != nil {
		return err
	}
	ix.drift.Store(&drift)
	rows, err := ix.db.QueryContext(ctx, `SELECT tid, next_seq FROM ix_tenants`)
	if err != nil {
		return err
	}
	defer rows.Close()
	clear(ix.next)
	for rows.Next() {
		var tid, n int64
		if err := rows.Scan(&tid, &n); err != nil {
			return err
		}
		ix.next[tid] = n
	}
	return rows.Err()
}

func (ix *indexer) close() {
	close(ix.stop)
	<-ix.done
	ix.reader.Close()
}

// run writes the index. A feed goroutine reads and decodes the next batch
// from the ledger while this one writes the previous: decoding and SQLite
// work overlap on two cores.
func (ix *indexer) run() {
	defer close(ix.done)
	ix.mu.Lock()
	f := ix.startFeed(ix.cursor)
	ix.mu.Unlock()
	// The batch: the chunks waiting, copied into one buffer kept from one
	// transaction to the next (appending them to the first chunk grew a new
	// array of up to IndexBatch events several times a transaction).
	var buf []prepared
	for {
		select {
		case <-ix.stop:
			f.halt()
			return
		case done := <-ix.reset:
			f.halt()
			err := ix.clear()
			done <- err
			f = ix.startFeed(0)
		case first := <-f.out:
			b := f.drain(append(buf[:0], first...), ix.s.cfg.IndexBatch)
			start := time.Now()
			err := ix.apply(b)
			clear(b) // what the events hold goes with them
			buf = b[:0]
			if err == nil {
				ix.yield(time.Since(start))
				continue
			}
			ix.s.log.Error("indexer: write failed; retrying", "err", err)
			f.halt()
			select {
			case <-ix.stop:
				return
			case <-time.After(time.Second):
			}
			ix.mu.Lock()
			f = ix.startFeed(ix.cursor)
			ix.mu.Unlock()
		}
	}
}

// yield gives way to the ledger: when the sequencer was busy committing
// for more than saturated of the time since the last batch, the indexer
// pauses for as long as its last batch took (at most a second). Under
// saturating ingest it then runs at most half the time and the
// acknowledged path gets the CPU first; the index catches up after the
// burst. Under a load the ledger keeps up with, it does not pause, even when
// a request happens to be queued as a batch ends: at 10k events/s offered
// that was ~40% of batches, each followed by a pause as long as itself, and
// the index fell behind a load it could otherwise follow (docs/benchmarks.md,
// "Sixth pass").
func (ix *indexer) yield(took time.Duration) {
	if d := ix.pauseFor(took); d > 0 {
		select {
		case <-ix.stop:
		case <-time.After(d):
		}
	}
}

// pauseFor returns how long yield pauses after a batch that took took.
func (ix *indexer) pauseFor(took time.Duration) time.Duration {
	now, busy := time.Now(), ix.s.busyNS.Load()
	frac := float64(busy-ix.lastBusy) / float64(max(1, now.Sub(ix.lastYield)))
	ix.lastBusy, ix.lastYield = busy, now
	if frac < saturated {
		return 0
	}
	return min(took, time.Second)
}

// saturated is the share of time committing above which the ledger counts
// as saturated.
const saturated = 0.8

// giveWay lets the goroutines waiting for the CPU run, every yieldEvery
// events of the indexer's loops (the feed's decoding, the writer's ev rows
// and full-text rows). Go's scheduler has no priorities and takes the CPU
// from a running goroutine only after 10 ms; the indexer's two goroutines
// can hold both cores of a 2-core machine for as long as it is behind, so
// every step of a request — its handler, the sequencer's group, the fsync's
// return, the answer — could wait up to a time slice. Yielding every few
// events (~0.5 ms of work in each loop) lets them in at once: interleaved
// 200k-event benches, ack p99 at 20k/s offered 333–466 → 58–67 ms, at
// 10k/s 57–106 → 33–44 ms, index lag p99 at 10k/s no worse
// (docs/benchmarks.md, "Twelfth pass"). A yield with nobody waiting costs
// 0.1 µs.
func giveWay(i int) {
	if i%yieldEvery == yieldEvery-1 {
		gosched()
	}
}

// yieldEvery: every event or two cost the indexer ~15% of its rate and
// lengthened the tail again; every 128 left twice the tail of every 8–32.
const yieldEvery = 16

// gosched is runtime.Gosched (a variable so a test can count the calls;
// not to be confused with indexer.yield, the pause after a batch).
var gosched = runtime.Gosched

// prepared is one ledger row decoded for the index; ok is false when the
// body was deleted or is unreadable.
type prepared struct {
	g, tid, seq int64
	ok, hasErr  bool
	cols        evCols
	text        string
	fv          []query.FVRow
	gone        [][2]int64 // a tombstone: the seq ranges to remove from the index
}

// evCols is what the writer reads of an event for its ev row. The
// read-ahead holds thousands of prepared events, and they are most of the
// server's Go heap: an Event kept there held its whole body besides (the
// parser slices an event's strings from one copy of its body), 2.4 KB an
// event where this form and the index text take ~1.1 KB
// (docs/benchmarks.md, "Fourteenth pass"). Its text columns are
// back to back in one string.
type evCols struct {
	ts, received              int64 // ns
	dur                       float64
	tokens, statusCode, bytes int64
	has                       uint8 // hasDur, hasTokens, hasStatusCode, hasBytes
	text                      string
	ends                      [nTextCols]uint32 // where each text column ends in text
}

const (
	hasDur = 1 << iota
	hasTokens
	hasStatusCode
	hasBytes
)

// The text columns of ev, in the order of its INSERT.
const (
	colID = iota
	colKeyID
	colType
	colSessionID // the first of the blinded columns: they all follow it
	colUserID
	colAgentID
	colChannel
	colTraceID
	colSpanID
	colParentID
	colTool
	colStatus
	colModel
	colDestination
	colMethod
	colEndpoint
	colOperation
	colPath
	colDecision
	colApprover
	nTextCols
)

// colNames are the text columns' names (a blind value is keyed by its
// column's name).
var colNames = [nTextCols]string{"id", "key_id", "type", "session_id", "user_id", "agent_id", "channel", "trace_id",
	"span_id", "parent_id", "tool", "status", "model", "destination", "method", "endpoint", "operation",
	"path", "decision", "approver"}

// textCols returns e's text columns in the order of the col constants.
func textCols(e *clawtrail.Event) [nTextCols]string {
	return [nTextCols]string{e.ID, e.KeyID, e.Type, e.SessionID, e.UserID, e.AgentID, e.Channel, e.TraceID,
		e.SpanID, e.ParentID, e.Tool, e.Status, e.Model, e.Destination, e.Method, e.Endpoint, e.Operation,
		e.Path, e.Decision, e.Approver}
}

// newEvCols copies e's columns, its strings into one allocation of their
// own (so that they do not keep the parsed body alive). With blind (an
// encrypted store), the columns from session_id on are blinded, each under
// its name; id, key id and type stay in clear.
func newEvCols(e *clawtrail.Event, blind query.Blinder) evCols {
	c := evCols{ts: e.Timestamp.UnixNano(), received: e.ReceivedAt.UnixNano()}
	if e.DurationMS != nil {
		c.dur, c.has = *e.DurationMS, c.has|hasDur
	}
	if e.TokensUsed != nil {
		c.tokens, c.has = *e.TokensUsed, c.has|hasTokens
	}
	if e.StatusCode != nil {
		c.statusCode, c.has = *e.StatusCode, c.has|hasStatusCode
	}
	if e.Bytes != nil {
		c.bytes, c.has = *e.Bytes, c.has|hasBytes
	}
	strs := textCols(e)
	if blind != nil {
		for i := colSessionID; i < nTextCols; i++ {
			if strs[i] != "" {
				strs[i] = blind(colNames[i], strs[i])
			}
		}
	}
	n := 0
	for _, s := range strs {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for i, s := range strs {
		b.WriteString(s)
		c.ends[i] = uint32(b.Len())
	}
	c.text = b.String()
	return c
}

// str returns text column i.
func (c *evCols) str(i int) string {
	lo := uint32(0)
	if i > 0 {
		lo = c.ends[i-1]
	}
	return c.text[lo:c.ends[i]]
}

// feed reads and decodes the ledger ahead of the writer in small chunks,
// as they are committed, so that when the writer starts a transaction
// everything committed until then is decoded and waiting: an event waits
// for at most the batch being written and its own.
type feed struct {
	out  chan []prepared
	stop chan struct{}
	done chan struct{}
}

// Feed chunks: rows per read, and chunks buffered ahead of the writer.
// While the index is behind, the writer takes every chunk waiting (up to
// IndexBatch events), and up to feedBuffer chunks more are decoded ahead
// while it writes them: those prepared events are most of the server's Go
// heap (hence evCols). 4 chunks ahead saved as much memory as evCols did,
// but the index fell behind at scale (index lag p99 at 10k events/s 5.4 s
// against 1.9 s at 3 M events; 17.5 s at 10 M), likely because each
// transaction's writes, sorted by timestamp, then cover fewer events per
// page and per FTS5 segment (docs/benchmarks.md, "Thirteenth pass"). Not
// kept.
const (
	feedChunk  = 1000
	feedBuffer = 8
)

func (ix *indexer) startFeed(from int64) *feed {
	f := &feed{out: make(chan []prepared, feedBuffer), stop: make(chan struct{}), done: make(chan struct{})}
	go ix.runFeed(f, from)
	return f
}

// drain appends the chunks already waiting to b, up to max events.
func (f *feed) drain(b []prepared, max int) []prepared {
	for len(b) < max {
		select {
		case more := <-f.out:
			b = append(b, more...)
		default:
			return b
		}
	}
	return b
}

func (f *feed) halt() {
	close(f.stop)
	<-f.done
}

func (ix *indexer) runFeed(f *feed, cursor int64) {
	defer close(f.done)
	for {
		wait := ix.s.commitWait()
		rows, err := ix.readLedger(cursor)
		if err != nil {
			ix.s.log.Error("indexer: read ledger", "err", err)
			wait = nil
		}
		if len(rows) == 0 {
			select {
			case <-f.stop:
				return
			case <-wait:
			case <-time.After(time.Second):
			}
			continue
		}
		batch := ix.prepare(rows)
		select {
		case f.out <- batch:
			cursor = rows[len(rows)-1].g
		case <-f.stop:
			return
		}
	}
}

func (ix *indexer) prepare(rows []ledgerRow) []prepared {
	out := make([]prepared, len(rows))
	for i, r := range rows {
		giveWay(i)
		p := &out[i]
		*p = prepared{g: r.g, tid: r.tid, seq: r.seq}
		if r.body == nil {
			continue // deleted by retention or erasure
		}
		e, err := clawtrail.ParseEvent(r.body)
		if err != nil {
			ix.s.log.Error("indexer: unreadable event body; run clawtrail verify", "tid", r.tid, "seq", r.seq, "err", err)
			continue
		}
		p.ok, p.text, p.fv = true, query.IndexText(r.tid, e), query.FVRows(e)
		p.hasErr = e.Status == "error" || e.Error != ""
		if e.Type == clawtrail.TypeTombstone {
			p.gone = tombstoneRanges(e)
		}
		var blind query.Blinder
		if ix.s.Encrypted() {
			if tk := ix.s.keys.tenant(r.tid); tk != nil {
				blindPrepared(tk, p)
				blind = tk.BlindValue
			}
		}
		p.text = query.IndexBody(r.tid, p.text, query.ColumnRows(e, blind), p.fv)
		p.fv = query.NumberRows(p.fv)
		// What stays is copied out of the parsed body, which goes.
		for j := range p.fv {
			p.fv[j].F, p.fv[j].V = strings.Clone(p.fv[j].F), strings.Clone(p.fv[j].V)
		}
		p.cols = newEvCols(e, blind)
	}
	return out
}

// tombstoneRanges returns the seq ranges a tombstone event deleted.
func tombstoneRanges(e *clawtrail.Event) [][2]int64 {
	if e.Attributes == nil {
		return nil
	}
	v, ok := e.Attributes.Get("deleted")
	if !ok || v.Kind != strictjson.String {
		return nil
	}
	r, _ := ledger.ParseRanges(v.Str)
	return r
}

// blindPrepared replaces every value and word a prepared event would put in
// the index text and number rows with its blind form (keyed hashes under
// the tenant's index key; newEvCols blinds the columns): with encryption
// on, no plaintext word is written to index.db. Kept in clear: tenant,
// seq, id, key id, type, timestamps, the numeric columns (duration_ms,
// tokens_used, status_code, bytes) and usage.* numbers.
func blindPrepared(tk *TenantKeys, p *prepared) {
	words := strings.Fields(p.text)
	for i, w := range words {
		if i > 0 { // words[0] is the tenant token
			words[i] = tk.BlindWord(w)
		}
	}
	p.text = strings.Join(words, " ")
	for i := range p.fv {
		r := &p.fv[i]
		if r.N == nil {
			r.Prefixes = query.BlindPrefixes(r.F, r.V, tk.BlindValue)
		}
		r.V = tk.BlindValue(r.F, r.V)
		if !strings.HasPrefix(r.F, "usage.") {
			r.N = nil
		}
	}
}

// apply writes a batch and publishes the progress.
func (ix *indexer) apply(batch []prepared) error {
	next, err := ix.write(batch)
	if err != nil {
		return err
	}
	for _, p := range batch {
		if len(p.gone) > 0 {
			ix.purge()
			break
		}
	}
	ix.mu.Lock()
	ix.cursor = batch[len(batch)-1].g
	for tid, n := range next {
		ix.next[tid] = n
	}
	close(ix.progressC)
	ix.progressC = make(chan struct{})
	ix.batches++
	ix.mu.Unlock()
	if ix.s.cfg.Metrics.Indexed != nil {
		ix.s.cfg.Metrics.Indexed(len(batch))
	}
	return nil
}

type ledgerRow struct {
	g, tid, seq int64
	body        []byte
}

func (ix *indexer) readLedger(cursor int64) ([]ledgerRow, error) {
	ctx := context.Background()
	rows, err := ix.s.feedDB.QueryContext(ctx, `SELECT g, tid, seq, id, dk, body, received_at FROM events WHERE g > ? ORDER BY g LIMIT ?`, cursor, min(feedChunk, ix.s.cfg.IndexBatch))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledgerRow
	// Packs are read on the feed's second connection (its first is busy
	// with rows), into the store's cache of decoded packs: the newest
	// packs, which searches read most. Data keys through the readers.
	pk := &packs{db: ix.s.feedDB, sel: ix.s.feedPackSel, shared: ix.s.packLRU}
	for rows.Next() {
		var r ledgerRow
		var id string
		var dk sql.NullInt64
		var received int64
		if err := rows.Scan(&r.g, &r.tid, &r.seq, &id, &dk, &r.body, &received); err != nil {
			return nil, err
		}
		if r.body, err = ix.s.storedBody(ctx, pk, r.tid, r.seq, id, received, dk, r.body); err != nil {
			if dk.Valid && ix.s.keys.tenant(r.tid) == nil {
				// Committed, but the new tenant's keys are published just
				// after the commit: stop here and read it again, rather
				// than skip it as unreadable.
				break
			}
			ix.s.log.Error("indexer: event body does not open; run clawtrail verify", "tid", r.tid, "seq", r.seq, "err", err)
			r.body = nil
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// indexTx holds the prepared statements of one index batch.
type indexTx struct {
	tx                                   *sql.Tx
	maxK, insEv, insFTS, insFV, insFVRun *sql.Stmt
	daily                                map[dayKey]int64 // ix_daily changes of this transaction
	fv                                   []fvIns          // fv rows not yet written (flush)
	fts                                  []ftsIns         // fts rows not yet written (flush)
	args                                 []any            // insertEv's arguments
	// next: for each unit this transaction wrote an event of, the key to
	// try for its next event (the one after the key its last event took),
	// so that the events of one unit cost one insert each and a lookup
	// only where an earlier batch took the key (freeK). Spilled events
	// thus cost a lookup per bucket filled, not one each.
	next map[int64]int64
	// drift: per hour (hourOf), the largest k − (first key of its unit)
	// this transaction gave past kSpillSlack.
	drift map[int64]int64
}

// ftsIns is one fts row to write.
type ftsIns struct {
	k    int64
	text string
}

// fvIns is one fv row to write.
type fvIns struct {
	tid, k int64
	f, v   string
	n      *float64
}

// fvRun is how many fv rows one multi-row INSERT writes.
const fvRun = 100

// dayKey is one ix_daily row.
type dayKey struct {
	tid, day int64
	typ      string
}

func (ix *indexer) write(batch []prepared) (map[int64]int64, error) {
	ctx := context.Background()
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	it := indexTx{tx: tx}
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&it.maxK, `SELECT max(k) FROM ev WHERE k BETWEEN ? AND ?`},
		{&it.insEv, `INSERT INTO ev(k, tid, seq, ts, received_at, id, key_id, type, session_id, user_id, agent_id, channel, trace_id, span_id, parent_id, tool, status, model, destination, method, endpoint, operation, path, decision, approver, duration_ms, tokens_used, status_code, bytes, err) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(k) DO NOTHING`},
		{&it.insFTS, `INSERT INTO fts(rowid, body) VALUES (?,?)`},
		{&it.insFV, `INSERT OR IGNORE INTO fv(tid, f, v, k, n) VALUES (?,?,?,?,?)`},
		{&it.insFVRun, `INSERT OR IGNORE INTO fv(tid, f, v, k, n) VALUES (?,?,?,?,?)` + strings.Repeat(`,(?,?,?,?,?)`, fvRun-1)},
	} {
		if *p.st, err = tx.PrepareContext(ctx, p.sql); err != nil {
			return nil, err
		}
		defer (*p.st).Close()
	}
	next := map[int64]int64{}
	it.daily = map[dayKey]int64{}
	// The batch goes in segments that end at a tombstone, which removes
	// what came before it. In a segment, events are written in timestamp
	// order (ties in ledger order): their order keys then grow, so the ev
	// b-trees take appends, and FTS5 keeps one pending segment per
	// transaction (it flushes a segment whenever a rowid is not above the
	// last one written).
	order := make([]int, 0, len(batch))
	for start := 0; start < len(batch); {
		end := start
		for end < len(batch) && len(batch[end].gone) == 0 {
			end++
		}
		if end < len(batch) {
			end++ // the tombstone closes its segment
		}
		order = order[:0]
		for i := start; i < end; i++ {
			next[batch[i].tid] = batch[i].seq + 1
			if batch[i].ok {
				order = append(order, i)
			}
		}
		slices.SortStableFunc(order, func(a, b int) int {
			return cmp.Compare(batch[a].cols.ts/1000, batch[b].cols.ts/1000)
		})
		for j, i := range order {
			giveWay(j)
			if err := it.add(ctx, &batch[i]); err != nil {
				return nil, fmt.Errorf("index seq %d: %w", batch[i].seq, err)
			}
		}
		if err := it.flush(ctx); err != nil {
			return nil, err
		}
		if p := &batch[end-1]; p.ok && len(p.gone) > 0 {
			if err := it.remove(ctx, p.tid, p.gone); err != nil {
				return nil, fmt.Errorf("index tombstone seq %d: %w", p.seq, err)
			}
		}
		start = end
	}
	for dk, n := range it.daily {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ix_daily(tid, day, type, n) VALUES (?,?,?,?) ON CONFLICT(tid, day, type) DO UPDATE SET n = n + excluded.n`, dk.tid, dk.day, dk.typ, n); err != nil {
			return nil, err
		}
	}
	for tid, n := range next {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ix_tenants(tid, next_seq) VALUES (?,?) ON CONFLICT(tid) DO UPDATE SET next_seq=excluded.next_seq`, tid, n); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ix_state(name, value) VALUES ('cursor', ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value`, batch[len(batch)-1].g); err != nil {
		return nil, err
	}
	var cur, upd map[int64]int64
	if m := ix.drift.Load(); m != nil {
		cur = *m
	}
	for h, d := range it.drift {
		if d <= cur[h] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ix_drift(hour, keys) VALUES (?,?) ON CONFLICT(hour) DO UPDATE SET keys=max(keys, excluded.keys)`, h, d); err != nil {
			return nil, err
		}
		if upd == nil {
			upd = maps.Clone(cur)
			if upd == nil {
				upd = map[int64]int64{}
			}
		}
		upd[h] = d
	}
	if upd != nil {
		// Before the commit: a search that sees this transaction's rows
		// must reach them. (Should the commit fail, windows are only
		// wider than they need be until the retry.)
		ix.drift.Store(&upd)
	}
	return next, tx.Commit()
}

// hourOf returns the hour of timestamp ts (ns), rounding down.
func hourOf(ts int64) int64 { return floorDiv(ts, int64(time.Hour)) }

// floorDiv returns a / b rounded towards minus infinity (b > 0): the
// unit, hour or day of a timestamp before 1970 as well.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// slackFor returns how far past the first key of its unit the index has
// put the order key of any event stamped in [from, to] (ns): kSpillSlack,
// or the drift of an hour in between.
func (ix *indexer) slackFor(from, to int64) int64 {
	slack := int64(kSpillSlack)
	lo, hi := hourOf(from), hourOf(to)
	m := ix.drift.Load()
	if m == nil {
		return slack
	}
	for h, d := range *m {
		if h >= lo && h <= hi {
			slack = max(slack, d)
		}
	}
	return slack
}

// Order keys. k orders search results by timestamp: k = u·64 + c, where u
// is the event's timestamp in units of 4 ms (kUnit) and c counts the events
// already indexed in that unit. A unit's 64 keys are its bucket; readers
// sort each bucket's rows by (timestamp, seq) (ordered, in read.go), so
// results come in exact timestamp order. More than 64 events in one unit
// spill into the following units' buckets (kSpillSlack: up to 1 s of them),
// where they sort after every event of the buckets before (their own unit's
// and, once the spill passes a whole bucket, the next units').
// k is every FTS5 posting's rowid, stored as the delta from the previous
// one in its doclist (a varint): the fewer keys a second, the smaller the
// index. 16e3 keys a second (index schema 18) instead of 16e6 (µs·16)
// took 95 bytes an event off the index of 1.18 M bench events, 13%
// (docs/benchmarks.md, "Seventeenth pass").
const (
	kUnit    = 4_000_000 // ns
	kPerUnit = 64
)

// unitOf returns the order-key unit of timestamp ts (ns), rounding down.
func unitOf(ts int64) int64 { return floorDiv(ts, kUnit) }

// bucketOf returns the first key of k's bucket.
func bucketOf(k int64) int64 {
	b := k / kPerUnit
	if k%kPerUnit < 0 {
		b--
	}
	return b * kPerUnit
}

// KeyRange returns the order keys that events with timestamps in [from, to]
// (ns) can have.
func KeyRange(from, to int64) (lo, hi int64) {
	return unitOf(from) * kPerUnit, unitOf(to)*kPerUnit + kPerUnit - 1 + kSpillSlack
}

// kSpillSlack bounds how far spilled keys may run past their unit (1 s).
const kSpillSlack = 250 * kPerUnit

// kLookups counts freeK's lookups (for a test: events stamped alike must
// cost a lookup per bucket they fill, not one each or one per bucket
// already full).
var kLookups atomic.Int64

// freeK returns a free order key after taken, a key already in use: the
// one after the largest key of the first bucket from taken's on that is
// not full. A spill fills buckets one after another, so under a sustained
// rate over a bucket's 64 keys per 4 ms (16,000 events a second across
// the server) the full buckets after a unit's run on for as long as the
// rate lasts; freeK gallops over them (buckets 1, 2, 4, … on) and then
// halves the step back to the first bucket after a full one that is not
// full: O(log n) lookups, where a walk bucket by bucket cost one per
// bucket at every unit's first event of every transaction.
func (it *indexTx) freeK(ctx context.Context, taken int64) (int64, error) {
	// room returns the first free key of the bucket starting at lo, or
	// -1 when it is full.
	room := func(lo int64) (int64, error) {
		kLookups.Add(1)
		var max sql.NullInt64
		if err := it.maxK.QueryRowContext(ctx, lo, lo+kPerUnit-1).Scan(&max); err != nil {
			return 0, err
		}
		switch {
		case !max.Valid:
			return lo, nil
		case max.Int64 < lo+kPerUnit-1:
			return max.Int64 + 1, nil
		}
		return -1, nil
	}
	full := bucketOf(taken) // a bucket known full, or holding taken
	if k, err := room(full); err != nil || k >= 0 {
		return k, err
	}
	// Gallop: full is full; find a bucket that is not.
	step := int64(kPerUnit)
	var open, k int64
	for {
		var err error
		if k, err = room(full + step); err != nil {
			return 0, err
		}
		if k >= 0 {
			open = full + step
			break
		}
		full += step
		step *= 2
	}
	// Halve back: between a full bucket and one that is not, the first
	// one that is not.
	for open-full > kPerUnit {
		mid := full + (open-full)/kPerUnit/2*kPerUnit
		m, err := room(mid)
		if err != nil {
			return 0, err
		}
		if m >= 0 {
			open, k = mid, m
		} else {
			full = mid
		}
	}
	return k, nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// orNull returns v when c has the column bit, else nil (SQL NULL).
func orNull[T int64 | float64](c *evCols, bit uint8, v T) any {
	if c.has&bit == 0 {
		return nil
	}
	return v
}

func (it *indexTx) add(ctx context.Context, p *prepared) error {
	tid := p.tid
	k, err := it.insertEv(ctx, tid, p.seq, &p.cols, p.hasErr)
	if err != nil {
		return err
	}
	it.daily[dayKey{tid, DayOf(p.cols.ts), p.cols.str(colType)}]++
	if p.text != "" {
		it.fts = append(it.fts, ftsIns{k, p.text})
	}
	for _, row := range p.fv {
		it.fv = append(it.fv, fvIns{tid: tid, k: k, f: row.F, v: row.V, n: row.N})
	}
	return nil
}

// flush writes the pending fts rows in rowid order (FTS5 flushes its
// pending terms to a new segment whenever a rowid is not above the last)
// and the pending fv rows in key order, fvRun rows per statement: in key
// order each b-tree page the batch changes is read and written once, where
// rows in event order land on random pages of a large table and re-read
// pages the cache has already let go.
func (it *indexTx) flush(ctx context.Context) error {
	slices.SortFunc(it.fts, func(a, b ftsIns) int { return cmp.Compare(a.k, b.k) })
	for j, r := range it.fts {
		giveWay(j)
		if _, err := it.insFTS.ExecContext(ctx, r.k, r.text); err != nil {
			return err
		}
	}
	it.fts = it.fts[:0]
	rows := it.fv
	it.fv = it.fv[:0]
	slices.SortFunc(rows, func(a, b fvIns) int {
		return cmp.Or(cmp.Compare(a.tid, b.tid), strings.Compare(a.f, b.f), cmp.Compare(a.k, b.k), strings.Compare(a.v, b.v))
	})
	args := make([]any, 0, 5*fvRun)
	for len(rows) > 0 {
		st, run := it.insFVRun, rows
		if len(rows) >= fvRun {
			run = rows[:fvRun]
		} else {
			st, run = it.insFV, rows[:1]
		}
		args = args[:0]
		for _, r := range run {
			var n any
			if r.n != nil {
				n = *r.n
			}
			args = append(args, r.tid, r.f, r.v, r.k, n)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[len(run):]
	}
	return nil
}

// insertEv writes the event's ev row and returns its order key. It tries
// the first key of the event's unit, or the key after the one this
// transaction last gave an event of that unit — free in the usual case,
// so no lookup is needed, even for out-of-order timestamps — and else the
// next free key after it (freeK).
func (it *indexTx) insertEv(ctx context.Context, tid, seq int64, c *evCols, hasErr bool) (int64, error) {
	base := unitOf(c.ts) * kPerUnit
	args := append(it.args[:0], nil, tid, seq, c.ts, c.received)
	for i := range nTextCols {
		if i == colID || i == colType {
			args = append(args, c.str(i))
		} else {
			args = append(args, nullStr(c.str(i)))
		}
	}
	args = append(args, orNull(c, hasDur, c.dur), orNull(c, hasTokens, c.tokens),
		orNull(c, hasStatusCode, c.statusCode), orNull(c, hasBytes, c.bytes), hasErr)
	it.args = args // reused by the next row (the statement does not keep them)
	k, ok := it.next[base]
	if !ok {
		k = base
	}
	for {
		args[0] = k
		res, err := it.insEv.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			if it.next == nil {
				it.next = map[int64]int64{}
			}
			it.next[base] = k + 1
			if d := k - base; d > kSpillSlack {
				if it.drift == nil {
					it.drift = map[int64]int64{}
				}
				h := hourOf(c.ts)
				it.drift[h] = max(it.drift[h], d)
			}
			return k, err
		}
		if k, err = it.freeK(ctx, k); err != nil {
			return 0, err
		}
	}
}

// checkIndexVersion deletes an index.db written with another schema version
// (or unreadable), so that it is rebuilt from the ledger.
func checkIndexVersion(ctx context.Context, path string, log *slog.Logger, blind bool) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout(10000)"))
	if err != nil {
		return err
	}
	var v, b int64
	err = db.QueryRowContext(ctx, `SELECT value FROM ix_state WHERE name = 'schema'`).Scan(&v)
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT value FROM ix_state WHERE name = 'blind'`).Scan(&b)
	}
	db.Close()
	if err == nil && v == IndexSchemaVersion && (b == 1) == blind {
		return nil
	}
	log.Warn("rebuilding the search index from the ledger", "reason", fmt.Sprintf("index schema %d, want %d; blind %d, want %v (%v)", v, IndexSchemaVersion, b, blind, err))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove old search index: %w", err)
		}
	}
	return nil
}

// clear empties the index so that it is rebuilt from the start of the ledger.
func (ix *indexer) clear() error {
	ctx := context.Background()
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range []string{`DELETE FROM ev`, `DELETE FROM fv`, `DELETE FROM fts`, `DELETE FROM ix_state WHERE name = 'cursor'`, `DELETE FROM ix_drift`, `DELETE FROM ix_tenants`, `DELETE FROM ix_gone`, `DELETE FROM ix_daily`} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	ix.mu.Lock()
	ix.cursor = 0
	clear(ix.next)
	ix.drift.Store(&map[int64]int64{})
	ix.mu.Unlock()
	return nil
}

// Reindex empties the search index and rebuilds it from the ledger (in the
// background; WaitIndexed tells when a tenant has caught up).
func (s *Store) Reindex(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case s.index.reset <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Indexed returns how many of the tenant's events (by seq) the index covers.
func (s *Store) Indexed(tenant string) int64 {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return 0
	}
	s.index.mu.Lock()
	defer s.index.mu.Unlock()
	return s.index.next[tid]
}

// WaitIndexed waits until the index covers the tenant's events up to and
// including seq, or ctx ends.
func (s *Store) WaitIndexed(ctx context.Context, tenant string, seq int64) error {
	for {
		s.index.mu.Lock()
		ch := s.index.progressC
		s.index.mu.Unlock()
		if s.Indexed(tenant) > seq || s.Head(tenant) <= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// IndexLag returns how many committed events, over all tenants, the search
// index has not covered yet.
func (s *Store) IndexLag() int64 {
	s.mu.Lock()
	heads := make(map[int64]int64, len(s.heads))
	for tid, n := range s.heads {
		heads[tid] = n
	}
	s.mu.Unlock()
	s.index.mu.Lock()
	defer s.index.mu.Unlock()
	var lag int64
	for tid, n := range heads {
		lag += max(0, n-s.index.next[tid])
	}
	return lag
}

// remove takes the events of a tombstone's seq ranges out of the index: ev
// rows, FTS rows (by rowid; the table is contentless_delete) and fv rows
// (one pass over the tenant's fv rows per tombstone: fv has no index by k),
// and records the ranges in ix_gone so that coverage does not miss them.
func (it *indexTx) remove(ctx context.Context, tid int64, gone [][2]int64) error {
	if len(gone) == 0 {
		return nil
	}
	tx := it.tx
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS gone_k(k INTEGER PRIMARY KEY)`); err != nil {
		return err
	}
	defer tx.ExecContext(ctx, `DELETE FROM temp.gone_k`)
	for _, r := range gone {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO temp.gone_k(k) SELECT k FROM ev WHERE tid=? AND seq BETWEEN ? AND ?`, tid, r[0], r[1]); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO ix_gone(tid, lo, hi) VALUES (?,?,?)`, tid, r[0], r[1]); err != nil {
			return err
		}
	}
	// The rollup loses what leaves the index.
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT ts / %d, type, count(*) FROM ev WHERE k IN (SELECT k FROM temp.gone_k) AND tid=? GROUP BY 1, 2`, int64(nsPerDay)), tid)
	if err != nil {
		return err
	}
	for rows.Next() {
		var dk dayKey
		var n int64
		if err := rows.Scan(&dk.day, &dk.typ, &n); err != nil {
			rows.Close()
			return err
		}
		dk.tid = tid
		it.daily[dk] -= n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, stmt := range []string{
		`DELETE FROM fts WHERE rowid IN (SELECT k FROM temp.gone_k)`,
		`DELETE FROM fv WHERE tid=? AND k IN (SELECT k FROM temp.gone_k)`,
		`DELETE FROM ev WHERE k IN (SELECT k FROM temp.gone_k) AND tid=?`,
	} {
		var args []any
		if strings.Contains(stmt, "?") {
			args = append(args, tid)
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return err
		}
	}
	return nil
}

// purge runs after the index removed deleted events: FTS5 keeps a deleted
// row's words in its segments until they are merged, so the segments are
// merged now ('optimize') when the index holds words in clear; then the WAL
// is truncated. With secure_delete on, freed pages are zeroed. (A blind
// index holds only keyed hashes: it skips the merge, which costs time in
// proportion to the whole full-text index.)
func (ix *indexer) purge() {
	ctx := context.Background()
	if !ix.s.Encrypted() {
		if _, err := ix.db.ExecContext(ctx, `INSERT INTO fts(fts) VALUES ('optimize')`); err != nil {
			ix.s.log.Error("indexer: merge the full-text index after a deletion", "err", err)
		}
	}
	if _, err := ix.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		ix.s.log.Warn("indexer: WAL checkpoint after a deletion", "err", err)
	}
}
