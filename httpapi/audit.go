package httpapi

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/redact"
	"github.com/clawtrail/clawtrail/strictjson"
	"github.com/oklog/ulid/v2"
)

// The audit log audits itself (SPEC §2): every failed authentication is an
// `auth` event, every read by a key an `access` event, every change of keys
// or configuration a `config_change` event — in the same tamper-evident
// ledger as the agents' events.
//
// Access and auth events are queued and appended in the background (one
// group commit per flush, every AuditFlush), so a read never waits for an
// fsync and a storm of bad requests cannot force one per request: the first
// failure from a source (per tenant, reason and key) is recorded at the
// next flush, repeats from that source (same tenant and reason) within the
// window (AuthWindow) fold into one event with a count, whatever key ids they
// present. A crash loses at most the queued records of one flush
// interval. config_change events are appended synchronously: the change is
// answered only once its record is durable.

// SystemTenant receives failed authentications that name no tenant.
const SystemTenant = "system"

// Defaults of the audit recorder.
const (
	DefaultAuditFlush = 200 * time.Millisecond
	DefaultAuthWindow = time.Minute
	maxAuditQueue     = 100000 // queued access/auth events; beyond, they are counted as dropped
	maxFailSources    = 10000  // distinct (tenant, source, reason, key) failure buckets per window
)

type auditor struct {
	store  Store
	now    func() time.Time
	m      *Metrics
	flush  time.Duration
	window time.Duration

	mu      sync.Mutex
	queue   map[qkey][]clawtrail.Pending
	queued  int
	fails   map[failKey]*failAgg
	winEnd  time.Time
	stop    chan struct{}
	done    chan struct{}
	stopped bool
}

type qkey struct{ tenant, keyID string }

// failKey is a failure bucket: repeats from one source, for one reason, in
// one tenant fold into one record (whatever key ids they present).
type failKey struct{ tenant, source, reason string }

type failAgg struct {
	repeats     int // failures after the first, not yet recorded
	first, last time.Time
	path        string
	keyID       string         // the first failure's key id
	keys        map[string]int // distinct key ids of the repeats (at most 100 kept)
}

func newAuditor(store Store, now func() time.Time, m *Metrics, flush, window time.Duration) *auditor {
	if flush <= 0 {
		flush = DefaultAuditFlush
	}
	if window <= 0 {
		window = DefaultAuthWindow
	}
	a := &auditor{store: store, now: now, m: m, flush: flush, window: window,
		queue: map[qkey][]clawtrail.Pending{}, fails: map[failKey]*failAgg{},
		stop: make(chan struct{}), done: make(chan struct{})}
	a.winEnd = now().Add(window)
	go a.run()
	return a
}

func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// event builds a server record.
func (a *auditor) event(typ, user, reason, path string, attrs map[string]string, counts map[string]int64) clawtrail.Pending {
	e := &clawtrail.Event{ID: ulid.Make().String(), Seq: -1, Type: typ, Timestamp: a.now().UTC(),
		UserID: user, Reason: reason, Path: path}
	obj := strictjson.Value{Kind: strictjson.Object}
	for k, v := range attrs {
		if v != "" {
			obj.Members = append(obj.Members, strictjson.Member{Key: k, Value: strictjson.StringValue(v)})
		}
	}
	for k, n := range counts {
		obj.Members = append(obj.Members, strictjson.Member{Key: k, Value: strictjson.Value{Kind: strictjson.Number, Str: strconv.FormatInt(n, 10)}})
	}
	if len(obj.Members) > 0 {
		e.Attributes = &obj
	}
	var h [16]byte
	rand.Read(h[:]) // server records are never retried: a unique idempotency hash
	return clawtrail.Pending{Event: e, ReqHash: h}
}

func (a *auditor) enqueue(tenant, keyID string, p clawtrail.Pending) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped || a.queued >= maxAuditQueue {
		a.m.auditDropped.Inc()
		return
	}
	k := qkey{tenant, keyID}
	a.queue[k] = append(a.queue[k], p)
	a.queued++
}

// access records a read by a key: what it asked (action and query), the
// time range, and how many events it was given.
func (a *auditor) access(r *http.Request, c caller, action, query string, count int64) {
	q := r.URL.Query()
	// The query text is what a reader typed: it can hold the very secret
	// they were looking for. It is cut to a bounded length (a reader must
	// not be able to fill the ledger through its own access records) and
	// redacted before it is stored.
	query, _ = redact.Secrets(clip(query))
	user := c.key.Name
	if user == "" {
		user = "key:" + c.key.ID
	}
	a.enqueue(c.tenant, c.key.ID, a.event(clawtrail.TypeAccess, user, action, clip(r.URL.Path), map[string]string{
		"action": action, "query": query, "from": q.Get("from"), "to": q.Get("to"),
		"role": string(c.key.Role), "source": sourceOf(r), "key_name": c.key.Name,
	}, map[string]int64{"result_count": count}))
}

