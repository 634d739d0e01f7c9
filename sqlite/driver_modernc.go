//go:build !sqlite_cgo

package sqlite

import (
	"fmt"
	"unsafe"

	"modernc.org/libc"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Driver names the SQLite driver this binary was built with.
const Driver = "modernc.org/sqlite (pure Go)"

// BuildTags are the build tags that select this driver (tests that build
// the clawtrail binary build it with the same driver).
const BuildTags = ""

// pageCachePool is the memory SQLite's page caches take their pages from
// first (SQLITE_CONFIG_PAGECACHE with a buffer: one pool of slots of a
// page and its header, shared by every connection of the process; a page
// of another size than 4 KiB, or one SQLite cannot place in the pool, is
// allocated alone as before). The pure-Go driver's allocator
// (modernc.org/memory) rounds every allocation up to a power of two, so a
// page — 4 KiB and SQLite's 272-byte header (SQLITE_CONFIG_PCACHE_HDRSZ) —
// allocated alone takes an 8 KiB slot: a connection's cache cost twice
// its cache_size, the largest part of the server's memory
// (docs/benchmarks.md, "Eleventh pass"). A slot of the pool costs what it
// holds. The pool is resident from the start (SQLite threads its free list
// through every slot): sized for the writers' caches (ledger 16 MB, index
// 32 MB, feed 8 MB), just under 64 MiB so that it fits one 64 MiB mapping.
const pageCachePool = 64<<20 - 64<<10

// pageHeaderSize is what SQLite adds to a page in its cache
// (SQLITE_CONFIG_PCACHE_HDRSZ writes it here: a global, which never moves).
var pageHeaderSize int32

// SQLite reads its configuration once, when the first connection opens;
// the driver opens none at init.
func init() {
	tls := libc.NewTLS()
	defer tls.Close()
	config := func(op int32, args ...any) {
		va := libc.NewVaList(args...)
		defer libc.Xfree(tls, va)
		if rc := sqlite3.Xsqlite3_config(tls, op, va); rc != sqlite3.SQLITE_OK {
			panic(fmt.Sprintf("sqlite: sqlite3_config(%d): error %d", op, rc))
		}
	}
	config(sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, uintptr(unsafe.Pointer(&pageHeaderSize)))
	slot := (4096 + int(pageHeaderSize) + 7) &^ 7 // SQLite's default page size, which every database here has
	n := pageCachePool / slot
	pool := libc.Xmalloc(tls, libc.Tsize_t(slot*n)) // never freed: SQLite holds it for the process
	if pool == 0 {
		panic("sqlite: no memory for the page cache pool")
	}
	config(sqlite3.SQLITE_CONFIG_PAGECACHE, pool, int32(slot), int32(n))
}
