package sqlite

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/query"
)

// Data protection: the key hierarchy (docs/data-protection.md).
//
//	master key (file, never stored)
//	  └ tenant secret (tenant_keys; sealed by the master key)
//	      ├ wrap key        seals the tenant's data keys and hold specs
//	      ├ index key       blind index: keyed hashes of indexed values and words
//	      ├ subject key     names data subjects: keyed hash of user_id
//	      ├ fingerprint key redaction fingerprints (clawtrail hash)
//	      └ pseudonym key   field rules "hmac"
//	  data key per subject (data_keys; wrapped by the wrap key)
//	      └ event bodies: salt ‖ body sealed with AAD tenant ‖ 0 ‖ event id
//
// Without a master key the tenant secret is stored as is (fingerprints and
// pseudonyms still need a key) and bodies are not encrypted.

// TenantKeys are the keys derived from one tenant's secret.
type TenantKeys struct {
	Wrap, Index, Subject, Fingerprint, Pseudonym crypt.Key
	blinders                                     sync.Pool // HMAC states keyed with Index

	// words and values cache the blind forms of full-text words and of
	// field values (columns, session ids, value rows, path prefixes): a
	// vocabulary is small next to the words written, sessions, tools and
	// directories repeat, and a map lookup is ten times cheaper than an
	// HMAC. Two caches, so that values do not push words out.
	words, values blindCache
}

// blindCache maps (field, value) to Blind(field, value), up to
// maxBlindCache entries (about 100 bytes each); a full cache starts over.
type blindCache struct {
	mu sync.Mutex
	m  map[blindKey]string
}

type blindKey struct{ field, value string }

const maxBlindCache = 1 << 17

func (c *blindCache) get(t *TenantKeys, field, value string) string {
	c.mu.Lock()
	b, ok := c.m[blindKey{field, value}]
	c.mu.Unlock()
	if ok {
		return b
	}
	b = t.Blind(field, value)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxBlindCache {
		c.m = make(map[blindKey]string, 1024)
	}
	c.m[blindKey{strings.Clone(field), strings.Clone(value)}] = b
	c.mu.Unlock()
	return b
}

// BlindWord is Blind("", w), cached.
func (t *TenantKeys) BlindWord(w string) string { return t.words.get(t, "", w) }

// BlindValue is Blind(field, value), cached: for values that repeat across
// events. A span id, unique to its span, is not cached: it would only
// churn the cache.
func (t *TenantKeys) BlindValue(field, value string) string {
	if field == "span_id" {
		return t.Blind(field, value)
	}
	return t.values.get(t, field, value)
}

func deriveTenant(secret crypt.Key) *TenantKeys {
	return &TenantKeys{Wrap: secret.Derive("wrap"), Index: secret.Derive("index"),
		Subject: secret.Derive("subject"), Fingerprint: secret.Derive("fingerprint"),
		Pseudonym: secret.Derive("pseudonym")}
}

// ErrWrongMasterKey means the master key given does not open the data.
var ErrWrongMasterKey = errors.New("wrong master key")

// keyring holds a store's tenant keys and a cache of its data keys.
type keyring struct {
	master *crypt.Key // nil: bodies are not encrypted

	mu      sync.RWMutex
	tenants map[int64]*TenantKeys
	names   map[int64]string
	data    map[int64]*crypt.Key   // data key id → key; nil = destroyed
	active  map[subjectRef]dataKey // the key new events of a subject use

	subMu sync.RWMutex
	subs  map[subRef]cipher.AEAD // subkeys by data key and nonce prefix (reads)
}

type subRef struct {
	id     int64
	prefix [12]byte
}

// maxSubkeys bounds the read-side subkey cache.
const maxSubkeys = 4096

