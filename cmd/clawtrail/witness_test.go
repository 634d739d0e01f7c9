package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/ledger"
)

// witnessState reads the witness's single state file.
func readWitnessState(t *testing.T, dir string) (string, map[string]any) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("witness state files %v, want one", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return files[0], st
}

func writeWitnessState(t *testing.T, path string, st map[string]any) {
	t.Helper()
	b, _ := json.Marshal(st)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWitnessCosignsAndVerifyRequiresIt(t *testing.T) {
	ts := startServer(t, t.TempDir())
	if _, e, code := ts.cli(seedExamples(t), "ingest", "-"); code != 0 {
		t.Fatalf("ingest: %s", e)
	}
	out, e, code := ts.cli("", "keys", "public")
	if code != 0 {
		t.Fatalf("keys public: %s", e)
	}
	logKey := strings.TrimSpace(out)
	state := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "witness.key")
	witness := func() (string, string, int) {
		return ts.cli("", "witness", "--log", ts.url, "--public-key", logKey, "--key", keyFile,
			"--name", "witness.test/w1", "--state", state, "--once")
	}

	// First run: creates the key, prints its public key, cosigns size 5.
	out, e, code = witness()
	if code != 0 || !strings.Contains(e, "cosigned") {
		t.Fatalf("witness: exit %d, stdout %q, stderr %q", code, out, e)
	}
	wkey := strings.TrimSpace(out)
	if !strings.HasPrefix(wkey, "witness.test/w1+") || strings.Contains(wkey, "\n") {
		t.Fatalf("witness printed %q, want its public key", out)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("witness key file: %v %v", fi, err)
	}
	keys, _ := ledger.NewKeyring(logKey)
	if err := keys.AddWitnessKey(wkey); err != nil {
		t.Fatalf("the printed key is not a witness key: %v", err)
	}
	// The log serves the cosignature with its latest and its witnessed
	// checkpoint.
	for _, path := range []string{"/v1/checkpoint", "/v1/checkpoint?witnessed=true"} {
		st, body := ts.do("GET", path, "")
		cp, err := ledger.OpenCheckpoint([]byte(body), "", keys)
		if st != 200 || err != nil || cp.Size != 5 || len(keys.WitnessedBy(cp)) != 1 {
			t.Fatalf("GET %s = %d %q (%v): want the size 5 checkpoint cosigned by the witness", path, st, body, err)
		}
	}
	_, st := readWitnessState(t, state)
	if st["size"] != float64(5) {
		t.Fatalf("witness state %v, want size 5", st)
	}
	out, e, code = ts.cli("", "verify", "--public-key", logKey, "--witness-key", wkey)
	if code != 0 {
		t.Fatalf("verify --witness-key: exit %d\n%s%s", code, out, e)
	}

	// The log records its own readers (verify above left an access record,
	// appended within 200 ms): let it settle, and read its size.
	curSize := func() int {
		time.Sleep(500 * time.Millisecond)
		_, cur := ts.do("GET", "/v1/checkpoint", "")
		n, _ := strconv.Atoi(strings.Split(cur, "\n")[1])
		return n
	}
	curSize()
	witness() // cosigns the access record's growth

	// Nothing new: the witness has nothing to do, prints no key again.
	if out, e, code = witness(); code != 0 || out != "" || strings.Contains(e, "cosigned") {
		t.Fatalf("witness with nothing new: exit %d, stdout %q, stderr %q", code, out, e)
	}

	// The log grows: the witness checks the consistency proof and cosigns.
	if st, body := ts.do("POST", "/v1/events", `{"type":"prompt"}`+"\n"+`{"type":"output"}`, "Content-Type", "application/x-ndjson"); st != 200 {
		t.Fatalf("ingest: %d %s", st, body)
	}
	n := curSize()
	if out, e, code = witness(); code != 0 || !strings.Contains(e, fmt.Sprintf("at size %d", n)) {
		t.Fatalf("witness after growth to %d: exit %d, stdout %q, stderr %q", n, code, out, e)
	}
	path, st := readWitnessState(t, state)
	if st["size"] != float64(n) {
		t.Fatalf("witness state %v, want size %d", st, n)
	}
	if _, body := ts.do("GET", "/v1/checkpoint?witnessed=true", ""); !strings.Contains(body, fmt.Sprintf("\n%d\n", n)) {
		t.Fatalf("witnessed checkpoint after growth: %q", body)
	}
	if out, e, code = ts.cli("", "verify", "--witness-key", wkey); code != 0 {
		t.Fatalf("verify --witness-key after growth: exit %d\n%s%s", code, out, e)
	}

	// A state whose root at size 5 is not the log's: the consistency proof
	// fails and the witness refuses, keeping its state.
	good := st
	forked := map[string]any{"origin": st["origin"], "size": 5, "root": base64.StdEncoding.EncodeToString(make([]byte, 32))}
	writeWitnessState(t, path, forked)
	if out, e, code = witness(); code != 1 || !strings.Contains(e, "not append-only") {
		t.Fatalf("witness against an inconsistent history: exit %d, stdout %q, stderr %q", code, out, e)
	}
	if _, st = readWitnessState(t, state); st["size"] != float64(5) {
		t.Fatalf("a refused checkpoint moved the state: %v", st)
	}
	// Same size, another root: a fork.
	// (The log keeps growing by its own access records of the reads above:
	// take the size it has once they settled.)
	forked["size"] = curSize()
	writeWitnessState(t, path, forked)
	if out, e, code = witness(); code != 1 || !strings.Contains(e, "forked") {
		t.Fatalf("witness against a fork: exit %d, stdout %q, stderr %q", code, out, e)
	}
	// The witness saw a larger tree before: the log rolled back.
	good["size"] = 100
	writeWitnessState(t, path, good)
	if out, e, code = witness(); code != 1 || !strings.Contains(e, "rolled back") {
		t.Fatalf("witness against a rolled back log: exit %d, stdout %q, stderr %q", code, out, e)
	}
	if _, st = readWitnessState(t, state); st["size"] != float64(100) {
		t.Fatalf("a refused checkpoint moved the state: %v", st)
	}

	// A witness pinned to another log key refuses the checkpoint.
	other, _, _ := ledger.GenerateSigningKey("elsewhere/clawtrail")
	otherV, _ := ledger.VerifierKey(other)
	_, e, code = ts.cli("", "witness", "--log", ts.url, "--public-key", otherV, "--key", keyFile, "--state", t.TempDir(), "--once")
	if code != 1 || !strings.Contains(e, "--public-key") {
		t.Fatalf("witness with the wrong log key: exit %d, stderr %q", code, e)
	}
	// A bundle proven against the witnessed checkpoint carries the
	// cosignature; one against a later, uncosigned checkpoint does not.
	ts.do("POST", "/v1/events", `{"type":"prompt","content":"after the witness"}`)
	bundle := filepath.Join(t.TempDir(), "b.jsonl")
	if out, e, code = ts.cli("", "logs", "export", "--bundle", "--witnessed", "--output", bundle); code != 0 {
		t.Fatalf("export --bundle --witnessed: %d %s%s", code, out, e)
	}
	if out, e, code = ts.cli("", "verify", "--bundle", bundle, "--public-key", logKey, "--witness-key", wkey); code != 0 || !strings.Contains(out, "7 events") {
		t.Fatalf("verify a witnessed bundle: %d %s%s", code, out, e)
	}
	ts.cli("", "logs", "export", "--bundle", "--output", bundle)
	if out, e, code = ts.cli("", "verify", "--bundle", bundle, "--public-key", logKey, "--witness-key", wkey); code != 1 || !strings.Contains(out, "witness") {
		t.Fatalf("verify an unwitnessed bundle with a required witness: %d %s%s", code, out, e)
	}
}

