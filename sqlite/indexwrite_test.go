package sqlite

import (
	"context"
	"testing"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
)

// preparedEvent is what the indexer's read-ahead makes of one ledger row.
func preparedEvent(t *testing.T, tid, seq int64, js string) prepared {
	t.Helper()
	e, err := clawtrail.ParseEvent([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	e.Seq = seq
	rows := query.FVRows(e)
	return prepared{g: seq + 1, tid: tid, seq: seq, ok: true, cols: newEvCols(e, nil),
		text: query.IndexBody(tid, query.IndexText(tid, e), query.ColumnRows(e, nil), rows), fv: query.NumberRows(rows)}
}

// One index transaction writes events out of ledger order (by timestamp)
// but never across a tombstone: what a tombstone removes is written
// before it removes it, and what follows it stays.
func TestIndexWriteSegmentsAtTombstones(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	const tid = 77 // a tenant of its own: the indexer's goroutine has nothing of it
	tomb := preparedEvent(t, tid, 2, `{"id":"t","type":"tombstone","timestamp":"2026-05-01T10:00:03Z","attributes":{"deleted":"0"}}`)
	tomb.gone = [][2]int64{{0, 0}}
	batch := []prepared{
		preparedEvent(t, tid, 0, `{"id":"a","type":"prompt","timestamp":"2026-05-01T10:00:02Z","content":"erasedword","usage":{"input_tokens":42}}`),
		preparedEvent(t, tid, 1, `{"id":"b","type":"prompt","timestamp":"2026-05-01T10:00:01Z","content":"keptword"}`),
		tomb,
		// Earlier than everything above, yet after the tombstone in the ledger.
		preparedEvent(t, tid, 3, `{"id":"c","type":"prompt","timestamp":"2026-05-01T09:00:00Z","content":"laterword","arguments":{"path":"/tmp/x"}}`),
	}
	if _, err := s.index.write(batch); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := s.index.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	match := func(tok string) int {
		return count(`SELECT count(*) FROM fts WHERE fts MATCH ?`, `"`+query.TenantToken(tid)+`" AND "`+tok+`"`)
	}
	if n := match("erasedword"); n != 0 {
		t.Errorf("the erased event's word is still in the full-text index (%d rows)", n)
	}
	if n := match(query.FieldToken("usage.input_tokens")); n != 0 {
		t.Errorf("the erased event's field token is still in the full-text index (%d rows)", n)
	}
	if n := count(`SELECT count(*) FROM fv WHERE tid = ?`, tid); n != 0 {
		t.Errorf("the erased event's number row is still in fv (%d rows)", n)
	}
	for _, w := range []string{"keptword", "laterword", query.ValueToken("arguments.path", "/tmp/x")} {
		if n := match(w); n != 1 {
			t.Errorf("%s: %d fts rows, want 1", w, n)
		}
	}
	rows, err := s.index.db.QueryContext(ctx, `SELECT seq FROM ev WHERE tid = ? ORDER BY k`, tid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var seq int64
		rows.Scan(&seq)
		seqs = append(seqs, seq)
	}
	if want := []int64{3, 1, 2}; len(seqs) != 3 || seqs[0] != want[0] || seqs[1] != want[1] || seqs[2] != want[2] {
		t.Errorf("indexed seqs in time order = %v, want %v", seqs, want)
	}
}
