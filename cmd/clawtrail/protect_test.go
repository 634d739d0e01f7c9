package main

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/clawtrail/clawtrail/internal/ixtest"
	"github.com/clawtrail/clawtrail/query"
)

// writeMasterKey writes a fresh master key file and returns its path.
func writeMasterKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	p := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// scanFiles returns, for each needle found, the files (under dir) holding
// it, in any of the spellings given: every byte of every file is read.
func scanFiles(t *testing.T, dir string, needles []string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lower := bytes.ToLower(b)
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) || bytes.Contains(lower, bytes.ToLower([]byte(n))) {
				found[n] = append(found[n], filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func searchIDs(t *testing.T, ts *testServer, q string) []string {
	t.Helper()
	out := mustCLI(t, ts, 0, "logs", "search", "--query", q, "--format", "jsonl", "--limit", "1000")
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			continue
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// With a master key, no word an agent wrote, no secret, and no user or
// session id is left in clear in any file of the data directory (ledger,
// WAL, index, its WAL, keys) — while search, sessions and get still work
// through the blind index. A wrong key, or none, stops the server at start.
func TestEncryptionAtRestLeavesNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	mk := writeMasterKey(t)
	ts := startServer(t, dir, func(c *serveConfig) { c.MasterKeyFile = mk })
	words := []string{"zanzibarquux", "pelicanmarmalade", "oscillatorfjord", "hieroglyphcabbage", "quasarmeringue",
		"sess-tangerinewalrus", "user-periwinkleotter", "agent-marzipanheron", "tool_grapefruitkayak", "/srv/nectarinevault"}
	secrets := []string{"sk-ant-api03-Qz7Vd9Xk2LmNp4Rs6Tu8Wv0Yx1Za3Bc5De7Fg9", "AKIAZ7QW3ERT5YUI8OPL", "4111111111111111"}
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":"ev-%d","type":"tool_call","session_id":"%s","user_id":"%s","agent_id":"%s","tool":"%s","path":"%s","content":"%s %s and %s","arguments":{"note":"%s","key":"%s","file":"/opt/lanternpotato/%s.txt"},"result":{"text":"%s card %s"},"attributes":{"deep":{"word":"%s"}}}`,
			i, words[5], words[6], words[7], words[8], words[9], words[0], words[1], secrets[0], words[2], secrets[1], words[0], words[3], secrets[2], words[4]))
	}
	if _, errOut, code := ts.cli(strings.Join(lines, "\n")+"\n", "ingest", "-"); code != 0 {
		t.Fatalf("ingest: %s", errOut)
	}
	// Search works through the blind index: words, fields, nested fields.
	for _, q := range []string{words[0], "pelicanmarmalade oscillatorfjord", "session:" + words[5], "user:" + words[6],
		"tool:" + words[8], "arguments.note:" + words[2], "attributes.deep.word:" + words[4], "type:tool_call"} {
		if ids := searchIDs(t, ts, q+" "); len(ids) != 40 {
			t.Errorf("search %q found %d events, want 40", q, len(ids))
		}
	}
	if ids := searchIDs(t, ts, "nosuchwordanywhere"); len(ids) != 0 {
		t.Errorf("a word never written matched %d events", len(ids))
	}
	// A wildcard ending at a "/" is answered by the blind prefix tokens.
	if ids := searchIDs(t, ts, "arguments.file:/opt/lanternpotato/*"); len(ids) != 40 {
		t.Errorf("directory wildcard found %d, want 40", len(ids))
	}
	// Other wildcards cannot use keyed hashes: answered from the bodies.
	if ids := searchIDs(t, ts, "tool:tool_grapefruit*"); len(ids) != 40 {
		t.Errorf("prefix search found %d, want 40", len(ids))
	}
	if out := mustCLI(t, ts, 0, "logs", "sessions"); !strings.Contains(out, words[5]) {
		t.Errorf("sessions does not show the session id in clear:\n%s", out)
	}
	if out := mustCLI(t, ts, 0, "logs", "session", words[5], "--format", "jsonl"); strings.Count(out, "\n") != 40 {
		t.Errorf("session timeline: %d lines", strings.Count(out, "\n"))
	}
	// Secrets were redacted before storage.
	if code, body := ts.do("GET", "/v1/events/ev-1", ""); code != 200 || strings.Contains(body, secrets[0]) || !strings.Contains(body, "[REDACTED:anthropic_key]") {
		t.Fatalf("get: %d %s", code, body)
	}
	mustCLI(t, ts, 0, "verify")
	ts.close()

	found := scanFiles(t, dir, append(append([]string{}, words...), secrets...))
	for n, files := range found {
		t.Errorf("%q is in clear in %v", n, files)
	}
	// The same words are found when encryption is off (the scan can fail).
	plain := t.TempDir()
	ps := startServer(t, plain)
	ps.cli(strings.Join(lines[:2], "\n")+"\n", "ingest", "-")
	// A search waits for the index (wait_seq=latest): closing right after
	// ingest could leave the events unindexed, and the term check below
	// without its control.
	if ids := searchIDs(t, ps, "arguments.file:/opt/lanternpotato/*"); len(ids) != 2 {
		t.Fatalf("the clear store's directory wildcard found %d, want 2", len(ids))
	}
	ps.close()
	if f := scanFiles(t, plain, words[:1]); len(f[words[0]]) == 0 {
		t.Fatal("the scan does not find a word stored in clear: it proves nothing")
	}
	// A field value and its directory prefixes are index terms holding
	// their text in token text (query.TokenText), which a byte scan can
	// miss (FTS5 stores a term as a suffix of the one before it): ask the
	// index for its terms instead. None holds the directory in the blind
	// index; the clear one has them.
	dirHex := query.TokenText("/opt/lanternpotato/")
	if n := ixtest.TermsHolding(t, dir, dirHex); n != 0 {
		t.Errorf("%d terms of the blind index hold the token text of /opt/lanternpotato/", n)
	}
	if n := ixtest.TermsHolding(t, plain, dirHex); n == 0 {
		t.Fatal("no term of the clear index holds the token text of /opt/lanternpotato/: the check proves nothing")
	}

	// verify --data opens the bodies with the key; without it, says so.
	out, _, code := ts.cli("", "verify", "--data", dir, "--master-key-file", mk)
	if code != 0 || !strings.Contains(out, "INTACT") || strings.Contains(out, "not opened") {
		t.Fatalf("verify --data with the key: exit %d\n%s", code, out)
	}
	out, _, code = ts.cli("", "verify", "--data", dir)
	if code != 0 || !strings.Contains(out, "encrypted bodies not opened") {
		t.Fatalf("verify --data without the key: exit %d\n%s", code, out)
	}

	// A wrong key, or no key, stops the server at start.
	for name, key := range map[string]string{"wrong key": writeMasterKey(t), "no key": ""} {
		cfg := defaultServeConfig()
		cfg.Data, cfg.Listen, cfg.LogLevel, cfg.MasterKeyFile = dir, "127.0.0.1:0", "error", key
		err := serve(t.Context(), cfg, env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}, nil)
		if err == nil || !strings.Contains(err.Error(), "master key") {
			t.Errorf("%s: serve = %v, want a refusal naming the master key", name, err)
		}
	}

	// rotate-master re-wraps the tenant keys; the old key no longer opens.
	mk2 := writeMasterKey(t)
	if _, errOut, code := ts.cli("", "keys", "rotate-master", "--data", dir, "--master-key-file", mk, "--new-master-key-file", mk2); code != 0 {
		t.Fatalf("rotate-master: %s", errOut)
	}
	ts2 := startServer(t, dir, func(c *serveConfig) { c.MasterKeyFile = mk2 })
	if ids := searchIDs(t, ts2, words[0]); len(ids) != 40 {
		t.Fatalf("after rotate-master: %d events found", len(ids))
	}
	ts2.close()
	cfg := defaultServeConfig()
	cfg.Data, cfg.Listen, cfg.LogLevel, cfg.MasterKeyFile = dir, "127.0.0.1:0", "error", mk
	if err := serve(t.Context(), cfg, env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}, nil); err == nil {
		t.Fatal("the old master key still opens the data after rotate-master")
	}
}

