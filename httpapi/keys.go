package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/sqlite"
)

// CreateKeyRequest is POST /v1/keys' body.
type CreateKeyRequest struct {
	Tenant  string `json:"tenant"` // default: the caller's tenant; another only for the root key
	Role    string `json:"role"`
	Name    string `json:"name"`
	Expires string `json:"expires"` // a duration (90d, 12h) from now, or an RFC 3339 time; empty: never
}

// CreateKeyResponse is its answer: the token is shown this once.
type CreateKeyResponse struct {
	Key   sqlite.KeyInfo `json:"key"`
	Token string         `json:"token"`
}

// handleCreateKey is POST /v1/keys (admin of the tenant, or root).
func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	var req CreateKeyRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "body must be {\"tenant\", \"role\", \"name\", \"expires\"}: " + err.Error()})
		return
	}
	tenant := req.Tenant
	if tenant == "" {
		tenant = c.tenant
	}
	if tenant != c.tenant && !c.key.Root {
		s.writeError(w, r, fmt.Errorf("%w: an admin key creates keys of its own tenant only", clawtrail.ErrForbidden))
		return
	}
	if len(req.Name) > 128 || strings.ContainsFunc(req.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "name must be at most 128 characters without control characters"})
		return
	}
	k := clawtrail.APIKey{Tenant: tenant, Role: clawtrail.Role(req.Role), Name: req.Name}
	if req.Expires != "" {
		exp, err := parseExpiry(req.Expires, s.now())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		k.ExpiresAt = exp
	}
	k, token, err := s.store.CreateKey(r.Context(), k)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The change is on record before the key is handed out; if it cannot
	// be recorded, the key is revoked and the request fails.
	exp := ""
	if !k.ExpiresAt.IsZero() {
		exp = k.ExpiresAt.Format(time.RFC3339)
	}
	if err := s.audit.configChange(r.Context(), tenant, c.key, "key created", map[string]string{
		"key_id": k.ID, "key_name": k.Name, "role": string(k.Role), "expires_at": exp}); err != nil {
		if _, rerr := s.store.RevokeKey(context.WithoutCancel(r.Context()), "", k.ID); rerr != nil {
			s.log.Error("a key whose creation could not be recorded could not be revoked either", "key_id", k.ID, "err", rerr)
		}
		s.writeError(w, r, err)
		return
	}
	info := sqlite.KeyInfo{ID: k.ID, Name: k.Name, Tenant: k.Tenant, Role: string(k.Role), CreatedAt: k.CreatedAt}
	if !k.ExpiresAt.IsZero() {
		info.ExpiresAt = &k.ExpiresAt
	}
	writeJSON(w, http.StatusCreated, CreateKeyResponse{Key: info, Token: token})
}

// parseExpiry reads "90d", "12h", "30m" (from now) or an RFC 3339 time.
func parseExpiry(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if !t.After(now) {
			return time.Time{}, &clawtrail.InvalidError{Message: "expires is in the past"}
		}
		return t.UTC(), nil
	}
	if d, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err != nil || n <= 0 || n > 36500 || fmt.Sprint(n) != d {
			return time.Time{}, &clawtrail.InvalidError{Message: fmt.Sprintf("expires %q: want a duration like 90d or 12h, or an RFC 3339 time", v)}
		}
		return now.Add(time.Duration(n) * 24 * time.Hour).UTC(), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, &clawtrail.InvalidError{Message: fmt.Sprintf("expires %q: want a duration like 90d or 12h, or an RFC 3339 time", v)}
	}
	return now.Add(d).UTC(), nil
}

// KeysResponse is GET /v1/keys' answer.
type KeysResponse struct {
	Keys []sqlite.KeyInfo `json:"keys"`
}

// handleListKeys is GET /v1/keys: the tenant's keys (root: every key with
// ?all=true).
func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	tenant := c.tenant
	if r.URL.Query().Get("all") == "true" {
		if !c.key.Root {
			s.writeError(w, r, fmt.Errorf("%w: only the root key lists every tenant's keys", clawtrail.ErrForbidden))
			return
		}
		tenant = ""
	}
	keys, err := s.store.ListKeys(r.Context(), tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit.access(r, c, "keys list", "", int64(len(keys)))
	writeJSON(w, http.StatusOK, KeysResponse{Keys: keys})
}

// handleRevokeKey is DELETE /v1/keys/{id}: a key of the caller's tenant
// (root: any). Another tenant's key is not found.
func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	id := r.PathValue("id")
	scope := c.tenant
	if c.key.Root {
		scope = ""
	}
	k, err := s.store.RevokeKey(r.Context(), scope, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.audit.configChange(r.Context(), k.Tenant, c.key, "key revoked", map[string]string{
		"key_id": k.ID, "key_name": k.Name, "role": string(k.Role)}); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"revoked": k.ID})
}
