package sqlite

import (
	"database/sql"
	"log/slog"
	"time"
)

// checkpointer copies a database's WAL back into the database file from
// its own connection, off the writer's path. The writers run with
// wal_autocheckpoint=0: otherwise SQLite checkpoints inside the commit
// that crosses the threshold, and every acknowledgement waiting on that
// commit pays for it (about a seventh of the sequencer's CPU, measured).
// PASSIVE never blocks the writer or readers; SQLite restarts the WAL from
// its beginning once it is wholly copied and no reader needs it.
type checkpointer struct {
	db   *sql.DB
	log  *slog.Logger
	name string
	stop chan struct{}
	done chan struct{}
}

// checkpointEvery is how often the WAL is copied back.
const checkpointEvery = 250 * time.Millisecond

func startCheckpointer(path, name string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout(10000)"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, log: log, name: name, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if _, err := c.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				c.log.Warn("wal checkpoint", "db", c.name, "err", err)
			}
		}
	}
}

// close stops the checkpointer after a last, complete checkpoint.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	c.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return c.db.Close()
}
