package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
func DayOf(ns int64) int64 { return floorDiv(ns, nsPerDay) }

// DailyCounts counts the tenant's indexed events per UTC day and type, over
// the whole days that req.From..req.To touch (both 0: every day), with the
// same selection rules as Search: the server's own record types only when
// the query names a type (never with HideServer). Without a query the
// answer comes from the rollup the indexer keeps (ix_daily: one row per
// tenant, day and type), so it costs the same at any size; a query is
// counted over the matching index rows. A query the index cannot select
// exactly (a phrase of several words, a long text value) is counted over
// the candidates the matcher accepts, reading each one's body
// (dailyCountsMatched; before index schema 17 such a query was refused).
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
		// Whole days: widen the bounds to the days' edges.
		r := req
		r.From, r.To = 0, 0
		if req.From != 0 {
			r.From = max(lo, 0) * nsPerDay
		}
		if req.To != 0 {
			r.To = min(hi+1, DayOf(clawtrail.MaxTime.UnixNano()))*nsPerDay - 1
		}
		if !plan.Exact {
			return s.dailyCountsMatched(ctx, r)
		}
		fmt.Fprintf(&sb, `SELECT e.ts / %d AS day, e.type, count(*)`, int64(nsPerDay)) // timestamps are ≥ 1970
		_, args = selection(&sb, tid, r, s.keySlack(r), q, plan, anyKeyLo, anyKeyHi)
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

// dailyCountsMatched counts, by day and type, the events of a query whose
// plan selects a superset (a phrase of several words, an equality on a
// long text value): the events the matcher accepts among the candidates,
// read through Export. It reads every candidate's body, where an exact
// plan counts index rows.
func (s *Store) dailyCountsMatched(ctx context.Context, req SearchRequest) ([]DayCount, error) {
	type dayType struct {
		day int64
		typ string
	}
	counts := map[dayType]int64{}
	err := s.Export(ctx, req, func(st Stored) error {
		if st.Deleted {
			return nil // deleted since it was selected: out of the index too
		}
		e, err := clawtrail.ParseEvent(st.Body)
		if err != nil {
			return fmt.Errorf("event at seq %d: %w", st.Seq, err)
		}
		counts[dayType{DayOf(e.Timestamp.UnixNano()), e.Type}]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]DayCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, DayCount{Day: k.day, Type: k.typ, Count: n})
	}
	slices.SortFunc(out, func(a, b DayCount) int { return cmp.Or(cmp.Compare(a.Day, b.Day), strings.Compare(a.Type, b.Type)) })
	return out, nil
}
