package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/query"
	"github.com/clawtrail/clawtrail/strictjson"
	"github.com/oklog/ulid/v2"
)

// Retention, legal holds and erasure (docs/data-protection.md). Each change
// runs in the sequencer's transaction together with the ledger event that
// records it (a config_change or a tombstone), so the ledger and the state
// tables never disagree, and verify can check every deletion against the
// policy and holds the ledger itself records.

// Actor is who asked for a change: an API key and its name.
type Actor struct{ KeyID, Name string }

func (a Actor) user() string {
	if a.Name != "" {
		return a.Name
	}
	return "key:" + a.KeyID
}

// serverEvent builds one of the server's own records.
func (s *Store) serverEvent(typ, user, reason string, attrs map[string]string) clawtrail.Pending {
	e := &clawtrail.Event{ID: ulid.Make().String(), Seq: -1, Type: typ, Timestamp: s.now().UTC(), UserID: user, Reason: reason}
	setAttrs(e, attrs)
	var h [16]byte
	rand.Read(h[:]) // never retried: a unique idempotency hash
	return clawtrail.Pending{Event: e, ReqHash: h}
}

func setAttrs(e *clawtrail.Event, attrs map[string]string) {
	obj := strictjson.Value{Kind: strictjson.Object}
	for k, v := range attrs {
		obj.Members = append(obj.Members, strictjson.Member{Key: k, Value: strictjson.StringValue(v)})
	}
	e.Attributes = &obj
}

// change runs one request of server records whose pre step changes state.
func (s *Store) change(ctx context.Context, tenant, keyID string, events []clawtrail.Pending,
	pre func(ctx context.Context, g *groupTx, r *appendReq) error, post func()) (AppendResult, error) {
	for i := range events {
		e := events[i].Event
		e.TenantID, e.KeyID = tenant, keyID
		retail(&events[i])
	}
	return s.submit(ctx, &appendReq{tenant: tenant, keyID: keyID, events: events, done: make(chan struct{}), pre: pre, post: post})
}

// retail re-encodes an event's tail after pre changed it.
func retail(p *clawtrail.Pending) { p.Tail = p.Event.AppendTail(p.Tail[:0]) }

// MinRetention is the shortest policy allowed without AllowShort.
const MinRetention = 24 * time.Hour

// Policy is a tenant's retention policy.
type Policy struct {
	Tenant string        `json:"tenant"`
	Keep   time.Duration `json:"-"`
	Locked bool          `json:"locked"`
	SetAt  time.Time     `json:"set_at"`
	SetSeq int64         `json:"set_seq"`
}

// MarshalJSON adds keep in seconds and days.
func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	return json.Marshal(struct {
		plain
		KeepSeconds int64   `json:"keep_seconds"`
		KeepDays    float64 `json:"keep_days"`
	}{plain(p), int64(p.Keep / time.Second), p.Keep.Hours() / 24})
}

// SetRetention sets a tenant's retention policy: events whose received_at
// is older than keep are deleted by the retention job. A locked policy may
// only lengthen, and stays locked.
func (s *Store) SetRetention(ctx context.Context, tenant string, by Actor, keep time.Duration, lock, allowShort bool) (Policy, error) {
	if keep <= 0 {
		return Policy{}, &clawtrail.InvalidError{Message: "retention must be a positive duration (with no policy, events are kept for ever)"}
	}
	if keep < MinRetention && !allowShort {
		return Policy{}, &clawtrail.InvalidError{Message: fmt.Sprintf("retention of %s is under 1 day: pass --allow-short (allow_short=true) if that is meant", keep)}
	}
	if _, err := s.EnsureTenant(ctx, tenant); err != nil {
		return Policy{}, err
	}
	ev := s.serverEvent(clawtrail.TypeConfigChange, by.user(), "retention.set", nil)
	var out Policy
	pre := func(ctx context.Context, g *groupTx, r *appendReq) error {
		cur, ok, err := readPolicy(ctx, g.tx, r.tid, tenant)
		if err != nil {
			return err
		}
		if ok && cur.Locked && keep < cur.Keep {
			return &refusal{fmt.Errorf("%w: the retention policy of tenant %q is locked at %s; it may only lengthen", clawtrail.ErrForbidden, tenant, fmtKeep(cur.Keep))}
		}
		locked := lock || (ok && cur.Locked)
		seq := g.next(r.tid)
		if _, err := g.tx.ExecContext(ctx, `INSERT INTO retention(tid, keep_ns, locked, set_seq, set_at, next_seq) VALUES (?,?,?,?,?,0)
			ON CONFLICT(tid) DO UPDATE SET keep_ns=excluded.keep_ns, locked=excluded.locked, set_seq=excluded.set_seq, set_at=excluded.set_at, next_seq=0`,
			r.tid, int64(keep), locked, seq, g.now); err != nil {
			return err
		}
		p := &r.events[0]
		setAttrs(p.Event, map[string]string{"action": "retention.set", "keep_ns": strconv.FormatInt(int64(keep), 10),
			"keep": fmtKeep(keep), "locked": strconv.FormatBool(locked), "by_key": by.KeyID})
		retail(p)
		out = Policy{Tenant: tenant, Keep: keep, Locked: locked, SetAt: time.Unix(0, g.now).UTC(), SetSeq: seq}
		return nil
	}
	if _, err := s.change(ctx, tenant, by.KeyID, []clawtrail.Pending{ev}, pre, nil); err != nil {
		return Policy{}, err
	}
	return out, nil
}

