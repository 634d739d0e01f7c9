package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
)

// SearchRequest selects events of one tenant.
type SearchRequest struct {
	Tenant   string
	Query    *query.Query // nil or empty matches everything
	From, To int64        // timestamp bounds in ns, inclusive; 0 = unbounded
	Limit    int
	Asc      bool   // oldest first
	Cursor   string // from a previous page's NextCursor
	// HideServer leaves out the server's own records (auth, access,
	// config_change, tombstone) even when the query names a type: readers
	// may not see who else looked.
	HideServer bool
}

// Stored is one event as the ledger holds it.
type Stored struct {
	Seq  int64
	Body []byte // the event's stored JSON (clawtrail.Event.AppendJSON)
	// Deleted: the body is gone (retention, erasure); Body then holds what
	// the leaf still says (id, seq, type, received_at) and status "deleted".
	Deleted bool
}

// Page is one page of search results.
type Page struct {
	Events     []Stored
	NextCursor string // empty when there are no more results
}

// serverTypes are left out of results unless the query names `type`.
const serverTypes = `'auth','access','config_change','tombstone'`

// A search cursor is the position of the last event returned — its order
// key, timestamp and seq — the order ('a' or 'd') and the index schema
// version: an order key means nothing in an index rebuilt with another
// layout (index schemas 17 and 18 changed the keys' scale).
func encodeCursor(r keyRef, asc bool) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(r.k))
	b = binary.BigEndian.AppendUint64(b, uint64(r.ts))
	b = binary.BigEndian.AppendUint64(b, uint64(r.seq))
	if asc {
		b = append(b, 'a')
	} else {
		b = append(b, 'd')
	}
	b = append(b, IndexSchemaVersion)
	return base64.RawURLEncoding.EncodeToString(b)
}

const cursorLen = 3*8 + 2

// decodeCursor returns the position a cursor holds; nil for no cursor ("").
func decodeCursor(c string, asc bool) (*keyRef, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	// 9 and 10 bytes: the cursors of index schemas up to 17 (a key alone).
	if err == nil && (len(b) == 9 || len(b) == 10 || len(b) == cursorLen && b[cursorLen-1] != IndexSchemaVersion) {
		return nil, &clawtrail.InvalidError{Message: "invalid cursor: it is from before the search index was rebuilt (a clawtrail upgrade); run the query again without it"}
	}
	if err != nil || len(b) != cursorLen || (b[24] == 'a') != asc || (b[24] != 'a' && b[24] != 'd') {
		return nil, &clawtrail.InvalidError{Message: "invalid cursor (it belongs to another query or order)"}
	}
	return &keyRef{k: int64(binary.BigEndian.Uint64(b)), ts: int64(binary.BigEndian.Uint64(b[8:])), seq: int64(binary.BigEndian.Uint64(b[16:]))}, nil
}

// Search returns a page of a tenant's events matching the request, newest
// first unless Asc. Bodies come from the ledger; the index only selects.
func (s *Store) Search(ctx context.Context, req SearchRequest) (Page, error) {
	tid, ok := s.tenantID(req.Tenant)
	if !ok {
		return Page{}, nil
	}
	q, plan, err := s.compile(ctx, req, tid)
	if err != nil {
		return Page{}, err
	}
	if !plan.Exact {
		return s.searchFiltered(ctx, tid, req, q, plan)
	}
	keys, err := s.searchKeys(ctx, tid, req, q, plan)
	if err != nil {
		return Page{}, err
	}
	var page Page
	if len(keys) > req.Limit {
		keys = keys[:req.Limit]
		page.NextCursor = encodeCursor(keys[len(keys)-1], req.Asc)
	}
	page.Events, err = s.bodies(ctx, tid, keys, true)
	return page, err
}

func (s *Store) compile(ctx context.Context, req SearchRequest, tid int64) (*query.Query, query.Plan, error) {
	q := req.Query
	if q == nil {
		q, _ = query.Parse("")
	}
	// id:X: the ledger's (tid, id) index gives the seq, the search
	// index's (tid, seq) one the key (INDEXED BY: without statistics
	// SQLite would walk the covering ev_tid_kc instead).
	o := query.Options{KeyOf: func(id string) (int64, bool, error) {
		var seq, k int64
		err := s.reader.QueryRowContext(ctx, `SELECT seq FROM events WHERE tid = ? AND id = ?`, tid, id).Scan(&seq)
		if err == nil {
			err = s.index.reader.QueryRowContext(ctx, `SELECT k FROM ev INDEXED BY ev_tid_seq WHERE tid = ? AND seq = ?`, tid, seq).Scan(&k)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false, nil
		}
		return k, err == nil, err
	}}
	if tk := s.keys.tenant(tid); s.Encrypted() && tk != nil {
		o.Blind = tk.Blind
	}
	o.NoTenantToken = s.holdsMost(tid)
	plan, err := q.SQLiteWith(tid, req.Tenant, o)
	if err != nil {
		return nil, plan, fmt.Errorf("%w: %v", clawtrail.ErrInvalid, err)
	}
	return q, plan, nil
}

