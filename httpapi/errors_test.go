package httpapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/clawtrail/clawtrail"
)

// Every sentinel the server answers with comes back as itself in the client.
func TestStatusRoundTrip(t *testing.T) {
	for _, err := range []error{clawtrail.ErrInvalid, clawtrail.ErrUnauthorized, clawtrail.ErrForbidden,
		clawtrail.ErrNotFound, clawtrail.ErrConflict, clawtrail.ErrTooLarge, clawtrail.ErrDiskFull, clawtrail.ErrUnavailable} {
		status, code := statusOf(fmt.Errorf("wrapped: %w", err))
		back := &APIError{Status: status, Code: code}
		if !errors.Is(back, err) {
			t.Errorf("%v → %d %s → %v", err, status, code, back.Unwrap())
		}
	}
	if status, code := statusOf(errors.New("boom")); status != 500 || code != "internal" {
		t.Errorf("unknown error → %d %s, want 500 internal", status, code)
	}
	if status, _ := statusOf(&clawtrail.ConflictError{ID: "x"}); status != 409 {
		t.Errorf("ConflictError → %d, want 409", status)
	}
}
