// Package e2e locates the real third-party programs that the end-to-end
// integration tests drive (installed by scripts/e2e-deps). Locally a test
// skips, saying how to install them, when they are missing; under CI
// (CI=true) a missing program fails the test instead, so that CI can never
// pass by skipping.
package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir is where scripts/e2e-deps installs: $CLAWTRAIL_E2E_DIR or
// ~/.cache/clawtrail-e2e.
func Dir() string {
	if d := os.Getenv("CLAWTRAIL_E2E_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "clawtrail-e2e")
	}
	return filepath.Join(home, ".cache", "clawtrail-e2e")
}

// Require returns the absolute path of rel under Dir(), or skips the test
// (fails it under CI=true) when it does not exist. part names the
// scripts/e2e-deps argument that installs it.
func Require(t testing.TB, part, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(), rel)
	if _, err := os.Stat(p); err != nil {
		msg := "end-to-end test needs " + p + " (install it with: scripts/e2e-deps " + part + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI=true this is a failure, not a skip")
		}
		t.Skip(msg)
	}
	return p
}

// Node24 is the Node 24 binary (OpenClaw needs Node >= 24.16).
func Node24(t testing.TB) string { return Require(t, "openclaw", "bin/node") }

// OpenClaw is the openclaw command (run it with Node24's directory first on
// PATH).
func OpenClaw(t testing.TB) string {
	return Require(t, "openclaw", "openclaw/node_modules/.bin/openclaw")
}

// Claude is the claude command (Claude Code).
func Claude(t testing.TB) string { return Require(t, "claude", "claude/node_modules/.bin/claude") }
