// Package testserver runs a real clawtrail server (SQLite store, HTTP API)
// inside a test process, for the SDK's tests and the example agent's.
package testserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ingest"
	"github.com/clawtrail/clawtrail/sqlite"
)

// Server is a real clawtrail server (SQLite store, HTTP API) in this
// process, on 127.0.0.1, that can be stopped abruptly and restarted on the
// same address and data.
type Server struct {
	URL    string
	Ingest string // an ingest key of tenant "acme"
	Reader string // a reader key of tenant "acme"
	Root   string // the root admin key

	tb     TB
	dir    string
	addr   string
	limits ingest.Limits
	store  *sqlite.Store
	api    *httpapi.Server
	srv    *http.Server
	up     bool
}

// TB is what the server needs of a test: testing.TB, or an example's own.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// New starts a server over a fresh temp dir; zero limits are the
// server's defaults.
func New(tb TB, limits ingest.Limits) *Server {
	tb.Helper()
	dir, err := os.MkdirTemp("", "clawtrail-sdk-server-")
	if err != nil {
		tb.Fatal(err)
	}
	ts := &Server{tb: tb, dir: dir, addr: "127.0.0.1:0", limits: limits}
	ts.Start()
	ctx := context.Background()
	mk := func(tenant string, role clawtrail.Role, root bool) string {
		_, tok, err := ts.store.CreateKey(ctx, clawtrail.APIKey{Tenant: tenant, Role: role, Root: root, Name: string(role)})
		if err != nil {
			tb.Fatal(err)
		}
		return tok
	}
	ts.Root = mk("default", clawtrail.RoleAdmin, true)
	ts.Ingest = mk("acme", clawtrail.RoleIngest, false)
	ts.Reader = mk("acme", clawtrail.RoleReader, false)
	tb.Cleanup(func() {
		ts.Stop()
		os.RemoveAll(dir)
	})
	return ts
}

// Start (re)starts the server on its address.
func (ts *Server) Start() {
	ts.tb.Helper()
	if ts.up {
		return
	}
	store, err := sqlite.Open(context.Background(), sqlite.Config{Dir: ts.dir})
	if err != nil {
		ts.tb.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", ts.addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old socket is still closing
	}
	if err != nil {
		store.Close()
		ts.tb.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.URL = "http://" + ts.addr
	ts.store = store
	ts.api = httpapi.New(httpapi.Config{Store: store, Limits: ts.limits})
	ts.srv = &http.Server{Handler: ts.api}
	go ts.srv.Serve(ln)
	ts.up = true
}

// Stop stops the server abruptly: open connections are cut, requests in
// flight get no answer (though what was committed stays committed).
func (ts *Server) Stop() {
	if !ts.up {
		return
	}
	ts.srv.Close()
	ts.api.Close()
	ts.api.Stop()
	ts.store.Close()
	ts.up = false
}

// Ledger returns the bodies of tenant's events in seq order, read from the
// ledger (not the index).
func (ts *Server) Ledger(tenant string) []map[string]any {
	ts.tb.Helper()
	var out []map[string]any
	after := int64(-1)
	for {
		evs, next, err := ts.store.ReadAfter(context.Background(), tenant, after, 1000)
		if err != nil {
			ts.tb.Fatal(err)
		}
		for _, e := range evs {
			var m map[string]any
			if err := json.Unmarshal(e.Body, &m); err != nil {
				ts.tb.Fatal(err)
			}
			if m["type"] == "config_change" || m["type"] == "access" || m["type"] == "auth" {
				continue
			}
			out = append(out, m)
		}
		if next == after {
			return out
		}
		after = next
	}
}

// Get does an authenticated GET and decodes the JSON answer.
func (ts *Server) Get(token, path string, out any) error {
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var b strings.Builder
		fmt.Fprintf(&b, "GET %s: %s", path, resp.Status)
		return errors.New(b.String())
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Session returns a session's timeline through the HTTP API (reader key),
// once it holds want events (the index trails the ledger a little).
func (ts *Server) Session(id string, want int) []map[string]any {
	ts.tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var page struct {
			Events []map[string]any `json:"events"`
		}
		err := ts.Get(ts.Reader, "/v1/sessions/"+id, &page)
		if err == nil && len(page.Events) >= want || time.Now().After(deadline) {
			if err != nil {
				ts.tb.Fatal(err)
			}
			return page.Events
		}
		time.Sleep(20 * time.Millisecond)
	}
}
