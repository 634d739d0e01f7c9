package sqlite

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// The indexer lets waiting goroutines run as it works (giveWay): in its
// feed's decoding, its ev rows and its full-text rows, every yieldEvery
// events — without it, a request waits up to a 10 ms time slice at each
// step while the indexer is behind (docs/benchmarks.md, "Twelfth pass").
func TestIndexerGivesWay(t *testing.T) {
	var calls atomic.Int64
	defer func(g func()) { gosched = g }(gosched)
	gosched = func() { calls.Add(1); runtime.Gosched() }
	s := openStore(t, t.TempDir())
	defer s.Close()
	const n = 3200
	lines := make([]string, n)
	for i := range lines {
		lines[i] = `{"type":"prompt","content":"give way ` + strings.Repeat("x", i%13) + `"}`
	}
	mustAppend(t, s, "acme", strings.Join(lines, "\n"))
	if err := s.WaitIndexed(context.Background(), "acme", s.Head("acme")-1); err != nil {
		t.Fatal(err)
	}
	// Three loops over every event, each yielding once per yieldEvery
	// (less what the chunks' and batches' ends round off).
	if got, want := calls.Load(), int64(3*n/yieldEvery*9/10); got < want {
		t.Errorf("the indexer yielded %d times over %d events, want at least %d", got, n, want)
	}
}
