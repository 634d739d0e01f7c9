package sqlite

import (
	"bytes"
	"container/list"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
)

// Packed bodies (ledger schema 4; zstd since 5). The bodies of a request's
// events in clear are stored compressed together, up to insertChunk of them
// per row of the packs table: an event's body is ~0.7 KB of JSON whose
// field names, types, tools and paths repeat from event to event, which
// zstd over 32 bodies shrinks ~3.1× (S2, schema 4: ~2.1×), where each alone
// shrinks under 1.4× (docs/design.md, "Packed bodies"). The event's own row
// keeps everything else (leaf hash, commitment, salt, id, seq, received_at)
// and, in place of its body, the one byte packedMark. A pack holds tails
// (clawtrail.Event.AppendTail: the body after id, seq and received_at), so
// the HTTP handler compresses them before the sequencer assigns seqs, off
// the single writer; a reader rebuilds the body from the row's id, seq and
// received_at (clawtrail.AppendBodyAt), byte for byte what the commitment
// covers.
//
// The pack of seq s of tenant t is the row with the greatest lo <= s; it
// covers seqs lo .. lo+n-1, entry i being seq lo+i. An entry emptied by
// retention or erasure is a tail of length 0 (its row's body is NULL).
// Sealed bodies (encryption at rest) are never packed: each is sealed
// under its data subject's key, and crypto-erasure destroys that key.

// packedMark is the body column of an event whose body is in a pack. A
// body in clear starts with "{" and a sealed one has a data key (dk).
const packedMark = 0x01

var packedBody = []byte{packedMark}

// packMin is the fewest events of a request chunk worth a pack: below it
// the bodies stay in their rows.
const packMin = 8

// maxPackBytes bounds what one pack decompresses to (a damaged or forged
// pack cannot make a reader allocate more).
const maxPackBytes = 64 << 20

// isPacked reports whether a stored body (of a row without a data key)
// stands for a body in a pack.
func isPacked(body []byte) bool { return len(body) == 1 && body[0] == packedMark }

// encodePack compresses tails into one pack: the count, each tail's
// length (uvarints), then the tails.
func encodePack(tails [][]byte) []byte {
	n := binary.MaxVarintLen64 * (1 + len(tails))
	for _, t := range tails {
		n += len(t)
	}
	raw := binary.AppendUvarint(make([]byte, 0, n), uint64(len(tails)))
	for _, t := range tails {
		raw = binary.AppendUvarint(raw, uint64(len(t)))
	}
	for _, t := range tails {
		raw = append(raw, t...)
	}
	return packEncoder.EncodeAll(raw, make([]byte, 0, len(raw)/2))
}

// Packs are zstd frames (ledger schema 5; fastest level, no checksum: the
// commitment of each body is the check). Schema 4 wrote S2 blocks, which
// are still read: a frame starts with zstd's magic number, and an S2
// block of a pack never does (it starts with its length, a uvarint over
// 40 for any pack, whose first byte is not 0x28).
var (
	packEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
	packDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxPackBytes))
)

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// errBadPack is a pack that does not decode to its entries.
var errBadPack = errors.New("damaged pack")

// decodePack returns the tails of a pack (entries emptied by deletion are
// empty), slices of one new buffer.
func decodePack(data []byte) ([][]byte, error) {
	tails, _, err := decodePackInto(data, nil)
	return tails, err
}

// scanner is a sql.Scanner of a function: it sees the driver's value,
// valid only during the Scan.
type scanner func(src any) error

func (f scanner) Scan(src any) error { return f(src) }

