package main

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ledger"
)

func mustCLI(t *testing.T, ts *testServer, want int, args ...string) string {
	t.Helper()
	out, errOut, code := ts.cli("", args...)
	if code != want {
		t.Fatalf("clawtrail %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out + errOut
}

// The README tour of tamper evidence: verify against the server and the
// data directory, pin the key, export a bundle and check it offline.
func TestVerifyTour(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	if _, _, code := ts.cli(seedExamples(t), "ingest", "-"); code != 0 {
		t.Fatal("ingest failed")
	}
	out := mustCLI(t, ts, 0, "verify")
	if !strings.Contains(out, "INTACT") || !strings.Contains(out, "5 events") {
		t.Fatalf("verify: %s", out)
	}
	if out := mustCLI(t, ts, 0, "verify", "--data", dir); !strings.Contains(out, "INTACT") {
		t.Fatalf("verify --data: %s", out)
	}
	key := strings.TrimSpace(mustCLI(t, ts, 0, "keys", "public"))
	if !strings.Contains(key, "/clawtrail+") {
		t.Fatalf("keys public printed %q", key)
	}
	if k2 := strings.TrimSpace(mustCLI(t, ts, 0, "keys", "public", "--data", dir)); k2 != key {
		t.Fatalf("keys public --data %q differs from the server's %q", k2, key)
	}
	mustCLI(t, ts, 0, "verify", "--public-key", key)
	bundle := filepath.Join(t.TempDir(), "evidence.jsonl")
	mustCLI(t, ts, 0, "logs", "export", "--bundle", "--query", "type:tool_call", "--output", bundle)
	out = mustCLI(t, ts, 0, "verify", "--bundle", bundle, "--public-key", key)
	if !strings.Contains(out, "INTACT") {
		t.Fatalf("verify --bundle: %s", out)
	}
	b, _ := os.ReadFile(bundle)
	if n := strings.Count(string(b), "\n"); n < 3 {
		t.Fatalf("bundle has %d lines:\n%s", n, b)
	}
	// The JSON report names the problem, its seq and kind.
	tampered := strings.Replace(string(b), `"tool":"`, `"tool":"x`, 1)
	os.WriteFile(bundle, []byte(tampered), 0o600)
	out = mustCLI(t, ts, 1, "verify", "--bundle", bundle, "--public-key", key, "--format", "json")
	var rep struct {
		OK      bool `json:"ok"`
		Tenants []ledger.Report
	}
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil || rep.OK || len(rep.Tenants) != 1 || rep.Tenants[0].Findings[0].Kind != ledger.KindModified {
		t.Fatalf("tampered bundle report: %v %s", err, out)
	}
	// A key that is not the log's: forged.
	_, other, _ := ledger.GenerateSigningKey("evil/clawtrail")
	os.WriteFile(bundle, b, 0o600)
	if out := mustCLI(t, ts, 1, "verify", "--bundle", bundle, "--public-key", other); !strings.Contains(out, "forged_checkpoint") {
		t.Fatalf("verify with another key: %s", out)
	}
	mustCLI(t, ts, 2, "verify", "--public-key", "not-a-key")
	mustCLI(t, ts, 2, "verify", "--witness-quorum", "-1")
	// The ledger stream stops at the tree, whatever to= asks.
	if code, body := ts.do("GET", "/v1/ledger?to=9223372036854775807", ""); code != 200 || len(body) == 0 || len(body) > 1<<20 {
		t.Fatalf("GET /v1/ledger?to=max: %d, %d bytes", code, len(body))
	}
	mustCLI(t, ts, 2, "verify", "--bundle", bundle, "--data", dir)
}

// Ingest with ?wait=checkpoint returns a receipt whose proofs verify
// against the signed checkpoint it carries.
func TestIngestReceipt(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.do("POST", "/v1/events", seedExamples(t), "Content-Type", "application/x-ndjson")
	code, body := ts.do("POST", "/v1/events?wait=checkpoint", `[{"type":"prompt","content":"a"},{"type":"output","content":"b"}]`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var res struct {
		CheckpointSize int64           `json:"checkpoint_size"`
		Receipt        httpapi.Receipt `json:"receipt"`
	}
	json.Unmarshal([]byte(body), &res)
	key := strings.TrimSpace(mustCLI(t, ts, 0, "keys", "public"))
	keys, _ := ledger.NewKeyring(key)
	cp, err := ledger.OpenCheckpoint([]byte(res.Receipt.Checkpoint), "", keys)
	if err != nil || cp.Size != 7 || res.CheckpointSize != 7 || len(res.Receipt.Proofs) != 2 {
		t.Fatalf("receipt: %v %s", err, body)
	}
	for _, p := range res.Receipt.Proofs {
		leaf, err := ledger.ParseLeaf(p.Leaf)
		if err != nil || int64(leaf.Seq) != p.Seq || leaf.ID != p.ID {
			t.Fatalf("leaf %v %+v", err, leaf)
		}
		lh := ledger.LeafHash(p.Leaf)
		if err := ledger.VerifyInclusion(uint64(p.Seq), cp.Size, lh[:], p.Hashes, cp.Root[:]); err != nil {
			t.Fatalf("receipt proof of seq %d: %v", p.Seq, err)
		}
	}
	if code, body := ts.do("POST", "/v1/events?wait=forever", `{"type":"prompt"}`); code != 400 || !strings.Contains(body, "wait") {
		t.Fatalf("bad wait: %d %s", code, body)
	}
	// Proof endpoints check their parameters.
	for path, want := range map[string]int{"/v1/proof/inclusion?seq=99": 400, "/v1/proof/inclusion": 400, "/v1/proof/consistency?from=3&to=2": 400,
		"/v1/proof/consistency?from=x": 400, "/v1/proof/inclusion?seq=0&size=3": 200, "/v1/proof/consistency?from=2": 200} {
		if code, body := ts.do("GET", path, ""); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
		}
	}
}

// The CLI remembers the checkpoint it verified; a server that later shows
// a different history, even one consistent in itself and signed by the
// same key, is caught.
func TestVerifyClientMemoryCatchesRewrite(t *testing.T) {
	conf := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir1 := t.TempDir()
	ts := startServer(t, dir1, func(c *serveConfig) { c.Listen = addr })
	ts.env = map[string]string{"CLAWTRAIL_CONFIG_DIR": conf}
	ts.cli(seedExamples(t), "ingest", "-")
	mustCLI(t, ts, 0, "verify")
	mustCLI(t, ts, 0, "verify") // the remembered checkpoint is consistent with itself
	if ents, _ := os.ReadDir(filepath.Join(conf, "checkpoints")); len(ents) != 1 {
		t.Fatalf("memory: %v", ents)
	}
	ts.close()

	// The operator rebuilds the ledger from scratch with the same key and
	// different events: internally consistent, validly signed.
	dir2 := t.TempDir()
	key, _ := os.ReadFile(filepath.Join(dir1, "signing.key"))
	os.WriteFile(filepath.Join(dir2, "signing.key"), key, 0o600)
	ts2 := startServer(t, dir2, func(c *serveConfig) { c.Listen = addr })
	ts2.env = ts.env
	ts2.cli(strings.ReplaceAll(seedExamples(t), "send_email", "send_mail")+`{"type":"prompt","content":"more"}`+"\n", "ingest", "-")
	out := mustCLI(t, ts2, 1, "verify")
	if !strings.Contains(out, "rewritten") {
		t.Fatalf("rewritten history not caught:\n%s", out)
	}
	mustCLI(t, ts2, 0, "verify", "--no-memory")
}

// keys rotate-signing: new checkpoints are signed by the new key, old ones
// stay verifiable with the old key, published in the history.
func TestRotateSigning(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, func(c *serveConfig) { c.CheckpointEvery = 1 })
	ts.cli(seedExamples(t), "ingest", "-")
	old := strings.TrimSpace(mustCLI(t, ts, 0, "keys", "public"))
	rotated := mustCLI(t, ts, 0, "keys", "rotate-signing")
	ts.cli(seedExamples(t), "ingest", "-") // duplicates: nothing new
	ts.do("POST", "/v1/events", `{"type":"prompt","content":"after rotation"}`)
	cur := strings.TrimSpace(mustCLI(t, ts, 0, "keys", "public"))
	if cur == old || !strings.Contains(rotated, cur) {
		t.Fatalf("rotation: old %q new %q printed %q", old, cur, rotated)
	}
	all := mustCLI(t, ts, 0, "keys", "public", "--all")
	if !strings.Contains(all, old) || !strings.Contains(all, cur) || !strings.Contains(all, "to current") {
		t.Fatalf("key history: %s", all)
	}
	mustCLI(t, ts, 0, "verify")
	mustCLI(t, ts, 0, "verify", "--public-key", old, "--public-key", cur)
	mustCLI(t, ts, 0, "verify", "--data", dir, "--public-key", old, "--public-key", cur)
	// Pinning only the old key: the new checkpoints are not trusted.
	if out := mustCLI(t, ts, 1, "verify", "--public-key", old); !strings.Contains(out, "forged_checkpoint") {
		t.Fatalf("%s", out)
	}
	// Only the root key may rotate.
	code, body := ts.do("POST", "/v1/admin/rotate-signing", "", "Authorization", "Bearer nope")
	if code != 401 {
		t.Fatalf("unauthenticated rotate: %d %s", code, body)
	}
	ts.close()
	// The data directory verifies offline with the history's keys.
	ts.cli("", "verify", "--data", dir)
	if _, _, code := ts.cli("", "verify", "--data", dir); code != 0 {
		t.Fatal("verify --data after rotation failed")
	}
}

// A search for a secret leaves an access record that does not hold it.
func TestAccessQueryRedacted(t *testing.T) {
	ts := startServer(t, t.TempDir())
	secret := "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123"
	ts.do("GET", "/v1/events?q="+url.QueryEscape(`"`+secret+`"`), "")
	var body string
	for i := 0; i < 50; i++ {
		_, body = ts.do("GET", "/v1/events?wait_seq=latest&q=type:access", "")
		if strings.Contains(body, "REDACTED") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(body, secret) || !strings.Contains(body, "[REDACTED:anthropic_key]") {
		t.Fatalf("access records: %s", body)
	}
}
