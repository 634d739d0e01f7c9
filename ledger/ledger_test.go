package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// testLog builds a small log in memory: n leaves, their tree, a signer.
type testLog struct {
	signer *Signer
	keys   *Keyring
	recs   [][]byte
	leaves []Leaf
	bodies [][]byte
	salts  [][]byte
	tree   *Tree
	hashes [][]byte // level-0 hashes, for proofs
}

func newTestLog(t testing.TB, n int) *testLog {
	t.Helper()
	skey, vkey, err := GenerateSigningKey("test.example/clawtrail")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if s.VKey() != vkey {
		t.Fatalf("VKey %q, want %q", s.VKey(), vkey)
	}
	keys, _ := NewKeyring(vkey)
	l := &testLog{signer: s, keys: keys, tree: NewTree()}
	for i := 0; i < n; i++ {
		body := []byte(fmt.Sprintf(`{"id":"e%d","seq":%d,"tenant_id":"acme","type":"prompt","content":"<hello & bye %d>"}`, i, i, i))
		salt := bytes.Repeat([]byte{byte(i)}, SaltSize)
		leaf := Leaf{Tenant: "acme", ID: fmt.Sprintf("e%d", i), Seq: uint64(i), ReceivedAt: int64(i), Type: "prompt", KeyID: "k", BodyCommit: BodyCommit(salt, body)}
		rec := leaf.Append(nil)
		h := LeafHash(rec)
		l.tree.Append(h[:], nil)
		l.recs, l.leaves, l.bodies, l.salts, l.hashes = append(l.recs, rec), append(l.leaves, leaf), append(l.bodies, body), append(l.salts, salt), append(l.hashes, h[:])
	}
	return l
}

// node computes complete subtrees from the level-0 hashes.
func (l *testLog) node(level uint, index uint64) ([]byte, error) {
	lo, n := index<<level, uint64(1)<<level
	return SubtreeHash(l.hashes[lo : lo+n]), nil
}

func (l *testLog) checkpoint(t testing.TB) []byte {
	note, err := l.signer.Sign("test.example/clawtrail/acme", l.tree.Size(), l.tree.Root())
	if err != nil {
		t.Fatal(err)
	}
	return note
}