// openBody opens a body sealed under data key id, caching the subkey of its
// nonce prefix (a Sealer uses one prefix for up to 2^20 events).
func (k *keyring) openBody(id int64, key *crypt.Key, sealed, ad []byte) ([]byte, error) {
	p, ok := crypt.Prefix(sealed)
	if !ok {
		return nil, crypt.ErrOpen
	}
	ref := subRef{id, p}
	k.subMu.RLock()
	a := k.subs[ref]
	k.subMu.RUnlock()
	if a == nil {
		a = key.Subkey(p)
		k.subMu.Lock()
		if len(k.subs) >= maxSubkeys {
			clear(k.subs)
		}
		k.subs[ref] = a
		k.subMu.Unlock()
	}
	return crypt.OpenWith(a, nil, sealed, ad)
}

type subjectRef struct {
	tid     int64
	subject [32]byte
}

type dataKey struct {
	id     int64
	key    *crypt.Key
	sealer *crypt.Sealer // used by the sequencer only
}

func newKeyring(master *crypt.Key) *keyring {
	return &keyring{master: master, tenants: map[int64]*TenantKeys{}, names: map[int64]string{},
		data: map[int64]*crypt.Key{}, active: map[subjectRef]dataKey{}, subs: map[subRef]cipher.AEAD{}}
}

func tenantKeyName(tenant string) string { return "tenant/" + tenant }
func dataKeyName(tenant string, id int64) string {
	return "data/" + tenant + "/" + strconv.FormatInt(id, 10)
}

