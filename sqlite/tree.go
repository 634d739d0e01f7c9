package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
)

// treeState is a tenant's tree as of the last commit: its right edge, the
// latest signed checkpoint, and when the history last took a checkpoint.
type treeState struct {
	tree        *ledger.Tree
	checkpoint  []byte
	lastHistory int64 // ns; 0: never
}

// DefaultCheckpointInterval is how often a tenant's checkpoint history takes
// a checkpoint while it grows. Every commit gets a signed checkpoint; the
// history keeps at most one per interval.
const DefaultCheckpointInterval = time.Second

// loadSigner reads (or, on first start, creates) the signing key and checks
// it against the ledger's log name.
func (s *Store) loadSigner(ctx context.Context) error {
	path := s.cfg.SigningKeyFile
	if path == "" {
		path = filepath.Join(s.cfg.Dir, "signing.key")
		s.cfg.SigningKeyFile = path
	}
	var logName string
	err := s.writer.QueryRowContext(ctx, `SELECT value FROM meta WHERE name='log_name'`).Scan(&logName)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !s.cfg.ExternalSigningKey:
		if logName == "" {
			host := s.cfg.Host
			if host == "" {
				host, _ = os.Hostname()
			}
			logName = ledger.LogName(sanitizeHost(host))
		}
		skey, _, err := ledger.GenerateSigningKey(logName)
		if err != nil {
			return err
		}
		if err := writeSecret(path, []byte(skey+"\n")); err != nil {
			return fmt.Errorf("write signing key: %w", err)
		}
		raw = []byte(skey)
		s.log.Info("created signing key", "file", path)
	case err != nil:
		return fmt.Errorf("read signing key: %w", err)
	}
	signer, err := ledger.NewSigner(string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if logName == "" {
		logName = signer.Name()
	}
	if signer.Name() != logName {
		return fmt.Errorf("the signing key in %s is named %q, but this ledger's log is named %q", path, signer.Name(), logName)
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT OR IGNORE INTO meta(name, value) VALUES ('log_name', ?)`, logName); err != nil {
		return err
	}
	s.logName = logName
	s.signer = signer
	wk, _ := ledger.NewKeyring()
	for _, w := range s.cfg.WitnessKeys {
		if err := wk.AddWitnessKey(w); err != nil {
			return err
		}
	}
	return s.recordSigningKey(ctx, s.writer, signer.VKey())
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// recordSigningKey makes vkey the current key of the key history.
func (s *Store) recordSigningKey(ctx context.Context, db execer, vkey string) error {
	var cur string
	err := db.QueryRowContext(ctx, `SELECT vkey FROM signing_keys WHERE valid_to IS NULL`).Scan(&cur)
	if err == nil && cur == vkey {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	now := s.now().UnixNano()
	if _, err := db.ExecContext(ctx, `UPDATE signing_keys SET valid_to = ? WHERE valid_to IS NULL`, now); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT INTO signing_keys(vkey, valid_from) VALUES (?, ?) ON CONFLICT(vkey) DO UPDATE SET valid_to = NULL`, vkey, now)
	return err
}

func sanitizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "localhost"
	}
	return b.String()
}

