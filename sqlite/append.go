package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/ledger"
)

// AppendResult says what one append did.
type AppendResult struct {
	Accepted   int
	Duplicates int
	FirstSeq   int64 // -1 when nothing new was stored
	LastSeq    int64 // -1 when nothing new was stored
	Size       int64 // the tenant's ledger size after the commit
	// Checkpoint is the signed checkpoint of the tenant's tree as of the
	// commit (size Size); it was stored in the same transaction.
	Checkpoint     []byte
	CheckpointSize int64
}

type appendReq struct {
	tenant string
	keyID  string
	tid    int64 // set by the sequencer
	events []clawtrail.Pending
	keys   []dataKey // with encryption: the data key of each event
	// packs holds, without encryption, the compressed tails of each chunk
	// of insertChunk events (nil for a chunk stored in its rows): made by
	// Append in the caller's goroutine, off the sequencer (packs.go).
	packs [][]byte
	// pre, when set, runs in the request's savepoint before its events are
	// stored (retention, erasure, holds change state and fill in their
	// event); an error fails the request alone. post runs after the commit.
	pre  func(ctx context.Context, g *groupTx, r *appendReq) error
	post func()
	res  AppendResult
	err  error
	done chan struct{}
}

// Append stores the events of one request atomically for tenant, submitted
// by keyID, and returns only after the commit is fsync'd. Concurrent calls
// share one transaction and one fsync (group commit). It returns a
// *clawtrail.ConflictError if an id was stored before with another body
// (then nothing of the request is stored), ErrDiskFull when the disk is
// full, ErrClosed after Close.
func (s *Store) Append(ctx context.Context, tenant, keyID string, events []clawtrail.Pending) (AppendResult, error) {
	for i := range events {
		e := events[i].Event
		e.TenantID, e.KeyID = tenant, keyID
		events[i].Tail = e.AppendTail(events[i].Tail[:0])
	}
	r := &appendReq{tenant: tenant, keyID: keyID, events: events, done: make(chan struct{})}
	if !s.Encrypted() && !s.cfg.InlineBodies {
		r.packs = packTails(events)
	}
	return s.submit(ctx, r)
}

// submit queues a request for the sequencer and waits for its outcome.
func (s *Store) submit(ctx context.Context, r *appendReq) (AppendResult, error) {
	select {
	case s.queue <- r:
	case <-s.stop:
		return AppendResult{}, clawtrail.ErrClosed
	case <-ctx.Done():
		return AppendResult{}, ctx.Err()
	}
	// Once queued, the request is committed or failed; wait for the outcome
	// even if ctx ends, so that an acknowledgement is never lost. A request
	// that slipped into the queue as Close ran, after the sequencer's last
	// drain, is never committed: it gets ErrClosed instead of a wait for ever.
	select {
	case <-r.done:
	case <-s.done:
		select {
		case <-r.done:
		default:
			return AppendResult{}, clawtrail.ErrClosed
		}
	}
	return r.res, r.err
}

// sequence is the single writer: it drains the queue into groups and commits
// each group in one transaction.
func (s *Store) sequence() {
	defer close(s.done)
	for {
		var first *appendReq
		select {
		case first = <-s.queue:
		case <-s.stop:
			s.drainOnStop()
			return
		}
		s.commitGroup(s.gather(first))
	}
}

func (s *Store) gather(first *appendReq) []*appendReq {
	group := []*appendReq{first}
	n := len(first.events)
	for n < s.cfg.MaxGroupEvents {
		select {
		case r := <-s.queue:
			group = append(group, r)
			n += len(r.events)
		default:
			return group
		}
	}
	return group
}

func (s *Store) drainOnStop() {
	for {
		select {
		case r := <-s.queue:
			s.commitGroup(s.gather(r))
		default:
			return
		}
	}
}

