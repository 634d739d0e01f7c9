package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// baselineResult is one baseline's throughput.
type baselineResult struct {
	events  int
	elapsed time.Duration
	bytes   int64 // on disk afterwards
	cpu     cpuSpan
	single  []time.Duration // raw only: one line written and fsync'd, alone
}

func (r baselineResult) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

// rawBaseline appends every NDJSON line of the corpus to a file through a
// 4 MiB buffer, flushing and fsyncing every 1,000 lines: the floor any
// durable append-only log pays. Then it writes and fsyncs one line alone,
// singles times: the floor of a single event's acknowledgement.
func rawBaseline(dir string, c *corpus, singles int) (baselineResult, error) {
	path := filepath.Join(dir, "raw-baseline.ndjson")
	defer os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		return baselineResult{}, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	cpu := startCPU()
	start := time.Now()
	n := 0
	var werr error
	for _, b := range c.batches {
		b.lines(func(_ int, line []byte) {
			if werr != nil {
				return
			}
			if _, err := w.Write(line); err != nil {
				werr = err
				return
			}
			n++
			if n%1000 == 0 {
				if err := w.Flush(); err != nil {
					werr = err
					return
				}
				werr = f.Sync()
			}
		})
		if werr != nil {
			return baselineResult{}, werr
		}
	}
	if err := w.Flush(); err != nil {
		return baselineResult{}, err
	}
	if err := f.Sync(); err != nil {
		return baselineResult{}, err
	}
	elapsed := time.Since(start)
	res := baselineResult{events: n, elapsed: elapsed, cpu: cpu.stop()}
	if st, err := f.Stat(); err == nil {
		res.bytes = st.Size()
	}
	// The floor of one event acknowledged alone: one line written and
	// fsync'd, one after another.
	var line []byte
	c.batches[0].lines(func(i int, l []byte) {
		if i == 0 {
			line = l
		}
	})
	for range singles {
		t0 := time.Now()
		if _, err := f.Write(line); err != nil {
			return res, err
		}
		if err := f.Sync(); err != nil {
			return res, err
		}
		res.single = append(res.single, time.Since(t0))
	}
	return res, nil
}

// sqliteBaseline appends the same rows to a bare SQLite table (the store's
// driver, registered by package sqlite; WAL,
// synchronous=FULL), 1,000 rows per transaction, one writer: SQLite with no
// index but its rowid, no idempotency check, no hashing, no search index.
func sqliteBaseline(ctx context.Context, dir string, c *corpus) (baselineResult, error) {
	path := filepath.Join(dir, "sqlite-baseline.db")
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return baselineResult{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE ev(seq INTEGER PRIMARY KEY, id TEXT, ts INTEGER, tenant TEXT, type TEXT, body BLOB)`); err != nil {
		return baselineResult{}, err
	}
	ins, err := db.PrepareContext(ctx, `INSERT INTO ev(seq, id, ts, tenant, type, body) VALUES (?,?,?,?,?,?)`)
	if err != nil {
		return baselineResult{}, err
	}
	defer ins.Close()
	cpu := startCPU()
	start := time.Now()
	var tx *sql.Tx
	var st *sql.Stmt
	seq := int64(0)
	var ierr error
	commit := func() error {
		if tx == nil {
			return nil
		}
		st.Close()
		err := tx.Commit()
		tx, st = nil, nil
		return err
	}
	for _, b := range c.batches {
		b.lines(func(i int, line []byte) {
			if ierr != nil {
				return
			}
			if tx == nil {
				if tx, ierr = db.BeginTx(ctx, nil); ierr != nil {
					return
				}
				st = tx.StmtContext(ctx, ins)
			}
			m := b.meta[i]
			if _, ierr = st.ExecContext(ctx, seq, m.id, m.ts, tenants[m.tenant].name, eventTypes[m.typ].name, line[:len(line)-1]); ierr != nil {
				return
			}
			seq++
			if seq%1000 == 0 {
				ierr = commit()
			}
		})
		if ierr != nil {
			return baselineResult{}, fmt.Errorf("sqlite baseline: %w", ierr)
		}
	}
	if err := commit(); err != nil {
		return baselineResult{}, err
	}
	elapsed := time.Since(start)
	res := baselineResult{events: int(seq), elapsed: elapsed, cpu: cpu.stop()}
	res.bytes = fileSizes(path, path+"-wal")
	return res, nil
}

// fileSizes sums the sizes of the files that exist.
func fileSizes(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}
