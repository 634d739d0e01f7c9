package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fastConfig is a client config for tests: quick flushes and retries.
func fastConfig(t *testing.T, ts *TestServer, spool string) Config {
	return Config{URL: ts.URL, Token: ts.Ingest, SpoolDir: spool, FlushInterval: 10 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RequestTimeout: 5 * time.Second,
		OnError: func(err error) { t.Logf("sdk: %v", err) }}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func flush(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// A whole agent session, through every wrapper, comes back from the
// server's session timeline with every field.
func TestSessionRoundTrip(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	var seenAuth atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Set-Cookie", "sid=s3cr3t-cookie")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer api.Close()

	ctx := WithClient(context.Background(), c)
	ctx = WithSession(ctx, "sess-42")
	ctx = WithUser(ctx, "user_123")
	ctx = WithAgent(ctx, "support-bot")
	ctx = WithChannel(ctx, "slack")
	ctx = WithTrace(ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")

	Prompt(ctx, "Send the customer an update about their delayed shipment")
	res, err := ToolCall(ctx, "lookup_order", map[string]any{"order": 1234}, func(ctx context.Context) (map[string]any, error) {
		time.Sleep(2 * time.Millisecond)
		return map[string]any{"status": "delayed", "eta": "2026-12-01"}, nil
	})
	if err != nil || res["status"] != "delayed" {
		t.Fatalf("ToolCall returned %v, %v", res, err)
	}
	boom := errors.New("smtp: 550 mailbox unavailable")
	n, err := ToolCall(ctx, "send_email", struct {
		To      string `json:"to"`
		Subject string `json:"subject"`
	}{"customer@example.com", "Your order"}, func(ctx context.Context) (int, error) { return 7, boom })
	if n != 7 || err != boom {
		t.Fatalf("ToolCall must return fn's values unchanged: %v, %v", n, err)
	}
	hc := &http.Client{Transport: &Transport{RecordHeaders: []string{"Authorization", "Set-Cookie", "Content-Type"}}}
	req, _ := http.NewRequestWithContext(ctx, "POST", api.URL+"/v2/notify?api_key=qk-secret-123", strings.NewReader(`{"msg":"hi"}`))
	req.Header.Set("Authorization", "Bearer sk-live-never-recorded")
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if seenAuth.Load() != "Bearer sk-live-never-recorded" {
		t.Fatal("the transport must pass the request through unchanged")
	}
	path := filepath.Join(t.TempDir(), "reply.txt")
	if err := WriteFile(ctx, path, []byte("Your order ships Monday."), 0o600); err != nil {
		t.Fatal(err)
	}
	Approval(ctx, "send_email", "approved", "ops@example.com", "customer asked")
	Output(ctx, "I have emailed the customer.", "claude-sonnet-4", Usage{InputTokens: 1200, OutputTokens: 80})
	flush(t, c)

	evs := ts.Session("sess-42", 7)
	var types []string
	for _, e := range evs {
		types = append(types, e["type"].(string))
		for k, want := range map[string]string{"session_id": "sess-42", "user_id": "user_123", "agent_id": "support-bot",
			"channel": "slack", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "tenant_id": "acme"} {
			if e[k] != want {
				t.Errorf("%s event: %s = %v, want %q", e["type"], k, e[k], want)
			}
		}
		if e["parent_id"] != "00f067aa0ba902b7" || e["span_id"] == nil || e["span_id"] == "00f067aa0ba902b7" {
			t.Errorf("%s event: span %v parent %v: each call gets its own span under the context's", e["type"], e["span_id"], e["parent_id"])
		}
		if id := e["id"].(string); len(id) != 26 || strings.Trim(id, crockford) != "" {
			t.Errorf("id %v is not a client-assigned ULID", e["id"])
		}
	}
	want := "prompt tool_call tool_call api_call file_operation approval output"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("timeline %q, want %q", got, want)
	}
	lookup, send, call, file, appr, out := evs[1], evs[2], evs[3], evs[4], evs[5], evs[6]
	if evs[0]["content"] != "Send the customer an update about their delayed shipment" {
		t.Errorf("prompt content %v", evs[0]["content"])
	}
	if lookup["tool"] != "lookup_order" || lookup["status"] != "success" || lookup["arguments"].(map[string]any)["order"] != 1234.0 ||
		lookup["result"].(map[string]any)["eta"] != "2026-12-01" || lookup["duration_ms"].(float64) < 2 {
		t.Errorf("lookup tool call %v", lookup)
	}
	if send["status"] != "error" || send["error"] != boom.Error() || send["arguments"].(map[string]any)["to"] != "customer@example.com" || send["result"] != 7.0 {
		t.Errorf("failed tool call %v", send)
	}
	if call["destination"] != strings.TrimPrefix(api.URL, "http://") || call["method"] != "POST" || call["endpoint"] != "/v2/notify" ||
		call["status_code"] != 201.0 || call["status"] != "success" || call["duration_ms"] == nil {
		t.Errorf("api call %v", call)
	}
	hdrs := fmt.Sprint(call["attributes"])
	if !strings.Contains(hdrs, "application/json") {
		t.Errorf("asked-for header missing: %v", hdrs)
	}
	if file["path"] != path || file["operation"] != "write" || file["bytes"] != 24.0 || file["status"] != "success" {
		t.Errorf("file operation %v", file)
	}
	if appr["decision"] != "approved" || appr["approver"] != "ops@example.com" || appr["reason"] != "customer asked" {
		t.Errorf("approval %v", appr)
	}
	u, _ := out["usage"].(map[string]any)
	if out["model"] != "claude-sonnet-4" || out["tokens_used"] != 1280.0 || u["input_tokens"] != 1200.0 || u["output_tokens"] != 80.0 {
		t.Errorf("output %v", out)
	}
	// Credentials never reach the record, wherever they were.
	for _, e := range ts.Ledger("acme") {
		s := fmt.Sprint(e)
		for _, secret := range []string{"sk-live-never-recorded", "qk-secret-123", "s3cr3t-cookie"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s recorded in %v", secret, e)
			}
		}
	}
	st := c.Stats()
	if st.Logged != 7 || st.Sent != 7 || st.Pending != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// logMany logs events "n-0".."n-(count-1)" with a pause every so often.
func logMany(t *testing.T, c *Client, prefix string, count int, pause func(i int)) {
	ctx := WithSession(context.Background(), prefix)
	for i := range count {
		if err := c.Log(ctx, Event{Type: "tool_call", Tool: "step", Content: fmt.Sprintf("%s-%d", prefix, i)}); err != nil {
			t.Errorf("log %d: %v", i, err)
		}
		if pause != nil {
			pause(i)
		}
	}
}

// checkExactlyOnce asserts the ledger holds prefix-0..prefix-(n-1) once
// each, in that order.
func checkExactlyOnce(t *testing.T, ts *TestServer, prefix string, n int) {
	t.Helper()
	var got []string
	for _, e := range ts.Ledger("acme") {
		if e["session_id"] == prefix {
			got = append(got, e["content"].(string))
		}
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	missing, dup := 0, 0
	for i := range n {
		switch seen[fmt.Sprintf("%s-%d", prefix, i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(got) != n {
		t.Fatalf("%s: %d events in the ledger for %d logged: %d missing, %d duplicated", prefix, len(got), n, missing, dup)
	}
	for i, g := range got {
		if g != fmt.Sprintf("%s-%d", prefix, i) {
			t.Fatalf("%s: out of order at %d: %s", prefix, i, g)
		}
	}
}

// The server goes away mid-stream (connections cut, requests in flight
// unanswered) and comes back: every event arrives exactly once, in order.
func TestServerStopRestartExactlyOnce(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	const n = 3000
	logMany(t, c, "restart", n, func(i int) {
		switch i {
		case 1000:
			ts.Stop()
		case 2000:
			ts.Start()
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	})
	flush(t, c)
	checkExactlyOnce(t, ts, "restart", n)
	st := c.Stats()
	if st.Sent+st.Duplicates != n || st.Retries == 0 || st.Pending != 0 {
		t.Fatalf("stats %+v: want %d delivered after retries", st, n)
	}
}

// cutProxy forwards to the real server, but for the first `lose` ingest
// requests it drops the answer after the server committed: the client
// sees a failure for a batch that was stored.
type cutProxy struct {
	target string
	lose   atomic.Int32
	calls  atomic.Int32
}

func (p *cutProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.calls.Add(1)
	req, _ := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if p.lose.Add(-1) >= 0 {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close() // the answer is lost
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func TestAnswerLostAfterCommitIsStoredOnce(t *testing.T) {
	ts := NewTestServer(t)
	p := &cutProxy{target: ts.URL}
	p.lose.Store(3)
	front := httptest.NewServer(p)
	defer front.Close()
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.URL = front.URL
	cfg.BatchEvents = 50
	c := newClient(t, cfg)
	logMany(t, c, "lost", 400, nil)
	flush(t, c)
	checkExactlyOnce(t, ts, "lost", 400)
	if st := c.Stats(); st.Duplicates == 0 || st.Sent+st.Duplicates != 400 {
		t.Fatalf("stats %+v: the resent batches must be counted as duplicates", st)
	}
}

// Events logged while the server is down stay in the spool when the
// client closes; a new client on the same spool delivers them.
func TestSpoolSurvivesClientRestart(t *testing.T) {
	ts := NewTestServer(t)
	ts.Stop()
	spool := t.TempDir()
	c1, err := New(fastConfig(t, ts, spool))
	if err != nil {
		t.Fatal(err)
	}
	logMany(t, c1, "spooled", 500, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = c1.Close(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "not yet delivered") || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Close with the server down: %v; want an error saying what is left and why", err)
	}
	if st := c1.Stats(); st.Pending != 500 || st.Spooled != 500 || st.Sent != 0 {
		t.Fatalf("stats after close %+v", st)
	}
	if err := c1.Log(context.Background(), Event{Type: "prompt"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Log after Close: %v", err)
	}

	ts.Start()
	c2 := newClient(t, fastConfig(t, ts, spool))
	if st := c2.Stats(); st.Recovered != 500 {
		t.Fatalf("recovered %d events from the spool, want 500", st.Recovered)
	}
	logMany(t, c2, "after", 10, nil)
	flush(t, c2)
	checkExactlyOnce(t, ts, "spooled", 500)
	checkExactlyOnce(t, ts, "after", 10)
	// The spool is emptied as it is delivered.
	segs, _ := filepath.Glob(filepath.Join(c2.SpoolDir(), "*"+segmentExt))
	for _, s := range segs {
		if fi, _ := os.Stat(s); fi != nil && fi.Size() > 1<<20 {
			t.Errorf("delivered segment %s still %d bytes", s, fi.Size())
		}
	}
}

// Two agent processes on one spool directory get a lane each; a later
// client adopts every lane left with events and delivers them all.
func TestLanesAreAdopted(t *testing.T) {
	ts := NewTestServer(t)
	ts.Stop()
	spool := t.TempDir()
	a, err := New(fastConfig(t, ts, spool))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(fastConfig(t, ts, spool))
	if err != nil {
		t.Fatal(err)
	}
	if a.SpoolDir() == b.SpoolDir() {
		t.Fatalf("two live clients share lane %s", a.SpoolDir())
	}
	logMany(t, a, "lane-a", 100, nil)
	logMany(t, b, "lane-b", 100, nil)
	for _, c := range []*Client{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		c.Close(ctx)
		cancel()
	}
	ts.Start()
	c := newClient(t, fastConfig(t, ts, spool))
	if st := c.Stats(); st.Recovered != 200 {
		t.Fatalf("recovered %d, want 200 from both lanes", st.Recovered)
	}
	flush(t, c)
	checkExactlyOnce(t, ts, "lane-a", 100)
	checkExactlyOnce(t, ts, "lane-b", 100)
}

// The server refuses some lines for good (too large for its limit; an id
// reused with another body): the rest are delivered, the refused ones are
// counted, reported and kept in rejected.ndjson.
func TestRejectedLinesAreSetAsideNotLost(t *testing.T) {
	ts := newTestServer(t, limitsWithEvent(4096))
	var reports []string
	var mu sync.Mutex
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.OnError = func(err error) { mu.Lock(); reports = append(reports, err.Error()); mu.Unlock() }
	cfg.FlushInterval = time.Hour // one batch, by Flush
	c := newClient(t, cfg)
	ctx := WithSession(context.Background(), "rej")
	if err := c.Log(ctx, Event{ID: "fixed-1", Type: "prompt", Content: "first"}); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	for i := range 10 {
		e := Event{Type: "prompt", Content: fmt.Sprintf("rej-%d", i)}
		switch i {
		case 3:
			e.Content = strings.Repeat("x", 10000) // over the server's 4 KiB
		case 6:
			e.ID, e.Content = "fixed-1", "second body, same id"
		}
		if err := c.Log(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, c)
	var got []string
	for _, e := range ts.Ledger("acme") {
		got = append(got, e["content"].(string))
	}
	if want := "first rej-0 rej-1 rej-2 rej-4 rej-5 rej-7 rej-8 rej-9"; strings.Join(got, " ") != want {
		t.Fatalf("ledger %q, want %q", strings.Join(got, " "), want)
	}
	st := c.Stats()
	if st.Rejected != 2 || st.Sent != 9 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	kept, err := os.ReadFile(filepath.Join(c.SpoolDir(), rejectedFile))
	if err != nil || strings.Count(string(kept), "\n") != 2 || !strings.Contains(string(kept), "second body, same id") {
		t.Fatalf("rejected.ndjson: %q, %v", kept, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if all := strings.Join(reports, "\n"); !strings.Contains(all, "refused 1 events for good") || !strings.Contains(all, "rejected.ndjson") {
		t.Fatalf("rejections not reported: %s", all)
	}
}

// A 429 with Retry-After is waited out; a 401 keeps the events (it is
// retried, and reported) until a client with a good key sends them.
func TestRetryAfterAndAuthFailure(t *testing.T) {
	ts := NewTestServer(t)
	var first atomic.Int64
	var gap atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		if first.CompareAndSwap(0, now) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"code":"rate_limited","message":"slow down"}}`)
			return
		}
		gap.CompareAndSwap(0, now-first.Load())
		(&cutProxy{target: ts.URL}).ServeHTTP(w, r)
	}))
	defer front.Close()
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.URL = front.URL
	c := newClient(t, cfg)
	logMany(t, c, "ra", 20, nil)
	flush(t, c)
	checkExactlyOnce(t, ts, "ra", 20)
	if g := time.Duration(gap.Load()); g < 900*time.Millisecond {
		t.Fatalf("retried %v after a 429 with Retry-After: 1", g)
	}

	spool := t.TempDir()
	bad := fastConfig(t, ts, spool)
	bad.Token = "ct_not-a-real-key"
	var reported atomic.Value
	bad.OnError = func(err error) { reported.Store(err.Error()) }
	c1, err := New(bad)
	if err != nil {
		t.Fatal(err)
	}
	logMany(t, c1, "auth", 30, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = c1.Flush(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("flush with a bad key: %v", err)
	}
	if r, _ := reported.Load().(string); !strings.Contains(r, "HTTP 401") {
		t.Fatalf("a bad key must be reported: %q", r)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	c1.Close(ctx)
	cancel()
	good := fastConfig(t, ts, spool)
	c2 := newClient(t, good)
	flush(t, c2)
	checkExactlyOnce(t, ts, "auth", 30)
}

// Without a spool, memory is bounded: past MaxBuffer events are dropped,
// counted and reported. With a spool, past MaxSpoolBytes the same.
func TestBoundedMemoryAndFullSpool(t *testing.T) {
	ts := NewTestServer(t)
	ts.Stop()
	for _, spool := range []bool{false, true} {
		cfg := fastConfig(t, ts, t.TempDir())
		var drops atomic.Int32
		cfg.OnError = func(err error) {
			if errors.Is(err, ErrDropped) {
				drops.Add(1)
			}
		}
		if spool {
			cfg.MaxSpoolBytes = 64 << 10
		} else {
			cfg.DisableSpool = true
			cfg.MaxBuffer = 64 << 10
		}
		c := newClient(t, cfg)
		dropped := 0
		for i := range 2000 {
			err := c.Log(context.Background(), Event{Type: "prompt", Content: fmt.Sprintf("bounded-%d %s", i, strings.Repeat("y", 200))})
			if errors.Is(err, ErrDropped) {
				dropped++
			} else if err != nil {
				t.Fatal(err)
			}
			if i%100 == 0 {
				time.Sleep(15 * time.Millisecond) // let the writer move the buffer
			}
		}
		st := c.Stats()
		// Log reports the drops it decides; the writer can also drop an
		// event Log had accepted when the spool fills between the two (it
		// counts and reports those too), so Dropped may exceed Log's count.
		if dropped == 0 || st.Dropped < int64(dropped) || st.Dropped > int64(dropped)+50 || drops.Load() == 0 {
			t.Fatalf("spool=%v: %d dropped by Log, stats %+v, %d reports", spool, dropped, st, drops.Load())
		}
		if st.Pending != st.Logged-st.Dropped || st.Pending*250 > 2*64<<10 {
			t.Fatalf("spool=%v: %d pending: more than the bound holds", spool, st.Pending)
		}
	}
}

func TestLogRefusesBadEvents(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	ctx := context.Background()
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{}, "type is required"},
		{Event{Type: "Prompt"}, "must match"},
		{Event{Type: "access"}, "only by the server"},
		{Event{Type: "prompt", ID: "has space"}, "may hold only"},
		{Event{Type: "prompt", TenantID: "ACME"}, "tenant_id"},
		{Event{Type: "tool_call", Arguments: []string{"a"}}, "arguments must encode as a JSON object, not an array"},
		{Event{Type: "tool_call", Result: make(chan int)}, "result"},
		{Event{Type: "prompt", Content: strings.Repeat("z", 2<<20)}, "limit is"},
		{Event{Type: "prompt", Duration: -time.Second}, "negative"},
		{Event{Type: "prompt", Timestamp: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}, "outside the years 1970 to 2199"},
		{Event{Type: "prompt", Timestamp: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, "outside the years 1970 to 2199"},
	} {
		err := c.Log(ctx, tc.e)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.e.Type, err, tc.want)
		}
	}
	if st := c.Stats(); st.Logged != 0 {
		t.Fatalf("refused events counted as logged: %+v", st)
	}
}

// Durable mode: Log returns after the spool write is synced; concurrent
// callers all get their events delivered.
func TestDurableMode(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.Durable = true
	c := newClient(t, cfg)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logMany(t, c, fmt.Sprintf("durable%d", g), 50, nil)
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Spooled != 200 {
		t.Fatalf("after durable Logs returned, %d of 200 are in the spool", st.Spooled)
	}
	flush(t, c)
	for g := range 4 {
		checkExactlyOnce(t, ts, fmt.Sprintf("durable%d", g), 50)
	}
}

func limitsWithEvent(n int) ingestLimits {
	l := defaultLimits()
	l.MaxEventBytes = n
	return l
}

// With the root key, WithTenant sends events to other tenants: interleaved
// tenants are split into one-tenant requests and each ledger gets its own,
// in order.
func TestWithTenantSplitsRequestsByTenant(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.Token = ts.Root
	c := newClient(t, cfg)
	acme := WithSession(WithTenant(context.Background(), "acme"), "tenants")
	globex := WithSession(WithTenant(context.Background(), "globex"), "tenants")
	for i := range 40 {
		ctx := acme
		if i%3 == 0 {
			ctx = globex
		}
		if err := c.Log(ctx, Event{Type: "prompt", Content: fmt.Sprintf("tenants-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, c)
	for tenant, want := range map[string]func(int) bool{"acme": func(i int) bool { return i%3 != 0 }, "globex": func(i int) bool { return i%3 == 0 }} {
		var got, exp []string
		for _, e := range ts.Ledger(tenant) {
			got = append(got, e["content"].(string))
		}
		for i := range 40 {
			if want(i) {
				exp = append(exp, fmt.Sprintf("tenants-%d", i))
			}
		}
		if strings.Join(got, " ") != strings.Join(exp, " ") {
			t.Fatalf("%s ledger: %v, want %v", tenant, got, exp)
		}
	}
}
