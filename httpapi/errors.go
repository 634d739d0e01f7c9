package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/clawtrail/clawtrail"
)

// errorBody is the JSON of every error response (SPEC §2).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string                 `json:"code"`
	Message string                 `json:"message"`
	Details []clawtrail.FieldError `json:"details,omitempty"`
}

// statusTable maps sentinel errors to HTTP statuses and error codes, both
// ways: the server answers with it (statusOf) and the client turns answers
// back into the sentinels (APIError.Unwrap). The one place this lives.
var statusTable = []struct {
	err    error
	status int
	code   string
}{
	{clawtrail.ErrInvalid, http.StatusBadRequest, "invalid"},
	{clawtrail.ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
	{clawtrail.ErrForbidden, http.StatusForbidden, "forbidden"},
	{clawtrail.ErrNotFound, http.StatusNotFound, "not_found"},
	{clawtrail.ErrConflict, http.StatusConflict, "conflict"},
	{clawtrail.ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{clawtrail.ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
	{clawtrail.ErrDiskFull, http.StatusInsufficientStorage, "storage_full"},
	{clawtrail.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{clawtrail.ErrClosed, http.StatusServiceUnavailable, "unavailable"},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, "timeout"},
}

// statusOf maps an error to its HTTP status and code.
func statusOf(err error) (int, string) {
	for _, row := range statusTable {
		if errors.Is(err, row.err) {
			return row.status, row.code
		}
	}
	return http.StatusInternalServerError, "internal"
}

// sentinelOf maps an HTTP status back to the first sentinel answered with it.
func sentinelOf(status int) error {
	for _, row := range statusTable {
		if row.status == status {
			return row.err
		}
	}
	return nil
}

// writeError answers with the error's status; internal errors are logged
// and answered without their details.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	body := errorBody{Error: errorDetail{Code: code, Message: err.Error()}}
	var inv *clawtrail.InvalidError
	var conflict *clawtrail.ConflictError
	switch {
	case errors.As(err, &inv):
		body.Error.Message = inv.Message
		body.Error.Details = inv.Details
	case errors.As(err, &conflict):
		body.Error.Message = "an event id was already stored with a different body; nothing of the request was stored"
		body.Error.Details = []clawtrail.FieldError{{Line: conflict.Line, Field: "id", Message: fmt.Sprintf("%q was already stored with a different body", conflict.ID)}}
	}
	if status == http.StatusForbidden {
		// A refusal inside a handler (another tenant's tenant_id, a root-only
		// action): on record like the middleware's own refusals.
		if c, ok := r.Context().Value(ctxKey{}).(caller); ok {
			s.audit.authFailure(r, c.key.Tenant, c.key.ID, "forbidden: "+r.Method+" "+r.URL.Path)
		}
	}
	switch status {
	case http.StatusInternalServerError:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Message = "internal error; see the server log"
	case http.StatusServiceUnavailable, http.StatusInsufficientStorage:
		w.Header().Set("Retry-After", "1")
		s.log.Warn("request refused", "path", r.URL.Path, "err", err)
	}
	s.metrics.rejected.WithLabelValues(code).Inc()
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}
