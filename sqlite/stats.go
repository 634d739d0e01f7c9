package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/clawtrail/clawtrail"
)

// nsPerDay is one UTC day in ns; day numbers count days since 1970-01-01.
const nsPerDay = 24 * 60 * 60 * 1_000_000_000

// DayCount is how many of a tenant's indexed events of one type have a
// timestamp on one UTC day.
type DayCount struct {
	Day   int64 // days since 1970-01-01 (UTC)
	Type  string
	Count int64
}

// DayOf is the UTC day number of a timestamp in ns.
func DayOf(ns int64) int64 {
	d := ns / nsPerDay
	if ns < 0 && ns%nsPerDay != 0 {
		d--
	}
	return d
}

// DailyCounts counts the tenant's indexed events per UTC day and type, over
// the whole days that req.From..req.To touch (both 0: every day), with the
// same selection rules as Search: the server's own record types only when
// the query names a type (never with HideServer). Without a query the
// answer comes from the rollup the indexer keeps (ix_daily: one row per
// tenant, day and type), so it costs the same at any size; a query is
// counted over the matching index rows. A query the index cannot select
// exactly (a phrase of several words) is refused: counting it would mean
// reading every candidate's body.
func (s *Store) DailyCounts(ctx context.Context, req SearchRequest) ([]DayCount, error) {
	if req.From != 0 && req.To != 0 && req.From > req.To {
		return nil, &clawtrail.InvalidError{Message: "from is after to"}
	}
	tid, ok := s.tenantID(req.Tenant)
	if !ok {
		return nil, nil
	}
	lo, hi := int64(-1<<62), int64(1<<62)
	if req.From != 0 {
		lo = DayOf(req.From)
	}
	if req.To != 0 {
		hi = DayOf(req.To)
	}
	var sb strings.Builder
	var args []any
	if req.Query == nil || req.Query.Empty() {
		sb.WriteString(`SELECT day, type, n FROM ix_daily WHERE tid = ? AND day BETWEEN ? AND ? AND n > 0 AND type NOT IN (` + serverTypes + `) ORDER BY day, type`)
		args = []any{tid, lo, hi}
	} else {
		q, plan, err := s.compile(ctx, req, tid)
		if err != nil {
			return nil, err
		}
		if !plan.Exact {
			return nil, &clawtrail.InvalidError{Message: "this query cannot be counted from the index (a phrase of several words is matched against each event's body); count single words instead"}
		}
		// Whole days: widen the bounds to the days' edges.
		r := req
		r.From, r.To = 0, 0
		if req.From != 0 {
			r.From = max(lo, 0) * nsPerDay
		}
		if req.To != 0 {
			r.To = min(hi+1, DayOf(clawtrail.MaxTime.UnixNano()))*nsPerDay - 1
		}
		fmt.Fprintf(&sb, `SELECT e.ts / %d AS day, e.type, count(*)`, int64(nsPerDay)) // timestamps are ≥ 1970
		_, args = selection(&sb, tid, r, q, plan, nil)
		sb.WriteString(` GROUP BY 1, 2 ORDER BY 1, 2`)
	}
	rows, err := s.index.reader.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("search index: %w", err)
	}
	defer rows.Close()
	var out []DayCount
	for rows.Next() {
		var d DayCount
		if err := rows.Scan(&d.Day, &d.Type, &d.Count); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
