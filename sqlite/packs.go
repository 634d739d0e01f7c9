package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
)

// Packed bodies (ledger schema 4). The bodies of a request's events in
// clear are stored compressed together, up to insertChunk of them per row
// of the packs table: an event's body is ~0.7 KB of JSON whose field names,
// types, tools and paths repeat from event to event, which zstd over 32
// bodies shrinks ~3×, where each alone shrinks under 1.4× (docs/design.md,
// "Packed bodies"). The event's own row keeps everything else (leaf hash,
// commitment, salt, id, seq, received_at) and, in place of its body, the
// one byte packedMark. A pack holds tails (clawtrail.Event.AppendTail:
// the body after id, seq and received_at), so the HTTP handler compresses
// them before the sequencer assigns seqs, off the single writer; a reader
// rebuilds the body from the row's id, seq and received_at
// (clawtrail.AppendBody), byte for byte what the commitment covers.
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

var (
	packEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithLowerEncoderMem(true))
	packDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxPackBytes), zstd.WithDecoderLowmem(true))
)

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

// errBadPack is a pack that does not decode to its entries.
var errBadPack = errors.New("damaged pack")

// decodePack returns the tails of a pack (entries emptied by deletion are
// empty), slices of one buffer.
func decodePack(data []byte) ([][]byte, error) {
	raw, err := packDecoder.DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadPack, err)
	}
	count, k := binary.Uvarint(raw)
	if k <= 0 || count == 0 || count > insertChunk {
		return nil, errBadPack
	}
	lens := make([]uint64, count)
	off := k
	total := uint64(0)
	for i := range lens {
		l, k := binary.Uvarint(raw[off:])
		if k <= 0 {
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

// packs reads packed bodies, keeping the last pack it decoded: a reader
// going through the ledger in seq order decodes each pack once.
type packs struct {
	db    queryer // the connection or transaction the rows were read in
	tid   int64
	lo    int64
	tails [][]byte
}

// tail returns the tail of the tenant's event at seq, or an error naming
// the event when its pack is missing, damaged or holds no entry for it.
func (p *packs) tail(ctx context.Context, tid, seq int64, id string) ([]byte, error) {
	if p.tails == nil || p.tid != tid || seq < p.lo || seq >= p.lo+int64(len(p.tails)) {
		var lo int64
		var data []byte
		err := p.db.QueryRowContext(ctx, `SELECT lo, data FROM packs WHERE tid=? AND lo<=? ORDER BY lo DESC LIMIT 1`, tid, seq).Scan(&lo, &data)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		var tails [][]byte
		if err == nil {
			tails, err = decodePack(data)
		}
		if err != nil || seq >= lo+int64(len(tails)) {
			p.tails = nil
			return nil, &packError{id: id, seq: seq}
		}
		p.tid, p.lo, p.tails = tid, lo, tails
	}
	t := p.tails[seq-p.lo]
	if len(t) == 0 {
		return nil, &packError{id: id, seq: seq}
	}
	return t, nil
}

// body rebuilds the stored body of a packed event from its row.
func (p *packs) body(ctx context.Context, tid, seq int64, id string, received int64) ([]byte, error) {
	t, err := p.tail(ctx, tid, seq, id)
	if err != nil {
		return nil, err
	}
	return clawtrail.AppendBody(make([]byte, 0, len(t)+96), id, seq, time.Unix(0, received).UTC(), t), nil
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
func prunePacks(ctx context.Context, tx *sql.Tx, tid int64, seqs []int64) error {
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
			err := tx.QueryRowContext(ctx, `SELECT lo, data FROM packs WHERE tid=? AND lo<=? ORDER BY lo DESC LIMIT 1`, tid, q).Scan(&lo, &data)
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
