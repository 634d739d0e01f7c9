package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/ledger"
)

// LeafProof is one event's leaf record with its inclusion proof.
type LeafProof struct {
	Seq   int64
	ID    string
	Leaf  []byte // the leaf record (ledger.Leaf.Append)
	Salt  []byte // nil once deleted
	Body  []byte // nil once deleted
	Proof [][]byte
}

const leafColumns = `seq, id, received_at, type, key_id, body_commit, leaf_hash, salt, body, dk`

// opener opens a record's sealed body (nil: bodies are in clear).
type opener func(tid int64, dk int64, rec *ledger.Record) error

// scanRecord reads a row of leafColumns into rec, opening a sealed body
// with open and reading a packed one through pk.
func scanRecord(ctx context.Context, rows *sql.Rows, rec *ledger.Record, tid int64, open opener, pk *packs) error {
	var bc []byte
	var dk sql.NullInt64
	if err := rows.Scan(&rec.Seq, &rec.ID, &rec.ReceivedAt, &rec.Type, &rec.KeyID, &bc, &rec.LeafHash, &rec.Salt, &rec.Body, &dk); err != nil {
		return err
	}
	fixRecord(rec, bc)
	if dk.Valid && open != nil {
		return open(tid, dk.Int64, rec)
	}
	if !dk.Valid && isPacked(rec.Body) {
		return unpackRecord(ctx, pk, tid, rec)
	}
	return nil
}

// opener returns the store's opener of sealed records.
func (s *Store) opener(ctx context.Context) opener {
	return func(tid int64, dk int64, rec *ledger.Record) error {
		return s.keys.openRecord(ctx, s.reader, tid, s.keys.tenantName(tid), dk, rec)
	}
}

// fixRecord sets the commitment from its column and makes damaged hash
// columns visible as values that cannot match.
func fixRecord(rec *ledger.Record, bc []byte) {
	rec.Hashed = false
	if len(bc) != 32 {
		// A damaged commitment column: keep its bytes visible as a zero
		// commitment, which cannot match.
		rec.BodyCommit = [32]byte{}
	} else {
		rec.BodyCommit = [32]byte(bc)
	}
	if rec.LeafHash != nil && len(rec.LeafHash) != 32 && len(rec.LeafHash) != StoredLeafPrefix {
		rec.LeafHash = make([]byte, 32)
	}
}

// LeafProofs returns the leaf records of a tenant's events at seqs with
// their inclusion proofs in the tree of the given size (0: the latest).
func (s *Store) LeafProofs(ctx context.Context, tenant string, seqs []int64, size uint64) ([]LeafProof, uint64, error) {
	tid, size, err := s.resolveTree(tenant, size)
	if err != nil {
		return nil, 0, err
	}
	nr := newNodeReader(ctx, s.reader, tid, tenant, size)
	out := make([]LeafProof, 0, len(seqs))
	for _, seq := range seqs {
		if seq < 0 || uint64(seq) >= size {
			return nil, 0, &clawtrail.InvalidError{Message: fmt.Sprintf("seq %d is not in the tree of size %d", seq, size)}
		}
		var rec ledger.Record
		found, err := s.readRecord(ctx, tid, seq, &rec)
		if err != nil {
			return nil, 0, err
		}
		if !found {
			return nil, 0, fmt.Errorf("%w: seq %d is missing from the ledger", clawtrail.ErrUnavailable, seq)
		}
		leaf := ledger.Leaf{Tenant: tenant, ID: rec.ID, Seq: uint64(rec.Seq), ReceivedAt: rec.ReceivedAt,
			Type: rec.Type, KeyID: rec.KeyID, BodyCommit: rec.BodyCommit}
		p, err := ledger.InclusionProof(uint64(seq), size, nr.node)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, LeafProof{Seq: seq, ID: rec.ID, Leaf: leaf.Append(nil), Salt: rec.Salt, Body: rec.Body, Proof: p})
	}
	return out, size, nil
}

