// Command bench measures clawtrail end to end on this machine and prints a
// markdown report: ingest of synthetic agent events over HTTP (NDJSON
// batches from concurrent clients, acknowledged only once fsync'd), the
// search index's lag behind the ledger, search latencies over the full
// corpus, and, in the same run on the same bytes, two baselines: appending
// the lines to a file (fsync per 1,000) and appending them to a bare SQLite
// table (1,000 rows per transaction, synchronous=FULL).
//
//	go run ./bench                 # 1 M events (several minutes)
//	go run ./bench -quick          # 50 k events, for CI (well under 2 minutes)
//	go run ./bench -out docs/benchmark-run.md -cpuprofile ingest.pprof
//
// The server is the real one (sqlite.Open + httpapi.New + net/http on
// 127.0.0.1), driven over real HTTP; see docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/clawtrail/clawtrail/sqlite"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"
)

type options struct {
	events     int
	clients    int
	batch      int
	dir        string
	quick      bool
	out        string
	cpuprofile string
	pacedProf  string
	trace      string
	seed       uint64
	reps       int
	paced      time.Duration
	pacedRates []int
	ids        string
	encrypt    bool
	soak       time.Duration
	soakRate   float64
	soakPeak   time.Duration
	soakEvery  time.Duration
	tags       string
}

