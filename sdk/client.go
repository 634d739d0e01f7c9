package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Client. Only URL and Token matter for most users;
// every other field has a default.
type Config struct {
	URL   string // the server, e.g. http://127.0.0.1:7300 (default: $CLAWTRAIL_URL, then http://127.0.0.1:7300)
	Token string // an API key with the ingest role (default: $CLAWTRAIL_TOKEN)

	// FlushInterval is how often buffered events are written to the spool
	// and sent (default 200 ms). It bounds what a crash of the agent
	// process can lose: the events logged in the last FlushInterval.
	FlushInterval time.Duration
	// Durable makes Log return only after the event is written to the
	// spool and fsync'd, so a crash loses nothing Log returned for.
	// Concurrent Logs share one fsync.
	Durable bool

	BatchEvents int // events per request at most (default 1,000)
	BatchBytes  int // uncompressed bytes per request at most (default 1 MiB)
	// MaxBuffer bounds the memory Log buffers before the writer takes it
	// (default 8 MiB), and with the spool off the whole queue.
	MaxBuffer int

	SpoolDir      string // default: the user cache dir, per server URL and key
	DisableSpool  bool   // keep undelivered events in memory only (lost on exit)
	MaxSpoolBytes int64  // default 1 GiB; past it new events are dropped, loudly
	SegmentBytes  int64  // spool file size before a new one starts (default 16 MiB)

	DisableCompression bool          // gzip request bodies unless set
	MinBackoff         time.Duration // first retry delay (default 100 ms)
	MaxBackoff         time.Duration // retry delay cap (default 30 s)
	RequestTimeout     time.Duration // per request (default 30 s)
	MaxEventBytes      int           // the server's event size limit (default 1 MiB)
	MaxResultBytes     int           // wrappers cut a longer result or body, and say so (default 64 KiB)

	HTTPClient *http.Client // default: a client of its own (never http.DefaultTransport)
	// OnError receives delivery and spool problems (server unreachable,
	// events rejected or dropped). Default: logged with Logger.
	OnError func(error)
	Logger  *slog.Logger // default slog.Default()
}

// Stats are the client's counters since New.
type Stats struct {
	Logged     int64 // valid events given to Log (Dropped ones included)
	Spooled    int64 // events written to the spool (or the memory queue)
	Sent       int64 // events the server stored
	Duplicates int64 // events the server already had (a retry after a lost answer)
	Dropped    int64 // events lost because the spool or buffer was full
	Rejected   int64 // events the server refused for good (kept in the spool dir's rejected.ndjson)
	Recovered  int64 // events found in the spool from an earlier run
	Retries    int64 // requests retried
	Pending    int64 // events waiting for the server
	LastError  string
}

// Errors Log returns.
var (
	ErrClosed     = errors.New("clawtrail client is closed")
	ErrDropped    = errors.New("event dropped")
	ErrNotDurable = errors.New("event not written to the spool")
	ErrTooLarge   = errors.New("event too large")
)

// Client sends events to a clawtrail server. It is safe for concurrent
// use; make one per process and Close it on the way out.
type Client struct {
	cfg      Config
	http     *http.Client
	endpoint string
	idRand   uint64 // 48 random bits: this client's part of every id
	idSeq    atomic.Uint32
	capacity int64 // what may wait for the server, in bytes

	mu        sync.Mutex
	pend      []frame // logged, not yet written
	pendBytes int
	gen       uint64 // the write generation the next event joins
	synced    uint64 // generations before this are in the queue and fsync'd
	closed    bool
	stopped   atomic.Bool // the senders have stopped (Close)
	free      [][]byte    // frame buffers to reuse (spool mode)
	lastFrame int         // the size the last frame reached

	wmu      sync.Mutex // one writer at a time
	own      *lane
	lanes    []*lane // own first, then adopted ones
	writeReq chan struct{}
	stopW    chan struct{}
	wdone    chan struct{}
	sendCtx  context.Context
	stopSend context.CancelFunc
	senders  sync.WaitGroup
	progress notifier

	logged, spooled, sent, dups, dropped, rejected, recovered, retries atomic.Int64
	lastErr                                                            atomic.Pointer[string]
	rep                                                                reporter
}

