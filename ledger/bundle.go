package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// An evidence bundle is what a user hands an auditor: chosen events, each
// with its leaf record, salt and inclusion proof, the signed checkpoint they
// are proven against, and the log's public keys. It is JSON Lines:
//
//	line 1:      BundleHeader
//	lines 2..n:  BundleEvent, one per event
//	last line:   BundleEnd (its count guards against a truncated file)
//
// VerifyBundle checks one offline, with no server and no data directory.

// BundleFormat is the format name in a bundle's header.
const BundleFormat = "clawtrail-bundle/v1"

// BundleHeader is a bundle's first line.
type BundleHeader struct {
	Format      string    `json:"format"`
	Tenant      string    `json:"tenant"`
	Origin      string    `json:"origin"`
	Checkpoint  string    `json:"checkpoint"` // signed note, with any witness cosignatures
	SigningKeys []KeyInfo `json:"signing_keys"`
	Query       string    `json:"query,omitempty"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// BundleEvent is one event of a bundle. Event is the stored body, byte for
// byte (its commitment covers those bytes); it is null once deleted.
type BundleEvent struct {
	Seq   int64           `json:"seq"`
	Leaf  []byte          `json:"leaf"`
	Salt  []byte          `json:"salt,omitempty"`
	Proof [][]byte        `json:"proof"`
	Event json.RawMessage `json:"event"`
}

// BundleEnd is a bundle's last line.
type BundleEnd struct {
	End   bool  `json:"end"`
	Count int64 `json:"count"`
}

// BundleWriter writes a bundle.
type BundleWriter struct {
	w     *bufio.Writer
	enc   *json.Encoder
	count int64
}

// NewBundleWriter writes the header.
func NewBundleWriter(w io.Writer, h BundleHeader) (*BundleWriter, error) {
	h.Format = BundleFormat
	bw := &BundleWriter{w: bufio.NewWriterSize(w, 64<<10)}
	// The event bodies must stay byte for byte what was committed: no HTML
	// escaping (json.Marshal would turn < into \u003c).
	bw.enc = json.NewEncoder(bw.w)
	bw.enc.SetEscapeHTML(false)
	return bw, bw.line(h)
}

func (bw *BundleWriter) line(v any) error { return bw.enc.Encode(v) }

// Add writes one event.
func (bw *BundleWriter) Add(e *BundleEvent) error {
	bw.count++
	return bw.line(e)
}

// Close writes the trailer and flushes.
func (bw *BundleWriter) Close() error {
	if err := bw.line(BundleEnd{End: true, Count: bw.count}); err != nil {
		return err
	}
	return bw.w.Flush()
}

// MaxBundleLine bounds one line of a bundle.
const MaxBundleLine = 64 << 20

// VerifyBundle checks a bundle: the checkpoint's signature (against pinned
// keys when pinned has any, else the keys the bundle carries, which proves
// only that the bundle is self-consistent), each event's body against its
// commitment and leaf, and each leaf's inclusion in the checkpoint's tree.
// An error is returned only for a bundle that cannot be read at all.
func VerifyBundle(r io.Reader, pinned *Keyring) (*Report, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxBundleLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read bundle: %w", err)
		}
		return nil, fmt.Errorf("%w: empty bundle", ErrMalformed)
	}
	var h BundleHeader
	if err := strictUnmarshal(sc.Bytes(), &h); err != nil || h.Format != BundleFormat {
		return nil, fmt.Errorf("%w: line 1 is not a %s header", ErrMalformed, BundleFormat)
	}
	rep := &Report{Tenant: h.Tenant, Origin: h.Origin, Findings: []Finding{}}
	add := func(seq int64, kind, format string, args ...any) {
		rep.Findings = append(rep.Findings, Finding{Tenant: h.Tenant, Seq: seq, SeqEnd: seq, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	keys := &Keyring{}
	if pinned != nil {
		keys.log = pinned.log
		keys.witnesses, keys.Quorum = pinned.witnesses, pinned.Quorum
	}
	if keys.Len() == 0 {
		for _, k := range h.SigningKeys {
			if err := keys.AddLogKey(k.VKey); err != nil {
				add(-1, KindForged, "the bundle's signing key is malformed: %v", err)
			}
		}
		rep.Notes = append(rep.Notes, "trusting the public key inside the bundle; pin the log's key with --public-key to rule out a forged bundle")
	}
	cp, err := OpenCheckpoint([]byte(h.Checkpoint), h.Origin, keys)
	if err != nil {
		kind := KindForged
		if errors.Is(err, ErrBadSignature) {
			kind = KindBadSignature
		}
		add(-1, kind, "the bundle's checkpoint: %v", err)
	} else {
		rep.Checkpoints = 1
		rep.Size = cp.Size
		rep.Root = b64(cp.Root[:])
		if need := keys.WitnessQuorum(); need > 0 {
			if got := len(keys.WitnessedBy(cp)); got < need {
				add(-1, KindWitness, "the bundle's checkpoint carries %d of the %d required witness cosignatures (export it with --witnessed)", got, need)
			}
		}
	}
	seen := map[int64]bool{}
	var end *BundleEnd
	line := 1
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if end != nil {
			add(-1, KindInserted, "line %d follows the bundle's end line", line)
			break
		}
		if bytes.HasPrefix(b, []byte(`{"end"`)) {
			end = &BundleEnd{}
			if err := strictUnmarshal(b, end); err != nil || !end.End {
				return nil, fmt.Errorf("%w: line %d: bad end line", ErrMalformed, line)
			}
			continue
		}
		var e BundleEvent
		if err := strictUnmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, line, err)
		}
		rep.Events++
		if seen[e.Seq] {
			add(e.Seq, KindInserted, "seq %d appears twice", e.Seq)
			continue
		}
		seen[e.Seq] = true
		checkBundleEvent(&e, &h, cp, add, rep)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	switch {
	case end == nil:
		add(-1, KindTruncated, "the bundle has no end line: it was cut short after %d event(s)", rep.Events)
	case end.Count != rep.Events:
		kind := KindTruncated
		if rep.Events > end.Count {
			kind = KindInserted
		}
		add(-1, kind, "the bundle's end line counts %d event(s) but it holds %d", end.Count, rep.Events)
	}
	return rep, nil
}

func checkBundleEvent(e *BundleEvent, h *BundleHeader, cp *Checkpoint, add func(int64, string, string, ...any), rep *Report) {
	leaf, err := ParseLeaf(e.Leaf)
	if err != nil {
		add(e.Seq, KindModified, "the leaf record is malformed")
		return
	}
	if leaf.Tenant != h.Tenant || int64(leaf.Seq) != e.Seq {
		add(e.Seq, KindModified, "the leaf record names tenant %q seq %d", leaf.Tenant, leaf.Seq)
		return
	}
	if len(e.Event) == 0 || string(e.Event) == "null" {
		rep.Pruned++
	} else {
		if BodyCommit(e.Salt, e.Event) != leaf.BodyCommit {
			add(e.Seq, KindModified, "event %s: its body does not match its commitment", leaf.ID)
		} else {
			var ev struct {
				ID       string `json:"id"`
				Seq      int64  `json:"seq"`
				TenantID string `json:"tenant_id"`
				Type     string `json:"type"`
			}
			if json.Unmarshal(e.Event, &ev) != nil || ev.ID != leaf.ID || ev.Seq != e.Seq || ev.TenantID != leaf.Tenant || ev.Type != leaf.Type {
				add(e.Seq, KindModified, "event %s: its id, seq, tenant or type differ from its leaf", leaf.ID)
			}
		}
	}
	if cp == nil {
		return
	}
	lh := LeafHash(e.Leaf)
	if err := VerifyInclusion(uint64(e.Seq), cp.Size, lh[:], e.Proof, cp.Root[:]); err != nil {
		add(e.Seq, KindModified, "event %s is not in the checkpoint's tree: %v", leaf.ID, err)
	}
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