// readRecord reads the record of a tenant's seq, its body opened or
// unpacked, on one connection of the readers (a pack is read in the row's
// snapshot, and a reader never waits for a second connection while it
// holds one).
func (s *Store) readRecord(ctx context.Context, tid, seq int64, rec *ledger.Record) (bool, error) {
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT `+leafColumns+` FROM events WHERE tid=? AND seq=?`, tid, seq)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	pk := &packs{db: conn}
	defer pk.close()
	return true, scanRecord(ctx, rows, rec, tid, s.opener(ctx), pk)
}

// ReadLedger calls fn with a tenant's stored records of seqs [from, to) in
// seq order, as the verifier needs them. Two connections read alternate
// chunks; the rows below the tree size never change (append-only).
func (s *Store) ReadLedger(ctx context.Context, tenant string, from, to int64, fn func(*ledger.Record) error) error {
	tid, ok := s.tenantID(tenant)
	if !ok || to <= from {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Two connections of the readers, each reading its chunks' packs
	// itself.
	var conns []queryer
	for range 2 {
		c, err := s.reader.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		conns = append(conns, c)
	}
	var ferr error
	err := scan(ctx, conns, nil, to-from, scanChunk, func(lo, hi int64) (string, []any) {
		return `SELECT tid, ` + leafColumns + ` FROM events WHERE tid=? AND seq>=? AND seq<? ORDER BY seq`, []any{tid, from + lo, from + hi}
	}, false, s.opener(ctx), func(_ int64, rec *ledger.Record) {
		if ferr == nil {
			if ferr = fn(rec); ferr != nil {
				cancel() // the client went away: stop reading
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	return err
}

// Coverage says how the search index covers a tenant's ledger.
type Coverage struct {
	LedgerSize int64   `json:"ledger_size"`
	Indexed    int64   `json:"indexed"`          // events the index holds
	Behind     int64   `json:"behind"`           // committed events not indexed yet
	Missing    []int64 `json:"missing"`          // seqs below the index's reach that it lacks (first 100)
	Extra      []int64 `json:"extra"`            // seqs it holds twice or that the ledger lacks (first 100)
	Count      [2]int  `json:"counts,omitempty"` // total missing, extra
}

// IndexCoverage compares a tenant's index entries with its ledger.
func (s *Store) IndexCoverage(ctx context.Context, tenant string) (Coverage, error) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return Coverage{Missing: []int64{}, Extra: []int64{}}, nil
	}
	return indexCoverage(ctx, s.index.reader, tid, s.Head(tenant), nil)
}

// indexCoverage checks that the index holds each seq below its reach exactly
// once and nothing the ledger lacks. Its reach is the count the indexer
// records for the tenant (ix_tenants); events past it are behind, not lost.
func indexCoverage(ctx context.Context, ix queryer, tid, ledgerSize int64, each func(ts int64, typ []byte)) (Coverage, error) {
	c := Coverage{LedgerSize: ledgerSize, Missing: []int64{}, Extra: []int64{}}
	var reach int64
	err := ix.QueryRowContext(ctx, `SELECT next_seq FROM ix_tenants WHERE tid=?`, tid).Scan(&reach)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return c, err
	}
	// One pass over the tenant's index entries, unordered (no sort), into a
	// bitmap of the seqs seen.
	q := `SELECT seq, 0, NULL FROM ev WHERE tid=? ORDER BY seq`
	if each != nil {
		// The same walk also hands each entry's timestamp and type to each:
		// over the covering ev_tid_kc in key order (the bitmap needs no
		// order; only which extras are listed first changes).
		q = `SELECT seq, ts, type FROM ev WHERE tid=?`
	}
	rows, err := ix.QueryContext(ctx, q, tid)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	note := func(list *[]int64, i int, seq int64) {
		c.Count[i]++
		if len(*list) < 100 {
			*list = append(*list, seq)
		}
	}
	seen := make([]uint64, (ledgerSize+63)/64)
	next := int64(0) // one past the largest seq seen
	var ts int64
	var typ sql.RawBytes
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq, &ts, &typ); err != nil {
			return c, err
		}
		if each != nil {
			each(ts, typ)
		}
		c.Indexed++
		if seq >= ledgerSize {
			// Committed after the ledger snapshot this check is against
			// (the index is read in a later one), or a stray entry that
			// shows nothing: bodies come from the ledger.
			continue
		}
		if seq < 0 || seen[seq/64]&(1<<(seq%64)) != 0 {
			note(&c.Extra, 1, seq)
			continue
		}
		seen[seq/64] |= 1 << (seq % 64)
		next = max(next, seq+1)
	}
	if err := rows.Err(); err != nil {
		return c, err
	}
	// Events a tombstone took out of the index are accounted for.
	gone, err := ix.QueryContext(ctx, `SELECT lo, hi FROM ix_gone WHERE tid=?`, tid)
	if err != nil {
		return c, err
	}
	defer gone.Close()
	for gone.Next() {
		var lo, hi int64
		if err := gone.Scan(&lo, &hi); err != nil {
			return c, err
		}
		for m := max(lo, 0); m <= hi && m < ledgerSize; m++ {
			seen[m/64] |= 1 << (m % 64)
		}
	}
	if err := gone.Err(); err != nil {
		return c, err
	}
	for m := int64(0); m < min(max(reach, next), ledgerSize); m++ {
		if seen[m/64]&(1<<(m%64)) == 0 {
			note(&c.Missing, 0, m)
		}
	}
	slices.Sort(c.Extra)
	c.Behind = max(0, ledgerSize-max(reach, next))
	return c, nil
}

// Findings turns a coverage into verify findings.
func (c Coverage) Findings() []ledger.Finding {
	var out []ledger.Finding
	for _, seq := range c.Missing {
		out = append(out, ledger.Finding{Seq: seq, SeqEnd: seq, Kind: ledger.KindIndex, Message: "the search index lacks this event: searches would not show it"})
	}
	for _, seq := range c.Extra {
		out = append(out, ledger.Finding{Seq: seq, SeqEnd: seq, Kind: ledger.KindIndex, Message: "the search index holds an entry the ledger does not (or holds it twice)"})
	}
	if more := c.Count[0] + c.Count[1] - len(out); more > 0 {
		out = append(out, ledger.Finding{Seq: -1, SeqEnd: -1, Kind: ledger.KindIndex, Message: fmt.Sprintf("%d more index problems", more)})
	}
	return out
}

// dailyTally counts index rows by type and UTC day of their timestamp,
// beside the rollup's counts: type → day → {ix_daily's count, rows}.
type dailyTally map[string]map[int64]*[2]int64

func (d dailyTally) at(typ string, day int64) *[2]int64 {
	days := d[typ]
	if days == nil {
		days = map[int64]*[2]int64{}
		d[typ] = days
	}
	c := days[day]
	if c == nil {
		c = new([2]int64)
		days[day] = c
	}
	return c
}

// row counts one index row (no allocation for a day and type seen).
func (d dailyTally) row(ts int64, typ []byte) {
	day := DayOf(ts)
	if c := d[string(typ)][day]; c != nil {
		c[1]++
		return
	}
	d.at(string(typ), day)[1]++
}

// rollupFindings compares the daily counts the indexer keeps (ix_daily,
// behind GET /v1/stats) with the index rows tally counted — in the
// coverage check's walk, in the same read transaction, so a server
// indexing meanwhile cannot make them differ. (A GROUP BY day and type
// would sort every row of the tenant: tens of seconds at 10 M events.)
func rollupFindings(ctx context.Context, ix queryer, tid int64, tally dailyTally) ([]ledger.Finding, error) {
	rows, err := ix.QueryContext(ctx, `SELECT day, type, n FROM ix_daily WHERE tid = ?`, tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var day, n int64
		var typ string
		if err := rows.Scan(&day, &typ, &n); err != nil {
			return nil, err
		}
		tally.at(typ, day)[0] += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	type bad struct {
		day  int64
		typ  string
		r, i int64
	}
	var diffs []bad
	for typ, days := range tally {
		for day, c := range days {
			if c[0] != c[1] {
				diffs = append(diffs, bad{day, typ, c[0], c[1]})
			}
		}
	}
	slices.SortFunc(diffs, func(a, b bad) int { return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.typ, b.typ)) })
	var out []ledger.Finding
	for _, d := range diffs {
		if len(out) == 100 {
			out = append(out, ledger.Finding{Seq: -1, SeqEnd: -1, Kind: ledger.KindIndex, Message: "more daily counts disagree"})
			break
		}
		out = append(out, ledger.Finding{Seq: -1, SeqEnd: -1, Kind: ledger.KindIndex, Message: fmt.Sprintf(
			"the daily count of %s events on %s (GET /v1/stats) is %d but the index holds %d", d.typ, time.Unix(0, d.day*nsPerDay).UTC().Format(time.DateOnly), d.r, d.i)})
	}
	return out, nil
}

// VerifyOptions configures VerifyDir.
type VerifyOptions struct {
	Tenant string // empty: every tenant
	// Keys pins the trusted log keys; nil trusts the key history found in
	// the data directory (which an operator holding the directory controls).
	Keys *ledger.Keyring
	// Witnesses, when > 0, requires that many trusted witness cosignatures
	// (Keys' witness keys) on the newest witnessed checkpoint.
	Witnesses int
	// Remembered checkpoints (client memory) by tenant.
	Remembered map[string][]byte
	// Progress, when set, is told how many events were checked of a total.
	Progress func(done, total int64)
	// MasterKey opens encrypted bodies; without it their commitments are
	// not checked (the leaves and the tree are).
	MasterKey *crypt.Key
}

// VerifyDir verifies the ledger in a data directory without a server: it
// reads one consistent snapshot and recomputes every tenant's leaves, tree,
// tiles and checkpoints, and checks the search index covers the ledger.
func VerifyDir(ctx context.Context, dir string, opts VerifyOptions) ([]*ledger.Report, error) {
	path := filepath.Join(dir, "ledger.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no ledger in %s: %w", dir, err)
	}
	// The scan allocates a copy of every row and keeps little: collect
	// garbage less often.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout(10000)", "query_only(1)", "cache_size(-65536)", mmapPragma))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer tx.Rollback()
	var version, logName string
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name='schema_version'`).Scan(&version); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if version != LedgerSchemaVersion {
		return nil, fmt.Errorf("the ledger in %s has schema version %s; start clawtrail serve once to migrate it to %s", dir, version, LedgerSchemaVersion)
	}
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name='log_name'`).Scan(&logName); err != nil {
		return nil, fmt.Errorf("read the log name in %s: %w", path, err)
	}
	keys := opts.Keys
	var keyNotes []string
	if keys == nil || keys.Len() == 0 {
		if keys == nil {
			keys, _ = ledger.NewKeyring()
		}
		// (keys may carry witness keys: they stay.)
		if err := trustHistory(ctx, tx, keys); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		keyNotes = append(keyNotes, "trusting the signing keys found in the data directory; pin the log's key with --public-key to detect an operator who re-signed a rewritten ledger")
	}
	tenants, err := listTenants(ctx, tx, opts.Tenant)
	if err != nil {
		return nil, err
	}
	// Sealed bodies are opened with the master key when it is given; else
	// their commitments are left unchecked (and said so).
	cdb, err := sql.Open("sqlite", dsn(path, "busy_timeout(10000)", "query_only(1)"))
	if err != nil {
		return nil, err
	}
	defer cdb.Close()
	kr := newKeyring(opts.MasterKey)
	if opts.MasterKey != nil {
		if _, err := checkMaster(ctx, cdb, opts.MasterKey, dir); err != nil {
			return nil, err
		}
	}
	if err := kr.load(ctx, cdb, false, 0); err != nil && opts.MasterKey != nil {
		return nil, err
	}
	open := func(tid int64, dk int64, rec *ledger.Record) error {
		return kr.openRecord(ctx, cdb, tid, kr.tenantName(tid), dk, rec)
	}
	var total, done int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM trees`).Scan(&total); err != nil {
		return nil, err
	}
	// A second reader shares the scan. It reads in a snapshot of its own,
	// bounded by this one's last row; the events are append-only, so both
	// agree on them (a body deleted in between by retention reads as
	// deleted). For one snapshot throughout, verify a stopped server.
	readers := []queryer{tx}
	if rtx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err == nil {
		defer rtx.Rollback()
		readers = append(readers, rtx)
	}
	// The index coverage check runs beside the scan, on its own
	// connection (cdb), in a snapshot of its own.
	ix, ixErr := openIndexReader(dir)
	if ix != nil {
		defer ix.Close()
	}
	type tenantRun struct {
		tenantRow
		v        *ledger.Verifier
		treeSize int64
		order    *reorderer
		cov      chan string // index coverage outcome, applied after the scan
	}
	runs := map[int64]*tenantRun{}
	var ordered []*tenantRun
	for _, t := range tenants {
		v := ledger.NewVerifier(t.name, ledger.Origin(logName, t.name), keys)
		for _, n := range keyNotes {
			v.Note("%s", n)
		}
		treeSize, err := loadVerifyInputs(ctx, tx, v, t.tid, opts, t.name)
		if err != nil {
			return nil, err
		}
		if v.Deletions, err = readDeletions(ctx, tx, t.tid, open); err != nil {
			return nil, err
		}
		r := &tenantRun{tenantRow: t, v: v, treeSize: treeSize}
		r.order = newReorderer(v.Add)
		runs[t.tid] = r
		ordered = append(ordered, r)
	}
	// The search index is checked concurrently with the ledger scan.
	covs := make(map[int64]Coverage, len(ordered))
	covErrs := make(map[int64]error, len(ordered))
	rollups := make(map[int64][]ledger.Finding, len(ordered))
	covDone := make(chan struct{})
	go func() {
		defer close(covDone)
		if ixErr != nil {
			return
		}
		for _, r := range ordered {
			// The ledger's size is its tree's (rows past it are reported
			// as inserted by the verifier, not sized into a bitmap).
			size := r.treeSize
			if size < 0 {
				if err := cdb.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE tid=?`, r.tid).Scan(&size); err != nil {
					covErrs[r.tid] = err
					continue
				}
			}
			// One snapshot of the index for both checks.
			tx, err := ix.BeginTx(ctx, nil)
			if err != nil {
				covErrs[r.tid] = err
				continue
			}
			tally := dailyTally{}
			covs[r.tid], covErrs[r.tid] = indexCoverage(ctx, tx, r.tid, size, tally.row)
			if covErrs[r.tid] == nil {
				rollups[r.tid], covErrs[r.tid] = rollupFindings(ctx, tx, r.tid, tally)
			}
			tx.Rollback()
		}
	}()
	names := map[int64]string{}
	for tid, r := range runs {
		names[tid] = r.name
	}
	count := func() {
		if done++; done%4096 == 0 && opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	orphans := map[int64]int64{} // events of tids with no tenant row
	dispatch := func(tid int64, rec *ledger.Record) {
		if r := runs[tid]; r != nil {
			r.order.add(rec)
		} else {
			orphans[tid]++
		}
		count()
	}
	// Chunks of a key range are read in parallel; a key range far sparser
	// than its row count (an edited seq or rowid of 2^62, say) is read in
	// one ordered query instead, so no edit can make the scan crawl over
	// empty chunks.
	var end, rows int64
	var sel scanRange
	if opts.Tenant != "" {
		tid := ordered[0].tid
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq)+1, 0), count(*) FROM events WHERE tid=?`, tid).Scan(&end, &rows); err != nil {
			return nil, err
		}
		sel = func(lo, hi int64) (string, []any) {
			return `SELECT tid, ` + leafColumns + ` FROM events WHERE tid=? AND seq>=? AND seq<? ORDER BY seq`, []any{tid, lo, hi}
		}
	} else {
		// The whole table in commit (rowid) order: the cheapest way
		// through it; rows after the snapshot's last one are not read.
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(g)+1, 0), count(*) FROM events`).Scan(&end, &rows); err != nil {
			return nil, err
		}
		sel = func(lo, hi int64) (string, []any) {
			return `SELECT tid, ` + leafColumns + ` FROM events WHERE g>=? AND g<? ORDER BY g`, []any{lo, hi}
		}
	}
	chunk := int64(scanChunk)
	if end > 2*rows+1_000_000 {
		readers, chunk = readers[:1], max(end, 1)
	}
	err = scan(ctx, readers, names, end, chunk, sel, true, open, dispatch)
	<-covDone
	if err != nil {
		return nil, fmt.Errorf("read the ledger: %w", err)
	}
	var reports []*ledger.Report
	// Tenants the ledger holds that the tenants table lacks, and tenants
	// verified before that are gone: a deleted tenant row must not hide a
	// whole log.
	if opts.Tenant == "" {
		lost, err := treesWithoutTenant(ctx, tx)
		if err != nil {
			return nil, err
		}
		for tid := range orphans {
			lost[tid] = true
		}
		for tid := range lost {
			name := fmt.Sprintf("(tenant id %d)", tid)
			reports = append(reports, &ledger.Report{Tenant: name, Events: orphans[tid], Findings: []ledger.Finding{{Tenant: name, Seq: -1, SeqEnd: -1, Kind: ledger.KindMissing,
				Message: fmt.Sprintf("%d event(s) and a Merkle tree belong to a tenant whose row is gone from the tenants table: the tenant was hidden outside clawtrail", orphans[tid])}}})
		}
		for name, note := range opts.Remembered {
			if !hasTenant(tenants, name) {
				reports = append(reports, &ledger.Report{Tenant: name, Findings: []ledger.Finding{{Tenant: name, Seq: -1, SeqEnd: -1, Kind: ledger.KindRolledBack,
					Message: fmt.Sprintf("this tenant was verified before (%s) but the ledger no longer holds it", firstLine(note))}}})
			}
		}
	}
	for _, r := range ordered {
		r.order.flush()
		switch cov, err := covs[r.tid], covErrs[r.tid]; {
		case ixErr != nil:
			r.v.Note("search index not checked: %v", ixErr)
		case err != nil:
			r.v.Note("search index not checked: %v", err)
		default:
			for _, f := range append(cov.Findings(), rollups[r.tid]...) {
				r.v.Fail(f)
			}
			if cov.Behind > 0 {
				r.v.Note("the search index is %d event(s) behind the ledger; it catches up when the server runs", cov.Behind)
			}
		}
		reports = append(reports, r.v.Finish(r.treeSize))
	}
	if opts.Progress != nil {
		opts.Progress(done, total)
	}
	return reports, nil
}

type tenantRow struct {
	tid  int64
	name string
}

func listTenants(ctx context.Context, db queryer, only string) ([]tenantRow, error) {
	rows, err := db.QueryContext(ctx, `SELECT tid, name FROM tenants ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tenantRow
	for rows.Next() {
		var t tenantRow
		if err := rows.Scan(&t.tid, &t.name); err != nil {
			return nil, err
		}
		if only == "" || t.name == only {
			out = append(out, t)
		}
	}
	if only != "" && len(out) == 0 {
		return nil, fmt.Errorf("%w: no tenant %q in this ledger", clawtrail.ErrNotFound, only)
	}
	return out, rows.Err()
}