// checkMaster compares the master key with the check value stored in meta:
// a wrong key, or data encrypted and no key, is an error; a first key is
// recorded. It reports whether encryption was just turned on.
func checkMaster(ctx context.Context, db *sql.DB, master *crypt.Key, dir string) (bool, error) {
	var stored string
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name='master_check'`).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	switch {
	case master == nil && stored != "":
		return false, fmt.Errorf("the data in %s is encrypted: start with its master key (--master-key-file or CLAWTRAIL_MASTER_KEY_FILE)", dir)
	case master == nil:
		return false, nil
	case stored == "":
		_, err := db.ExecContext(ctx, `INSERT INTO meta(name, value) VALUES ('master_check', ?)`, master.Check())
		return true, err
	case stored != master.Check():
		return false, fmt.Errorf("%w: the master key given does not open the data in %s (its check value differs); the server will not start", ErrWrongMasterKey, dir)
	}
	return false, nil
}

// load reads every tenant's keys; with create, it makes the secrets of
// tenants that have none and seals the clear ones under a new master key.
func (k *keyring) load(ctx context.Context, db *sql.DB, create bool, now int64) error {
	rows, err := db.QueryContext(ctx, `SELECT t.tid, t.name, k.secret, k.wrapped FROM tenants t LEFT JOIN tenant_keys k ON k.tid = t.tid`)
	if err != nil {
		return fmt.Errorf("read tenant keys: %w", err)
	}
	type missing struct {
		tid  int64
		name string
		have []byte
	}
	var todo []missing
	for rows.Next() {
		var tid int64
		var name string
		var secret []byte
		var wrapped sql.NullInt64
		if err := rows.Scan(&tid, &name, &secret, &wrapped); err != nil {
			rows.Close()
			return err
		}
		k.names[tid] = name
		switch {
		case secret == nil || (wrapped.Int64 == 0 && k.master != nil):
			todo = append(todo, missing{tid, name, secret})
		case wrapped.Int64 == 1:
			if k.master == nil {
				rows.Close()
				return fmt.Errorf("tenant %q: its keys are sealed by a master key: start with --master-key-file", name)
			}
			s, err := k.master.Unwrap(secret, tenantKeyName(name))
			if err != nil {
				rows.Close()
				return fmt.Errorf("%w: tenant %q's keys do not open", ErrWrongMasterKey, name)
			}
			k.tenants[tid] = deriveTenant(s)
		default:
			if len(secret) != crypt.KeySize {
				rows.Close()
				return fmt.Errorf("tenant %q: damaged key row", name)
			}
			k.tenants[tid] = deriveTenant(crypt.Key(secret))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if !create {
		return nil
	}
	for _, m := range todo {
		secret := crypt.NewKey()
		if len(m.have) == crypt.KeySize {
			secret = crypt.Key(m.have) // a clear secret, now sealed
		}
		stored, wrapped := k.sealSecret(m.name, secret)
		if _, err := db.ExecContext(ctx, `INSERT INTO tenant_keys(tid, secret, wrapped, created_at) VALUES (?,?,?,?)
			ON CONFLICT(tid) DO UPDATE SET secret=excluded.secret, wrapped=excluded.wrapped`, m.tid, stored, wrapped, now); err != nil {
			return fmt.Errorf("store tenant key: %w", err)
		}
		k.tenants[m.tid] = deriveTenant(secret)
	}
	return nil
}

func (k *keyring) sealSecret(tenant string, secret crypt.Key) ([]byte, int) {
	if k.master == nil {
		return secret[:], 0
	}
	return k.master.Wrap(secret, tenantKeyName(tenant)), 1
}

// tenant returns a tenant's keys (nil for a tenant not committed yet).
func (k *keyring) tenant(tid int64) *TenantKeys {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.tenants[tid]
}

// subject returns the keyed name of a data subject: a user, or the tenant
// itself for events that name no user.
func (t *TenantKeys) subjectOf(user string) [32]byte {
	if user == "" {
		return t.Subject.MAC([]byte("tenant"))
	}
	return t.Subject.MAC([]byte("user\x00" + user))
}

// blindEnc spells blind-index values: lowercase letters and digits only, so
// that FTS5's ascii tokenizer keeps one as one token.
var blindEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Blind returns the blind-index form of a value of field ("" for a word of
// full text): 15 bytes of HMAC-SHA256 under the tenant's index key.
func (t *TenantKeys) Blind(field, value string) string {
	h, _ := t.blinders.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, t.Index[:])
	}
	h.Reset() // back to the keyed state: no key schedule per value
	var in [192]byte
	msg := append(append(append(in[:0], field...), 0), value...)
	h.Write(msg)
	var sum [32]byte
	var out [25]byte
	out[0] = 'b'
	blindEnc.Encode(out[1:], h.Sum(sum[:0])[:15])
	t.blinders.Put(h)
	return string(out[:])
}

// dataKeyByID returns the data key with id (nil when it was destroyed).
func (k *keyring) dataKeyByID(ctx context.Context, db queryer, tid, id int64) (*crypt.Key, error) {
	k.mu.RLock()
	key, ok := k.data[id]
	tk := k.tenants[tid]
	name := k.names[tid]
	k.mu.RUnlock()
	if ok {
		return key, nil
	}
	if tk == nil {
		return nil, fmt.Errorf("tenant %d has no keys", tid)
	}
	var wrapped []byte
	if err := db.QueryRowContext(ctx, `SELECT wrapped FROM data_keys WHERE id=? AND tid=?`, id, tid).Scan(&wrapped); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil // no such key: as unreadable as a destroyed one
		}
		return nil, err
	}
	if wrapped != nil {
		dk, err := tk.Wrap.Unwrap(wrapped, dataKeyName(name, id))
		if err != nil {
			return nil, fmt.Errorf("data key %d of tenant %q does not open: %w", id, name, err)
		}
		key = &dk
	}
	k.mu.Lock()
	k.data[id] = key
	k.mu.Unlock()
	return key, nil
}

// forget drops destroyed keys from the caches.
func (k *keyring) forget(ids []int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range ids {
		k.data[id] = nil
	}
	k.subMu.Lock()
	for ref := range k.subs {
		if slices.Contains(ids, ref.id) {
			delete(k.subs, ref)
		}
	}
	k.subMu.Unlock()
	for ref, dk := range k.active {
		for _, id := range ids {
			if dk.id == id {
				delete(k.active, ref)
			}
		}
	}
}

// bodyAD is the associated data of an event's sealed body.
func bodyAD(tenant, id string) []byte { return []byte(tenant + "\x00" + id) }

// openRecord replaces a sealed record's body with its salt and plaintext.
// A record whose data key was destroyed reads as deleted; without the keys
// (verify without the master key) it is marked Sealed.
func (k *keyring) openRecord(ctx context.Context, db queryer, tid int64, tenant string, dk int64, rec *ledger.Record) error {
	if rec.Body == nil {
		return nil
	}
	if k == nil || k.master == nil {
		rec.Sealed = true
		return nil
	}
	key, err := k.dataKeyByID(ctx, db, tid, dk)
	if err != nil {
		return err
	}
	if key == nil {
		rec.Body, rec.Salt, rec.Erased = nil, nil, true
		return nil
	}
	plain, err := k.openBody(dk, key, rec.Body, bodyAD(tenant, rec.ID))
	if err != nil || len(plain) < ledger.SaltSize {
		// Altered ciphertext: hand the verifier bytes that cannot match.
		rec.Salt, rec.Body = make([]byte, ledger.SaltSize), []byte("(sealed body does not open)")
		return nil
	}
	rec.Salt, rec.Body = plain[:ledger.SaltSize:ledger.SaltSize], plain[ledger.SaltSize:]
	return nil
}

// open returns the plaintext body of a stored row (read through the
// store's readers): as is without dk, nil when its key was destroyed.
func (s *Store) open(ctx context.Context, tid int64, id string, dk sql.NullInt64, body []byte) ([]byte, error) {
	return s.openBody(ctx, s.reader, tid, id, dk, body)
}

// openBody is open reading data keys through db (the writer's transaction
// for retention and erasure).
func (s *Store) openBody(ctx context.Context, db queryer, tid int64, id string, dk sql.NullInt64, body []byte) ([]byte, error) {
	if !dk.Valid || body == nil {
		return body, nil
	}
	full, err := s.unseal(ctx, db, tid, id, dk.Int64, body)
	if full == nil || err != nil {
		return nil, err
	}
	return full[ledger.SaltSize:], nil
}

// unseal opens a sealed body and returns salt ‖ body (nil when its data
// key was destroyed).
func (s *Store) unseal(ctx context.Context, db queryer, tid int64, id string, dk int64, sealed []byte) ([]byte, error) {
	key, err := s.keys.dataKeyByID(ctx, db, tid, dk)
	if err != nil || key == nil {
		return nil, err
	}
	name := s.keys.tenantName(tid)
	full, err := s.keys.openBody(dk, key, sealed, bodyAD(name, id))
	if err != nil || len(full) < ledger.SaltSize {
		return nil, fmt.Errorf("event %s of tenant %q: its sealed body does not open (run clawtrail verify)", id, name)
	}
	return full, nil
}

func (k *keyring) tenantName(tid int64) string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.names[tid]
}

// key returns the data key of the request's event i (none without
// encryption).
func (r *appendReq) key(i int) dataKey {
	if r.keys == nil {
		return dataKey{}
	}
	return r.keys[i]
}

// ensureKeys finds or makes the data key of every event of r (with
// encryption on): one per subject, created in the group's transaction and
// published only after it commits.
func (g *groupTx) ensureKeys(ctx context.Context, tid int64, r *appendReq) error {
	k := g.s.keys
	if k.master == nil {
		return nil
	}
	tk := k.tenant(tid)
	if tk == nil {
		tk = g.newTenants[tid]
	}
	if tk == nil {
		return fmt.Errorf("tenant %q has no keys", r.tenant)
	}
	r.keys = make([]dataKey, len(r.events))
	for i := range r.events {
		user := r.events[i].Event.UserID
		if clawtrail.ReservedType(r.events[i].Event.Type) {
			user = "" // the server's records are the tenant's, never a subject's to erase
		}
		ref := subjectRef{tid, tk.subjectOf(user)}
		dk, err := g.subjectKey(ctx, tk, r.tenant, ref)
		if err != nil {
			return err
		}
		r.keys[i] = dk
	}
	return nil
}

func (g *groupTx) subjectKey(ctx context.Context, tk *TenantKeys, tenant string, ref subjectRef) (dataKey, error) {
	if dk, ok := g.newData[ref]; ok {
		return dk, nil
	}
	k := g.s.keys
	k.mu.RLock()
	dk, ok := k.active[ref]
	k.mu.RUnlock()
	if ok {
		return dk, nil
	}
	var id int64
	var wrapped []byte
	err := g.tx.QueryRowContext(ctx, `SELECT id, wrapped FROM data_keys WHERE tid=? AND subject=? AND held=0 AND wrapped IS NOT NULL ORDER BY id DESC LIMIT 1`, ref.tid, ref.subject[:]).Scan(&id, &wrapped)
	switch {
	case err == nil:
		key, err := tk.Wrap.Unwrap(wrapped, dataKeyName(tenant, id))
		if err != nil {
			return dataKey{}, fmt.Errorf("data key %d of tenant %q does not open: %w", id, tenant, err)
		}
		dk = dataKey{id, &key, key.NewSealer()}
	case errors.Is(err, sql.ErrNoRows):
		dk, err = g.newDataKey(ctx, tk, tenant, ref, false)
		if err != nil {
			return dataKey{}, err
		}
	default:
		return dataKey{}, err
	}
	if g.newData == nil {
		g.newData = map[subjectRef]dataKey{}
	}
	g.newData[ref] = dk
	return dk, nil
}

// newDataKey stores a fresh data key for a subject in the transaction.
func (g *groupTx) newDataKey(ctx context.Context, tk *TenantKeys, tenant string, ref subjectRef, held bool) (dataKey, error) {
	var id int64
	if err := g.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM data_keys`).Scan(&id); err != nil {
		return dataKey{}, err
	}
	key := crypt.NewKey()
	if _, err := g.tx.ExecContext(ctx, `INSERT INTO data_keys(id, tid, subject, held, wrapped, created_at) VALUES (?,?,?,?,?,?)`,
		id, ref.tid, ref.subject[:], held, tk.Wrap.Wrap(key, dataKeyName(tenant, id)), g.now); err != nil {
		return dataKey{}, err
	}
	return dataKey{id, &key, key.NewSealer()}, nil
}

