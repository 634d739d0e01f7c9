// Package clawtrail holds the domain of the clawtrail audit trail: the Event,
// the roles and errors shared by every backend, and the interfaces the
// technology packages (sqlite/, httpapi/, query/, ledger/) implement or use.
package clawtrail

import (
	"time"

	"github.com/clawtrail/clawtrail/strictjson"
)

// Event is one audit record (SPEC §1). String fields that are empty are
// absent. Pointer fields are nil when absent.
type Event struct {
	ID         string
	Seq        int64 // -1 until the sequencer assigns it
	KeyID      string
	Timestamp  time.Time
	ReceivedAt time.Time
	TenantID   string

	SessionID string
	UserID    string
	AgentID   string
	Channel   string
	TraceID   string
	SpanID    string
	ParentID  string

	Type      string
	Content   string
	Tool      string
	Arguments *strictjson.Value // an Object
	Result    *strictjson.Value // any JSON
	Status    string
	Error     string

	DurationMS *float64
	TokensUsed *int64
	Usage      *strictjson.Value // an Object
	Model      string

	Destination string
	Method      string
	Endpoint    string
	StatusCode  *int64

	Operation string
	Path      string
	Bytes     *int64

	Decision string
	Approver string
	Reason   string

	Attributes *strictjson.Value // an Object
	Redactions []Redaction
}

// Redaction records that a redaction rule fired on a field; Fingerprint is a
// keyed hash of the redacted value.
type Redaction struct {
	Rule        string
	Field       string
	Fingerprint string
}

// Server-only event types: clients may not send them (SPEC §1).
const (
	TypeAuth         = "auth"
	TypeAccess       = "access"
	TypeConfigChange = "config_change"
	TypeAlert        = "alert"
	TypeTombstone    = "tombstone"
)

// ReservedType reports whether t is written only by the server.
func ReservedType(t string) bool {
	switch t {
	case TypeAuth, TypeAccess, TypeConfigChange, TypeAlert, TypeTombstone:
		return true
	}
	return false
}

// ServerRecordType reports whether t is one of the server's own record types
// that search, export, sessions and tail leave out unless a query names
// `type` (SPEC §3).
func ServerRecordType(t string) bool {
	switch t {
	case TypeAuth, TypeAccess, TypeConfigChange, TypeTombstone:
		return true
	}
	return false
}
