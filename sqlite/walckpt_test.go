package sqlite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The ledger's WAL reaches ledger.db through the checkpointer while the
// store runs: the writer's own threshold (ckptBackstop, 64 MiB) is far
// above what this test writes, so without the checkpointer ledger.db would
// stay at the size it had before the appends until the store closes.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	ledgerDB := filepath.Join(dir, "ledger.db")
	before := fileSize(t, ledgerDB)
	for range 12 {
		var b strings.Builder
		for range 200 {
			fmt.Fprintf(&b, `{"type":"prompt","content":"`)
			for range 250 {
				fmt.Fprintf(&b, "%x ", rand.Uint64()) // random: compressible text would shrink in packs
			}
			b.WriteString("\"}\n")
		}
		mustAppend(t, s, "acme", b.String())
	}
	// ~10 MB committed (random hex: S2, which has no entropy coder, barely
	// shrinks it): under the writer's own threshold (ckptBackstop,
	// 64 MiB), so only the checkpointer can have copied it (it may have
	// done so while the appends ran).
	deadline := time.Now().Add(5 * time.Second)
	for fileSize(t, ledgerDB) < before+3<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("ledger.db grew from %d to %d bytes in 5 s (WAL %d bytes): the WAL was not checkpointed while the store runs",
				before, fileSize(t, ledgerDB), fileSize(t, ledgerDB+"-wal"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