type retentionRun struct {
	Deleted    int64   `json:"deleted"`
	Held       int64   `json:"held"`
	Tombstones []int64 `json:"tombstones"`
}

// Retention at the CLI: events older than the policy are deleted (their
// bodies and index entries), held ones are kept, tombstones record it, and
// verify stays clean — against the server and the data directory. A
// deletion no tombstone allows is tampering.
func TestRetentionCLI(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			dir := t.TempDir()
			mk := ""
			if encrypted {
				mk = writeMasterKey(t)
			}
			ts := startServer(t, dir, func(c *serveConfig) { c.MasterKeyFile = mk; c.RetentionEvery = 0 })
			if out := mustCLI(t, ts, 0, "retention", "show"); !strings.Contains(out, "kept for ever") {
				t.Fatalf("retention show with no policy: %s", out)
			}
			// Short policies need --allow-short.
			if _, errOut, code := ts.cli("", "retention", "set", "--keep", "2s"); code != 2 || !strings.Contains(errOut, "allow-short") {
				t.Fatalf("2s without --allow-short: exit %d %s", code, errOut)
			}
			var old []string
			for i := 0; i < 30; i++ {
				tool := "web_search"
				if i%10 == 0 {
					tool = "legal_matter"
				}
				old = append(old, fmt.Sprintf(`{"id":"old-%d","type":"tool_call","tool":"%s","content":"oldword%d ancientmarker"}`, i, tool, i))
			}
			ts.cli(strings.Join(old, "\n")+"\n", "ingest", "-")
			hold := strings.TrimSpace(mustCLI(t, ts, 0, "hold", "add", "--query", "tool:legal_matter", "--reason", "matter 42"))
			if !strings.HasPrefix(hold, "hold_") {
				t.Fatalf("hold add printed %q", hold)
			}
			if out := mustCLI(t, ts, 0, "hold", "list"); !strings.Contains(out, "matter 42") || !strings.Contains(out, "tool:legal_matter") {
				t.Fatalf("hold list: %s", out)
			}
			time.Sleep(2100 * time.Millisecond)
			ts.cli(`{"id":"new-1","type":"prompt","content":"freshword ancientmarker"}`+"\n", "ingest", "-")
			mustCLI(t, ts, 0, "retention", "set", "--keep", "2s", "--allow-short")
			out := mustCLI(t, ts, 0, "retention", "run")
			var run retentionRun
			json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &run)
			// 27 of the test's events, and any access records of its own
			// reads older than 2 s (more when the machine is slow).
			if run.Deleted < 27 || run.Held != 3 || len(run.Tombstones) != 1 {
				t.Fatalf("retention run: %s", out)
			}
			// Old events are gone from search and get; held and new ones stay.
			ids := searchIDs(t, ts, "ancientmarker")
			if len(ids) != 4 {
				t.Fatalf("after retention, ancientmarker finds %v, want the 3 held and the new one", ids)
			}
			if code, body := ts.do("GET", "/v1/events/old-1", ""); code != 200 || !strings.Contains(body, `"status":"deleted"`) || strings.Contains(body, "oldword1") {
				t.Fatalf("deleted event reads as %d %s", code, body)
			}
			if ids := searchIDs(t, ts, "type:tombstone"); len(ids) != 1 {
				t.Fatalf("tombstones: %v", ids)
			}
			mustCLI(t, ts, 0, "verify")
			// A second run finds nothing more; releasing the hold lets
			// retention take what it kept.
			out = mustCLI(t, ts, 0, "retention", "run")
			if ids := searchIDs(t, ts, "ancientmarker"); len(ids) != 4 {
				t.Fatalf("a second run took held events (%v): %s", ids, out)
			}
			mustCLI(t, ts, 0, "hold", "release", hold)
			time.Sleep(2100 * time.Millisecond)
			out = mustCLI(t, ts, 0, "retention", "run")
			run = retentionRun{}
			json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &run)
			// The 3 events the hold kept, new-1, and the access records of
			// this test's reads, all older than 2 s now.
			if run.Deleted < 4 || run.Held != 0 {
				t.Fatalf("run after release: %s", out)
			}
			if ids := searchIDs(t, ts, "ancientmarker"); len(ids) != 0 {
				t.Fatalf("after the hold was released and retention ran: %v", ids)
			}
			// Locking: the policy may only lengthen.
			mustCLI(t, ts, 0, "retention", "set", "--days", "30", "--lock")
			if _, errOut, code := ts.cli("", "retention", "set", "--days", "7"); code != 4 || !strings.Contains(errOut, "locked") {
				t.Fatalf("shortening a locked policy: exit %d %s", code, errOut)
			}
			mustCLI(t, ts, 0, "retention", "set", "--preset", "hipaa")
			if out := mustCLI(t, ts, 0, "retention", "show"); !strings.Contains(out, `"keep_days": 2190`) || !strings.Contains(out, `"locked": true`) {
				t.Fatalf("retention show: %s", out)
			}
			// The changes are on record.
			if out := mustCLI(t, ts, 0, "logs", "search", "--query", "type:config_change", "--format", "jsonl"); strings.Count(out, "retention.set") < 3 || !strings.Contains(out, "hold.add") || !strings.Contains(out, "hold.release") {
				t.Fatalf("config changes: %s", out)
			}
			mustCLI(t, ts, 0, "verify")
			ts.close()
			args := verifyDataArgs(dir, mk)
			if out, _, code := ts.cli("", args...); code != 0 || !strings.Contains(out, "INTACT") {
				t.Fatalf("verify --data: exit %d\n%s", code, out)
			}
			if !encrypted {
				if f := scanFiles(t, dir, []string{"oldword1", "oldword5"}); len(f) > 0 {
					t.Errorf("deleted words remain in %v", f)
				}
			}
			// A body deleted without a tombstone is tampering.
			db, err := sql.Open("sqlite", filepath.Join(dir, "ledger.db"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`UPDATE events SET body=NULL, salt=NULL WHERE g=(SELECT max(g) FROM events WHERE type='access')`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			out, _, code := ts.cli("", append(args, "--format", "json")...)
			if code != 1 || !strings.Contains(out, `"kind": "deleted"`) {
				t.Fatalf("verify after an unlawful deletion: exit %d\n%s", code, out)
			}
		})
	}
}

// Erasure at the CLI: the subject's events become unreadable and leave the
// index, held ones survive, other users are untouched, the erasure and the
// subject export are on record, and verify stays clean.
func TestEraseCLI(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			dir := t.TempDir()
			mk := ""
			if encrypted {
				mk = writeMasterKey(t)
			}
			ts := startServer(t, dir, func(c *serveConfig) { c.MasterKeyFile = mk; c.RetentionEvery = 0 })
			var lines []string
			for i := 0; i < 12; i++ {
				user, word := "alice@example.com", fmt.Sprintf("alicesecretword%d", i)
				if i%2 == 1 {
					user, word = "bob", fmt.Sprintf("bobword%d", i)
				}
				tool := "chat"
				if i == 4 {
					tool = "litigation"
				}
				lines = append(lines, fmt.Sprintf(`{"id":"e%d","type":"prompt","user_id":"%s","session_id":"s%d","tool":"%s","content":"%s commonword"}`, i, user, i%3, tool, word))
			}
			ts.cli(strings.Join(lines, "\n")+"\n", "ingest", "-")
			// The subject export lists exactly alice's events.
			out := mustCLI(t, ts, 0, "subject", "export", "--user", "alice@example.com")
			var doc struct {
				Count  int               `json:"count"`
				Events []json.RawMessage `json:"events"`
			}
			if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &doc); err != nil || doc.Count != 6 || len(doc.Events) != 6 || strings.Contains(out, "bobword") {
				t.Fatalf("subject export (%v): %s", err, out)
			}
			hold := strings.TrimSpace(mustCLI(t, ts, 0, "hold", "add", "--query", "tool:litigation", "--reason", "case 7"))
			if _, errOut, code := ts.cli("", "erase", "--user", "alice@example.com"); code != 2 || !strings.Contains(errOut, "--yes") {
				t.Fatalf("erase without --yes: %d %s", code, errOut)
			}
			out = mustCLI(t, ts, 0, "erase", "--user", "alice@example.com", "--yes")
			if !strings.Contains(out, `"erased": 5`) || !strings.Contains(out, `"held": 1`) {
				t.Fatalf("erase: %s", out)
			}
			// Wait for the index to take the tombstone.
			deadline := time.Now().Add(10 * time.Second)
			var ids []string
			for time.Now().Before(deadline) {
				if ids = searchIDs(t, ts, "commonword"); len(ids) == 7 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if len(ids) != 7 {
				t.Fatalf("after erasure commonword finds %v: want bob's 6 and the held e4", ids)
			}
			// (Not searched by the address: the access record of that search
			// would hold it, rightly, in the audit trail.)
			out = mustCLI(t, ts, 0, "subject", "export", "--user", "alice@example.com")
			if !strings.Contains(out, `"count": 1`) || !strings.Contains(out, `"e4"`) {
				t.Fatalf("alice's surviving events: %s, want only the held e4", out)
			}
			if code, body := ts.do("GET", "/v1/events/e0", ""); code != 200 || strings.Contains(body, "alicesecretword0") || !strings.Contains(body, `"status":"deleted"`) {
				t.Fatalf("erased event reads as %d %s", code, body)
			}
			if code, body := ts.do("GET", "/v1/events/e4", ""); code != 200 || !strings.Contains(body, "alicesecretword4") {
				t.Fatalf("held event: %d %s", code, body)
			}
			if ids := searchIDs(t, ts, "bobword3"); len(ids) != 1 {
				t.Fatalf("bob's events changed: %v", ids)
			}
			if out := mustCLI(t, ts, 0, "logs", "search", "--query", "type:tombstone OR type:config_change", "--format", "jsonl"); !strings.Contains(out, `"cause":"erasure"`) || !strings.Contains(out, "subject.export") || strings.Contains(out, "alice@example.com") {
				t.Fatalf("the erasure and export records (which must not name the subject in clear): %s", out)
			}
			mustCLI(t, ts, 0, "verify")
			// Released, the hold's event can be erased by a second request.
			mustCLI(t, ts, 0, "hold", "release", hold)
			if out := mustCLI(t, ts, 0, "erase", "--user", "alice@example.com", "--yes"); !strings.Contains(out, `"erased": 1`) {
				t.Fatalf("second erase: %s", out)
			}
			mustCLI(t, ts, 0, "verify")
			ts.close()
			args := verifyDataArgs(dir, mk)
			if out, _, code := ts.cli("", args...); code != 0 {
				t.Fatalf("verify --data after erasure: exit %d\n%s", code, out)
			}
			if f := scanFiles(t, dir, []string{"alicesecretword0", "alicesecretword4", "alice@example.com"}); len(f) > 0 {
				t.Errorf("erased data remains in clear: %v", f)
			}
			if encrypted {
				db, _ := sql.Open("sqlite", filepath.Join(dir, "ledger.db"))
				var live int
				db.QueryRow(`SELECT count(*) FROM data_keys WHERE wrapped IS NULL`).Scan(&live)
				db.Close()
				if live < 1 {
					t.Errorf("no data key was destroyed (crypto-shredding)")
				}
			}
		})
	}
}

// clawtrail hash: a leaked key is found by its fingerprint, never stored.
func TestHashFindsRedactedSecret(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	secret := "sk-ant-api03-Hh3Jk5Lm7Np9Qr1St3Uv5Wx7Yz9Ab1Cd3Ef5"
	ts.cli(fmt.Sprintf(`{"id":"leak-1","type":"tool_call","session_id":"s-leak","arguments":{"cmd":"curl -H 'x-api-key: %s' https://api.anthropic.com"}}`+"\n", secret), "ingest", "-")
	out := mustCLI(t, ts, 0, "hash", secret)
	if !strings.Contains(out, "leak-1") || !strings.Contains(out, "anthropic_key") || !strings.Contains(out, "arguments.cmd") {
		t.Fatalf("hash: %s", out)
	}
	out = mustCLI(t, ts, 0, "hash", "sk-ant-api03-NeverLeakedNeverLeakedNeverLeaked00")
	if !strings.Contains(out, "not found") {
		t.Fatalf("hash of an unseen key: %s", out)
	}
	ts.close()
	if f := scanFiles(t, dir, []string{secret}); len(f) > 0 {
		t.Fatalf("the secret is on disk: %v", f)
	}
}

// Roles and tenants on the data-protection endpoints: readers and ingest
// keys may do none of it, auditors may look, admins act on their own tenant
// only (another tenant's subject is not even found), and every refusal is a
// 403.
func TestDataProtectionRoles(t *testing.T) {
	ts := startServer(t, t.TempDir(), noQueryLimit)
	acIngest(t, ts, "acme", `{"id":"a1","type":"prompt","user_id":"carol","content":"acme words"}`)
	acIngest(t, ts, "beta", `{"id":"b1","type":"prompt","user_id":"carol","content":"beta words"}`)
	keys := map[string]acKey{}
	for _, role := range []string{"ingest", "reader", "auditor", "admin"} {
		keys[role] = acCreateKey(t, ts, "acme", role, role+"-key", "")
	}
	type call struct{ method, path, body string }
	reads := []call{{"GET", "/v1/retention", ""}, {"GET", "/v1/holds", ""}, {"POST", "/v1/hash", `{"value":"x"}`}}
	writes := []call{{"PUT", "/v1/retention", `{"days":30}`}, {"POST", "/v1/retention/run", ""}, {"POST", "/v1/holds", `{"reason":"r"}`},
		{"POST", "/v1/erase", `{"user":"nobody"}`}, {"GET", "/v1/subjects/export?user=carol", ""}}
	for role, k := range keys {
		for _, c := range append(append([]call{}, reads...), writes...) {
			st, _, body := acReq(t, ts, c.method, c.path, c.body, bearerOf(k.token))
			isRead := slices.ContainsFunc(reads, func(r call) bool { return r == c })
			allowed := role == "admin" || role == "auditor" && isRead
			if allowed && st/100 != 2 || !allowed && st != 403 {
				t.Errorf("%s %s %s: %d %s", role, c.method, c.path, st, body)
			}
		}
	}
	// The acme admin's subject export holds acme's carol only.
	st, _, body := acReq(t, ts, "GET", "/v1/subjects/export?user=carol", "", bearerOf(keys["admin"].token))
	if st != 200 || !strings.Contains(body, "acme words") || strings.Contains(body, "beta") {
		t.Fatalf("subject export: %d %s", st, body)
	}
	// Naming another tenant is refused for a tenant admin.
	if st, _, _ := acReq(t, ts, "POST", "/v1/erase?tenant=beta", `{"user":"carol"}`, bearerOf(keys["admin"].token)); st != 403 {
		t.Fatalf("acme admin erasing in beta: %d", st)
	}
	if st, _, body := acReq(t, ts, "GET", "/v1/events/b1?tenant=beta", "", bearerOf(ts.token)); st != 200 || !strings.Contains(body, "beta words") {
		t.Fatalf("beta's event after acme's erasures: %d %s", st, body)
	}
	// Bad input names the problem.
	for _, c := range []struct{ method, path, body, want string }{
		{"PUT", "/v1/retention", `{"keep":"forever"}`, "30d"},
		{"PUT", "/v1/retention", `{"days":30,"keep":"30d"}`, "not both"},
		{"PUT", "/v1/retention", `{"keep":"2h"}`, "allow-short"},
		{"POST", "/v1/holds", `{"query":"tool:(","reason":"r"}`, "query"},
		{"POST", "/v1/holds", `{"query":"tool:x"}`, "reason"},
		{"POST", "/v1/erase", `{}`, "user"},
		{"DELETE", "/v1/holds/hold_nope", ``, "no active hold"},
	} {
		st, _, body := acReq(t, ts, c.method, c.path, c.body, bearerOf(keys["admin"].token))
		if st/100 != 4 || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %s: %d %s (want a 4xx naming %q)", c.method, c.path, c.body, st, body, c.want)
		}
	}
}

// Redaction rules from the YAML configuration: personal-data detectors per
// tenant, custom patterns, field rules; a bad rule stops the server.
func TestRedactionConfig(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "clawtrail.yaml")
	os.WriteFile(cfgFile, []byte(`redaction:
  default:
    patterns:
      - {name: internal_token, regex: 'itk_[A-Za-z0-9]{12}'}
    fields:
      - {field: attributes.customer.ssn, action: drop}
  tenants:
    acme:
      enable: [email]
      fields:
        - {field: user_id, action: hmac}
`), 0o600)
	var cfg serveConfig
	fs := pflagSet(t, "--config", cfgFile)
	if err := cfg.load(fs, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, dir, func(c *serveConfig) { c.Redaction = cfg.Redaction })
	acIngest(t, ts, "acme", `{"id":"r1","type":"tool_call","user_id":"dave@example.com","arguments":{"to":"erin@example.com","tok":"itk_abcdefABCDEF"},"attributes":{"customer":{"ssn":"123-45-6789","name":"Erin"}}}`)
	acIngest(t, ts, "beta", `{"id":"r2","type":"tool_call","user_id":"dave@example.com","arguments":{"to":"erin@example.com","tok":"itk_abcdefABCDEF"}}`)
	_, _, a := acReq(t, ts, "GET", "/v1/events/r1?tenant=acme", "", bearerOf(ts.token))
	_, _, b := acReq(t, ts, "GET", "/v1/events/r2?tenant=beta", "", bearerOf(ts.token))
	for _, want := range []string{`"user_id":"hmac:`, `[REDACTED:email]`, `[REDACTED:internal_token]`, `"name":"Erin"`} {
		if !strings.Contains(a, want) {
			t.Errorf("acme's event lacks %s: %s", want, a)
		}
	}
	for _, gone := range []string{"dave@example.com", "erin@example.com", "itk_abcdef", "123-45-6789"} {
		if strings.Contains(a, gone) {
			t.Errorf("acme's event still holds %s: %s", gone, a)
		}
	}
	if !strings.Contains(b, "erin@example.com") || !strings.Contains(b, `"user_id":"dave@example.com"`) || strings.Contains(b, "itk_abcdef") {
		t.Errorf("beta (email not enabled, no hmac rule): %s", b)
	}
	// The pseudonymised user is still found and erased by its raw value.
	st, _, body := acReq(t, ts, "GET", "/v1/subjects/export?tenant=acme&user=dave@example.com", "", bearerOf(ts.token))
	if st != 200 || !strings.Contains(body, `"count":1`) {
		t.Fatalf("subject export by the raw value of a pseudonymised user: %d %s", st, body)
	}
	st, _, body = acReq(t, ts, "POST", "/v1/erase?tenant=acme", `{"user":"dave@example.com"}`, bearerOf(ts.token))
	if st != 200 || !strings.Contains(body, `"erased":1`) {
		t.Fatalf("erase by the raw value: %d %s", st, body)
	}

	// A bad rule stops serve at load, naming the tenant and the rule.
	os.WriteFile(cfgFile, []byte("redaction:\n  tenants:\n    acme:\n      enable: [emial]\n"), 0o600)
	err := (&serveConfig{}).load(pflagSet(t, "--config", cfgFile), func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), `tenant "acme"`) || !strings.Contains(err.Error(), "emial") {
		t.Fatalf("bad rule: %v", err)
	}
}

func pflagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	(&serveConfig{}).registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// The server applies retention policies on its own, every interval.
func TestRetentionJob(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *serveConfig) { c.RetentionEvery = 300 * time.Millisecond })
	ts.cli(`{"id":"j1","type":"prompt","content":"ephemeralword"}`+"\n", "ingest", "-")
	mustCLI(t, ts, 0, "retention", "set", "--keep", "1s", "--allow-short")
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if code, body := ts.do("GET", "/v1/events/j1", ""); code == 200 && strings.Contains(body, `"status":"deleted"`) {
			mustCLI(t, ts, 0, "verify")
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the retention job did not delete the expired event")
}

// verifyDataArgs is `verify --data DIR`, with the master key when there is one.
func verifyDataArgs(dir, masterKey string) []string {
	args := []string{"verify", "--data", dir}
	if masterKey != "" {
		args = append(args, "--master-key-file", masterKey)
	}
	return args
}
