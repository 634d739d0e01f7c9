package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/sqlite"
)

// benchClockSkew is the server's max_clock_skew during the run. The corpus
// back-fills 30 days in a few minutes; with the default of 24 h nearly every
// event would be marked attributes.clock_skew_ms, which live agents' events
// are not. Raising the setting keeps the stored events as they would be.
const benchClockSkew = 32 * 24 * time.Hour

// server is the real server, in-process, wired as cmd/clawtrail/serve.go
// wires it.
type server struct {
	dir     string
	store   *sqlite.Store
	api     *httpapi.Server
	http    *http.Server
	client  *httpapi.Client
	commits commitLog
	batches commitLog // the indexer's batches (seconds unused: time of each)
}

// commitLog records the store's commit hook: how long each group commit
// took and how many events it held (to see whether the single writer is
// the bound).
type commitLog struct {
	mu     sync.Mutex
	on     bool
	secs   []float64
	events []int
}

func (l *commitLog) add(sec float64, n int) {
	l.mu.Lock()
	if l.on {
		l.secs = append(l.secs, sec)
		l.events = append(l.events, n)
	}
	l.mu.Unlock()
}

// take starts (on) or stops recording and returns what was recorded.
func (l *commitLog) take(on bool) (secs []float64, events []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	secs, events = l.secs, l.events
	l.secs, l.events, l.on = nil, nil, on
	return
}

func startServer(ctx context.Context, dir string, encrypt bool) (*server, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := &server{dir: dir}
	metrics := httpapi.NewMetrics(nil)
	hooks := metrics.StoreHooks()
	var master *crypt.Key
	if encrypt {
		k := crypt.NewKey()
		master = &k
	}
	store, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, Logger: log, MasterKey: master, Metrics: sqlite.Metrics{
		CommitSeconds: func(sec float64, n int) {
			s.commits.add(sec, n)
			hooks.CommitSeconds(sec, n)
		},
		Indexed: func(n int) {
			s.batches.add(float64(time.Now().UnixNano())/1e9, n)
			hooks.Indexed(n)
		},
	}})
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	s.store = store
	_, token, err := store.CreateKey(ctx, clawtrail.APIKey{Tenant: "default", Role: clawtrail.RoleAdmin, Root: true, Name: "bench root"})
	if err != nil {
		store.Close()
		return nil, err
	}
	lim := ingest.DefaultLimits()
	lim.MaxClockSkew = benchClockSkew
	api := httpapi.New(httpapi.Config{Store: store, Logger: log, Limits: lim, Metrics: metrics})
	s.api = api
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return nil, err
	}
	s.http = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	s.http.RegisterOnShutdown(api.Close)
	go s.http.Serve(ln)
	s.client = &httpapi.Client{BaseURL: "http://" + ln.Addr().String(), Token: token,
		HTTP: &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true}}}
	return s, nil
}

// close drains HTTP and closes the store (which checkpoints the WAL files
// into the databases).
func (s *server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	return errors.Join(err, s.store.Close())
}

// diskUsage sums the files of the data directory, per database.
func (s *server) diskUsage() (ledger, index, total int64) {
	filepath.WalkDir(s.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		n := info.Size()
		total += n
		switch name := d.Name(); {
		case len(name) >= 9 && name[:9] == "ledger.db":
			ledger += n
		case len(name) >= 8 && name[:8] == "index.db":
			index += n
		}
		return nil
	})
	return
}

// ingestResult is the max-rate ingest phase.
type ingestResult struct {
	events, requests int
	bytes            int64
	elapsed          time.Duration
	latency          []time.Duration
	cpu              cpuSpan
	lagAtEnd         int64         // index lag (events) when the last ack came
	lagMax           int64         // the largest lag sampled during ingest
	catchUp          time.Duration // from the last ack until the index covered everything
	catchUpCPU       cpuSpan
	indexRate        float64 // events indexed per second, from first request to catch-up
	// The sequencer's group commits during the ingest.
	groups      int
	groupEvents float64 // mean events per group
	writerBusy  float64 // sum of commit times ÷ wall time
	commitLat   []time.Duration
}

func (r ingestResult) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

