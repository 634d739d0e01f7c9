package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/ledger"
)

// A tree state edited to cover forged events (with correct leaf hashes and
// a consistent compact range) is not what the latest checkpoint signed: the
// server refuses to start instead of signing over it.
func TestOpenRefusesUnsignedTreeState(t *testing.T) {
	l := newTamperLedger(t, 0)
	// Forge one event at the end with a correct leaf hash, and a tree state
	// that includes it.
	s0, err := Open(context.Background(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s0.Close()
	db := l.db(t, "ledger.db")
	var size int64
	var compact []byte
	if err := db.QueryRow(`SELECT size, compact FROM trees WHERE tid=?`, l.acme).Scan(&size, &compact); err != nil {
		t.Fatal(err)
	}
	var hs [][]byte
	for i := 0; i < len(compact); i += 32 {
		hs = append(hs, compact[i:i+32])
	}
	tree, err := ledger.LoadTree(uint64(size), hs)
	if err != nil {
		t.Fatal(err)
	}
	leaf := ledger.Leaf{Tenant: "acme", ID: "forged", Seq: uint64(size), ReceivedAt: 1, Type: "prompt", KeyID: "k1"}
	lh := ledger.LeafHash(leaf.Append(nil))
	tree.Append(lh[:], nil)
	var nc []byte
	for _, h := range tree.Hashes() {
		nc = append(nc, h...)
	}
	l.exec(t, fmt.Sprintf(`INSERT INTO events(tid, seq, id, received_at, type, key_id, body_commit, leaf_hash, req_hash)
		VALUES (%d, %d, 'forged', 1, 'prompt', 'k1', x'%x', x'%x', x'00')`, l.acme, size, leaf.BodyCommit, lh))
	l.exec(t, fmt.Sprintf(`UPDATE trees SET size=%d, compact=x'%x' WHERE tid=%d`, size+1, nc, l.acme))
	_, err = Open(context.Background(), Config{Dir: l.dir})
	if err == nil || !strings.Contains(err.Error(), "not the one its latest checkpoint signed") {
		t.Fatalf("Open of a ledger with an unsigned tree state: %v", err)
	}
}

// Deleting a tenant's row must not hide its log, from verify or the server.
func TestDeletedTenantRowIsCaught(t *testing.T) {
	l := newTamperLedger(t, 0)
	l.exec(t, fmt.Sprintf(`DELETE FROM tenants WHERE tid=%d`, l.acme))
	reps, err := VerifyDir(context.Background(), l.dir, VerifyOptions{Remembered: map[string][]byte{"acme": l.cp}})
	if err != nil {
		t.Fatal(err)
	}
	var missing, rolled bool
	for _, r := range reps {
		for _, f := range r.Findings {
			missing = missing || f.Kind == ledger.KindMissing && strings.Contains(f.Message, "tenant whose row is gone")
			rolled = rolled || f.Kind == ledger.KindRolledBack && r.Tenant == "acme"
		}
	}
	if !missing || !rolled {
		t.Fatalf("deleted tenant row: missing %v, rolled back %v: %+v", missing, rolled, reps)
	}
	if _, err := Open(context.Background(), Config{Dir: l.dir}); err == nil || !strings.Contains(err.Error(), "tenants table lacks") {
		t.Fatalf("Open with a deleted tenant row: %v", err)
	}
}

// An absurd seq or rowid written into one row neither crashes verify nor
// makes it crawl: it is reported.
func TestVerifySurvivesAbsurdKeys(t *testing.T) {
	for _, col := range []string{"seq", "g"} {
		t.Run(col, func(t *testing.T) {
			l := newTamperLedger(t, 0)
			l.exec(t, fmt.Sprintf(`UPDATE events SET %s = %d WHERE tid=%d AND seq=599`, col, int64(1)<<62, l.acme))
			reps, err := VerifyDir(context.Background(), l.dir, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reps {
				if r.Tenant == "acme" && col == "seq" && r.OK() {
					t.Fatalf("seq 2^62 not reported")
				}
				if r.Tenant == "acme" && col == "g" && !r.OK() {
					t.Fatalf("a moved rowid changes nothing that is committed: %+v", r.Findings)
				}
			}
		})
	}
}

// A witness cosignature stored is never replaced by another line under the
// same name and key hash.
func TestCosignatureNotReplaced(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	appendN(t, s, "acme", 3, 3)
	wskey, wvkey, _ := ledger.GenerateSigningKey("witness.test/w")
	cp0, _ := s.Checkpoint(context.Background(), "acme")
	cosigned := cosign(t, cp0, wskey)
	if n, err := s.AddCosignature(context.Background(), "acme", cosigned); err != nil || n != 1 {
		t.Fatalf("AddCosignature: %d %v", n, err)
	}
	// The same name and hash, a junk signature.
	i := strings.LastIndex(string(cosigned), " ")
	junk := append([]byte(nil), cosigned[:i+12]...)
	junk = append(junk, strings.Repeat("A", len(cosigned)-i-13)+"\n"...)
	s.AddCosignature(context.Background(), "acme", junk)
	w, _ := s.WitnessedCheckpoint(context.Background(), "acme")
	keys, _ := ledger.NewKeyring(s.signer.VKey())
	if err := keys.AddWitnessKey(wvkey); err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.OpenCheckpoint(w, "", keys)
	if err != nil || len(keys.WitnessedBy(cp)) != 1 {
		t.Fatalf("the stored cosignature was replaced: %v\n%s", err, w)
	}
	// A note signed by the witness alone is not a checkpoint of the log.
	text, sigs, _ := strings.Cut(string(cosigned), "\n\n")
	witnessOnly := text + "\n\n" + sigs[strings.Index(sigs, "— witness"):]
	if _, err := ledger.OpenCheckpoint([]byte(witnessOnly), "", keys); err == nil {
		t.Fatalf("a note signed only by a witness was accepted as the log's checkpoint:\n%s", witnessOnly)
	}
}

// With serve --witness-keys, only those witnesses' verified cosignatures
// are accepted.
func TestConfiguredWitnessKeys(t *testing.T) {
	wskey, wvkey, _ := ledger.GenerateSigningKey("witness.test/w")
	otherS, _, _ := ledger.GenerateSigningKey("witness.test/other")
	s, err := Open(context.Background(), Config{Dir: t.TempDir(), WitnessKeys: []string{wvkey}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN(t, s, "acme", 3, 3)
	cp0, _ := s.Checkpoint(context.Background(), "acme")
	if _, err := s.AddCosignature(context.Background(), "acme", cosign(t, cp0, otherS)); err == nil {
		t.Fatal("a cosignature by a witness the log does not accept was stored")
	}
	if n, err := s.AddCosignature(context.Background(), "acme", cosign(t, cp0, wskey)); err != nil || n != 1 {
		t.Fatalf("the accepted witness: %d %v", n, err)
	}
	if _, err := Open(context.Background(), Config{Dir: t.TempDir(), WitnessKeys: []string{"nope"}}); err == nil {
		t.Fatal("a malformed witness key was accepted at start")
	}
}