// loadVerifyInputs gives the verifier a tenant's checkpoints (history,
// latest, remembered, witnessed) and stored tiles, and returns the tree size
// its tree state records (-1: none).
func loadVerifyInputs(ctx context.Context, tx *sql.Tx, v *ledger.Verifier, tid int64, opts VerifyOptions, tenant string) (int64, error) {
	var in []ledger.CheckpointInput
	hist, err := readCheckpoints(ctx, tx, tid)
	if err != nil {
		return 0, err
	}
	cosigs, err := readCosignatures(ctx, tx, tid)
	if err != nil {
		return 0, err
	}
	var witnessed []byte
	for _, c := range hist {
		in = append(in, ledger.CheckpointInput{Note: []byte(c.Note), Source: "history", CreatedAt: c.CreatedAt})
		if lines := cosigs[c.Size]; len(lines) > 0 {
			witnessed = []byte(c.Note + strings.Join(lines, ""))
		}
	}
	treeSize := int64(-1)
	var latest string
	err = tx.QueryRowContext(ctx, `SELECT size, checkpoint FROM trees WHERE tid=?`, tid).Scan(&treeSize, &latest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		treeSize = -1
	case err != nil:
		return 0, err
	default:
		in = append(in, ledger.CheckpointInput{Note: []byte(latest), Source: "latest"})
	}
	if r := opts.Remembered[tenant]; r != nil {
		in = append(in, ledger.CheckpointInput{Note: r, Source: "remembered"})
	}
	if opts.Witnesses > 0 {
		if witnessed == nil {
			v.Fail(ledger.Finding{Seq: -1, SeqEnd: -1, Kind: ledger.KindWitness, Message: "no checkpoint of this tenant carries a witness cosignature"})
		} else {
			in = append(in, ledger.CheckpointInput{Note: witnessed, Source: "witnessed"})
		}
	}
	v.Checkpoints(in)
	if opts.Witnesses > 0 && witnessed != nil {
		v.RequireWitnesses(witnessed, opts.Witnesses)
	}
	tiles := map[[2]uint64][]byte{}
	rows, err := tx.QueryContext(ctx, `SELECT level, idx, hashes FROM tiles WHERE tid=?`, tid)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var l, i uint64
		var h []byte
		if err := rows.Scan(&l, &i, &h); err != nil {
			return 0, err
		}
		tiles[[2]uint64{l, i}] = h
	}
	v.Tiles(tiles)
	return treeSize, rows.Err()
}

