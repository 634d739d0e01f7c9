package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/clawtrail/clawtrail/strictjson"
)

// Search limits (SPEC §2).
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// searchRequest parses q, from, to, limit (1 to maxLimit), cursor and order.
func (s *Server) searchRequest(r *http.Request, tenant string, maxLimit int) (sqlite.SearchRequest, error) {
	v := r.URL.Query()
	req := sqlite.SearchRequest{Tenant: tenant, Limit: DefaultLimit, Cursor: v.Get("cursor")}
	q, err := query.Parse(v.Get("q"))
	if err != nil {
		return req, &clawtrail.InvalidError{Message: err.Error()}
	}
	req.Query = q
	now := s.now()
	from, err := clawtrail.ParseTimeBound(v.Get("from"), now, false)
	if err != nil {
		return req, fmt.Errorf("from: %w", err)
	}
	to, err := clawtrail.ParseTimeBound(v.Get("to"), now, true)
	if err != nil {
		return req, fmt.Errorf("to: %w", err)
	}
	// Events have timestamps in [MinTime, MaxTime) (1970–2200): a bound
	// outside selects what the nearest one inside does, and one before
	// 1678 or after 2262 would overflow ns (1 ns before MinTime: as a from
	// it selects everything, as a to nothing).
	clamp := func(t time.Time) time.Time {
		if t.After(clawtrail.MaxTime) {
			return clawtrail.MaxTime
		}
		if t.Before(clawtrail.MinTime) {
			return clawtrail.MinTime.Add(-time.Nanosecond)
		}
		return t
	}
	if !from.IsZero() {
		req.From = max(clamp(from).UnixNano(), 1)
	}
	if !to.IsZero() {
		req.To = clamp(to).UnixNano()
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			return req, &clawtrail.InvalidError{Message: fmt.Sprintf("limit must be an integer from 1 to %d", maxLimit)}
		}
		req.Limit = n
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		req.Asc = true
	default:
		return req, &clawtrail.InvalidError{Message: "order must be asc or desc"}
	}
	return req, nil
}

// waitIndexed honours wait_seq: it holds the request (at most MaxWait) until
// the search index covers that seq; wait_seq=latest means the tenant's last
// event committed when the request arrived.
func (s *Server) waitIndexed(r *http.Request, tenant string) error {
	ws := r.URL.Query().Get("wait_seq")
	if ws == "" {
		return nil
	}
	seq, err := strconv.ParseInt(ws, 10, 64)
	if ws == "latest" {
		seq, err = s.store.Head(tenant)-1, nil
	}
	if err != nil || seq < -1 {
		return &clawtrail.InvalidError{Message: "wait_seq must be a seq (a non-negative integer) or latest"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.MaxWait)
	defer cancel()
	if err := s.store.WaitIndexed(ctx, tenant, seq); err != nil {
		return fmt.Errorf("%w: the search index did not reach seq %d within %s", clawtrail.ErrUnavailable, seq, s.cfg.MaxWait)
	}
	return nil
}

// writeEvents writes {"events":[...],"next_cursor":...} with the stored
// bodies as they are.
func writeEvents(w http.ResponseWriter, extra string, events []sqlite.Stored, next string) {
	w.Header().Set("Content-Type", "application/json")
	buf := make([]byte, 0, 4096)
	buf = append(buf, '{')
	buf = append(buf, extra...)
	buf = append(buf, `"events":[`...)
	for i, e := range events {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e.Body...)
	}
	buf = append(buf, `],"next_cursor":`...)
	buf = strictjson.AppendString(buf, next)
	buf = append(buf, "}\n"...)
	w.Write(buf)
}

// readRequest parses a search-like request and honours its wait_seq.
func (s *Server) readRequest(r *http.Request) (sqlite.SearchRequest, error) {
	return s.readRequestMax(r, MaxLimit)
}

