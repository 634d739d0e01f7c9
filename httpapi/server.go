// Package httpapi is clawtrail's HTTP API (SPEC §2) and the Go client the CLI
// uses. Handlers are thin: they authenticate, resolve the tenant from the
// key, parse parameters, and call the store.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/sqlite"
)

// Store is what the API needs of a backend.
type Store interface {
	Append(ctx context.Context, tenant, keyID string, events []clawtrail.Pending) (sqlite.AppendResult, error)
	Search(ctx context.Context, req sqlite.SearchRequest) (sqlite.Page, error)
	Sessions(ctx context.Context, req sqlite.SearchRequest) ([]sqlite.SessionSummary, error)
	DailyCounts(ctx context.Context, req sqlite.SearchRequest) ([]sqlite.DayCount, error)
	Session(ctx context.Context, tenant, sessionID string, limit int, cursor string) (sqlite.Page, error)
	Export(ctx context.Context, req sqlite.SearchRequest, fn func(sqlite.Stored) error) error
	Get(ctx context.Context, tenant, id string) (sqlite.Stored, error)
	ReadAfter(ctx context.Context, tenant string, after int64, limit int) ([]sqlite.Stored, int64, error)
	WaitCommit() <-chan struct{}
	WaitIndexed(ctx context.Context, tenant string, seq int64) error
	Head(tenant string) int64
	IndexLag() int64
	Reindex(ctx context.Context) error
	Backup(ctx context.Context, w io.Writer) (sqlite.BackupManifest, error)
	Authenticate(ctx context.Context, token string) (clawtrail.APIKey, error)
	CreateKey(ctx context.Context, k clawtrail.APIKey) (clawtrail.APIKey, string, error)
	ListKeys(ctx context.Context, tenant string) ([]sqlite.KeyInfo, error)
	RevokeKey(ctx context.Context, tenant, id string) (clawtrail.APIKey, error)
	LedgerStore
	ProtectStore
}

// Config configures a Server.
type Config struct {
	Store         Store
	Limits        ingest.Limits
	Logger        *slog.Logger
	Now           func() time.Time
	Metrics       *Metrics // from NewMetrics; a new set when nil
	MetricsPublic bool     // serve /metrics without a key
	// MaxWait bounds how long wait_seq may hold a search.
	MaxWait time.Duration
	// TailPoll is how often tail rechecks the ledger when idle.
	TailHeartbeat time.Duration
	// AuditFlush and AuthWindow pace the access/auth records (audit.go).
	AuditFlush, AuthWindow time.Duration
	// Per-key rate limits (0: unlimited): events ingested per second and
	// read requests per second; bursts of one second are allowed.
	IngestRate, QueryRate float64
	// QueryTimeout bounds a read request's work (default 30 s; tail and
	// exports are bounded by their clients instead).
	QueryTimeout time.Duration
	// Redaction: the rules applied to every event before it is stored.
	Redaction Redaction
	// ClaudeCode serves Claude Code's HTTP hooks (claudecode.HTTPHook);
	// nil: POST /v1/hooks/claude-code answers 404.
	ClaudeCode AgentHook
}

// Server serves the API.
type Server struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	now     func() time.Time
	dec     ingest.Decoder
	metrics *Metrics
	mux     *http.ServeMux
	closing chan struct{} // closed by Close: long-lived streams end
	once    sync.Once
	audit   *auditor
	limits  *limiter
	reds    redactors
}

// Close ends long-lived streams (tail), so that http.Server.Shutdown can
// drain; register it with http.Server.RegisterOnShutdown.
func (s *Server) Close() { s.once.Do(func() { close(s.closing) }) }

