package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail/sqlite"
)

// Targets (issue 8's, for this 2-core machine). Query targets apply to p99.
const (
	targetIngestRate  = 100_000
	targetRawShare    = 0.15 // of the raw baseline
	targetBareShare   = 0.75 // of the bare SQLite baseline
	targetAckP99      = 10 * time.Millisecond
	targetAckAtRate   = 20_000 // offered, for targetAckP99
	targetLagP99      = time.Second
	targetLagAtRate   = 10_000 // offered, for targetLagP99
	targetIndexedRate = 20_000 // sustained fully indexed
	targetField       = 20 * time.Millisecond
	targetFullText    = 100 * time.Millisecond
	targetTimeline    = 10 * time.Millisecond
	targetCountByType = 100 * time.Millisecond
	targetExportRate  = 200_000
	targetVerifyRate  = 200_000
	targetDiskPerJSON = 1.5
)

type report struct {
	o    options
	mach machine
	c    *corpus
	gopt genOptions

	raw, bare   baselineResult
	ingest      ingestResult
	paced       []pacedResult
	pacedEvents int
	single      singleResult
	export      exportResult
	queries     []queryResult

	searchCPU    cpuSpan
	rssReset     bool
	corpusMapped int64 // the request bodies, mapped outside the Go heap
	mem          memSample
	peakRSS      int64
	diskLedger   int64
	diskIndex    int64
	diskTotal    int64
	storedEvents int
	verifyEvents int64
	verifyTime   time.Duration
	verifyCPU    cpuSpan
}

