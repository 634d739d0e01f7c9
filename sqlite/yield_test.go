package sqlite

import (
	"testing"
	"time"
)

// TestIndexerYieldsOnlyToSaturation: the indexer pauses after a batch when
// the sequencer was committing for most of the time since the last one (a
// saturated ledger), for as long as the batch took and at most a second —
// and not merely because a request is queued while the ledger keeps up.
func TestIndexerYieldsOnlyToSaturation(t *testing.T) {
	s := &Store{queue: make(chan *appendReq, 1)}
	s.queue <- &appendReq{} // a request waiting for the sequencer
	ix := &indexer{s: s}
	took := 200 * time.Millisecond

	// The sequencer was idle for the last 100 ms: no pause, queue or not.
	ix.lastYield, ix.lastBusy = time.Now().Add(-100*time.Millisecond), 0
	if d := ix.pauseFor(took); d != 0 {
		t.Errorf("ledger idle, one request queued: paused %v, want 0", d)
	}

	// Committing 0.99 s of the last second: saturated, pause as long as
	// the batch. (A window of a second keeps the share above 80% however
	// slowly the test itself runs.)
	ix.lastYield, ix.lastBusy = time.Now().Add(-time.Second), 0
	s.busyNS.Store(int64(990 * time.Millisecond))
	if d := ix.pauseFor(took); d != took {
		t.Errorf("ledger saturated: paused %v, want %v", d, took)
	}

	// Half the time committing is not saturation.
	ix.lastYield, ix.lastBusy = time.Now().Add(-100*time.Millisecond), s.busyNS.Load()
	s.busyNS.Add(int64(50 * time.Millisecond))
	if d := ix.pauseFor(took); d != 0 {
		t.Errorf("ledger half busy: paused %v, want 0", d)
	}

	// A long batch under saturation pauses at most a second.
	ix.lastYield, ix.lastBusy = time.Now().Add(-time.Second), s.busyNS.Load()
	s.busyNS.Add(int64(990 * time.Millisecond))
	if d := ix.pauseFor(5 * time.Second); d != time.Second {
		t.Errorf("ledger saturated, 5 s batch: paused %v, want 1s", d)
	}
}
