package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/sqlite"
)

type ingestResponse struct {
	Accepted       int      `json:"accepted"`
	Duplicates     int      `json:"duplicates"`
	FirstSeq       *int64   `json:"first_seq"`
	LastSeq        *int64   `json:"last_seq"`
	CheckpointSize *int64   `json:"checkpoint_size"`
	Receipt        *Receipt `json:"receipt,omitempty"` // with ?wait=checkpoint
}

// handleIngest is POST /v1/events: atomic, and answered 200 only after the
// events are fsync'd.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	wantReceipt, err := waitCheckpoint(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ndjson := mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/ndjson"
	events, err := s.dec.Decode(body, ndjson)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, tenant, err := s.commit(r, c, events)
	if err != nil {
		s.writeCommitError(w, r, err)
		return
	}
	out := ingestResponse{Accepted: res.Accepted, Duplicates: res.Duplicates}
	if res.FirstSeq >= 0 {
		out.FirstSeq, out.LastSeq = &res.FirstSeq, &res.LastSeq
	}
	if res.Checkpoint != nil {
		out.CheckpointSize = &res.CheckpointSize
	}
	if wantReceipt {
		// Every commit is signed in its own transaction, so the checkpoint
		// that covers the request exists already: no waiting.
		if out.Receipt, err = s.receipt(r, tenant, res); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// readBody reads a request body within the request size limit, undoing
// Content-Encoding: gzip.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := ingest.ReadBody(http.MaxBytesReader(w, r.Body, int64(s.cfg.Limits.MaxRequestBytes)+1),
		r.Header.Get("Content-Encoding"), s.cfg.Limits.MaxRequestBytes)
	if _, ok := err.(*http.MaxBytesError); ok {
		err = fmt.Errorf("%w: request body is over %d bytes", clawtrail.ErrTooLarge, s.cfg.Limits.MaxRequestBytes)
	}
	return body, err
}

// rateLimited is commit's error when the key's ingest rate is reached.
type rateLimited struct{ wait time.Duration }

func (e *rateLimited) Error() string { return "ingest rate limit reached" }

// commit stores decoded events the way every ingest path does (POST
// /v1/events, OTLP, hooks): one tenant per request, the key's rate limit,
// redaction before anything is stored or hashed (the idempotency hash is of
// what the client sent, computed by the decoder), then one atomic Append.
// It returns the tenant the events went to.
func (s *Server) commit(r *http.Request, c caller, events []clawtrail.Pending) (sqlite.AppendResult, string, error) {
	tenant, err := s.ingestTenant(c, events)
	if err != nil {
		return sqlite.AppendResult{}, "", err
	}
	if wait, ok := s.limits.allowIngest(c.key.ID, len(events)); !ok {
		return sqlite.AppendResult{}, "", &rateLimited{wait}
	}
	red, err := s.redactor(r.Context(), tenant)
	if err != nil {
		return sqlite.AppendResult{}, "", err
	}
	for i := range events {
		red.Event(events[i].Event)
	}
	res, err := s.store.Append(r.Context(), tenant, c.key.ID, events)
	if err != nil {
		return sqlite.AppendResult{}, "", err
	}
	s.metrics.ingested.Add(float64(res.Accepted))
	s.metrics.duplicates.Add(float64(res.Duplicates))
	return res, tenant, nil
}

// writeCommitError answers a commit error: 429 with Retry-After for the
// rate limit, the error table for the rest.
func (s *Server) writeCommitError(w http.ResponseWriter, r *http.Request, err error) {
	var rl *rateLimited
	if errors.As(err, &rl) {
		s.tooMany(w, r, "ingest", rl.wait)
		return
	}
	s.writeError(w, r, err)
}

// ingestTenant decides which tenant a request's events belong to. A client
// may repeat its key's tenant in tenant_id; another tenant is refused unless
// the key is the root key. One request carries one tenant.
func (s *Server) ingestTenant(c caller, events []clawtrail.Pending) (string, error) {
	tenant := ""
	for _, p := range events {
		t := p.Event.TenantID
		if t == "" {
			t = c.tenant
		}
		if t != c.tenant && !c.key.Root {
			return "", fmt.Errorf("%w: line %d: tenant_id %q is not this key's tenant", clawtrail.ErrForbidden, p.Line, t)
		}
		if tenant != "" && t != tenant {
			return "", &clawtrail.InvalidError{Message: "one request may carry the events of one tenant only",
				Details: []clawtrail.FieldError{{Line: p.Line, Field: "tenant_id", Message: fmt.Sprintf("%q differs from %q", t, tenant)}}}
		}
		tenant = t
	}
	return tenant, nil
}
