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
	// A revoked or expired key is returned with the error: its tenant is
	// where the failure is recorded.
	if expires.Valid {
		k.ExpiresAt = time.Unix(0, expires.Int64).UTC()
		if !s.now().Before(k.ExpiresAt) {
			return k, fmt.Errorf("%w: key %s expired", clawtrail.ErrUnauthorized, k.ID)
		}
	}
	if revoked.Valid {
		k.RevokedAt = time.Unix(0, revoked.Int64).UTC()
		return k, fmt.Errorf("%w: key %s revoked", clawtrail.ErrUnauthorized, k.ID)
	}
	s.touchKey(k.ID)
	return k, nil
}

// KeyInfo is what keys list shows of a key: never its secret.
type KeyInfo struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Tenant    string     `json:"tenant"`
	Role      string     `json:"role"`
	Root      bool       `json:"root,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// ListKeys returns the keys of a tenant ("" : all), oldest first.
func (s *Store) ListKeys(ctx context.Context, tenant string) ([]KeyInfo, error) {
	s.flushKeyUse(ctx)
	q := `SELECT id, name, tenant, role, root, created_at, last_used, expires_at, revoked_at FROM api_keys`
	var args []any
	if tenant != "" {
		q += ` WHERE tenant = ?`
		args = append(args, tenant)
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []KeyInfo{}
	for rows.Next() {
		var k KeyInfo
		var created int64
		var used, expires, revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &k.Tenant, &k.Role, &k.Root, &created, &used, &expires, &revoked); err != nil {
			return nil, err
		}
		k.CreatedAt = time.Unix(0, created).UTC()
		k.LastUsed, k.ExpiresAt, k.RevokedAt = nsTime(used), nsTime(expires), nsTime(revoked)
		out = append(out, k)
	}
	return out, rows.Err()
}

func nsTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.Unix(0, v.Int64).UTC()
	return &t
}

// RevokeKey revokes a key of tenant ("" : any tenant, for the root key). A
// key of another tenant is not found. Revoking twice is not an error.
func (s *Store) RevokeKey(ctx context.Context, tenant, id string) (clawtrail.APIKey, error) {
	var k clawtrail.APIKey
	var role string
	err := s.reader.QueryRowContext(ctx, `SELECT id, tenant, role, root, name FROM api_keys WHERE id = ?`, id).Scan(&k.ID, &k.Tenant, &role, &k.Root, &k.Name)
	if errors.Is(err, sql.ErrNoRows) || err == nil && tenant != "" && k.Tenant != tenant {
		return k, fmt.Errorf("%w: no key %s", clawtrail.ErrNotFound, id)
	}
	if err != nil {
		return k, err
	}
	k.Role = clawtrail.Role(role)
	if k.Root {
		return k, &clawtrail.InvalidError{Message: "the root key cannot be revoked through the API; replace DATA/admin.token by creating a new root key"}
	}
	_, err = s.writer.ExecContext(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, s.now().UnixNano(), id)
	return k, err
}

// touchKey notes that a key was used; the times are written in the
// background (flushKeyUse), at most once a minute per key.
func (s *Store) touchKey(id string) {
	now := s.now()
	s.keyUseMu.Lock()
	defer s.keyUseMu.Unlock()
	if s.keyUse == nil {
		s.keyUse = map[string]time.Time{}
	}
	if last, ok := s.keyUsed[id]; ok && now.Sub(last) < time.Minute {
		return
	}
	s.keyUse[id] = now
}

// flushKeyUse writes the last-use times noted since the last flush.
func (s *Store) flushKeyUse(ctx context.Context) {
	s.keyUseMu.Lock()
	use := s.keyUse
	s.keyUse = nil
	if s.keyUsed == nil {
		s.keyUsed = map[string]time.Time{}
	}
	for id, t := range use {
		s.keyUsed[id] = t
	}
	s.keyUseMu.Unlock()
	for id, t := range use {
		s.writer.ExecContext(ctx, `UPDATE api_keys SET last_used = ? WHERE id = ?`, t.UnixNano(), id)
	}
}

// HasRootKey reports whether a root key was ever created.
func (s *Store) HasRootKey(ctx context.Context) (bool, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE root = 1`).Scan(&n)
	return n > 0, err
}
