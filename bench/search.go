package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail/sqlite"
)

// queryResult is the latency of one query, repeated.
type queryResult struct {
	name   string
	how    string // what was run
	hits   int    // results returned by the first run
	expect string // what the corpus says it should find
	lat    []time.Duration
	plan   string // SQLite's plan, for the direct SQL query
}

// timeQuery runs fn once to warm up (and count hits), then reps times.
func timeQuery(reps int, fn func() (int, error)) ([]time.Duration, int, error) {
	hits, err := fn()
	if err != nil {
		return nil, 0, err
	}
	lat := make([]time.Duration, 0, reps)
	for range reps {
		t0 := time.Now()
		if _, err := fn(); err != nil {
			return nil, 0, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, hits, nil
}

// get fetches a JSON page over HTTP; the latency covers the whole body.
// Counting the events is done only when count is set (outside the timing of
// the repetitions that matter, see timeQuery).
func (s *server) get(ctx context.Context, path string, params url.Values) ([]byte, error) {
	resp, err := s.client.Do(ctx, http.MethodGet, path, params, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func countEvents(body []byte) (int, error) {
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return 0, err
	}
	return len(page.Events), nil
}

// searches runs the search workload against the full corpus.
func (s *server) searches(ctx context.Context, c *corpus, o genOptions, reps int) ([]queryResult, error) {
	var out []queryResult
	httpQuery := func(name, expect, path string, params url.Values) error {
		first := true
		lat, hits, err := timeQuery(reps, func() (int, error) {
			body, err := s.get(ctx, path, params)
			if err != nil || !first {
				return 0, err
			}
			first = false
			return countEvents(body)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		how := "GET " + path
		if len(params) > 0 {
			how += "?" + params.Encode()
		}
		out = append(out, queryResult{name: name, how: how, hits: hits, expect: expect, lat: lat})
		return nil
	}
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	pctOf := func(n int) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(max(1, c.def.events))) }

	if err := httpQuery("field query `tool:send_email`, 7-day range", fmt.Sprintf("%d matches in range; newest 100", c.def.sendEmail7d),
		"/v1/events", url.Values{"q": {"tool:send_email"}, "from": {rfc(o.fieldFrom)}, "to": {rfc(o.fieldTo)}}); err != nil {
		return nil, err
	}
	if err := httpQuery("full text, common word `"+commonWord+"`", fmt.Sprintf("%d events (%s); newest 100", c.def.common, pctOf(c.def.common)),
		"/v1/events", url.Values{"q": {commonWord}}); err != nil {
		return nil, err
	}
	if err := httpQuery("full text, rare word `"+rareWord+"`", fmt.Sprintf("%d events (%s); newest 100", c.def.rare, pctOf(c.def.rare)),
		"/v1/events", url.Values{"q": {rareWord}}); err != nil {
		return nil, err
	}
	sid, n := c.midSession()
	if err := httpQuery("session timeline", fmt.Sprintf("%d events (a mid-sized session)", n),
		"/v1/sessions/"+sid, nil); err != nil {
		return nil, err
	}
	cq, err := s.countByType(ctx, c, o, reps)
	if err != nil {
		return nil, err
	}
	return append(out, cq...), nil
}

// countByType times "count by type per day" as a direct SQL query on
// index.db: the API has no aggregation yet.
func (s *server) countByType(ctx context.Context, c *corpus, o genOptions, reps int) ([]queryResult, error) {
	ledger, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "ledger.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer ledger.Close()
	var tid int64
	if err := ledger.QueryRowContext(ctx, `SELECT tid FROM tenants WHERE name = ?`, tenants[0].name).Scan(&tid); err != nil {
		return nil, fmt.Errorf("tenant id: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "index.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	from := o.dayFrom.UnixNano()
	to := o.dayFrom.Add(24*time.Hour).UnixNano() - 1
	lo, hi := sqlite.KeyRange(from, to)
	const q = `SELECT type, count(*) FROM ev WHERE tid=? AND k BETWEEN ? AND ? GROUP BY type`
	res, err := timeCount(ctx, db, q, reps, tid, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("count by type: %w", err)
	}
	res.name = "count by type per day (direct SQL on index.db; no API yet)"
	res.expect = fmt.Sprintf("%d events that day", c.def.typesDay)
	out := []queryResult{res}
	// The same with the (tid, k) index forced, to show what the plan costs;
	// skipped if the index is not there.
	const forced = `SELECT type, count(*) FROM ev INDEXED BY ev_tid_k WHERE tid=? AND k BETWEEN ? AND ? GROUP BY type`
	if res, err := timeCount(ctx, db, forced, reps, tid, lo, hi); err == nil {
		res.name = "same, with `INDEXED BY ev_tid_k` (for comparison, not a target)"
		res.expect = fmt.Sprintf("%d events that day", c.def.typesDay)
		out = append(out, res)
	} else {
		progressf("  (forced-index variant skipped: %v)", err)
	}
	return out, nil
}

// timeCount times one count-by-type statement and records its plan.
func timeCount(ctx context.Context, db *sql.DB, q string, reps int, args ...any) (queryResult, error) {
	var plan []string
	rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return queryResult{}, err
	}
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			rows.Close()
			return queryResult{}, err
		}
		plan = append(plan, detail)
	}
	rows.Close()
	lat, total, err := timeQuery(reps, func() (int, error) {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		total := 0
		for rows.Next() {
			var typ string
			var n int
			if err := rows.Scan(&typ, &n); err != nil {
				return 0, err
			}
			total += n
		}
		return total, rows.Err()
	})
	if err != nil {
		return queryResult{}, err
	}
	return queryResult{how: q, hits: total, lat: lat, plan: strings.Join(plan, "; ")}, nil
}