// lane is one spool directory and the goroutine that drains it.
type lane struct {
	payload []byte       // a batch of several frames, reused
	zbuf    bytes.Buffer // the gzip'd request body, reused
	dir     string
	lock    *os.File
	q       queue
	wake    chan struct{}
	adopted bool // left by an earlier process; drained, then released
	done    atomic.Bool
}

// New starts a client. It opens the spool (sending what an earlier run
// left there first) and returns at once; it does not contact the server.
func New(cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, endpoint: strings.TrimRight(cfg.URL, "/") + "/v1/events",
		writeReq: make(chan struct{}, 1), stopW: make(chan struct{}), wdone: make(chan struct{})}
	c.rep.client = c
	c.http = cfg.HTTPClient
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.RequestTimeout,
		}}
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	c.idRand = binary.LittleEndian.Uint64(r[:]) >> 16

	if cfg.DisableSpool {
		c.capacity = int64(cfg.MaxBuffer)
		c.own = &lane{q: &memQueue{}, wake: make(chan struct{}, 1)}
		c.lanes = []*lane{c.own}
	} else {
		c.capacity = cfg.MaxSpoolBytes
		if err := c.openLanes(); err != nil {
			return nil, err
		}
	}
	c.sendCtx, c.stopSend = context.WithCancel(context.Background())
	for _, l := range c.lanes {
		c.senders.Add(1)
		go c.runSender(l)
	}
	go c.runWriter()
	return c, nil
}

func (cfg *Config) defaults() error {
	if cfg.URL == "" {
		cfg.URL = os.Getenv("CLAWTRAIL_URL")
	}
	if cfg.URL == "" {
		cfg.URL = "http://127.0.0.1:7300"
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return fmt.Errorf("clawtrail sdk: URL %q must start with http:// or https://", cfg.URL)
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv("CLAWTRAIL_TOKEN")
	}
	if cfg.Token == "" {
		return errors.New("clawtrail sdk: no API key: set Config.Token or CLAWTRAIL_TOKEN")
	}
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setD(&cfg.FlushInterval, 200*time.Millisecond)
	set(&cfg.BatchEvents, 1000)
	set(&cfg.BatchBytes, 1<<20)
	set(&cfg.MaxBuffer, 8<<20)
	set(&cfg.MaxEventBytes, 1<<20)
	set(&cfg.MaxResultBytes, 64<<10)
	setD(&cfg.MinBackoff, 100*time.Millisecond)
	setD(&cfg.MaxBackoff, 30*time.Second)
	setD(&cfg.RequestTimeout, 30*time.Second)
	if cfg.MaxSpoolBytes <= 0 {
		cfg.MaxSpoolBytes = 1 << 30
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 16 << 20
	}
	if cfg.Durable && cfg.DisableSpool {
		return errors.New("clawtrail sdk: Durable needs the spool (DisableSpool is set)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SpoolDir == "" && !cfg.DisableSpool {
		base, err := os.UserCacheDir()
		if err != nil {
			base = filepath.Join(os.TempDir(), "clawtrail-"+strconv.Itoa(os.Getuid()))
		}
		// One spool per server and key: events spooled with one key are
		// sent with that key. The key itself is never written down.
		h := sha256.Sum256([]byte(cfg.URL + "\x00" + cfg.Token))
		cfg.SpoolDir = filepath.Join(base, "clawtrail", "spool", hex.EncodeToString(h[:8]))
	}
	return nil
}

// openLanes takes the first free lane of the spool directory (one per
// process, so agents sharing a directory never interleave) and adopts
// every other free lane that still holds events: a crashed process's
// events are sent by the next one to start.
func (c *Client) openLanes() error {
	root := c.cfg.SpoolDir
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("clawtrail sdk: spool directory: %w", err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("clawtrail sdk: spool directory: %w", err)
	}
	existing := map[int]bool{}
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name(), "lane-"); ok && e.IsDir() {
			if i, err := strconv.Atoi(n); err == nil {
				existing[i] = true
			}
		}
	}
	const maxLanes = 256
	for i := 0; i < maxLanes && c.own == nil; i++ {
		l, ok, err := c.openLane(filepath.Join(root, "lane-"+strconv.Itoa(i)))
		if err != nil {
			c.closeLanes()
			return err
		}
		if ok {
			c.own = l
			delete(existing, i)
		}
	}
	if c.own == nil {
		return fmt.Errorf("clawtrail sdk: all %d lanes of spool %s are in use", maxLanes, root)
	}
	c.lanes = []*lane{c.own}
	for i := range existing {
		l, ok, err := c.openLane(filepath.Join(root, "lane-"+strconv.Itoa(i)))
		if err != nil {
			c.rep.report(fmt.Errorf("spool %s: %w", root, err))
			continue
		}
		if !ok {
			continue // another live process owns it
		}
		if acked, end := l.q.bounds(); acked >= end {
			l.q.close()
			unlock(l.lock)
			continue
		}
		l.adopted = true
		c.lanes = append(c.lanes, l)
	}
	return nil
}

