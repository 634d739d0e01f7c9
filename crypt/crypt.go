// Package crypt is clawtrail's envelope encryption: a master key (a file the
// operator keeps) wraps one secret per tenant, each tenant secret derives the
// tenant's keys (wrapping, blind index, fingerprints, pseudonyms), and the
// wrapping key wraps one data key per data subject (user_id, or the tenant
// when an event names no user). Event bodies are sealed under their
// subject's data key. Destroying a data key makes its events unreadable
// (crypto-shredding) without rewriting them.
//
// Sealing uses AES-256-GCM under a per-message subkey: a random 24-byte
// nonce N is drawn, the subkey is HMAC-SHA256(key, "clawtrail/seal/v1" ‖
// N[:12]) and the message is AES-256-GCM under it with nonce N[12:]. A data
// key may therefore seal any number of events (random 96-bit nonces under a
// single AES key are limited to about 2^32 messages). Only the standard
// library is used.
package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of every key here.
const KeySize = 32

// NonceSize is the size of the nonce that prefixes a sealed message.
const NonceSize = 24

// Overhead is what Seal adds to a plaintext: nonce and GCM tag.
const Overhead = NonceSize + 16

// ErrOpen is returned when a sealed message does not open: a wrong key, a
// wrong associated data, or altered bytes.
var ErrOpen = errors.New("message authentication failed")

// Key is a 256-bit secret key.
type Key [KeySize]byte

// NewKey returns a fresh random key.
func NewKey() Key {
	var k Key
	rand.Read(k[:])
	return k
}

// LoadMasterKey reads a master key file: 32 bytes written as 64 hex digits
// or as base64 (standard or URL alphabet, padded or not), surrounding white
// space ignored. `openssl rand -base64 32 > master.key` makes one.
func LoadMasterKey(path string) (Key, error) {
	var k Key
	b, err := os.ReadFile(path)
	if err != nil {
		return k, fmt.Errorf("read master key: %w", err)
	}
	s := strings.TrimSpace(string(b))
	var raw []byte
	if len(s) == 2*KeySize {
		raw, err = hex.DecodeString(s)
	}
	if raw == nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if raw, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	if err != nil || len(raw) != KeySize {
		return k, fmt.Errorf("master key file %s: want 32 bytes as 64 hex digits or base64 (make one with: openssl rand -base64 32), got %d characters", path, len(s))
	}
	copy(k[:], raw)
	clear(raw)
	return k, nil
}

// Derive returns the key for purpose derived from k (HKDF-SHA256, with
// purpose as the info).
func (k *Key) Derive(purpose string) Key {
	out, err := hkdf.Key(sha256.New, k[:], nil, "clawtrail/"+purpose, KeySize)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return Key(out)
}

// Check returns a short public value that identifies k without revealing
// it: stored beside the data, it tells the right master key from a wrong
// one at start.
func (k *Key) Check() string {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte("clawtrail/key-check/v1"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// MAC returns HMAC-SHA256(k, msg).
func (k *Key) MAC(msg []byte) [32]byte {
	m := hmac.New(sha256.New, k[:])
	m.Write(msg)
	return [32]byte(m.Sum(nil))
}

func (k *Key) aead(nonce []byte) cipher.AEAD {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte("clawtrail/seal/v1"))
	m.Write(nonce[:12])
	sub := m.Sum(nil)
	block, err := aes.NewCipher(sub)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// Seal appends to dst the nonce and the AES-256-GCM sealing of plaintext
// with associated data ad.
func (k *Key) Seal(dst, plaintext, ad []byte) []byte {
	var nonce [NonceSize]byte
	rand.Read(nonce[:])
	dst = append(dst, nonce[:]...)
	return k.aead(nonce[:]).Seal(dst, nonce[12:], plaintext, ad)
}

// Open opens a message made by Seal with the same associated data, and
// appends the plaintext to dst.
func (k *Key) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrOpen
	}
	out, err := k.aead(sealed[:NonceSize]).Open(dst, sealed[12:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// Wrap seals key k under kek for the named purpose (associated data).
func (kek *Key) Wrap(k Key, name string) []byte {
	return kek.Seal(nil, k[:], []byte("clawtrail/wrap/v1\x00"+name))
}

// Unwrap opens a key wrapped by Wrap with the same name.
func (kek *Key) Unwrap(wrapped []byte, name string) (Key, error) {
	var k Key
	b, err := kek.Open(nil, wrapped, []byte("clawtrail/wrap/v1\x00"+name))
	if err != nil || len(b) != KeySize {
		return k, ErrOpen
	}
	copy(k[:], b)
	clear(b)
	return k, nil
}

// sealerUses bounds how many messages a Sealer seals under one subkey
// before it draws a new nonce prefix (and subkey): with random 96-bit GCM
// nonces, 2^20 messages per subkey keep the chance of a repeat negligible.
const sealerUses = 1 << 20

// Sealer seals many messages under one key faster than Key.Seal: it keeps
// the subkey of a random nonce prefix for up to 2^20 messages instead of
// deriving one per message. Its output is what Key.Seal makes (Key.Open
// opens it). Not safe for concurrent use.
type Sealer struct {
	key    *Key
	prefix [12]byte
	aead   cipher.AEAD
	uses   int
}

// NewSealer returns a Sealer for k.
func (k *Key) NewSealer() *Sealer { return &Sealer{key: k} }

// Seal appends nonce ‖ AES-256-GCM(plaintext, ad) to dst.
func (s *Sealer) Seal(dst, plaintext, ad []byte) []byte {
	if s.aead == nil || s.uses >= sealerUses {
		rand.Read(s.prefix[:])
		s.aead, s.uses = s.key.aead(s.prefix[:]), 0
	}
	s.uses++
	var nonce [NonceSize]byte
	copy(nonce[:12], s.prefix[:])
	rand.Read(nonce[12:])
	dst = append(dst, nonce[:]...)
	return s.aead.Seal(dst, nonce[12:], plaintext, ad)
}

// Prefix returns the nonce prefix of a sealed message: messages with the
// same prefix (a Sealer's) share one subkey, which a reader may cache
// (Subkey, OpenWith).
func Prefix(sealed []byte) ([12]byte, bool) {
	var p [12]byte
	if len(sealed) < Overhead {
		return p, false
	}
	copy(p[:], sealed)
	return p, true
}

// Subkey returns the AEAD of a nonce prefix (safe for concurrent use).
func (k *Key) Subkey(prefix [12]byte) cipher.AEAD { return k.aead(prefix[:]) }

// OpenWith opens a sealed message with its prefix's AEAD (from Subkey).
func OpenWith(aead cipher.AEAD, dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrOpen
	}
	out, err := aead.Open(dst, sealed[12:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