func readCosignatures(ctx context.Context, db queryer, tid int64) (map[uint64][]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT size, line FROM cosignatures WHERE tid=? ORDER BY size, created_at`, tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint64][]string{}
	for rows.Next() {
		var size uint64
		var line string
		if err := rows.Scan(&size, &line); err != nil {
			return nil, err
		}
		out[size] = append(out[size], line)
	}
	return out, rows.Err()
}

func openIndexReader(dir string) (*sql.DB, error) {
	path := filepath.Join(dir, "index.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no search index (%s): it is rebuilt when the server starts", path)
	}
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout(10000)", "query_only(1)", mmapPragma))
	if err != nil {
		return nil, err
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ix_tenants`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("search index unreadable: %v", err)
	}
	return db, nil
}

// scanRange selects the records of [lo, hi) of some order: rowids for the
// whole table, seqs for one tenant.
type scanRange func(lo, hi int64) (query string, args []any)

// scanChunk is how many keys one read of scan covers.
const scanChunk = 2048

// scan reads the records of [0, end) in chunks, one reader goroutine
// per connection taking chunks in turn, each also hashing what it read
// (body commitment and leaf), and calls fn with every record in order. On
// two cores the readers and the caller's tree work share the machine; the
// SQLite scan (~5 µs a row through modernc) is what bounds it.
func scan(ctx context.Context, dbs []queryer, names map[int64]string, end, chunk int64, sel scanRange, hash bool, open opener, fn func(tid int64, rec *ledger.Record)) error {
	type row struct {
		tid int64
		rec ledger.Record
	}
	type batch struct {
		rows []row
		err  error
	}
	w := len(dbs)
	outs := make([]chan batch, w)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range dbs {
		outs[i] = make(chan batch, 2)
		go func(i int) {
			defer close(outs[i])
			var buf []byte
			pk := &packs{db: dbs[i]} // in the rows' snapshot where dbs[i] is a transaction
			defer pk.close()
			for lo := int64(i) * chunk; lo < end; lo += int64(w) * chunk {
				b := batch{rows: make([]row, 0, min(chunk, scanChunk))}
				b.err = func() error {
					q, args := sel(lo, min(lo+chunk, end))
					rows, err := dbs[i].QueryContext(ctx, q, args...)
					if err != nil {
						return err
					}
					defer rows.Close()
					// Byte columns are scanned as RawBytes and copied into
					// one arena per chunk: a few allocations per chunk
					// instead of four per row.
					var bc, lh, salt, body sql.RawBytes
					var dk sql.NullInt64
					var arena []byte
					keep := func(raw sql.RawBytes) []byte {
						if raw == nil {
							return nil
						}
						if len(arena)+len(raw) > cap(arena) {
							arena = make([]byte, 0, max(256<<10, len(raw)))
						}
						arena = append(arena, raw...)
						return arena[len(arena)-len(raw) : len(arena) : len(arena)]
					}
					for rows.Next() {
						var r row
						if err := rows.Scan(&r.tid, &r.rec.Seq, &r.rec.ID, &r.rec.ReceivedAt, &r.rec.Type, &r.rec.KeyID, &bc, &lh, &salt, &body, &dk); err != nil {
							return err
						}
						r.rec.LeafHash, r.rec.Salt, r.rec.Body = keep(lh), keep(salt), keep(body)
						fixRecord(&r.rec, bc)
						if dk.Valid && open != nil {
							if err := open(r.tid, dk.Int64, &r.rec); err != nil {
								return err
							}
						} else if !dk.Valid && isPacked(r.rec.Body) {
							if err := unpackRecord(ctx, pk, r.tid, &r.rec); err != nil {
								return err
							}
						}
						if hash {
							buf = r.rec.Prehash(names[r.tid], buf)
						}
						b.rows = append(b.rows, r)
						if w == 1 && len(b.rows) == scanChunk {
							// One reader over one long range: hand over
							// batches as they fill, in bounded memory.
							select {
							case outs[i] <- b:
							case <-ctx.Done():
								return ctx.Err()
							}
							b = batch{rows: make([]row, 0, scanChunk)}
						}
					}
					return rows.Err()
				}()
				select {
				case outs[i] <- b:
				case <-ctx.Done():
					return
				}
				if b.err != nil {
					return
				}
			}
		}(i)
	}
	if w == 1 {
		for b := range outs[0] {
			if b.err != nil {
				return b.err
			}
			for i := range b.rows {
				fn(b.rows[i].tid, &b.rows[i].rec)
			}
		}
		return ctx.Err()
	}
	for c := int64(0); c*chunk < end; c++ {
		b, ok := <-outs[c%int64(w)]
		if !ok {
			return ctx.Err()
		}
		if b.err != nil {
			return b.err
		}
		for i := range b.rows {
			fn(b.rows[i].tid, &b.rows[i].rec)
		}
	}
	return nil
}

