package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/query"
)

// packEvents is a request of n events with fixed ids; user_id alternates
// between alice and bob, and each content names its event and user.
func packEvents(n int) string {
	var b strings.Builder
	for i := range n {
		user := []string{"alice", "bob"}[i%2]
		fmt.Fprintf(&b, `{"id":"ev-%03d","timestamp":"2026-11-28T11:00:00Z","type":"tool_call","tool":"exec","session_id":"s%d","user_id":%q,"arguments":{"command":"git status --short %d"},"content":"secret-of-%s-%03d"}`+"\n",
			i, i%3, user, i, user, i)
	}
	return b.String()
}

func openPackStore(t *testing.T, dir string, inline bool, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Dir: dir, InlineBodies: inline, Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// searchBodies returns the bodies a search (or an export) of q finds.
func searchBodies(t *testing.T, s *Store, q string, export bool) [][]byte {
	t.Helper()
	search(t, s, "acme", "") // waits for the index
	pq, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	req := SearchRequest{Tenant: "acme", Query: pq, Limit: 200}
	var out [][]byte
	if export {
		err = s.Export(context.Background(), req, func(st Stored) error {
			out = append(out, st.Body)
			return nil
		})
	} else {
		var page Page
		page, err = s.Search(context.Background(), req)
		for _, st := range page.Events {
			out = append(out, st.Body)
		}
	}
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return out
}

type packRow struct {
	lo    int64
	tails [][]byte
}

// String names a pack by its first seq and entry count (failures print
// packs, not their bytes).
func (p packRow) String() string { return fmt.Sprintf("pack %d (%d entries)", p.lo, len(p.tails)) }

// readPacks decodes every pack of the ledger in dir (the store closed).
func readPacks(t *testing.T, dir string) []packRow {
	t.Helper()
	db := openFile(t, filepath.Join(dir, "ledger.db"))
	rows, err := db.Query(`SELECT lo, data FROM packs ORDER BY tid, lo`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []packRow
	for rows.Next() {
		var p packRow
		var data []byte
		if err := rows.Scan(&p.lo, &data); err != nil {
			t.Fatal(err)
		}
		if p.tails, err = decodePack(data); err != nil {
			t.Fatalf("pack at %d: %v", p.lo, err)
		}
		out = append(out, p)
	}
	return out
}

// schemaOf returns the schema version of the ledger of a closed store.
func schemaOf(t *testing.T, dir string) string {
	t.Helper()
	var v string
	if err := openFile(t, filepath.Join(dir, "ledger.db")).QueryRow(`SELECT value FROM meta WHERE name = 'schema_version'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// openFile opens a database file of a closed store on one connection.
func openFile(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// A request's bodies are stored in packs of 32 (a last chunk under packMin
// in its rows) and read back — by id, by seq, through search and export,
// by the verifier — byte for byte as the same events stored in their rows.
func TestPackedBodiesReadAsInline(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	var stores [2]*Store
	dirs := [2]string{t.TempDir(), t.TempDir()}
	for i, inline := range []bool{false, true} {
		stores[i] = openPackStore(t, dirs[i], inline, now)
		mustAppend(t, stores[i], "acme", packEvents(100))
		mustAppend(t, stores[i], "acme", `{"id":"lone","timestamp":"2026-11-28T11:00:00Z","type":"prompt","content":"one event alone"}`)
	}
	packed, inline := stores[0], stores[1]
	for _, id := range []string{"ev-000", "ev-031", "ev-032", "ev-095", "ev-096", "ev-099", "lone"} {
		a, err := packed.Get(ctx, "acme", id)
		if err != nil {
			t.Fatalf("Get %s: %v", id, err)
		}
		b, err := inline.Get(ctx, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Body, b.Body) || a.Seq != b.Seq {
			t.Fatalf("Get %s: packed %d %s\ninline %d %s", id, a.Seq, a.Body, b.Seq, b.Body)
		}
	}
	pa, _, err := packed.ReadAfter(ctx, "acme", -1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	pb, _, err := inline.ReadAfter(ctx, "acme", -1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pa) != 101 || len(pb) != 101 {
		t.Fatalf("ReadAfter: %d and %d events, want 101", len(pa), len(pb))
	}
	for i := range pa {
		if !bytes.Equal(pa[i].Body, pb[i].Body) {
			t.Fatalf("ReadAfter seq %d: packed %s\ninline %s", pa[i].Seq, pa[i].Body, pb[i].Body)
		}
	}
	// Search (through the index, whose feed read the packs) and export.
	for _, q := range []string{`user:alice "git status"`, `secret-of-bob-097`, ``} {
		for _, export := range []bool{false, true} {
			ra, rb := searchBodies(t, packed, q, export), searchBodies(t, inline, q, export)
			want := map[string]int{`user:alice "git status"`: 50, `secret-of-bob-097`: 1, ``: 101}[q]
			if len(ra) != want || len(rb) != want {
				t.Fatalf("search %q (export %v): %d and %d hits, want %d", q, export, len(ra), len(rb), want)
			}
			for i := range ra {
				if !bytes.Equal(ra[i], rb[i]) {
					t.Fatalf("search %q hit %d: packed %s\ninline %s", q, i, ra[i], rb[i])
				}
			}
		}
	}
	for i := range stores {
		if err := stores[i].Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Three packs of 32; the last 4 events of the request and the lone
	// one in their rows.
	ps := readPacks(t, dirs[0])
	if len(ps) != 3 || ps[0].lo != 0 || ps[1].lo != 32 || ps[2].lo != 64 || len(ps[2].tails) != 32 {
		t.Fatalf("packs: %v", ps)
	}
	var marked, rowBytes, inlineBytes, packBytes int64
	db := openFile(t, filepath.Join(dirs[0], "ledger.db"))
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE body = x'01'`).Scan(&marked); err != nil {
		t.Fatal(err)
	}
	if marked != 96 {
		t.Fatalf("%d rows hold the packed mark, want 96", marked)
	}
	db.QueryRow(`SELECT sum(length(data)) FROM packs`).Scan(&packBytes)
	db.QueryRow(`SELECT sum(length(body)) FROM events WHERE seq < 96`).Scan(&rowBytes)
	openFile(t, filepath.Join(dirs[1], "ledger.db")).QueryRow(`SELECT sum(length(body)) FROM events WHERE seq < 96`).Scan(&inlineBytes)
	if packBytes+rowBytes > inlineBytes/2 {
		t.Errorf("96 bodies take %d bytes packed (+%d in rows) against %d in rows", packBytes, rowBytes, inlineBytes)
	}
	t.Logf("96 bodies: %d bytes in rows, %d packed", inlineBytes, packBytes)
	for i, dir := range dirs {
		if r := verifyDir(t, dir, VerifyOptions{})["acme"]; r == nil || !r.OK() || r.Size != 101 {
			t.Fatalf("verify store %d: %s", i, findingsOf(r))
		}
	}
}

// Damage to a pack shows in verify as the events whose bodies no longer
// match their commitments: a byte of the compressed data (the pack no
// longer decodes: all its events), one tail rewritten (that event alone),
// the pack deleted (all its events).
func TestTamperPacks(t *testing.T) {
	setup := func(t *testing.T) (string, *sql.DB) {
		dir := t.TempDir()
		s := openPackStore(t, dir, false, nil)
		mustAppend(t, s, "acme", packEvents(100))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if r := verifyDir(t, dir, VerifyOptions{})["acme"]; !r.OK() {
			t.Fatalf("untouched: %s", findingsOf(r))
		}
		return dir, openFile(t, filepath.Join(dir, "ledger.db"))
	}
	wantModified := func(t *testing.T, dir string, lo, hi int64) {
		t.Helper()
		r := verifyDir(t, dir, VerifyOptions{})["acme"]
		for q := int64(0); q < 100; q++ {
			if got, want := covers(r, ledger.KindModified, q), q >= lo && q <= hi; got != want {
				t.Fatalf("seq %d reported modified: %v, want %v; findings:%s", q, got, want, findingsOf(r))
			}
		}
		wantOnly(t, r, ledger.KindModified)
	}
	t.Run("CompressedByte", func(t *testing.T) {
		// Which events a flipped byte changes depends on what it hit (a
		// literal: the tails that hold or copy it; a tag: the rest of
		// the pack, or none of it decodes): some, all in that pack.
		dir, db := setup(t)
		var data []byte
		db.QueryRow(`SELECT data FROM packs WHERE lo = 32`).Scan(&data)
		data[len(data)/2] ^= 0x40
		mustExec(t, db, `UPDATE packs SET data = ? WHERE lo = 32`, data)
		db.Close()
		r := verifyDir(t, dir, VerifyOptions{})["acme"]
		wantOnly(t, r, ledger.KindModified)
		n := 0
		for q := int64(0); q < 100; q++ {
			if covers(r, ledger.KindModified, q) {
				if q < 32 || q > 63 {
					t.Fatalf("seq %d reported modified:%s", q, findingsOf(r))
				}
				n++
			}
		}
		if n == 0 {
			t.Fatal("a flipped byte of a pack went unreported")
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		dir, db := setup(t)
		mustExec(t, db, `UPDATE packs SET data = randomblob(2000) WHERE lo = 32`)
		db.Close()
		wantModified(t, dir, 32, 63)
	})
	t.Run("OneTail", func(t *testing.T) {
		dir, db := setup(t)
		var data []byte
		db.QueryRow(`SELECT data FROM packs WHERE lo = 64`).Scan(&data)
		tails, err := decodePack(data)
		if err != nil {
			t.Fatal(err)
		}
		tails[5] = bytes.Replace(tails[5], []byte("git status"), []byte("git STATUS"), 1)
		mustExec(t, db, `UPDATE packs SET data = ? WHERE lo = 64`, encodePack(tails))
		db.Close()
		wantModified(t, dir, 69, 69)
	})
	t.Run("Deleted", func(t *testing.T) {
		dir, db := setup(t)
		mustExec(t, db, `DELETE FROM packs WHERE lo = 0`)
		db.Close()
		wantModified(t, dir, 0, 31)
	})
}

// Erasure empties the erased subject's entries in their packs (a pack
// left with none is deleted): no copy of an erased body stays in the
// ledger, and the others still read and verify.
func TestErasurePrunesPacks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openPackStore(t, dir, false, nil)
	mustAppend(t, s, "acme", packEvents(40))                // a pack of 32 and one of 8
	mustAppend(t, s, "acme", aliceOnly(10))                 // a pack of alice's alone
	if _, err := s.Get(ctx, "acme", "ev-000"); err != nil { // decodes its pack into the store's cache
		t.Fatal(err)
	}
	tid, _ := s.tenantID("acme")
	if _, _, ok := s.packLRU.get(tid, 0); !ok {
		t.Fatal("a read by id left its pack out of the store's cache")
	}
	if _, err := s.Erase(ctx, "acme", Actor{KeyID: "root"}, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.packLRU.get(tid, 0); ok {
		t.Fatal("the erasure left the pack it rewrote decoded in the store's cache")
	}
	for i := range 40 {
		st, err := s.Get(ctx, "acme", fmt.Sprintf("ev-%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		if alice := i%2 == 0; st.Deleted != alice {
			t.Fatalf("ev-%03d: deleted %v after alice's erasure: %s", i, st.Deleted, st.Body)
		} else if !alice && !bytes.Contains(st.Body, []byte(fmt.Sprintf("secret-of-bob-%03d", i))) {
			t.Fatalf("ev-%03d reads %s", i, st.Body)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ps := readPacks(t, dir)
	if len(ps) != 2 || ps[0].lo != 0 || ps[1].lo != 32 {
		t.Fatalf("packs after the erasure: %v (alice's own pack of 10 should be gone)", ps)
	}
	for _, p := range ps {
		for i, tail := range p.tails {
			if bytes.Contains(tail, []byte("alice")) {
				t.Fatalf("pack %d entry %d still holds an erased body: %s", p.lo, i, tail)
			}
			if bob := (p.lo+int64(i))%2 == 1; bob != (len(tail) > 0) {
				t.Fatalf("pack %d entry %d: %q", p.lo, i, tail)
			}
		}
	}
	if r := verifyDir(t, dir, VerifyOptions{})["acme"]; !r.OK() {
		t.Fatalf("verify after the erasure: %s", findingsOf(r))
	}
}

func aliceOnly(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"al-%03d","type":"prompt","user_id":"alice","content":"secret-of-alice-only-%d"}`+"\n", i, i)
	}
	return b.String()
}

// Retention deletes whole packs of expired events.
func TestRetentionDeletesPacks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &review5Clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := openPackStore(t, dir, false, clock.now)
	mustAppend(t, s, "acme", packEvents(64))
	clock.t = clock.t.Add(48 * time.Hour)
	mustAppend(t, s, "acme", aliceOnly(32))
	if _, err := s.SetRetention(ctx, "acme", Actor{KeyID: "root"}, 24*time.Hour, false, false); err != nil {
		t.Fatal(err)
	}
	run, err := s.RunRetention(ctx, "acme", Actor{KeyID: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Deleted != 64 {
		t.Fatalf("retention deleted %d events, want 64", run.Deleted)
	}
	st, err := s.Get(ctx, "acme", "al-031")
	if err != nil || st.Deleted || !bytes.Contains(st.Body, []byte("secret-of-alice-only-31")) {
		t.Fatalf("a kept event: %v %s", err, st.Body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ps := readPacks(t, dir); len(ps) != 1 || ps[0].lo != 64 {
		t.Fatalf("packs after retention: %v", ps)
	}
	if r := verifyDir(t, dir, VerifyOptions{})["acme"]; !r.OK() {
		t.Fatalf("verify after retention: %s", findingsOf(r))
	}
}

// Encrypted bodies are sealed one by one (crypto-erasure destroys one
// subject's key): never packed.
func TestEncryptedBodiesNotPacked(t *testing.T) {
	k := crypt.NewKey()
	dir := t.TempDir()
	s := openEncrypted(t, dir, &k)
	mustAppend(t, s, "acme", packEvents(64))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ps := readPacks(t, dir); len(ps) != 0 {
		t.Fatalf("%d packs in an encrypted ledger", len(ps))
	}
}

// A ledger of schema 3 (no packs table) opens, migrates to 4 and packs
// what it stores next.
func TestLedgerMigratesToPacks(t *testing.T) {
	dir := t.TempDir()
	s := openPackStore(t, dir, false, nil)
	mustAppend(t, s, "acme", aliceOnly(3))
	s.Close()
	db := openFile(t, filepath.Join(dir, "ledger.db"))
	if _, err := db.Exec(`DROP TABLE packs`); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `UPDATE meta SET value = '3' WHERE name = 'schema_version'`)
	db.Close()
	s = openPackStore(t, dir, false, nil)
	mustAppend(t, s, "acme", packEvents(32))
	s.Close()
	v := schemaOf(t, dir)
	if ps := readPacks(t, dir); v != LedgerSchemaVersion || len(ps) != 1 || ps[0].lo != 3 {
		t.Fatalf("after migration: schema %s, packs %v", v, ps)
	}
	if r := verifyDir(t, dir, VerifyOptions{})["acme"]; !r.OK() || r.Size != 35 {
		t.Fatalf("verify: %s", findingsOf(r))
	}
}

// Packs are zstd frames; a ledger of schema 4 holds S2 blocks, which a
// migrated store still reads — beside the zstd packs it writes after —
// and verifies.
func TestSchema4S2PacksStillRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openPackStore(t, dir, false, nil)
	mustAppend(t, s, "acme", packEvents(64))
	want, _, err := s.ReadAfter(ctx, "acme", -1, 1000)
	if err != nil || len(want) != 64 {
		t.Fatalf("ReadAfter: %d events, %v", len(want), err)
	}
	s.Close()
	db := openFile(t, filepath.Join(dir, "ledger.db"))
	rows, err := db.Query(`SELECT tid, lo, data FROM packs`)
	if err != nil {
		t.Fatal(err)
	}
	type pk struct {
		tid, lo int64
		data    []byte
	}
	var old []pk
	for rows.Next() {
		var p pk
		if err := rows.Scan(&p.tid, &p.lo, &p.data); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(p.data, zstdMagic) {
			t.Fatalf("pack at %d is not a zstd frame: % x", p.lo, p.data[:4])
		}
		old = append(old, p)
	}
	rows.Close()
	if len(old) != 2 {
		t.Fatalf("%d packs, want 2", len(old))
	}
	for _, p := range old { // rewrite each as schema 4 did: one S2 block
		raw, err := packDecoder.DecodeAll(p.data, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, `UPDATE packs SET data = ? WHERE tid = ? AND lo = ?`, s2.Encode(nil, raw), p.tid, p.lo)
	}
	mustExec(t, db, `UPDATE meta SET value = '4' WHERE name = 'schema_version'`)
	db.Close()

	s = openPackStore(t, dir, false, nil)
	defer s.Close()
	mustAppend(t, s, "acme", packEvents(32)) // ids repeat: a duplicate request, nothing new
	more := strings.ReplaceAll(packEvents(32), `"ev-`, `"more-`)
	mustAppend(t, s, "acme", more)
	got, _, err := s.ReadAfter(ctx, "acme", -1, 1000)
	if err != nil || len(got) != 96 {
		t.Fatalf("ReadAfter after migration: %d events, %v", len(got), err)
	}
	for i, ev := range want {
		if !bytes.Equal(got[i].Body, ev.Body) {
			t.Fatalf("seq %d read from an S2 pack: %s\nwant %s", i, got[i].Body, ev.Body)
		}
	}
	if st, err := s.Get(ctx, "acme", "ev-040"); err != nil || !bytes.Equal(st.Body, want[40].Body) {
		t.Fatalf("Get ev-040 from an S2 pack: %v %s", err, st.Body)
	}
	s.Close()
	if v := schemaOf(t, dir); v != LedgerSchemaVersion {
		t.Fatalf("schema %s after migration, want %s", v, LedgerSchemaVersion)
	}
	if r := verifyDir(t, dir, VerifyOptions{})["acme"]; !r.OK() || r.Size != 96 {
		t.Fatalf("verify: %s", findingsOf(r))
	}
}

// A held event stored in clear (packed, before encryption was turned on)
// survives an erasure under encryption as it is; the erasure succeeds.
func TestEraseKeepsHeldClearEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openPackStore(t, dir, false, nil)
	mustAppend(t, s, "acme", packEvents(40))
	s.Close()
	k := crypt.NewKey()
	s = openEncrypted(t, dir, &k)
	mustAppend(t, s, "acme", `{"id":"sealed-1","type":"prompt","user_id":"alice","content":"after encryption"}`)
	if _, err := s.AddHold(ctx, "acme", Actor{KeyID: "root"}, `"git status"`, "matter 7"); err != nil {
		t.Fatal(err)
	}
	er, err := s.Erase(ctx, "acme", Actor{KeyID: "root"}, "alice")
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if er.Held != 20 {
		t.Fatalf("erasure held %d events, want alice's 20 clear ones", er.Held)
	}
	for _, id := range []string{"ev-000", "ev-038"} {
		st, err := s.Get(ctx, "acme", id)
		if err != nil || st.Deleted || !bytes.Contains(st.Body, []byte("secret-of-alice")) {
			t.Fatalf("held %s: %v %s", id, err, st.Body)
		}
	}
	if st, err := s.Get(ctx, "acme", "sealed-1"); err != nil || !st.Deleted {
		t.Fatalf("alice's sealed event after the erasure: %v %s", err, st.Body)
	}
	s.Close()
	if r := verifyDir(t, dir, VerifyOptions{MasterKey: &k})["acme"]; !r.OK() {
		t.Fatalf("verify: %s", findingsOf(r))
	}
}

// A pack is read from disk, where anyone with the file may have written
// it: decoding never panics, never yields more than insertChunk entries,
// and what decodes re-encodes to the same entries.
func FuzzDecodePack(f *testing.F) {
	f.Add(encodePack([][]byte{[]byte(`"type":"prompt"}`), nil, []byte(`"type":"output","content":"x"}`)}))
	f.Add(encodePack([][]byte{bytes.Repeat([]byte(`"tool":"exec",`), 40)}))
	raw, _ := packDecoder.DecodeAll(encodePack([][]byte{[]byte(`"type":"prompt"}`), []byte(`"tool":"exec"}`)}), nil)
	f.Add(s2.Encode(nil, raw)) // schema 4's packs
	f.Add([]byte{})
	f.Add([]byte{0x05, 0x10, 0x01})
	f.Add(zstdMagic)
	f.Fuzz(func(t *testing.T, data []byte) {
		tails, err := decodePack(data)
		if err != nil {
			return
		}
		if len(tails) == 0 || len(tails) > insertChunk {
			t.Fatalf("%d entries", len(tails))
		}
		again, err := decodePack(encodePack(tails))
		if err != nil || len(again) != len(tails) {
			t.Fatalf("re-encoded: %v, %d entries of %d", err, len(again), len(tails))
		}
		for i := range tails {
			if !bytes.Equal(tails[i], again[i]) {
				t.Fatalf("entry %d: %q then %q", i, tails[i], again[i])
			}
		}
	})
}

// The store's cache of decoded packs finds a pack by any of its seqs,
// keeps at most its size in bytes, dropping the least recently used.
func TestPackLRU(t *testing.T) {
	c := newPackLRU(250)
	tails := func(n int) [][]byte { return make([][]byte, n) }
	c.put(1, 10, tails(32), 100)
	c.put(1, 42, tails(5), 100)
	c.put(2, 10, tails(32), 100) // evicts (1, 10), the least recently used
	if _, _, ok := c.get(1, 20); ok {
		t.Fatal("an evicted pack is still found")
	}
	if lo, tl, ok := c.get(1, 46); !ok || lo != 42 || len(tl) != 5 {
		t.Fatalf("seq 46: %d %d %v", lo, len(tl), ok)
	}
	if _, _, ok := c.get(1, 47); ok {
		t.Fatal("seq 47 is past the pack at 42")
	}
	if lo, _, ok := c.get(2, 41); !ok || lo != 10 {
		t.Fatal("seq 41 of tenant 2 is in its pack at 10")
	}
	c.put(3, 0, tails(1), 100) // evicts (1, 42): (2, 10) was used since
	if _, _, ok := c.get(1, 42); ok || c.size != 200 {
		t.Fatalf("after the second eviction: size %d", c.size)
	}
	c.drop(2, 10)
	if _, _, ok := c.get(2, 10); ok || c.size != 100 {
		t.Fatalf("after drop: size %d", c.size)
	}
}
