package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBackupWhileIngestingRestoreVerify: a backup taken while clients
// ingest holds every event acknowledged before it began; restore brings it
// back into a new directory, verify passes there, and a server started on
// it finds the events (the index rebuilt from the ledger).
func TestBackupWhileIngestingRestoreVerify(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	post := func(i int) bool {
		body := fmt.Sprintf(`{"id":"ev-%d","type":"tool_call","tool":"send_email","session_id":"s-backup","content":"n %d"}`, i, i)
		req, _ := http.NewRequest("POST", ts.url+"/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ts.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	for i := range 200 {
		if !post(i) {
			t.Fatal("ingest before the backup failed")
		}
	}
	var stop atomic.Bool
	var acked atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // keeps ingesting during the backup
		defer wg.Done()
		for i := 200; !stop.Load(); i++ {
			if post(i) {
				acked.Add(1)
			}
		}
	}()
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	stdout, errOut, code := ts.cli("", "backup", "--output", out)
	stop.Store(true)
	wg.Wait()
	if code != 0 || !strings.Contains(stdout, "backup written") {
		t.Fatalf("backup: %d %s %s", code, stdout, errOut)
	}
	if acked.Load() == 0 {
		t.Log("no event was acknowledged during the backup (a fast machine); the snapshot is still checked")
	}

	restored := filepath.Join(t.TempDir(), "restored")
	stdout, errOut, code = ts.cli("", "restore", out, "--data", restored)
	if code != 0 || !strings.Contains(stdout, "verifying") {
		t.Fatalf("restore: %d\n%s\n%s", code, stdout, errOut)
	}
	// The operator keeps the admin key; the ledger holds only its hash.
	tok, _ := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	os.WriteFile(filepath.Join(restored, AdminTokenFile), tok, 0o600)
	ts2 := startServer(t, restored, noQueryLimit)
	for i := range 200 {
		if code, body := ts2.do("GET", fmt.Sprintf("/v1/events/ev-%d", i), ""); code != 200 {
			t.Fatalf("event ev-%d acknowledged before the backup is missing after restore: %d %s", i, code, body)
		}
	}
	evs := sessionEvents(t, ts2, "s-backup")
	if len(evs) < 200 {
		t.Errorf("the rebuilt index finds %d events of the session, want at least 200", len(evs))
	}
	// verify on its own agrees.
	if _, errOut, code := ts2.cli("", "verify"); code != 0 {
		t.Errorf("verify against the restored server: %d %s", code, errOut)
	}
}

func TestBackupRestoreRefusals(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ts.cli(`{"type":"prompt","content":"x"}`+"\n", "ingest")
	reader, _, _ := ts.cli("", "keys", "create", "--tenant", "default", "--role", "admin")
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	ts.env = map[string]string{}
	// Only the root key: a backup holds every tenant and the signing key.
	_, errOut, code := runCLIWithToken(ts, strings.TrimSpace(reader), "backup", "--output", out)
	if code != exitUnauthz || !strings.Contains(errOut, "root key") {
		t.Errorf("backup with a tenant admin key: %d %s", code, errOut)
	}
	if _, errOut, code := ts.cli("", "backup", "--output", out); code != 0 {
		t.Fatalf("backup: %d %s", code, errOut)
	}
	// Not into a directory that holds a ledger.
	if _, errOut, code := ts.cli("", "restore", out, "--data", dir); code != exitUsage || !strings.Contains(errOut, "already holds a ledger") {
		t.Errorf("restore over a ledger: %d %s", code, errOut)
	}
	// A damaged archive is refused and leaves no ledger behind.
	b, _ := os.ReadFile(out)
	cut := filepath.Join(t.TempDir(), "cut.tar.gz")
	os.WriteFile(cut, b[:len(b)*2/3], 0o600)
	target := filepath.Join(t.TempDir(), "r")
	if _, errOut, code := ts.cli("", "restore", cut, "--data", target); code != exitUsage || !strings.Contains(errOut, "restore:") {
		t.Errorf("restore of a cut archive: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(target, "ledger.db")); err == nil {
		t.Error("a failed restore left a ledger behind")
	}
}

// runCLIWithToken runs a client command with another key.
func runCLIWithToken(ts *testServer, token string, args ...string) (string, string, int) {
	old := ts.token
	ts.token = token
	defer func() { ts.token = old }()
	return ts.cli("", args...)
}
