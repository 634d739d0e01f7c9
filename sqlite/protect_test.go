package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/query"
)

func openEncrypted(t *testing.T, dir string, k *crypt.Key) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Dir: dir, MasterKey: k})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openStoreBlind opens the store in dir with encryption at rest under k
// (a blind index) when blind, else in clear.
func openStoreBlind(t *testing.T, dir string, blind bool, k *crypt.Key) *Store {
	t.Helper()
	if blind {
		return openEncrypted(t, dir, k)
	}
	return openStore(t, dir)
}

// The blind index answers every query exactly as the clear index does: the
// same events, in the same order, for equality, words, phrases, prefixes,
// ranges, negations and nested fields.
func TestBlindIndexAnswersLikeClear(t *testing.T) {
	k := crypt.NewKey()
	clear, enc := openStore(t, t.TempDir()), openEncrypted(t, t.TempDir(), &k)
	defer clear.Close()
	defer enc.Close()
	r := rand.New(rand.NewPCG(1, 2))
	tools := []string{"bash", "send_email", "web_search", "read_file", "web_fetch"}
	users := []string{"alice", "bob", "carol@example.com", ""}
	words := []string{"refund", "invoice", "delayed", "shipment", "password", "deploy", "rollback", "customer"}
	var lines []string
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 300; i++ {
		w := func() string { return words[r.IntN(len(words))] }
		status := []string{"success", "error", "blocked"}[r.IntN(3)]
		lines = append(lines, fmt.Sprintf(`{"id":"e%03d","timestamp":"%s","type":"%s","session_id":"s%d","user_id":"%s","tool":"%s","status":"%s","duration_ms":%d,"usage":{"input_tokens":%d},"content":"%s %s %s","arguments":{"to":"u%d@example.com","amount":%d,"tags":["%s","%s"],"path":"/home/u%d/d%d/%s.txt"},"attributes":{"region":"eu-%d"},"span_id":"sp%d"}`,
			i, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339Nano), []string{"tool_call", "prompt", "output"}[r.IntN(3)],
			r.IntN(12), users[r.IntN(len(users))], tools[r.IntN(len(tools))], status, r.IntN(5000), r.IntN(900),
			w(), w(), w(), r.IntN(6), r.IntN(300), w(), w(), r.IntN(3), r.IntN(3), w(), r.IntN(3), r.IntN(100)))
	}
	nd := strings.Join(lines, "\n") + "\n"
	mustAppend(t, clear, "acme", nd)
	mustAppend(t, enc, "acme", nd)
	queries := []string{"", "refund", "refund invoice", `"delayed shipment"`, "refu*", "tool:bash", "tool:web*", "-tool:bash",
		"user:alice", "user:carol@example.com", "-user:alice", "user:*", "status:error OR status:blocked", "session:s3 tool:send_email",
		"arguments.to:u2@example.com", "arguments.to:u2*", "arguments.amount:>150", "arguments.amount:42", "arguments.tags:deploy",
		"usage.input_tokens:>=450", "usage.input_tokens:<100", "duration_ms:>2500", "attributes.region:eu-1", "type:prompt -refund",
		"NOT (refund OR invoice)", "customer tool:read_file status:success", "attributes.region:*", "password -status:error",
		"rollback OR user:bob", `"customer deploy" OR tool:web_fetch`,
		"arguments.path:/home/*", "arguments.path:/home/u1/*", "arguments.path:/home/u2/d0/*", "arguments.path:/home/u1/d*",
		"-arguments.path:/home/u0/* refund", "arguments.path:/home/u1/* OR arguments.path:/home/u2/d1/*",
		"span_id:sp7", "span_id:sp7 tool:bash", "span_id:sp7 OR span_id:sp8", "span_id:sp100",
		`content:"refund invoice"*`, `content:"refund inv"*`, `content:"refund invoice d"* OR tool:bash`, `-content:"refund inv"*`}
	for _, q := range queries {
		want, got := search(t, clear, "acme", q), search(t, enc, "acme", q)
		if !slices.Equal(want, got) {
			t.Errorf("query %q: blind index gives %d events %v…, clear gives %d %v…", q, len(got), head(got), len(want), head(want))
		}
	}
	if n := len(search(t, enc, "acme", "refund")); n == 0 {
		t.Fatal("the corpus is degenerate: no event holds refund")
	}
	if n := len(search(t, enc, "acme", "span_id:sp7")); n == 0 {
		t.Fatal("the corpus is degenerate: no event has span sp7")
	}
}

func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func head(s []string) []string { return s[:min(3, len(s))] }

