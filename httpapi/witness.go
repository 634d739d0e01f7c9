package httpapi

import (
	"context"
	"errors"
	"fmt"
	"github.com/clawtrail/clawtrail/ledger"
	"io"
	"net/http"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/sqlite"
)

// maxCosignatureBody bounds POST /v1/checkpoint/cosignature's body (a
// checkpoint note is far smaller; ledger.OpenCheckpoint refuses more).
const maxCosignatureBody = 64 << 10

// CosignatureResponse is POST /v1/checkpoint/cosignature's answer.
type CosignatureResponse struct {
	Stored int `json:"stored"`
}

// handleAddCosignature is POST /v1/checkpoint/cosignature: a witness hands
// in the tenant's checkpoint note with its cosignature line(s) appended
// (C2SP tlog-cosignature). The log checks the checkpoint is its own and of
// its tree, and stores the lines; it cannot check the witness signatures
// (it knows no witness keys): verifiers do.
func (s *Server) handleAddCosignature(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCosignatureBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = fmt.Errorf("%w: a cosigned checkpoint is at most %d bytes", clawtrail.ErrTooLarge, maxCosignatureBody)
		}
		s.writeError(w, r, err)
		return
	}
	n, err := s.store.AddCosignature(r.Context(), c.tenant, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("witness cosignature stored", "tenant", c.tenant, "lines", n, "key_id", c.key.ID)
	writeJSON(w, http.StatusOK, CosignatureResponse{Stored: n})
}

// handleWitnessedCheckpoint is GET /v1/checkpoint?witnessed=true: the
// largest checkpoint witnesses cosigned, with their cosignatures.
func (s *Server) handleWitnessedCheckpoint(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	note, err := s.store.WitnessedCheckpoint(r.Context(), c.tenant)
	if err == nil && note == nil {
		err = fmt.Errorf("%w: no checkpoint of tenant %q carries a witness cosignature", clawtrail.ErrNotFound, c.tenant)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(note)
}

// withCosignatures appends to the latest checkpoint note the witness
// cosignatures stored for exactly its size, if any. The largest witnessed
// checkpoint is never larger than the latest, so it is the latest's size
// or nothing applies.
func (s *Server) withCosignatures(ctx context.Context, tenant string, latest []byte) []byte {
	size, err := ledger.NoteSize(latest)
	if err != nil {
		return latest
	}
	wit, err := s.store.WitnessedCheckpoint(ctx, tenant)
	if err != nil {
		s.log.Warn("read witness cosignatures", "tenant", tenant, "err", err)
		return latest
	}
	if wit == nil {
		return latest
	}
	if ws, err := ledger.NoteSize(wit); err != nil || ws != size {
		return latest
	}
	out := append([]byte(nil), latest...)
	for _, l := range sqlite.CosignatureLines(wit, s.store.LogName()) {
		out = append(out, l...)
	}
	return out
}