// reorderer hands a tenant's records to the verifier in seq order: rows read
// in commit order are in seq order unless someone moved them, and then the
// verifier should see them where their seq puts them. It holds at most
// maxHeld records out of order; past that, the gap is the verifier's to report.
type reorderer struct {
	next int64
	held map[int64]*ledger.Record
	add_ func(*ledger.Record)
}

const maxHeld = 10000

func newReorderer(fn func(*ledger.Record)) *reorderer {
	return &reorderer{held: map[int64]*ledger.Record{}, add_: fn}
}

func (o *reorderer) add(rec *ledger.Record) {
	if rec.Seq != o.next || len(o.held) > 0 {
		if rec.Seq >= o.next {
			if _, dup := o.held[rec.Seq]; !dup {
				cp := *rec
				o.held[rec.Seq] = &cp
				o.drain(false)
				return
			}
		}
		o.add_(rec) // a seq seen before: the verifier reports it
		return
	}
	o.add_(rec)
	o.next++
}

// drain passes on the held records that are now in order; with all (or when
// too many are held) it passes on the smallest regardless of gaps.
func (o *reorderer) drain(all bool) {
	for len(o.held) > 0 {
		if r, ok := o.held[o.next]; ok {
			delete(o.held, o.next)
			o.add_(r)
			o.next++
			continue
		}
		if !all && len(o.held) <= maxHeld {
			return
		}
		low := int64(-1)
		for seq := range o.held {
			if low < 0 || seq < low {
				low = seq
			}
		}
		o.next = low
	}
}