// Turning encryption on for a data directory written in clear: old events
// stay readable (in clear), new ones are sealed, the index is rebuilt blind
// and answers for both; verify is clean.
func TestEncryptionTurnedOnLater(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	mustAppend(t, s, "acme", `{"id":"old","type":"prompt","content":"plainword","user_id":"u1"}`+"\n")
	s.Close()
	k := crypt.NewKey()
	s = openEncrypted(t, dir, &k)
	mustAppend(t, s, "acme", `{"id":"new","type":"prompt","content":"plainword sealedword","user_id":"u1"}`+"\n")
	if got := search(t, s, "acme", "plainword"); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("search after turning encryption on: %v", got)
	}
	if got := search(t, s, "acme", "user:u1"); len(got) != 2 {
		t.Fatalf("user search: %v", got)
	}
	s.Close()
	reps, err := VerifyDir(context.Background(), dir, VerifyOptions{MasterKey: &k})
	if err != nil || !reps[0].OK() || reps[0].Sealed != 0 {
		t.Fatalf("verify: %v %+v", err, reps)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ledger.db"))
	if !strings.Contains(string(b), "plainword") {
		t.Fatal("the old event should still be in clear (it was written before encryption)")
	}
	if strings.Contains(string(b), "sealedword") {
		t.Fatal("the new event is in clear")
	}
	// A tampered ciphertext is found by verify with the key.
	db := rawDB(t, dir)
	if _, err := db.Exec(`UPDATE events SET body = substr(body, 1, 40) || x'00' || substr(body, 42) WHERE id='new'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	reps, err = VerifyDir(context.Background(), dir, VerifyOptions{MasterKey: &k})
	if err != nil || reps[0].OK() {
		t.Fatalf("a flipped ciphertext byte went unnoticed: %v %+v", err, reps)
	}
	wantFinding(t, reps[0], ledger.KindModified, 1)
}

func BenchmarkBlind(b *testing.B) {
	tk := deriveTenant(crypt.NewKey())
	for b.Loop() {
		tk.Blind("arguments.to", "alice@example.com")
	}
}

// BenchmarkBlindValue is Blind through the value cache, for a value that
// repeats (a session id, a tool, a directory).
func BenchmarkBlindValue(b *testing.B) {
	tk := deriveTenant(crypt.NewKey())
	for b.Loop() {
		tk.BlindValue("arguments.to", "alice@example.com")
	}
}

// A blind index answers a wildcard ending at a "/" from its own prefix
// tokens (keyed hashes of the directories), exactly, as the clear index
// does; other wildcards are left to the bodies.
func TestBlindIndexHasPrefixTokens(t *testing.T) {
	k := crypt.NewKey()
	dir := t.TempDir()
	s := openEncrypted(t, dir, &k)
	defer s.Close()
	mustAppend(t, s, "acme", strings.Join([]string{
		`{"id":"a","type":"tool_call","tool":"bash","arguments":{"path":"/home/agent/notes/a.txt"}}`,
		`{"id":"b","type":"tool_call","tool":"bash","arguments":{"path":"/home/agent/b.txt"}}`,
		`{"id":"c","type":"tool_call","tool":"bash","arguments":{"path":"/srv/agent/notes/c.txt"}}`,
	}, "\n")+"\n")
	tid, ok := s.tenantID("acme")
	if !ok {
		t.Fatal("no tenant acme")
	}
	if err := s.WaitIndexed(context.Background(), "acme", s.Head("acme")-1); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"arguments.path:/home/agent/*":       {"b", "a"},
		"arguments.path:/home/agent/notes/*": {"a"},
		"arguments.path:/srv/*":              {"c"},
	} {
		pq, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pq.SQLiteBlind(tid, "acme", s.keys.tenant(tid).Blind)
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Exact || plan.FTS == "" {
			t.Errorf("%s: plan %+v, want an exact full-text plan", q, plan)
			continue
		}
		// A clear prefix token would hold the hex of the prefix.
		if clear := hex.EncodeToString([]byte(strings.TrimSuffix(strings.TrimPrefix(q, "arguments.path:"), "*"))); strings.Contains(plan.FTS, clear) {
			t.Errorf("%s: the blind plan holds the prefix in clear: %s", q, plan.FTS)
		}
		var n int
		if err := s.index.reader.QueryRow(`SELECT count(*) FROM fts WHERE fts MATCH ?`, plan.FTS).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Errorf("%s: %d index rows hold the prefix token, want %d", q, n, len(want))
		}
		if got := search(t, s, "acme", q); !slices.Equal(got, want) {
			t.Errorf("%s: found %v, want %v", q, got, want)
		}
	}
	// A text prefix narrows by the keyed hashes of its complete words
	// (the last may be cut): not every event of the tenant is a candidate.
	mustAppend(t, s, "acme", `{"id":"d","type":"prompt","content":"quarterly invoice drafted"}`+"\n")
	if err := s.WaitIndexed(context.Background(), "acme", s.Head("acme")-1); err != nil {
		t.Fatal(err)
	}
	pq, _ := query.Parse(`content:"quarterly invoice dra"*`)
	plan, _ := pq.SQLiteBlind(tid, "acme", s.keys.tenant(tid).Blind)
	var n int
	if err := s.index.reader.QueryRow(`SELECT count(*) FROM fts WHERE fts MATCH ?`, plan.FTS).Scan(&n); err != nil || n != 1 || plan.Exact {
		t.Errorf("content prefix: plan %+v selects %d index rows (%v), want the one event holding its words, inexact", plan, n, err)
	}
	if strings.Contains(plan.FTS, "quarterly") {
		t.Errorf("content prefix: the blind plan holds a word in clear: %s", plan.FTS)
	}
	if got := search(t, s, "acme", `content:"quarterly invoice dra"*`); !slices.Equal(got, []string{"d"}) {
		t.Errorf("content prefix: found %v, want [d]", got)
	}
	// A wildcard that does not end at a "/" has no token: it is decided on
	// the bodies, and still right.
	pq, _ = query.Parse("arguments.path:/home/ag*")
	if plan, _ := pq.SQLiteBlind(tid, "acme", s.keys.tenant(tid).Blind); plan.Exact {
		t.Errorf("arguments.path:/home/ag*: plan %+v claims an exact answer from a blind index", plan)
	}
	if got := search(t, s, "acme", "arguments.path:/home/ag*"); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("arguments.path:/home/ag*: found %v", got)
	}
}

// An index of the previous schema, clear or blind, is rebuilt and marked
// current. (Schema 9, which changed only blind indexes, kept clear indexes of
// schema 8; schema 10 changed clear ones too, and that special case went.)
func TestOlderIndexSchemaRebuilds(t *testing.T) {
	k := crypt.NewKey()
	for _, blind := range []bool{false, true} {
		dir := t.TempDir()
		open := func() *Store { return openStoreBlind(t, dir, blind, &k) }
		s := open()
		mustAppend(t, s, "acme", `{"id":"a","type":"tool_call","arguments":{"path":"/home/agent/a.txt"}}`+"\n")
		search(t, s, "acme", "arguments.path:/home/agent/*")
		s.Close()
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "index.db"))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`UPDATE ix_state SET value = ` + strconv.Itoa(IndexSchemaVersion-1) + ` WHERE name = 'schema'`, `CREATE TABLE marker(x)`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		s = open()
		if got := search(t, s, "acme", "arguments.path:/home/agent/*"); !slices.Equal(got, []string{"a"}) {
			t.Errorf("blind %v: found %v after the upgrade, want [a]", blind, got)
		}
		var kept int
		s.index.reader.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'marker'`).Scan(&kept)
		var v int
		s.index.reader.QueryRow(`SELECT value FROM ix_state WHERE name = 'schema'`).Scan(&v)
		s.Close()
		if kept == 1 {
			t.Errorf("blind %v: index of schema %d kept, want it rebuilt", blind, IndexSchemaVersion-1)
		}
		if v != IndexSchemaVersion {
			t.Errorf("blind %v: index schema %d after the upgrade, want %d", blind, v, IndexSchemaVersion)
		}
	}
}

// The caches return what Blind does, for every field a value is blinded
// under, across a cache that fills up and starts over.
func TestBlindCaches(t *testing.T) {
	tk := deriveTenant(crypt.NewKey())
	for round := range 2 {
		for i := range maxBlindCache + 10 {
			v := fmt.Sprintf("v%d", i%(maxBlindCache+5))
			f := []string{"tool", "session_id", "§parguments.path"}[i%3]
			if got, want := tk.BlindValue(f, v), tk.Blind(f, v); got != want {
				t.Fatalf("round %d: BlindValue(%q, %q) = %q, Blind says %q", round, f, v, got, want)
			}
			if i%97 == 0 {
				if got, want := tk.BlindWord(v), tk.Blind("", v); got != want {
					t.Fatalf("round %d: BlindWord(%q) = %q, Blind says %q", round, v, got, want)
				}
			}
		}
	}
	if tk.BlindValue("tool", "bash") == tk.BlindValue("model", "bash") {
		t.Fatal("one value blinded under two fields gives one form: the cache ignores the field")
	}
}