func (c *Client) openLane(dir string) (*lane, bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("clawtrail sdk: spool: %w", err)
	}
	lock, ok, err := tryLock(filepath.Join(dir, "lock"))
	if err != nil || !ok {
		return nil, false, err
	}
	q, err := openFileQueue(dir, c.cfg.SegmentBytes, c.cfg.MaxSpoolBytes, c.rep.report)
	if err != nil {
		unlock(lock)
		return nil, false, fmt.Errorf("clawtrail sdk: spool %s: %w", dir, err)
	}
	acked, end := q.bounds()
	if end > acked {
		n := countEvents(q, acked, end)
		c.recovered.Add(n)
	}
	return &lane{dir: dir, lock: lock, q: q, wake: make(chan struct{}, 1)}, true, nil
}

// countEvents counts the events between two positions of a spool (for the
// Recovered counter; only at start).
func countEvents(q queue, from, to int64) int64 {
	var n int64
	for from < to {
		frames, err := q.read(from, 1<<20, 1<<30)
		if err != nil || len(frames) == 0 {
			break
		}
		for _, f := range frames {
			n += int64(f.count + f.lost)
		}
		from = frames[len(frames)-1].end
	}
	return n
}

func (c *Client) closeLanes() {
	for _, l := range c.lanes {
		if l.done.Load() {
			continue // an adopted lane its sender drained and released
		}
		l.q.close()
		if l.lock != nil {
			unlock(l.lock)
		}
	}
}

// SpoolDir is the lane directory this client spools to ("" with the
// spool off).
func (c *Client) SpoolDir() string { return c.own.dir }

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// appendULID appends a ULID whose 128 bits are ms (48), the client's
// random bits (48) and a counter (32): unique per client (the counter),
// across clients (the random bits), and increasing within a client
// millisecond by millisecond.
func appendULID(b []byte, ms, rnd uint64, ctr uint32) []byte {
	hi := ms<<16 | rnd>>32
	lo := rnd<<32 | uint64(ctr)
	// 26 characters of 5 bits from the top of the 130-bit (2 zero bits) value.
	for i := 25; i >= 0; i-- {
		shift := uint(5 * i)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift+5 > 64:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		b = append(b, crockford[v&31])
	}
	return b
}

// The server's timestamp range.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Log records e. It fills the identity fields e leaves empty from ctx
// (WithSession, WithUser, …), an id and the time, encodes the event and
// returns: it does not wait for the network, and it never blocks on the
// server. With Config.Durable it returns after the event is in the spool
// on disk. An error means the event was not taken (ErrInvalid naming the
// field, ErrTooLarge, ErrDropped when the spool is full, ErrClosed).
func (c *Client) Log(ctx context.Context, e Event) error {
	id := identityOf(ctx)
	id.fill(&e)
	return c.log(&e, false)
}