// authFailure records a failed authentication or authorisation. tenant is
// the tenant concerned ("" when none is known: the system tenant).
func (a *auditor) authFailure(r *http.Request, tenant, keyID, reason string) {
	if tenant == "" {
		tenant = SystemTenant
	}
	k := failKey{tenant: tenant, source: sourceOf(r), reason: reason}
	now := a.now()
	a.mu.Lock()
	agg, seen := a.fails[k]
	if !seen && len(a.fails) >= maxFailSources {
		// A storm from many sources: one bucket for the overflow.
		k = failKey{tenant: SystemTenant, source: "*", reason: "many sources"}
		agg, seen = a.fails[k]
	}
	if seen {
		agg.repeats++
		agg.last = now
		if keyID != "" && len(agg.keys) < 100 {
			if agg.keys == nil {
				agg.keys = map[string]int{}
			}
			agg.keys[keyID]++
		}
		a.mu.Unlock()
		return
	}
	a.fails[k] = &failAgg{first: now, last: now, path: clip(r.URL.Path), keyID: keyID}
	a.mu.Unlock()
	a.enqueue(k.tenant, "", a.event(clawtrail.TypeAuth, "", k.reason, clip(r.URL.Path), map[string]string{
		"source": k.source, "key_id": keyID, "method": r.Method,
	}, map[string]int64{"count": 1}))
}

// configChange records a change durably, before it is answered. It is
// not cut short by the client going away.
func (a *auditor) configChange(ctx context.Context, tenant string, by clawtrail.APIKey, action string, attrs map[string]string) error {
	ctx = context.WithoutCancel(ctx)
	user := by.Name
	if user == "" {
		user = "key:" + by.ID
	}
	attrs["action"] = action
	attrs["by_key"] = by.ID
	_, err := a.store.Append(ctx, tenant, by.ID, []clawtrail.Pending{a.event(clawtrail.TypeConfigChange, user, action, "", attrs, nil)})
	return err
}

func (a *auditor) run() {
	defer close(a.done)
	t := time.NewTicker(a.flush)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			a.flushNow(false)
		case <-a.stop:
			a.flushNow(true)
			return
		}
	}
}

// flushNow appends what is queued; at the end of an auth window (or at
// stop) it also records the folded repeats of each failure bucket.
func (a *auditor) flushNow(final bool) {
	now := a.now()
	a.mu.Lock()
	if final || !now.Before(a.winEnd) {
		for k, agg := range a.fails {
			if agg.repeats > 0 && a.queued >= maxAuditQueue {
				a.m.auditDropped.Inc()
			}
			if agg.repeats > 0 && a.queued < maxAuditQueue {
				p := a.event(clawtrail.TypeAuth, "", k.reason, agg.path, map[string]string{
					"source": k.source, "key_id": agg.keyID,
					"first_seen": agg.first.UTC().Format(time.RFC3339Nano), "last_seen": agg.last.UTC().Format(time.RFC3339Nano),
				}, map[string]int64{"count": int64(agg.repeats), "distinct_key_ids": int64(len(agg.keys))})
				q := qkey{k.tenant, ""}
				a.queue[q] = append(a.queue[q], p)
				a.queued++
			}
		}
		clear(a.fails)
		a.winEnd = now.Add(a.window)
	}
	queue := a.queue
	a.queue = map[qkey][]clawtrail.Pending{}
	a.queued = 0
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for k, events := range queue {
		keyID := k.keyID
		if keyID == "" {
			keyID = "server"
		}
		if _, err := a.store.Append(ctx, k.tenant, keyID, events); err != nil {
			a.m.auditDropped.Add(float64(len(events)))
		}
	}
}

// close records what is queued and stops.
func (a *auditor) close() {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	a.mu.Unlock()
	close(a.stop)
	<-a.done
}

// maxRecorded bounds a path or query text copied into a record.
const maxRecorded = 1024

// clip cuts s to maxRecorded bytes (on a rune boundary), marking the cut.
func clip(s string) string {
	if len(s) <= maxRecorded {
		return s
	}
	i := maxRecorded
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…[cut]"
}
