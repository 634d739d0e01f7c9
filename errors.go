package clawtrail

import (
	"errors"
	"fmt"
)

// Sentinel errors. They carry policy: the HTTP layer maps each to a status
// code, and the CLI to an exit code, in exactly one place each.
var (
	ErrInvalid      = errors.New("invalid input")           // 400, exit 2
	ErrUnauthorized = errors.New("not authenticated")       // 401, exit 4
	ErrForbidden    = errors.New("not allowed")             // 403, exit 4
	ErrNotFound     = errors.New("not found")               // 404
	ErrConflict     = errors.New("conflict")                // 409
	ErrTooLarge     = errors.New("too large")               // 413
	ErrRateLimited  = errors.New("rate limited")            // 429 + Retry-After, exit 3
	ErrDiskFull     = errors.New("storage full")            // 507
	ErrUnavailable  = errors.New("temporarily unavailable") // 503 + Retry-After
	ErrClosed       = errors.New("store closed")            // 503
)

// ConflictError reports an event id already stored with a different body.
type ConflictError struct {
	Line int
	ID   string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("line %d: id %q was already stored with a different body", e.Line, e.ID)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// InvalidError lists every problem found in a request.
type InvalidError struct {
	Message string
	Details []FieldError
}

func (e *InvalidError) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	msg := e.Message + ": " + e.Details[0].Error()
	if n := len(e.Details) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }
