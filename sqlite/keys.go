package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clawtrail/clawtrail"
)

// CreateKey creates an API key and returns its token, which is not stored
// and cannot be shown again.
func (s *Store) CreateKey(ctx context.Context, k clawtrail.APIKey) (clawtrail.APIKey, string, error) {
	if !clawtrail.ValidTenant(k.Tenant) {
		return k, "", &clawtrail.InvalidError{Message: fmt.Sprintf("invalid tenant %q", k.Tenant)}
	}
	if !clawtrail.ValidRole(k.Role) {
		return k, "", &clawtrail.InvalidError{Message: fmt.Sprintf("invalid role %q (want ingest, reader, auditor or admin)", k.Role)}
	}
	id, token, hash := clawtrail.NewToken()
	k.ID = id
	k.CreatedAt = s.now().UTC()
	var expires any
	if !k.ExpiresAt.IsZero() {
		expires = k.ExpiresAt.UnixNano()
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO api_keys(id, tenant, role, root, name, secret_hash, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?)`,
		k.ID, k.Tenant, string(k.Role), k.Root, k.Name, hash[:], k.CreatedAt.UnixNano(), expires)
	if err != nil {
		return k, "", fmt.Errorf("create key: %w", err)
	}
	return k, token, nil
}

// Authenticate returns the key a token belongs to. It returns
// ErrUnauthorized for a malformed, unknown, revoked or expired token; the
// comparison of secrets is constant-time.
func (s *Store) Authenticate(ctx context.Context, token string) (clawtrail.APIKey, error) {
	id, secret, ok := clawtrail.SplitToken(token)
	if !ok {
		return clawtrail.APIKey{}, fmt.Errorf("%w: malformed key", clawtrail.ErrUnauthorized)
	}
	var k clawtrail.APIKey
	var role string
	var hash []byte
	var created int64
	var expires, revoked sql.NullInt64
	err := s.reader.QueryRowContext(ctx, `SELECT id, tenant, role, root, name, secret_hash, created_at, expires_at, revoked_at FROM api_keys WHERE id = ?`, id).
		Scan(&k.ID, &k.Tenant, &role, &k.Root, &k.Name, &hash, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		clawtrail.SecretMatches(secret, make([]byte, 32)) // same work as a known key
		return clawtrail.APIKey{}, fmt.Errorf("%w: unknown key", clawtrail.ErrUnauthorized)
	}
	if err != nil {
		return clawtrail.APIKey{}, err
	}
	if !clawtrail.SecretMatches(secret, hash) {
		return clawtrail.APIKey{}, fmt.Errorf("%w: unknown key", clawtrail.ErrUnauthorized)
	}
	k.Role = clawtrail.Role(role)
	k.CreatedAt = time.Unix(0, created).UTC()
	if expires.Valid {
		k.ExpiresAt = time.Unix(0, expires.Int64).UTC()
		if !s.now().Before(k.ExpiresAt) {
			return clawtrail.APIKey{}, fmt.Errorf("%w: key %s expired", clawtrail.ErrUnauthorized, k.ID)
		}
	}
	if revoked.Valid {
		return clawtrail.APIKey{}, fmt.Errorf("%w: key %s revoked", clawtrail.ErrUnauthorized, k.ID)
	}
	return k, nil
}

// HasRootKey reports whether a root key was ever created.
func (s *Store) HasRootKey(ctx context.Context) (bool, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE root = 1`).Scan(&n)
	return n > 0, err
}