// searchFiltered serves a plan that selects a superset (a phrase of several
// words): it reads candidates in order, in chunks, and keeps those Match
// accepts, until the page is full.
func (s *Store) searchFiltered(ctx context.Context, tid int64, req SearchRequest, q *query.Query, plan query.Plan) (Page, error) {
	var page Page
	want := req.Limit
	req.Limit = min(max(2*want, 200), 2000)
	for {
		keys, err := s.searchKeys(ctx, tid, req, q, plan)
		if err != nil {
			return Page{}, err
		}
		more := len(keys) > req.Limit
		if more {
			keys = keys[:req.Limit]
		}
		matched, last, err := s.filterKeys(ctx, tid, keys, q, want-len(page.Events))
		if err != nil {
			return Page{}, err
		}
		page.Events = append(page.Events, matched...)
		if len(page.Events) == want {
			if more || last < len(keys)-1 {
				page.NextCursor = encodeCursor(keys[last], req.Asc)
			}
			return page, nil
		}
		if !more {
			return page, nil
		}
		req.Cursor = encodeCursor(keys[len(keys)-1], req.Asc)
	}
}

// filterKeys reads the bodies of keys and keeps, in order, at most n that
// q matches; last is the index in keys of the last one examined.
func (s *Store) filterKeys(ctx context.Context, tid int64, keys []keyRef, q *query.Query, n int) ([]Stored, int, error) {
	stored, err := s.bodies(ctx, tid, keys, true)
	if err != nil {
		return nil, 0, err
	}
	bySeq := make(map[int64]Stored, len(stored))
	for _, st := range stored {
		bySeq[st.Seq] = st
	}
	var out []Stored
	for i, k := range keys {
		st, ok := bySeq[k.seq]
		if !ok {
			continue
		}
		e, err := clawtrail.ParseEvent(st.Body)
		if err != nil || !q.Match(e) {
			continue
		}
		out = append(out, st)
		if len(out) == n {
			return out, i, nil
		}
	}
	return out, len(keys) - 1, nil
}

// keyRef is an event's place in the index: its order key, seq and
// timestamp (ns).
type keyRef struct{ k, seq, ts int64 }

// selection writes the FROM and WHERE of a query over the index: the
// driving FTS join when the plan has one, the tenant, the plan's condition,
// the server's record types unless the query names type, the time range
// (its keys reaching slack past its end: Store.keySlack) and the key range
// [lo, hi] (anyKeyLo, anyKeyHi: any). It returns the
// column that orders results (the FTS rowid when it drives, which equals
// e.k).
func selection(sb *strings.Builder, tid int64, req SearchRequest, slack int64, q *query.Query, plan query.Plan, lo, hi int64) (keyCol string, args []any) {
	keyCol = "e.k"
	if plan.FTS != "" {
		// CROSS JOIN: the full-text index drives. A range on fts.rowid
		// also constrains e.k (e.k = fts.rowid), and with both bounds SQLite
		// otherwise walks the tenant's ev_tid_kc rows in the range instead,
		// probing FTS5 for each (a second page of a rare word's events
		// read every event before it).
		sb.WriteString(` FROM fts CROSS JOIN ev e ON e.k = fts.rowid WHERE fts MATCH ? AND e.tid = ?`)
		args = append(args, plan.FTS, tid)
		keyCol = "fts.rowid"
	} else {
		sb.WriteString(` FROM ev e WHERE e.tid = ?`)
		args = append(args, tid)
	}
	sb.WriteString(" AND (" + plan.Where + ")")
	args = append(args, plan.Args...)
	if !q.NamesType() || req.HideServer {
		sb.WriteString(" AND e.type NOT IN (" + serverTypes + ")")
	}
	// One range on the key, the time window's and the cursor's together:
	// given two lower bounds (k BETWEEN lo AND hi, k > cursor) SQLite
	// seeks to one of them, and the window's made page n of an export
	// walk the n-1 pages before it again.
	wlo, whi := windowKeys(req, slack)
	lo, hi = max(lo, wlo), min(hi, whi)
	if lo != math.MinInt64 || hi != math.MaxInt64 {
		sb.WriteString(fmt.Sprintf(" AND %s BETWEEN ? AND ?", keyCol))
		args = append(args, lo, hi)
	}
	if req.From != 0 || req.To != 0 {
		sb.WriteString(" AND e.ts BETWEEN ? AND ?")
		args = append(args, req.From, cmp.Or(req.To, clawtrail.MaxTime.UnixNano()))
	}
	return keyCol, args
}

// anyKeyLo and anyKeyHi are the key range [lo, hi] of selection that
// bounds nothing.
const anyKeyLo, anyKeyHi = math.MinInt64, math.MaxInt64

// windowKeys returns the order keys the request's time window allows,
// given how far past their units the index has put the keys of the
// events it can hold (keySlack).
func windowKeys(req SearchRequest, slack int64) (lo, hi int64) {
	if req.From == 0 && req.To == 0 {
		return anyKeyLo, anyKeyHi
	}
	lo, hi = KeyRange(req.From, cmp.Or(req.To, clawtrail.MaxTime.UnixNano()))
	if slack > kSpillSlack && hi < anyKeyHi-slack {
		hi += slack - kSpillSlack
	}
	return lo, hi
}

// keySlack returns how far past the first key of its unit the index has
// put the order key of an event the request's time window can hold (at
// least kSpillSlack): its key range reaches that far past its end.
func (s *Store) keySlack(req SearchRequest) int64 {
	if req.From == 0 && req.To == 0 {
		return kSpillSlack // no window
	}
	return s.index.slackFor(req.From, cmp.Or(req.To, clawtrail.MaxTime.UnixNano()))
}

// A fetch returns the rows (key, seq, timestamp) of a selection whose keys
// are in [lo, hi], in key order (descending unless the order is
// ascending), at most limit of them.
type fetch func(lo, hi int64, limit int) ([]keyRef, error)

// ordered returns at least limit+1 (when there are that many) of the keys
// fetch selects in [lo, hi] that come after cur (nil: from the start), in
// result order: by timestamp, ties by seq, newest first unless asc.
//
// Keys order events by their 4 ms unit only (indexer.go): fetch reads them
// in key order, and ordered sorts each bucket's rows (at most kPerUnit).
// A page that ends inside a bucket reads that bucket whole first, and the
// next page, whose cursor is inside it, reads it whole again and keeps the
// rows after the cursor's (timestamp, seq).
func ordered(get fetch, lo, hi int64, asc bool, cur *keyRef, limit int) ([]keyRef, error) {
	var out []keyRef
	if cur != nil {
		b := bucketOf(cur.k)
		rows, err := get(max(lo, b), min(hi, b+kPerUnit-1), kPerUnit)
		if err != nil {
			return nil, err
		}
		sortBuckets(rows, asc)
		for _, r := range rows {
			if resultBefore(*cur, r, asc) {
				out = append(out, r)
			}
		}
		switch {
		case asc && b < math.MaxInt64-kPerUnit:
			lo = max(lo, b+kPerUnit)
		case !asc && b > math.MinInt64:
			hi = min(hi, b-1)
		default: // a cursor at the end of the keys: nothing after it
			return out, nil
		}
	}
	want := limit + 1 - len(out)
	if lo > hi || want <= 0 {
		return out, nil
	}
	rows, err := get(lo, hi, want)
	if err != nil {
		return nil, err
	}
	if n := len(rows); n == want {
		// The last bucket may go on past the limit: read it whole.
		b := bucketOf(rows[n-1].k)
		for n > 0 && bucketOf(rows[n-1].k) == b {
			n--
		}
		whole, err := get(max(lo, b), min(hi, b+kPerUnit-1), kPerUnit)
		if err != nil {
			return nil, err
		}
		rows = append(rows[:n], whole...)
	}
	sortBuckets(rows, asc)
	return append(out, rows...), nil
}

// resultBefore reports whether a comes before b in result order.
func resultBefore(a, b keyRef, asc bool) bool {
	c := cmp.Or(cmp.Compare(bucketOf(a.k), bucketOf(b.k)), cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq))
	if asc {
		return c < 0
	}
	return c > 0
}

// sortBuckets sorts rows in key order by (timestamp, seq) within each
// bucket.
func sortBuckets(rows []keyRef, asc bool) {
	slices.SortStableFunc(rows, func(a, b keyRef) int {
		switch {
		case resultBefore(a, b, asc):
			return -1
		case resultBefore(b, a, asc):
			return 1
		}
		return 0
	})
}

// searchKeys returns up to req.Limit+1 keys of events the plan selects,
// in result order, after the request's cursor.
func (s *Store) searchKeys(ctx context.Context, tid int64, req SearchRequest, q *query.Query, plan query.Plan) ([]keyRef, error) {
	cur, err := decodeCursor(req.Cursor, req.Asc)
	if err != nil {
		return nil, err
	}
	dir := "DESC"
	if req.Asc {
		dir = "ASC"
	}
	variants, err := s.prefixVariants(ctx, tid, req, q, plan)
	if err != nil {
		return nil, err
	}
	slack := s.keySlack(req)
	get := func(lo, hi int64, limit int) ([]keyRef, error) {
		// One SELECT per plan, each ending with its order and limit.
		var sb strings.Builder
		var args []any
		arm := func(q *query.Query, plan query.Plan) {
			sb.WriteString(`SELECT e.k AS k, e.seq AS seq, e.ts AS ts`)
			keyCol, a := selection(&sb, tid, req, slack, q, plan, lo, hi)
			sb.WriteString(fmt.Sprintf(" ORDER BY %s %s LIMIT ?", keyCol, dir))
			args = append(append(args, a...), limit)
		}
		if len(variants) == 0 {
			arm(q, plan)
			return s.queryKeys(ctx, sb.String(), args...)
		}
		// A wildcard on an indexed column, as one page per value it stands
		// for, merged.
		sb.WriteString(`SELECT k, seq, ts FROM (`)
		for i, v := range variants {
			if i > 0 {
				sb.WriteString(` UNION ALL `)
			}
			sb.WriteString(`SELECT * FROM (`)
			arm(v.q, v.plan)
			sb.WriteString(`)`)
		}
		sb.WriteString(fmt.Sprintf(`) ORDER BY k %s LIMIT ?`, dir))
		args = append(args, limit)
		return s.queryKeys(ctx, sb.String(), args...)
	}
	return ordered(get, anyKeyLo, anyKeyHi, req.Asc, cur, req.Limit)
}

// maxPrefixValues bounds the values a wildcard on an indexed column is
// expanded into (prefixVariants); beyond it the range is read whole.
const maxPrefixValues = 16

type variant struct {
	q    *query.Query
	plan query.Plan
}

// prefixVariants returns, for an exact plan whose query has a wildcard
// col:P* on an indexed column (query.ColumnPrefix), the query and plan
// for each value of the column under P in the tenant's index (one value
// too: its equality reads the b-tree in key order, where the range is
// sorted) — nil when there is none, more than maxPrefixValues, or the
// column's values are keyed hashes (tool and status in a blind index).
// The values are found by seeking the column's b-tree from one to the
// next, not by reading every event under the prefix.
func (s *Store) prefixVariants(ctx context.Context, tid int64, req SearchRequest, q *query.Query, plan query.Plan) ([]variant, error) {
	col, prefix, with, ok := q.ColumnPrefix()
	if !ok || !plan.Exact || s.Encrypted() && col != "type" {
		return nil, nil
	}
	hi, bounded := query.Successor(prefix)
	var values []string
	next := `SELECT min(` + col + `) FROM ev WHERE tid = ? AND ` + col + ` >= ?` // col is one of query's indexed columns
	if bounded {
		next += ` AND ` + col + ` < ?`
	}
	from := prefix
	for len(values) <= maxPrefixValues {
		args := []any{tid, from}
		if bounded {
			args = append(args, hi)
		}
		var v sql.NullString
		if err := s.index.reader.QueryRowContext(ctx, next, args...).Scan(&v); err != nil {
			return nil, fmt.Errorf("search index: %w", err)
		}
		if !v.Valid {
			break
		}
		values = append(values, v.String)
		from = v.String + "\x00"
	}
	if len(values) == 0 || len(values) > maxPrefixValues {
		return nil, nil
	}
	out := make([]variant, len(values))
	for i, v := range values {
		vq := with(v)
		_, vp, err := s.compile(ctx, SearchRequest{Tenant: req.Tenant, Query: vq}, tid)
		if err != nil || !vp.Exact {
			return nil, err
		}
		out[i] = variant{vq, vp}
	}
	return out, nil
}

func (s *Store) queryKeys(ctx context.Context, sqlText string, args ...any) ([]keyRef, error) {
	rows, err := s.index.reader.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("search index: %w", err)
	}
	defer rows.Close()
	var keys []keyRef
	for rows.Next() {
		var r keyRef
		if err := rows.Scan(&r.k, &r.seq, &r.ts); err != nil {
			return nil, err
		}
		keys = append(keys, r)
	}
	return keys, rows.Err()
}

// bodies fetches the ledger bodies of keys, in the keys' order (share:
// through the store's cache of decoded packs). Events
// whose body was deleted are left out.
func (s *Store) bodies(ctx context.Context, tid int64, keys []keyRef, share bool) ([]Stored, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	found := make(map[int64][]byte, len(keys))
	want := make(map[int64]bool, len(keys))
	// Across the chunks (their seq ranges overlap). A search page shares
	// the store's decoded packs; an export's pages go through
	// far more packs than the cache holds and would only churn it.
	pk := s.readerPacks()
	if share {
		pk = s.sharedPacks()
	}
	for _, k := range keys {
		want[k.seq] = true
	}
	for start := 0; start < len(keys); start += 500 {
		chunk := keys[start:min(start+500, len(keys))]
		lo, hi := chunk[0].seq, chunk[0].seq
		for _, k := range chunk {
			lo, hi = min(lo, k.seq), max(hi, k.seq)
		}
		if hi-lo < int64(2*len(chunk)) {
			// Dense (a time window of events that arrived in about
			// their time order, as exports are): one range walk of the
			// ledger instead of a lookup per event.
			if err := s.scanBodies(ctx, pk, tid, want, found, `SELECT `+bodyColumns+` FROM events WHERE tid = ? AND seq BETWEEN ? AND ? AND body IS NOT NULL`, tid, lo, hi); err != nil {
				return nil, err
			}
			continue
		}
		args := make([]any, 0, len(chunk)+1)
		args = append(args, tid)
		for _, k := range chunk {
			args = append(args, k.seq)
		}
		q := `SELECT ` + bodyColumns + ` FROM events WHERE tid = ? AND seq IN (?` + strings.Repeat(",?", len(chunk)-1) + `) AND body IS NOT NULL`
		if err := s.scanBodies(ctx, pk, tid, want, found, q, args...); err != nil {
			return nil, err
		}
	}
	out := make([]Stored, 0, len(keys))
	for _, k := range keys {
		if b, ok := found[k.seq]; ok {
			out = append(out, Stored{Seq: k.seq, Body: b})
		}
	}
	return out, nil
}

// bodyColumns are what scanBodies reads of a row: its seq, its body and,
// for a sealed body, its data key and id ("dk id"), for a packed one "p",
// its received_at and id ("p received id"), NULL for a body in clear in
// its row. Three columns rather than five: the driver makes a pair of
// calls into SQLite, each taking its mutex, per column of a row.
const bodyColumns = `seq, body, iif(dk IS NULL, iif(length(body) = 1, 'p ' || received_at || ' ' || id, NULL), dk || ' ' || id)`

// scanBodies reads the rows q selects (bodyColumns) into into, keeping
// those want holds (all when want is nil).
func (s *Store) scanBodies(ctx context.Context, pk *packs, tid int64, want map[int64]bool, into map[int64][]byte, q string, args ...any) error {
	type row struct {
		seq    int64
		body   []byte
		sealed sql.NullString
	}
	// Read the rows and release the connection before opening sealed
	// bodies: opening may read a data key through the same pool, and
	// readers each holding a connection while waiting for another could
	// exhaust it.
	var got []row
	var arena []byte // the bodies, copied out of the driver's buffers together
	err := func() error {
		rows, err := s.reader.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read ledger: %w", err)
		}
		defer rows.Close()
		var body sql.RawBytes
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.seq, &body, &r.sealed); err != nil {
				return err
			}
			if want != nil && !want[r.seq] {
				continue
			}
			if len(body) > cap(arena)-len(arena) {
				arena = make([]byte, 0, max(len(body), 64<<10))
			}
			n := len(arena)
			arena = append(arena, body...)
			r.body = arena[n:len(arena):len(arena)]
			got = append(got, r)
		}
		return rows.Err()
	}()
	if err != nil {
		return err
	}
	// The packs of the packed bodies, in one statement when they are close.
	lo, hi := int64(math.MaxInt64), int64(-1)
	for _, r := range got {
		if r.sealed.Valid && isPacked(r.body) {
			lo, hi = min(lo, r.seq), max(hi, r.seq)
		}
	}
	if hi > lo && hi-lo < 4096 {
		if err := s.prefetch(ctx, pk, tid, lo, hi); err != nil {
			return fmt.Errorf("read ledger: %w", err)
		}
	}
	for _, r := range got {
		if r.sealed.Valid {
			dk, id, _ := strings.Cut(r.sealed.String, " ")
			if dk == "p" && isPacked(r.body) {
				at, id, _ := strings.Cut(id, " ")
				received, err := strconv.ParseInt(at, 10, 64)
				if err != nil {
					return fmt.Errorf("read ledger: seq %d: received_at %q", r.seq, at)
				}
				if r.body, err = pk.read(ctx, tid, r.seq, id, received); err != nil {
					return err
				}
			} else {
				n, err := strconv.ParseInt(dk, 10, 64)
				if err != nil {
					return fmt.Errorf("read ledger: seq %d: data key %q", r.seq, dk)
				}
				if r.body, err = s.open(ctx, tid, id, sql.NullInt64{Int64: n, Valid: true}, r.body); err != nil {
					return err
				}
			}
		}
		if r.body != nil {
			into[r.seq] = r.body
		}
	}
	return nil
}

// Get returns the tenant's event with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, tenant, id string) (Stored, error) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return Stored{}, clawtrail.ErrNotFound
	}
	var st Stored
	var dk sql.NullInt64
	var received int64
	var typ string
	err := s.reader.QueryRowContext(ctx, `SELECT seq, dk, body, received_at, type FROM events WHERE tid = ? AND id = ?`, tid, id).Scan(&st.Seq, &dk, &st.Body, &received, &typ)
	if errors.Is(err, sql.ErrNoRows) {
		return Stored{}, clawtrail.ErrNotFound
	}
	if err != nil {
		return Stored{}, err
	}
	if st.Body, err = s.storedBody(ctx, s.sharedPacks(), tid, st.Seq, id, received, dk, st.Body); err != nil {
		return Stored{}, err
	}
	if st.Body == nil {
		// Deleted by retention or erased: what the leaf still says.
		e := clawtrail.Event{ID: id, Seq: st.Seq, TenantID: tenant, Type: typ, ReceivedAt: time.Unix(0, received).UTC(),
			Status: "deleted", Reason: "the body of this event was deleted (retention or erasure); its tombstone says why"}
		st.Body = e.AppendJSON(nil)
		st.Deleted = true
	}
	return st, nil
}

// ReadAfter returns up to limit of the tenant's events with seq > after, in
// seq order, straight from the ledger (tail never waits for the index).
// Events whose body was deleted are skipped. next is the seq to continue
// after.
func (s *Store) ReadAfter(ctx context.Context, tenant string, after int64, limit int) (events []Stored, next int64, err error) {
	next = after
	tid, ok := s.tenantID(tenant)
	if !ok {
		return nil, next, nil
	}
	// One connection for the rows and their packs: read in the rows'
	// snapshot, and never a wait for a second connection while holding one.
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return nil, next, fmt.Errorf("read ledger: %w", err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT seq, id, dk, body, received_at FROM events WHERE tid = ? AND seq > ? ORDER BY seq LIMIT ?`, tid, after, limit)
	if err != nil {
		return nil, next, fmt.Errorf("read ledger: %w", err)
	}
	defer rows.Close()
	pk := &packs{db: conn}
	defer pk.close()
	for rows.Next() {
		var st Stored
		var id string
		var dk sql.NullInt64
		var received int64
		if err := rows.Scan(&st.Seq, &id, &dk, &st.Body, &received); err != nil {
			return nil, next, err
		}
		if st.Body, err = s.storedBody(ctx, pk, tid, st.Seq, id, received, dk, st.Body); err != nil {
			return nil, next, err
		}
		next = st.Seq
		if st.Body != nil {
			events = append(events, st)
		}
	}
	return events, next, rows.Err()
}

// WaitCommit returns a channel that is closed after the next commit.
func (s *Store) WaitCommit() <-chan struct{} { return s.commitWait() }