func main() {
	var o options
	flag.IntVar(&o.events, "events", 1_000_000, "events to ingest at full speed (-quick: 50,000)")
	flag.IntVar(&o.clients, "clients", 4, "concurrent HTTP clients")
	flag.IntVar(&o.batch, "batch", 1000, "events per NDJSON request")
	flag.StringVar(&o.dir, "dir", "", "working directory (default: a temporary directory, removed afterwards)")
	flag.BoolVar(&o.quick, "quick", false, "short form for CI: 50,000 events, 10 query repetitions, 5 s paced phase")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the full-speed ingest and index catch-up (or of -reindex; or, with -soak, of the server over the soak's middle half, from its --debug-listen profiler) to this file")
	flag.StringVar(&o.pacedProf, "cpuprofile-paced", "", "write a CPU profile of the paced phases to this file")
	flag.StringVar(&o.trace, "trace", "", "write a Go execution trace of the full-speed ingest to this file (large; use with small -events)")
	flag.Uint64Var(&o.seed, "seed", 42, "seed of the synthetic corpus")
	flag.IntVar(&o.reps, "reps", 50, "repetitions of each query (-quick: 10)")
	flag.StringVar(&o.ids, "ids", "ulid", "client event ids: ulid (time-ordered, as the SDK makes them) or random (UUIDv4)")
	flag.DurationVar(&o.paced, "paced", 20*time.Second, "duration of each paced phase (-quick: 5s)")
	rates := flag.String("paced-rates", "5000,10000,20000", "events/s offered in the paced phases (requests of 100), comma-separated")
	flag.BoolVar(&o.encrypt, "encrypt", false, "encryption at rest on (a random master key): bodies sealed, blind index")
	flag.DurationVar(&o.soak, "soak", 0, "soak mode instead of the benchmark: run the clawtrail binary this long at half its peak (e.g. 10m)")
	flag.Float64Var(&o.soakRate, "soak-rate", 0, "soak: events/s offered (default: half of the peak measured first)")
	flag.DurationVar(&o.soakPeak, "soak-peak", 20*time.Second, "soak: length of the full-speed phase that finds the peak")
	flag.DurationVar(&o.soakEvery, "soak-every", 5*time.Second, "soak: sampling interval")
	flag.StringVar(&o.tags, "tags", "", `soak: build tags of the clawtrail binary (e.g. "sqlite_cgo sqlite_fts5": the cgo SQLite driver)`)
	reindexDir := flag.String("reindex", "", "reindex mode instead of the benchmark: delete the search index of this data directory (e.g. DIR/clawtrail-data of a run kept with -dir) and time its rebuild from the ledger")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["events"] {
			o.events = 50_000
		}
		if !set["reps"] {
			o.reps = 10
		}
		if !set["paced"] {
			o.paced = 5 * time.Second
		}
	}
	for _, f := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 100 || n > 1_000_000 {
			fmt.Fprintf(os.Stderr, "bench: -paced-rates: %q is not a rate between 100 and 1,000,000 events/s\n", f)
			os.Exit(2)
		}
		o.pacedRates = append(o.pacedRates, n)
	}
	if o.ids != "ulid" && o.ids != "random" {
		fmt.Fprintln(os.Stderr, "bench: -ids must be ulid or random")
		os.Exit(2)
	}
	if o.events < 1 || o.clients < 1 || o.batch < 1 || o.reps < 1 || o.paced < time.Second {
		fmt.Fprintln(os.Stderr, "bench: -events, -clients, -batch and -reps must be positive, -paced at least 1s")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *reindexDir != "" {
		stopProfile, err := startCPUProfile(o.cpuprofile)
		if err == nil {
			err = reindex(ctx, *reindexDir, 10*time.Second)
			stopProfile()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if o.soak > 0 {
		if o.soakEvery <= 0 || o.soakEvery > o.soak/4 {
			fmt.Fprintln(os.Stderr, "bench: -soak-every must be positive and at most a quarter of -soak")
			os.Exit(2)
		}
		res, err := soak(ctx, o)
		if res != nil {
			md := res.markdown(describeMachine(os.TempDir()))
			fmt.Print(md)
			if o.out != "" {
				os.WriteFile(o.out, []byte(md), 0o644)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var t0 = time.Now()

func progressf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
}

// Paced phases: requests of 100 events, at an interval that gives the rate.
const pacedBatch = 100

func pacedInterval(rate int) time.Duration {
	return time.Duration(float64(time.Second) * pacedBatch / float64(rate))
}

func run(ctx context.Context, o options) error {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "clawtrail-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			return fmt.Errorf("-dir %s is not empty", dir)
		}
	}
	mach := describeMachine(dir)
	progressf("machine: %s, %d cores, %s, %s; working in %s (%s); SQLite driver %s", mach.cpu, mach.cores, mach.goVer, mach.memTotal, dir, mach.fs, sqlite.Driver)

	// The corpus: 30 days of timestamps ending now.
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-30 * 24 * time.Hour)
	day0 := start.Truncate(24 * time.Hour)
	gopt := genOptions{events: o.events, batch: o.batch, start: start, end: end,
		fieldFrom: day0.Add(20 * 24 * time.Hour), fieldTo: day0.Add(27 * 24 * time.Hour),
		dayFrom: day0.Add(15 * 24 * time.Hour), randomIDs: o.ids == "random"}
	progressf("generating %d events (seed %d) ...", o.events, o.seed)
	gt := time.Now()
	c := newGenerator(o.seed).generate(gopt)
	var pacedCorpora []*corpus
	pacedEvents := 0
	for i, rate := range o.pacedRates {
		n := int(o.paced/pacedInterval(rate)) * pacedBatch
		pc := newGenerator(o.seed + 1000 + uint64(i)).generate(genOptions{events: n, batch: pacedBatch,
			start: end, end: end.Add(o.paced), onlyDefault: true, randomIDs: o.ids == "random"})
		pacedCorpora = append(pacedCorpora, pc)
		pacedEvents += pc.events
	}
	progressf("generated %d events, %.0f MB, %d B/event avg, %d requests, in %.1fs (+%d paced events in requests of %d)",
		c.events, float64(c.bytes)/1e6, c.bytes/int64(c.events), len(c.batches), time.Since(gt).Seconds(), pacedEvents, pacedBatch)
	runtime.GC()

	rep := &report{o: o, mach: mach, c: c, gopt: gopt}

	// Baselines first, on the same bytes, files deleted afterwards.
	progressf("baseline: raw file append, fsync per 1,000 lines ...")
	raw, err := rawBaseline(dir, c, singlePosts(o))
	if err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	rep.raw = raw
	progressf("raw: %s events/s, %.0f MB/s", num(raw.rate()), float64(raw.bytes)/1e6/raw.elapsed.Seconds())
	progressf("baseline: bare SQLite append, 1,000 rows per transaction, synchronous=FULL ...")
	bare, err := sqliteBaseline(ctx, dir, c)
	if err != nil {
		return err
	}
	rep.bare = bare
	progressf("bare SQLite: %s events/s", num(bare.rate()))

	// The baselines were the last users of the per-line metadata; the
	// bodies go outside the Go heap so that the server's memory and garbage
	// collection are its own.
	mapped, err := moveOffHeap(append([]*corpus{c}, pacedCorpora...)...)
	if err != nil {
		return fmt.Errorf("move the corpus off the Go heap: %w", err)
	}
	rep.corpusMapped = int64(mapped)

	// clawtrail.
	dataDir := filepath.Join(dir, "clawtrail-data")
	srv, err := startServer(ctx, dataDir, o.encrypt)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			srv.close()
		}
	}()
	rep.rssReset = resetPeakRSS()
	mem := startMemSampler(250 * time.Millisecond)
	stopProfile, err := startCPUProfile(o.cpuprofile)
	if err != nil {
		return err
	}
	if o.trace != "" {
		f, err := os.Create(o.trace)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
	}
	progressf("clawtrail: ingesting %d events over HTTP, %d clients, %d per request ...", c.events, o.clients, o.batch)
	ing, err := srv.ingestMax(ctx, c, o.clients, func(done int) {
		if done < c.events {
			progressf("  %d acked (%.0f%%), index lag %d", done, 100*float64(done)/float64(c.events), srv.store.IndexLag())
		} else {
			progressf("  all acked; index catching up, lag %d", srv.store.IndexLag())
		}
	})
	stopProfile()
	if o.trace != "" {
		trace.Stop()
	}
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	rep.ingest = ing
	progressf("clawtrail: %s acked events/s; ack p50 %s p99 %s; index lag at end %d, caught up %.1fs after the last ack; other processes used %.2f cores",
		num(ing.rate()), ms(pct(sorted(ing.latency), 50)), ms(pct(sorted(ing.latency), 99)), ing.lagAtEnd, ing.catchUp.Seconds(), ing.cpu.others())

	rep.pacedEvents = 0
	stopProfile, err = startCPUProfile(o.pacedProf)
	if err != nil {
		return err
	}
	for i, rate := range o.pacedRates {
		progressf("paced: %s events/s offered for %s (requests of %d every %s) ...", num(rate), o.paced, pacedBatch, pacedInterval(rate))
		pr, err := srv.paced(ctx, pacedCorpora[i].batches, pacedInterval(rate))
		if err != nil {
			return fmt.Errorf("paced at %d/s: %w", rate, err)
		}
		rep.paced = append(rep.paced, pr)
		rep.pacedEvents += pr.events
		progressf("paced: acked %s events/s; ack p50 %s p99 %s; index lag p50 %s p99 %s", num(pr.ackedRate),
			ms(pct(sorted(pr.ackLatency), 50)), ms(pct(sorted(pr.ackLatency), 99)), ms(pct(sorted(pr.indexLag), 50)), ms(pct(sorted(pr.indexLag), 99)))
		for srv.store.IndexLag() > 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	stopProfile()

	progressf("single events: %d POSTs of one event each, one after another ...", singlePosts(o))
	rep.single, err = srv.singles(ctx, singlePosts(o))
	if err != nil {
		return fmt.Errorf("single events: %w", err)
	}
	for srv.store.IndexLag() > 0 {
		time.Sleep(10 * time.Millisecond)
	}

	progressf("search: %d repetitions per query over %d events ...", o.reps, c.events+rep.pacedEvents)
	scpu := startCPU()
	qs, err := srv.searches(ctx, c, gopt, o.reps)
	rep.searchCPU = scpu.stop()
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	rep.queries = qs
	progressf("export: about 100,000 events of one window, %d runs ...", min(o.reps, 10))
	rep.export, err = srv.export(ctx, c, gopt, 100_000, min(o.reps, 10))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	progressf("  export of %d events: p50 %s", rep.export.events, ms(pct(sorted(rep.export.lat), 50)))
	for _, q := range qs {
		progressf("  %s: p50 %s p99 %s (%d hits)", q.name, ms(pct(sorted(q.lat), 50)), ms(pct(sorted(q.lat), 99)), q.hits)
	}
	rep.peakRSS = peakRSS()
	rep.mem = mem.finish()

	progressf("closing the server (WAL checkpoint) and measuring the data directory ...")
	closed = true
	if err := srv.close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	rep.diskLedger, rep.diskIndex, rep.diskTotal = srv.diskUsage()
	rep.storedEvents = c.events + rep.pacedEvents + len(rep.single.lat)

	progressf("verify --data: every body commitment, leaf, tree node, checkpoint, tile and the index ...")
	vcpu := startCPU()
	vt := time.Now()
	vreps, err := sqlite.VerifyDir(ctx, dataDir, sqlite.VerifyOptions{})
	rep.verifyTime, rep.verifyCPU = time.Since(vt), vcpu.stop()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for _, vr := range vreps {
		rep.verifyEvents += vr.Events
		if !vr.OK() {
			return fmt.Errorf("verify found problems in an untouched ledger: %+v", vr.Findings)
		}
	}
	progressf("verify: %s events in %.2fs = %s events/s, clean", num(rep.verifyEvents), rep.verifyTime.Seconds(), num(float64(rep.verifyEvents)/rep.verifyTime.Seconds()))

	md := rep.markdown()
	fmt.Print(md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return err
		}
		progressf("wrote %s", o.out)
	}
	return nil
}

// startCPUProfile starts a CPU profile written to path (nothing when path
// is empty); stop ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
