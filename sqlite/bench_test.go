package sqlite

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ingest"
)

// benchBatch returns n realistic events as NDJSON.
func benchBatch(n, offset int) []byte {
	tools := []string{"send_email", "exec", "read_file", "http_get"}
	var b strings.Builder
	for i := 0; i < n; i++ {
		j := offset + i
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(j) * 10 * time.Millisecond).Format(time.RFC3339Nano)
		fmt.Fprintf(&b, `{"type":"tool_call","timestamp":%q,"session_id":"sess_%d","user_id":"user_%d","agent_id":"agent_prod_main","tool":%q,"arguments":{"to":"support%d@vendor.com","subject":"Shipment delay inquiry number %d","body":"The invoice for order %d is late; please advise on the delayed shipment."},"status":"success","duration_ms":%d}`+"\n",
			ts, j/80, j%50, tools[j%4], j%100, j, j, j%2000)
	}
	return []byte(b.String())
}

// BenchmarkAppend measures the acknowledged path: group commit of batches
// of 1,000 events (one fsync each).
func BenchmarkAppend(b *testing.B) {
	s, err := Open(context.Background(), Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.index.mu.Lock() // keep the indexer out: this measures the acknowledged path
	defer s.index.mu.Unlock()
	d := ingest.Decoder{Limits: ingest.DefaultLimits(), Now: time.Now}
	batches := make([][]clawtrail.Pending, b.N)
	for i := range batches {
		p, err := d.Decode(benchBatch(1000, i*1000), true)
		if err != nil {
			b.Fatal(err)
		}
		batches[i] = p
	}
	cpu := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(context.Background(), "default", "k", batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N*1000), "cpu-µs/event")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIndex measures the indexer: events indexed per second.
func BenchmarkIndex(b *testing.B) {
	s, err := Open(context.Background(), Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d := ingest.Decoder{Limits: ingest.DefaultLimits(), Now: time.Now}
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p, _ := d.Decode(benchBatch(5000, i*5000), true)
		s.index.mu.Lock() // hold the indexer while appending
		s.Append(context.Background(), "default", "k", p)
		s.index.mu.Unlock()
		b.StartTimer()
		c := cpuTime()
		if err := s.WaitIndexed(context.Background(), "default", s.Head("default")-1); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c
	}
	b.ReportMetric(float64(b.N*5000)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*5000), "cpu-µs/event")
}

// BenchmarkVerifyDir measures clawtrail verify --data: every body
// commitment, leaf and tree node recomputed, tiles, checkpoints and the
// index compared. One op verifies the whole ledger of 100k events.
func BenchmarkVerifyDir(b *testing.B) {
	const n = 100000
	dir := b.TempDir()
	s, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	d := ingest.Decoder{Limits: ingest.DefaultLimits(), Now: time.Now}
	for i := 0; i < n; i += 1000 {
		p, err := d.Decode(benchBatch(1000, i), true)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(context.Background(), "default", "k", p); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	s.WaitIndexed(ctx, "default", n-1)
	cancel()
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reps, err := VerifyDir(context.Background(), dir, VerifyOptions{})
		if err != nil || len(reps) != 1 || !reps[0].OK() || reps[0].Events != n {
			b.Fatalf("VerifyDir: %v %+v", err, reps)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkExport measures Store.Export (the index walk in timestamp order
// and the ledger reads) over 100k events: one op exports all of them.
func BenchmarkExport(b *testing.B) {
	s, err := Open(context.Background(), Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d := ingest.Decoder{Limits: ingest.DefaultLimits(), Now: time.Now}
	const n = 100_000
	for i := 0; i < n; i += 5000 {
		p, err := d.Decode(benchBatch(5000, i), true)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(context.Background(), "default", "k", p); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.WaitIndexed(context.Background(), "default", n-1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		got := 0
		if err := s.Export(context.Background(), SearchRequest{Tenant: "default"}, func(Stored) error { got++; return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("exported %d of %d", got, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
