package httpapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/clawtrail/clawtrail/redact"
	"github.com/clawtrail/clawtrail/sqlite"
)

// ProtectStore is what data protection needs of the store.
type ProtectStore interface {
	EnsureTenant(ctx context.Context, tenant string) (*sqlite.TenantKeys, error)
	SetRetention(ctx context.Context, tenant string, by sqlite.Actor, keep time.Duration, lock, allowShort bool) (sqlite.Policy, error)
	RetentionPolicy(ctx context.Context, tenant string) (sqlite.Policy, bool, error)
	RunRetention(ctx context.Context, tenant string, by sqlite.Actor) (sqlite.RetentionRun, error)
	AddHold(ctx context.Context, tenant string, by sqlite.Actor, q, reason string) (sqlite.Hold, error)
	Holds(ctx context.Context, tenant string, all bool) ([]sqlite.Hold, error)
	ReleaseHold(ctx context.Context, tenant string, by sqlite.Actor, id string) error
	Erase(ctx context.Context, tenant string, by sqlite.Actor, user string) (sqlite.Erasure, error)
	FindFingerprint(ctx context.Context, tenant, fp string, serverRecords bool) ([]sqlite.FingerprintHit, error)
}

// Redaction is the redaction configuration: Default for every tenant,
// Tenants merged over it (redact.Config.Merge).
type Redaction struct {
	Default redact.Config            `yaml:"default"`
	Tenants map[string]redact.Config `yaml:"tenants"`
}

// Validate compiles every tenant's rules with throwaway keys, so that a bad
// rule stops the server at start, naming the tenant.
func (rc Redaction) Validate() error {
	keys := redact.Keys{Fingerprint: make([]byte, 32), Pseudonym: make([]byte, 32)}
	if _, err := redact.New(rc.Default, keys); err != nil {
		return fmt.Errorf("redaction (default): %w", err)
	}
	for t, c := range rc.Tenants {
		if _, err := redact.New(rc.Default.Merge(c), keys); err != nil {
			return fmt.Errorf("redaction (tenant %q): %w", t, err)
		}
	}
	return nil
}

// tenantRedactor is a tenant's compiled rules with its keys.
type tenantRedactor struct {
	*redact.Redactor
	pseudonym []byte
}

// Pseudonym is what the field rule "hmac" stores for value.
func (t *tenantRedactor) Pseudonym(value string) string { return redact.Pseudonym(t.pseudonym, value) }

type redactors struct {
	mu sync.Mutex
	m  map[string]*tenantRedactor
}

// redactor returns the tenant's redactor (creating the tenant and its keys
// on first use: fingerprints are keyed per tenant).
func (s *Server) redactor(ctx context.Context, tenant string) (*tenantRedactor, error) {
	s.reds.mu.Lock()
	red := s.reds.m[tenant]
	s.reds.mu.Unlock()
	if red != nil {
		return red, nil
	}
	tk, err := s.store.EnsureTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	cfg := s.cfg.Redaction.Default
	if tc, ok := s.cfg.Redaction.Tenants[tenant]; ok {
		cfg = cfg.Merge(tc)
	}
	r, err := redact.New(cfg, redact.Keys{Fingerprint: tk.Fingerprint[:], Pseudonym: tk.Pseudonym[:]})
	if err != nil {
		return nil, fmt.Errorf("redaction rules of tenant %q: %w", tenant, err)
	}
	red = &tenantRedactor{Redactor: r, pseudonym: tk.Pseudonym[:]}
	s.reds.mu.Lock()
	if s.reds.m == nil {
		s.reds.m = map[string]*tenantRedactor{}
	}
	s.reds.m[tenant] = red
	s.reds.mu.Unlock()
	return red, nil
}
