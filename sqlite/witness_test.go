package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// newWitnessKey returns a witness's private key and its cosignature/v1
// public key.
func newWitnessKey(t *testing.T, name string) (skey, vkey string) {
	t.Helper()
	skey, v, err := ledger.GenerateSigningKey(name)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err = fnote.VKeyToCosignatureV1(v)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// cosign appends a witness's cosignature/v1 line to a signed checkpoint.
func cosign(t *testing.T, logNote []byte, skey string) []byte {
	t.Helper()
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	text, _, _ := bytes.Cut(logNote, []byte("\n\n"))
	wn, err := note.Sign(&note.Note{Text: string(text) + "\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	_, line, _ := bytes.Cut(wn, []byte("\n\n"))
	return append(append([]byte(nil), logNote...), line...)
}

func wantInvalid(t *testing.T, what string, n int, err error, msg string) {
	t.Helper()
	if !errors.Is(err, clawtrail.ErrInvalid) || !strings.Contains(err.Error(), msg) || n != 0 {
		t.Fatalf("%s: AddCosignature = %d, %v; want an invalid error naming %q", what, n, err, msg)
	}
}

func TestAddCosignature(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	appendN(t, s, "acme", 10, 4)
	appendN(t, s, "other", 3, 3)
	cp10, err := s.Checkpoint(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	wkey, wvkey := newWitnessKey(t, "witness.example/w1")
	if w, err := s.WitnessedCheckpoint(ctx, "acme"); w != nil || err != nil {
		t.Fatalf("WitnessedCheckpoint before any cosignature = %q, %v", w, err)
	}

	// A real cosignature on the latest checkpoint is stored and served.
	if n, err := s.AddCosignature(ctx, "acme", cosign(t, cp10, wkey)); n != 1 || err != nil {
		t.Fatalf("AddCosignature = %d, %v; want 1", n, err)
	}
	keys, _ := ledger.NewKeyring()
	for _, k := range mustKeys(t, s) {
		keys.AddLogKey(k.VKey)
	}
	if err := keys.AddWitnessKey(wvkey); err != nil {
		t.Fatal(err)
	}
	w, err := s.WitnessedCheckpoint(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ledger.OpenCheckpoint(w, s.Origin("acme"), keys)
	if err != nil || got.Size != 10 || fmt.Sprint(keys.WitnessedBy(got)) != "[witness.example/w1]" {
		t.Fatalf("witnessed checkpoint %q: %v, size %v, witnesses %v", w, err, got, keys.WitnessedBy(got))
	}

	// The tree grows; a cosignature on an older checkpoint still fits the
	// tree (and keeps that checkpoint in the history); the newest
	// witnessed one is served.
	appendN(t, s, "acme", 7, 7)
	cp17, _ := s.Checkpoint(ctx, "acme")
	w2key, w2vkey := newWitnessKey(t, "witness.example/w2")
	if n, err := s.AddCosignature(ctx, "acme", cosign(t, cp10, w2key)); n != 1 || err != nil {
		t.Fatalf("AddCosignature on the older checkpoint = %d, %v", n, err)
	}
	if w, _ := s.WitnessedCheckpoint(ctx, "acme"); !bytes.HasPrefix(w, cp10) || strings.Count(string(w), "— witness.example/") != 2 {
		t.Fatalf("witnessed checkpoint after two witnesses:\n%s", w)
	}
	if n, err := s.AddCosignature(ctx, "acme", cosign(t, cosign(t, cp17, wkey), w2key)); n != 2 || err != nil {
		t.Fatalf("AddCosignature by two witnesses = %d, %v; want 2", n, err)
	}
	if w, _ := s.WitnessedCheckpoint(ctx, "acme"); !bytes.HasPrefix(w, cp17) {
		t.Fatalf("witnessed checkpoint is not the newest:\n%s", w)
	}

	// Checkpoints signed by the log that do not match its tree.
	skey, err := os.ReadFile(filepath.Join(dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	logSigner, err := ledger.NewSigner(string(skey))
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := logSigner.Sign(s.Origin("acme"), 10, [32]byte{1, 2, 3})
	n, err := s.AddCosignature(ctx, "acme", cosign(t, bad, wkey))
	wantInvalid(t, "wrong root", n, err, "checkpoint of size 10 does not match this log's tree")
	root17 := mustOpen(t, cp17, s.Origin("acme"), keys).Root
	big, _ := logSigner.Sign(s.Origin("acme"), 18, root17)
	n, err = s.AddCosignature(ctx, "acme", cosign(t, big, wkey))
	wantInvalid(t, "size past the tree", n, err, "checkpoint of size 18 does not match this log's tree")
	// Not signed by the log: a key of the same name that is not in its
	// history.
	forger, _, _ := ledger.GenerateSigningKey(s.LogName())
	fs, _ := ledger.NewSigner(forger)
	forged, _ := fs.Sign(s.Origin("acme"), 17, root17)
	n, err = s.AddCosignature(ctx, "acme", cosign(t, forged, wkey))
	wantInvalid(t, "forged", n, err, "not signed by a trusted key")
	// Another tenant's checkpoint.
	cpOther, _ := s.Checkpoint(ctx, "other")
	n, err = s.AddCosignature(ctx, "acme", cosign(t, cpOther, wkey))
	wantInvalid(t, "other tenant", n, err, "origin")
	// No cosignature at all, and a line claiming the log's name.
	n, err = s.AddCosignature(ctx, "acme", cp17)
	wantInvalid(t, "no cosignature", n, err, "no witness cosignature")
	fake, _, _ := ledger.GenerateSigningKey(s.LogName())
	n, err = s.AddCosignature(ctx, "acme", cosign(t, cp17, fake))
	wantInvalid(t, "log-named line", n, err, "named after this log")

	// At most MaxWitnesses distinct witnesses per checkpoint.
	many := cp17
	for i := 3; i <= MaxWitnesses+1; i++ {
		k, _ := newWitnessKey(t, fmt.Sprintf("witness.example/w%d", i))
		many = cosign(t, many, k)
	}
	n, err = s.AddCosignature(ctx, "acme", many)
	wantInvalid(t, "too many witnesses", n, err, "at most 8")
	if w, _ := s.WitnessedCheckpoint(ctx, "acme"); strings.Count(string(w), "— witness.example/") != 2 {
		t.Fatalf("a refused request stored lines:\n%s", w)
	}
	s.Close()

	// verify --witness-key: acme carries the witness's cosignature, other
	// carries none.
	vkeys, _ := ledger.NewKeyring()
	vkeys.AddWitnessKey(wvkey)
	reps := verifyDir(t, dir, VerifyOptions{Keys: vkeys, Witnesses: 1})
	if r := reps["acme"]; !r.OK() {
		t.Fatalf("acme with its witness required: %+v", r.Findings)
	}
	if r := reps["other"]; r.OK() || r.Findings[0].Kind != ledger.KindWitness {
		t.Fatalf("other with a witness required and no cosignature: %+v", r.Findings)
	}
	// A quorum of both witnesses: the newest witnessed checkpoint carries
	// both cosignatures.
	vkeys2, _ := ledger.NewKeyring()
	vkeys2.AddWitnessKey(wvkey)
	vkeys2.AddWitnessKey(w2vkey)
	if r := verifyDir(t, dir, VerifyOptions{Keys: vkeys2, Witnesses: 2, Tenant: "acme"})["acme"]; !r.OK() {
		t.Fatalf("acme with two witnesses required: %+v", r.Findings)
	}
	// A witness that did not cosign is not counted.
	_, w3vkey := newWitnessKey(t, "witness.example/w3")
	vkeys3, _ := ledger.NewKeyring()
	vkeys3.AddWitnessKey(w3vkey)
	reps = verifyDir(t, dir, VerifyOptions{Keys: vkeys3, Witnesses: 1, Tenant: "acme"})
	if r := reps["acme"]; r.OK() || r.Findings[0].Kind != ledger.KindWitness {
		t.Fatalf("acme with another witness required: %+v", r.Findings)
	}
}

func mustKeys(t *testing.T, s *Store) []ledger.KeyInfo {
	t.Helper()
	ks, err := s.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustOpen(t *testing.T, raw []byte, origin string, keys *ledger.Keyring) *ledger.Checkpoint {
	t.Helper()
	cp, err := ledger.OpenCheckpoint(raw, origin, keys)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