func (l *testLog) bundle(t testing.TB, seqs ...int) []byte {
	var buf bytes.Buffer
	bw, err := NewBundleWriter(&buf, BundleHeader{Tenant: "acme", Origin: "test.example/clawtrail/acme", Checkpoint: string(l.checkpoint(t)),
		SigningKeys: []KeyInfo{{VKey: l.signer.VKey()}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seqs {
		p, err := InclusionProof(uint64(s), l.tree.Size(), l.node)
		if err != nil {
			t.Fatal(err)
		}
		if err := bw.Add(&BundleEvent{Seq: int64(s), Leaf: l.recs[s], Salt: l.salts[s], Proof: p, Event: l.bodies[s]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func findings(r *Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func has(r *Report, kind string, seq int64) bool {
	for _, f := range r.Findings {
		if f.Kind == kind && (seq < 0 || f.Seq <= seq && seq <= f.SeqEnd) {
			return true
		}
	}
	return false
}

func TestCheckpointSignAndOpen(t *testing.T) {
	l := newTestLog(t, 5)
	note := l.checkpoint(t)
	c, err := OpenCheckpoint(note, "test.example/clawtrail/acme", l.keys)
	if err != nil || c.Size != 5 || c.Root != l.tree.Root() {
		t.Fatalf("OpenCheckpoint: %v %+v", err, c)
	}
	if _, err := OpenCheckpoint(note, "test.example/clawtrail/other", l.keys); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong origin: %v", err)
	}
	bad := bytes.Replace(note, []byte("— "), []byte("— "), 1)
	i := bytes.LastIndexByte(bad, ' ')
	// A base64 character of the signature, past the key hash.
	if bad[i+20] == 'A' {
		bad[i+20] = 'B'
	} else {
		bad[i+20] = 'A'
	}
	if _, err := OpenCheckpoint(bad, "", l.keys); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("corrupted signature: %v", err)
	}
	other := newTestLog(t, 5)
	if _, err := OpenCheckpoint(other.checkpoint(t), "", l.keys); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("another key: %v", err)
	}
}

func TestBundleVerifies(t *testing.T) {
	l := newTestLog(t, 37)
	b := l.bundle(t, 0, 5, 36)
	rep, err := VerifyBundle(bytes.NewReader(b), l.keys)
	if err != nil || !rep.OK() || rep.Events != 3 {
		t.Fatalf("clean bundle: %v\n%s", err, findings(rep))
	}
	// The body's < and & survive byte for byte (no HTML escaping).
	if !bytes.Contains(b, []byte("<hello & bye 5>")) {
		t.Fatal("bundle escaped the event body")
	}
	tamper := func(name string, kind string, seq int64, edit func([]byte) []byte, keys *Keyring) {
		t.Run(name, func(t *testing.T) {
			rep, err := VerifyBundle(bytes.NewReader(edit(append([]byte(nil), b...))), keys)
			if err != nil {
				t.Fatalf("VerifyBundle: %v", err)
			}
			if !has(rep, kind, seq) {
				t.Fatalf("want %s at %d, got:\n%s", kind, seq, findings(rep))
			}
		})
	}
	tamper("body byte", KindModified, 5, func(b []byte) []byte { return bytes.Replace(b, []byte("bye 5"), []byte("bye 6"), 1) }, l.keys)
	tamper("no end line", KindTruncated, -1, func(b []byte) []byte {
		lines := bytes.SplitAfter(b, []byte("\n"))
		return bytes.Join(lines[:len(lines)-2], nil)
	}, l.keys)
	tamper("event dropped", KindTruncated, -1, func(b []byte) []byte {
		lines := bytes.SplitAfter(b, []byte("\n"))
		return bytes.Join(append(lines[:2:2], lines[3:]...), nil)
	}, l.keys)
	tamper("proof hash", KindModified, 36, func(b []byte) []byte {
		lines := bytes.SplitAfter(b, []byte("\n"))
		var e BundleEvent
		json.Unmarshal(lines[3], &e)
		e.Proof[0][0] ^= 1
		nl, _ := json.Marshal(e)
		lines[3] = append(nl, '\n')
		return bytes.Join(lines, nil)
	}, l.keys)
	other := newTestLog(t, 1)
	tamper("pinned other key", KindForged, -1, func(b []byte) []byte { return b }, other.keys)
}

func TestVerifierCleanAndDamaged(t *testing.T) {
	l := newTestLog(t, 600)
	run := func(edit func(i int, r *Record) bool, cps ...[]byte) *Report {
		v := NewVerifier("acme", "test.example/clawtrail/acme", l.keys)
		var in []CheckpointInput
		for _, c := range cps {
			in = append(in, CheckpointInput{Note: c, Source: "latest"})
		}
		v.Checkpoints(in)
		for i := range l.leaves {
			r := Record{Seq: int64(i), ID: l.leaves[i].ID, ReceivedAt: l.leaves[i].ReceivedAt, Type: "prompt", KeyID: "k",
				BodyCommit: l.leaves[i].BodyCommit, LeafHash: l.hashes[i], Salt: l.salts[i], Body: append([]byte(nil), l.bodies[i]...)}
			if edit != nil && !edit(i, &r) {
				continue
			}
			v.Add(&r)
		}
		return v.Finish(int64(len(l.leaves)))
	}
	cp := l.checkpoint(t)
	if rep := run(nil, cp); !rep.OK() {
		t.Fatalf("clean: %s", findings(rep))
	}
	if rep := run(func(i int, r *Record) bool {
		if i == 9 {
			r.Body[3] ^= 1
		}
		return true
	}, cp); !has(rep, KindModified, 9) {
		t.Fatalf("body: %s", findings(rep))
	}
	if rep := run(func(i int, r *Record) bool { return i != 100 }, cp); !has(rep, KindMissing, 100) {
		t.Fatalf("missing: %s", findings(rep))
	}
	if rep := run(func(i int, r *Record) bool { return i < 590 }, cp); !has(rep, KindTruncated, 595) {
		t.Fatalf("truncated: %s", findings(rep))
	}
	// Rows 7 and 8 swapped: each row keeps its content and stored leaf hash
	// but sits at the other's seq (the store reads them in seq order).
	rep := run(func(i int, r *Record) bool {
		if i == 7 || i == 8 {
			o := 15 - i
			*r = Record{Seq: int64(i), ID: l.leaves[o].ID, ReceivedAt: l.leaves[o].ReceivedAt, Type: "prompt", KeyID: "k",
				BodyCommit: l.leaves[o].BodyCommit, LeafHash: l.hashes[o], Salt: l.salts[o], Body: l.bodies[o]}
		}
		return true
	}, cp)
	if !has(rep, KindReordered, 7) || !has(rep, KindReordered, 8) || has(rep, KindModified, -1) {
		t.Fatalf("reordered: %s", findings(rep))
	}
}

func FuzzOpenCheckpoint(f *testing.F) {
	l := newTestLog(f, 3)
	f.Add(l.checkpoint(f))
	f.Add([]byte("test.example/clawtrail/acme\n3\nAAAA\n\n— test.example/clawtrail AAAA\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := OpenCheckpoint(raw, "", l.keys)
		if err == nil && (c == nil || len(c.Sigs) == 0) {
			t.Fatalf("accepted an unsigned checkpoint: %q", raw)
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUntrusted) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func FuzzVerifyBundle(f *testing.F) {
	l := newTestLog(f, 9)
	f.Add(l.bundle(f, 1, 8))
	f.Add(l.bundle(f))
	f.Add([]byte(`{"format":"clawtrail-bundle/v1"}` + "\n" + `{"end":true,"count":0}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := VerifyBundle(bytes.NewReader(data), l.keys)
		if err != nil {
			return
		}
		// A bundle that verifies clean proves each event against the
		// log's signed checkpoint: the fuzzer must not forge one.
		if rep.OK() && rep.Checkpoints != 1 {
			t.Fatalf("clean report without a checked checkpoint")
		}
	})
}

func TestStreamRoundTrip(t *testing.T) {
	recs := []Record{
		{Seq: 0, ID: "a", ReceivedAt: -5, Type: "prompt", KeyID: "k", BodyCommit: [32]byte{1}, LeafHash: bytes.Repeat([]byte{2}, 32), Salt: []byte{3, 4}, Body: []byte(`{"x":1}`)},
		{Seq: 1, ID: "b", Type: "output", KeyID: "", Body: nil, Salt: nil},
		{Seq: 2, ID: "c", Type: "output", Body: []byte{}, Salt: []byte{9}},
	}
	var buf []byte
	for i := range recs {
		buf = AppendRecord(buf, &recs[i])
	}
	sr := NewStreamReader(bytes.NewReader(buf))
	for i := range recs {
		var got Record
		if err := sr.Next(&got); err != nil {
			t.Fatal(err)
		}
		want := recs[i]
		if got.Seq != want.Seq || got.ID != want.ID || got.ReceivedAt != want.ReceivedAt || got.Type != want.Type ||
			got.BodyCommit != want.BodyCommit || !bytes.Equal(got.LeafHash, want.LeafHash) || !bytes.Equal(got.Salt, want.Salt) ||
			!bytes.Equal(got.Body, want.Body) || (got.Body == nil) != (want.Body == nil) {
			t.Fatalf("record %d: got %+v want %+v", i, got, want)
		}
	}
	var r Record
	if err := sr.Next(&r); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if err := NewStreamReader(bytes.NewReader(buf[:len(buf)-3])).Next(&r); err != nil {
		t.Fatalf("first record of a cut stream: %v", err)
	}
}

func FuzzStreamReader(f *testing.F) {
	f.Add(AppendRecord(nil, &Record{Seq: 7, ID: "x", Type: "t", Body: []byte("{}"), Salt: []byte{1}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		sr := NewStreamReader(bytes.NewReader(data))
		var r Record
		for i := 0; i < 1000; i++ {
			if err := sr.Next(&r); err != nil {
				if err != io.EOF && !errors.Is(err, ErrMalformedStream) {
					t.Fatalf("unclassified error %v", err)
				}
				return
			}
			// What was read re-encodes to a prefix of the input.
			if !bytes.HasPrefix(data, AppendRecord(nil, &r)) && i == 0 {
				t.Fatalf("record does not re-encode to the input")
			}
		}
	})
}
