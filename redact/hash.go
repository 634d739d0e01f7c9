package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// fingerprintContext separates fingerprints from every other use of the
// fingerprint key.
const fingerprintContext = "clawtrail/fingerprint/v1\x00"

// Fingerprint is the keyed fingerprint of a redacted value: the lowercase hex
// of the first 16 bytes of HMAC-SHA256(key, "clawtrail/fingerprint/v1\x00" +
// value). It is what a Redaction records, so that someone who holds a value
// can tell whether it was redacted (clawtrail hash) without the log ever
// holding the value.
func Fingerprint(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(fingerprintContext))
	m.Write([]byte(value))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:16])
}

// Pseudonym is what a field rule "hmac" stores in place of a value: "hmac:"
// followed by the lowercase hex of the first 16 bytes of HMAC-SHA256(key,
// value). It is deterministic, so an equality search works on pseudonyms, and
// a caller can pseudonymise a raw query value the same way.
func Pseudonym(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	var sum [sha256.Size]byte
	b := make([]byte, 0, len(pseudonymPrefix)+32)
	b = append(b, pseudonymPrefix...)
	return string(hex.AppendEncode(b, m.Sum(sum[:0])[:16]))
}

const pseudonymPrefix = "hmac:"

// isPseudonym reports whether s is what Pseudonym returns (so that a field
// rule does not pseudonymise a pseudonym again).
func isPseudonym(s string) bool {
	if len(s) != len(pseudonymPrefix)+32 || s[:len(pseudonymPrefix)] != pseudonymPrefix {
		return false
	}
	for i := len(pseudonymPrefix); i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// macPool keeps keyed HMAC-SHA256 states for one key: Reset brings one
// back to its keyed start without hashing the key again.
type macPool struct {
	key  []byte
	pool sync.Pool
}

func newMACPool(key []byte) *macPool {
	p := &macPool{key: key}
	p.pool.New = func() any { return hmac.New(sha256.New, p.key) }
	return p
}

// sum16 returns the first 16 bytes of HMAC(key, prefix + value), in hex.
func (p *macPool) sum16(prefix, value string) string {
	m := p.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(prefix))
	m.Write([]byte(value))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0])[:16])
	p.pool.Put(m)
	return out
}