func fmtKeep(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func readPolicy(ctx context.Context, db queryer, tid int64, tenant string) (Policy, bool, error) {
	var keep, setSeq, setAt int64
	var locked bool
	err := db.QueryRowContext(ctx, `SELECT keep_ns, locked, set_seq, set_at FROM retention WHERE tid=?`, tid).Scan(&keep, &locked, &setSeq, &setAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, false, nil
	}
	if err != nil {
		return Policy{}, false, err
	}
	return Policy{Tenant: tenant, Keep: time.Duration(keep), Locked: locked, SetSeq: setSeq, SetAt: time.Unix(0, setAt).UTC()}, true, nil
}

// RetentionPolicy returns a tenant's policy (false: none, kept for ever).
func (s *Store) RetentionPolicy(ctx context.Context, tenant string) (Policy, bool, error) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return Policy{}, false, nil
	}
	return readPolicy(ctx, s.reader, tid, tenant)
}

// RetentionTenants lists the tenants that have a policy.
func (s *Store) RetentionTenants(ctx context.Context) ([]string, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT t.name FROM retention r JOIN tenants t ON t.tid = r.tid ORDER BY t.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// RetentionRun says what one retention run did.
type RetentionRun struct {
	Tenant     string  `json:"tenant"`
	Deleted    int64   `json:"deleted"`
	Held       int64   `json:"held"`       // past the policy but kept by a legal hold
	Tombstones []int64 `json:"tombstones"` // their seqs
}

// RetentionBatch bounds the events one retention transaction examines.
const RetentionBatch = 5000

// RunRetention applies a tenant's policy now: in transactions of at most
// RetentionBatch events, it deletes the bodies (and salts) of events whose
// received_at is older than the policy allows and no hold covers, and
// appends a tombstone naming them. Tombstones and config changes are never
// deleted (verify needs them). Afterwards the WAL is checkpointed so the
// deleted bytes leave it too.
func (s *Store) RunRetention(ctx context.Context, tenant string, by Actor) (RetentionRun, error) {
	run := RetentionRun{Tenant: tenant, Tombstones: []int64{}}
	if _, ok := s.tenantID(tenant); !ok {
		return run, nil
	}
	for {
		var done bool
		var deleted, held int64
		ev := s.serverEvent(clawtrail.TypeTombstone, by.user(), "retention", nil)
		pre := func(ctx context.Context, g *groupTx, r *appendReq) error {
			var err error
			deleted, held, done, err = s.retentionBatch(ctx, g, r, by)
			return err
		}
		res, err := s.change(ctx, tenant, by.KeyID, []clawtrail.Pending{ev}, pre, nil)
		if err != nil {
			return run, err
		}
		run.Deleted += deleted
		run.Held += held
		if deleted > 0 {
			run.Tombstones = append(run.Tombstones, res.FirstSeq)
		}
		if done {
			break
		}
	}
	if run.Deleted > 0 {
		s.checkpointWAL(ctx)
	}
	return run, nil
}

// checkpointWAL copies the WAL into the database and truncates it, so that
// deleted plaintext does not linger in ledger.db-wal.
func (s *Store) checkpointWAL(ctx context.Context) {
	if _, err := s.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		s.log.Warn("WAL checkpoint after deletion", "err", err)
	}
}