// publish makes the keys of a committed group usable.
func (k *keyring) publish(g *groupTx) {
	if len(g.newTenants) == 0 && len(g.newData) == 0 {
		for name, tid := range g.tenants {
			k.setName(tid, name)
		}
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for tid, tk := range g.newTenants {
		k.tenants[tid] = tk
	}
	for name, tid := range g.tenants {
		k.names[tid] = name
	}
	for ref, dk := range g.newData {
		k.active[ref] = dk
		k.data[dk.id] = dk.key
	}
}

func (k *keyring) setName(tid int64, name string) {
	k.mu.Lock()
	k.names[tid] = name
	k.mu.Unlock()
}

// loadKeys checks the master key and loads (or creates) the tenant keys.
func (s *Store) loadKeys(ctx context.Context) error {
	turnedOn, err := checkMaster(ctx, s.writer, s.cfg.MasterKey, s.cfg.Dir)
	if err != nil {
		return err
	}
	if err := s.keys.load(ctx, s.writer, true, s.now().UnixNano()); err != nil {
		return err
	}
	if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE dk IS NULL AND body IS NOT NULL`).Scan(&s.plainEvents); err != nil {
		return err
	}
	switch {
	case s.cfg.MasterKey == nil:
		s.log.Warn("data is NOT encrypted at rest: event bodies are stored in clear (start with --master-key-file to encrypt)")
	case turnedOn && s.plainEvents > 0:
		s.log.Warn("encryption at rest turned on: new events are encrypted; events stored before stay in clear", "events_in_clear", s.plainEvents)
	default:
		s.log.Info("encryption at rest is on", "events_in_clear", s.plainEvents)
	}
	return nil
}

// Encrypted reports whether the store encrypts bodies.
func (s *Store) Encrypted() bool { return s.keys.master != nil }

// TenantKeys returns a tenant's derived keys (false for an unknown tenant).
func (s *Store) TenantKeys(tenant string) (*TenantKeys, bool) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return nil, false
	}
	tk := s.keys.tenant(tid)
	return tk, tk != nil
}

// EnsureTenant returns a tenant's keys, creating the tenant (in a commit of
// its own, with no events) if it has none yet: redaction needs the
// tenant's fingerprint key before its first event is stored.
func (s *Store) EnsureTenant(ctx context.Context, tenant string) (*TenantKeys, error) {
	if tk, ok := s.TenantKeys(tenant); ok {
		return tk, nil
	}
	if _, err := s.Append(ctx, tenant, "", nil); err != nil {
		return nil, err
	}
	tk, ok := s.TenantKeys(tenant)
	if !ok {
		return nil, fmt.Errorf("tenant %q was not created", tenant)
	}
	return tk, nil
}

// FingerprintHit is one place a redacted value was found.
type FingerprintHit struct {
	ID        string `json:"id"`
	Seq       int64  `json:"seq"`
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	SessionID string `json:"session_id,omitempty"`
	Rule      string `json:"rule"`
	Field     string `json:"field"`
}

// FindFingerprint returns where a redaction fingerprint occurs in a
// tenant's events (at most 1,000 places, newest first).
func (s *Store) FindFingerprint(ctx context.Context, tenant, fp string, serverRecords bool) ([]FingerprintHit, error) {
	out := []FingerprintHit{}
	tid, ok := s.tenantID(tenant)
	if !ok {
		return out, nil
	}
	v := query.IndexValue(fp)
	if tk := s.keys.tenant(tid); s.Encrypted() && tk != nil {
		v = tk.Blind("redactions", v)
	}
	// The fingerprint's token drives alone, as a session's does in
	// Session: fingerprints are keyed by the tenant's secret, so its
	// doclist is the tenant's already, and e.tid keeps the answer so; an
	// AND with the tenant's token would seek that token's doclist (every
	// event of the tenant) for each hit.
	match := `"` + query.ValueToken("redactions", v) + `"`
	q := `SELECT e.k, e.seq, e.ts FROM fts CROSS JOIN ev e ON e.k = fts.rowid WHERE fts MATCH ? AND e.tid=?`
	if !serverRecords {
		q += ` AND e.type NOT IN (` + serverTypes + `)`
	}
	keys, err := s.queryKeys(ctx, q+` ORDER BY e.k DESC LIMIT 1000`, match, tid)
	if err != nil {
		return nil, err
	}
	stored, err := s.bodies(ctx, tid, keys, true)
	if err != nil {
		return nil, err
	}
	for _, st := range stored {
		e, err := clawtrail.ParseEvent(st.Body)
		if err != nil {
			continue
		}
		for _, r := range e.Redactions {
			if r.Fingerprint == fp {
				out = append(out, FingerprintHit{ID: e.ID, Seq: e.Seq, Type: e.Type, Timestamp: e.Timestamp.UTC().Format(time.RFC3339Nano),
					SessionID: e.SessionID, Rule: r.Rule, Field: r.Field})
			}
		}
	}
	return out, nil
}

// RotateMaster re-wraps every tenant secret of the data directory dir from
// the master key old to next, in one transaction, without touching events
// (the data keys are wrapped by the tenant keys, which do not change). The
// server must be stopped (the directory lock says so).
func RotateMaster(ctx context.Context, dir string, old, next *crypt.Key) (int, error) {
	unlock, err := lockDir(dir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	path := filepath.Join(dir, "ledger.db")
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("no ledger in %s: %w", dir, err)
	}
	db, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "secure_delete(1)")+"&_txlock=immediate")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := checkMaster(ctx, db, old, dir); err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT k.tid, t.name, k.secret, k.wrapped FROM tenant_keys k JOIN tenants t ON t.tid = k.tid`)
	if err != nil {
		return 0, err
	}
	type row struct {
		tid     int64
		name    string
		secret  []byte
		wrapped bool
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.tid, &r.name, &r.secret, &r.wrapped); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	rows.Close()
	for _, r := range all {
		secret := crypt.Key{}
		if r.wrapped {
			if secret, err = old.Unwrap(r.secret, tenantKeyName(r.name)); err != nil {
				return 0, fmt.Errorf("%w: tenant %q's keys do not open with the old master key", ErrWrongMasterKey, r.name)
			}
		} else if len(r.secret) == crypt.KeySize {
			secret = crypt.Key(r.secret)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tenant_keys SET secret=?, wrapped=1 WHERE tid=?`, next.Wrap(secret, tenantKeyName(r.name)), r.tid); err != nil {
			return 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(name, value) VALUES ('master_check', ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value`, next.Check()); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return len(all), err
}