// num formats a number with thousands separators.
func num[T int | int64 | float64](v T) string {
	n := int64(math.Round(float64(v)))
	s := strconv.FormatInt(max(n, -n), 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// ms formats a duration in milliseconds with sensible precision.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 1000:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%s ms", num(v))
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

func verdict(ok bool) string {
	if ok {
		return "**PASS**"
	}
	return "**MISS**"
}

func (r *report) markdown() string {
	var b strings.Builder
	row := func(cells ...string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	section := func(title string) { row("**"+title+"**", "", "", "") }
	c := r.c
	mode := "full"
	if r.o.quick {
		mode = "quick (-quick: CI form, not the reference figures)"
	}

	fmt.Fprintf(&b, "## clawtrail benchmark (%s)\n\n", mode)
	row("machine", "")
	row("---", "---")
	row("CPU", fmt.Sprintf("%s, %d cores", r.mach.cpu, r.mach.cores))
	row("memory, kernel", fmt.Sprintf("%s, Linux %s", r.mach.memTotal, r.mach.kernel))
	row("file system of the data", r.mach.fs)
	row("Go", r.mach.goVer)
	row("SQLite driver", sqlite.Driver)
	row("date", r.mach.date)
	enc := "off (bodies in clear)"
	if r.o.encrypt {
		enc = "on (-encrypt: bodies AES-256-GCM, blind index)"
	}
	row("encryption at rest", enc)
	row("clawtrail commit", "`"+r.mach.commit+"`")
	ids := "time-ordered ULIDs (as the SDK makes them)"
	if r.o.ids == "random" {
		ids = "random UUIDv4s"
	}
	row("corpus", fmt.Sprintf("%s events (seed %d), %s of NDJSON, %s B/event avg (%s–%s); %d tenants, `default` holds %s; %s sessions over 30 days; client ids: %s",
		num(c.events), r.o.seed, mb(c.bytes), num(c.bytes/int64(c.events)), num(c.minLine), num(c.maxLine), len(tenants), num(c.def.events), num(c.sessions), ids))
	row("types", fmt.Sprintf("prompt %.0f%%, tool_call %.0f%%, output %.0f%%, api_call %.0f%%, file_operation %.0f%%",
		r.share("prompt"), r.share("tool_call"), r.share("output"), r.share("api_call"), r.share("file_operation")))
	gogc := os.Getenv("GOGC")
	if gogc == "" {
		gogc = "100 (default)"
	}
	row("load", fmt.Sprintf("%d HTTP clients, NDJSON requests of %s events, root key, 127.0.0.1; server max_clock_skew raised to %s (the corpus back-fills 30 days); GOGC %s, GOMAXPROCS %d",
		r.o.clients, num(r.o.batch), benchClockSkew, gogc, runtime.GOMAXPROCS(0)))
	b.WriteString("\n")

	ing := r.ingest
	lat := sorted(ing.latency)
	row("measurement", "value", "target", "result")
	row("---", "---:", "---", "---")
	section("Ingest at full speed (acked = committed and fsync'd)")
	row("acked events/s", num(ing.rate()), "≥ "+num(targetIngestRate), verdict(ing.rate() >= targetIngestRate))
	row("÷ raw baseline (same run)", fmt.Sprintf("%.3f×", ing.rate()/r.raw.rate()), fmt.Sprintf("≥ %.2f×", targetRawShare), verdict(ing.rate()/r.raw.rate() >= targetRawShare))
	row("÷ bare SQLite baseline (same run)", fmt.Sprintf("%.2f×", ing.rate()/r.bare.rate()), fmt.Sprintf("≥ %.2f×", targetBareShare), verdict(ing.rate()/r.bare.rate() >= targetBareShare))
	row("events, requests, wall time", fmt.Sprintf("%s, %s, %.1f s", num(ing.events), num(ing.requests), ing.elapsed.Seconds()), "", "")
	row("request MB/s", fmt.Sprintf("%.1f", float64(ing.bytes)/1e6/ing.elapsed.Seconds()), "", "")
	row("ack latency p50 / p99 / p99.9", fmt.Sprintf("%s / %s / %s", ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 99.9))), "", "")
	cl := sorted(ing.commitLat)
	row("group commits (the single ledger writer)", fmt.Sprintf("%s commits of %.0f events avg; commit p50 / p99 %s / %s; writer busy %.0f%% of the wall time",
		num(ing.groups), ing.groupEvents, ms(pct(cl, 50)), ms(pct(cl, 99)), 100*ing.writerBusy), "", "")
	row("CPU during ingest", fmt.Sprintf("this process (server + indexer + load generator) %.2f cores of %d (user %.1f s, sys %.1f s); %s",
		ing.cpu.cores(), r.mach.cores, ing.cpu.user.Seconds(), ing.cpu.sys.Seconds(), machineNote(ing.cpu)), "", "")
	span := "from the server's start to the end of the searches"
	if !r.rssReset {
		span = "the whole process lifetime"
	}
	row("peak RSS (VmHWM) of the process", fmt.Sprintf("%s (%s): the load generator's request bodies %s (mapped outside the Go heap) + the rest %s",
		mb(r.peakRSS), span, mb(r.corpusMapped), mb(r.peakRSS-r.corpusMapped)), "", "")
	row("memory at the largest RSS sampled (every 250 ms)", fmt.Sprintf("RSS %s = request bodies %s + Go runtime %s (heap objects %s) + other %s (SQLite's page caches and allocations; driver %s)",
		mb(r.mem.rss), mb(r.corpusMapped), mb(r.mem.goTotal), mb(r.mem.goHeap), mb(max(0, r.mem.rss-r.corpusMapped-r.mem.goTotal)), sqlite.Driver), "", "")
	jsonPer := float64(c.bytes) / float64(c.events)
	diskRatio := float64(r.diskTotal) / float64(r.storedEvents) / jsonPer
	row("on disk after close (WAL checkpointed)", fmt.Sprintf("%s B/event = %.2f× the JSON (%.0f B/event): ledger %s B (%.2f×), index %s B (%.2f×); %s in all for %s events",
		num(r.diskTotal/int64(r.storedEvents)), diskRatio, jsonPer, num(r.diskLedger/int64(r.storedEvents)), float64(r.diskLedger)/float64(r.storedEvents)/jsonPer,
		num(r.diskIndex/int64(r.storedEvents)), float64(r.diskIndex)/float64(r.storedEvents)/jsonPer, mb(r.diskTotal), num(r.storedEvents)),
		fmt.Sprintf("≤ %.1f× JSON", targetDiskPerJSON), verdict(diskRatio <= targetDiskPerJSON))

	section("Index lag")
	row("lag when the last ack came / largest sampled", fmt.Sprintf("%s / %s events", num(ing.lagAtEnd), num(ing.lagMax)), "", "")
	row("indexed while the ingest ran", fmt.Sprintf("%s events (%s events/s)", num(ing.events-int(ing.lagAtEnd)), num(float64(ing.events-int(ing.lagAtEnd))/ing.elapsed.Seconds())), "", "")
	row("catch-up after the full-speed ingest", fmt.Sprintf("%.1f s after the last ack", ing.catchUp.Seconds()), "", "")
	row("indexer throughput over the run", fmt.Sprintf("%s events/s; during catch-up (indexer alone) the process used %.2f cores; %s",
		num(ing.indexRate), ing.catchUpCPU.cores(), machineNote(ing.catchUpCPU)), "", "")
	row("sustained fully-indexed throughput (events ÷ time from the first request until all are indexed)", num(ing.indexRate)+" events/s",
		"≥ "+num(targetIndexedRate), verdict(ing.indexRate >= targetIndexedRate))
	for _, p := range r.paced {
		il, al := sorted(p.indexLag), sorted(p.ackLatency)
		rate := int(math.Round(p.offeredRate))
		name := fmt.Sprintf("paced %s/s", num(rate))
		row(fmt.Sprintf("%s: offered for %s (requests of %d every %s)", name, r.o.paced, pacedBatch, ms(pacedInterval(rate))),
			fmt.Sprintf("%s events/s acked; %d requests sent late; this process %.2f cores; %s", num(p.ackedRate), p.late, p.cpu.cores(), machineNote(p.cpu)), "", "")
		target, res := "", ""
		if rate >= targetAckAtRate {
			target, res = "p99 ≤ 10 ms at 20k/s", verdict(pct(al, 99) <= targetAckP99)
		}
		row(name+": ack latency p50 / p99 / p99.9", fmt.Sprintf("%s / %s / %s", ms(pct(al, 50)), ms(pct(al, 99)), ms(pct(al, 99.9))), target, res)
		cl := sorted(p.commitLat)
		row(name+": group commits", fmt.Sprintf("%s commits of %.0f events avg; commit p50 / p99 / max %s / %s / %s",
			num(len(cl)), p.groupEvents, ms(pct(cl, 50)), ms(pct(cl, 99)), ms(pct(cl, 100))), "", "")
		target, res = "", ""
		if rate >= targetLagAtRate && rate < targetAckAtRate {
			target, res = "p99 ≤ 1 s at 10k/s", verdict(pct(il, 99) <= targetLagP99)
		}
		row(name+": index lag per request (ack → indexed) p50 / p99 / max", fmt.Sprintf("%s / %s / %s; largest lag sampled %s events; %s index transactions of %s events avg",
			ms(pct(il, 50)), ms(pct(il, 99)), ms(pct(il, 100)), num(p.lagEvents), num(p.ixBatches), num(p.ixMean)), target, res)
	}
	sl, rl := sorted(r.single.lat), sorted(r.raw.single)
	row(fmt.Sprintf("one event per POST (application/json, one client, %s in a row) p50 / p99", num(len(sl))),
		fmt.Sprintf("%s / %s; the raw floor (one line written + fsync) %s / %s: %.1f× / %.1f×", ms(pct(sl, 50)), ms(pct(sl, 99)), ms(pct(rl, 50)), ms(pct(rl, 99)),
			float64(pct(sl, 50))/float64(max(1, pct(rl, 50))), float64(pct(sl, 99))/float64(max(1, pct(rl, 99)))), "", "")

	section(fmt.Sprintf("Search at %s events (tenant `default`: %s), %d runs each after one warm-up; targets on p99; %s", num(r.storedEvents), num(c.def.events+r.pacedEvents+len(r.single.lat)), r.o.reps, machineNote(r.searchCPU)))
	for _, q := range r.queries {
		l := sorted(q.lat)
		target, res := "", ""
		switch {
		case strings.HasPrefix(q.name, "field query"):
			target, res = "≤ 20 ms", verdict(pct(l, 99) <= targetField)
		case strings.HasPrefix(q.name, "session timeline"):
			target, res = "≤ 10 ms", verdict(pct(l, 99) <= targetTimeline)
		case strings.HasPrefix(q.name, "full text"):
			target, res = "≤ 100 ms", verdict(pct(l, 99) <= targetFullText)
		case strings.HasPrefix(q.name, "count by type per day") && !strings.Contains(q.name, "for a query"):
			target, res = "≤ 100 ms", verdict(pct(l, 99) <= targetCountByType)
		}
		row(q.name+" p50 / p99", fmt.Sprintf("%s / %s; %s returned (%s)", ms(pct(l, 50)), ms(pct(l, 99)), num(q.hits), q.expect), target, res)
	}
	if el := sorted(r.export.lat); len(el) > 0 {
		rate := float64(r.export.events) / pct(el, 50).Seconds()
		row(fmt.Sprintf("export of %s events (JSON lines, one window of the tenant) p50 / p99", num(r.export.events)),
			fmt.Sprintf("%s / %s = %s events/s at p50", ms(pct(el, 50)), ms(pct(el, 99)), num(rate)), "≥ "+num(targetExportRate)+" events/s", verdict(rate >= targetExportRate))
	}

	section("Verify (`clawtrail verify --data`, after close)")
	vrate := float64(r.verifyEvents) / max(r.verifyTime.Seconds(), 1e-9)
	row("events verified per second", fmt.Sprintf("%s (%s events in %.2f s, all tenants, clean; this process %.2f cores; %s)",
		num(vrate), num(r.verifyEvents), r.verifyTime.Seconds(), r.verifyCPU.cores(), machineNote(r.verifyCPU)), "≥ "+num(targetVerifyRate), verdict(vrate >= targetVerifyRate))

	section("Baselines, same run, same bytes")
	row("raw: NDJSON lines appended to a file, 4 MiB buffer, fsync per 1,000 lines",
		fmt.Sprintf("%s events/s, %.0f MB/s; %s", num(r.raw.rate()), float64(r.raw.bytes)/1e6/r.raw.elapsed.Seconds(), machineNote(r.raw.cpu)), "", "")
	row("bare SQLite: "+sqlite.Driver+", WAL, synchronous=FULL, `(seq PK, id, ts, tenant, type, body)`, 1,000 rows/tx, one writer",
		fmt.Sprintf("%s events/s, %s B/event; this process %.2f cores; %s", num(r.bare.rate()), num(r.bare.bytes/int64(max(1, r.bare.events))), r.bare.cpu.cores(), machineNote(r.bare.cpu)), "", "")
	row("clawtrail acked rate ÷ raw", fmt.Sprintf("%.3f× (raw is %.0f× faster)", ing.rate()/r.raw.rate(), r.raw.rate()/ing.rate()), "", "")
	row("clawtrail acked rate ÷ bare SQLite", fmt.Sprintf("%.2f× (bare SQLite is %.1f× faster)", ing.rate()/r.bare.rate(), r.bare.rate()/ing.rate()), "", "")

	var busy []string
	for _, p := range []struct {
		name string
		c    cpuSpan
	}{{"the raw baseline", r.raw.cpu}, {"the SQLite baseline", r.bare.cpu}, {"the ingest", ing.cpu}, {"the catch-up", ing.catchUpCPU}, {"the searches", r.searchCPU}} {
		if p.c.others() >= 0.15 {
			busy = append(busy, fmt.Sprintf("%.2f cores during %s", p.c.others(), p.name))
		}
	}
	if len(busy) > 0 {
		b.WriteString("\n**Warning:** other processes on this shared machine used " + strings.Join(busy, ", ") + "; the figures of those phases are lower than the machine can give.\n")
	}
	b.WriteString("\nQueries as run:\n\n")
	for _, q := range r.queries {
		fmt.Fprintf(&b, "- %s: `%s`", q.name, q.how)
		b.WriteString("\n")
	}
	if r.export.how != "" {
		fmt.Fprintf(&b, "- export: `%s`\n", r.export.how)
	}
	fmt.Fprintf(&b, "\nArgs: `-events %d -clients %d -batch %d -reps %d -paced %s -paced-rates %s -seed %d -ids %s`", r.o.events, r.o.clients, r.o.batch, r.o.reps, r.o.paced, ratesFlag(r.o.pacedRates), r.o.seed, r.o.ids)
	if r.o.quick {
		b.WriteString(" (`-quick`)")
	}
	b.WriteString(".\n")
	return b.String()
}

// machineNote says what else the machine was doing.
func machineNote(c cpuSpan) string {
	return fmt.Sprintf("other processes %.2f cores, iowait %.2f", c.others(), c.iowait)
}

func (r *report) share(typ string) float64 {
	return 100 * float64(r.c.perType[typ]) / float64(r.c.events)
}

func ratesFlag(rates []int) string {
	var parts []string
	for _, r := range rates {
		parts = append(parts, strconv.Itoa(r))
	}
	return strings.Join(parts, ",")
}