type holdRule struct {
	id string
	q  *query.Query
}

func (s *Store) activeHolds(ctx context.Context, db queryer, tid int64) ([]holdRule, error) {
	hs, err := s.readHolds(ctx, db, tid, false)
	if err != nil {
		return nil, err
	}
	var out []holdRule
	for _, h := range hs {
		q, err := query.Parse(h.Query)
		if err != nil {
			return nil, fmt.Errorf("hold %s: %w", h.ID, err)
		}
		out = append(out, holdRule{h.ID, q})
	}
	return out, nil
}

func heldBy(holds []holdRule, e *clawtrail.Event) string {
	for _, h := range holds {
		if h.q.Match(e) {
			return h.id
		}
	}
	return ""
}

func (s *Store) retentionBatch(ctx context.Context, g *groupTx, r *appendReq, by Actor) (deleted, held int64, done bool, err error) {
	var keep, setSeq, next int64
	err = g.tx.QueryRowContext(ctx, `SELECT keep_ns, set_seq, next_seq FROM retention WHERE tid=?`, r.tid).Scan(&keep, &setSeq, &next)
	if errors.Is(err, sql.ErrNoRows) {
		r.events = nil // no policy: keep for ever
		return 0, 0, true, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	cutoff := g.now - keep
	holds, err := s.activeHolds(ctx, g.tx, r.tid)
	if err != nil {
		return 0, 0, false, err
	}
	rows, err := g.tx.QueryContext(ctx, `SELECT seq, id, dk, body, received_at, type FROM events WHERE tid=? AND seq>=? ORDER BY seq LIMIT ?`, r.tid, next, RetentionBatch)
	if err != nil {
		return 0, 0, false, err
	}
	pk := &packs{db: g.tx}
	defer pk.close()
	var doomed []int64
	n := 0
	done = true
	for rows.Next() {
		n++
		var seq, received int64
		var id, typ string
		var dk sql.NullInt64
		var body []byte
		if err := rows.Scan(&seq, &id, &dk, &body, &received, &typ); err != nil {
			rows.Close()
			return 0, 0, false, err
		}
		if received > cutoff {
			break // received_at grows with seq: nothing later is due
		}
		next = seq + 1
		if n == RetentionBatch {
			done = false
		}
		if body == nil || typ == clawtrail.TypeTombstone || typ == clawtrail.TypeConfigChange {
			continue
		}
		if len(holds) > 0 {
			plain, err := s.storedBody(ctx, pk, r.tid, seq, id, received, dk, body)
			if err != nil {
				rows.Close()
				return 0, 0, false, err
			}
			if plain != nil {
				if e, err := clawtrail.ParseEvent(plain); err == nil && heldBy(holds, e) != "" {
					held++
					continue
				}
			}
		}
		doomed = append(doomed, seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, false, err
	}
	if _, err := g.tx.ExecContext(ctx, `UPDATE retention SET next_seq=? WHERE tid=?`, next, r.tid); err != nil {
		return 0, 0, false, err
	}
	if err := deleteBodies(ctx, g.tx, s.packLRU, r.tid, doomed); err != nil {
		return 0, 0, false, err
	}
	if len(doomed) == 0 {
		r.events = nil
		return 0, held, done, nil
	}
	p := &r.events[0]
	setAttrs(p.Event, map[string]string{"cause": ledger.CauseRetention, "deleted": ledger.FormatRanges(doomed),
		"keep_ns": strconv.FormatInt(keep, 10), "policy_seq": strconv.FormatInt(setSeq, 10),
		"cutoff_ns": strconv.FormatInt(cutoff, 10), "count": strconv.Itoa(len(doomed)), "by_key": by.KeyID})
	retail(p)
	return int64(len(doomed)), held, done, nil
}

// deleteBodies clears the bodies and salts of seqs, and their entries in
// packs (secure_delete zeroes the freed bytes).
func deleteBodies(ctx context.Context, tx *sql.Tx, cache *packLRU, tid int64, seqs []int64) error {
	for start := 0; start < len(seqs); start += 500 {
		chunk := seqs[start:min(start+500, len(seqs))]
		args := []any{tid}
		for _, q := range chunk {
			args = append(args, q)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE events SET body=NULL, salt=NULL WHERE tid=? AND seq IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...); err != nil {
			return err
		}
	}
	return prunePacks(ctx, tx, cache, tid, seqs)
}

// Hold is a legal hold: events matching Query (all of the tenant's when
// empty) are exempt from retention and erasure until it is released.
type Hold struct {
	ID         string     `json:"id"`
	Tenant     string     `json:"tenant"`
	Query      string     `json:"query"`
	Reason     string     `json:"reason"`
	By         string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedSeq int64      `json:"created_seq"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
}

type holdSpec struct {
	Query  string `json:"query"`
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// AddHold places a legal hold.
func (s *Store) AddHold(ctx context.Context, tenant string, by Actor, q, reason string) (Hold, error) {
	if strings.TrimSpace(reason) == "" {
		return Hold{}, &clawtrail.InvalidError{Message: "a hold needs a reason (--reason)"}
	}
	if _, err := query.Parse(q); err != nil {
		return Hold{}, &clawtrail.InvalidError{Message: "hold query: " + err.Error()}
	}
	tk, err := s.EnsureTenant(ctx, tenant)
	if err != nil {
		return Hold{}, err
	}
	id := "hold_" + strings.ToLower(ulid.Make().String())
	scope := "query"
	if strings.TrimSpace(q) == "" {
		scope = "tenant"
	}
	ev := s.serverEvent(clawtrail.TypeConfigChange, by.user(), reason, map[string]string{"action": "hold.add", "hold_id": id,
		"scope": scope, "query": q, "by_key": by.KeyID})
	h := Hold{ID: id, Tenant: tenant, Query: q, Reason: reason, By: by.user()}
	spec, _ := json.Marshal(holdSpec{q, reason, by.user()})
	sealed := 0
	if s.Encrypted() {
		spec, sealed = tk.Wrap.Seal(nil, spec, []byte("hold/"+id)), 1
	}
	pre := func(ctx context.Context, g *groupTx, r *appendReq) error {
		h.CreatedSeq, h.CreatedAt = g.next(r.tid), time.Unix(0, g.now).UTC()
		_, err := g.tx.ExecContext(ctx, `INSERT INTO holds(id, tid, spec, sealed, created_at, created_seq) VALUES (?,?,?,?,?,?)`,
			id, r.tid, spec, sealed, g.now, h.CreatedSeq)
		return err
	}
	if _, err := s.change(ctx, tenant, by.KeyID, []clawtrail.Pending{ev}, pre, nil); err != nil {
		return Hold{}, err
	}
	return h, nil
}

// ReleaseHold releases a hold; the next retention run re-examines the
// events it kept.
func (s *Store) ReleaseHold(ctx context.Context, tenant string, by Actor, id string) error {
	if _, ok := s.tenantID(tenant); !ok {
		return fmt.Errorf("%w: no hold %s", clawtrail.ErrNotFound, id)
	}
	ev := s.serverEvent(clawtrail.TypeConfigChange, by.user(), "hold.release", map[string]string{"action": "hold.release", "hold_id": id, "by_key": by.KeyID})
	pre := func(ctx context.Context, g *groupTx, r *appendReq) error {
		res, err := g.tx.ExecContext(ctx, `UPDATE holds SET released_at=?, released_seq=? WHERE id=? AND tid=? AND released_at IS NULL`, g.now, g.next(r.tid), id, r.tid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &refusal{fmt.Errorf("%w: tenant %q has no active hold %s", clawtrail.ErrNotFound, tenant, id)}
		}
		_, err = g.tx.ExecContext(ctx, `UPDATE retention SET next_seq=0 WHERE tid=?`, r.tid)
		return err
	}
	_, err := s.change(ctx, tenant, by.KeyID, []clawtrail.Pending{ev}, pre, nil)
	return err
}

// Holds lists a tenant's holds (released ones too when all).
func (s *Store) Holds(ctx context.Context, tenant string, all bool) ([]Hold, error) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return []Hold{}, nil
	}
	return s.readHolds(ctx, s.reader, tid, all)
}

func (s *Store) readHolds(ctx context.Context, db queryer, tid int64, all bool) ([]Hold, error) {
	q := `SELECT id, spec, sealed, created_at, created_seq, released_at FROM holds WHERE tid=?`
	if !all {
		q += ` AND released_at IS NULL`
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY created_seq`, tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tk := s.keys.tenant(tid)
	name := s.keys.tenantName(tid)
	out := []Hold{}
	for rows.Next() {
		var h Hold
		var spec []byte
		var sealed bool
		var created int64
		var released sql.NullInt64
		if err := rows.Scan(&h.ID, &spec, &sealed, &created, &h.CreatedSeq, &released); err != nil {
			return nil, err
		}
		if sealed {
			if tk == nil {
				return nil, fmt.Errorf("hold %s: no tenant keys", h.ID)
			}
			if spec, err = tk.Wrap.Open(nil, spec, []byte("hold/"+h.ID)); err != nil {
				return nil, fmt.Errorf("hold %s does not open: %w", h.ID, err)
			}
		}
		var hs holdSpec
		if err := json.Unmarshal(spec, &hs); err != nil {
			return nil, fmt.Errorf("hold %s: %w", h.ID, err)
		}
		h.Tenant, h.Query, h.Reason, h.By = name, hs.Query, hs.Reason, hs.By
		h.CreatedAt = time.Unix(0, created).UTC()
		if released.Valid {
			t := time.Unix(0, released.Int64).UTC()
			h.ReleasedAt = &t
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Erasure says what an erasure did.
type Erasure struct {
	Tenant    string `json:"tenant"`
	Erased    int64  `json:"erased"`
	Held      int64  `json:"held"` // kept (re-keyed) because a legal hold covers them
	KeysShred int64  `json:"keys_destroyed"`
	Tombstone int64  `json:"tombstone_seq"`
}

// Erase erases a data subject (GDPR art. 17): every event of the tenant
// whose user_id is user, except the server's own records and events under
// a legal hold. With encryption on, the subject's data keys are destroyed
// (crypto-shredding) after the events a hold keeps are re-sealed under a
// fresh held key; the bodies are deleted too (secure_delete) and the index
// drops their rows when it reaches the tombstone. Without encryption the
// bodies are purged physically. A tombstone records the erasure (naming
// the subject only by its keyed hash).
func (s *Store) Erase(ctx context.Context, tenant string, by Actor, user string) (Erasure, error) {
	out := Erasure{Tenant: tenant}
	if user == "" {
		return out, &clawtrail.InvalidError{Message: "erase needs a user (--user)"}
	}
	tid, ok := s.tenantID(tenant)
	if !ok {
		return out, fmt.Errorf("%w: tenant %q", clawtrail.ErrNotFound, tenant)
	}
	tk := s.keys.tenant(tid)
	// Candidates from the index (after it has caught up with the ledger as
	// of now); the sequencer adds what was committed since.
	head := s.Head(tenant)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := s.WaitIndexed(wctx, tenant, head-1)
	cancel()
	if err != nil {
		return out, fmt.Errorf("%w: the search index is behind; try again", clawtrail.ErrUnavailable)
	}
	val := user
	if s.Encrypted() {
		val = tk.Blind("user_id", user)
	}
	cand, err := s.queryKeys(ctx, `SELECT k, seq, ts FROM ev WHERE tid=? AND user_id=?`, tid, val)
	if err != nil {
		return out, err
	}
	subject := tk.subjectOf(user)
	ev := s.serverEvent(clawtrail.TypeTombstone, by.user(), "erasure", nil)
	var destroyed []int64
	pre := func(ctx context.Context, g *groupTx, r *appendReq) error {
		seqs := map[int64]bool{}
		for _, c := range cand {
			seqs[c.seq] = true
		}
		// What the index may not hold yet.
		if s.Encrypted() {
			rows, err := g.tx.QueryContext(ctx, `SELECT seq FROM events WHERE tid=? AND dk IN (SELECT id FROM data_keys WHERE tid=? AND subject=?)`, tid, tid, subject[:])
			if err != nil {
				return err
			}
			for rows.Next() {
				var q int64
				rows.Scan(&q)
				seqs[q] = true
			}
			rows.Close()
		}
		for q := s.Indexed(tenant); q < g.next(tid); q++ {
			seqs[q] = true
		}
		holds, err := s.activeHolds(ctx, g.tx, tid)
		if err != nil {
			return err
		}
		var doomed []int64
		var heldKey dataKey
		pk := &packs{db: g.tx}
		defer pk.close()
		for q := range seqs {
			var id, typ string
			var dk sql.NullInt64
			var body []byte
			var received int64
			err := g.tx.QueryRowContext(ctx, `SELECT id, type, dk, body, received_at FROM events WHERE tid=? AND seq=?`, tid, q).Scan(&id, &typ, &dk, &body, &received)
			if errors.Is(err, sql.ErrNoRows) || body == nil || clawtrail.ReservedType(typ) {
				continue
			}
			if err != nil {
				return err
			}
			plain, err := s.storedBody(ctx, pk, tid, q, id, received, dk, body)
			if err != nil {
				return err
			}
			e, err := clawtrail.ParseEvent(plain)
			if err != nil || e.UserID != user {
				continue
			}
			if heldBy(holds, e) != "" {
				out.Held++
				// Re-seal a held sealed body under a held key; a body
				// stored in clear (before encryption was on) is under
				// no subject's key and stays as it is.
				if s.Encrypted() && dk.Valid {
					if heldKey.key == nil {
						if heldKey, err = g.newDataKey(ctx, tk, tenant, subjectRef{tid, subject}, true); err != nil {
							return err
						}
					}
					full, err := s.unseal(ctx, g.tx, tid, id, dk.Int64, body)
					if err != nil {
						return err
					}
					if full == nil {
						return fmt.Errorf("event %s: its data key is destroyed", id)
					}
					sealed := heldKey.key.Seal(nil, full, bodyAD(tenant, id))
					if _, err := g.tx.ExecContext(ctx, `UPDATE events SET body=?, dk=? WHERE tid=? AND seq=?`, sealed, heldKey.id, tid, q); err != nil {
						return err
					}
				}
				continue
			}
			doomed = append(doomed, q)
		}
		if err := deleteBodies(ctx, g.tx, s.packLRU, tid, doomed); err != nil {
			return err
		}
		if s.Encrypted() {
			rows, err := g.tx.QueryContext(ctx, `SELECT id FROM data_keys WHERE tid=? AND subject=? AND wrapped IS NOT NULL AND id != ?`, tid, subject[:], heldKey.id)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				rows.Scan(&id)
				destroyed = append(destroyed, id)
			}
			rows.Close()
			for _, id := range destroyed {
				if _, err := g.tx.ExecContext(ctx, `UPDATE data_keys SET wrapped=NULL, destroyed_at=? WHERE id=?`, g.now, id); err != nil {
					return err
				}
			}
			// The group's later requests must not use a destroyed key:
			// neither one made in this group nor the cached one (dropping
			// it early is harmless if the group fails: it is reloaded).
			delete(g.newData, subjectRef{tid, subject})
			s.keys.mu.Lock()
			delete(s.keys.active, subjectRef{tid, subject})
			s.keys.mu.Unlock()
		}
		out.Erased, out.KeysShred = int64(len(doomed)), int64(len(destroyed))
		p := &r.events[0]
		setAttrs(p.Event, map[string]string{"cause": ledger.CauseErasure, "deleted": ledger.FormatRanges(doomed),
			"subject": hex.EncodeToString(subject[:16]), "count": strconv.Itoa(len(doomed)),
			"kept_held": strconv.FormatInt(out.Held, 10), "keys_destroyed": strconv.Itoa(len(destroyed)), "by_key": by.KeyID})
		retail(p)
		return nil
	}
	post := func() { s.keys.forget(destroyed) }
	res, err := s.change(ctx, tenant, by.KeyID, []clawtrail.Pending{ev}, pre, post)
	if err != nil {
		return Erasure{Tenant: tenant}, err
	}
	out.Tombstone = res.FirstSeq
	s.checkpointWAL(ctx)
	return out, nil
}