// groupTx is the state of one group commit.
type groupTx struct {
	s        *Store
	tx       *sql.Tx
	group    []*appendReq
	insEvent *sql.Stmt
	getID    *sql.Stmt
	insPack  *sql.Stmt
	multi    map[int]*sql.Stmt // multi-row inserts by row count
	heads    map[int64]int64   // next seq per tid, as of this transaction
	tenants  map[string]int64  // tenants created in this transaction
	now      int64
	leaves   map[int64]*newLeaves // leaf hashes by tenant, for the tree
	states   map[int64]*treeState // trees after this transaction
	salts    []byte
	buf      []byte
	args     []any
	// keys made in this transaction, published after the commit
	newTenants map[int64]*TenantKeys
	newData    map[subjectRef]dataKey
}

// insertChunk is how many events one multi-row INSERT carries.
const insertChunk = 32

const insertColumns = `INSERT INTO events(tid, seq, id, received_at, type, key_id, body_commit, leaf_hash, req_hash, salt, body, dk) VALUES `

const rowParams = "(?,?,?,?,?,?,?,?,?,?,?,?)"

// errHasStoredIDs sends a request from the multi-row path to the
// event-by-event one: one of its ids was stored before.
var errHasStoredIDs = errors.New("request holds an id stored before")

func (s *Store) commitGroup(group []*appendReq) {
	start := time.Now()
	// Wall time, fsync waits included: a lone client sending ~1,000
	// one-event requests a second also reads as saturated, and the index
	// then runs at half duty (counting only groups with requests queued
	// behind them was measured: 26k acked events/s instead of 31k).
	defer func() { s.busyNS.Add(int64(time.Since(start))) }()
	total, err := s.runGroup(group)
	if err != nil {
		err = classify(err)
		s.log.Error("commit failed", "err", err, "requests", len(group))
		for _, r := range group {
			r.res, r.err = AppendResult{}, err
		}
	}
	if s.cfg.Metrics.CommitSeconds != nil && err == nil {
		s.cfg.Metrics.CommitSeconds(time.Since(start).Seconds(), total)
	}
	for _, r := range group {
		if r.post != nil && r.err == nil {
			r.post()
		}
		close(r.done)
	}
}

// refusal is an error of one request's pre step: the request is rolled
// back to its savepoint and answered with err; the group commits.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }

// classify maps storage errors to the sentinels callers act on.
func classify(err error) error {
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "disk is full") || strings.Contains(msg, "no space left") || strings.Contains(msg, "sqlite_full") {
		return fmt.Errorf("%w: no space left on the ledger's disk; nothing of this request was stored; retry once space is freed (%v)", clawtrail.ErrDiskFull, err)
	}
	return fmt.Errorf("%w: commit failed: %v", clawtrail.ErrUnavailable, err)
}

func (s *Store) runGroup(group []*appendReq) (int, error) {
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	// received_at never goes backwards, even if the wall clock does.
	now := max(s.now().UTC().UnixNano(), s.lastCommit+1)
	g := &groupTx{s: s, tx: tx, group: group, heads: map[int64]int64{}, tenants: map[string]int64{}, now: now}
	total, err := g.apply(ctx, group)
	if err == nil {
		err = g.integrate(ctx)
	}
	if err == nil {
		err = tx.Commit()
	} else {
		tx.Rollback()
	}
	g.closeStmts()
	if err != nil {
		return 0, err
	}
	s.lastCommit = g.now
	s.ckpt.committed()
	s.publish(g)
	return total, nil
}