// Stop records the access and auth events still queued; call it after the
// HTTP server has drained and before the store closes.
func (s *Server) Stop() { s.audit.close() }

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits == (ingest.Limits{}) {
		cfg.Limits = ingest.DefaultLimits()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 10 * time.Second
	}
	if cfg.TailHeartbeat == 0 {
		cfg.TailHeartbeat = 15 * time.Second
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now,
		dec: ingest.Decoder{Limits: cfg.Limits, Now: cfg.Now}, mux: http.NewServeMux(), closing: make(chan struct{})}
	s.metrics = cfg.Metrics
	s.metrics.watchStore(cfg.Store)
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 30 * time.Second
		s.cfg.QueryTimeout = cfg.QueryTimeout
	}
	s.audit = newAuditor(cfg.Store, cfg.Now, s.metrics, cfg.AuditFlush, cfg.AuthWindow)
	s.limits = newLimiter(cfg.IngestRate, cfg.QueryRate, cfg.Now)
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.Handle("GET /metrics", s.metricsHandler())
	s.mux.HandleFunc("POST /v1/events", s.auth(clawtrail.RoleIngest, s.handleIngest))
	s.mux.HandleFunc("POST /v1/otlp/v1/traces", s.auth(clawtrail.RoleIngest, s.handleOTLPTraces))
	s.mux.HandleFunc("POST /v1/otlp/v1/logs", s.auth(clawtrail.RoleIngest, s.handleOTLPLogs))
	s.mux.HandleFunc("POST /v1/hooks/claude-code", s.auth(clawtrail.RoleIngest, s.handleClaudeCodeHook))
	s.mux.HandleFunc("GET /v1/events", s.auth(clawtrail.RoleReader, s.handleSearch))
	s.mux.HandleFunc("GET /v1/events/{id}", s.auth(clawtrail.RoleReader, s.handleGet))
	s.mux.HandleFunc("GET /v1/sessions", s.auth(clawtrail.RoleReader, s.handleSessions))
	s.mux.HandleFunc("GET /v1/sessions/{id}", s.auth(clawtrail.RoleReader, s.handleSession))
	s.mux.HandleFunc("GET /v1/export", s.auth(clawtrail.RoleReader, s.handleExport))
	s.mux.HandleFunc("GET /v1/stats", s.auth(clawtrail.RoleReader, s.handleStats))
	s.mux.HandleFunc("GET /v1/tail", s.auth(clawtrail.RoleReader, s.handleTail))
	s.mux.HandleFunc("POST /v1/admin/reindex", s.auth(clawtrail.RoleAdmin, s.handleReindex))
	s.mux.HandleFunc("GET /v1/admin/backup", s.auth(clawtrail.RoleAdmin, s.handleBackup))
	s.mux.HandleFunc("POST /v1/keys", s.auth(clawtrail.RoleAdmin, s.handleCreateKey))
	s.mux.HandleFunc("GET /v1/keys", s.auth(clawtrail.RoleAdmin, s.handleListKeys))
	s.mux.HandleFunc("DELETE /v1/keys/{id}", s.auth(clawtrail.RoleAdmin, s.handleRevokeKey))
	s.mux.HandleFunc("GET /v1/checkpoint", s.auth(clawtrail.RoleAuditor, s.handleCheckpoint))
	s.mux.HandleFunc("POST /v1/checkpoint/cosignature", s.auth(clawtrail.RoleAuditor, s.handleAddCosignature))
	s.mux.HandleFunc("GET /v1/checkpoints", s.auth(clawtrail.RoleAuditor, s.handleCheckpoints))
	s.mux.HandleFunc("GET /v1/proof/inclusion", s.auth(clawtrail.RoleAuditor, s.handleInclusion))
	s.mux.HandleFunc("GET /v1/proof/consistency", s.auth(clawtrail.RoleAuditor, s.handleConsistency))
	s.mux.HandleFunc("GET /v1/ledger", s.auth(clawtrail.RoleAuditor, s.handleLedger))
	s.mux.HandleFunc("GET /v1/index/coverage", s.auth(clawtrail.RoleAuditor, s.handleIndexCoverage))
	s.mux.HandleFunc("GET /v1/bundle", s.auth(clawtrail.RoleAuditor, s.handleBundle))
	s.mux.HandleFunc("GET /v1/signing-keys", s.handleSigningKeys)
	s.mux.HandleFunc("POST /v1/admin/rotate-signing", s.auth(clawtrail.RoleAdmin, s.handleRotateSigning))
	s.mux.HandleFunc("GET /v1/retention", s.auth(clawtrail.RoleAuditor, s.handleGetRetention))
	s.mux.HandleFunc("PUT /v1/retention", s.auth(clawtrail.RoleAdmin, s.handleSetRetention))
	s.mux.HandleFunc("POST /v1/retention/run", s.auth(clawtrail.RoleAdmin, s.handleRunRetention))
	s.mux.HandleFunc("POST /v1/holds", s.auth(clawtrail.RoleAdmin, s.handleAddHold))
	s.mux.HandleFunc("GET /v1/holds", s.auth(clawtrail.RoleAuditor, s.handleListHolds))
	s.mux.HandleFunc("DELETE /v1/holds/{id}", s.auth(clawtrail.RoleAdmin, s.handleReleaseHold))
	s.mux.HandleFunc("POST /v1/erase", s.auth(clawtrail.RoleAdmin, s.handleErase))
	s.mux.HandleFunc("GET /v1/subjects/export", s.auth(clawtrail.RoleAdmin, s.handleSubjectExport))
	s.mux.HandleFunc("POST /v1/hash", s.auth(clawtrail.RoleAuditor, s.handleHash))
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "index_lag": s.store.IndexLag()})
}

