package sdk

import (
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/internal/testserver"
)

// TestServer is a real clawtrail server in this process (internal/testserver).
type TestServer = testserver.Server

// NewTestServer starts one over a fresh temp dir (exported in a test file
// for the examples).
func NewTestServer(t testserver.TB) *TestServer { return testserver.New(t, ingest.Limits{}) }

func newTestServer(t testserver.TB, limits ingest.Limits) *TestServer {
	return testserver.New(t, limits)
}

type ingestLimits = ingest.Limits

func defaultLimits() ingest.Limits { return ingest.DefaultLimits() }