func (g *groupTx) closeStmts() {
	for _, st := range []*sql.Stmt{g.insEvent, g.getID, g.insPack} {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range g.multi {
		st.Close()
	}
}

// publish makes a committed group visible: heads, tenants, waiters.
func (s *Store) publish(g *groupTx) {
	s.mu.Lock()
	for name, tid := range g.tenants {
		s.tenants[name] = tid
	}
	for tid, next := range g.heads {
		s.events += next - s.heads[tid]
		s.heads[tid] = next
	}
	for tid, st := range g.states {
		s.trees[tid] = st
	}
	s.keys.publish(g)
	for _, r := range g.group {
		if st := s.trees[r.tid]; st != nil && r.err == nil {
			r.res.Checkpoint, r.res.CheckpointSize = st.checkpoint, int64(st.tree.Size())
		}
	}
	close(s.commitC)
	s.commitC = make(chan struct{})
	s.mu.Unlock()
}

func (g *groupTx) apply(ctx context.Context, group []*appendReq) (int, error) {
	var err error
	if g.insEvent, err = g.tx.PrepareContext(ctx, insertColumns+rowParams+` ON CONFLICT(tid, id) DO NOTHING`); err != nil {
		return 0, err
	}
	if g.getID, err = g.tx.PrepareContext(ctx, `SELECT req_hash FROM events WHERE tid=? AND id=?`); err != nil {
		return 0, err
	}
	if g.insPack, err = g.tx.PrepareContext(ctx, `INSERT INTO packs(tid, lo, data) VALUES (?,?,?)`); err != nil {
		return 0, err
	}
	total := 0
	for i, r := range group {
		tid, err := g.tid(ctx, r.tenant)
		if err != nil {
			return 0, err
		}
		r.tid = tid
		// Data keys are made before the request's savepoint: a request
		// rolled back must not take a key other events already use.
		if err := g.ensureKeys(ctx, tid, r); err != nil {
			return 0, err
		}
		if _, err := g.tx.ExecContext(ctx, fmt.Sprintf("SAVEPOINT r%d", i)); err != nil {
			return 0, err
		}
		var rerr error
		if r.pre != nil {
			rerr = r.pre(ctx, g, r)
		}
		if rerr == nil {
			rerr = g.applyChunks(ctx, tid, r)
		}
		if errors.Is(rerr, errHasStoredIDs) {
			if _, err := g.tx.ExecContext(ctx, fmt.Sprintf("ROLLBACK TO r%d", i)); err != nil {
				return 0, err
			}
			rerr = g.applyRequest(ctx, tid, r)
		}
		var conflict *clawtrail.ConflictError
		var refused *refusal
		if errors.As(rerr, &conflict) || errors.As(rerr, &refused) {
			if _, err := g.tx.ExecContext(ctx, fmt.Sprintf("ROLLBACK TO r%d", i)); err != nil {
				return 0, err
			}
			r.res, r.err = AppendResult{}, rerr
			if refused != nil {
				r.err = refused.err
			}
		} else if rerr != nil {
			return 0, rerr
		} else {
			total += r.res.Accepted
		}
		if _, err := g.tx.ExecContext(ctx, fmt.Sprintf("RELEASE r%d", i)); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// tid returns the tenant's id, creating the tenant inside the transaction.
func (g *groupTx) tid(ctx context.Context, name string) (int64, error) {
	if tid, ok := g.s.tenantID(name); ok {
		return tid, nil
	}
	if tid, ok := g.tenants[name]; ok {
		return tid, nil
	}
	res, err := g.tx.ExecContext(ctx, `INSERT INTO tenants(name, created_at) VALUES (?, ?)`, name, g.now)
	if err != nil {
		return 0, err
	}
	tid, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	g.tenants[name] = tid
	g.heads[tid] = 0
	secret := crypt.NewKey()
	stored, wrapped := g.s.keys.sealSecret(name, secret)
	if _, err := g.tx.ExecContext(ctx, `INSERT INTO tenant_keys(tid, secret, wrapped, created_at) VALUES (?,?,?,?)`, tid, stored, wrapped, g.now); err != nil {
		return 0, err
	}
	if g.newTenants == nil {
		g.newTenants = map[int64]*TenantKeys{}
	}
	g.newTenants[tid] = deriveTenant(secret)
	return tid, nil
}

// newLeaves collects the leaf hashes of one tenant's new events: hashes[i]
// is seq base+i. A request rolled back to its savepoint leaves hashes past
// the tenant's head, which integrate ignores (a retry overwrites them).
type newLeaves struct {
	tenant string
	base   int64
	hashes [][32]byte
}

func (g *groupTx) addLeaf(tid int64, tenant string, seq int64, h [32]byte) {
	nl := g.leaves[tid]
	if nl == nil {
		if g.leaves == nil {
			g.leaves = map[int64]*newLeaves{}
		}
		nl = &newLeaves{tenant: tenant, base: g.next(tid)}
		g.leaves[tid] = nl
	}
	i := int(seq - nl.base)
	if i < len(nl.hashes) {
		nl.hashes[i] = h
		return
	}
	nl.hashes = append(nl.hashes, h)
}

// integrate appends the group's new leaves to each tenant's tree, in the
// group's transaction, and signs each grown tree's checkpoint.
func (g *groupTx) integrate(ctx context.Context) error {
	for tid, nl := range g.leaves {
		n := g.heads[tid] - nl.base
		if n <= 0 {
			continue
		}
		g.s.mu.Lock()
		st := g.s.trees[tid]
		g.s.mu.Unlock()
		size := int64(0)
		if st != nil {
			size = int64(st.tree.Size())
		}
		if size != nl.base {
			return fmt.Errorf("tenant %q: its tree has a size other than its ledger head %d", nl.tenant, nl.base)
		}
		ns, err := g.s.integrate(ctx, g.tx, tid, nl.tenant, st, nl.hashes[:n], g.now)
		if err != nil {
			return err
		}
		if g.states == nil {
			g.states = map[int64]*treeState{}
		}
		g.states[tid] = ns
	}
	return nil
}

func (g *groupTx) next(tid int64) int64 {
	if n, ok := g.heads[tid]; ok {
		return n
	}
	g.s.mu.Lock()
	n := g.s.heads[tid]
	g.s.mu.Unlock()
	return n
}

// applyChunks stores a request's events with multi-row INSERTs, the fast
// path for requests whose ids are all new. It returns errHasStoredIDs when
// one was stored before; the caller then rolls back to the request's
// savepoint and takes applyRequest.
func (g *groupTx) applyChunks(ctx context.Context, tid int64, r *appendReq) error {
	start := g.next(tid)
	seq := start
	for off := 0; off < len(r.events); off += insertChunk {
		part := r.events[off:min(off+insertChunk, len(r.events))]
		var pack []byte
		if r.packs != nil && r.keys == nil {
			pack = r.packs[off/insertChunk]
		}
		g.args = g.args[:0]
		for i := range part {
			g.args = g.row(g.args, tid, seq+int64(i), &part[i], r.key(off+i), pack != nil)
		}
		st, err := g.multiStmt(ctx, len(part))
		if err != nil {
			return err
		}
		res, err := st.ExecContext(ctx, g.args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(part)) {
			return errors.Join(errHasStoredIDs, err)
		}
		if pack != nil {
			if _, err := g.insPack.ExecContext(ctx, tid, seq, pack); err != nil {
				return err
			}
		}
		seq += int64(len(part))
	}
	g.heads[tid] = seq
	r.res = AppendResult{FirstSeq: -1, LastSeq: -1, Accepted: int(seq - start), Size: seq}
	if seq > start {
		r.res.FirstSeq, r.res.LastSeq = start, seq-1
	}
	return nil
}

func (g *groupTx) multiStmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	if st, ok := g.multi[rows]; ok {
		return st, nil
	}
	q := insertColumns + rowParams + strings.Repeat(","+rowParams, rows-1) + " ON CONFLICT(tid, id) DO NOTHING"
	st, err := g.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if g.multi == nil {
		g.multi = map[int]*sql.Stmt{}
	}
	g.multi[rows] = st
	return st, nil
}

// applyRequest stores a request's events one by one, telling duplicates
// (counted, not stored) from conflicts.
func (g *groupTx) applyRequest(ctx context.Context, tid int64, r *appendReq) error {
	start := g.next(tid)
	seq := start
	r.res = AppendResult{FirstSeq: -1, LastSeq: -1}
	for i := range r.events {
		p := &r.events[i]
		stored, err := g.insert(ctx, tid, seq, p, r.key(i))
		if err != nil {
			return err // on a conflict the caller rolls back to the savepoint
		}
		if !stored {
			r.res.Duplicates++
			continue
		}
		seq++
	}
	g.heads[tid] = seq
	if seq > start {
		r.res.FirstSeq, r.res.LastSeq = start, seq-1
	}
	r.res.Accepted = int(seq - start)
	r.res.Size = seq
	return nil
}

// row assigns the event its seq and received_at, computes its body, salt,
// body commitment and leaf hash, and appends the 12 column values. A
// packed event's body column is packedMark: its tail is in the chunk's
// pack.
func (g *groupTx) row(args []any, tid, seq int64, p *clawtrail.Pending, k dataKey, packed bool) []any {
	e := p.Event
	e.Seq = seq
	e.ReceivedAt = time.Unix(0, g.now).UTC()
	body := clawtrail.AppendBody(make([]byte, 0, len(p.Tail)+96), e.ID, seq, e.ReceivedAt, p.Tail)
	saltSize := ledger.ClearSaltSize
	if k.key != nil {
		saltSize = ledger.SaltSize // the sealed plaintext is salt ‖ body, split at SaltSize
	}
	salt := g.salt(saltSize)
	leaf := ledger.Leaf{Tenant: e.TenantID, ID: e.ID, Seq: uint64(seq), ReceivedAt: g.now,
		Type: e.Type, KeyID: e.KeyID, BodyCommit: ledger.BodyCommit(salt, body)}
	g.buf = leaf.Append(g.buf[:0])
	lh := ledger.LeafHash(g.buf)
	g.addLeaf(tid, e.TenantID, seq, lh)
	var dk any
	if k.key != nil {
		// Sealed: salt ‖ body under the subject's data key; the salt
		// column stays empty, so the commitment cannot be tested without
		// the key either.
		plain := append(append(make([]byte, 0, len(salt)+len(body)), salt...), body...)
		body = k.sealer.Seal(make([]byte, 0, len(plain)+crypt.Overhead), plain, bodyAD(e.TenantID, e.ID))
		salt, dk = nil, k.id
	} else if packed {
		body = packedBody
	}
	return append(args, tid, seq, e.ID, g.now, e.Type, e.KeyID,
		leaf.BodyCommit[:], lh[:StoredLeafPrefix], p.ReqHash[:], salt, body, dk)
}

// StoredLeafPrefix is how much of each leaf hash the ledger stores (schema
// 6; 32 bytes before): the tree's level 0 is recomputed from the leaf
// fields, and the prefix tells verify which row changed (docs/ledger.md).
// The verifier takes prefixes of at least ledger.MinLeafPrefix bytes.
const StoredLeafPrefix = ledger.MinLeafPrefix

// salt returns n fresh random bytes, drawn from the OS in blocks.
func (g *groupTx) salt(n int) []byte {
	if len(g.salts) < n {
		g.salts = make([]byte, 512*ledger.SaltSize)
		rand.Read(g.salts)
	}
	s := g.salts[:n:n]
	g.salts = g.salts[n:]
	return s
}

// insert stores the event at seq. It returns false for a duplicate (an
// event with that id is stored with the same request hash) and a
// ConflictError when it is stored with another.
func (g *groupTx) insert(ctx context.Context, tid, seq int64, p *clawtrail.Pending, k dataKey) (bool, error) {
	g.args = g.row(g.args[:0], tid, seq, p, k, false)
	res, err := g.insEvent.ExecContext(ctx, g.args...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	var prev []byte
	if err := g.getID.QueryRowContext(ctx, tid, p.Event.ID).Scan(&prev); err != nil {
		return false, err
	}
	if string(prev) == string(p.ReqHash[:]) {
		return false, nil
	}
	return false, &clawtrail.ConflictError{Line: p.Line, ID: p.Event.ID}
}