// writeSecret writes a 0600 file atomically.
func writeSecret(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Origin returns the checkpoint origin of a tenant's log.
func (s *Store) Origin(tenant string) string { return ledger.Origin(s.logName, tenant) }

// LogName is the name of the log (and of its signing key): "<host>/clawtrail".
func (s *Store) LogName() string { return s.logName }

func (s *Store) sign(tenant string, size uint64, root [32]byte) ([]byte, error) {
	s.signMu.RLock()
	defer s.signMu.RUnlock()
	return s.signer.Sign(s.Origin(tenant), size, root)
}

// loadTrees reads every tenant's tree state. A tenant whose events run past
// its tree is integrated now if the ledger was just migrated from version 1
// (which had no trees); otherwise it is an error, as every commit writes
// events and tree together: the ledger was changed behind clawtrail's back.
func (s *Store) loadTrees(ctx context.Context, migrated bool) error {
	names := map[int64]string{}
	s.mu.Lock()
	for n, tid := range s.tenants {
		names[tid] = n
	}
	heads := make(map[int64]int64, len(s.heads))
	for tid, h := range s.heads {
		heads[tid] = h
	}
	s.mu.Unlock()
	rows, err := s.writer.QueryContext(ctx, `SELECT t.tid, t.size, t.compact, t.checkpoint,
		coalesce((SELECT max(created_at) FROM checkpoints c WHERE c.tid = t.tid), 0) FROM trees t`)
	if err != nil {
		return fmt.Errorf("load trees: %w", err)
	}
	trees := map[int64]*treeState{}
	for rows.Next() {
		var tid int64
		var size uint64
		var compact []byte
		st := &treeState{}
		if err := rows.Scan(&tid, &size, &compact, &st.checkpoint, &st.lastHistory); err != nil {
			rows.Close()
			return err
		}
		if len(compact)%32 != 0 {
			rows.Close()
			return fmt.Errorf("tree state of tenant %q is damaged; run clawtrail verify --data %s", names[tid], s.cfg.Dir)
		}
		var hs [][]byte
		for i := 0; i < len(compact); i += 32 {
			hs = append(hs, compact[i:i+32])
		}
		if st.tree, err = ledger.LoadTree(size, hs); err != nil {
			rows.Close()
			return fmt.Errorf("tree state of tenant %q is damaged (%v); run clawtrail verify --data %s", names[tid], err, s.cfg.Dir)
		}
		trees[tid] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// The tree state must be the one the latest checkpoint signed: a state
	// edited behind clawtrail's back (with events to match) would otherwise
	// be signed over by the next commit or a key rotation.
	keys, err := s.historyKeyring(ctx, s.writer)
	if err != nil {
		return err
	}
	for tid, st := range trees {
		name, ok := names[tid]
		if !ok {
			return fmt.Errorf("the ledger holds a Merkle tree for a tenant (id %d) the tenants table lacks: it was changed outside clawtrail; run clawtrail verify --data %s", tid, s.cfg.Dir)
		}
		cp, err := ledger.OpenCheckpoint(st.checkpoint, s.Origin(name), keys)
		if err != nil || cp.Size != st.tree.Size() || cp.Root != st.tree.Root() {
			return fmt.Errorf("the tree state of tenant %q is not the one its latest checkpoint signed (%v): the ledger was changed outside clawtrail; run clawtrail verify --data %s", name, err, s.cfg.Dir)
		}
	}
	s.trees = trees
	for tid, head := range heads {
		st := trees[tid]
		size := int64(0)
		if st != nil {
			size = int64(st.tree.Size())
		}
		if size == head {
			continue
		}
		if !migrated || size > head {
			return fmt.Errorf("tenant %q holds %d events but its Merkle tree covers %d: the ledger was changed outside clawtrail; run clawtrail verify --data %s", names[tid], head, size, s.cfg.Dir)
		}
		if err := s.catchUp(ctx, tid, names[tid], size, head); err != nil {
			return fmt.Errorf("build the Merkle tree of tenant %q: %w", names[tid], err)
		}
	}
	return nil
}

// catchUp integrates the leaves [from, to) of a tenant, in transactions of
// up to 100k leaves (used when migrating a version 1 ledger).
func (s *Store) catchUp(ctx context.Context, tid int64, name string, from, to int64) error {
	for from < to {
		end := min(to, from+100000)
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+leafHashColumns+` FROM events WHERE tid=? AND seq>=? AND seq<? ORDER BY seq`, tid, from, end)
		if err != nil {
			tx.Rollback()
			return err
		}
		var leaves [][32]byte
		var buf []byte
		for rows.Next() {
			seq, lh, err := scanLeafHash(rows, name, &buf)
			if err != nil || seq != from+int64(len(leaves)) {
				rows.Close()
				tx.Rollback()
				return fmt.Errorf("seq %d: the ledger is not dense or a leaf hash is damaged (%v)", from+int64(len(leaves)), err)
			}
			leaves = append(leaves, lh)
		}
		rows.Close()
		st, err := s.integrate(ctx, tx, tid, name, s.trees[tid], leaves, s.now().UnixNano())
		if err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		s.trees[tid] = st
		from = end
	}
	s.log.Info("built the Merkle tree of a migrated tenant", "tenant", name, "size", to)
	return nil
}

// integrate appends leaves to a tenant's tree inside tx: the tiles the new
// nodes complete, the tree state and a newly signed checkpoint (and a
// history row once per checkpoint interval). It returns the new state, for
// the caller to publish after the commit.
func (s *Store) integrate(ctx context.Context, tx *sql.Tx, tid int64, name string, st *treeState, leaves [][32]byte, now int64) (*treeState, error) {
	var t *ledger.Tree
	var lastHistory int64
	if st == nil {
		t = ledger.NewTree()
	} else {
		t, lastHistory = st.tree.Clone(), st.lastHistory
	}
	touched := map[[2]uint64][]byte{}
	var order [][2]uint64
	var err error
	visit := func(level uint, index uint64, h []byte) {
		if level == 0 || level%ledger.TileHeight != 0 || err != nil {
			return
		}
		key := [2]uint64{uint64(level / ledger.TileHeight), index / ledger.TileWidth}
		blob, ok := touched[key]
		if !ok {
			blob, err = readTile(ctx, tx, tid, key)
			if err != nil {
				return
			}
			order = append(order, key)
		}
		if len(blob) != int(index%ledger.TileWidth)*32 {
			err = fmt.Errorf("tile (level %d, index %d) holds %d bytes where node %d should be appended: the tiles are damaged", key[0], key[1], len(blob), index)
			return
		}
		touched[key] = append(blob, h...)
	}
	for i := range leaves {
		t.Append(leaves[i][:], visit)
	}
	if err != nil {
		return nil, err
	}
	for _, key := range order {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tiles(tid, level, idx, hashes) VALUES (?,?,?,?)
			ON CONFLICT(tid, level, idx) DO UPDATE SET hashes = excluded.hashes`, tid, key[0], key[1], touched[key]); err != nil {
			return nil, err
		}
	}
	note, err := s.sign(name, t.Size(), t.Root())
	if err != nil {
		return nil, err
	}
	var compact []byte
	for _, h := range t.Hashes() {
		compact = append(compact, h...)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO trees(tid, size, compact, checkpoint) VALUES (?,?,?,?)
		ON CONFLICT(tid) DO UPDATE SET size = excluded.size, compact = excluded.compact, checkpoint = excluded.checkpoint`,
		tid, int64(t.Size()), compact, string(note)); err != nil {
		return nil, err
	}
	if lastHistory == 0 || now-lastHistory >= int64(s.cfg.CheckpointInterval) {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO checkpoints(tid, size, created_at, note) VALUES (?,?,?,?)`,
			tid, int64(t.Size()), now, string(note)); err != nil {
			return nil, err
		}
		lastHistory = now
	}
	return &treeState{tree: t, checkpoint: note, lastHistory: lastHistory}, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readTile(ctx context.Context, db queryRower, tid int64, key [2]uint64) ([]byte, error) {
	var blob []byte
	err := db.QueryRowContext(ctx, `SELECT hashes FROM tiles WHERE tid=? AND level=? AND idx=?`, tid, key[0], key[1]).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return blob, err
}

// Checkpoint returns the latest signed checkpoint of a tenant's log. A
// tenant with no events gets a freshly signed checkpoint of the empty tree.
func (s *Store) Checkpoint(ctx context.Context, tenant string) ([]byte, error) {
	s.mu.Lock()
	var st *treeState
	if tid, ok := s.tenants[tenant]; ok {
		st = s.trees[tid]
	}
	s.mu.Unlock()
	if st != nil {
		return st.checkpoint, nil
	}
	return s.sign(tenant, 0, ledger.EmptyRoot())
}

// TreeSize is the size of a tenant's latest checkpoint.
func (s *Store) TreeSize(tenant string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tid, ok := s.tenants[tenant]; ok && s.trees[tid] != nil {
		return s.trees[tid].tree.Size()
	}
	return 0
}

// leafHashColumns are the columns scanLeafHash reads.
const leafHashColumns = `seq, id, received_at, type, key_id, body_commit, leaf_hash`

// scanLeafHash reads a row of leafHashColumns of tenant's events and
// returns its seq and leaf hash: the stored one when the row holds it whole
// (ledger schema 5 and before), else the one its leaf fields hash to, which
// must begin with the stored prefix (schema 6).
func scanLeafHash(rows *sql.Rows, tenant string, buf *[]byte) (int64, [32]byte, error) {
	var rec ledger.Record
	var bc []byte
	if err := rows.Scan(&rec.Seq, &rec.ID, &rec.ReceivedAt, &rec.Type, &rec.KeyID, &bc, &rec.LeafHash); err != nil {
		return 0, [32]byte{}, err
	}
	if len(rec.LeafHash) == 32 {
		return rec.Seq, [32]byte(rec.LeafHash), nil
	}
	if len(bc) != 32 || len(rec.LeafHash) != StoredLeafPrefix {
		return rec.Seq, [32]byte{}, fmt.Errorf("seq %d: damaged hash columns", rec.Seq)
	}
	rec.BodyCommit = [32]byte(bc)
	*buf = rec.Prehash(tenant, *buf) // no body or salt: the leaf hash only
	if !bytes.Equal(rec.Computed[:StoredLeafPrefix], rec.LeafHash) {
		return rec.Seq, [32]byte{}, fmt.Errorf("seq %d: the leaf fields do not match the stored leaf hash", rec.Seq)
	}
	return rec.Seq, rec.Computed, nil
}

// nodeReader reads the hashes of complete subtrees of one tenant's tree from
// tiles: level 0 from the events' leaf fields (scanLeafHash), levels 8, 16,
// … from the tiles table; the levels between are hashed up from the tile
// below them.
type nodeReader struct {
	ctx   context.Context
	db    queryer
	tid   int64
	name  string
	size  uint64
	tiles map[[2]uint64][][]byte
	memo  map[[2]uint64][]byte
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func newNodeReader(ctx context.Context, db queryer, tid int64, name string, size uint64) *nodeReader {
	return &nodeReader{ctx: ctx, db: db, tid: tid, name: name, size: size, tiles: map[[2]uint64][][]byte{}, memo: map[[2]uint64][]byte{}}
}

func (nr *nodeReader) node(level uint, index uint64) ([]byte, error) {
	if (index+1)<<level > nr.size {
		return nil, fmt.Errorf("node (%d, %d) is outside the tree of size %d", level, index, nr.size)
	}
	key := [2]uint64{uint64(level), index}
	if h, ok := nr.memo[key]; ok {
		return h, nil
	}
	tl := level / ledger.TileHeight
	up := level % ledger.TileHeight
	first := index << up // index at the tile's base level
	tile, err := nr.tile(uint64(tl), first/ledger.TileWidth)
	if err != nil {
		return nil, err
	}
	off, n := first%ledger.TileWidth, uint64(1)<<up
	if off+n > uint64(len(tile)) {
		return nil, fmt.Errorf("%w: tile (level %d, index %d) has %d hashes, node (%d, %d) needs %d", clawtrail.ErrUnavailable, tl, first/ledger.TileWidth, len(tile), level, index, off+n)
	}
	h := ledger.SubtreeHash(tile[off : off+n])
	nr.memo[key] = h
	return h, nil
}

func (nr *nodeReader) tile(level, idx uint64) ([][]byte, error) {
	key := [2]uint64{level, idx}
	if t, ok := nr.tiles[key]; ok {
		return t, nil
	}
	var t [][]byte
	if level == 0 {
		from := int64(idx * ledger.TileWidth)
		rows, err := nr.db.QueryContext(nr.ctx, `SELECT `+leafHashColumns+` FROM events WHERE tid=? AND seq>=? AND seq<? ORDER BY seq`, nr.tid, from, min(from+ledger.TileWidth, int64(nr.size)))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var buf []byte
		for rows.Next() {
			seq, h, err := scanLeafHash(rows, nr.name, &buf)
			if err != nil || seq != from+int64(len(t)) {
				return nil, fmt.Errorf("%w: the leaf hashes near seq %d are damaged (%v)", clawtrail.ErrUnavailable, seq, err)
			}
			t = append(t, h[:])
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	} else {
		blob, err := readTile(nr.ctx, nr.db, nr.tid, key)
		if err != nil {
			return nil, err
		}
		for i := 0; i+32 <= len(blob); i += 32 {
			t = append(t, blob[i:i+32])
		}
	}
	nr.tiles[key] = t
	return t, nil
}

// resolveTree returns the tid and the current tree size of a tenant, and
// checks that size (0 = current) is within it.
func (s *Store) resolveTree(tenant string, size uint64) (int64, uint64, error) {
	s.mu.Lock()
	tid, ok := s.tenants[tenant]
	var cur uint64
	if ok && s.trees[tid] != nil {
		cur = s.trees[tid].tree.Size()
	}
	s.mu.Unlock()
	if size == 0 {
		size = cur
	}
	if size > cur {
		return 0, 0, &clawtrail.InvalidError{Message: fmt.Sprintf("size %d is larger than the tree (size %d)", size, cur)}
	}
	return tid, size, nil
}

// InclusionProof returns the proof that seq is in the tree of the given size
// (0: the latest checkpoint's).
func (s *Store) InclusionProof(ctx context.Context, tenant string, seq int64, size uint64) ([][]byte, uint64, error) {
	tid, size, err := s.resolveTree(tenant, size)
	if err != nil {
		return nil, 0, err
	}
	if seq < 0 || uint64(seq) >= size {
		return nil, 0, &clawtrail.InvalidError{Message: fmt.Sprintf("seq %d is not in the tree of size %d", seq, size)}
	}
	nr := newNodeReader(ctx, s.reader, tid, tenant, size)
	p, err := ledger.InclusionProof(uint64(seq), size, nr.node)
	return p, size, err
}

// ConsistencyProof returns the proof that the tree of size to extends the
// tree of size from (to 0: the latest checkpoint's).
func (s *Store) ConsistencyProof(ctx context.Context, tenant string, from, to uint64) ([][]byte, uint64, error) {
	tid, to, err := s.resolveTree(tenant, to)
	if err != nil {
		return nil, 0, err
	}
	if from > to {
		return nil, 0, &clawtrail.InvalidError{Message: fmt.Sprintf("from %d is larger than to %d", from, to)}
	}
	nr := newNodeReader(ctx, s.reader, tid, tenant, to)
	p, err := ledger.ConsistencyProof(from, to, nr.node)
	return p, to, err
}

// StoredCheckpoint is a checkpoint of the history.
type StoredCheckpoint struct {
	Size      uint64    `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	Note      string    `json:"note"`
}

// Checkpoints returns a tenant's checkpoint history, oldest first, with the
// witness cosignatures each has appended to its note.
func (s *Store) Checkpoints(ctx context.Context, tenant string) ([]StoredCheckpoint, error) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return nil, nil
	}
	return readCheckpoints(ctx, s.reader, tid)
}

