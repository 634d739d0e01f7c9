// Package ledger defines the bytes of clawtrail's tamper-evident ledger: the
// leaf record each event commits to, and the salted body commitment. It is
// pure (no I/O). The tree over the leaves follows RFC 6962: a leaf hash is
// SHA-256(0x00 ‖ leaf record).
//
// IMPORTANT: the encodings here are frozen (docs/ledger.md has their exact
// bytes and test vectors). Never change them in place; add a new version.
package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// LeafVersion is the format version of leaf records written today.
const LeafVersion = 1

// BodyDomain prefixes the body commitment's hash input.
const BodyDomain = "clawtrail/body/v1"

// SaltSize is the size of the per-event random salt of events sealed
// under a data key, and of every event written before ledger schema 6.
const SaltSize = 32

// ClearSaltSize is the size of the salt of events stored in clear since
// ledger schema 6: 128 random bits, as many as a guess at a deleted body
// must also guess. A commitment takes a salt of any length.
const ClearSaltSize = 16

// Leaf is what the ledger commits to for one event. The body itself is
// covered only through BodyCommit, so deleting a body and its salt
// (retention, erasure) leaves the leaf, and the tree, intact.
type Leaf struct {
	Tenant     string
	ID         string
	Seq        uint64
	ReceivedAt int64 // ns since the Unix epoch, UTC
	Type       string
	KeyID      string
	BodyCommit [32]byte
}

// BodyCommit returns SHA-256(BodyDomain ‖ salt ‖ body).
func BodyCommit(salt, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(BodyDomain))
	h.Write(salt)
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Append appends the leaf record:
//
//	u8  version (1)
//	u16 len ‖ tenant      (big-endian length, then UTF-8 bytes)
//	u16 len ‖ event id
//	u64 seq               (big-endian)
//	i64 received_at       (ns since the Unix epoch, big-endian two's complement)
//	u16 len ‖ type
//	u16 len ‖ key id
//	32  body commitment
func (l *Leaf) Append(dst []byte) []byte {
	dst = append(dst, LeafVersion)
	dst = appendStr(dst, l.Tenant)
	dst = appendStr(dst, l.ID)
	dst = binary.BigEndian.AppendUint64(dst, l.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(l.ReceivedAt))
	dst = appendStr(dst, l.Type)
	dst = appendStr(dst, l.KeyID)
	return append(dst, l.BodyCommit[:]...)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// ErrMalformedLeaf is returned by ParseLeaf for bytes that are not a leaf.
var ErrMalformedLeaf = errors.New("malformed leaf record")

// ParseLeaf decodes a leaf record written by Append.
func ParseLeaf(rec []byte) (Leaf, error) {
	p := parser{b: rec}
	var l Leaf
	if v := p.u8(); v != LeafVersion {
		return l, fmt.Errorf("%w: version %d", ErrMalformedLeaf, v)
	}
	l.Tenant = p.str()
	l.ID = p.str()
	l.Seq = p.u64()
	l.ReceivedAt = int64(p.u64())
	l.Type = p.str()
	l.KeyID = p.str()
	copy(l.BodyCommit[:], p.take(32))
	if p.bad || len(p.b) != 0 {
		return Leaf{}, ErrMalformedLeaf
	}
	return l, nil
}

type parser struct {
	b   []byte
	bad bool
}

func (p *parser) take(n int) []byte {
	if p.bad || len(p.b) < n {
		p.bad = true
		return make([]byte, n)
	}
	out := p.b[:n]
	p.b = p.b[n:]
	return out
}

func (p *parser) u8() byte    { return p.take(1)[0] }
func (p *parser) u64() uint64 { return binary.BigEndian.Uint64(p.take(8)) }
func (p *parser) str() string {
	n := binary.BigEndian.Uint16(p.take(2))
	return string(p.take(int(n)))
}

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 ‖ rec).
func LeafHash(rec []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(rec)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
