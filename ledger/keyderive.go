package ledger

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"

	"golang.org/x/mod/sumdb/note"
)

// deriveVKey returns the verifier key for an Ed25519 note key's name and
// base64(0x01 ‖ seed).
func deriveVKey(name, key64 string) (string, error) {
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("signing key: not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(name, pub)
}
