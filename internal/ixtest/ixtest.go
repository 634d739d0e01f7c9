// Package ixtest holds what tests of several packages ask of a data
// directory's search index. It opens index.db through the database/sql
// driver "sqlite", which the caller's import of the store registers.
package ixtest

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TermsHolding counts the full-text terms of dir's index.db (all of them,
// whole, through fts5vocab) that contain s. A byte scan of the files cannot
// stand in for it: FTS5 stores a term as the suffix it does not share with
// the term before it.
func TermsHolding(t testing.TB, dir, s string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the vocabulary table is temporary: one connection
	if _, err := db.Exec(`CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, fts, row)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM temp.vocab WHERE instr(term, ?) > 0`, s).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
