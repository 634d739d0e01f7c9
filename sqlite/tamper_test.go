package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/ledger"
)

// The tamper suite: a ledger is written by the store, closed, and then
// edited directly in ledger.db (or index.db) the way an attacker with file
// access would; VerifyDir must name the right kind of damage at the right
// seq, and leave the other tenant clean.

const (
	tamperEvents = 600 // acme's events, in commits of tamperPer
	tamperPer    = 100
	otherEvents  = 50 // the second tenant's, in commits of 25
)

// tamperLedger is a freshly written, closed ledger ready to be damaged.
type tamperLedger struct {
	dir      string
	acme     int64  // tid of "acme"
	other    int64  // tid of "other"
	logName  string // the log (and signing key) name
	vkey     string // the store's public key
	cp       []byte // acme's latest checkpoint before tampering
	bundle   []byte // an evidence bundle of acme's seqs bundleSeqs
	bundleAt uint64 // the tree size the bundle is proven against
}

var bundleSeqs = []int64{5, 77, 300}

// openTamperStore opens a store whose checkpoint history keeps a checkpoint
// of every commit when interval is tiny (the default keeps one a second).
func openTamperStore(t *testing.T, dir string, interval time.Duration) *Store {
	t.Helper()
	// Bodies in their rows: these cases damage rows; packed bodies have
	// their own (TestTamperPacks).
	s, err := Open(context.Background(), Config{Dir: dir, CheckpointInterval: interval, InlineBodies: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// newTamperLedger writes 600 events for acme (six commits) and 50 for
// other, waits for the search index, builds a bundle, closes the store and
// checks the untouched ledger verifies clean. interval 0 keeps the default
// checkpoint interval (one history checkpoint a second: here, the first
// commit's); time.Nanosecond keeps one per commit.
func newTamperLedger(t *testing.T, interval time.Duration) *tamperLedger {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s := openTamperStore(t, dir, interval)
	appendN(t, s, "acme", tamperEvents/2, tamperPer)
	appendN(t, s, "other", otherEvents/2, 25)
	// The second half numbers its events from 0 again in the command text
	// (appendN counts per call): bodies stay distinct by session and seq.
	appendN(t, s, "acme", tamperEvents/2, tamperPer)
	appendN(t, s, "other", otherEvents/2, 25)
	for _, tenant := range []string{"acme", "other"} {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.WaitIndexed(wctx, tenant, s.Head(tenant)-1)
		cancel()
		if err != nil {
			t.Fatalf("WaitIndexed(%s): %v", tenant, err)
		}
	}
	l := &tamperLedger{dir: dir, logName: s.LogName(), vkey: s.signer.VKey()}
	l.acme, _ = s.tenantID("acme")
	l.other, _ = s.tenantID("other")
	var err error
	if l.cp, err = s.Checkpoint(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	l.bundle, l.bundleAt = makeBundle(t, s, "acme", bundleSeqs)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	reps := verifyDir(t, dir, VerifyOptions{})
	for _, tenant := range []string{"acme", "other"} {
		rep := reps[tenant]
		if rep == nil || !rep.OK() {
			t.Fatalf("the untouched ledger does not verify clean (%s): %s", tenant, findingsOf(rep))
		}
	}
	if reps["acme"].Size != tamperEvents || reps["other"].Size != otherEvents {
		t.Fatalf("untouched sizes acme %d other %d, want %d %d", reps["acme"].Size, reps["other"].Size, tamperEvents, otherEvents)
	}
	return l
}

// makeBundle builds an evidence bundle of a tenant's seqs against its
// latest checkpoint, as GET /v1/bundle does.
func makeBundle(t *testing.T, s *Store, tenant string, seqs []int64) ([]byte, uint64) {
	t.Helper()
	ctx := context.Background()
	note, err := s.Checkpoint(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lps, size, err := s.LeafProofs(ctx, tenant, seqs, 0)
	if err != nil {
		t.Fatalf("LeafProofs: %v", err)
	}
	var b bytes.Buffer
	bw, err := ledger.NewBundleWriter(&b, ledger.BundleHeader{Tenant: tenant, Origin: s.Origin(tenant),
		Checkpoint: string(note), SigningKeys: keys, CreatedAt: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for _, lp := range lps {
		proof := lp.Proof
		if proof == nil {
			proof = [][]byte{}
		}
		if err := bw.Add(&ledger.BundleEvent{Seq: lp.Seq, Leaf: lp.Leaf, Salt: lp.Salt, Proof: proof, Event: lp.Body}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), size
}

// db opens ledger.db (or another file of the data directory) directly.
func (l *tamperLedger) db(t *testing.T, file string) *sql.DB {
	t.Helper()
	return openFile(t, filepath.Join(l.dir, file))
}

// exec runs the attacker's statements on ledger.db.
func (l *tamperLedger) exec(t *testing.T, stmts ...string) {
	t.Helper()
	db := l.db(t, "ledger.db")
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) sql.Result {
	t.Helper()
	res, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 && !strings.HasPrefix(q, "DELETE FROM signing_keys") {
		t.Fatalf("%s %v: changed no row", q, args)
	}
	return res
}

// verify runs VerifyDir and returns acme's report, checking that other's is
// clean (its checkpoints were not touched, or were re-signed consistently).
func (l *tamperLedger) verify(t *testing.T, opts VerifyOptions) *ledger.Report {
	t.Helper()
	reps := verifyDir(t, l.dir, opts)
	if o := reps["other"]; o == nil || !o.OK() {
		t.Fatalf("tenant other should stay clean: %s", findingsOf(o))
	}
	rep := reps["acme"]
	if rep == nil {
		t.Fatal("no report for acme")
	}
	t.Logf("acme: %s", findingsOf(rep))
	return rep
}

func findingsOf(r *ledger.Report) string {
	if r == nil {
		return "<no report>"
	}
	if len(r.Findings) == 0 {
		return "no findings"
	}
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n  [%s seq %d..%d] %s", f.Kind, f.Seq, f.SeqEnd, f.Message)
	}
	return b.String()
}

// hasFinding reports whether r has a finding of kind starting at seq.
func hasFinding(r *ledger.Report, kind string, seq int64) bool {
	for _, f := range r.Findings {
		if f.Kind == kind && f.Seq == seq {
			return true
		}
	}
	return false
}

// covers reports whether r has a finding of kind whose range holds seq.
func covers(r *ledger.Report, kind string, seq int64) bool {
	for _, f := range r.Findings {
		if f.Kind == kind && f.Seq <= seq && seq <= max(f.SeqEnd, f.Seq) {
			return true
		}
	}
	return false
}

func wantFinding(t *testing.T, r *ledger.Report, kind string, seq int64) {
	t.Helper()
	if !hasFinding(r, kind, seq) {
		t.Fatalf("want a %s finding at seq %d, got:%s", kind, seq, findingsOf(r))
	}
}

// wantNo fails when r has any finding of kind (a misclassification).
func wantNo(t *testing.T, r *ledger.Report, kinds ...string) {
	t.Helper()
	for _, f := range r.Findings {
		for _, k := range kinds {
			if f.Kind == k {
				t.Fatalf("unexpected %s finding (misclassified damage):%s", k, findingsOf(r))
			}
		}
	}
}

// wantOnly fails when r has a finding of a kind not listed.
func wantOnly(t *testing.T, r *ledger.Report, kinds ...string) {
	t.Helper()
outer:
	for _, f := range r.Findings {
		for _, k := range kinds {
			if f.Kind == k {
				continue outer
			}
		}
		t.Fatalf("unexpected %s finding, want only %v:%s", f.Kind, kinds, findingsOf(r))
	}
}

// overlapping describes two findings of the same kind whose seq ranges
// overlap (the same damage reported twice), or returns "".
func overlapping(r *ledger.Report) string {
	for i, a := range r.Findings {
		for _, b := range r.Findings[i+1:] {
			if a.Kind == b.Kind && a.Seq >= 0 && b.Seq >= 0 && a.Seq <= b.SeqEnd && b.Seq <= a.SeqEnd {
				return fmt.Sprintf("%s %d..%d and %d..%d", a.Kind, a.Seq, a.SeqEnd, b.Seq, b.SeqEnd)
			}
		}
	}
	return ""
}

// storedRow is one stored row's body, salt, hash and leaf columns.
type storedRow struct {
	body, salt, bodyCommit, leafHash []byte
	id, typ, keyID                   string
	receivedAt                       int64
}

func readRow(t *testing.T, db *sql.DB, tid, seq int64) storedRow {
	t.Helper()
	var r storedRow
	err := db.QueryRow(`SELECT body, salt, body_commit, leaf_hash, id, type, key_id, received_at FROM events WHERE tid=? AND seq=?`, tid, seq).
		Scan(&r.body, &r.salt, &r.bodyCommit, &r.leafHash, &r.id, &r.typ, &r.keyID, &r.receivedAt)
	if err != nil {
		t.Fatalf("read seq %d: %v", seq, err)
	}
	return r
}

// flipBodyByte changes one byte inside the command text of a body.
func flipBodyByte(t *testing.T, body []byte) []byte {
	t.Helper()
	i := bytes.Index(body, []byte(`echo `))
	if i < 0 {
		t.Fatalf("no command in body %s", body)
	}
	out := bytes.Clone(body)
	out[i] = 'E' // "echo" → "Echo": one byte
	return out
}

func leafHashOf(tenant string, seq int64, r storedRow, bodyCommit [32]byte) [32]byte {
	l := ledger.Leaf{Tenant: tenant, ID: r.id, Seq: uint64(seq), ReceivedAt: r.receivedAt, Type: r.typ, KeyID: r.keyID, BodyCommit: bodyCommit}
	return ledger.LeafHash(l.Append(nil))
}

// parseNote splits a checkpoint note's text: origin, size, root.
func parseNote(t *testing.T, note string) (string, uint64, [32]byte) {
	t.Helper()
	text, _, ok := strings.Cut(note, "\n\n")
	lines := strings.Split(text, "\n")
	if !ok || len(lines) != 3 {
		t.Fatalf("not a checkpoint: %q", note)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	root, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || err2 != nil || len(root) != 32 {
		t.Fatalf("not a checkpoint: %q", note)
	}
	return lines[0], size, [32]byte(root)
}

// corruptSignature changes one base64 character of the note's signature,
// past its key hash (so the key is still recognized).
func corruptSignature(t *testing.T, note string) string {
	t.Helper()
	i := strings.LastIndex(note, " ")
	if i < 0 || len(note) < i+30 {
		t.Fatalf("no signature in %q", note)
	}
	j := i + 1 + 20
	c := byte('A')
	if note[j] == 'A' {
		c = 'B'
	}
	return note[:j] + string(c) + note[j+1:]
}

// storeSigner is the signer of the store's own key (DIR/signing.key): what
// an operator holding the key could use.
func (l *tamperLedger) storeSigner(t *testing.T) *ledger.Signer {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(l.dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ledger.NewSigner(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// freshSigner is a new key with the log's name: what an attacker without
// the key could make.
func (l *tamperLedger) freshSigner(t *testing.T) (*ledger.Signer, string) {
	t.Helper()
	skey, vkey, err := ledger.GenerateSigningKey(l.logName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ledger.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func resign(t *testing.T, signer *ledger.Signer, note string) string {
	t.Helper()
	origin, size, root := parseNote(t, note)
	out, err := signer.Sign(origin, size, root)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// resignAll re-signs every checkpoint of every tenant (latest and history)
// with signer and makes its key the only one in the key history.
func resignAll(t *testing.T, db *sql.DB, signer *ledger.Signer) {
	t.Helper()
	type row struct {
		tid, size int64
		note      string
	}
	collect := func(q string) []row {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.tid, &r.size, &r.note); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	for _, r := range collect(`SELECT tid, size, checkpoint FROM trees`) {
		mustExec(t, db, `UPDATE trees SET checkpoint=? WHERE tid=?`, resign(t, signer, r.note), r.tid)
	}
	for _, r := range collect(`SELECT tid, size, note FROM checkpoints`) {
		mustExec(t, db, `UPDATE checkpoints SET note=? WHERE tid=? AND size=?`, resign(t, signer, r.note), r.tid, r.size)
	}
	mustExec(t, db, `DELETE FROM signing_keys`)
	mustExec(t, db, `INSERT INTO signing_keys(vkey, valid_from) VALUES (?, ?)`, signer.VKey(), time.Now().UnixNano())
}

// rewriteEvent changes the body of tenant's event at seq and everything that
// depends on it so that the ledger is self-consistent: body_commit,
// leaf_hash, the tiles, the tree state and every checkpoint (re-signed by
// signer, which must bear the log's name). Only a checkpoint kept outside
// the data directory (or a pinned key) can tell.
func (l *tamperLedger) rewriteEvent(t *testing.T, db *sql.DB, tid int64, tenant string, seq int64, signer *ledger.Signer) {
	t.Helper()
	r := readRow(t, db, tid, seq)
	body := flipBodyByte(t, r.body)
	bc := ledger.BodyCommit(r.salt, body)
	lh := leafHashOf(tenant, seq, r, bc)
	mustExec(t, db, `UPDATE events SET body=?, body_commit=?, leaf_hash=? WHERE tid=? AND seq=?`, body, bc[:], lh[:StoredLeafPrefix], tid, seq)

	// Rebuild the tree from the rows' leaf hashes.
	hist := map[uint64][32]byte{}
	rows, err := db.Query(`SELECT size FROM checkpoints WHERE tid=?`, tid)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var size uint64
		rows.Scan(&size)
		hist[size] = [32]byte{}
	}
	rows.Close()
	rows, err = db.Query(`SELECT `+leafHashColumns+` FROM events WHERE tid=? ORDER BY seq`, tid)
	if err != nil {
		t.Fatal(err)
	}
	tree := ledger.NewTree()
	tiles := map[[2]uint64][]byte{}
	var buf []byte
	for rows.Next() {
		_, h, err := scanLeafHash(rows, tenant, &buf)
		if err != nil {
			t.Fatal(err)
		}
		tree.Append(h[:], func(level uint, index uint64, hash []byte) {
			if level == 0 || level%ledger.TileHeight != 0 {
				return
			}
			key := [2]uint64{uint64(level / ledger.TileHeight), index / ledger.TileWidth}
			tiles[key] = append(tiles[key], hash...)
		})
		if _, ok := hist[tree.Size()]; ok {
			hist[tree.Size()] = tree.Root()
		}
	}
	rows.Close()
	mustExec(t, db, `DELETE FROM tiles WHERE tid=?`, tid)
	for k, h := range tiles {
		mustExec(t, db, `INSERT INTO tiles(tid, level, idx, hashes) VALUES (?,?,?,?)`, tid, k[0], k[1], h)
	}
	origin := ledger.Origin(l.logName, tenant)
	sign := func(size uint64, root [32]byte) string {
		n, err := signer.Sign(origin, size, root)
		if err != nil {
			t.Fatal(err)
		}
		return string(n)
	}
	var compact []byte
	for _, h := range tree.Hashes() {
		compact = append(compact, h...)
	}
	mustExec(t, db, `UPDATE trees SET size=?, compact=?, checkpoint=? WHERE tid=?`, int64(tree.Size()), compact, sign(tree.Size(), tree.Root()), tid)
	for size, root := range hist {
		mustExec(t, db, `UPDATE checkpoints SET note=? WHERE tid=? AND size=?`, sign(size, root), tid, int64(size))
	}
}

func TestTamper(t *testing.T) {
	t.Run("BodyByte", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		db := l.db(t, "ledger.db")
		r := readRow(t, db, l.acme, 123)
		mustExec(t, db, `UPDATE events SET body=? WHERE tid=? AND seq=123`, flipBodyByte(t, r.body), l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindModified, 123)
		wantOnly(t, rep, ledger.KindModified)
	})

	t.Run("DeleteMiddle", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		l.exec(t, fmt.Sprintf(`DELETE FROM events WHERE tid=%d AND seq=200`, l.acme))
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindMissing, 200)
		wantNo(t, rep, ledger.KindTruncated, ledger.KindInserted, ledger.KindReordered)
	})

	t.Run("InsertAtEnd", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		l.exec(t, fmt.Sprintf(`INSERT INTO events(tid, seq, id, received_at, type, key_id, body_commit, leaf_hash, req_hash, salt, body)
			SELECT tid, 600, 'forged-600', received_at, type, key_id, body_commit, leaf_hash, req_hash, salt, body FROM events WHERE tid=%d AND seq=599`, l.acme))
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindInserted, 600)
		wantNo(t, rep, ledger.KindMissing, ledger.KindTruncated, ledger.KindRolledBack)
	})

	t.Run("InsertAtEndWithFreshLeafHash", func(t *testing.T) {
		// A forged row whose leaf_hash is correct for its own fields: only
		// the signed checkpoint (which does not cover it) tells.
		l := newTamperLedger(t, 0)
		db := l.db(t, "ledger.db")
		r := readRow(t, db, l.acme, 599)
		r.id = "forged-600"
		lh := leafHashOf("acme", 600, r, [32]byte(r.bodyCommit))
		mustExec(t, db, `INSERT INTO events(tid, seq, id, received_at, type, key_id, body_commit, leaf_hash, req_hash, salt, body)
			SELECT tid, 600, 'forged-600', received_at, type, key_id, body_commit, ?, req_hash, salt, body FROM events WHERE tid=? AND seq=599`, lh[:], l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindInserted, 600)
		wantOnly(t, rep, ledger.KindInserted)
	})

	t.Run("SwapRows", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		q := func(from, to int) string {
			return fmt.Sprintf(`UPDATE events SET seq=%d WHERE tid=%d AND seq=%d`, to, l.acme, from)
		}
		l.exec(t, q(300, -1), q(301, 300), q(-1, 301))
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindReordered, 300)
		wantFinding(t, rep, ledger.KindReordered, 301)
		wantNo(t, rep, ledger.KindMissing, ledger.KindTruncated, ledger.KindInserted)
	})

	t.Run("TruncateTail", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		l.exec(t, fmt.Sprintf(`DELETE FROM events WHERE tid=%d AND seq>=590`, l.acme))
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindTruncated, 590)
		// The index still holds the deleted seqs: that is reported too.
		wantOnly(t, rep, ledger.KindTruncated, ledger.KindIndex)
	})

	t.Run("RollbackLatestCheckpoint", func(t *testing.T) {
		l := newTamperLedger(t, time.Nanosecond)
		db := l.db(t, "ledger.db")
		var n int
		db.QueryRow(`SELECT count(*) FROM checkpoints WHERE tid=?`, l.acme).Scan(&n)
		if n < 3 {
			t.Fatalf("the history holds %d checkpoints, want one per commit", n)
		}
		mustExec(t, db, `UPDATE trees SET checkpoint = (SELECT note FROM checkpoints WHERE tid=? ORDER BY size LIMIT 1) WHERE tid=?`, l.acme, l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindRolledBack, -1)
		wantOnly(t, rep, ledger.KindRolledBack)
	})

	t.Run("RollbackLatestAndHistory", func(t *testing.T) {
		// The attacker also deletes the newer history: the tree state's size
		// still tells.
		l := newTamperLedger(t, time.Nanosecond)
		db := l.db(t, "ledger.db")
		mustExec(t, db, `UPDATE trees SET checkpoint = (SELECT note FROM checkpoints WHERE tid=? ORDER BY size LIMIT 1) WHERE tid=?`, l.acme, l.acme)
		mustExec(t, db, `DELETE FROM checkpoints WHERE tid=? AND size > (SELECT min(size) FROM checkpoints WHERE tid=?)`, l.acme, l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindRolledBack, -1)
		wantOnly(t, rep, ledger.KindRolledBack)
	})

	t.Run("RollbackEverything", func(t *testing.T) {
		// A consistent rollback to size 300 (events, tree state, history,
		// index) needs no key: only a remembered checkpoint tells.
		l := newTamperLedger(t, time.Nanosecond)
		db := l.db(t, "ledger.db")
		mustExec(t, db, `DELETE FROM events WHERE tid=? AND seq>=300`, l.acme)
		mustExec(t, db, `UPDATE trees SET size=300, checkpoint=(SELECT note FROM checkpoints WHERE tid=? AND size=300) WHERE tid=?`, l.acme, l.acme)
		mustExec(t, db, `DELETE FROM checkpoints WHERE tid=? AND size>300`, l.acme)
		db.Close()
		ix := l.db(t, "index.db")
		mustExec(t, ix, `DELETE FROM ev WHERE tid=? AND seq>=300`, l.acme)
		mustExec(t, ix, `UPDATE ix_tenants SET next_seq=300 WHERE tid=?`, l.acme)
		// (and the daily counts, or verify's rollup check tells)
		mustExec(t, ix, `UPDATE ix_daily SET n = (SELECT count(*) FROM ev e WHERE e.tid = ix_daily.tid AND e.type = ix_daily.type AND e.ts / 86400000000000 = ix_daily.day) WHERE tid=?`, l.acme)
		ix.Close()
		if rep := l.verify(t, VerifyOptions{}); !rep.OK() {
			t.Fatalf("a consistent rollback is invisible without client memory, got:%s", findingsOf(rep))
		}
		rep := l.verify(t, VerifyOptions{Remembered: map[string][]byte{"acme": l.cp}})
		wantFinding(t, rep, ledger.KindRolledBack, 300)
		wantOnly(t, rep, ledger.KindRolledBack)
	})

	t.Run("BadSignature", func(t *testing.T) {
		l := newTamperLedger(t, time.Nanosecond)
		db := l.db(t, "ledger.db")
		mustExec(t, db, `UPDATE trees SET checkpoint=? WHERE tid=?`, corruptSignature(t, string(l.cp)), l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindBadSignature, -1)
		wantOnly(t, rep, ledger.KindBadSignature)
	})

	t.Run("BadSignatureNoHistory", func(t *testing.T) {
		// With the default interval the history holds only the first
		// commit's checkpoint: the events past it are then covered by no
		// valid checkpoint at all.
		l := newTamperLedger(t, 0)
		db := l.db(t, "ledger.db")
		mustExec(t, db, `UPDATE trees SET checkpoint=? WHERE tid=?`, corruptSignature(t, string(l.cp)), l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindBadSignature, -1)
	})

	t.Run("ForgedCheckpoint", func(t *testing.T) {
		l := newTamperLedger(t, time.Nanosecond)
		signer, _ := l.freshSigner(t)
		if signer.Name() != l.logName {
			t.Fatalf("fresh key named %q, want %q", signer.Name(), l.logName)
		}
		db := l.db(t, "ledger.db")
		mustExec(t, db, `UPDATE trees SET checkpoint=? WHERE tid=?`, resign(t, signer, string(l.cp)), l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindForged, -1)
		wantOnly(t, rep, ledger.KindForged)
	})

	t.Run("ForgedKeyHistoryPinned", func(t *testing.T) {
		// The attacker rewrites an event consistently, re-signs every
		// checkpoint with a key of their own and puts it in signing_keys.
		l := newTamperLedger(t, time.Nanosecond)
		signer, _ := l.freshSigner(t)
		db := l.db(t, "ledger.db")
		l.rewriteEvent(t, db, l.acme, "acme", 123, signer)
		resignAll(t, db, signer)
		db.Close()
		// Trusting the data directory's key history, nothing shows.
		if rep := l.verify(t, VerifyOptions{}); !rep.OK() {
			t.Fatalf("the consistent re-signed rewrite should verify against its own key history, got:%s", findingsOf(rep))
		}
		pinned, err := ledger.NewKeyring(l.vkey)
		if err != nil {
			t.Fatal(err)
		}
		reps := verifyDir(t, l.dir, VerifyOptions{Keys: pinned})
		rep := reps["acme"]
		t.Logf("acme pinned: %s", findingsOf(rep))
		wantFinding(t, rep, ledger.KindForged, -1)
		// Every checkpoint is forged: none may be trusted, so no event is.
		if rep.Checkpoints != 0 {
			t.Fatalf("%d checkpoints trusted, want 0", rep.Checkpoints)
		}
		// other was re-signed too: forged under the pinned key as well.
		if !hasFinding(reps["other"], ledger.KindForged, -1) {
			t.Fatalf("other pinned: %s", findingsOf(reps["other"]))
		}
	})

	t.Run("TileBytes", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		db := l.db(t, "ledger.db")
		var h []byte
		if err := db.QueryRow(`SELECT hashes FROM tiles WHERE tid=? AND level=1 AND idx=0`, l.acme).Scan(&h); err != nil {
			t.Fatal(err)
		}
		if len(h) != 64 {
			t.Fatalf("tile (1, 0) holds %d bytes, want 64 (600 leaves)", len(h))
		}
		for i := 0; i < 32; i++ {
			h[i] ^= 0xff
		}
		mustExec(t, db, `UPDATE tiles SET hashes=? WHERE tid=? AND level=1 AND idx=0`, h, l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindTile, 0)
		for _, f := range rep.Findings {
			if f.Kind == ledger.KindTile && f.Seq == 0 && f.SeqEnd != 255 {
				t.Fatalf("tile finding ends at %d, want 255", f.SeqEnd)
			}
		}
		wantOnly(t, rep, ledger.KindTile)
	})

	t.Run("TileBytesSecondNode", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		db := l.db(t, "ledger.db")
		var h []byte
		db.QueryRow(`SELECT hashes FROM tiles WHERE tid=? AND level=1 AND idx=0`, l.acme).Scan(&h)
		h[40] ^= 1
		mustExec(t, db, `UPDATE tiles SET hashes=? WHERE tid=? AND level=1 AND idx=0`, h, l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindTile, 256)
		wantOnly(t, rep, ledger.KindTile)
	})

	t.Run("StoredLeafHash", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		db := l.db(t, "ledger.db")
		r := readRow(t, db, l.acme, 42)
		r.leafHash[7] ^= 1
		mustExec(t, db, `UPDATE events SET leaf_hash=? WHERE tid=? AND seq=42`, r.leafHash, l.acme)
		db.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindTile, 42)
		wantOnly(t, rep, ledger.KindTile)
	})

	t.Run("LeafColumn", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		l.exec(t, fmt.Sprintf(`UPDATE events SET type='prompt' WHERE tid=%d AND seq=77`, l.acme))
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindModified, 77)
		wantOnly(t, rep, ledger.KindModified)
	})

	t.Run("LeafColumnReceivedAt", func(t *testing.T) {
		l := newTamperLedger(t, time.Nanosecond)
		l.exec(t, fmt.Sprintf(`UPDATE events SET received_at=received_at+1000000000 WHERE tid=%d AND seq=450`, l.acme))
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindModified, 450)
		wantOnly(t, rep, ledger.KindModified)
	})

	t.Run("RewriteWithHashes", func(t *testing.T) {
		// body, body_commit and leaf_hash rewritten together: every
		// row-level check passes; the signed roots do not.
		for _, interval := range []time.Duration{0, time.Nanosecond} {
			t.Run(fmt.Sprint("interval=", interval), func(t *testing.T) {
				l := newTamperLedger(t, interval)
				db := l.db(t, "ledger.db")
				r := readRow(t, db, l.acme, 123)
				body := flipBodyByte(t, r.body)
				bc := ledger.BodyCommit(r.salt, body)
				lh := leafHashOf("acme", 123, r, bc)
				mustExec(t, db, `UPDATE events SET body=?, body_commit=?, leaf_hash=? WHERE tid=? AND seq=123`, body, bc[:], lh[:], l.acme)
				db.Close()
				rep := l.verify(t, VerifyOptions{})
				if !covers(rep, ledger.KindModified, 123) {
					t.Fatalf("want a modified finding covering seq 123, got:%s", findingsOf(rep))
				}
				wantOnly(t, rep, ledger.KindModified)
				first := rep
				rep = l.verify(t, VerifyOptions{Remembered: map[string][]byte{"acme": l.cp}})
				if !covers(rep, ledger.KindModified, 123) && !covers(rep, ledger.KindRewritten, 123) {
					t.Fatalf("with a remembered checkpoint: want modified or rewritten covering 123, got:%s", findingsOf(rep))
				}
				// One damaged event, one window: one finding of each kind.
				if dup := overlapping(first); dup != "" {
					t.Fatal("regression: ledger/verify.go Verifier.check reports the same damaged window again at every second later checkpoint " +
						"(the default case's `break` falls through to `v.explained = false`, line ~350): " + dup)
				}
			})
		}
	})

	t.Run("RewriteWithSigningKey", func(t *testing.T) {
		// The operator, holding the signing key, rewrites seq 123 and
		// everything above it consistently: only client memory tells.
		for _, rememberedSize := range []int64{600, 300} {
			t.Run(fmt.Sprint("remembered=", rememberedSize), func(t *testing.T) {
				l := newTamperLedger(t, time.Nanosecond)
				db := l.db(t, "ledger.db")
				var remembered []byte
				if err := db.QueryRow(`SELECT note FROM checkpoints WHERE tid=? AND size=?`, l.acme, rememberedSize).Scan(&remembered); err != nil {
					t.Fatal(err)
				}
				if rememberedSize == tamperEvents && !bytes.Equal(remembered, l.cp) {
					t.Fatal("the history's newest checkpoint is not the latest")
				}
				l.rewriteEvent(t, db, l.acme, "acme", 123, l.storeSigner(t))
				db.Close()
				if rep := l.verify(t, VerifyOptions{}); !rep.OK() {
					t.Fatalf("a rewrite re-signed with the log's key verifies against it, got:%s", findingsOf(rep))
				}
				rep := l.verify(t, VerifyOptions{Remembered: map[string][]byte{"acme": remembered}})
				wantOnly(t, rep, ledger.KindRewritten)
				if !covers(rep, ledger.KindRewritten, 123) {
					for _, f := range rep.Findings {
						if f.Kind == ledger.KindRewritten && f.SeqEnd < f.Seq {
							t.Fatal(fmt.Sprintf("regression: ledger/verify.go Verifier.check (line ~310, from := v.lastGood): the rewritten finding's range starts at "+
								"the last size the ledger's OWN re-signed checkpoints matched, giving seq %d..%d (inverted, past the damage at 123); "+
								"want a range from the last size a remembered/witnessed checkpoint vouched for (0 here) to %d", f.Seq, f.SeqEnd, rememberedSize-1))
						}
					}
					t.Fatalf("want a rewritten finding covering seq 123, got:%s", findingsOf(rep))
				}
			})
		}
	})

	t.Run("DeletedBodies", func(t *testing.T) {
		// Body and salt cleared together leave the leaf and the tree
		// intact, but no tombstone accounts for the deletion: deleted, and
		// counted. Clearing only one of them is modified.
		l := newTamperLedger(t, 0)
		l.exec(t, fmt.Sprintf(`UPDATE events SET body=NULL, salt=NULL WHERE tid=%d AND seq=10`, l.acme),
			fmt.Sprintf(`UPDATE events SET body=NULL WHERE tid=%d AND seq=11`, l.acme))
		rep := l.verify(t, VerifyOptions{})
		if rep.Pruned != 1 {
			t.Fatalf("pruned %d, want 1", rep.Pruned)
		}
		wantFinding(t, rep, ledger.KindDeleted, 10)
		wantFinding(t, rep, ledger.KindModified, 11)
		wantOnly(t, rep, ledger.KindModified, ledger.KindDeleted)
	})

	t.Run("SwapAcrossCheckpoint", func(t *testing.T) {
		// Two rows on either side of a history checkpoint (size 200), far
		// apart rows too (50 and 450).
		l := newTamperLedger(t, time.Nanosecond)
		q := func(from, to int) string {
			return fmt.Sprintf(`UPDATE events SET seq=%d WHERE tid=%d AND seq=%d`, to, l.acme, from)
		}
		l.exec(t, q(199, -1), q(200, 199), q(-1, 200), q(50, -1), q(450, 50), q(-1, 450))
		rep := l.verify(t, VerifyOptions{})
		for _, seq := range []int64{50, 199, 200, 450} {
			wantFinding(t, rep, ledger.KindReordered, seq)
		}
		wantOnly(t, rep, ledger.KindReordered, ledger.KindModified)
		// Nothing was modified, only moved: every mismatch is explained by
		// the reordered rows.
		for _, f := range rep.Findings {
			if f.Kind == ledger.KindModified {
				t.Fatal(fmt.Sprintf("regression: ledger/verify.go Verifier.check: after a window explained by row-level findings (default case, `break`), "+
					"line ~350 resets v.explained, so the next checkpoint adds a window-level modified finding for damage already reported as reordered: "+
					"modified %d..%d", f.Seq, f.SeqEnd))
			}
		}
	})

	t.Run("TreeSizeRaised", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		l.exec(t, fmt.Sprintf(`UPDATE trees SET size=700 WHERE tid=%d`, l.acme))
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindTruncated, 600)
		wantOnly(t, rep, ledger.KindTruncated)
	})

	t.Run("IndexRowDeleted", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		ix := l.db(t, "index.db")
		mustExec(t, ix, `DELETE FROM ev WHERE tid=? AND seq=321`, l.acme)
		ix.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindIndex, 321)
		wantOnly(t, rep, ledger.KindIndex)
	})

	t.Run("DailyCountAltered", func(t *testing.T) {
		l := newTamperLedger(t, 0)
		if rep := l.verify(t, VerifyOptions{}); !rep.OK() {
			t.Fatalf("clean ledger:%s", findingsOf(rep))
		}
		ix := l.db(t, "index.db")
		mustExec(t, ix, `UPDATE ix_daily SET n = n + 5 WHERE tid = ? AND (day, type) = (SELECT day, type FROM ix_daily WHERE tid = ? ORDER BY day, type LIMIT 1)`, l.acme, l.acme)
		ix.Close()
		rep := l.verify(t, VerifyOptions{})
		wantFinding(t, rep, ledger.KindIndex, -1)
		wantOnly(t, rep, ledger.KindIndex)
		if f := findingsOf(rep); !strings.Contains(f, "daily count") {
			t.Fatalf("want the daily count named, got:%s", f)
		}
	})

	t.Run("Bundle", testTamperBundle)
}