func TestVerifyWitnessRequiredWithoutCosignature(t *testing.T) {
	ts := startServer(t, t.TempDir())
	if _, e, code := ts.cli(seedExamples(t), "ingest", "-"); code != 0 {
		t.Fatalf("ingest: %s", e)
	}
	if st, body := ts.do("GET", "/v1/checkpoint?witnessed=true", ""); st != 404 {
		t.Fatalf("witnessed checkpoint of a log no witness cosigned: %d %s", st, body)
	}
	_, v, _ := ledger.GenerateSigningKey("witness.test/w1")
	out, e, code := ts.cli("", "verify", "--witness-key", v)
	if code != 1 || !strings.Contains(out, "witness: the server has no witnessed checkpoint") {
		t.Fatalf("verify --witness-key without a cosignature: exit %d\n%s%s", code, out, e)
	}
}

func TestWitnessUsage(t *testing.T) {
	ts := startServer(t, t.TempDir())
	for _, args := range [][]string{
		{"witness", "--once", "--state", t.TempDir()},
		{"witness", "--once", "--log", ts.url, "--state", t.TempDir()},
		{"witness", "--once", "--log", ts.url, "--public-key", "nope", "--state", t.TempDir()},
	} {
		if _, e, code := ts.cli("", args...); code != 2 {
			t.Fatalf("%v: exit %d, %q; want 2", args, code, e)
		}
	}
}

// Without --once the witness keeps polling every tenant it is given, and
// cosigns each as it grows.
func TestWitnessPollsTenants(t *testing.T) {
	ts := startServer(t, t.TempDir())
	for _, tenant := range []string{"default", "acme"} {
		if st, body := ts.do("POST", "/v1/events?tenant="+tenant, `{"type":"prompt"}`); st != 200 {
			t.Fatalf("ingest %s: %d %s", tenant, st, body)
		}
	}
	logKey, _, _ := ts.cli("", "keys", "public")
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		getenv := func(k string) string {
			if k == "CLAWTRAIL_TOKEN" {
				return ts.token
			}
			return ""
		}
		done <- runEnv(ctx, []string{"witness", "--log", ts.url, "--public-key", strings.TrimSpace(logKey), "--state", state,
			"--name", "witness.test/w1", "--tenant", "default", "--tenant", "acme", "--interval", "50ms"},
			env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, getenv: getenv})
	}()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stderr.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("the witness did not log %q:\n%s", what, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("/acme at size 1")
	waitFor("/default at size 1")
	ts.do("POST", "/v1/events?tenant=acme", `{"type":"prompt"}`)
	waitFor("/acme at size 2")
	if _, body := ts.do("GET", "/v1/checkpoint?witnessed=true&tenant=acme", ""); !strings.Contains(body, "\n2\n") || !strings.Contains(body, "— witness.test/w1 ") {
		t.Fatalf("acme's witnessed checkpoint: %q", body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("witness exited %d:\n%s", code, stderr.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
