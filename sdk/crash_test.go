//go:build unix

package sdk

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The agent process is killed with SIGKILL while the server is down. In
// durable mode every event Log returned for is delivered by the next
// client; in the default mode every event logged more than one flush
// interval before the kill is. Nothing arrives twice.
func TestCrashOfTheAgentProcess(t *testing.T) {
	for _, durable := range []bool{true, false} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			ts := NewTestServer(t)
			ts.Stop()
			spool := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "SDK_CRASH_HELPER=1", "SDK_URL="+ts.URL, "SDK_TOKEN="+ts.Ingest,
				"SDK_SPOOL="+spool, "SDK_DURABLE="+strconv.FormatBool(durable))
			out, err := cmd.CombinedOutput()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("helper did not die by SIGKILL: %v\n%s", err, out)
			}
			ts.Start()
			c := newClient(t, fastConfig(t, ts, spool))
			flush(t, c)
			checkExactlyOnce(t, ts, "crash", 1000)
			late := 0
			for _, e := range ts.Ledger("acme") {
				if e["session_id"] == "late" {
					late++
				}
			}
			if durable && late != 50 {
				t.Fatalf("durable: %d of the 50 events logged just before the kill arrived", late)
			}
			t.Logf("events logged in the last flush interval before the kill that survived: %d of 50", late)
		})
	}
}

func TestCrashHelper(t *testing.T) {
	if os.Getenv("SDK_CRASH_HELPER") == "" {
		t.Skip("run by TestCrashOfTheAgentProcess")
	}
	cfg := Config{URL: os.Getenv("SDK_URL"), Token: os.Getenv("SDK_TOKEN"), SpoolDir: os.Getenv("SDK_SPOOL"),
		Durable: os.Getenv("SDK_DURABLE") == "true", FlushInterval: 50 * time.Millisecond}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logMany(t, c, "crash", 1000, nil)
	if !cfg.Durable {
		time.Sleep(3 * cfg.FlushInterval) // older than a flush interval: must survive
	}
	logMany(t, c, "late", 50, nil)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}
