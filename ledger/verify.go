package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Kinds of damage verify reports (docs/ledger.md, "Verification").
const (
	KindModified     = "modified"          // an event's content or leaf fields changed
	KindMissing      = "missing"           // a seq is absent inside the ledger
	KindInserted     = "inserted"          // an event no signed checkpoint covers
	KindReordered    = "reordered"         // an event sits at a seq it was not committed at
	KindTruncated    = "truncated"         // events a checkpoint covers are gone from the end
	KindRolledBack   = "rolled_back"       // the latest checkpoint is older than one seen before
	KindForged       = "forged_checkpoint" // a checkpoint no trusted key signed
	KindBadSignature = "bad_signature"     // a signature by a trusted key that does not verify
	KindRewritten    = "rewritten"         // the ledger contradicts a checkpoint held outside it
	KindTile         = "tile"              // a stored hash (tile) is damaged; the events are intact
	KindIndex        = "index"             // the search index does not cover the ledger exactly
	KindWitness      = "witness"           // a required witness cosignature is missing
)

// Finding is one problem, CloudTrail-style: where, what kind, and why.
type Finding struct {
	Tenant  string `json:"tenant"`
	Seq     int64  `json:"seq"`     // first seq concerned; -1 when none
	SeqEnd  int64  `json:"seq_end"` // last seq concerned (inclusive); -1 when none
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (f Finding) String() string {
	switch {
	case f.Seq < 0:
		return fmt.Sprintf("%s: %s", f.Kind, f.Message)
	case f.SeqEnd > f.Seq:
		return fmt.Sprintf("seq %d–%d: %s: %s", f.Seq, f.SeqEnd, f.Kind, f.Message)
	}
	return fmt.Sprintf("seq %d: %s: %s", f.Seq, f.Kind, f.Message)
}

// Record is one stored event as the verifier reads it: the leaf columns,
// the stored leaf hash when the store keeps one, and body and salt unless
// they were deleted.
type Record struct {
	Seq        int64
	ID         string
	ReceivedAt int64
	Type       string
	KeyID      string
	BodyCommit [32]byte
	LeafHash   []byte // stored hash (32 bytes, or its first MinLeafPrefix or more); nil when the source has none
	Salt       []byte // nil once deleted
	Body       []byte // nil once deleted
	// Sealed: the body is stored encrypted and the reader has no key to
	// open it; its commitment cannot be checked (the leaf and tree still
	// are). Erased: the body's data key was destroyed (crypto-shredding);
	// it counts as deleted.
	Sealed, Erased bool

	// Filled by Prehash (which may run on other goroutines); Add computes
	// them itself when Hashed is false.
	Hashed   bool
	CommitOK bool     // the body matches BodyCommit (true when deleted)
	Computed [32]byte // the leaf hash recomputed from the fields at Seq
}

// Prehash computes the record's body check and leaf hash for tenant. It is
// the costly part of Add and may run concurrently for different records.
func (rec *Record) Prehash(tenant string, buf []byte) []byte {
	rec.CommitOK = rec.Sealed || rec.Body == nil && rec.Salt == nil ||
		rec.Body != nil && rec.Salt != nil && BodyCommit(rec.Salt, rec.Body) == rec.BodyCommit
	l := Leaf{Tenant: tenant, ID: rec.ID, Seq: uint64(rec.Seq), ReceivedAt: rec.ReceivedAt,
		Type: rec.Type, KeyID: rec.KeyID, BodyCommit: rec.BodyCommit}
	buf = l.Append(buf[:0])
	rec.Computed = LeafHash(buf)
	rec.Hashed = true
	return buf
}

// CheckpointInput is a checkpoint to check the ledger against.
type CheckpointInput struct {
	Note []byte
	// Source says where it came from: "history", "latest", "remembered"
	// (client memory), "witnessed", "bundle". A mismatch with a remembered or
	// witnessed checkpoint is a rewritten history.
	Source    string
	CreatedAt time.Time // zero when unknown
}

// Report is the outcome of verifying one tenant's ledger.
type Report struct {
	Tenant      string    `json:"tenant"`
	Origin      string    `json:"origin"`
	Events      int64     `json:"events"`
	Pruned      int64     `json:"pruned"`           // events whose body was deleted
	Sealed      int64     `json:"sealed,omitempty"` // encrypted bodies not opened (no master key): commitments unchecked
	Size        uint64    `json:"size"`             // leaves recomputed
	Root        string    `json:"root"`             // base64 root of the recomputed tree
	Checkpoints int       `json:"checkpoints"`
	Findings    []Finding `json:"findings"`
	// Checkpoint is the latest checkpoint checked (the one to remember).
	Checkpoint string   `json:"checkpoint,omitempty"`
	Notes      []string `json:"notes,omitempty"`
}

// OK reports whether nothing was found.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

type cpCheck struct {
	Checkpoint
	source string
}

type mismatch struct {
	rec    Record // leaf fields only
	stored []byte // the stored hash, whole or its first bytes (MinLeafPrefix or more)
	kind   string // decided at the next checkpoint
	msg    string
}

// MinLeafPrefix is the shortest stored leaf hash prefix a Record may carry
// (a ledger of schema 6 stores 8 bytes of each).
const MinLeafPrefix = 8

type tileMiss struct {
	level      uint
	index      uint64
	first, end int64
}

// Verifier recomputes a tenant's tree from its stored events and checks it
// against its checkpoints and stored tiles. Feed it with Add in seq order,
// then call Finish. It is not safe for concurrent use.
type Verifier struct {
	// Deletions says which deleted bodies tombstones account for (nil:
	// none is); its own findings are added by Finish.
	Deletions *Deletions

	tenant, origin string
	keys           *Keyring
	rep            Report
	cps            []cpCheck // usable checkpoints by size
	cpi            int       // next checkpoint to compare
	maxClaimed     uint64    // the largest size any valid checkpoint claims
	latest         *cpCheck
	tiles          map[[2]uint64][]byte // stored tiles (tile level ≥ 1), nil: not checked
	next           int64
	r, s           *Tree // recomputed tree; tree of stored hashes once they differ
	sPartial       bool  // a differing stored hash was a prefix: no tree of stored hashes
	broken         bool  // a seq is missing: no later root can be recomputed
	lastGood       uint64
	lastOutside    uint64      // the largest size a remembered or witnessed checkpoint vouched for
	rejected       int         // checkpoints that failed verification
	mismatches     []*mismatch // all rows whose stored hash differs (capped)
	pending        []*mismatch // those not yet classified
	tileMisses     []tileMiss
	explained      bool // the current window already has a finding at the row level
	buf            []byte
}

// maxMismatches bounds the rows the verifier remembers for classification.
const maxMismatches = 10000

// NewVerifier starts verifying tenant's log named origin with the trusted keys.
func NewVerifier(tenant, origin string, keys *Keyring) *Verifier {
	return &Verifier{tenant: tenant, origin: origin, keys: keys, r: NewTree(),
		rep: Report{Tenant: tenant, Origin: origin, Findings: []Finding{}}}
}

func (v *Verifier) add(seq, end int64, kind, format string, args ...any) {
	v.rep.Findings = append(v.rep.Findings, Finding{Tenant: v.tenant, Seq: seq, SeqEnd: end, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// Note records an observation that is not damage.
func (v *Verifier) Note(format string, args ...any) {
	v.rep.Notes = append(v.rep.Notes, fmt.Sprintf(format, args...))
}

// Fail records a finding found outside the verifier (index coverage, witness
// policy, a failed consistency proof).
func (v *Verifier) Fail(f Finding) {
	f.Tenant = v.tenant
	v.rep.Findings = append(v.rep.Findings, f)
}

// Checkpoints gives the checkpoints to check; call it before Add. Each is
// verified against the trusted keys; one that fails is a finding and is not
// used. The one with Source "latest" is the store's current checkpoint.
func (v *Verifier) Checkpoints(in []CheckpointInput) {
	for _, c := range in {
		cp, err := OpenCheckpoint(c.Note, v.origin, v.keys)
		if err != nil {
			size := "?"
			if n, err := NoteSize(c.Note); err == nil {
				size = fmt.Sprint(n)
			}
			kind := KindForged
			if errors.Is(err, ErrBadSignature) {
				kind = KindBadSignature
			}
			v.add(-1, -1, kind, "%s checkpoint of size %s: %v", c.Source, size, err)
			v.rejected++
			continue
		}
		v.cps = append(v.cps, cpCheck{Checkpoint: *cp, source: c.Source})
		if c.Source != "remembered" && c.Source != "witnessed" {
			v.maxClaimed = max(v.maxClaimed, cp.Size)
		}
	}
	sort.SliceStable(v.cps, func(i, j int) bool { return v.cps[i].Size < v.cps[j].Size })
	var histMax uint64
	for i := range v.cps {
		c := &v.cps[i]
		if c.source == "latest" {
			v.latest = c
			v.rep.Checkpoint = string(c.Note)
		} else if c.source == "history" {
			histMax = max(histMax, c.Size)
		}
	}
	if v.latest != nil && v.latest.Size < histMax {
		v.add(-1, -1, KindRolledBack, "the latest checkpoint (size %d) is older than checkpoint size %d in the history", v.latest.Size, histMax)
	}
	v.rep.Checkpoints = len(v.cps)
	v.compare() // checkpoints of size 0
}

// Tiles gives the stored tiles to check (tile level ≥ 1; level 0 is the
// stored leaf hashes). get returns the stored hashes of tile (level, index),
// or nil when there is none.
func (v *Verifier) Tiles(tiles map[[2]uint64][]byte) { v.tiles = tiles }

// Add feeds the next stored record, in seq order.
func (v *Verifier) Add(rec *Record) {
	v.rep.Events++
	switch {
	case rec.Seq < v.next:
		v.add(rec.Seq, rec.Seq, KindReordered, "event %s appears out of order after seq %d", rec.ID, v.next-1)
		return
	case rec.Seq > v.next:
		v.add(v.next, rec.Seq-1, KindMissing, "%d event(s) are absent from the ledger", rec.Seq-v.next)
		v.broken, v.explained = true, true
		v.next = rec.Seq
	}
	if !rec.Hashed {
		v.buf = rec.Prehash(v.tenant, v.buf)
	}
	if !rec.CommitOK {
		v.add(rec.Seq, rec.Seq, KindModified, "event %s: its body does not match its commitment", rec.ID)
		v.explained = true
	}
	if rec.Sealed {
		v.rep.Sealed++
	} else if rec.Body == nil && rec.Salt == nil {
		v.rep.Pruned++
		if !v.Deletions.Allowed(rec.Seq, rec.ReceivedAt) {
			v.add(rec.Seq, rec.Seq, KindDeleted, "event %s: its body was deleted and no tombstone allowed it (the leaf and the tree are intact)", rec.ID)
		}
	}
	rh := rec.Computed
	stored := rh[:]
	if lh := rec.LeafHash; lh != nil && !isPrefixOf(lh, rh) {
		stored = bytes.Clone(lh)
		if len(v.mismatches) < maxMismatches {
			m := &mismatch{rec: *rec, stored: stored}
			m.rec.Body, m.rec.Salt, m.rec.LeafHash = nil, nil, nil
			v.mismatches = append(v.mismatches, m)
			v.pending = append(v.pending, m)
		}
		switch {
		case len(stored) != 32:
			// Only a prefix is stored: no tree of stored hashes can be
			// built; the row is still named (its fields changed).
			v.s, v.sPartial = nil, true
		case v.s == nil && !v.broken && !v.sPartial:
			v.s = v.r.Clone()
		}
	}
	if !v.broken {
		v.r.Append(rh[:], v.visit)
		if v.s != nil {
			v.s.Append(stored, nil)
		}
	}
	v.next++
	v.compare()
}

// isPrefixOf reports whether stored, a stored leaf hash (whole or a prefix
// of at least MinLeafPrefix bytes), is h or begins it.
func isPrefixOf(stored []byte, h [32]byte) bool {
	return len(stored) >= MinLeafPrefix && len(stored) <= len(h) && bytes.Equal(stored, h[:len(stored)])
}

func (v *Verifier) leafHash(rec *Record, seq int64) [32]byte {
	l := Leaf{Tenant: v.tenant, ID: rec.ID, Seq: uint64(seq), ReceivedAt: rec.ReceivedAt,
		Type: rec.Type, KeyID: rec.KeyID, BodyCommit: rec.BodyCommit}
	v.buf = l.Append(v.buf[:0])
	return LeafHash(v.buf)
}

// visit compares every recomputed node of tree level 8·k (k ≥ 1) with the
// stored tile that holds it.
func (v *Verifier) visit(level uint, index uint64, hash []byte) {
	if v.tiles == nil || level == 0 || level%TileHeight != 0 {
		return
	}
	tile := v.tiles[[2]uint64{uint64(level / TileHeight), index / TileWidth}]
	off := int(index%TileWidth) * 32
	if off+32 <= len(tile) && bytes.Equal(tile[off:off+32], hash) {
		return
	}
	first := int64(index << level)
	v.tileMisses = append(v.tileMisses, tileMiss{level: level / TileHeight, index: index / TileWidth, first: first, end: first + int64(1)<<level - 1})
}

// compare checks the recomputed tree against every checkpoint of its size.
func (v *Verifier) compare() {
	for v.cpi < len(v.cps) && v.cps[v.cpi].Size <= uint64(v.next) {
		c := &v.cps[v.cpi]
		v.cpi++
		if c.Size < uint64(v.next) || v.broken {
			// Sizes passed while seqs were missing cannot be recomputed;
			// the missing seqs are already reported.
			continue
		}
		v.check(c)
	}
}

func (v *Verifier) check(c *cpCheck) {
	rootR := v.r.Root()
	outside := c.source == "remembered" || c.source == "witnessed"
	switch {
	case rootR == c.Root:
		for _, m := range v.pending {
			m.kind, m.msg = KindTile, "the stored leaf hash is damaged; the event itself matches the signed checkpoint"
		}
		for _, t := range v.tileMisses {
			v.add(t.first, t.end, KindTile, "stored tile (level %d, index %d) does not match the hashes of the events it covers; the events match the signed checkpoint of size %d", t.level, t.index, c.Size)
		}
		v.matched(c, outside)
		return
	case v.s != nil && v.s.Root() == c.Root:
		for _, m := range v.pending {
			m.kind, m.msg = KindModified, fmt.Sprintf("event %s: its leaf fields (id, seq, received_at, type, key id or body commitment) changed after they were committed", m.rec.ID)
		}
		v.matched(c, outside)
		return
	}
	// Neither tree matches. Rows already found wrong explain it; so does
	// damage found at an earlier checkpoint of this window (it stays open:
	// no later root can match while it is there).
	for _, m := range v.pending {
		m.kind, m.msg = KindModified, fmt.Sprintf("event %s: its leaf fields changed after they were committed", m.rec.ID)
	}
	if len(v.pending) == 0 && !v.explained {
		kind, from := KindModified, int64(v.lastGood)
		what := fmt.Sprintf("the events do not match the signed %s checkpoint of size %d", c.source, c.Size)
		if outside {
			kind, from = KindRewritten, int64(v.lastOutside)
			what = fmt.Sprintf("the ledger's history differs from the %s checkpoint of size %d: it was rewritten after that checkpoint was signed", c.source, c.Size)
		}
		if len(v.tileMisses) > 0 {
			for _, t := range v.tileMisses {
				v.add(t.first, t.end, kind, "%s (stored tile level %d, index %d differs in this range)", what, t.level, t.index)
			}
		} else {
			v.add(from, int64(c.Size)-1, kind, "%s", what)
		}
	}
	v.explained = true
	v.pending, v.tileMisses = nil, nil
}

// matched closes a window whose tree matched a checkpoint.
func (v *Verifier) matched(c *cpCheck, outside bool) {
	v.lastGood = c.Size
	if outside {
		v.lastOutside = c.Size
	}
	v.pending, v.tileMisses = nil, nil
	v.explained = false
}

// Abandon completes the report when no records could be checked (the
// checkpoint to check them against is not trusted): only the findings so far.
func (v *Verifier) Abandon(reason string) *Report {
	v.Note("%s", reason)
	return &v.rep
}

// Finish completes the report. treeSize is the tree size the store records
// for the tenant, or -1 when the source has none.
func (v *Verifier) Finish(treeSize int64) *Report {
	if v.Deletions != nil {
		for _, f := range v.Deletions.Findings() {
			v.Fail(f)
		}
		if v.Deletions.Unchecked() && v.rep.Pruned > 0 {
			v.Note("%d deleted bodies were not checked against their tombstones: the tombstones are encrypted (give the master key)", v.rep.Pruned)
		}
	}
	have := uint64(v.next)
	if v.maxClaimed > have {
		v.add(v.next, int64(v.maxClaimed)-1, KindTruncated, "%d event(s) covered by a signed checkpoint of size %d are gone from the end of the ledger", v.maxClaimed-have, v.maxClaimed)
	} else if treeSize > v.next {
		v.add(v.next, treeSize-1, KindTruncated, "%d event(s) recorded in the tree state are gone from the end of the ledger", treeSize-v.next)
	}
	for _, c := range v.cps {
		if (c.source == "remembered" || c.source == "witnessed") && c.Size > have {
			v.add(int64(have), int64(c.Size)-1, KindRolledBack, "the ledger holds %d event(s) but a %s checkpoint of size %d was seen before: it was rolled back", have, c.source, c.Size)
		}
	}
	rolledBack := v.latest != nil && treeSize >= 0 && uint64(treeSize) > v.latest.Size && uint64(treeSize) <= have
	if rolledBack {
		v.add(-1, -1, KindRolledBack, "the latest checkpoint (size %d) is older than the tree it should sign (size %d)", v.latest.Size, treeSize)
	} else if have > v.maxClaimed && v.rejected > 0 {
		v.add(int64(v.maxClaimed), v.next-1, KindInserted, "%d event(s) at the end are covered by no valid checkpoint (the largest valid one has size %d; the checkpoints rejected above may have covered them)", have-v.maxClaimed, v.maxClaimed)
	} else if have > v.maxClaimed {
		v.add(int64(v.maxClaimed), v.next-1, KindInserted, "%d event(s) at the end are covered by no signed checkpoint (the largest has size %d)", have-v.maxClaimed, v.maxClaimed)
	}
	for _, m := range v.pending {
		m.kind, m.msg = KindModified, fmt.Sprintf("event %s: its leaf fields do not match its stored leaf hash", m.rec.ID)
	}
	v.pairReordered()
	for _, m := range v.mismatches {
		v.add(m.rec.Seq, m.rec.Seq, m.kind, "%s", m.msg)
	}
	slices.SortStableFunc(v.rep.Findings, func(a, b Finding) int {
		if a.Seq != b.Seq {
			return int(a.Seq - b.Seq)
		}
		return 0
	})
	v.rep.Size = uint64(v.next)
	if !v.broken {
		root := v.r.Root()
		v.rep.Root = b64(root[:])
	}
	return &v.rep
}

// pairReordered finds rows that hold an event committed at another
// mismatching seq: their stored leaf hash is their leaf under that seq.
func (v *Verifier) pairReordered() {
	if len(v.mismatches) > 1000 {
		return
	}
	for _, m := range v.mismatches {
		for _, o := range v.mismatches {
			if o == m {
				continue
			}
			if isPrefixOf(m.stored, v.leafHash(&m.rec, o.rec.Seq)) {
				m.kind = KindReordered
				m.msg = fmt.Sprintf("event %s was committed at seq %d and now sits at seq %d", m.rec.ID, o.rec.Seq, m.rec.Seq)
				break
			}
		}
	}
}

// RequireWitnesses checks that a witnessed checkpoint note carries at least
// n cosignatures by the keyring's witness keys.
func (v *Verifier) RequireWitnesses(note []byte, n int) {
	cp, err := OpenCheckpoint(note, v.origin, v.keys)
	if err != nil {
		return // already reported by Checkpoints
	}
	if got := v.keys.WitnessedBy(cp); len(got) < n {
		v.add(-1, -1, KindWitness, "the newest witnessed checkpoint (size %d) carries %d of the %d required witness cosignatures", cp.Size, len(got), n)
	}
}
