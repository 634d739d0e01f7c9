package main

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSpan is the process CPU time (user+sys, all threads: server and load
// generator alike) over a wall-clock span.
type cpuSpan struct {
	user, sys, wall time.Duration
	// From /proc/stat, the whole machine: cores busy (including this
	// process) and cores idle waiting for I/O.
	machine, iowait float64
}

// others is how many cores other processes kept busy: the machine is
// shared, so a figure taken while others ran is a low one.
func (c cpuSpan) others() float64 { return max(0, c.machine-c.cores()) }

// cores is the average number of cores the process kept busy.
func (c cpuSpan) cores() float64 {
	if c.wall <= 0 {
		return 0
	}
	return (c.user + c.sys).Seconds() / c.wall.Seconds()
}

type cpuMark struct {
	ru         syscall.Rusage
	wall       time.Time
	busy, wait int64 // /proc/stat ticks
}

func startCPU() cpuMark {
	var m cpuMark
	syscall.Getrusage(syscall.RUSAGE_SELF, &m.ru)
	m.busy, m.wait = procStat()
	m.wall = time.Now()
	return m
}

// procStat returns the machine's busy and iowait ticks (USER_HZ, 100/s).
func procStat() (busy, iowait int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	v := make([]int64, 8)
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	// user nice system idle iowait irq softirq steal
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[4]
}

func (m cpuMark) stop() cpuSpan {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	busy, wait := procStat()
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	c := cpuSpan{user: tv(ru.Utime) - tv(m.ru.Utime), sys: tv(ru.Stime) - tv(m.ru.Stime), wall: time.Since(m.wall)}
	if sec := c.wall.Seconds(); sec > 0 {
		c.machine = float64(busy-m.busy) / 100 / sec
		c.iowait = float64(wait-m.wait) / 100 / sec
	}
	return c
}

// resetPeakRSS resets the kernel's high-water mark of the process's
// resident set (Linux: writing 5 to clear_refs); it reports success.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns VmHWM in bytes (since the last reset), or getrusage's
// lifetime maximum when /proc is not available.
func peakRSS() int64 {
	if kb := procStatusKB("VmHWM:"); kb > 0 {
		return kb << 10
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return int64(ru.Maxrss) << 10
}

func procStatusKB(key string) int64 { return procFileKB("/proc/self/status", key) }

// machine describes where the benchmark ran.
type machine struct {
	cpu      string
	cores    int
	goVer    string
	date     string
	kernel   string
	memTotal string
	fs       string
	commit   string
}

func describeMachine(dir string) machine {
	m := machine{cpu: "unknown", cores: runtime.NumCPU(), goVer: runtime.Version(),
		date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.memTotal = strconv.FormatFloat(float64(kb)/(1<<20), 'f', 1, 64) + " GiB"
			}
		}
	}
	m.fs = fsType(dir)
	m.commit = gitRevision()
	return m
}

// fsType names the file system holding dir, from its statfs magic.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x01021994:
		return "tmpfs (fsync is free: figures are not durable-disk figures)"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return "0x" + strconv.FormatUint(uint64(st.Type), 16)
}

// memSample is the process's memory at one moment.
type memSample struct {
	rss     int64 // resident set
	goTotal int64 // memory the Go runtime has mapped and not released to the OS
	goHeap  int64 // Go heap objects (live and not yet swept)
}

// memSampler keeps the sample with the largest RSS, to split the peak into
// the Go runtime's part and the rest (SQLite's page caches and allocations,
// which modernc.org/libc makes outside the Go heap).
type memSampler struct {
	stop chan struct{}
	done chan struct{}
	peak memSample
}

func startMemSampler(every time.Duration) *memSampler {
	m := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	page := int64(os.Getpagesize())
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			b, err := os.ReadFile("/proc/self/statm")
			if err == nil {
				f := strings.Fields(string(b))
				if len(f) > 1 {
					pages, _ := strconv.ParseInt(f[1], 10, 64)
					if rss := pages * page; rss > m.peak.rss {
						metrics.Read(samples)
						m.peak = memSample{rss: rss, goTotal: int64(samples[0].Value.Uint64() - samples[1].Value.Uint64()), goHeap: int64(samples[2].Value.Uint64())}
					}
				}
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) finish() memSample {
	close(m.stop)
	<-m.done
	return m.peak
}

// gitRevision describes the clawtrail commit the program was built from:
// the VCS stamp of a `go build` binary, else (go run) what git says now.
// Changes under bench/ and to docs/benchmarks.md do not count as changes.
func gitRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, modified := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			rev = rev[:min(12, len(rev))]
			if modified {
				// The stamp does not say where; ask git, as below.
				rev += localChanges(" (modified working tree)")
			}
			return rev
		}
	}
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out)) + localChanges("")
}

// localChanges returns a note when files outside the benchmark differ from
// HEAD, or unknown when git cannot tell.
func localChanges(unknown string) string {
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", ":!docs/benchmarks.md").Output()
	switch {
	case err != nil:
		return unknown
	case len(strings.TrimSpace(string(st))) > 0:
		return " + uncommitted changes outside bench/"
	}
	return ""
}
