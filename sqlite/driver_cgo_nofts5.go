//go:build sqlite_cgo && !sqlite_fts5

package sqlite

// mattn/go-sqlite3 compiles FTS5, which the search index needs, only with
// its sqlite_fts5 tag: stop such a build here, naming the fix, rather than
// let the binary fail at start with "no such module: fts5".
var _ = build_with_tags_sqlite_cgo_and_sqlite_fts5
