package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/clawtrail/clawtrail/sqlite"
)

// reindex times the indexer alone: it deletes the search index of data
// directory dir (derived data; the server must be stopped — the store's
// lock says so otherwise) and rebuilds it from the ledger, printing the
// rate every interval and the total. A directory kept with -dir after a
// run (DIR/clawtrail-data) gives the bench corpus; encrypted directories
// (-encrypt: a random key, gone with the run) do not open.
func reindex(ctx context.Context, dir string, every time.Duration) error {
	if _, err := os.Stat(filepath.Join(dir, "ledger.db")); err != nil {
		return fmt.Errorf("-reindex %s: no ledger there: %w", dir, err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(dir, "index.db"+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	start := time.Now()
	cfg := sqlite.Config{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := sqlite.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	total := s.IndexLag()
	cpu := startCPU()
	fmt.Printf("| elapsed | indexed | events/s in the interval |\n| ---: | ---: | ---: |\n")
	// Poll often so the total is exact; print a row every interval.
	last, lastT := total, time.Now()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for lag := total; lag > 0; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
		}
		lag = s.IndexLag()
		if now := time.Now(); now.Sub(lastT) >= every || lag == 0 {
			fmt.Printf("| %.0f s | %s | %s |\n", now.Sub(start).Seconds(), num(int(total-lag)), num(int(float64(last-lag)/now.Sub(lastT).Seconds())))
			last, lastT = lag, now
		}
	}
	took := time.Since(start)
	span := cpu.stop()
	fmt.Printf("\nrebuilt the index of %s events in %.1f s: %s events/s; this process %.2f cores; %s\n",
		num(int(total)), took.Seconds(), num(int(float64(total)/took.Seconds())), span.cores(), machineNote(span))
	return nil
}
