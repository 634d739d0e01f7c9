package clawtrail

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Role is what an API key may do (SPEC §2).
type Role string

// The roles, each including the one before it except ingest.
const (
	RoleIngest  Role = "ingest"  // write events only
	RoleReader  Role = "reader"  // search, export, tail, sessions
	RoleAuditor Role = "auditor" // reader + verify, proofs, bundles, the server's own records
	RoleAdmin   Role = "admin"   // auditor + keys, retention, holds, erasure
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool {
	switch r {
	case RoleIngest, RoleReader, RoleAuditor, RoleAdmin:
		return true
	}
	return false
}

// Can reports whether role r includes the permission of role need. Reading
// roles nest (reader < auditor < admin); writing is for ingest and admin.
func (r Role) Can(need Role) bool {
	if need == RoleIngest {
		return r == RoleIngest || r == RoleAdmin
	}
	return r.readRank() >= need.readRank() && need.readRank() > 0
}

func (r Role) readRank() int {
	switch r {
	case RoleReader:
		return 1
	case RoleAuditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// APIKey describes a key; the secret is never kept, only its hash.
type APIKey struct {
	ID        string
	Tenant    string
	Role      Role
	Root      bool // the bootstrap key: admin of every tenant
	Name      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: not revoked
}

// String names a key by its id, never its secret.
func (k APIKey) String() string { return fmt.Sprintf("key %s (%s, %s)", k.ID, k.Tenant, k.Role) }

// tokenPrefix starts every API key token: ct_<id>_<secret>.
const tokenPrefix = "ct_"

// NewToken returns a fresh key id, the token to hand out, and the hash of
// its secret to store.
func NewToken() (id, token string, hash [32]byte) {
	var idb [8]byte
	var secret [32]byte
	rand.Read(idb[:])
	rand.Read(secret[:])
	id = hex.EncodeToString(idb[:])
	s := base64.RawURLEncoding.EncodeToString(secret[:])
	return id, tokenPrefix + id + "_" + s, sha256.Sum256([]byte(s))
}

// SplitToken returns the key id and secret of a token.
func SplitToken(token string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(token, tokenPrefix)
	if !found {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	return id, secret, ok && len(id) == 16 && secret != ""
}

// SecretMatches compares a presented secret with a stored hash in constant
// time.
func SecretMatches(secret string, hash []byte) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], hash) == 1
}
