package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// The ledger's write-ahead log is copied back into ledger.db by a goroutine
// of its own (a checkpointer) instead of by the commit that crosses
// SQLite's threshold (wal_autocheckpoint, 1,000 pages by default). A
// checkpoint writes the WAL's pages into the database file and fsyncs it;
// done inside the sequencer's commit, it held up every request of that group
// and of the groups queued behind it. A PASSIVE checkpoint on another
// connection takes no lock the writer needs: the writer keeps appending to
// the WAL while it runs, and SQLite starts the WAL over at the next write
// once a checkpoint has copied all of it. Measured (docs/benchmarks.md,
// "Fourth pass"): acked 35k → 39–41k events/s at 1 M events (one run before,
// three after), no difference at 300k; the ack p99 under paced load moves
// less than it varies between runs.
//
// index.db keeps SQLite's own checkpoints in the indexer's commits: a
// checkpointer for it too was measured once and looked worse for acks.

const (
	// ckptEvery: how often a checkpointer runs, when something was
	// committed since the last time.
	ckptEvery = 100 * time.Millisecond
	// ckptBackstop: the writer still checkpoints by itself once the WAL
	// holds this many pages (64 MiB of 4 KiB pages), should the
	// checkpointer fall behind.
	ckptBackstop = 16384
)

// backstopPragma is the ledger writer's wal_autocheckpoint.
var backstopPragma = "wal_autocheckpoint(" + strconv.Itoa(ckptBackstop) + ")"

// checkpointer checkpoints a database's WAL every ckptEvery while its
// writer commits (the writer calls committed after each commit).
type checkpointer struct {
	db    *sql.DB // one connection of its own
	what  string  // the file, for the log
	log   *slog.Logger
	dirty atomic.Bool
	stop  chan struct{}
	done  chan struct{}
}

func openCheckpointer(path string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "busy_timeout(10000)", "cache_size(-2048)"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &checkpointer{db: db, what: path, log: log, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// committed tells the checkpointer that the WAL grew.
func (c *checkpointer) committed() { c.dirty.Store(true) }

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(ckptEvery)
	defer t.Stop()
	var failing bool
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if !c.dirty.Swap(false) {
			continue
		}
		_, err := c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		// One line when checkpoints start failing and one when they work
		// again (the backstop keeps the WAL bounded meanwhile).
		if err != nil && !failing {
			c.log.Warn("checkpoint failed; the writer checkpoints by itself meanwhile", "file", c.what, "err", err)
		} else if err == nil && failing {
			c.log.Info("checkpoints work again", "file", c.what)
		}
		failing = err != nil
	}
}

// halt stops the loop started with go c.run() (its connection stays open).
func (c *checkpointer) halt() {
	close(c.stop)
	<-c.done
}