func (c *Client) log(e *Event, mustSync bool) error {
	if err := validType(e.Type); err != nil {
		return err
	}
	if e.ID != "" {
		if err := validID(e.ID); err != nil {
			return err
		}
	}
	if e.TenantID != "" {
		if err := validTenant(e.TenantID); err != nil {
			return err
		}
	}
	now := time.Now() // the id's time, and the event's unless it has one
	if e.Timestamp.IsZero() {
		e.Timestamp = now
	} else if e.Timestamp.Before(minTime) || !e.Timestamp.Before(maxTime) {
		return invalidf("timestamp %s is outside the years 1970 to 2199", e.Timestamp.UTC().Format(time.RFC3339))
	}
	bp := linePool.Get().(*[]byte)
	line := (*bp)[:0]
	if e.ID == "" {
		// A ULID (time-ordered, so the server's id index is appended to),
		// written straight into the line: no string to allocate.
		line = append(line, `{"id":"`...)
		line = appendULID(line, uint64(now.UnixMilli()), c.idRand, c.idSeq.Add(1))
		line = append(line, '"')
	}
	line, err := appendEvent(line, e)
	defer func() {
		if cap(line) <= 64<<10 {
			*bp = line[:0]
			linePool.Put(bp)
		}
	}()
	if err != nil {
		return err
	}
	if len(line) > c.cfg.MaxEventBytes {
		return fmt.Errorf("%w: a %s event is %d bytes encoded; the limit is %d", ErrTooLarge, e.Type, len(line), c.cfg.MaxEventBytes)
	}
	c.logged.Add(1)
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			c.logged.Add(-1)
			return ErrClosed
		}
		acked, end := c.own.q.bounds()
		// Frame headers count too (at most one per pending frame, and one
		// for a new frame), so the writer never finds the spool full.
		overhead := int64(len(c.pend)+1) * (headerSize + 64)
		if waiting := end - acked + int64(c.pendBytes); waiting+int64(len(line))+overhead > c.capacity {
			c.mu.Unlock()
			c.dropped.Add(1)
			err := fmt.Errorf("%w: %s is full (%d bytes waiting for the server); a %s event is lost", ErrDropped, c.queueName(), waiting, e.Type)
			c.rep.drop(err)
			return err
		}
		if c.pendBytes+len(line) <= c.cfg.MaxBuffer || c.pendBytes == 0 || c.cfg.DisableSpool {
			break
		}
		// The writer is MaxBuffer behind (an agent logging faster than the
		// disk takes it, or starved of CPU): this caller writes to the spool
		// itself. The only time Log waits for the disk without Durable.
		c.mu.Unlock()
		c.wmu.Lock()
		err := c.writeOnce(false)
		c.wmu.Unlock()
		c.mu.Lock()
		if err != nil && c.pendBytes+len(line) > c.cfg.MaxBuffer {
			c.mu.Unlock()
			c.dropped.Add(1)
			err := fmt.Errorf("%w: the disk refuses the spool (%v) and %d bytes wait in memory; a %s event is lost", ErrDropped, err, c.pendBytes, e.Type)
			c.rep.drop(err)
			return err
		}
	}
	n := len(c.pend)
	if n == 0 || c.pend[n-1].tenant != e.TenantID || c.pend[n-1].count >= c.cfg.BatchEvents || len(c.pend[n-1].lines)+len(line) > c.cfg.BatchBytes {
		var buf []byte
		if k := len(c.free); k > 0 {
			buf, c.free = c.free[k-1], c.free[:k-1]
		} else {
			// Sized like the last full frame, so a busy agent's frames do
			// not grow by doubling.
			buf = make([]byte, 0, max(4096, min(c.lastFrame, c.cfg.BatchBytes)))
		}
		if n > 0 {
			c.lastFrame = len(c.pend[n-1].lines) + len(line)
		}
		c.pend = append(c.pend, frame{tenant: e.TenantID, lines: buf})
		n++
	}
	f := &c.pend[n-1]
	f.lines = append(f.lines, line...)
	f.count++
	c.pendBytes += len(line)
	gen := c.gen
	trigger := c.pendBytes >= c.cfg.BatchBytes
	c.mu.Unlock()
	if c.cfg.Durable || mustSync {
		return c.writeThrough(gen)
	}
	if trigger {
		c.poke()
	}
	return nil
}

