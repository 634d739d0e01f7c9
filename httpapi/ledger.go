package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/sqlite"
)

// LedgerStore is what the tamper-evidence endpoints need of a store.
type LedgerStore interface {
	ReadSpecial(ctx context.Context, tenant string, to int64, fn func(*ledger.Record) error) error
	Checkpoint(ctx context.Context, tenant string) ([]byte, error)
	Checkpoints(ctx context.Context, tenant string) ([]sqlite.StoredCheckpoint, error)
	InclusionProof(ctx context.Context, tenant string, seq int64, size uint64) ([][]byte, uint64, error)
	ConsistencyProof(ctx context.Context, tenant string, from, to uint64) ([][]byte, uint64, error)
	LeafProofs(ctx context.Context, tenant string, seqs []int64, size uint64) ([]sqlite.LeafProof, uint64, error)
	ReadLedger(ctx context.Context, tenant string, from, to int64, fn func(*ledger.Record) error) error
	IndexCoverage(ctx context.Context, tenant string) (sqlite.Coverage, error)
	SigningKeys(ctx context.Context) ([]ledger.KeyInfo, error)
	RotateSigningKey(ctx context.Context) (string, error)
	LogName() string
	Origin(tenant string) string
	AddCosignature(ctx context.Context, tenant string, note []byte) (int, error)
	WitnessedCheckpoint(ctx context.Context, tenant string) ([]byte, error)
}

// handleCheckpoint is GET /v1/checkpoint: the latest signed checkpoint, with
// the witness cosignatures of its size (?witnessed=true: the largest
// witnessed checkpoint instead).
func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("witnessed") == "true" {
		s.handleWitnessedCheckpoint(w, r)
		return
	}
	c := callerOf(r.Context())
	note, err := s.store.Checkpoint(r.Context(), c.tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	note = s.withCosignatures(r.Context(), c.tenant, note)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(note)
}

func uintParam(r *http.Request, name string, required bool) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if required {
			return 0, &clawtrail.InvalidError{Message: name + " is required"}
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("%s must be a non-negative integer, not %q", name, v)}
	}
	return n, nil
}

// uintPair reads two integer parameters, the first required when req.
func uintPair(r *http.Request, first string, req bool, second string) (uint64, uint64, error) {
	a, err := uintParam(r, first, req)
	if err != nil {
		return 0, 0, err
	}
	b, err := uintParam(r, second, false)
	return a, b, err
}

// InclusionResponse is GET /v1/proof/inclusion's answer.
type InclusionResponse struct {
	Seq      int64    `json:"seq"`
	Size     uint64   `json:"size"`
	ID       string   `json:"id"`
	Leaf     []byte   `json:"leaf"`      // the leaf record
	LeafHash []byte   `json:"leaf_hash"` // SHA-256(0x00 ‖ leaf)
	Hashes   [][]byte `json:"hashes"`
}

// handleInclusion is GET /v1/proof/inclusion?seq=&size= (size defaults to
// the latest checkpoint's).
func (s *Server) handleInclusion(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	seq, size, err := uintPair(r, "seq", true, "size")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lps, size, err := s.store.LeafProofs(r.Context(), c.tenant, []int64{int64(seq)}, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lp := lps[0]
	lh := ledger.LeafHash(lp.Leaf)
	writeJSON(w, http.StatusOK, InclusionResponse{Seq: lp.Seq, Size: size, ID: lp.ID, Leaf: lp.Leaf, LeafHash: lh[:], Hashes: nonNil(lp.Proof)})
}

// ConsistencyResponse is GET /v1/proof/consistency's answer.
type ConsistencyResponse struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

// handleConsistency is GET /v1/proof/consistency?from=&to= (to defaults to
// the latest checkpoint's size).
func (s *Server) handleConsistency(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	from, to, err := uintPair(r, "from", true, "to")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, to, err := s.store.ConsistencyProof(r.Context(), c.tenant, from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ConsistencyResponse{From: from, To: to, Hashes: nonNil(p)})
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}

// CheckpointsResponse is GET /v1/checkpoints' answer: the history.
type CheckpointsResponse struct {
	Origin      string                    `json:"origin"`
	Checkpoints []sqlite.StoredCheckpoint `json:"checkpoints"`
}

func (s *Server) handleCheckpoints(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	cps, err := s.store.Checkpoints(r.Context(), c.tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if cps == nil {
		cps = []sqlite.StoredCheckpoint{}
	}
	writeJSON(w, http.StatusOK, CheckpointsResponse{Origin: s.store.Origin(c.tenant), Checkpoints: cps})
}

// SigningKeysResponse is GET /v1/signing-keys' answer: the log's public
// keys with their validity (public, no key needed).
type SigningKeysResponse struct {
	LogName string           `json:"log_name"`
	Keys    []ledger.KeyInfo `json:"keys"`
}

func (s *Server) handleSigningKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.store.SigningKeys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SigningKeysResponse{LogName: s.store.LogName(), Keys: keys})
}

