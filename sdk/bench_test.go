package sdk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// sinkServer answers every ingest with 200, counting lines: it isolates
// the client's own cost from the server's. It allocates little, so that
// its garbage does not weigh on the client's figures.
func sinkServer(b *testing.B) *httptest.Server {
	var zr gzip.Reader
	buf := make([]byte, 64<<10)
	var mu sync.Mutex
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			if err := zr.Reset(r.Body); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = &zr
		}
		lines := 0
		for {
			n, err := body.Read(buf)
			lines += bytes.Count(buf[:n], []byte("\n"))
			if err != nil {
				break
			}
		}
		fmt.Fprintf(w, `{"accepted":%d,"duplicates":0}`, lines)
	}))
}

// typical is a tool call as an agent logs it: identity from the context,
// small arguments, a short result.
func typical() Event {
	return Event{Type: "tool_call", Tool: "send_email",
		Arguments: map[string]any{"to": "customer@example.com", "subject": "Your order #1234", "priority": 2},
		Result:    "queued", Status: "success", Duration: 42 * time.Millisecond}
}

func benchClient(b *testing.B, url, token string, mod func(*Config)) *Client {
	cfg := Config{URL: url, Token: token, SpoolDir: b.TempDir(), OnError: func(error) {}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func benchCtx(c *Client) context.Context {
	ctx := WithClient(context.Background(), c)
	ctx = WithSession(ctx, "sess-bench")
	ctx = WithUser(ctx, "user_123")
	return WithAgent(ctx, "support-bot")
}

// benchLog logs the typical event back to back, from one goroutine or
// (parallel > 0) from parallel×GOMAXPROCS of them.
func benchLog(b *testing.B, mod func(*Config), parallel int) {
	srv := sinkServer(b)
	defer srv.Close()
	c := benchClient(b, srv.URL, "k", mod)
	ctx := benchCtx(c)
	b.ReportAllocs()
	if parallel > 0 {
		b.SetParallelism(parallel)
		b.RunParallel(func(pb *testing.PB) {
			e := typical()
			for pb.Next() {
				if err := c.Log(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
		return
	}
	e := typical()
	for b.Loop() {
		if err := c.Log(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

func durable(cfg *Config) { cfg.Durable = true }

// BenchmarkLog is the cost of Log to the calling goroutine (spool on,
// writer and sender running against a server that takes everything).
func BenchmarkLog(b *testing.B) { benchLog(b, nil, 0) }

// BenchmarkLogParallel: Log from every core at once.
func BenchmarkLogParallel(b *testing.B) { benchLog(b, nil, 1) }

// BenchmarkLogLatency reports the distribution of single Log calls
// (p50/p99/p999 in ns): at 10k events/s from a goroutine that spins
// between calls (a busy agent), and at 1k events/s from one that sleeps
// between them (an agent waiting on a model or a tool, the common case).
func BenchmarkLogLatency(b *testing.B) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		spin  bool
	}{{"10k-per-s-spinning", 100 * time.Microsecond, true}, {"1k-per-s-sleeping", time.Millisecond, false}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := sinkServer(b)
			defer srv.Close()
			c := benchClient(b, srv.URL, "k", func(cfg *Config) { cfg.DisableCompression = os.Getenv("SDK_BENCH_NOGZIP") != "" })
			ctx := benchCtx(c)
			e := typical()
			lat := make([]time.Duration, 0, b.N)
			next := time.Now()
			for b.Loop() {
				next = next.Add(tc.every)
				if tc.spin {
					for time.Now().Before(next) {
					}
				} else {
					time.Sleep(time.Until(next))
				}
				t0 := time.Now()
				c.Log(ctx, e)
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
			b.ReportMetric(q(0.50), "p50-ns")
			b.ReportMetric(q(0.99), "p99-ns")
			b.ReportMetric(q(0.999), "p999-ns")
		})
	}
}

// BenchmarkLogDurable: Log returns after the spool fsync (one caller, so
// one fsync per event; concurrent callers share them).
func BenchmarkLogDurable(b *testing.B) { benchLog(b, durable, 0) }

// BenchmarkLogDurableParallel: 16 goroutines share fsyncs.
func BenchmarkLogDurableParallel(b *testing.B) { benchLog(b, durable, 8) }

// BenchmarkToolCall: the wrapper around a tool that does nothing.
func BenchmarkToolCall(b *testing.B) {
	srv := sinkServer(b)
	defer srv.Close()
	c := benchClient(b, srv.URL, "k", nil)
	ctx := benchCtx(c)
	args := map[string]any{"to": "customer@example.com", "subject": "Your order #1234"}
	b.ReportAllocs()
	for b.Loop() {
		ToolCall(ctx, "send_email", args, func(context.Context) (string, error) { return "queued", nil })
	}
}

// BenchmarkEndToEnd: events logged and delivered to a real clawtrail
// server in this process (SQLite, fsync per commit), per second.
func BenchmarkEndToEnd(b *testing.B) {
	ts := NewTestServer(b)
	c := benchClient(b, ts.URL, ts.Ingest, nil)
	ctx := benchCtx(c)
	e := typical()
	start := time.Now()
	b.ResetTimer()
	// A b.N loop, not b.Loop: the timer covers the Flush, so ns/op is the
	// delivered cost per event.
	for range b.N {
		if err := c.Log(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Flush(fctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "delivered-events/s")
}

// The baselines, measured in the same run as the SDK's figures.

// BenchmarkBaselineMarshal: encoding/json of the same event (as a struct
// with JSON tags, what a hand-rolled client would do) — the floor of any
// client that encodes in the caller.
func BenchmarkBaselineMarshal(b *testing.B) {
	type usage struct {
		In  int64 `json:"input_tokens"`
		Out int64 `json:"output_tokens"`
	}
	type event struct {
		ID         string         `json:"id"`
		Timestamp  time.Time      `json:"timestamp"`
		SessionID  string         `json:"session_id,omitempty"`
		UserID     string         `json:"user_id,omitempty"`
		AgentID    string         `json:"agent_id,omitempty"`
		Type       string         `json:"type"`
		Tool       string         `json:"tool,omitempty"`
		Arguments  map[string]any `json:"arguments,omitempty"`
		Result     any            `json:"result,omitempty"`
		Status     string         `json:"status,omitempty"`
		DurationMS float64        `json:"duration_ms,omitempty"`
		Usage      *usage         `json:"usage,omitempty"`
	}
	t := typical()
	b.ReportAllocs()
	for b.Loop() {
		e := event{ID: "01JDQX3Z7K8M9N0P1Q2R3S4T5V", Timestamp: time.Now(), SessionID: "sess-bench", UserID: "user_123",
			AgentID: "support-bot", Type: t.Type, Tool: t.Tool, Arguments: t.Arguments.(map[string]any), Result: t.Result,
			Status: t.Status, DurationMS: 42}
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselinePostPerEvent: what an agent without the SDK pays per
// event: a synchronous POST of one event to a real clawtrail server (which
// answers after its fsync).
func BenchmarkBaselinePostPerEvent(b *testing.B) {
	ts := NewTestServer(b)
	line, _ := appendEvent(nil, &Event{Type: "tool_call", Tool: "send_email", Timestamp: time.Now(), SessionID: "sess-bench",
		Arguments: map[string]any{"to": "customer@example.com", "subject": "Your order #1234", "priority": 2}, Result: "queued", Status: "success"})
	hc := &http.Client{}
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/events", bytes.NewReader(line))
		req.Header.Set("Authorization", "Bearer "+ts.Ingest)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}
