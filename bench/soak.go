package main

// The soak: the real `clawtrail serve` binary as a child process, first
// driven at full speed to find its peak, then held at half of that for a
// long time while its memory (VmRSS from /proc), CPU, acknowledgements and
// index lag are sampled. Memory must stay flat.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clawtrail/clawtrail/httpapi"
)

type soakSample struct {
	at      time.Duration // since the soak phase began
	rss     int64         // bytes
	rssFile int64         // of which file-backed and shared
	cpu     time.Duration // the child's user+sys so far
	acked   int64
	lag     int64 // ingested - indexed, from /metrics
	heap    int64 // go_memstats_heap_inuse_bytes, from /metrics
	late    int64
	errors  int64
	latency []time.Duration // acks since the previous sample
}

type soakResult struct {
	peakRate    float64
	peakEvents  int64
	peakElapsed time.Duration
	rate        float64 // offered
	duration    time.Duration
	samples     []soakSample
	startRSS    int64         // after the peak phase, before the soak
	startCPU    time.Duration // the child's CPU then
	every       time.Duration // sampling interval
	dir         string
	profiled    bool // the server's CPU was profiled over the middle half
}

// child is a `clawtrail serve` process.
type child struct {
	cmd    *exec.Cmd
	client *httpapi.Client
	url    string
	token  string
	debug  string // the profiler's address (--debug-listen), when asked for
}

var (
	childAddrRE = regexp.MustCompile(`msg="clawtrail serving" addr=(127\.0\.0\.1:\d+)`)
	debugAddrRE = regexp.MustCompile(`msg="profiler serving" addr=(127\.0\.0\.1:\d+)`)
)

// startChild starts clawtrail serve on dir; with profile, its profiler too.
func startChild(ctx context.Context, bin, dir string, profile bool) (*child, error) {
	args := []string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}
	if profile {
		args = append(args, "--debug-listen", "127.0.0.1:0")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	var debug atomic.Value
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := debugAddrRE.FindStringSubmatch(sc.Text()); m != nil {
				debug.Store(m[1])
			} else if m := childAddrRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			} else if strings.Contains(sc.Text(), "level=ERROR") || strings.Contains(sc.Text(), "level=WARN") {
				progressf("  server: %s", sc.Text())
			}
		}
	}()
	select {
	case a := <-addr:
		tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
		if err != nil {
			cmd.Process.Kill()
			return nil, err
		}
		c := &child{cmd: cmd, url: "http://" + a, token: strings.TrimSpace(string(tok))}
		if d, ok := debug.Load().(string); ok {
			c.debug = d
		}
		c.client = &httpapi.Client{BaseURL: c.url, Token: c.token, HTTP: &http.Client{Transport: &http.Transport{
			MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DisableCompression: true,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}}
		return c, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("clawtrail serve did not start")
	}
}

// profile writes a CPU profile of the server over d to path, from its
// profiler (--debug-listen).
func (c *child) profile(ctx context.Context, d time.Duration, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.debug, int(d.Seconds())), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiler: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	progressf("soak: wrote a CPU profile of the server (%s of the soak's middle) to %s", d, path)
	return f.Close()
}

func (c *child) stop() error {
	c.cmd.Process.Signal(os.Interrupt)
	return c.cmd.Wait()
}

// rss is the child's VmRSS in bytes.
func (c *child) rss() int64 {
	return procFileKB(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid), "VmRSS:") << 10
}

// rssFile is the part of VmRSS that maps files (SQLite's shared-memory
// WAL index, the binary).
func (c *child) rssFile() int64 {
	st := fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid)
	return (procFileKB(st, "RssFile:") + procFileKB(st, "RssShmem:")) << 10
}

// cpu is the child's user+system time (from /proc/PID/stat, in clock ticks of 10 ms).
func (c *child) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

var metricLine = regexp.MustCompile(`(?m)^(clawtrail_events_ingested_total|clawtrail_events_indexed_total|go_memstats_heap_inuse_bytes) (\S+)$`)

// lag reads /metrics: events committed but not yet indexed, and the Go heap in use.
func (c *child) lag(ctx context.Context) (lag, heap int64) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.client.HTTP.Do(req)
	if err != nil {
		return -1, -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var in, ix, h float64
	for _, m := range metricLine.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[1] {
		case "clawtrail_events_ingested_total":
			in = v
		case "clawtrail_events_indexed_total":
			ix = v
		default:
			h = v
		}
	}
	return int64(in - ix), int64(h)
}