// handleRotateSigning is POST /v1/admin/rotate-signing (root key only: the
// signing key is the server's, not a tenant's).
func (s *Server) handleRotateSigning(w http.ResponseWriter, r *http.Request) {
	if !callerOf(r.Context()).key.Root {
		s.writeError(w, r, fmt.Errorf("%w: only the root key may rotate the server's signing key", clawtrail.ErrForbidden))
		return
	}
	vkey, err := s.store.RotateSigningKey(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.audit.configChange(r.Context(), SystemTenant, callerOf(r.Context()).key, "signing key rotated", map[string]string{"vkey": vkey}); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("signing key rotated", "key_id", callerOf(r.Context()).key.ID)
	writeJSON(w, http.StatusOK, map[string]string{"vkey": vkey})
}

// handleLedger is GET /v1/ledger?from=&to=: the stored records of seqs
// [from, to) in the ledger stream format, for clawtrail verify. to defaults
// to the latest checkpoint's size.
func (s *Server) handleLedger(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	from, to, err := uintPair(r, "from", false, "to")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// to defaults to, and may not pass, the latest checkpoint's size.
	note, err := s.store.Checkpoint(r.Context(), c.tenant)
	var size uint64
	if err == nil {
		size, err = ledger.NoteSize(note)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if to == 0 || to > size {
		to = size
	}
	w.Header().Set("Content-Type", ledger.StreamContentType)
	bw := bufio.NewWriterSize(w, 256<<10)
	var buf []byte
	var n int64
	emit := func(rec *ledger.Record) error {
		n++
		buf = ledger.AppendRecord(buf[:0], rec)
		_, err := bw.Write(buf)
		return err
	}
	if r.URL.Query().Get("special") == "true" {
		// Only the tombstones and config changes: verify reads them first
		// to judge deleted bodies.
		err = s.store.ReadSpecial(r.Context(), c.tenant, int64(to), emit)
	} else {
		err = s.store.ReadLedger(r.Context(), c.tenant, int64(from), int64(to), emit)
	}
	s.audit.access(r, c, "verify", fmt.Sprintf("seq %d to %d", from, to), n)
	if err != nil {
		// Abort the connection: the client must see a broken transfer,
		// not a clean but short stream it would report as truncated.
		s.log.Error("ledger stream failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	bw.Flush()
}

func (s *Server) handleIndexCoverage(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	cov, err := s.store.IndexCoverage(r.Context(), c.tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cov)
}

// handleBundle is GET /v1/bundle?q=&from=&to=&limit=: an evidence bundle of the
// matching events, proven against the latest checkpoint.
func (s *Server) handleBundle(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	req, limit, err := s.exportRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The latest checkpoint, or with witnessed=true the newest one a
	// witness cosigned (the events after it are left out).
	note, err := s.store.Checkpoint(r.Context(), c.tenant)
	if r.URL.Query().Get("witnessed") == "true" {
		note, err = s.store.WitnessedCheckpoint(r.Context(), c.tenant)
		if err == nil && note == nil {
			err = fmt.Errorf("%w: no checkpoint of this tenant has a witness cosignature yet", clawtrail.ErrNotFound)
		}
	}
	var size uint64
	if err == nil {
		size, err = ledger.NoteSize(note)
	}
	var keys []ledger.KeyInfo
	if err == nil {
		keys, err = s.store.SigningKeys(r.Context())
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw, err := ledger.NewBundleWriter(w, ledger.BundleHeader{Tenant: c.tenant, Origin: s.store.Origin(c.tenant),
		Checkpoint: string(note), SigningKeys: keys, Query: q.Get("q"), From: q.Get("from"), To: q.Get("to"), CreatedAt: s.now().UTC().Truncate(time.Second)})
	if err != nil {
		return
	}
	var seqs []int64
	var count int64
	defer func() { s.audit.access(r, c, "bundle", q.Get("q"), count) }()
	flush := func() error {
		count += int64(len(seqs))
		if len(seqs) == 0 {
			return nil
		}
		lps, _, err := s.store.LeafProofs(r.Context(), c.tenant, seqs, size)
		if err != nil {
			return err
		}
		for i := range lps {
			if err := bw.Add(&ledger.BundleEvent{Seq: lps[i].Seq, Leaf: lps[i].Leaf, Salt: lps[i].Salt, Proof: nonNil(lps[i].Proof), Event: lps[i].Body}); err != nil {
				return err
			}
		}
		seqs = seqs[:0]
		return nil
	}
	err = s.store.Export(r.Context(), req, func(st sqlite.Stored) error {
		if uint64(st.Seq) >= size {
			return nil // committed after the checkpoint the bundle proves against
		}
		if limit > 0 && count+int64(len(seqs)) == int64(limit) {
			return errLimitReached
		}
		seqs = append(seqs, st.Seq)
		if len(seqs) == 256 {
			return flush()
		}
		return nil
	})
	if err == nil || errors.Is(err, errLimitReached) {
		err = flush()
	}
	if err != nil {
		// Abort the connection: the client sees a broken transfer (and a
		// bundle without its end line would not verify).
		s.log.Error("bundle failed mid-stream", "err", err)
		panic(http.ErrAbortHandler)
	}
	bw.Close()
}

// Receipt is what ?wait=checkpoint adds to an ingest response: the signed
// checkpoint covering the request and each new event's inclusion proof.
type Receipt struct {
	Checkpoint string         `json:"checkpoint"`
	Proofs     []ReceiptProof `json:"proofs"`
}

// ReceiptProof proves one event of a receipt.
type ReceiptProof struct {
	Seq    int64    `json:"seq"`
	ID     string   `json:"id"`
	Leaf   []byte   `json:"leaf"`
	Hashes [][]byte `json:"hashes"`
}

func (s *Server) receipt(r *http.Request, tenant string, res sqlite.AppendResult) (*Receipt, error) {
	rc := &Receipt{Checkpoint: string(res.Checkpoint), Proofs: []ReceiptProof{}}
	if res.FirstSeq < 0 {
		return rc, nil
	}
	var seqs []int64
	for q := res.FirstSeq; q <= res.LastSeq; q++ {
		seqs = append(seqs, q)
	}
	lps, _, err := s.store.LeafProofs(r.Context(), tenant, seqs, uint64(res.CheckpointSize))
	if err != nil {
		return nil, err
	}
	for _, lp := range lps {
		rc.Proofs = append(rc.Proofs, ReceiptProof{Seq: lp.Seq, ID: lp.ID, Leaf: lp.Leaf, Hashes: nonNil(lp.Proof)})
	}
	return rc, nil
}

func waitCheckpoint(r *http.Request) (bool, error) {
	switch w := r.URL.Query().Get("wait"); strings.ToLower(w) {
	case "":
		return false, nil
	case "checkpoint":
		return true, nil
	default:
		return false, &clawtrail.InvalidError{Message: fmt.Sprintf("wait must be \"checkpoint\", not %q", w)}
	}
}
