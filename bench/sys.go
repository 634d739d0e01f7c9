package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSpan is the process CPU time (user+sys, all threads: server and load
// generator alike) over a wall-clock span.
type cpuSpan struct {
	user, sys, wall time.Duration
}

// cores is the average number of cores the process kept busy.
func (c cpuSpan) cores() float64 {
	if c.wall <= 0 {
		return 0
	}
	return (c.user + c.sys).Seconds() / c.wall.Seconds()
}

type cpuMark struct {
	ru   syscall.Rusage
	wall time.Time
}

func startCPU() cpuMark {
	var m cpuMark
	syscall.Getrusage(syscall.RUSAGE_SELF, &m.ru)
	m.wall = time.Now()
	return m
}

func (m cpuMark) stop() cpuSpan {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return cpuSpan{user: tv(ru.Utime) - tv(m.ru.Utime), sys: tv(ru.Stime) - tv(m.ru.Stime), wall: time.Since(m.wall)}
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

func procStatusKB(key string) int64 {
	f, err := os.Open("/proc/self/status")
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

// machine describes where the benchmark ran.
type machine struct {
	cpu      string
	cores    int
	goVer    string
	date     string
	kernel   string
	memTotal string
	fs       string
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
