package clawtrail

import "crypto/sha256"

// Pending is one validated event waiting to be sequenced.
type Pending struct {
	Event   *Event   // Seq, ReceivedAt, TenantID and KeyID are assigned at commit
	ReqHash [16]byte // hash of the canonical client body, for idempotency
	Line    int      // where it came from in its request, for errors
	// Tail is the body after id, seq and received_at (Event.AppendTail),
	// encoded by the store before the event enters the single-writer section.
	Tail []byte
}

// ReqHash returns the idempotency hash of a canonical client body: the first
// 16 bytes of its SHA-256.
func ReqHash(canonical []byte) [16]byte {
	sum := sha256.Sum256(canonical)
	var h [16]byte
	copy(h[:], sum[:16])
	return h
}
