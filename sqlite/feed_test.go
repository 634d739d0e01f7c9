package sqlite

import (
	"context"
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

// What the feed reads ahead is stripped to what the writer reads: the
// scalar columns stay on the event, the value trees and long strings go
// (the index body and number rows carry them).
func TestReadAheadStripped(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	mustAppend(t, s, "acme", `{"type":"tool_call","tool":"exec","session_id":"s1","content":"ran ls","error":"boom","reason":"why",`+
		`"arguments":{"cmd":"ls -la"},"result":{"ok":true},"usage":{"input_tokens":7},"attributes":{"env":"prod"}}`)
	rows, err := s.index.readLedger(0)
	if err != nil || len(rows) != 1 {
		t.Fatalf("readLedger: %d rows, %v", len(rows), err)
	}
	p := s.index.prepare(rows)[0]
	e := p.e
	if e == nil || e.Tool != "exec" || e.SessionID != "s1" || e.Type != "tool_call" {
		t.Fatalf("the prepared event lost its columns: %+v", e)
	}
	if e.Arguments != nil || e.Result != nil || e.Usage != nil || e.Attributes != nil || e.Redactions != nil ||
		e.Content != "" || e.Error != "" || e.Reason != "" {
		t.Errorf("the read-ahead keeps what the writer does not read: %+v", e)
	}
	for _, tok := range []string{"ran", query.ValueToken("arguments.cmd", "ls -la"), query.ValueToken("attributes.env", "prod"), query.ValueToken("error", "boom")} {
		if !strings.Contains(p.text, tok) {
			t.Errorf("the index body lacks %q: %q", tok, p.text)
		}
	}
	if len(p.fv) != 1 || p.fv[0].F != "usage.input_tokens" {
		t.Errorf("number rows = %+v, want usage.input_tokens only", p.fv)
	}
}