// feed generates batches of n events in chunks, ahead of the sender, with
// timestamps from now on: an endless stream with fresh ids.
func feed(ctx context.Context, seed uint64, n int, onlyDefault bool) <-chan *batch {
	out := make(chan *batch, 2000)
	go func() {
		defer close(out)
		for chunk := uint64(0); ctx.Err() == nil; chunk++ {
			now := time.Now().UTC()
			c := newGenerator(seed + chunk).generate(genOptions{events: 50_000, batch: n, start: now, end: now.Add(5 * time.Second), onlyDefault: onlyDefault})
			for _, b := range c.batches {
				b.meta = nil
				select {
				case out <- b:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// soak runs the soak mode.
func soak(ctx context.Context, o options) (*soakResult, error) {
	dir, err := os.MkdirTemp("", "clawtrail-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "clawtrail")
	progressf("soak: building clawtrail ...")
	if out, err := exec.CommandContext(ctx, "go", "build", "-tags", o.tags, "-o", bin, "./cmd/clawtrail").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/clawtrail (run the bench from the repository's root): %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	ch, err := startChild(ctx, bin, data, o.cpuprofile != "")
	if err != nil {
		return nil, err
	}
	defer ch.stop()
	if o.cpuprofile != "" && ch.debug == "" {
		return nil, fmt.Errorf("-cpuprofile: the server did not say where its profiler listens (--debug-listen)")
	}
	res := &soakResult{rate: o.soakRate, duration: o.soak, dir: data, every: o.soakEvery}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if res.rate == 0 {
		// Peak: full speed, 4 clients, requests of 1,000, for o.soakPeak.
		progressf("soak: finding the peak: full speed for %s, %d clients, requests of %d ...", o.soakPeak, o.clients, o.batch)
		pctx, pcancel := context.WithCancel(ctx)
		src := feed(pctx, o.seed+7000, o.batch, false)
		var acked atomic.Int64
		var firstErr error
		var once sync.Once
		start := time.Now()
		var wg sync.WaitGroup
		for range o.clients {
			wg.Go(func() {
				for time.Since(start) < o.soakPeak {
					b, ok := <-src
					if !ok {
						return
					}
					r, err := ch.client.Ingest(ctx, b.body)
					if err != nil {
						once.Do(func() { firstErr = err })
						return
					}
					acked.Add(int64(r.Accepted))
				}
			})
		}
		wg.Wait()
		pcancel() // stops the peak phase's generator
		if firstErr != nil {
			return nil, fmt.Errorf("peak phase: %w", firstErr)
		}
		res.peakElapsed = time.Since(start)
		res.peakEvents = acked.Load()
		res.peakRate = float64(res.peakEvents) / res.peakElapsed.Seconds()
		res.rate = res.peakRate / 2
		progressf("soak: peak %s acked events/s; soaking at %s events/s for %s", num(res.peakRate), num(res.rate), o.soak)
		// Let the index catch up on the peak's backlog so the soak starts level.
		for lag, _ := ch.lag(ctx); lag > 0 && ctx.Err() == nil; lag, _ = ch.lag(ctx) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	res.startRSS, res.startCPU = ch.rss(), ch.cpu()

	// Open loop: requests of 100 events at rate/100 per second, each from
	// its own goroutine, at most 512 in flight (beyond that a tick is late).
	const per = 100
	interval := time.Duration(float64(time.Second) * per / res.rate)
	src := feed(ctx, o.seed+9000, per, true)
	var acked, late, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	sem := make(chan struct{}, 512)
	samples := make(chan soakSample, 1)
	go func() { // sampler
		start := time.Now()
		t := time.NewTicker(o.soakEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				close(samples)
				return
			case <-t.C:
			}
			mu.Lock()
			l := lat
			lat = nil
			mu.Unlock()
			s := soakSample{at: time.Since(start), rss: ch.rss(), rssFile: ch.rssFile(), cpu: ch.cpu(), acked: acked.Load(),
				late: late.Load(), errors: errs.Load(), latency: l}
			s.lag, s.heap = ch.lag(ctx)
			res.samples = append(res.samples, s)
			if len(res.samples)%max(1, int(time.Minute/o.soakEvery)) == 0 {
				progressf("  %s: RSS %.0f MB, acked %s, index lag %s, late %d, errors %d", s.at.Round(time.Second), float64(s.rss)/1e6, num(s.acked), num(s.lag), s.late, s.errors)
			}
		}
	}()
	start := time.Now()
	if o.cpuprofile != "" {
		// A CPU profile of the server over the soak's middle half.
		res.profiled = true
		go func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.soak / 4):
			}
			if err := ch.profile(ctx, o.soak/2, o.cpuprofile); err != nil {
				progressf("soak: server CPU profile: %v", err)
			}
		}()
	}
	var wg sync.WaitGroup
	for i := 0; time.Since(start) < o.soak && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		b, ok := <-src
		if !ok {
			break // interrupted
		}
		select {
		case sem <- struct{}{}:
		default:
			late.Add(1)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := at // from the scheduled time: a late send counts as latency
			r, err := ch.client.Ingest(ctx, b.body)
			d := time.Since(t0)
			if err != nil || r.Accepted != b.n {
				if ctx.Err() == nil {
					errs.Add(1)
				}
				return
			}
			acked.Add(int64(r.Accepted))
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	time.Sleep(o.soakEvery) // one last sample
	cancel()
	for range samples {
	}
	if errs.Load() > 0 {
		return res, fmt.Errorf("soak: %d requests failed", errs.Load())
	}
	return res, nil
}

func procFileKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// soakMarkdown reports the soak: a row per minute and the memory verdict.
func (r *soakResult) markdown(mach machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Soak\n\n`clawtrail serve` (the real binary, a child process), %s, %s, %d cores, %s, commit `%s`.\n\n", mach.date, mach.cpu, mach.cores, mach.goVer, mach.commit)
	if r.peakRate > 0 {
		fmt.Fprintf(&b, "Peak first: %s events acked in %s at full speed = **%s events/s**; the soak offers half: %s events/s ", num(r.peakEvents), r.peakElapsed.Round(time.Millisecond), num(r.peakRate), num(r.rate))
	} else {
		fmt.Fprintf(&b, "The soak offers %s events/s ", num(r.rate))
	}
	fmt.Fprintf(&b, "(requests of 100, open loop) for %s. RSS before the soak: %.0f MB.\n\n", r.duration, float64(r.startRSS)/1e6)
	if r.profiled {
		fmt.Fprintf(&b, "The server's CPU was profiled over the soak's middle half (-cpuprofile): the profiler's own CPU and buffers are in these figures.\n\n")
	}
	b.WriteString("| minute | acked events/s | ack p50 / p99 | server CPU (cores) | VmRSS (of which files, shared) | Go heap in use | index lag (events) |\n| ---: | ---: | --- | ---: | ---: | ---: | ---: |\n")
	per := max(1, int((time.Minute+r.every/2)/r.every)) // samples per minute
	prev := soakSample{cpu: r.startCPU}
	for i := per - 1; per > 0 && i < len(r.samples); i += per {
		s := r.samples[i]
		var lat []time.Duration
		for _, x := range r.samples[i-per+1 : i+1] {
			lat = append(lat, x.latency...)
		}
		lat = sorted(lat)
		span := (s.at - prev.at).Seconds()
		fmt.Fprintf(&b, "| %d | %s | %s / %s | %.2f | %.0f MB (%.0f MB) | %.0f MB | %s |\n", (i+1)/per, num(float64(s.acked-prev.acked)/span),
			ms(pct(lat, 50)), ms(pct(lat, 99)), (s.cpu-prev.cpu).Seconds()/span, float64(s.rss)/1e6, float64(s.rssFile)/1e6, float64(s.heap)/1e6, num(s.lag))
		prev = s
	}
	if len(r.samples) >= 4 {
		max, maxPriv := int64(0), int64(0)
		for _, s := range r.samples {
			max = maxOf(max, s.rss)
			maxPriv = maxOf(maxPriv, s.rss-s.rssFile)
		}
		half := r.samples[len(r.samples)/2:]
		slope := rssSlope(half) // bytes per second
		first, last := r.samples[len(r.samples)/10], r.samples[len(r.samples)-1]
		flat := slope*60 < 1e6 // under 1 MB per minute over the second half
		fmt.Fprintf(&b, "\nMemory: VmRSS %.0f MB at %s, %.0f MB at the end, largest %.0f MB; trend over the second half %+.2f MB/min: %s. Serve RSS under sustained load ≤ 200 MB: VmRSS %s; the process's own memory (VmRSS less its file-backed pages — the clawtrail executable's code, ~20 MB, and database pages a search has mapped, none in the soak — and shared memory: RssAnon) largest %.0f MB, %s. Late ticks (512 requests in flight): %d.\n",
			float64(first.rss)/1e6, first.at.Round(time.Second), float64(last.rss)/1e6, float64(max)/1e6, slope*60/1e6,
			map[bool]string{true: "**flat**", false: "**growing**"}[flat], verdict(max <= 200e6), float64(maxPriv)/1e6, verdict(maxPriv <= 200e6), last.late)
	}
	return b.String()
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// rssSlope is the least-squares slope of RSS over time, in bytes per second.
func rssSlope(s []soakSample) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, x := range s {
		t, y := x.at.Seconds(), float64(x.rss)
		n++
		sx += t
		sy += y
		sxx += t * t
		sxy += t * y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
