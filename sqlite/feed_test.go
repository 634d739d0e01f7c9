package sqlite

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/query"
)

// The indexer's feed reads the ledger through a connection that does not
// map the file (following the ledger must not map all of it into the
// process); searches, exports and verify read mapped.
func TestFeedConnectionUnmapped(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	var feed, reader int64
	if err := s.feedDB.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&feed); err != nil {
		t.Fatal(err)
	}
	if err := s.reader.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&reader); err != nil {
		t.Fatal(err)
	}
	if feed != 0 || reader != mmapLimit {
		t.Errorf("mmap_size: the feed's connection %d (want 0), the readers' %d (want %d)", feed, reader, mmapLimit)
	}
}

// What the feed reads ahead holds the ev row's columns, the index body and
// the number rows, and nothing of the parsed event: the scalar columns are
// copied into one string of their own.
func TestReadAheadColumns(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	mustAppend(t, s, "acme", `{"type":"tool_call","tool":"exec","session_id":"s1","content":"ran ls","error":"boom","reason":"why",`+
		`"duration_ms":1.5,"status_code":404,"arguments":{"cmd":"ls -la"},"result":{"ok":true},"usage":{"input_tokens":7},"attributes":{"env":"prod"}}`)
	rows, err := s.index.readLedger(0)
	if err != nil || len(rows) != 1 {
		t.Fatalf("readLedger: %d rows, %v", len(rows), err)
	}
	p := s.index.prepare(rows)[0]
	c := &p.cols
	if !p.ok || !p.hasErr || c.str(colTool) != "exec" || c.str(colSessionID) != "s1" || c.str(colType) != "tool_call" || c.str(colUserID) != "" {
		t.Fatalf("the prepared event lost its columns: ok %v, hasErr %v, %q", p.ok, p.hasErr, c.text)
	}
	if c.has != hasDur|hasStatusCode || c.dur != 1.5 || c.statusCode != 404 {
		t.Errorf("numeric columns: has %b, duration %v, status %d", c.has, c.dur, c.statusCode)
	}
	for _, tok := range []string{"ran", query.ValueToken("arguments.cmd", "ls -la"), query.ValueToken("attributes.env", "prod"), query.ValueToken("error", "boom")} {
		if !strings.Contains(p.text, tok) {
			t.Errorf("the index body lacks %q: %q", tok, p.text)
		}
	}
	if len(p.fv) != 1 || p.fv[0].F != "usage.input_tokens" || p.fv[0].V != "7" {
		t.Errorf("number rows = %+v, want usage.input_tokens 7 only", p.fv)
	}
}

// The read-ahead does not keep the bodies it decoded alive: events with a
// 32 KB content (one word repeated, so the index body stays small) take a
// few hundred bytes each once prepared, not their body.
func TestReadAheadReleasesBodies(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	const n = 200
	content := strings.Repeat("lorem ", 32<<10/6)
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf(`{"type":"prompt","session_id":"s%d","content":%q,"usage":{"input_tokens":%d}}`, i, content, i))
	}
	mustAppend(t, s, "acme", strings.Join(lines, "\n"))
	// The store's own indexer reads the same events: let it finish first.
	if err := s.WaitIndexed(context.Background(), "acme", n-1); err != nil {
		t.Fatal(err)
	}
	var rows []ledgerRow
	for cursor := int64(0); len(rows) < n; {
		r, err := s.index.readLedger(cursor)
		if err != nil || len(r) == 0 {
			t.Fatalf("readLedger: %d rows, %v", len(r), err)
		}
		rows, cursor = append(rows, r...), r[len(r)-1].g
	}
	held := make([][]prepared, 0, n)
	for _, r := range rows {
		held = append(held, s.index.prepare([]ledgerRow{r}))
	}
	rows = nil
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(held)
	held = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	per := (int64(with.HeapAlloc) - int64(without.HeapAlloc)) / n
	t.Logf("%d bytes held per prepared event (bodies of %d)", per, len(content))
	if per > 4<<10 {
		t.Errorf("each prepared event holds ~%d bytes: it keeps its %d-byte body alive", per, len(content))
	}
}
