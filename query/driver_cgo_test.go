//go:build sqlite_cgo

package query

import (
	"database/sql"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Built with -tags "sqlite_cgo sqlite_fts5", the plans are checked
// against the C SQLite the store then uses.
func init() { sql.Register("sqlite", &sqlite3.SQLiteDriver{}) }