// ingestMax posts every batch as fast as the server acknowledges them, from
// `clients` concurrent clients, then waits for the index to catch up.
func (s *server) ingestMax(ctx context.Context, c *corpus, clients int, progress func(done int)) (ingestResult, error) {
	res := ingestResult{latency: make([]time.Duration, len(c.batches)), requests: len(c.batches)}
	var next, acked atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Sample the index lag while ingesting.
	lagMax := s.sampleLag(ctx, 100*time.Millisecond)
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				progress(int(acked.Load()))
			}
		}
	}()

	s.commits.take(true)
	cpu := startCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(c.batches) || ctx.Err() != nil {
					return
				}
				b := c.batches[i]
				t0 := time.Now()
				r, err := s.client.Ingest(ctx, b.body)
				res.latency[i] = time.Since(t0)
				if err == nil && r.Accepted != b.n {
					err = fmt.Errorf("batch %d: accepted %d of %d (duplicates %d)", i, r.Accepted, b.n, r.Duplicates)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				acked.Add(int64(r.Accepted))
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = cpu.stop()
	secs, evs := s.commits.take(false)
	defer close(stopProgress)
	var busy float64
	total := 0
	for i, sec := range secs {
		busy += sec
		total += evs[i]
		res.commitLat = append(res.commitLat, time.Duration(sec*float64(time.Second)))
	}
	res.groups = len(secs)
	if len(secs) > 0 {
		res.groupEvents = float64(total) / float64(len(secs))
	}
	res.writerBusy = busy / res.elapsed.Seconds()
	if firstErr != nil {
		return res, firstErr
	}
	res.lagAtEnd = s.store.IndexLag()
	res.events = int(acked.Load())
	res.bytes = c.bytes
	// Catch-up: poll until the index covers every committed event.
	cpu = startCPU()
	lastAck := time.Now()
	for s.store.IndexLag() > 0 {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	res.catchUp = time.Since(lastAck)
	res.catchUpCPU = cpu.stop()
	cancel()
	res.lagMax = max(lagMax(), res.lagAtEnd)
	res.indexRate = float64(res.events) / (res.elapsed + res.catchUp).Seconds()
	return res, nil
}

// pacedResult is the paced phase: a steady offered load, and for every
// acknowledged batch the time until the search index covered it.
type pacedResult struct {
	offeredRate float64
	duration    time.Duration
	events      int
	ackedRate   float64
	ackLatency  []time.Duration
	indexLag    []time.Duration // per batch: from its ack until Indexed covers its last seq
	lagEvents   int64           // the largest IndexLag() sampled
	late        int             // batches sent more than one interval behind schedule
	cpu         cpuSpan
	ixBatches   int             // index transactions during the phase
	ixMean      float64         // events per index transaction
	commitLat   []time.Duration // the sequencer's group commits during the phase
	groupEvents float64         // events per group commit
}

// paced offers the batches at a fixed interval, each from its own goroutine
// (an open loop: a slow answer does not slow the offered rate).
func (s *server) paced(ctx context.Context, batches []*batch, interval time.Duration) (pacedResult, error) {
	res := pacedResult{ackLatency: make([]time.Duration, len(batches)), indexLag: make([]time.Duration, len(batches))}
	perBatch := batches[0].n
	res.offeredRate = float64(perBatch) / interval.Seconds()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lagMax := s.sampleLag(ctx, 20*time.Millisecond)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var lastAck time.Time
	var events int
	s.batches.take(true)
	s.commits.take(true)
	cpu := startCPU()
	start := time.Now()
	for i, b := range batches {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else if -d > interval {
			res.late++
		}
		wg.Go(func() {
			t0 := time.Now()
			r, err := s.client.Ingest(ctx, b.body)
			ack := time.Now()
			if err == nil && (r.Accepted != b.n || r.LastSeq == nil) {
				err = fmt.Errorf("paced batch %d: accepted %d of %d", i, r.Accepted, b.n)
			}
			if err == nil {
				wctx, wcancel := context.WithTimeout(ctx, 10*time.Minute)
				err = s.store.WaitIndexed(wctx, b.tenant, *r.LastSeq)
				wcancel()
			}
			lag := time.Since(ack)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			res.ackLatency[i] = ack.Sub(t0)
			res.indexLag[i] = lag
			events += r.Accepted
			if ack.After(lastAck) {
				lastAck = ack
			}
		})
	}
	wg.Wait()
	res.cpu = cpu.stop()
	_, sizes := s.batches.take(false)
	secs, evs := s.commits.take(false)
	total := 0
	for i, sec := range secs {
		total += evs[i]
		res.commitLat = append(res.commitLat, time.Duration(sec*float64(time.Second)))
	}
	if len(secs) > 0 {
		res.groupEvents = float64(total) / float64(len(secs))
	}
	res.ixBatches = len(sizes)
	for _, n := range sizes {
		res.ixMean += float64(n)
	}
	if len(sizes) > 0 {
		res.ixMean /= float64(len(sizes))
	}
	cancel()
	res.lagEvents = lagMax()
	if firstErr != nil {
		return res, firstErr
	}
	res.events = events
	res.duration = lastAck.Sub(start)
	res.ackedRate = float64(events) / res.duration.Seconds()
	return res, nil
}

// sorted returns a sorted copy.
func sorted(d []time.Duration) []time.Duration {
	out := slices.Clone(d)
	slices.Sort(out)
	return out
}

// pct returns the nearest-rank percentile p (0..100) of sorted durations.
func pct(sortedD []time.Duration, p float64) time.Duration {
	if len(sortedD) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sortedD))*p/100)) - 1
	return sortedD[max(0, min(i, len(sortedD)-1))]
}

// sampleLag samples the store's index lag every interval until ctx ends;
// the function it returns waits for that end and gives the largest sample.
func (s *server) sampleLag(ctx context.Context, every time.Duration) func() int64 {
	done := make(chan struct{})
	var largest int64
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				largest = max(largest, s.store.IndexLag())
			}
		}
	}()
	return func() int64 {
		<-done
		return largest
	}
}