// readRequestMax is readRequest with limit bounded by maxLimit.
func (s *Server) readRequestMax(r *http.Request, maxLimit int) (sqlite.SearchRequest, error) {
	c := callerOf(r.Context())
	tenant := c.tenant
	req, err := s.searchRequest(r, tenant, maxLimit)
	if err != nil {
		return req, err
	}
	req.HideServer = !c.seesServerRecords()
	return req, s.waitIndexed(r, tenant)
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	req, err := s.readRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	page, err := s.store.Search(ctx, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.metrics.searchSeconds.Observe(time.Since(start).Seconds())
	s.audit.access(r, callerOf(r.Context()), "search", r.URL.Query().Get("q"), int64(len(page.Events)))
	writeEvents(w, "", page.Events, page.NextCursor)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	id := r.PathValue("id")
	if !clawtrail.ValidID(id) {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "event ids are 1 to 128 characters of A-Z a-z 0-9 _ . : @ -"})
		return
	}
	ev, err := s.store.Get(r.Context(), c.tenant, id)
	if err == nil && !c.seesServerRecords() {
		var head struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(ev.Body, &head) != nil || clawtrail.ServerRecordType(head.Type) {
			err = clawtrail.ErrNotFound // a reader may not see who else looked
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit.access(r, c, "get", "id:"+id, 1)
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(ev.Body, '\n'))
}

// SessionsPage is the answer to GET /v1/sessions.
type SessionsPage struct {
	Sessions []SessionJSON `json:"sessions"`
}

// SessionJSON is one session of GET /v1/sessions.
type SessionJSON struct {
	ID     string   `json:"session_id"`
	First  string   `json:"first"`
	Last   string   `json:"last"`
	Events int64    `json:"events"`
	Errors int64    `json:"errors"`
	Tools  []string `json:"tools"`
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	req, err := s.readRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	list, err := s.store.Sessions(ctx, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit.access(r, callerOf(r.Context()), "sessions", r.URL.Query().Get("q"), int64(len(list)))
	out := make([]SessionJSON, 0, len(list))
	for _, ss := range list {
		out = append(out, SessionJSON{ID: ss.ID, First: formatNS(ss.First), Last: formatNS(ss.Last),
			Events: ss.Events, Errors: ss.Errors, Tools: ss.Tools})
	}
	writeJSON(w, http.StatusOK, SessionsPage{Sessions: out})
}

func formatNS(ns int64) string {
	return time.Unix(0, ns).UTC().Format(clawtrail.TimestampLayout)
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	id := r.PathValue("id")
	if len(id) > 256 {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "a session id is at most 256 bytes"})
		return
	}
	limit := MaxLimit
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			s.writeError(w, r, &clawtrail.InvalidError{Message: fmt.Sprintf("limit must be an integer from 1 to %d", MaxLimit)})
			return
		}
		limit = n
	}
	if err := s.waitIndexed(r, c.tenant); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	page, err := s.store.Session(ctx, c.tenant, id, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit.access(r, c, "session", "session_id:"+id, int64(len(page.Events)))
	writeEvents(w, `"session_id":`+string(strictjson.AppendString(nil, id))+`,`, page.Events, page.NextCursor)
}

func (s *Server) handleReindex(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	if !c.key.Root {
		s.writeError(w, r, fmt.Errorf("%w: reindex rebuilds every tenant's index and needs the root key", clawtrail.ErrForbidden))
		return
	}
	if err := s.audit.configChange(r.Context(), SystemTenant, c.key, "reindex", map[string]string{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.Reindex(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reindexing"})
}

// DayStats is one UTC day of GET /v1/stats.
type DayStats struct {
	Day   string           `json:"day"` // YYYY-MM-DD
	Total int64            `json:"total"`
	Types map[string]int64 `json:"types"`
}

// StatsPage is the answer of GET /v1/stats.
type StatsPage struct {
	Days []DayStats `json:"days"`
}

// handleStats answers GET /v1/stats?from=&to=&q=: the tenant's events per
// UTC day and type, over the whole days from..to touches, selected as
// search selects them. Without q it reads the indexer's rollup.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	for _, p := range []string{"limit", "cursor", "order"} {
		if r.URL.Query().Has(p) {
			s.writeError(w, r, &clawtrail.InvalidError{Message: "GET /v1/stats counts every matching event (it takes q, from, to, wait_seq, latest): " + p + " is a search parameter"})
			return
		}
	}
	req, err := s.readRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	counts, err := s.store.DailyCounts(ctx, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := StatsPage{Days: []DayStats{}}
	var total int64
	for _, c := range counts {
		if n := len(page.Days); n == 0 || page.Days[n-1].Day != dayString(c.Day) {
			page.Days = append(page.Days, DayStats{Day: dayString(c.Day), Types: map[string]int64{}})
		}
		d := &page.Days[len(page.Days)-1]
		d.Types[c.Type] += c.Count
		d.Total += c.Count
		total += c.Count
	}
	s.audit.access(r, callerOf(r.Context()), "stats", r.URL.Query().Get("q"), total)
	writeJSON(w, http.StatusOK, page)
}

func dayString(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
}