func (c *Client) queueName() string {
	if c.cfg.DisableSpool {
		return "the memory queue"
	}
	return "the spool " + c.own.dir
}

func (c *Client) poke() {
	select {
	case c.writeReq <- struct{}{}:
	default:
	}
}

// writeThrough returns once generation gen is written and synced: it
// writes itself (taking along everything else pending, so concurrent
// callers share one fsync) unless another caller already did.
func (c *Client) writeThrough(gen uint64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	done := c.synced > gen
	c.mu.Unlock()
	if done {
		return nil
	}
	if err := c.writeOnce(true); err != nil {
		return fmt.Errorf("%w: %v", ErrNotDurable, err)
	}
	return nil
}

// writeOnce moves what is pending to the queue, and with syncIt fsyncs
// it (and whatever earlier rounds wrote). Called with wmu held. Frames
// that reached the queue are counted and their buffers reused; on a write
// error the rest go back to the front of the pending list and are retried
// next round, unless the spool is full, in which case they are dropped,
// counted and reported.
func (c *Client) writeOnce(syncIt bool) error {
	c.mu.Lock()
	frames := c.pend
	gen := c.gen
	c.pend, c.pendBytes = nil, 0
	c.gen++
	c.mu.Unlock()
	var err error
	n := 0
	if len(frames) > 0 {
		_, n, err = c.own.q.append(frames)
	}
	if err == nil && syncIt {
		err = c.own.q.sync()
	}
	written, rest := frames[:n], frames[n:]
	full := errors.Is(err, errSpoolFull)
	c.mu.Lock()
	if !c.cfg.DisableSpool {
		// The spool copied them: the buffers can take new events.
		for _, f := range written {
			if len(c.free) < 64 && cap(f.lines) <= 2*c.cfg.BatchBytes && (len(c.free)+1)*cap(f.lines) <= c.cfg.MaxBuffer/2 {
				c.free = append(c.free, f.lines[:0])
			}
		}
	}
	if err != nil && !full && len(rest) > 0 {
		for _, f := range rest {
			c.pendBytes += len(f.lines)
		}
		c.pend = append(rest, c.pend...)
	}
	if err == nil && syncIt {
		c.synced = gen + 1
	}
	c.mu.Unlock()
	count := 0
	for _, f := range written {
		count += f.count
	}
	if count > 0 {
		c.spooled.Add(int64(count))
		select {
		case c.own.wake <- struct{}{}:
		default:
		}
	}
	if full {
		lost := 0
		for _, f := range rest {
			lost += f.count
		}
		c.dropped.Add(int64(lost))
		c.rep.drop(fmt.Errorf("%w: %s is full; %d events are lost", ErrDropped, c.queueName(), lost))
		return err
	}
	if err != nil {
		c.rep.report(fmt.Errorf("writing to %s: %w (%d events kept in memory, retried)", c.queueName(), err, len(rest)))
	}
	return err
}

func (c *Client) runWriter() {
	defer close(c.wdone)
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-c.writeReq:
		case <-t.C:
		case <-c.stopW:
			return
		}
		c.wmu.Lock()
		c.writeOnce(c.cfg.Durable)
		c.wmu.Unlock()
	}
}