func testTamperBundle(t *testing.T) {
	l := newTamperLedger(t, 0)
	b := l.bundle
	pinned, err := ledger.NewKeyring(l.vkey)
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range []*ledger.Keyring{nil, pinned} {
		rep, err := ledger.VerifyBundle(bytes.NewReader(b), keys)
		if err != nil || !rep.OK() || rep.Events != int64(len(bundleSeqs)) || rep.Size != l.bundleAt {
			t.Fatalf("clean bundle (pinned %v): %v %+v", keys != nil, err, rep)
		}
	}
	lines := func(b []byte) [][]byte { return bytes.SplitAfter(b, []byte("\n")) }
	// lineOf returns the index of the bundle line of seq.
	lineOf := func(ls [][]byte, seq int64) int {
		for i, ln := range ls[1:] {
			var e ledger.BundleEvent
			if json.Unmarshal(ln, &e) == nil && e.Seq == seq && len(e.Leaf) > 0 {
				return i + 1
			}
		}
		t.Fatalf("no line for seq %d", seq)
		return 0
	}
	encode := func(v any) []byte {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	check := func(name, kind string, seq int64, keys *ledger.Keyring, edit func([]byte) []byte) {
		t.Run(name, func(t *testing.T) {
			tampered := edit(bytes.Clone(b))
			if bytes.Equal(tampered, b) && keys == pinned {
				t.Fatal("the edit changed nothing")
			}
			rep, err := ledger.VerifyBundle(bytes.NewReader(tampered), keys)
			if err != nil {
				t.Fatalf("VerifyBundle: %v", err)
			}
			t.Logf("bundle: %s", findingsOf(rep))
			wantFinding(t, rep, kind, seq)
		})
	}
	for _, seq := range bundleSeqs {
		check(fmt.Sprint("body byte seq ", seq), ledger.KindModified, seq, pinned, func(b []byte) []byte {
			ls := lines(b)
			i := lineOf(ls, seq)
			j := bytes.Index(ls[i], []byte(`echo `))
			if j < 0 {
				t.Fatalf("no command in %s", ls[i])
			}
			ls[i][j] = 'E'
			return bytes.Join(ls, nil)
		})
	}
	check("no end line", ledger.KindTruncated, -1, pinned, func(b []byte) []byte {
		ls := lines(b)
		return bytes.Join(ls[:len(ls)-2], nil) // the last element is empty
	})
	check("proof hash", ledger.KindModified, 77, pinned, func(b []byte) []byte {
		ls := lines(b)
		i := lineOf(ls, 77)
		var e ledger.BundleEvent
		if err := json.Unmarshal(ls[i], &e); err != nil || len(e.Proof) == 0 {
			t.Fatalf("event line: %v", err)
		}
		e.Proof[len(e.Proof)/2][3] ^= 1
		ls[i] = encode(e)
		return bytes.Join(ls, nil)
	})
	checkSig := func(name string, keys *ledger.Keyring) {
		check(name, ledger.KindBadSignature, -1, keys, func(b []byte) []byte {
			ls := lines(b)
			var h ledger.BundleHeader
			if err := json.Unmarshal(ls[0], &h); err != nil {
				t.Fatal(err)
			}
			h.Checkpoint = corruptSignature(t, h.Checkpoint)
			ls[0] = encode(h)
			return bytes.Join(ls, nil)
		})
	}
	checkSig("checkpoint signature pinned", pinned)
	checkSig("checkpoint signature bundled key", nil)
	other, err := ledger.NewKeyring(func() string { _, v := l.freshSigner(t); return v }())
	if err != nil {
		t.Fatal(err)
	}
	check("pinned other key", ledger.KindForged, -1, other, func(b []byte) []byte { return b })
	check("re-signed with the bundled key replaced", ledger.KindForged, -1, pinned, func(b []byte) []byte {
		// The attacker re-signs the checkpoint and ships their own key.
		signer, vkey := l.freshSigner(t)
		ls := lines(b)
		var h ledger.BundleHeader
		if err := json.Unmarshal(ls[0], &h); err != nil {
			t.Fatal(err)
		}
		h.Checkpoint = resign(t, signer, h.Checkpoint)
		h.SigningKeys = []ledger.KeyInfo{{VKey: vkey, ValidFrom: time.Now().UTC()}}
		ls[0] = encode(h)
		return bytes.Join(ls, nil)
	})
}
