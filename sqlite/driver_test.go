package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestDriverRunsDSNPragmas pins what every sql.Open in this package relies
// on, whichever driver the binary was built with (driver_modernc.go,
// driver_cgo.go): the pragmas of a data source name run on each new
// connection, in order, and _txlock=immediate takes the write lock at
// BEGIN.
func TestDriverRunsDSNPragmas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "busy_timeout(1234)", "cache_size(-4321)", "secure_delete(1)")+"&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	for _, c := range []struct {
		pragma string
		want   string
	}{{"journal_mode", "wal"}, {"busy_timeout", "1234"}, {"cache_size", "-4321"}, {"secure_delete", "1"}} {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q (%s)", c.pragma, got, c.want, Driver)
		}
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t(x)`); err != nil {
		t.Fatal(err)
	}
	// _txlock=immediate: a second writer cannot BEGIN while the first holds
	// its transaction (with busy_timeout 1.2 s it gives up with "busy").
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite", dsn(path, "busy_timeout(50)")+"&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if tx2, err := other.BeginTx(ctx, nil); err == nil {
		tx2.Rollback()
		t.Fatalf("a second BEGIN succeeded while the first transaction held the write lock: _txlock=immediate not applied (%s)", Driver)
	}
}
