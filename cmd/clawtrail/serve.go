package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/claudecode"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

func newServeCmd(e env) *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server on the embedded store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.load(cmd.Flags(), e.getenv); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, e, nil)
		},
	}
	cfg.registerFlags(cmd.Flags())
	return cmd
}

// AdminTokenFile is where the first start writes the root admin key.
const AdminTokenFile = "admin.token"

// serve runs the server until ctx ends, then drains and closes. ready, if
// not nil, receives the listening address.
func serve(ctx context.Context, cfg serveConfig, e env, ready func(addr string)) error {
	log := newLogger(e.stderr, cfg.LogLevel)
	metrics := httpapi.NewMetrics(prometheus.NewRegistry())
	var master *crypt.Key
	if cfg.MasterKeyFile != "" {
		k, err := crypt.LoadMasterKey(cfg.MasterKeyFile)
		if err != nil {
			return usagef("%v", err)
		}
		master = &k
	}
	store, err := sqlite.Open(ctx, sqlite.Config{Dir: cfg.Data, Logger: log, Metrics: metrics.StoreHooks(),
		SigningKeyFile: cfg.SigningKeyFile, ExternalSigningKey: cfg.SigningKeyFile != "",
		Host: cfg.LogHost, CheckpointInterval: cfg.CheckpointEvery, WitnessKeys: splitList(cfg.WitnessKeys),
		MasterKey: master})
	if err != nil {
		return fmt.Errorf("open store in %s: %w", cfg.Data, err)
	}
	defer store.Close()
	if err := bootstrap(ctx, store, cfg.Data, e.stdout); err != nil {
		return err
	}
	// Compiled again here (validate did it for the command) so that a
	// caller building the config in code gets the same errors.
	hookRules := cfg.Hooks.ClaudeCode
	if err := hookRules.Compile(); err != nil {
		return usagef("hooks.claude_code: %v", err)
	}
	api := httpapi.New(httpapi.Config{Store: store, Logger: log, Metrics: metrics, MetricsPublic: cfg.MetricsPublic,
		Limits:     ingest.Limits{MaxEventBytes: cfg.MaxEventBytes, MaxRequestBytes: cfg.MaxRequestBytes, MaxClockSkew: cfg.MaxClockSkew},
		IngestRate: float64(cfg.IngestRate), QueryRate: float64(cfg.QueryRate), QueryTimeout: cfg.QueryTimeout,
		Redaction: cfg.Redaction, ClaudeCode: &claudecode.HTTPHook{Policy: hookRules}})
	if cfg.RetentionEvery > 0 {
		go retentionLoop(ctx, store, cfg.RetentionEvery, log)
	}
	if cfg.DebugListen != "" {
		stop, err := serveDebug(cfg.DebugListen, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if cfg.TLSCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TLSClientCA != "" {
			// Client-certificate auth: a client must present a certificate
			// this CA signed, in addition to its API key.
			pem, err := os.ReadFile(cfg.TLSClientCA)
			if err != nil {
				return usagef("--tls-client-ca: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return usagef("--tls-client-ca %s holds no PEM certificate", cfg.TLSClientCA)
			}
			srv.TLSConfig.ClientCAs = pool
			srv.TLSConfig.ClientAuth = tls.RequireAndVerifyClientCert
		}
	} else if cfg.TLSClientCA != "" {
		return usagef("--tls-client-ca needs --tls-cert and --tls-key")
	}
	srv.RegisterOnShutdown(api.Close)
	if cfg.Insecure && cfg.TLSCert == "" && !isLoopback(strings.Split(cfg.Listen, ":")[0]) {
		log.Warn("listening without TLS on a non-loopback address: audit data and keys cross the network in clear", "listen", cfg.Listen)
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	log.Info("clawtrail serving", "addr", ln.Addr().String(), "data", cfg.Data, "tls", cfg.TLSCert != "", "sqlite", sqlite.Driver)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		api.Stop()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	api.Stop() // the access and auth records still queued, before the store closes
	return nil
}

// serveDebug serves Go's profiler (net/http/pprof) on addr, a loopback
// address (validate checks), for profiling a running server: e.g.
// go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=30.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug-listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("profiler serving", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// bootstrap creates the root admin key on first start and writes it to
// DIR/admin.token (0600); it prints the key once.
func bootstrap(ctx context.Context, store *sqlite.Store, dir string, out io.Writer) error {
	has, err := store.HasRootKey(ctx)
	if err != nil || has {
		return err
	}
	_, token, err := store.CreateKey(ctx, clawtrail.APIKey{Tenant: "default", Role: clawtrail.RoleAdmin, Root: true, Name: "bootstrap root admin"})
	if err != nil {
		return err
	}
	path := filepath.Join(dir, AdminTokenFile)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(out, "Created the root admin key (tenant \"default\"); it is shown once and kept in %s:\n%s\n", path, token)
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// retentionLoop applies every tenant's retention policy at each interval
// (and once shortly after start).
func retentionLoop(ctx context.Context, store *sqlite.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTimer(min(every, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tenants, err := store.RetentionTenants(ctx)
		if err != nil {
			log.Error("retention job", "err", err)
		}
		for _, tenant := range tenants {
			run, err := store.RunRetention(ctx, tenant, sqlite.Actor{KeyID: "server", Name: "retention-job"})
			if err != nil {
				log.Error("retention job", "tenant", tenant, "err", err)
				continue
			}
			if run.Deleted > 0 || run.Held > 0 {
				log.Info("retention applied", "tenant", tenant, "deleted", run.Deleted, "held", run.Held, "tombstones", len(run.Tombstones))
			}
		}
		t.Reset(every)
	}
}