type ctxKey struct{}

// caller is the authenticated key and the tenant the request acts on.
type caller struct {
	key    clawtrail.APIKey
	tenant string
}

func callerOf(ctx context.Context) caller { return ctx.Value(ctxKey{}).(caller) }

// seesServerRecords: auditors and admins read their tenant's access, auth
// and config_change events; readers do not (SPEC §2).
func (c caller) seesServerRecords() bool { return c.key.Role.Can(clawtrail.RoleAuditor) }

// auth authenticates the request, checks the key's role, and resolves the
// tenant: the key's own, or for the root key the one named by ?tenant=.
func (s *Server) auth(need clawtrail.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := s.authenticate(r)
		if err != nil {
			// The tenant concerned is the key's when it is known (a revoked
			// or expired key); the key id is recorded, never the secret.
			reason := "unknown key"
			switch msg := err.Error(); {
			case errors.Is(err, errMissingKey):
				reason = "missing key"
			case strings.Contains(msg, "malformed"):
				reason = "malformed key"
			case strings.Contains(msg, "expired"):
				reason = "expired key"
			case strings.Contains(msg, "revoked"):
				reason = "revoked key"
			}
			keyID := k.ID
			if keyID == "" {
				// The id the token names, only if it is well formed: a
				// mistyped token must not put its secret into a record.
				if id, _, ok := clawtrail.SplitToken(bearer(r)); ok && isHexID(id) {
					keyID = id
				}
			}
			s.audit.authFailure(r, k.Tenant, keyID, reason)
			s.writeError(w, r, err)
			return
		}
		if !k.Role.Can(need) {
			s.audit.authFailure(r, k.Tenant, k.ID, fmt.Sprintf("role %s lacks %s", k.Role, need))
			s.writeError(w, r, fmt.Errorf("%w: a %s key may not do this (it needs %s)", clawtrail.ErrForbidden, k.Role, need))
			return
		}
		c := caller{key: k, tenant: k.Tenant}
		if t := r.URL.Query().Get("tenant"); t != "" && t != k.Tenant {
			if !k.Root {
				s.audit.authFailure(r, k.Tenant, k.ID, "names another tenant")
				s.writeError(w, r, fmt.Errorf("%w: only the root key may name a tenant", clawtrail.ErrForbidden))
				return
			}
			if !clawtrail.ValidTenant(t) {
				s.writeError(w, r, &clawtrail.InvalidError{Message: "tenant must be 1 to 64 characters of a-z 0-9 _ . -"})
				return
			}
			c.tenant = t
		}
		if need != clawtrail.RoleIngest {
			if wait, ok := s.limits.allowQuery(k.ID); !ok {
				s.tooMany(w, r, "query", wait)
				return
			}
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, c)
		h(w, r.WithContext(ctx))
	}
}

func isHexID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func bearer(r *http.Request) string {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(token)
}

func (s *Server) authenticate(r *http.Request) (clawtrail.APIKey, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return clawtrail.APIKey{}, errMissingKey
	}
	return s.store.Authenticate(r.Context(), strings.TrimSpace(token))
}

var errMissingKey error = &wrapped{clawtrail.ErrUnauthorized, "missing API key: send Authorization: Bearer <key>"}

type wrapped struct {
	err error
	msg string
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }
