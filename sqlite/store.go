// Package sqlite is clawtrail's embedded store: the ledger (ledger.db, the
// source of truth, appended by a group-commit sequencer and fsync'd before
// any acknowledgement) and the search index (index.db, built behind the
// ledger by an indexer that follows it by cursor and can be rebuilt from it).
// Both are SQLite files in WAL mode, through the pure-Go modernc.org/sqlite.
package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/ledger"
)

//go:embed ledger.sql
var ledgerSchema string

// Config configures a Store.
type Config struct {
	Dir string // data directory; created if missing
	// MaxGroupEvents bounds how many events one commit may hold.
	MaxGroupEvents int
	// IndexBatch bounds how many events the indexer writes per transaction.
	IndexBatch int
	Logger     *slog.Logger
	Now        func() time.Time
	Metrics    Metrics
	// SigningKeyFile holds the checkpoint signing key (a note private key);
	// default DIR/signing.key, created at first start unless
	// ExternalSigningKey (the key is then the operator's to provide).
	SigningKeyFile     string
	ExternalSigningKey bool
	// Host names the log in a new signing key: "<host>/clawtrail"; default
	// the machine's host name. Fixed once the ledger exists.
	Host string
	// CheckpointInterval: the history keeps at most one checkpoint per
	// interval per tenant (every commit is signed regardless).
	CheckpointInterval time.Duration
	// WitnessKeys, when set, are the only witnesses whose cosignatures the
	// log accepts (each verified before it is stored).
	WitnessKeys []string
	// MasterKey turns on encryption at rest (nil: bodies are stored in
	// clear). Once a data directory holds encrypted data, it opens only
	// with the same key.
	MasterKey *crypt.Key
	// InlineBodies stores every body in its own row, as ledgers before
	// schema 4 did, instead of compressing the bodies of a request's
	// events together in packs (packs.go). Either kind reads and verifies
	// the same; a ledger may hold both.
	InlineBodies bool
}

// Defaults for Config.
const (
	DefaultMaxGroupEvents = 20000
	DefaultIndexBatch     = 10000
)

// Metrics receives the store's measurements; any field may be nil.
type Metrics struct {
	CommitSeconds func(seconds float64, events int)
	Indexed       func(events int)
}

// Store is the embedded SQLite store. It is safe for concurrent use.
type Store struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	writer *sql.DB // one connection: the sequencer's
	reader *sql.DB // many connections, read-only use
	// feedDB is the indexer's reader of new ledger rows (one connection for
	// the rows, one for their packs), not mapped, so that following the
	// ledger does not map all of it into the process (searches, exports and
	// verify read mapped).
	feedDB *sql.DB
	// packSel and packRange are packQuery and packRangeQuery prepared on
	// reader (packs.go).
	packSel, packRange *sql.Stmt
	feedPackSel        *sql.Stmt     // packQuery prepared on feedDB
	packLRU            *packLRU      // decoded packs shared by searches, reads by id and the feed
	ckpt               *checkpointer // of ledger.db (walckpt.go)
	index              *indexer

	queue chan *appendReq
	stop  chan struct{}
	done  chan struct{}
	// busyNS sums the time the sequencer spent committing groups: the
	// indexer reads it to tell a saturated ledger from a busy one.
	busyNS atomic.Int64

	mu      sync.Mutex
	tenants map[string]int64 // name → tid, committed tenants only
	heads   map[int64]int64  // tid → next seq
	events  int64            // the sum of heads: every event of the ledger
	commitC chan struct{}    // closed and replaced after every commit
	closed  bool

	lastCommit int64 // received_at of the last commit; sequencer-only

	trees   map[int64]*treeState // tid → tree as of the last commit (under mu)
	logName string
	signMu  sync.RWMutex // guards signer
	signer  *ledger.Signer

	keys *keyring // tenant and data keys (docs/data-protection.md)
	// plainEvents: bodies stored in clear (before encryption was on).
	plainEvents int64
	unlock      func() // releases the data directory lock

	keyUseMu sync.Mutex
	keyUse   map[string]time.Time // key → last use, not yet written
	keyUsed  map[string]time.Time // key → last use written
}

func dsn(path string, pragmas ...string) string {
	v := url.Values{}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	return "file:" + path + "?" + v.Encode()
}

// Open opens (creating if needed) the store in cfg.Dir and starts its
// sequencer and indexer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.MaxGroupEvents <= 0 {
		cfg.MaxGroupEvents = DefaultMaxGroupEvents
	}
	if cfg.IndexBatch <= 0 {
		cfg.IndexBatch = DefaultIndexBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	unlock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger, now: cfg.Now, unlock: unlock, packLRU: newPackLRU(packLRUBytes),
		queue: make(chan *appendReq, 1024), stop: make(chan struct{}), done: make(chan struct{}),
		tenants: map[string]int64{}, heads: map[int64]int64{}, commitC: make(chan struct{}),
		keys: newKeyring(cfg.MasterKey)}
	if err := s.openLedger(ctx); err != nil {
		s.closeDBs()
		unlock()
		return nil, err
	}
	ix, err := openIndexer(ctx, s)
	if err != nil {
		s.closeDBs()
		unlock()
		return nil, err
	}
	s.index = ix
	go s.sequence()
	go ix.run()
	go s.keyUseLoop()
	go s.ckpt.run()
	return s, nil
}

// mmapLimit is the largest mapping SQLite's build allows
// (SQLITE_MAX_MMAP_SIZE): the first 2 GiB of a file.
const mmapLimit = 2147418112

var mmapPragma = "mmap_size(" + strconv.Itoa(mmapLimit) + ")"

func (s *Store) openLedger(ctx context.Context) error {
	path := filepath.Join(s.cfg.Dir, "ledger.db")
	var err error
	// secure_delete: freed pages (deleted bodies, destroyed keys) are
	// zeroed, not left in the file; temp_store: no temporary files.
	s.writer, err = sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "synchronous(FULL)",
		"busy_timeout(10000)", "cache_size(-16384)", "foreign_keys(0)", "secure_delete(1)", "temp_store(2)",
		backstopPragma)+"&_txlock=immediate")
	if err != nil {
		return err
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetConnMaxLifetime(0)
	if _, err := s.writer.ExecContext(ctx, ledgerSchema); err != nil {
		return fmt.Errorf("open ledger %s: %w", path, err)
	}
	migrated, err := s.checkLedgerVersion(ctx)
	if err != nil {
		return err
	}
	// api_keys.last_used and events.dk (the data key of an encrypted
	// body) came after the first ledgers were written.
	for _, col := range []string{"api_keys ADD COLUMN last_used INTEGER", "events ADD COLUMN dk INTEGER"} {
		if _, err := s.writer.ExecContext(ctx, `ALTER TABLE `+col); err != nil && !strings.Contains(err.Error(), "duplicate column") {
			return fmt.Errorf("alter table %s: %w", col, err)
		}
	}
	if err := s.loadSigner(ctx); err != nil {
		return err
	}
	if err := s.loadKeys(ctx); err != nil {
		return err
	}
	// Readers map the file (up to SQLite's 2 GiB limit; beyond it they
	// read as before): a page read is then a memory access rather than a
	// pread and a copy into the page cache — export reads 1.2–1.4× and
	// verify 2× faster. The mapped pages are the kernel's page cache of
	// the file (VmRSS counts those a read touched as RssFile; the kernel
	// reclaims them). The indexer's feed reads through feedDB instead.
	s.reader, err = sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "busy_timeout(10000)",
		"query_only(1)", "cache_size(-8192)", mmapPragma, "temp_store(2)"))
	if err != nil {
		return err
	}
	s.reader.SetMaxOpenConns(8)
	s.reader.SetMaxIdleConns(8)
	s.feedDB, err = sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "busy_timeout(10000)",
		"query_only(1)", "cache_size(-8192)", "temp_store(2)"))
	if err != nil {
		return err
	}
	// Two connections: the feed's rows on one, their packs on the other
	// (unmapped too: the feed reads every pack, and mapped pages it
	// touched would count in the process's RSS).
	s.feedDB.SetMaxOpenConns(2)
	if s.feedPackSel, err = s.feedDB.PrepareContext(ctx, packQuery); err != nil {
		return err
	}
	if s.packSel, err = s.reader.PrepareContext(ctx, packQuery); err != nil {
		return err
	}
	if s.packRange, err = s.reader.PrepareContext(ctx, packRangeQuery); err != nil {
		return err
	}
	if s.ckpt, err = openCheckpointer(path, s.log); err != nil {
		return err
	}
	if err := s.loadHeads(ctx); err != nil {
		return err
	}
	return s.loadTrees(ctx, migrated)
}

func (s *Store) loadHeads(ctx context.Context) error {
	rows, err := s.writer.QueryContext(ctx, `SELECT t.tid, t.name, coalesce((SELECT max(seq)+1 FROM events e WHERE e.tid=t.tid), 0) FROM tenants t`)
	if err != nil {
		return fmt.Errorf("load ledger heads: %w", err)
	}
	defer rows.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tenants)
	clear(s.heads)
	s.events = 0
	for rows.Next() {
		var tid, next int64
		var name string
		if err := rows.Scan(&tid, &name, &next); err != nil {
			return err
		}
		s.tenants[name] = tid
		s.heads[tid] = next
		s.events += next
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return s.writer.QueryRowContext(ctx, `SELECT coalesce(max(received_at), 0) FROM events`).Scan(&s.lastCommit)
}

// LedgerSchemaVersion names the layout of ledger.db. The ledger is the
// source of truth: a newer version is refused, an older one is migrated in
// place (1 → 2 adds the Merkle tree tables, built from the stored leaves;
// 2 → 3 the data-protection tables and events.dk, which older binaries
// would not know to decrypt with; 3 → 4 the packs table, packed bodies;
// 4 → 5 nothing to change: packs are written with zstd, which schema 4
// binaries would not read, and S2 packs of 4 are still read; 5 → 6 nothing
// to change either: new rows store the first 8 bytes of their leaf hash
// (StoredLeafPrefix) and 16-byte salts in clear, which schema 5 binaries
// would refuse as damaged; rows of 5 and before are read as they are).
const LedgerSchemaVersion = "6"

// checkLedgerVersion reports whether the ledger was just migrated from
// version 1.
func (s *Store) checkLedgerVersion(ctx context.Context) (bool, error) {
	if _, err := s.writer.ExecContext(ctx, `INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)`, LedgerSchemaVersion); err != nil {
		return false, err
	}
	var v string
	if err := s.writer.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'schema_version'`).Scan(&v); err != nil {
		return false, err
	}
	switch v {
	case LedgerSchemaVersion:
		return false, nil
	case "1", "2", "3", "4", "5":
		// The schema script created the new tables; the trees are built
		// after the heads are loaded.
		_, err := s.writer.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = 'schema_version'`, LedgerSchemaVersion)
		s.log.Info("migrating the ledger to schema version "+LedgerSchemaVersion, "from", v)
		return v == "1", err
	}
	return false, fmt.Errorf("the ledger in %s has schema version %s; this clawtrail reads version %s", s.cfg.Dir, v, LedgerSchemaVersion)
}

// Close stops the sequencer (after the requests already queued are
// committed) and the indexer, and closes the files.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.ckpt.halt()
	s.flushKeyUse(context.Background())
	s.index.close()
	err := s.closeDBs()
	s.unlock()
	return err
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.packSel, s.packRange, s.feedPackSel} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, db := range []*sql.DB{s.feedDB, s.reader, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.db.Close())
	}
	if s.index != nil {
		errs = append(errs, s.index.db.Close())
	}
	return errors.Join(errs...)
}

// keyUseLoop writes the keys' last-use times every 30 seconds.
func (s *Store) keyUseLoop() {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flushKeyUse(context.Background())
		case <-s.stop:
			return
		}
	}
}

// tenantID returns the tid of a committed tenant.
func (s *Store) tenantID(name string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tid, ok := s.tenants[name]
	return tid, ok
}

// Head returns the next seq of a tenant (its ledger size).
func (s *Store) Head(tenant string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	tid, ok := s.tenants[tenant]
	if !ok {
		return 0
	}
	return s.heads[tid]
}

// holdsMost reports whether tenant tid holds at least half of the
// ledger's events: then a search leaves the tenant token out of its
// full-text expression (query.Options.NoTenantToken), since the other
// tenants' events a term's doclist also holds are at most as many as the
// tenant's own, and intersecting with the tenant token costs more.
func (s *Store) holdsMost(tid int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return 2*s.heads[tid] >= s.events
}

// commitWait returns a channel closed after the next commit.
func (s *Store) commitWait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitC
}
