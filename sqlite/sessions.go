package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
)

// SessionSummary describes one session (SPEC §2 GET /v1/sessions).
type SessionSummary struct {
	ID     string   `json:"session_id"`
	First  int64    `json:"-"` // ns
	Last   int64    `json:"-"` // ns
	Events int64    `json:"events"`
	Errors int64    `json:"errors"`
	Tools  []string `json:"tools"`
}

// Sessions lists the tenant's sessions having events that match the request,
// most recently active first, at most req.Limit.
func (s *Store) Sessions(ctx context.Context, req SearchRequest) ([]SessionSummary, error) {
	tid, ok := s.tenantID(req.Tenant)
	if !ok {
		return nil, nil
	}
	q, plan, err := s.compile(ctx, req, tid)
	if err != nil {
		return nil, err
	}
	// A phrase is decided on the bodies: summarise from them.
	if !plan.Exact {
		return s.sessionsFiltered(ctx, req)
	}
	stored, firsts, err := s.recentSessions(ctx, tid, req, q, plan)
	if err != nil || len(stored) == 0 {
		return nil, err
	}
	// A blind index holds keyed hashes of session ids and tools (their
	// stored forms): the clear ones come from one body each.
	blind := s.Encrypted() && s.keys.tenant(tid) != nil
	ids := stored
	var clearSess map[string]string // stored → clear session id (blind)
	if blind {
		if clearSess, err = s.clearValues(ctx, tid, firsts, stored, func(e *clawtrail.Event) string { return e.SessionID }); err != nil {
			return nil, err
		}
		ids = nil
		stored = slices.DeleteFunc(stored, func(v string) bool { _, ok := clearSess[v]; return !ok })
		for _, v := range stored {
			ids = append(ids, clearSess[v])
		}
		if len(ids) == 0 {
			return nil, nil
		}
	}
	// The summaries, over the events of those sessions that match: one
	// more query, driven by their session tokens, a row per session and
	// tool.
	withIDs, err := q.WithSessions(ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", clawtrail.ErrInvalid, err)
	}
	sreq := req
	sreq.Query = withIDs
	q, plan, err = s.compile(ctx, sreq, tid)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.WriteString(`SELECT e.session_id, e.tool, min(e.ts), max(e.ts), count(*), sum(e.err), max(e.seq)`)
	_, args := selection(&sb, tid, sreq, s.keySlack(sreq), q, plan, anyKeyLo, anyKeyHi)
	sb.WriteString(` AND e.session_id IN (?` + strings.Repeat(",?", len(stored)-1) + `) GROUP BY e.session_id, e.tool`)
	for _, v := range stored {
		args = append(args, v)
	}
	type group struct {
		sess, tool   string
		first, last  int64
		events, errs int64
		seq          int64 // of one of its events
	}
	var groups []group
	err = func() error {
		rows, err := s.index.reader.QueryContext(ctx, sb.String(), args...)
		if err != nil {
			return fmt.Errorf("search index: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var g group
			var tool *string
			if err := rows.Scan(&g.sess, &tool, &g.first, &g.last, &g.events, &g.errs, &g.seq); err != nil {
				return err
			}
			if tool != nil {
				g.tool = *tool
			}
			groups = append(groups, g)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, err
	}
	sessName := func(v string) string { return v }
	toolName := func(v string) (string, bool) { return v, v != "" }
	if blind {
		sessName = func(v string) string { return clearSess[v] }
		// One body per distinct stored tool.
		var keys []keyRef
		var tools []string
		for _, g := range groups {
			if g.tool != "" && !slices.Contains(tools, g.tool) {
				keys, tools = append(keys, keyRef{seq: g.seq}), append(tools, g.tool)
			}
		}
		clear, err := s.clearValues(ctx, tid, keys, tools, func(e *clawtrail.Event) string { return e.Tool })
		if err != nil {
			return nil, err
		}
		toolName = func(v string) (string, bool) { t, ok := clear[v]; return t, ok }
	}
	byID := map[string]*SessionSummary{}
	var out []*SessionSummary
	for _, g := range groups {
		ss := byID[g.sess]
		if ss == nil {
			ss = &SessionSummary{ID: sessName(g.sess), First: g.first, Last: g.last, Tools: []string{}}
			byID[g.sess] = ss
			out = append(out, ss)
		}
		ss.First, ss.Last = min(ss.First, g.first), max(ss.Last, g.last)
		ss.Events += g.events
		ss.Errors += g.errs
		if t, ok := toolName(g.tool); ok {
			ss.Tools = append(ss.Tools, t)
		}
	}
	list := make([]SessionSummary, len(out))
	for i, ss := range out {
		slices.Sort(ss.Tools)
		list[i] = *ss
	}
	slices.SortStableFunc(list, func(a, b SessionSummary) int {
		return cmp.Or(cmp.Compare(b.Last, a.Last), strings.Compare(a.ID, b.ID))
	})
	return list, nil
}

// clearValues maps stored[i], a keyed hash in a blind index, to the clear
// value get reads from the body of the event at keys[i]. A body deleted
// since (retention, erasure; its tombstone not indexed yet) names nothing:
// its value is left out of the map.
func (s *Store) clearValues(ctx context.Context, tid int64, keys []keyRef, stored []string, get func(*clawtrail.Event) string) (map[string]string, error) {
	bodies, err := s.bodies(ctx, tid, keys, true)
	if err != nil {
		return nil, err
	}
	bySeq := map[int64][]byte{}
	for _, b := range bodies {
		bySeq[b.Seq] = b.Body
	}
	clear := map[string]string{}
	for i, k := range keys {
		if e, err := clawtrail.ParseEvent(bySeq[k.seq]); err == nil {
			clear[stored[i]] = get(e)
		}
	}
	return clear, nil
}

// recentSessions returns the stored session ids (keyed hashes in a blind
// index) of the (at most req.Limit) sessions whose latest matching event is
// the most recent, and the key of that event of each. It walks the
// matching events newest first, as a search does; a session's first
// appearance there is its latest event, so the walk stops once it has seen
// enough sessions —
// where grouping every matching event first read the whole tenant for an
// unfiltered listing (1.5 s at 500k events; docs/benchmarks.md, "Eighth
// pass").
func (s *Store) recentSessions(ctx context.Context, tid int64, req SearchRequest, q *query.Query, plan query.Plan) (ids []string, firsts []keyRef, err error) {
	if req.Limit <= 0 {
		return nil, nil, nil
	}
	var sb strings.Builder
	sb.WriteString(`SELECT e.session_id, e.seq`)
	keyCol, args := selection(&sb, tid, req, s.keySlack(req), q, plan, anyKeyLo, anyKeyHi)
	sb.WriteString(` AND e.session_id IS NOT NULL ORDER BY ` + keyCol + ` DESC`)
	rows, err := s.index.reader.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("search index: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for len(ids) < req.Limit && rows.Next() {
		var id string
		var k keyRef
		if err := rows.Scan(&id, &k.seq); err != nil {
			return nil, nil, err
		}
		if !seen[id] {
			seen[id] = true
			ids, firsts = append(ids, id), append(firsts, k)
		}
	}
	return ids, firsts, rows.Err()
}

// sessionsFiltered aggregates sessions from the events a query matches, for
// plans the index can only narrow (phrases): it streams them and groups in
// memory, one entry per session.
func (s *Store) sessionsFiltered(ctx context.Context, req SearchRequest) ([]SessionSummary, error) {
	byID := map[string]*SessionSummary{}
	tools := map[string]map[string]bool{}
	err := s.Export(ctx, req, func(st Stored) error {
		e, err := clawtrail.ParseEvent(st.Body)
		if err != nil || e.SessionID == "" {
			return nil
		}
		ts := e.Timestamp.UnixNano()
		ss := byID[e.SessionID]
		if ss == nil {
			ss = &SessionSummary{ID: e.SessionID, First: ts, Last: ts, Tools: []string{}}
			byID[e.SessionID] = ss
			tools[e.SessionID] = map[string]bool{}
		}
		ss.First, ss.Last = min(ss.First, ts), max(ss.Last, ts)
		ss.Events++
		if e.Status == "error" || e.Error != "" {
			ss.Errors++
		}
		if e.Tool != "" && !tools[e.SessionID][e.Tool] {
			tools[e.SessionID][e.Tool] = true
			ss.Tools = append(ss.Tools, e.Tool)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]SessionSummary, 0, len(byID))
	for _, ss := range byID {
		out = append(out, *ss)
	}
	slices.SortFunc(out, func(a, b SessionSummary) int { return cmp.Or(cmp.Compare(b.Last, a.Last), strings.Compare(a.ID, b.ID)) })
	return out[:min(len(out), req.Limit)], nil
}

// sessionKeysSQL selects a session's events (its token ?1, tenant ?2,
// session id ?3) in a key range [?4, ?5], oldest first, at most ?6 (CROSS
// JOIN: the session's token drives; see selection).
const sessionKeysSQL = `SELECT e.k, e.seq, e.ts FROM fts CROSS JOIN ev e ON e.k = fts.rowid WHERE fts MATCH ? AND e.tid = ? AND e.session_id = ? AND e.type NOT IN (` + serverTypes + `) AND fts.rowid BETWEEN ? AND ? ORDER BY fts.rowid ASC LIMIT ?`

// Session returns a page of one session's timeline, oldest first (agent
// activity only, as in search).
func (s *Store) Session(ctx context.Context, tenant, sessionID string, limit int, cursor string) (Page, error) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return Page{}, nil
	}
	// The session's token drives (its doclist in key order); the column
	// test keeps the answer exact for ids longer than MaxIndexValueLen, and
	// e.tid keeps it the tenant's: the tenant's token, whose doclist holds
	// every event of the tenant, is left out of the MATCH (an AND with it
	// seeks that doclist in every segment for each event of the session).
	key := sessionID
	var blind query.Blinder
	if tk := s.keys.tenant(tid); s.Encrypted() && tk != nil {
		key, blind = tk.Blind("session_id", sessionID), tk.Blind
	}
	match := `"` + query.SessionToken(query.SessionValue(sessionID, blind)) + `"`
	cur, err := decodeCursor(cursor, true)
	if err != nil {
		return Page{}, err
	}
	get := func(lo, hi int64, limit int) ([]keyRef, error) {
		return s.queryKeys(ctx, sessionKeysSQL, match, tid, key, lo, hi, limit)
	}
	keys, err := ordered(get, anyKeyLo, anyKeyHi, true, cur, limit)
	if err != nil {
		return Page{}, err
	}
	var page Page
	if len(keys) > limit {
		keys = keys[:limit]
		page.NextCursor = encodeCursor(keys[len(keys)-1], true)
	}
	page.Events, err = s.bodies(ctx, tid, keys, true)
	return page, err
}

// Export streams every event matching req to fn, oldest first, page by
// page, in constant memory. It is a pipeline of three goroutines, so the
// index walk, the ledger reads and the caller's writing overlap on the
// cores: the keys of page n+1 are read while the bodies of page n are and
// fn handles page n-1 (at most three pages of bodies are held).
func (s *Store) Export(ctx context.Context, req SearchRequest, fn func(Stored) error) error {
	req.Asc = true
	req.Limit = 1000
	tid, ok := s.tenantID(req.Tenant)
	if !ok {
		return nil
	}
	q, plan, err := s.compile(ctx, req, tid)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		keys   []keyRef
		events []Stored
		err    error
	}
	send := func(c chan<- result, r result) bool {
		select {
		case c <- r:
			return r.err == nil
		case <-ctx.Done():
			return false
		}
	}
	pages := make(chan result, 1)
	if !plan.Exact {
		// Candidates filtered by the matcher: whole pages from Search.
		go func() {
			defer close(pages)
			for {
				page, err := s.Search(ctx, req)
				if !send(pages, result{events: page.Events, err: err}) || page.NextCursor == "" {
					return
				}
				req.Cursor = page.NextCursor
			}
		}()
	} else {
		keys := make(chan result, 1)
		go func() {
			defer close(keys)
			for {
				k, err := s.searchKeys(ctx, tid, req, q, plan)
				more := len(k) > req.Limit
				if more {
					k = k[:req.Limit]
				}
				if !send(keys, result{keys: k, err: err}) || !more {
					return
				}
				req.Cursor = encodeCursor(k[len(k)-1], true)
			}
		}()
		go func() {
			defer close(pages)
			for r := range keys {
				if r.err == nil {
					r.events, r.err = s.bodies(ctx, tid, r.keys, false)
				}
				if !send(pages, r) {
					return
				}
			}
		}()
	}
	for r := range pages {
		if r.err != nil {
			return r.err
		}
		if ctx.Err() != nil {
			break
		}
		for _, ev := range r.events {
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}