func readCheckpoints(ctx context.Context, db queryer, tid int64) ([]StoredCheckpoint, error) {
	rows, err := db.QueryContext(ctx, `SELECT size, created_at, note FROM checkpoints WHERE tid=? ORDER BY size`, tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredCheckpoint
	for rows.Next() {
		var c StoredCheckpoint
		var at int64
		if err := rows.Scan(&c.Size, &at, &c.Note); err != nil {
			return nil, err
		}
		c.CreatedAt = time.Unix(0, at).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// historyKeyring trusts every key of the signing key history.
func (s *Store) historyKeyring(ctx context.Context, db queryer) (*ledger.Keyring, error) {
	keys, _ := ledger.NewKeyring()
	return keys, trustHistory(ctx, db, keys)
}

// trustHistory adds every key of the signing key history to keys.
func trustHistory(ctx context.Context, db queryer, keys *ledger.Keyring) error {
	ks, err := readSigningKeys(ctx, db)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if err := keys.AddLogKey(k.VKey); err != nil {
			return fmt.Errorf("signing key history: %w", err)
		}
	}
	return nil
}

// SigningKeysIn reads the key history of the ledger in a data directory,
// without a server.
func SigningKeysIn(ctx context.Context, dir string) ([]ledger.KeyInfo, error) {
	path := filepath.Join(dir, "ledger.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: no ledger in %s", clawtrail.ErrNotFound, dir)
	}
	db, err := sql.Open("sqlite", dsn(path, "query_only(1)", "busy_timeout(5000)"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	keys, err := readSigningKeys(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("read the key history of %s: %w", dir, err)
	}
	return keys, nil
}

// SigningKeys returns the key history, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]ledger.KeyInfo, error) {
	return readSigningKeys(ctx, s.reader)
}

func readSigningKeys(ctx context.Context, db queryer) ([]ledger.KeyInfo, error) {
	rows, err := db.QueryContext(ctx, `SELECT vkey, valid_from, valid_to FROM signing_keys ORDER BY valid_from`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.KeyInfo
	for rows.Next() {
		var k ledger.KeyInfo
		var from int64
		var to sql.NullInt64
		if err := rows.Scan(&k.VKey, &from, &to); err != nil {
			return nil, err
		}
		k.ValidFrom = time.Unix(0, from).UTC()
		if to.Valid {
			k.ValidTo = time.Unix(0, to.Int64).UTC()
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RotateSigningKey makes a new signing key, records it in the key history
// (the old key's validity ends now) and re-signs every tenant's latest
// checkpoint with it. Checkpoints signed by the old key stay verifiable
// under the old public key, which the history keeps.
func (s *Store) RotateSigningKey(ctx context.Context) (string, error) {
	if s.cfg.ExternalSigningKey {
		return "", &clawtrail.InvalidError{Message: "the signing key is given by configuration; rotate it by replacing that file and restarting"}
	}
	skey, vkey, err := ledger.GenerateSigningKey(s.logName)
	if err != nil {
		return "", err
	}
	signer, err := ledger.NewSigner(skey)
	if err != nil {
		return "", err
	}
	// The writer connection first, then the signing lock: the sequencer
	// takes them in the same order.
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	s.signMu.Lock()
	defer s.signMu.Unlock()
	if err := s.recordSigningKey(ctx, tx, vkey); err != nil {
		return "", err
	}
	// The checkpoints to re-sign come from the table, inside this
	// transaction (the sequencer may have committed a group it has not
	// published yet), and what is re-signed is what the old key signed —
	// never a tree state that no signature covers.
	keys, err := s.historyKeyring(ctx, tx)
	if err != nil {
		return "", err
	}
	type resignedCP struct {
		size uint64
		note []byte
	}
	resigned := map[int64]resignedCP{}
	rows, err := tx.QueryContext(ctx, `SELECT r.tid, t.name, r.checkpoint FROM trees r JOIN tenants t ON t.tid = r.tid`)
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var tid int64
		var name, old string
		if err := rows.Scan(&tid, &name, &old); err != nil {
			rows.Close()
			return "", err
		}
		cp, err := ledger.OpenCheckpoint([]byte(old), ledger.Origin(s.logName, name), keys)
		if err != nil {
			rows.Close()
			return "", fmt.Errorf("tenant %q: its latest checkpoint does not verify (%v); run clawtrail verify before rotating", name, err)
		}
		note, err := signer.Sign(cp.Origin, cp.Size, cp.Root)
		if err != nil {
			rows.Close()
			return "", err
		}
		resigned[tid] = resignedCP{cp.Size, note}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	for tid, r := range resigned {
		if _, err := tx.ExecContext(ctx, `UPDATE trees SET checkpoint=? WHERE tid=?`, string(r.note), tid); err != nil {
			return "", err
		}
	}
	// The key file is replaced before the commit: a crash between the two
	// leaves the new key on disk and the old one current in the history,
	// which the next start repairs (recordSigningKey).
	if err := writeSecret(s.cfg.SigningKeyFile, []byte(skey+"\n")); err != nil {
		return "", fmt.Errorf("write signing key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	s.signer = signer
	s.mu.Lock()
	for tid, r := range resigned {
		if st := s.trees[tid]; st != nil && st.tree.Size() == r.size {
			cp := *st
			cp.checkpoint = r.note
			s.trees[tid] = &cp
		}
	}
	s.mu.Unlock()
	s.log.Info("rotated the signing key", "vkey", vkey)
	return vkey, nil
}