// Flush writes what is buffered and waits until the server has every
// event logged before the call (and what earlier runs left in the spool),
// or ctx ends. On a deadline the events stay queued; the error says how
// many and why they are not delivered.
func (c *Client) Flush(ctx context.Context) error {
	c.wmu.Lock()
	err := c.writeOnce(!c.cfg.DisableSpool)
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	lanes := c.lanes // set in New, never changed
	targets := make([]int64, len(lanes))
	for i, l := range lanes {
		_, targets[i] = l.q.bounds()
	}
	for {
		ch := c.progress.wait()
		waiting := int64(0)
		for i, l := range lanes {
			acked, _ := l.q.bounds()
			if acked < targets[i] && !l.done.Load() {
				waiting += targets[i] - acked
			}
		}
		if waiting == 0 {
			return nil
		}
		if c.stopped.Load() {
			return fmt.Errorf("clawtrail sdk: flush: the client was closed with %d events not yet delivered (kept in %s)", c.Stats().Pending, c.queueName())
		}
		select {
		case <-ch:
		case <-ctx.Done():
			msg := ""
			if p := c.lastErr.Load(); p != nil {
				msg = "; last error: " + *p
			}
			return fmt.Errorf("clawtrail sdk: flush: %w with %d events not yet delivered (%d bytes, kept in %s)%s",
				ctx.Err(), c.Stats().Pending, waiting, c.queueName(), msg)
		}
	}
}

// Close flushes (see Flush) within ctx, then stops the client. Events the
// server has not taken by then stay in the spool and are sent by the next
// client that opens it; with the spool off they are lost, and counted as
// dropped.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	ferr := c.Flush(ctx)
	close(c.stopW)
	<-c.wdone
	c.wmu.Lock()
	c.writeOnce(!c.cfg.DisableSpool) // anything a racing Log added
	c.wmu.Unlock()
	c.stopSend()
	c.senders.Wait()
	c.stopped.Store(true)
	c.progress.broadcast() // a Flush still waiting returns
	if c.cfg.DisableSpool {
		if p := c.Stats().Pending; p > 0 {
			c.dropped.Add(p)
			c.rep.report(fmt.Errorf("closing with %d undelivered events and no spool: they are lost", p))
		}
	}
	c.closeLanes()
	return ferr
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	s := Stats{Logged: c.logged.Load(), Spooled: c.spooled.Load(), Sent: c.sent.Load(), Duplicates: c.dups.Load(),
		Dropped: c.dropped.Load(), Rejected: c.rejected.Load(), Recovered: c.recovered.Load(), Retries: c.retries.Load()}
	s.Pending = s.Logged + s.Recovered - s.Sent - s.Duplicates - s.Dropped - s.Rejected
	if s.Pending < 0 {
		s.Pending = 0
	}
	if p := c.lastErr.Load(); p != nil {
		s.LastError = *p
	}
	return s
}

// notifier wakes every waiter when progress is made.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// reporter sends problems to OnError or the logger, folding repeats: a
// failure that persists is reported when it starts and then at most every
// 30 s; drops at most once a second, with the running total.
type reporter struct {
	client   *Client
	mu       sync.Mutex
	lastMsg  string
	lastAt   time.Time
	lastDrop time.Time
}

func (r *reporter) emit(err error) {
	if f := r.client.cfg.OnError; f != nil {
		f(err)
		return
	}
	r.client.cfg.Logger.Error("clawtrail sdk: " + err.Error())
}

func (r *reporter) report(err error) {
	msg := err.Error()
	r.client.lastErr.Store(&msg)
	r.mu.Lock()
	now := time.Now()
	repeat := msg == r.lastMsg && now.Sub(r.lastAt) < 30*time.Second
	if !repeat {
		r.lastMsg, r.lastAt = msg, now
	}
	r.mu.Unlock()
	if !repeat {
		r.emit(err)
	}
}

func (r *reporter) drop(err error) {
	msg := err.Error()
	r.client.lastErr.Store(&msg)
	r.mu.Lock()
	now := time.Now()
	emit := now.Sub(r.lastDrop) >= time.Second
	if emit {
		r.lastDrop = now
	}
	r.mu.Unlock()
	if emit {
		r.emit(fmt.Errorf("%w (%d dropped so far)", err, r.client.dropped.Load()))
	}
}

// recovered is called when delivery works again after a failure.
func (r *reporter) ok() {
	r.mu.Lock()
	was := r.lastMsg
	r.lastMsg = ""
	r.mu.Unlock()
	if was != "" {
		r.client.lastErr.Store(nil)
	}
}
