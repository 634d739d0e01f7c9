package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mountSmall mounts a tmpfs of size bytes at a new directory and unmounts it
// when the test ends. Mounting needs root (CAP_SYS_ADMIN): without it the
// test skips, except under CI=true, where it must run.
func mountSmall(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a %s tmpfs for the disk-full test (needs root): %v\n%s", size, err, out)
		}
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull runs the real server on a 24 MiB file system and ingests
// until it is full: ingest is refused with 507 and a clear message, nothing
// of a refused request is stored, the server stays up, every acknowledged
// event is kept, ingest resumes once space returns, and the ledger verifies.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := mountSmall(t, "24m")
	p := startProc(t, dir)
	defer func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
	}()

	var (
		mu       sync.Mutex
		acked    = map[string]bool{}
		refused  = map[string]bool{}
		full507  []string // bodies of the 507 answers
		other    []string
		filler   = strings.Repeat("lorem ipsum dolor sit amet ", 40) // ~1 KB per event
		requests int
	)
	// post one request of 20 events; the outcome is recorded by id.
	post := func(prefix string, i int) int {
		var b strings.Builder
		var ids []string
		for j := 0; j < 20; j++ {
			id := fmt.Sprintf("%s-%d-%d", prefix, i, j)
			ids = append(ids, id)
			fmt.Fprintf(&b, `{"id":%q,"type":"tool_call","tool":"exec","content":%q}`+"\n", id, fmt.Sprint(id, " ", filler))
		}
		st, body, err := p.post(b.String())
		if err != nil {
			t.Errorf("request %s-%d: %v (did the server die?)", prefix, i, err)
			return -1
		}
		mu.Lock()
		defer mu.Unlock()
		requests++
		switch st {
		case 200:
			for _, id := range ids {
				acked[id] = true
			}
		case 507:
			full507 = append(full507, body)
			for _, id := range ids {
				refused[id] = true
			}
		default:
			other = append(other, fmt.Sprint(st, " ", body))
		}
		return st
	}

	// Four writers until each has seen ten 507s in a row.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			streak := 0
			for i := 0; streak < 10 && i < 100000; i++ {
				switch post(fmt.Sprintf("w%d", w), i) {
				case 507:
					streak++
				case -1:
					return
				default:
					streak = 0
				}
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(other) > 0 {
		t.Fatalf("answers other than 200 and 507 while the disk filled: %d, first %s", len(other), other[0])
	}
	if len(full507) == 0 {
		t.Fatalf("%d requests, none refused with 507: the disk never filled", requests)
	}
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(full507[0]), &eb); err != nil || eb.Error.Code != "storage_full" ||
		!strings.Contains(eb.Error.Message, "no space") || !strings.Contains(eb.Error.Message, "nothing of this request was stored") {
		t.Fatalf("507 body is not a clear storage_full error: %s", full507[0])
	}
	t.Logf("full after %d acknowledged events; %d requests refused with 507: %s", len(acked), len(full507), eb.Error.Message)

	// The server is still up.
	if resp, err := http.Get(p.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz on the full disk: %v %v", resp, err)
	}

	// Space returns: the file system grows, and ingest resumes without a restart.
	if out, err := exec.Command("mount", "-o", "remount,size=96m", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount larger: %v %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		st := post("after", i)
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not resume within 20 s after space returned (last status %d)", st)
		}
		time.Sleep(100 * time.Millisecond)
	}

	ids, seqs := p.exportIDs(t)
	for id := range acked {
		if ids[id] != 1 {
			t.Fatalf("acknowledged event %s is stored %d times", id, ids[id])
		}
	}
	for id := range refused {
		if ids[id] != 0 {
			t.Fatalf("event %s of a request refused with 507 was stored", id)
		}
	}
	if len(ids) != len(acked) {
		t.Fatalf("%d events stored, %d acknowledged", len(ids), len(acked))
	}
	seen := map[int64]bool{}
	for _, s := range seqs {
		seen[s] = true
	}
	for s := int64(0); s < int64(len(seqs)); s++ {
		if !seen[s] {
			t.Fatalf("seq %d missing of %d: not dense (first seqs %v)", s, len(seqs), seqs[:min(len(seqs), 30)])
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
	if out, err := exec.Command(binary(t), "verify", "--data", dir, "--no-memory").CombinedOutput(); err != nil {
		t.Fatalf("verify after the disk filled: %v\n%s", err, out)
	}
}
