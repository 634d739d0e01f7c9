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

// statusOf maps an error to its HTTP status and code; this is the one place
// where that mapping lives.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, clawtrail.ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, clawtrail.ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, clawtrail.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, clawtrail.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, clawtrail.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, clawtrail.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, clawtrail.ErrDiskFull):
		return http.StatusInsufficientStorage, "storage_full"
	case errors.Is(err, clawtrail.ErrUnavailable), errors.Is(err, clawtrail.ErrClosed):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timeout"
	}
	return http.StatusInternalServerError, "internal"
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
