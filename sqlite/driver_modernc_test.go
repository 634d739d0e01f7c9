//go:build !sqlite_cgo

package sqlite

import (
	"context"
	"strings"
	"testing"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// pageCacheStatus returns one of SQLite's counters of the page cache pool
// (the slots in use, the bytes of pages allocated outside it), now and at
// its highest.
func pageCacheStatus(op int32) (cur, hi int64) {
	tls := libc.NewTLS()
	defer tls.Close()
	sqlite3.Xsqlite3_status64(tls, op, uintptr(unsafe.Pointer(&statusCur)), uintptr(unsafe.Pointer(&statusHi)), 0)
	return statusCur, statusHi
}

// SQLite writes the counters here (globals, which never move).
var statusCur, statusHi int64

// The page caches take their pages from the pool driver_modernc.go sets up
// (a slot costs its page and header; a page allocated alone costs twice
// that): a store's writes fill pool slots, and while the pool has room no
// page is allocated outside it.
func TestPageCachePool(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	var lines []string
	for i := range 3000 {
		lines = append(lines, `{"type":"prompt","content":"`+strings.Repeat("word ", 40+i%7)+`"}`)
	}
	mustAppend(t, s, "acme", strings.Join(lines, "\n"))
	if err := s.WaitIndexed(context.Background(), "acme", s.Head("acme")); err != nil {
		t.Fatal(err)
	}
	used, _ := pageCacheStatus(sqlite3.SQLITE_STATUS_PAGECACHE_USED)
	overflow, _ := pageCacheStatus(sqlite3.SQLITE_STATUS_PAGECACHE_OVERFLOW)
	if used < 100 {
		t.Errorf("%d page cache pool slots in use after writing 3,000 events: the caches do not use the pool", used)
	}
	if overflow != 0 {
		t.Errorf("%d bytes of pages allocated outside a pool far from full (%d slots used)", overflow, used)
	}
}
