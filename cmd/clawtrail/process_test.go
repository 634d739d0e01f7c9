package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/sqlite"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the clawtrail command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "clawtrail-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "clawtrail")
		// The binary runs on the driver this test binary was built with.
		out, err := exec.Command("go", "build", "-tags", sqlite.BuildTags, "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	cmd   *exec.Cmd
	url   string
	token string
}

var addrRE = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

// startProc runs `clawtrail serve` as a real process.
func startProc(t *testing.T, dir string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--data", dir, "--listen", "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan string, 1) // the log line naming the address
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if addrRE.MatchString(sc.Text()) {
				serving <- sc.Text()
			}
		}
	}()
	select {
	case line := <-serving:
		// The process runs on the driver this test was built for.
		if !strings.Contains(line, sqlite.Driver) {
			cmd.Process.Kill()
			t.Fatalf("the server does not run on %s: %s", sqlite.Driver, line)
		}
		tok, _ := os.ReadFile(filepath.Join(dir, AdminTokenFile))
		return &proc{cmd: cmd, url: "http://" + addrRE.FindStringSubmatch(line)[1], token: strings.TrimSpace(string(tok))}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server process did not start")
	}
	return nil
}

func (p *proc) post(body string) (int, string, error) {
	req, _ := http.NewRequest("POST", p.url+"/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// exportIDs returns every stored event id and the seqs in ledger order.
func (p *proc) exportIDs(t *testing.T) (map[string]int, []int64) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/v1/export?format=jsonl&wait_seq=latest", nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ids := map[string]int{}
	var seqs []int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var ev struct {
			ID  string `json:"id"`
			Seq int64  `json:"seq"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		ids[ev.ID]++
		seqs = append(seqs, ev.Seq)
	}
	return ids, seqs
}

// TestKillNineLosesNothingAcknowledged kills the server with SIGKILL in the
// middle of concurrent ingest, restarts it, and checks that every
// acknowledged event is there exactly once and seqs stay dense.
// It ends with an offline verify of the data directory, which must be
// clean. CLAWTRAIL_CRASH_ROUNDS sets the number of rounds (default 20, the
// CI form; the long form is CLAWTRAIL_CRASH_ROUNDS=100).
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	rounds := 20
	if n, err := strconv.Atoi(os.Getenv("CLAWTRAIL_CRASH_ROUNDS")); err == nil {
		rounds = n
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	var mu sync.Mutex
	for round := 0; round < rounds; round++ {
		p := startProc(t, dir)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var b strings.Builder
					var ids []string
					for j := 0; j < 50; j++ {
						id := fmt.Sprintf("r%d-w%d-%d-%d", round, w, i, j)
						ids = append(ids, id)
						fmt.Fprintf(&b, `{"id":%q,"type":"tool_call","tool":"exec","content":"round %d"}`+"\n", id, round)
					}
					st, _, err := p.post(b.String())
					if err != nil {
						return // the server is gone
					}
					if st == 200 {
						mu.Lock()
						for _, id := range ids {
							acked[id] = true
						}
						mu.Unlock()
					}
				}
			}(w)
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		close(stop)
		wg.Wait()
	}
	p := startProc(t, dir)
	ids, seqs := p.exportIDs(t)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	// Every leaf, tree and checkpoint the crashes left is intact.
	if out, err := exec.Command(binary(t), "verify", "--data", dir, "--no-memory").CombinedOutput(); err != nil {
		t.Fatalf("verify after %d crashes: %v\n%s", rounds, err, out)
	}
	if len(acked) == 0 {
		t.Fatal("no request was acknowledged")
	}
	for id := range acked {
		if ids[id] != 1 {
			t.Fatalf("acknowledged event %s is stored %d times", id, ids[id])
		}
	}
	seen := map[int64]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Fatalf("seq %d twice", s)
		}
		seen[s] = true
	}
	for s := int64(0); s < int64(len(seqs)); s++ {
		if !seen[s] {
			t.Fatalf("seq %d missing of %d: not dense after crashes", s, len(seqs))
		}
	}
	t.Logf("%d rounds, %d acknowledged events, %d stored", rounds, len(acked), len(seqs))
}

// SIGTERM drains: a request in flight is answered, and the process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	p := startProc(t, dir)
	var b strings.Builder
	for j := 0; j < 20000; j++ {
		fmt.Fprintf(&b, `{"id":"d%d","type":"prompt","content":"drain me please"}`+"\n", j)
	}
	res := make(chan string, 1)
	go func() {
		st, body, err := p.post(b.String())
		res <- fmt.Sprint(st, " ", body, " ", err)
	}()
	time.Sleep(20 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
	got := <-res
	if !strings.HasPrefix(got, "200 ") || !strings.Contains(got, `"accepted":20000`) {
		// The request may have been refused before it was read; then nothing may be stored.
		p2 := startProc(t, dir)
		defer func() { p2.cmd.Process.Signal(syscall.SIGTERM); p2.cmd.Wait() }()
		if ids, _ := p2.exportIDs(t); len(ids) != 0 {
			t.Fatalf("request answered %q but %d of its events were stored", got, len(ids))
		}
		t.Skipf("the request did not reach the server before SIGTERM (%s); nothing stored, as it must be", got)
	}
}
