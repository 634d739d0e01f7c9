package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
	"golang.org/x/mod/sumdb/tlog"
)

// appendN stores n events for tenant in requests of per events.
func appendN(t testing.TB, s *Store, tenant string, n, per int) {
	t.Helper()
	for done := 0; done < n; {
		var b strings.Builder
		for i := 0; i < per && done < n; i++ {
			fmt.Fprintf(&b, `{"type":"tool_call","tool":"exec","session_id":"s%d","arguments":{"cmd":"echo %d"}}`+"\n", done%7, done)
			done++
		}
		if _, err := s.Append(context.Background(), tenant, "k1", decode(t, b.String())); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func verifyDir(t *testing.T, dir string, opts VerifyOptions) map[string]*ledger.Report {
	t.Helper()
	reps, err := VerifyDir(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("VerifyDir: %v", err)
	}
	out := map[string]*ledger.Report{}
	for _, r := range reps {
		out[r.Tenant] = r
	}
	return out
}

// tlogHashes adapts stored leaf hashes to x/mod's tlog, an independent
// implementation of the same RFC 6962 tree.
type tlogHashes []tlog.Hash

func (h tlogHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, j := range idx {
		out[i] = h[j]
	}
	return out, nil
}

func TestTreeProofsMatchTlog(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	// Several commits of odd sizes, so tiles fill partially and across
	// commits, and 2 levels of tiles exist (> 256·256 would be slow; 700
	// leaves give full and partial level-1 tiles).
	for _, n := range []int{1, 2, 5, 250, 13, 300, 129} {
		appendN(t, s, "acme", n, 97)
	}
	size := s.TreeSize("acme")
	if size != 700 {
		t.Fatalf("tree size %d, want 700", size)
	}
	// Rebuild the tree independently with x/mod's tlog from the leaf records.
	var stored tlogHashes
	var recs [][]byte
	err := s.ReadLedger(context.Background(), "acme", 0, 700, func(r *ledger.Record) error {
		l := ledger.Leaf{Tenant: "acme", ID: r.ID, Seq: uint64(r.Seq), ReceivedAt: r.ReceivedAt, Type: r.Type, KeyID: r.KeyID, BodyCommit: r.BodyCommit}
		recs = append(recs, l.Append(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		hs, err := tlog.StoredHashes(int64(i), rec, stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	cp, err := s.Checkpoint(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := ledger.NewKeyring(s.signer.VKey())
	c, err := ledger.OpenCheckpoint(cp, s.Origin("acme"), keys)
	if err != nil {
		t.Fatalf("OpenCheckpoint: %v", err)
	}
	for _, n := range []int64{1, 2, 3, 255, 256, 257, 511, 512, 600, 700} {
		th, err := tlog.TreeHash(n, stored)
		if err != nil {
			t.Fatal(err)
		}
		if n == 700 && [32]byte(th) != c.Root {
			t.Fatalf("checkpoint root %x, tlog computes %x", c.Root, th)
		}
		for _, i := range []int64{0, n / 2, n - 1} {
			p, size, err := s.InclusionProof(context.Background(), "acme", i, uint64(n))
			if err != nil || size != uint64(n) {
				t.Fatalf("InclusionProof(%d, %d): %v", i, n, err)
			}
			var tp tlog.RecordProof
			for _, h := range p {
				tp = append(tp, tlog.Hash(h))
			}
			if err := tlog.CheckRecord(tp, n, th, i, tlog.RecordHash(recs[i])); err != nil {
				t.Fatalf("tlog rejects our inclusion proof of %d in %d: %v", i, n, err)
			}
		}
		for _, m := range []int64{1, n / 3, n - 1} {
			if m < 1 {
				continue
			}
			p, _, err := s.ConsistencyProof(context.Background(), "acme", uint64(m), uint64(n))
			if err != nil {
				t.Fatal(err)
			}
			old, _ := tlog.TreeHash(m, stored)
			var tp tlog.TreeProof
			for _, h := range p {
				tp = append(tp, tlog.Hash(h))
			}
			if err := tlog.CheckTree(tp, n, th, m, old); err != nil {
				t.Fatalf("tlog rejects our consistency proof %d→%d: %v", m, n, err)
			}
		}
	}
	rep := verifyDir(t, dir, VerifyOptions{})["acme"]
	if !rep.OK() || rep.Size != 700 {
		t.Fatalf("clean ledger: %+v", rep)
	}
}

// A ledger written by schema version 1 (no trees) is migrated in place:
// its trees are built from the stored leaves and signed, and it verifies.
func TestMigrateVersion1(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	appendN(t, s, "acme", 300, 100)
	appendN(t, s, "other", 3, 3)
	root := s.trees[s.tenants["acme"]].tree.Root()
	s.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE trees`, `DROP TABLE tiles`, `DROP TABLE checkpoints`, `DROP TABLE cosignatures`,
		`DROP TABLE signing_keys`, `DELETE FROM meta WHERE name='log_name'`, `UPDATE meta SET value='1' WHERE name='schema_version'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if _, err := VerifyDir(context.Background(), dir, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "schema version 1") {
		t.Fatalf("VerifyDir of a version 1 ledger: %v", err)
	}
	s = openStore(t, dir)
	if got := s.trees[s.tenants["acme"]].tree.Root(); got != root || s.TreeSize("acme") != 300 {
		t.Fatalf("migrated root %x size %d, want %x 300", got, s.TreeSize("acme"), root)
	}
	appendN(t, s, "acme", 10, 10)
	s.Close()
	for name, rep := range verifyDir(t, dir, VerifyOptions{}) {
		if !rep.OK() {
			t.Fatalf("%s after migration: %+v", name, rep.Findings)
		}
	}
}

// Every commit writes events and tree together, so a ledger whose events
// run past its tree was changed behind clawtrail's back: the server refuses
// to start (and to sign the forged events) and says to run verify.
func TestOpenRefusesEventsOutsideTheTree(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	appendN(t, s, "acme", 5, 5)
	s.Close()
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "ledger.db"))
	if _, err := db.Exec(`INSERT INTO events(tid, seq, id, received_at, type, key_id, body_commit, leaf_hash, req_hash, salt, body)
		SELECT tid, 5, 'forged', received_at, type, key_id, body_commit, leaf_hash, req_hash, salt, body FROM events WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(context.Background(), Config{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "clawtrail verify") {
		t.Fatalf("Open of a ledger with a forged tail: %v", err)
	}
}

// A ledger of schema 6 stores the first 8 bytes of each leaf hash; rows
// written before it hold all 32. Both read alike: the tree's level 0 is the
// whole stored hash or the one recomputed from the row's leaf fields, so
// proofs over a mix check against the signed root and verify is clean; a
// row whose leaf fields no longer match its stored prefix gets no proof
// (one recomputed from the changed fields would not be the committed leaf).
func TestLeafHashPrefixRows(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	appendN(t, s, "acme", 300, 100)
	s.Close()
	db := openFile(t, filepath.Join(dir, "ledger.db"))
	var tid int64
	if err := db.QueryRow(`SELECT tid FROM tenants WHERE name='acme'`).Scan(&tid); err != nil {
		t.Fatal(err)
	}
	// Rows 0–99 as schema 5 wrote them: the whole hash.
	for seq := int64(0); seq < 100; seq++ {
		r := readRow(t, db, tid, seq)
		if len(r.leafHash) != StoredLeafPrefix {
			t.Fatalf("seq %d stores %d bytes of its leaf hash, want %d", seq, len(r.leafHash), StoredLeafPrefix)
		}
		lh := leafHashOf("acme", seq, r, [32]byte(r.bodyCommit))
		mustExec(t, db, `UPDATE events SET leaf_hash=? WHERE tid=? AND seq=?`, lh[:], tid, seq)
	}
	db.Close()
	if r := verifyDir(t, dir, VerifyOptions{})["acme"]; !r.OK() || r.Size != 300 {
		t.Fatalf("verify of a ledger of whole and prefix leaf hashes: %s", findingsOf(r))
	}
	s = openStore(t, dir)
	ctx := context.Background()
	cp, err := s.Checkpoint(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := ledger.NewKeyring(s.signer.VKey())
	c, err := ledger.OpenCheckpoint(cp, s.Origin("acme"), keys)
	if err != nil || c.Size != 300 {
		t.Fatalf("checkpoint: %v (size %d)", err, c.Size)
	}
	proofs, _, err := s.LeafProofs(ctx, "acme", []int64{5, 99, 100, 255, 299}, 300)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range proofs {
		lh := ledger.LeafHash(p.Leaf)
		if err := ledger.VerifyInclusion(uint64(p.Seq), 300, lh[:], p.Proof, c.Root[:]); err != nil {
			t.Fatalf("seq %d: the proof does not check against the signed root: %v", p.Seq, err)
		}
	}
	s.Close()
	// A prefix row's type changed.
	db = openFile(t, filepath.Join(dir, "ledger.db"))
	mustExec(t, db, `UPDATE events SET type='prompt' WHERE tid=? AND seq=200`, tid)
	db.Close()
	s = openStore(t, dir)
	defer s.Close()
	if _, _, err := s.InclusionProof(ctx, "acme", 210, 300); err == nil || !errors.Is(err, clawtrail.ErrUnavailable) {
		t.Fatalf("a proof in the tile of a changed row: %v, want unavailable", err)
	}
	if _, _, err := s.InclusionProof(ctx, "acme", 280, 300); err != nil {
		t.Fatalf("a proof outside that tile (it reads the stored level-8 hash of 0–255): %v", err)
	}
}
