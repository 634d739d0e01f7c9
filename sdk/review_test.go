package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A durable Log returns only once its event is fsync'd, even when the
// writer's tick wrote it (without fsync) first.
func TestDurableLogWaitsForTheFsyncEvenIfTheWriterWroteIt(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.Durable, cfg.FlushInterval = true, time.Hour
	c := newClient(t, cfg)
	q := c.own.q.(*fileQueue)
	c.wmu.Lock() // the writer's turn comes first
	done := make(chan error, 1)
	go func() { done <- c.Log(context.Background(), Event{Type: "approval", Decision: "approved"}) }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.mu.Lock()
		n := len(c.pend)
		c.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Log did not queue its event")
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.writeOnce(false); err != nil { // a non-durable round: written, not synced
		t.Fatal(err)
	}
	c.wmu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, end := q.bounds(); q.syncedEnd.Load() != end {
		t.Fatalf("durable Log returned with the spool synced to %d of %d", q.syncedEnd.Load(), end)
	}
}

// A spool smaller than a burst: nothing stalls, nothing vanishes; every
// event Log took is delivered or counted as dropped, and none twice.
func TestSmallSpoolNeitherStallsNorLosesSilently(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.MaxSpoolBytes = 8 << 10
	cfg.FlushInterval = 50 * time.Millisecond
	c := newClient(t, cfg)
	taken := 0
	for i := range 200 {
		err := c.Log(context.Background(), Event{Type: "prompt", SessionID: "small", Content: fmt.Sprintf("small-%d %s", i, strings.Repeat("s", 100))})
		if err == nil {
			taken++
		} else if !errors.Is(err, ErrDropped) {
			t.Fatal(err)
		}
	}
	flush(t, c)
	st := c.Stats()
	if st.Pending != 0 || st.Sent+st.Dropped != st.Logged || st.Duplicates != 0 || st.Sent != int64(taken) {
		t.Fatalf("stats %+v, %d taken by Log", st, taken)
	}
	if got := len(ts.Ledger("acme")); got != taken {
		t.Fatalf("%d in the ledger, %d taken", got, taken)
	}
	// And after: the spool has room again.
	if err := c.Log(context.Background(), Event{Type: "prompt", Content: "after"}); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
}

// With the server down and a small spool, Close leaves every event Log
// took either in the spool or counted as dropped.
func TestSmallSpoolServerDownAccountsForEveryEvent(t *testing.T) {
	ts := NewTestServer(t)
	ts.Stop()
	spool := t.TempDir()
	cfg := fastConfig(t, ts, spool)
	cfg.MaxSpoolBytes = 8 << 10
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		c.Log(context.Background(), Event{Type: "prompt", Content: fmt.Sprintf("down-%d %s", i, strings.Repeat("d", 100))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	c.Close(ctx)
	cancel()
	st := c.Stats()
	c2, err := New(fastConfig(t, ts, spool))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		c2.Close(ctx) // the server is down: leave them in the spool
	}()
	if rec := c2.Stats().Recovered; rec != st.Pending || rec+st.Dropped != st.Logged || rec == 0 {
		t.Fatalf("first client %+v; the spool holds %d", st, rec)
	}
}

// One event bigger than MaxBuffer goes through (no spinning in Log).
func TestEventBiggerThanMaxBuffer(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.MaxBuffer = 4096
	c := newClient(t, cfg)
	done := make(chan error, 1)
	go func() {
		done <- c.Log(context.Background(), Event{Type: "prompt", SessionID: "big", Content: strings.Repeat("b", 10000)})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Log did not return")
	}
	flush(t, c)
	if c.Stats().Sent != 1 {
		t.Fatalf("stats %+v", c.Stats())
	}
}

// A Flush waiting when Close stops the client returns an error; it does
// not hang, and it does not report success.
func TestFlushDuringClose(t *testing.T) {
	ts := NewTestServer(t)
	ts.Stop()
	c, err := New(fastConfig(t, ts, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	logMany(t, c, "fc", 10, nil)
	res := make(chan error, 1)
	go func() { res <- c.Flush(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	c.Close(ctx)
	cancel()
	select {
	case err := <-res:
		if err == nil || !strings.Contains(err.Error(), "closed with 10 events not yet delivered") {
			t.Fatalf("Flush during Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Flush hangs after Close")
	}
}