// decodePackInto is decodePack decoding into buf's array when it is large
// enough; it returns the buffer used.
func decodePackInto(data, buf []byte) ([][]byte, []byte, error) {
	if bytes.HasPrefix(data, zstdMagic) {
		raw, err := packDecoder.DecodeAll(data, buf[:0])
		if err != nil {
			return nil, buf, fmt.Errorf("%w: %v", errBadPack, err)
		}
		tails, err := splitPack(raw)
		return tails, raw, err
	}
	n, err := s2.DecodedLen(data)
	if err != nil || n > maxPackBytes {
		return nil, buf, fmt.Errorf("%w: %v", errBadPack, err)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	raw, err := s2.Decode(buf[:n], data)
	if err != nil {
		return nil, buf, fmt.Errorf("%w: %v", errBadPack, err)
	}
	tails, err := splitPack(raw)
	return tails, raw, err
}

// splitPack slices a decoded pack into its tails.
func splitPack(raw []byte) ([][]byte, error) {
	count, k := binary.Uvarint(raw)
	if k <= 0 || count == 0 || count > insertChunk {
		return nil, errBadPack
	}
	lens := make([]uint64, count)
	off := k
	total := uint64(0)
	for i := range lens {
		l, k := binary.Uvarint(raw[off:])
		if k <= 0 || l > uint64(len(raw)) {
			return nil, errBadPack
		}
		lens[i], off, total = l, off+k, total+l
	}
	if total != uint64(len(raw)-off) {
		return nil, errBadPack
	}
	tails := make([][]byte, count)
	for i, l := range lens {
		tails[i] = raw[off : off+int(l) : off+int(l)]
		off += int(l)
	}
	return tails, nil
}

// packs reads packed bodies, keeping the last packCache packs it decoded:
// a reader going through the ledger in about seq order (export, verify,
// the indexer's feed, tail) decodes each pack once.
type packs struct {
	db     queryer   // the connection or transaction the rows were read in
	sel    *sql.Stmt // packQuery prepared on db: shared, or prepared at the first pack (own)
	own    bool
	shared *packLRU // the store's decoded packs, for readers that share them

	cache [packCache]decoded
	next  int    // the cache entry the next decoded pack replaces
	arena []byte // the bodies built, back to back

	received   int64  // the last received_at formatted,
	receivedAt []byte // as it was

	// fetched: packs read ahead by prefetch (their data, not decoded),
	// of tenant fetchedTid, by lo.
	fetched    []fetchedPack
	fetchedTid int64
}

type fetchedPack struct {
	lo   int64
	data []byte
}

// packRangeQuery selects the packs of a tenant (?1) whose first seq is in
// [?2, ?3]: prefetch asks from insertChunk-1 below the first seq it needs
// (no pack holds more than insertChunk events).
const packRangeQuery = `SELECT lo, data FROM packs WHERE tid=?1 AND lo BETWEEN ?2 AND ?3 ORDER BY lo`

// prefetch reads, in one statement through the store's readers, the packs
// of the tenant's seqs lo..hi (a page of bodies read together), for tail
// to decode as it needs them: one statement instead of one per pack.
func (s *Store) prefetch(ctx context.Context, p *packs, tid, lo, hi int64) error {
	p.fetched, p.fetchedTid = p.fetched[:0], tid
	rows, err := s.packRange.QueryContext(ctx, tid, lo-insertChunk+1, hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	var arena []byte
	for rows.Next() {
		var f fetchedPack
		var data sql.RawBytes
		if err := rows.Scan(&f.lo, &data); err != nil {
			return err
		}
		if len(data) > cap(arena)-len(arena) {
			arena = make([]byte, 0, max(len(data), 256<<10))
		}
		n := len(arena)
		arena = append(arena, data...)
		f.data = arena[n:len(arena):len(arena)]
		p.fetched = append(p.fetched, f)
	}
	return rows.Err()
}

// packCache is how many decoded packs a reader keeps: the pages of an
// export are in time order, which within a few packs is not seq order.
const packCache = 4

type decoded struct {
	tid, lo int64
	tails   [][]byte // slices of buf; nil: unused
	buf     []byte
}

// packQuery selects the pack of a tenant's seq.
const packQuery = `SELECT lo, data FROM packs WHERE tid=? AND lo<=? ORDER BY lo DESC LIMIT 1`

// readerPacks reads packs through the store's readers, with the statement
// prepared on them at open (preparing it costs more than a pack's read).
func (s *Store) readerPacks() *packs { return &packs{db: s.reader, sel: s.packSel} }

// sharedPacks is readerPacks with the store's cache of decoded packs.
func (s *Store) sharedPacks() *packs {
	return &packs{db: s.reader, sel: s.packSel, shared: s.packLRU}
}

// close closes the statement the packs prepared.
func (p *packs) close() {
	if p.own && p.sel != nil {
		p.sel.Close()
	}
}

type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (p *packs) query(ctx context.Context, tid, seq int64) *sql.Row {
	if p.sel == nil {
		if pr, ok := p.db.(preparer); ok {
			if st, err := pr.PrepareContext(ctx, packQuery); err == nil {
				p.sel, p.own = st, true
			}
		}
	}
	if p.sel != nil {
		return p.sel.QueryRowContext(ctx, tid, seq)
	}
	return p.db.QueryRowContext(ctx, packQuery, tid, seq)
}

// tail returns the tail of the tenant's event at seq, or an error naming
// the event when its pack is missing, damaged or holds no entry for it.
func (p *packs) tail(ctx context.Context, tid, seq int64, id string) ([]byte, error) {
	for i := range p.cache {
		d := &p.cache[i]
		if d.tails != nil && d.tid == tid && seq >= d.lo && seq < d.lo+int64(len(d.tails)) {
			return entry(d.tails, seq-d.lo, id, seq)
		}
	}
	d := &p.cache[p.next]
	p.next = (p.next + 1) % packCache
	if p.shared != nil {
		if lo, tails, ok := p.shared.get(tid, seq); ok {
			d.tid, d.lo, d.tails, d.buf = tid, lo, tails, nil // not ours to decode into
			return entry(tails, seq-lo, id, seq)
		}
		d.buf = nil // what it decodes next goes to the shared cache
	}
	var lo int64
	var tails [][]byte
	var err error
	if i := p.fetchedAt(tid, seq); i >= 0 {
		lo = p.fetched[i].lo
		tails, d.buf, err = decodePackInto(p.fetched[i].data, d.buf)
	} else {
		// Decoded from the driver's buffer, into the evicted pack's.
		err = p.query(ctx, tid, seq).Scan(&lo, scanner(func(src any) error {
			b, _ := src.([]byte)
			var err error
			tails, d.buf, err = decodePackInto(b, d.buf)
			return err
		}))
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !errors.Is(err, errBadPack) {
		d.tails = nil
		return nil, err
	}
	if err != nil || seq >= lo+int64(len(tails)) {
		d.tails = nil
		return nil, &packError{id: id, seq: seq}
	}
	d.tid, d.lo, d.tails = tid, lo, tails
	if p.shared != nil {
		p.shared.put(tid, lo, tails, cap(d.buf)+len(tails)*24)
		d.buf = nil
	}
	return entry(tails, seq-lo, id, seq)
}

// fetchedAt returns the index in fetched of the pack that holds the
// tenant's seq, -1 when it was not fetched.
func (p *packs) fetchedAt(tid, seq int64) int {
	if len(p.fetched) == 0 || tid != p.fetchedTid {
		return -1
	}
	// The last pack with lo <= seq.
	i := sort.Search(len(p.fetched), func(i int) bool { return p.fetched[i].lo > seq }) - 1
	if i < 0 || seq-p.fetched[i].lo >= insertChunk {
		return -1
	}
	return i
}

func entry(tails [][]byte, i int64, id string, seq int64) ([]byte, error) {
	if len(tails[i]) == 0 {
		return nil, &packError{id: id, seq: seq}
	}
	return tails[i], nil
}

// body rebuilds the stored body of a packed event from its row, in the
// reader's arena (bodies built together share a few allocations).
func (p *packs) body(ctx context.Context, tid, seq int64, id string, received int64) ([]byte, error) {
	t, err := p.tail(ctx, tid, seq, id)
	if err != nil {
		return nil, err
	}
	if need := len(t) + len(id) + 96; cap(p.arena)-len(p.arena) < need {
		p.arena = make([]byte, 0, max(need, 64<<10))
	}
	if received != p.received || p.receivedAt == nil {
		// A pack's events share their commit's received_at.
		p.received, p.receivedAt = received, clawtrail.AppendReceivedAt(p.receivedAt[:0], time.Unix(0, received))
	}
	n := len(p.arena)
	p.arena = clawtrail.AppendBodyAt(p.arena, id, seq, p.receivedAt, t)
	return p.arena[n:len(p.arena):len(p.arena)], nil
}

// packError is a packed body that cannot be read: verify reports the
// event (its body no longer matches its commitment).
type packError struct {
	id  string
	seq int64
}

func (e *packError) Error() string {
	return fmt.Sprintf("event %s (seq %d): its packed body is missing or damaged (run clawtrail verify)", e.id, e.seq)
}

// unpackedBody is what a verifier is handed for a packed body that does
// not read: bytes that cannot match the commitment.
var unpackedBody = []byte("(packed body does not read)")

// packTails compresses the tails of a request's chunks of insertChunk
// events (applyChunks' chunks) that hold at least packMin events: nil for
// a chunk kept in its rows.
func packTails(events []clawtrail.Pending) [][]byte {
	if len(events) < packMin {
		return nil
	}
	out := make([][]byte, (len(events)+insertChunk-1)/insertChunk)
	tails := make([][]byte, 0, insertChunk)
	for c := range out {
		part := events[c*insertChunk : min((c+1)*insertChunk, len(events))]
		if len(part) < packMin {
			continue
		}
		tails = tails[:0]
		for i := range part {
			tails = append(tails, part[i].Tail)
		}
		out[c] = encodePack(tails)
	}
	return out
}

// prunePacks empties the entries of seqs (whose rows' bodies were just
// cleared, in any order) in their packs, in the transaction tx, and
// deletes a pack none of whose events keeps a body: a deleted body leaves
// no copy behind. A damaged pack is deleted whole (verify reports its
// events from their rows).
func prunePacks(ctx context.Context, tx *sql.Tx, cache *packLRU, tid int64, seqs []int64) error {
	type pack struct {
		lo    int64
		tails [][]byte
		bad   bool
	}
	var loaded []*pack
	var last *pack
	covers := func(p *pack, q int64) bool { return q >= p.lo && q < p.lo+int64(max(len(p.tails), 1)) }
	for _, q := range seqs {
		p := last
		if p == nil || !covers(p, q) {
			p = nil
			for _, c := range loaded {
				if covers(c, q) {
					p = c
				}
			}
		}
		if p == nil {
			var lo int64
			var data []byte
			err := tx.QueryRowContext(ctx, packQuery, tid, q).Scan(&lo, &data)
			if errors.Is(err, sql.ErrNoRows) {
				continue // its body was in its row
			}
			if err != nil {
				return err
			}
			tails, err := decodePack(data)
			p = &pack{lo: lo, tails: tails, bad: err != nil}
			if !p.bad && q >= lo+int64(len(tails)) {
				continue // in its row, after a pack
			}
			loaded = append(loaded, p)
		}
		last = p
		if i := q - p.lo; i < int64(len(p.tails)) {
			p.tails[i] = nil
		}
	}
	for _, p := range loaded {
		cache.drop(tid, p.lo)
		left := 0
		for _, t := range p.tails {
			if len(t) > 0 {
				left++
			}
		}
		if p.bad || left == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM packs WHERE tid=? AND lo=?`, tid, p.lo); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE packs SET data=? WHERE tid=? AND lo=?`, encodePack(p.tails), tid, p.lo); err != nil {
			return err
		}
	}
	return nil
}

// read returns the body of a packed event. A pack pruned after the row was
// read (retention or erasure committed in between, the row read in an
// earlier snapshot) reads as deleted: nil.
func (p *packs) read(ctx context.Context, tid, seq int64, id string, received int64) ([]byte, error) {
	b, err := p.body(ctx, tid, seq, id, received)
	var pe *packError
	if errors.As(err, &pe) {
		var gone bool
		if e := p.db.QueryRowContext(ctx, `SELECT body IS NULL FROM events WHERE tid=? AND seq=?`, tid, seq).Scan(&gone); e == nil && gone {
			return nil, nil
		}
	}
	return b, err
}

// storedBody returns the body of a stored row in clear: opened when
// sealed (nil when its data key was destroyed), read from its pack when
// packed, as is otherwise. p reads packs (and data keys) through its db.
func (s *Store) storedBody(ctx context.Context, p *packs, tid, seq int64, id string, received int64, dk sql.NullInt64, body []byte) ([]byte, error) {
	if !dk.Valid && isPacked(body) {
		return p.read(ctx, tid, seq, id, received)
	}
	return s.openBody(ctx, p.db, tid, id, dk, body)
}

// unpackRecord gives a verifier's record of a packed event its body, read
// through db: bytes that cannot match its commitment when the pack is
// missing or damaged, none when the body was deleted since the row was
// read.
func unpackRecord(ctx context.Context, p *packs, tid int64, rec *ledger.Record) error {
	b, err := p.read(ctx, tid, rec.Seq, rec.ID, rec.ReceivedAt)
	var pe *packError
	switch {
	case errors.As(err, &pe):
		rec.Body = unpackedBody
	case err != nil:
		return err
	case b == nil:
		rec.Body, rec.Salt = nil, nil
	default:
		rec.Body = b
	}
	return nil
}

// packLRU is the store's cache of decoded packs, shared by its searches,
// reads by id and the indexer's feed (which decodes every new pack first,
// so searches of recent events find theirs decoded): a page of search hits
// scattered over many packs otherwise decodes one pack per hit. Bulk
// readers (export, verify, retention) do not fill it. Entries are never
// changed once in; retention and erasure drop the packs they rewrite.
type packLRU struct {
	mu    sync.Mutex
	max   int // bytes of decoded packs kept
	size  int
	m     map[packKey]*list.Element // of *lruPack
	order list.List                 // most recently used first
}

type packKey struct{ tid, lo int64 }

type lruPack struct {
	key   packKey
	tails [][]byte
	size  int
}

// packLRUBytes bounds the decoded packs the store keeps (~350 packs of the
// bench's events).
const packLRUBytes = 8 << 20

func newPackLRU(max int) *packLRU { return &packLRU{max: max, m: map[packKey]*list.Element{}} }

// get returns the decoded pack holding the tenant's seq.
func (c *packLRU) get(tid, seq int64) (int64, [][]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for lo := seq; lo > seq-insertChunk && lo >= 0; lo-- {
		if el, ok := c.m[packKey{tid, lo}]; ok {
			p := el.Value.(*lruPack)
			if seq >= lo+int64(len(p.tails)) {
				return 0, nil, false
			}
			c.order.MoveToFront(el)
			return lo, p.tails, true
		}
	}
	return 0, nil, false
}

func (c *packLRU) put(tid, lo int64, tails [][]byte, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := packKey{tid, lo}
	if _, ok := c.m[k]; ok || size > c.max {
		return
	}
	c.m[k] = c.order.PushFront(&lruPack{key: k, tails: tails, size: size})
	c.size += size
	for c.size > c.max {
		el := c.order.Back()
		p := el.Value.(*lruPack)
		c.order.Remove(el)
		delete(c.m, p.key)
		c.size -= p.size
	}
}

func (c *packLRU) drop(tid, lo int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[packKey{tid, lo}]; ok {
		c.order.Remove(el)
		delete(c.m, packKey{tid, lo})
		c.size -= el.Value.(*lruPack).size
	}
}