func (o *reorderer) flush() { o.drain(true) }

func treesWithoutTenant(ctx context.Context, db queryer) (map[int64]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT tid FROM trees WHERE tid NOT IN (SELECT tid FROM tenants)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var tid int64
		if err := rows.Scan(&tid); err != nil {
			return nil, err
		}
		out[tid] = true
	}
	return out, rows.Err()
}

func hasTenant(ts []tenantRow, name string) bool {
	for _, t := range ts {
		if t.name == name {
			return true
		}
	}
	return false
}

func firstLine(note []byte) string {
	lines := strings.SplitN(string(note), "\n", 3)
	if len(lines) >= 2 {
		return "checkpoint of size " + lines[1]
	}
	return "a checkpoint"
}

// readDeletions reads a tenant's tombstones and configuration changes (a
// partial index holds them) for the verifier's deletion checks.
func readDeletions(ctx context.Context, db queryer, tid int64, open opener) (*ledger.Deletions, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+leafColumns+` FROM events WHERE tid=? AND type IN ('tombstone', 'config_change') ORDER BY seq`, tid)
	if err != nil {
		return nil, fmt.Errorf("read tombstones: %w", err)
	}
	defer rows.Close()
	var recs []*ledger.Record
	pk := &packs{db: db}
	defer pk.close()
	for rows.Next() {
		rec := &ledger.Record{}
		if err := scanRecord(ctx, rows, rec, tid, open, pk); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ledger.NewDeletions(recs), nil
}

// ReadSpecial calls fn with a tenant's tombstones and config changes below
// seq to, in seq order: what a verifier needs before the events to judge
// deletions (ledger.NewDeletions).
func (s *Store) ReadSpecial(ctx context.Context, tenant string, to int64, fn func(*ledger.Record) error) error {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return nil
	}
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT `+leafColumns+` FROM events WHERE tid=? AND type IN ('tombstone', 'config_change') AND seq < ? ORDER BY seq`, tid, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	open, pk := s.opener(ctx), &packs{db: conn}
	defer pk.close()
	for rows.Next() {
		var rec ledger.Record
		if err := scanRecord(ctx, rows, &rec, tid, open, pk); err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return rows.Err()
}
