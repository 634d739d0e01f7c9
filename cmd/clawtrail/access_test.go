package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Access control: tenant isolation on every endpoint, the auth and access
// records, the auth storm bound, the keys CLI and the per-key rate limits
// (SPEC §2, docs/security.md).

// acKey is a key created through POST /v1/keys.
type acKey struct {
	id, token, secret, tenant, role, name string
}

var acHTTP = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

// acReq sends a request with exactly the given Authorization header ("" for
// none) and returns the status, the headers and the body.
func acReq(t *testing.T, ts *testServer, method, path, body, auth string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := acHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// acTail opens a tail and returns what arrived within d (the whole body for
// an error answer). during, if not nil, runs once the stream is open.
func acTail(t *testing.T, ts *testServer, path, auth string, d time.Duration, during func()) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := acHTTP.Do(req)
	if err != nil {
		t.Fatalf("tail %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 && during != nil {
		go during()
	}
	var buf strings.Builder
	b := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(b)
		buf.Write(b[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, buf.String()
}

// acStop stops a server. The client's idle connections are closed first:
// http.Server.Shutdown waits up to 5 s for a connection that was dialed but
// never carried a request, which a keep-alive client under load leaves.
func acStop(ts *testServer) {
	acHTTP.Transport.(*http.Transport).CloseIdleConnections()
	ts.close()
}

func bearerOf(token string) string { return "Bearer " + token }

// acCreateKey creates a key with the root key.
func acCreateKey(t *testing.T, ts *testServer, tenant, role, name, expires string) acKey {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"tenant": tenant, "role": role, "name": name, "expires": expires})
	st, _, resp := acReq(t, ts, "POST", "/v1/keys", string(body), bearerOf(ts.token))
	if st != 201 {
		t.Fatalf("create %s key of %s: %d %s", role, tenant, st, resp)
	}
	var out struct {
		Key struct {
			ID, Tenant, Role, Name string
		} `json:"key"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(resp), &out); err != nil {
		t.Fatalf("create key answer %q: %v", resp, err)
	}
	parts := strings.SplitN(out.Token, "_", 3)
	if len(parts) != 3 || parts[0] != "ct" || parts[1] != out.Key.ID || out.Key.Tenant != tenant || out.Key.Role != role || out.Key.Name != name {
		t.Fatalf("create key answer %s", resp)
	}
	return acKey{id: out.Key.ID, token: out.Token, secret: parts[2], tenant: tenant, role: role, name: name}
}

// acIngest posts NDJSON with the root key into a tenant.
func acIngest(t *testing.T, ts *testServer, tenant, ndjson string) {
	t.Helper()
	st, _, body := acReq(t, ts, "POST", "/v1/events?tenant="+tenant, ndjson, bearerOf(ts.token), "Content-Type", "application/x-ndjson")
	if st != 200 {
		t.Fatalf("ingest into %s: %d %s", tenant, st, body)
	}
}

type acEvent map[string]any

func (e acEvent) str(k string) string { s, _ := e[k].(string); return s }
func (e acEvent) attr(k string) any {
	a, _ := e["attributes"].(map[string]any)
	return a[k]
}
func (e acEvent) attrStr(k string) string { s, _ := e.attr(k).(string); return s }

// acSearch runs a search and decodes its events; it fails on a non-200.
func acSearch(t *testing.T, ts *testServer, auth, path string) []acEvent {
	t.Helper()
	st, _, body := acReq(t, ts, "GET", path, "", auth)
	if st != 200 {
		t.Fatalf("GET %s: %d %s", path, st, body)
	}
	var page struct {
		Events []acEvent `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return page.Events
}

// acPoll repeats a search (access and auth records are flushed every
// 200 ms) until ok accepts its events or 3 s passed; it returns the last.
func acPoll(t *testing.T, ts *testServer, auth, path string, ok func([]acEvent) bool) []acEvent {
	t.Helper()
	// Generous: under -race on a loaded 2-core machine the recording can
	// lag by seconds; the poll returns as soon as the condition holds.
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs := acSearch(t, ts, auth, path)
		if ok(evs) || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func acQ(q string) string { return url.QueryEscape(q) }

func noQueryLimit(c *serveConfig) { c.QueryRate = 0 }

// checkpointSize reads a tenant's tree size from its checkpoint (a read
// that is not recorded).
func checkpointSize(t *testing.T, ts *testServer, tenant string) int {
	t.Helper()
	st, _, body := acReq(t, ts, "GET", "/v1/checkpoint?tenant="+tenant, "", bearerOf(ts.token))
	lines := strings.Split(body, "\n")
	if st != 200 || len(lines) < 3 {
		t.Fatalf("checkpoint of %s: %d %s", tenant, st, body)
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil {
		t.Fatalf("checkpoint of %s: size %q", tenant, lines[1])
	}
	return n
}

func TestIsolationMatrix(t *testing.T) {
	ts := startServer(t, t.TempDir(), noQueryLimit)
	root := bearerOf(ts.token)

	acIngest(t, ts, "acme", `{"id":"acme-1","type":"tool_call","tool":"exec","session_id":"sess-acme-1","content":"ACME-SECRET-1"}
{"id":"acme-2","type":"prompt","session_id":"sess-acme-1","content":"ACME-SECRET-2"}
{"id":"acme-3","type":"tool_call","tool":"exec","session_id":"sess-acme-2","user_id":"u-acme","content":"ACME-SECRET-3"}`)
	acIngest(t, ts, "beta", `{"id":"evt-beta-1","type":"tool_call","tool":"exec","session_id":"sess-beta-1","content":"BETA-SECRET-1"}
{"id":"evt-beta-2","type":"prompt","session_id":"sess-beta-1","user_id":"beta-user","content":"BETA-SECRET-2"}
{"type":"output","session_id":"sess-beta-1","content":"BETA-SECRET-3"}
{"id":"shared-id-1","type":"prompt","content":"shared content"}`)
	// Event ids are per tenant: acme may use an id beta has, with the same
	// body even, and is told nothing about it.
	st, _, body := acReq(t, ts, "POST", "/v1/events?tenant=acme", `{"id":"shared-id-1","type":"prompt","content":"shared content"}`, root)
	if st != 200 || !strings.Contains(body, `"accepted":1`) || !strings.Contains(body, `"duplicates":0`) {
		t.Fatalf("acme event with an id beta has: %d %s (want accepted 1, duplicates 0)", st, body)
	}
	evs := acSearch(t, ts, root, "/v1/events?tenant=beta&wait_seq=latest&q="+acQ("type:output"))
	if len(evs) != 1 || evs[0].str("content") != "BETA-SECRET-3" {
		t.Fatalf("beta's output event: %v", evs)
	}
	betaULID := evs[0].str("id")
	if len(betaULID) != 26 {
		t.Fatalf("beta's server-made id %q", betaULID)
	}

	roles := []string{"ingest", "reader", "auditor", "admin"}
	acme := map[string]acKey{}
	beta := map[string]acKey{}
	for _, r := range roles {
		acme[r] = acCreateKey(t, ts, "acme", r, "acme-"+r, "")
		beta[r] = acCreateKey(t, ts, "beta", r, "beta-"+r, "")
	}
	// beta's own server records: reads (access), a refused read (auth).
	acSearch(t, ts, bearerOf(beta["reader"].token), "/v1/events?q=tool:exec")
	if st, _, _ := acReq(t, ts, "GET", "/v1/events", "", bearerOf(beta["ingest"].token)); st != 403 {
		t.Fatalf("beta ingest key reading: %d", st)
	}
	// Sanity: the root key sees beta's data, so the checks below are not
	// vacuous.
	if st, _, body := acReq(t, ts, "GET", "/v1/export?tenant=beta", "", root); st != 200 || !strings.Contains(body, "BETA-SECRET-1") || !strings.Contains(body, betaULID) {
		t.Fatalf("root export of beta: %d %s", st, body)
	}
	st, _, note := acReq(t, ts, "GET", "/v1/checkpoint?tenant=acme", "", root)
	if st != 200 || strings.Contains(note, "beta") {
		t.Fatalf("acme checkpoint: %d %s", st, note)
	}
	var betaCursor string
	{
		st, _, body := acReq(t, ts, "GET", "/v1/events?tenant=beta&limit=1", "", root)
		var p struct {
			Next string `json:"next_cursor"`
		}
		json.Unmarshal([]byte(body), &p)
		if st != 200 || p.Next == "" {
			t.Fatalf("beta page: %d %s", st, body)
		}
		betaCursor = p.Next
	}

	// What acme must never see. betaKeyIDs are random hex; the rest carry
	// the word beta.
	var betaSecrets []string
	forbidden := []string{"BETA-SECRET", betaULID}
	for _, k := range beta {
		forbidden = append(forbidden, k.id, k.secret)
		betaSecrets = append(betaSecrets, k.token)
	}
	betaWord := regexp.MustCompile(`(?i)\bbeta\b`)
	// acme's own requests name beta things (an id, a session, a tenant);
	// their records (auth/access paths and queries) echo them back into
	// acme's ledger. Those echoes are acme's own words, not a leak.
	echoes := []string{"/v1/events/evt-beta-1", "/v1/events/" + betaULID, "/v1/keys/" + beta["reader"].id,
		"/v1/sessions/sess-beta-1", "session_id:sess-beta-1", "tenant:beta", "id:evt-beta-1"}
	leakCheck := func(label, request string, hdr http.Header, body string) {
		t.Helper()
		text := body
		for k, vs := range hdr {
			text += "\n" + k + ": " + strings.Join(vs, ", ")
		}
		for _, e := range echoes {
			text = strings.ReplaceAll(text, e, "")
		}
		for _, f := range forbidden {
			if f != "" && strings.Contains(text, f) && !strings.Contains(request, f) {
				t.Errorf("%s: the answer contains %q (of tenant beta):\n%.2000s", label, f, text)
			}
		}
		if !betaWord.MatchString(request) && betaWord.MatchString(text) {
			t.Errorf("%s: the answer names beta:\n%.2000s", label, text)
		}
	}

	type endpoint struct {
		method, path, body string
		need               string // public, ingest, reader, auditor, admin
		ok                 int    // status for a key whose role suffices
		tail               bool
		twin               [2]string // the same request about something that does not exist: old, new
	}
	acmeID := "acme-1"
	eps := []endpoint{
		{method: "GET", path: "/v1/events", need: "reader", ok: 200},
		{method: "GET", path: "/v1/events?wait_seq=latest&q=" + acQ("tool:exec"), need: "reader", ok: 200},
		{method: "GET", path: "/v1/events?q=" + acQ("tenant:beta"), need: "reader", ok: 200, twin: [2]string{"beta", "zeta"}},
		{method: "GET", path: "/v1/events?limit=1&cursor=" + url.QueryEscape(betaCursor), need: "reader", ok: 200},
		{method: "GET", path: "/v1/events/" + acmeID, need: "reader", ok: 200},
		{method: "GET", path: "/v1/events/evt-beta-1", need: "reader", ok: 404, twin: [2]string{"evt-beta-1", "evt-zeta-1"}},
		{method: "GET", path: "/v1/events/" + betaULID, need: "reader", ok: 404, twin: [2]string{betaULID, "01ARZ3NDEKTSV4RRFFQ69G5FAV"}},
		{method: "GET", path: "/v1/sessions", need: "reader", ok: 200},
		{method: "GET", path: "/v1/sessions/sess-acme-1", need: "reader", ok: 200},
		{method: "GET", path: "/v1/sessions/sess-beta-1", need: "reader", ok: 200, twin: [2]string{"sess-beta-1", "sess-zeta-1"}},
		{method: "GET", path: "/v1/export", need: "reader", ok: 200},
		{method: "GET", path: "/v1/export?format=csv", need: "reader", ok: 200},
		{method: "GET", path: "/v1/export?format=json&q=" + acQ("tool:exec"), need: "reader", ok: 200},
		{method: "GET", path: "/v1/tail?after_seq=-1", need: "reader", ok: 200, tail: true},
		{method: "GET", path: "/v1/checkpoint", need: "auditor", ok: 200},
		{method: "GET", path: "/v1/checkpoint?witnessed=true", need: "auditor", ok: 404},
		{method: "GET", path: "/v1/checkpoints", need: "auditor", ok: 200},
		{method: "GET", path: "/v1/proof/inclusion?seq=0", need: "auditor", ok: 200},
		{method: "GET", path: "/v1/proof/consistency?from=1", need: "auditor", ok: 200},
		{method: "GET", path: "/v1/ledger", need: "auditor", ok: 200},
		{method: "GET", path: "/v1/index/coverage", need: "auditor", ok: 200},
		{method: "GET", path: "/v1/bundle", need: "auditor", ok: 200},
		{method: "GET", path: "/v1/keys", need: "admin", ok: 200},
		{method: "GET", path: "/v1/keys?all=true", need: "admin", ok: 403}, // root only
		{method: "DELETE", path: "/v1/keys/" + beta["reader"].id, need: "admin", ok: 404, twin: [2]string{beta["reader"].id, "00000000deadbeef"}},
		{method: "POST", path: "/v1/events", body: `{"type":"prompt","content":"ACME-MATRIX"}`, need: "ingest", ok: 200},
		{method: "POST", path: "/v1/events", body: `{"type":"prompt","tenant_id":"beta","content":"into beta"}`, need: "ingest", ok: 403, twin: [2]string{"beta", "zeta"}},
		{method: "POST", path: "/v1/keys", body: `{"tenant":"beta","role":"reader"}`, need: "admin", ok: 403, twin: [2]string{"beta", "zeta"}},
		{method: "POST", path: "/v1/admin/reindex", need: "admin", ok: 403},
		{method: "POST", path: "/v1/admin/rotate-signing", need: "admin", ok: 403},
		{method: "POST", path: "/v1/checkpoint/cosignature", body: note, need: "auditor", ok: 400}, // no witness line: refused after auth
		{method: "GET", path: "/metrics", need: "admin", ok: 403},                                  // root only
		{method: "GET", path: "/v1/signing-keys", need: "public", ok: 200},
		{method: "GET", path: "/healthz", need: "public", ok: 200},
		{method: "GET", path: "/readyz", need: "public", ok: 200},
	}
	// Every authenticated endpoint again, naming tenant beta: refused
	// exactly as naming a tenant that does not exist.
	for _, e := range eps[:len(eps)-3] {
		if e.twin[0] != "" {
			continue
		}
		sep := "?"
		if strings.Contains(e.path, "?") {
			sep = "&"
		}
		e.path += sep + "tenant=beta"
		e.ok = 403
		e.twin = [2]string{"tenant=beta", "tenant=zeta"}
		eps = append(eps, e)
	}
	allowed := map[string][]string{"public": {"none", "garbage", "unknown", "ingest", "reader", "auditor", "admin"},
		"ingest": {"ingest", "admin"}, "reader": {"reader", "auditor", "admin"}, "auditor": {"auditor", "admin"}, "admin": {"admin"}}
	creds := []string{"none", "garbage", "unknown", "ingest", "reader", "auditor", "admin"}
	authOf := func(cred string) string {
		switch cred {
		case "none":
			return ""
		case "garbage":
			return "Bearer garbage"
		case "unknown":
			return "Bearer ct_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		}
		return bearerOf(acme[cred].token)
	}
	live := 0
	for _, e := range eps {
		for _, cred := range creds {
			want := 401
			if cred != "none" && cred != "garbage" && cred != "unknown" {
				want = 403
			}
			for _, a := range allowed[e.need] {
				if a == cred {
					want = e.ok
				}
			}
			label := fmt.Sprintf("%s %s as %s", e.method, e.path, cred)
			request := e.method + " " + e.path + "\n" + e.body
			var st int
			var hdr http.Header
			var body string
			if e.tail {
				live++
				acmeLive, betaLive := fmt.Sprintf("ACME-LIVE-%d", live), fmt.Sprintf("BETA-SECRET-LIVE-%d", live)
				st, hdr, body = acTail(t, ts, e.path, authOf(cred), 500*time.Millisecond, func() {
					time.Sleep(100 * time.Millisecond)
					acIngest(t, ts, "beta", `{"type":"tool_call","tool":"exec","content":"`+betaLive+`"}`)
					acIngest(t, ts, "acme", `{"type":"tool_call","tool":"exec","content":"`+acmeLive+`"}`)
				})
				if st == 200 && (!strings.Contains(body, "ACME-SECRET-1") || !strings.Contains(body, acmeLive)) {
					t.Errorf("%s: the stream lacks acme's events:\n%s", label, body)
				}
			} else {
				st, hdr, body = acReq(t, ts, e.method, e.path, e.body, authOf(cred))
			}
			if st != want {
				t.Errorf("%s: status %d, want %d (%.300s)", label, st, want, body)
			}
			leakCheck(label, request, hdr, body)
			if e.twin[0] != "" && !e.tail {
				p2 := strings.ReplaceAll(e.path, e.twin[0], e.twin[1])
				b2 := strings.ReplaceAll(e.body, e.twin[0], e.twin[1])
				st2, _, body2 := acReq(t, ts, e.method, p2, b2, authOf(cred))
				if st2 != st || strings.ReplaceAll(body2, e.twin[1], e.twin[0]) != body {
					t.Errorf("%s: answered %d %q, but about %q (which does not exist) %d %q: the difference tells beta exists",
						label, st, body, e.twin[1], st2, body2)
				}
			}
			// What the allowed answers hold.
			if st == 200 {
				switch {
				case e.path == "/v1/events/"+acmeID && !strings.Contains(body, "ACME-SECRET-1"):
					t.Errorf("%s: %s", label, body)
				case strings.HasPrefix(e.path, "/v1/keys") && e.method == "GET":
					var kr struct {
						Keys []struct{ ID, Tenant string }
					}
					json.Unmarshal([]byte(body), &kr)
					if len(kr.Keys) != 4 {
						t.Errorf("%s: %d keys, want acme's 4: %s", label, len(kr.Keys), body)
					}
					for _, k := range kr.Keys {
						if k.Tenant != "acme" {
							t.Errorf("%s: lists a key of %q", label, k.Tenant)
						}
					}
				case e.path == "/v1/export" && !strings.Contains(body, "ACME-SECRET-3"):
					t.Errorf("%s: acme's export lacks its events: %s", label, body)
				}
			}
		}
	}

	// Server records: readers never see them, even when asking by type;
	// auditors do.
	reader, auditor := bearerOf(acme["reader"].token), bearerOf(acme["auditor"].token)
	auditorSees := func(q string, min int) []acEvent {
		t.Helper()
		evs := acPoll(t, ts, auditor, "/v1/events?limit=1000&wait_seq=latest&q="+acQ(q), func(evs []acEvent) bool { return len(evs) >= min })
		if len(evs) < min {
			t.Errorf("acme auditor, q=%s: %d events, want at least %d", q, len(evs), min)
		}
		return evs
	}
	accessEvs := auditorSees("type:access", 1)
	authEvs := auditorSees("type:auth", 1)
	cfgEvs := auditorSees("type:config_change", 4)
	for _, group := range [][]acEvent{accessEvs, authEvs, cfgEvs} {
		for _, ev := range group {
			if ev.str("tenant_id") != "acme" {
				t.Errorf("acme auditor sees an event of %q: %v", ev.str("tenant_id"), ev)
			}
		}
	}
	for _, q := range []string{"type:access", "type:auth", "type:config_change", "type:access OR type:auth OR type:config_change", "type:acc*"} {
		if evs := acSearch(t, ts, reader, "/v1/events?limit=1000&wait_seq=latest&q="+acQ(q)); len(evs) != 0 {
			t.Errorf("acme reader, q=%s: %d server records: %v", q, len(evs), evs[0])
		}
		st, _, body := acReq(t, ts, "GET", "/v1/export?q="+acQ(q), "", reader)
		if st != 200 || strings.TrimSpace(body) != "" {
			t.Errorf("acme reader export q=%s: %d %.500s", q, st, body)
		}
		st, _, body = acReq(t, ts, "GET", "/v1/sessions?q="+acQ(q), "", reader)
		if st != 200 || strings.Contains(body, "session_id") {
			t.Errorf("acme reader sessions q=%s: %d %.500s", q, st, body)
		}
	}
	if len(accessEvs) > 0 {
		id := accessEvs[0].str("id")
		if st, _, body := acReq(t, ts, "GET", "/v1/events/"+id, "", reader); st != 404 {
			t.Errorf("acme reader GET an access event: %d %s", st, body)
		}
		if st, _, body := acReq(t, ts, "GET", "/v1/events/"+id, "", auditor); st != 200 || !strings.Contains(body, `"type":"access"`) {
			t.Errorf("acme auditor GET an access event: %d %s", st, body)
		}
	}
	if st, _, body := acTail(t, ts, "/v1/tail?after_seq=-1&q="+acQ("type:access"), reader, 300*time.Millisecond, nil); st != 200 || strings.Contains(body, "data:") {
		t.Errorf("acme reader tail q=type:access: %d %s", st, body)
	}
	if st, _, body := acTail(t, ts, "/v1/tail?after_seq=-1&q="+acQ("type:access"), auditor, 300*time.Millisecond, nil); st != 200 || !strings.Contains(body, `"type":"access"`) {
		t.Errorf("acme auditor tail q=type:access: %d %s", st, body)
	}
	// And acme's server records say nothing of beta either.
	for _, q := range []string{"type:access OR type:auth OR type:config_change"} {
		st, hdr, body := acReq(t, ts, "GET", "/v1/export?q="+acQ(q), "", auditor)
		if st != 200 {
			t.Errorf("acme auditor export of server records: %d", st)
		}
		leakCheck("acme auditor export of server records", "", hdr, body)
	}
	st, hdr, body := acReq(t, ts, "GET", "/v1/ledger", "", auditor)
	if st != 200 {
		t.Errorf("acme ledger: %d", st)
	}
	leakCheck("acme ledger at the end", "", hdr, body)
	for _, tok := range betaSecrets {
		if strings.Contains(body, tok) {
			t.Errorf("a beta token is in acme's ledger")
		}
	}
}

func TestFailedAuthIsRecorded(t *testing.T) {
	ts := startServer(t, t.TempDir(), noQueryLimit)
	root := bearerOf(ts.token)
	acIngest(t, ts, "acme", `{"type":"prompt","content":"hello"}`)
	revoked := acCreateKey(t, ts, "acme", "reader", "rev", "")
	expired := acCreateKey(t, ts, "acme", "reader", "exp", "1s")
	reader := acCreateKey(t, ts, "acme", "reader", "rdr", "")
	if st, _, body := acReq(t, ts, "DELETE", "/v1/keys/"+revoked.id, "", root); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	unknownSecret := "UnknownSecretUnknownSecretUnknownSecret0000"
	unknown := "ct_0123456789abcdef_" + unknownSecret
	wrongSecret := "WrongSecretWrongSecretWrongSecretWrongSecr1"
	wrong := "ct_" + reader.id + "_" + wrongSecret
	time.Sleep(1100 * time.Millisecond) // past the expiry
	for _, c := range []struct {
		method, path, body, auth string
		want                     int
	}{
		{"GET", "/v1/events", "", "", 401},
		{"GET", "/v1/events", "", "Bearer garbage-" + unknownSecret, 401},
		{"GET", "/v1/events", "", bearerOf(unknown), 401},
		{"GET", "/v1/events", "", bearerOf(wrong), 401},
		{"GET", "/v1/export", "", bearerOf(revoked.token), 401},
		{"GET", "/v1/sessions", "", bearerOf(expired.token), 401},
		{"POST", "/v1/keys", `{"role":"admin"}`, bearerOf(reader.token), 403},
	} {
		if st, _, body := acReq(t, ts, c.method, c.path, c.body, c.auth); st != c.want {
			t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.path, c.auth, st, body, c.want)
		}
	}

	type want struct{ reason, keyID string }
	find := func(evs []acEvent, w want) acEvent {
		for _, e := range evs {
			if e.str("reason") == w.reason && e.attrStr("key_id") == w.keyID {
				return e
			}
		}
		return nil
	}
	check := func(tenant string, wants ...want) {
		t.Helper()
		path := "/v1/events?limit=1000&wait_seq=latest&tenant=" + tenant + "&q=" + acQ("type:auth")
		evs := acPoll(t, ts, root, path, func(evs []acEvent) bool {
			for _, w := range wants {
				if find(evs, w) == nil {
					return false
				}
			}
			return true
		})
		if len(evs) != len(wants) {
			t.Errorf("tenant %s: %d auth events, want %d: %v", tenant, len(evs), len(wants), evs)
		}
		for _, w := range wants {
			e := find(evs, w)
			if e == nil {
				t.Errorf("tenant %s: no auth event with reason %q and key_id %q in %v", tenant, w.reason, w.keyID, evs)
				continue
			}
			if e.str("type") != "auth" || e.str("tenant_id") != tenant || e.attrStr("source") != "127.0.0.1" ||
				e.attr("count") != float64(1) || e.str("path") == "" || e.attrStr("method") == "" {
				t.Errorf("tenant %s, %q: %v (want source 127.0.0.1, count 1, a path and method)", tenant, w.reason, e)
			}
		}
	}
	// A known id with a wrong secret is not that tenant's key: it goes to
	// system, and being the second "unknown key" from this source in the
	// window, it folds into the first (SPEC §2: repeats from a source fold).
	check("system", want{"missing key", ""}, want{"malformed key", ""}, want{"unknown key", "0123456789abcdef"})
	check("acme", want{"revoked key", revoked.id}, want{"expired key", expired.id}, want{"role reader lacks admin", reader.id})

	// Every 403 is a failed authorisation and leaves an auth record in the
	// key's tenant (docs/security.md, Roles: "A request that lacks the
	// permission gets 403 and an auth record"), including the refusals made
	// inside the handlers.
	t.Run("handler 403s are recorded", func(t *testing.T) {
		adm := acCreateKey(t, ts, "acme", "admin", "adm", "")
		ing := acCreateKey(t, ts, "acme", "ingest", "ing", "")
		sentinel := acCreateKey(t, ts, "acme", "ingest", "sentinel", "")
		cases := []struct {
			name, method, path, body string
			key                      acKey
			where                    string
		}{
			{"ingest with another tenant's tenant_id", "POST", "/v1/events", `{"type":"prompt","tenant_id":"beta"}`, ing, "httpapi/ingest.go:91 (ingestTenant) via handleIngest"},
			{"non-root admin reindex", "POST", "/v1/admin/reindex", "", adm, "httpapi/search.go:234 (handleReindex)"},
			{"non-root admin rotate-signing", "POST", "/v1/admin/rotate-signing", "", adm, "httpapi/ledger.go:194 (handleRotateSigning)"},
			{"non-root admin /metrics", "GET", "/metrics", "", adm, "httpapi/metrics.go:84 (metricsHandler)"},
		}
		for _, c := range cases {
			if st, _, body := acReq(t, ts, c.method, c.path, c.body, bearerOf(c.key.token)); st != 403 {
				t.Errorf("%s: %d %s, want 403", c.name, st, body)
			}
		}
		// A recorded refusal after them: once it is visible, theirs (queued
		// before it, appended in the same or an earlier commit) would be.
		if st, _, _ := acReq(t, ts, "GET", "/v1/events", "", bearerOf(sentinel.token)); st != 403 {
			t.Fatalf("sentinel refusal: %d", st)
		}
		evs := acPoll(t, ts, root, "/v1/events?limit=1000&wait_seq=latest&tenant=acme&q="+acQ("type:auth"), func(evs []acEvent) bool {
			return find(evs, want{"role ingest lacks reader", sentinel.id}) != nil
		})
		if find(evs, want{"role ingest lacks reader", sentinel.id}) == nil {
			t.Fatalf("the sentinel refusal was not recorded: %v", evs)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, e := range evs {
					if e.str("path") == c.path && e.attrStr("key_id") == c.key.id {
						return
					}
				}
				t.Fatalf("regression: %s %s by an acme %s key is answered 403 but leaves no auth event in acme (%s answers with writeError and never calls s.audit.authFailure); docs/security.md says every 403 leaves an auth record",
					c.method, c.path, c.key.role, c.where)
			})
		}
	})

	// No record anywhere holds a secret.
	for _, tenant := range []string{"system", "acme", "default"} {
		st, _, body := acReq(t, ts, "GET", "/v1/ledger?tenant="+tenant, "", root)
		if st != 200 {
			t.Fatalf("ledger of %s: %d", tenant, st)
		}
		for _, s := range []string{unknownSecret, wrongSecret, revoked.secret, expired.secret, reader.secret, strings.SplitN(ts.token, "_", 3)[2]} {
			if strings.Contains(body, s) {
				t.Errorf("the ledger of %s holds a key's secret %q", tenant, s)
			}
		}
	}
}

func TestReadsAreRecorded(t *testing.T) {
	ts := startServer(t, t.TempDir(), noQueryLimit)
	acIngest(t, ts, "acme", `{"type":"tool_call","tool":"exec","session_id":"s1","content":"one"}
{"type":"tool_call","tool":"exec","session_id":"s1","content":"two"}
{"type":"prompt","session_id":"s1","content":"three"}
{"type":"tool_call","tool":"read","session_id":"s2","content":"four"}`)
	out, e, code := ts.cli("", "keys", "create", "--tenant", "acme", "--role", "reader", "--name", "alice")
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, e)
	}
	aliceTok := strings.TrimSpace(out)
	alice := bearerOf(aliceTok)
	aliceID := strings.SplitN(aliceTok, "_", 3)[1]
	aud := acCreateKey(t, ts, "acme", "auditor", "carol", "")

	if evs := acSearch(t, ts, alice, "/v1/events?wait_seq=latest&q="+acQ("tool:exec")); len(evs) != 2 {
		t.Fatalf("alice's search: %d events", len(evs))
	}
	if st, _, body := acReq(t, ts, "GET", "/v1/export?q="+acQ("type:tool_call"), "", alice); st != 200 || strings.Count(body, "\n") != 3 {
		t.Fatalf("alice's export: %d %s", st, body)
	}
	if st, _, body := acReq(t, ts, "GET", "/v1/sessions/s1", "", alice); st != 200 || strings.Count(body, `"seq"`) != 3 {
		t.Fatalf("alice's session view: %d %s", st, body)
	}
	if st, _, _ := acTail(t, ts, "/v1/tail?q="+acQ("tool:exec"), alice, 300*time.Millisecond, nil); st != 200 {
		t.Fatalf("alice's tail: %d", st)
	}

	want := map[string]struct {
		query string
		count float64
	}{
		"search":  {"tool:exec", 2},
		"export":  {"type:tool_call", 3},
		"session": {"session_id:s1", 3},
		"tail":    {"tool:exec", 0},
	}
	path := "/v1/events?limit=1000&wait_seq=latest&q=" + acQ("type:access user:alice")
	evs := acPoll(t, ts, bearerOf(aud.token), path, func(evs []acEvent) bool { return len(evs) >= len(want) })
	got := map[string]int{}
	for _, ev := range evs {
		action := ev.str("reason")
		got[action]++
		w, ok := want[action]
		if !ok {
			t.Errorf("unexpected access event by alice: %v", ev)
			continue
		}
		if ev.str("type") != "access" || ev.str("user_id") != "alice" || ev.str("key_id") != aliceID || ev.str("tenant_id") != "acme" ||
			ev.attrStr("action") != action || ev.attrStr("query") != w.query || ev.attr("result_count") != w.count ||
			ev.attrStr("role") != "reader" || ev.attrStr("source") != "127.0.0.1" || ev.attrStr("key_name") != "alice" {
			t.Errorf("access event for alice's %s: %v\nwant query %q, result_count %v, key_id %s", action, ev, w.query, w.count, aliceID)
		}
	}
	for action := range want {
		if got[action] != 1 {
			t.Errorf("%d access events for alice's %s, want 1 (all: %v)", got[action], action, evs)
		}
	}
	// alice herself does not see who looked, not even her own reads.
	if evs := acSearch(t, ts, alice, path); len(evs) != 0 {
		t.Errorf("alice sees %d access events", len(evs))
	}
}

func TestAuthStormIsBounded(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, noQueryLimit)
	root := bearerOf(ts.token)
	acIngest(t, ts, "acme", `{"type":"prompt","content":"hello"}`)
	revoked := acCreateKey(t, ts, "acme", "reader", "gone", "")
	if st, _, body := acReq(t, ts, "DELETE", "/v1/keys/"+revoked.id, "", root); st != 200 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	time.Sleep(300 * time.Millisecond) // queued records flushed
	sys0, acme0 := checkpointSize(t, ts, "system"), checkpointSize(t, ts, "acme")

	const total = 10000
	auths := []string{"", "Bearer garbage", "Bearer ct_0123456789abcdef_NotASecretNotASecretNotASecretNotASecret00", bearerOf(revoked.token)}
	var next, bad atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				req, _ := http.NewRequest("GET", ts.url+"/v1/events", nil)
				if a := auths[i%int64(len(auths))]; a != "" {
					req.Header.Set("Authorization", a)
				}
				resp, err := acHTTP.Do(req)
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 401 {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d bad requests in %s", total, time.Since(start).Round(time.Millisecond))
	if bad.Load() != 0 {
		t.Fatalf("%d requests not answered 401 (%v)", bad.Load(), firstErr)
	}

	// The window's folded repeats are recorded at shutdown.
	acStop(ts)
	ts = startServer(t, dir, noQueryLimit)
	root = bearerOf(ts.token)
	sys1, acme1 := checkpointSize(t, ts, "system"), checkpointSize(t, ts, "acme")
	if sys1-sys0 > 8 || acme1-acme0 > 4 {
		t.Errorf("the storm grew the ledger by %d events in system and %d in acme; want a handful", sys1-sys0, acme1-acme0)
	}
	sum := 0.0
	folded := 0
	for _, tenant := range []string{"system", "acme"} {
		evs := acSearch(t, ts, root, "/v1/events?limit=10000&wait_seq=latest&tenant="+tenant+"&q="+acQ("type:auth"))
		if len(evs) > 8 {
			t.Errorf("%d auth events in %s after %d failures, want at most 8", len(evs), tenant, total)
		}
		for _, ev := range evs {
			c, _ := ev.attr("count").(float64)
			sum += c
			if c > 1 {
				folded++
				if ev.attrStr("first_seen") == "" || ev.attrStr("last_seen") == "" || ev.attrStr("source") != "127.0.0.1" {
					t.Errorf("folded auth event: %v", ev)
				}
			}
		}
	}
	if sum != total || folded == 0 {
		t.Errorf("auth events count %v failures (%d folded events), want %d", sum, folded, total)
	}

	// SPEC §2: "the first failure from a source is recorded at once;
	// repeats within a window fold into one event with a count". A guesser
	// that sends a fresh key id with every request is one source too.
	t.Run("fresh key ids from one source", func(t *testing.T) {
		const n = 2000
		before := checkpointSize(t, ts, "system")
		for i := 0; i < n; i++ {
			req, _ := http.NewRequest("GET", ts.url+"/v1/events", nil)
			req.Header.Set("Authorization", fmt.Sprintf("Bearer ct_%016x_GuessGuessGuessGuessGuessGuessGuessGuessGue", i+1))
			resp, err := acHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("guess %d: %d", i, resp.StatusCode)
			}
		}
		time.Sleep(500 * time.Millisecond) // two flushes
		grew := checkpointSize(t, ts, "system") - before
		if grew > 10 {
			t.Fatalf("regression: %d unknown-key failures from one source, each with a different key id, added %d auth events to system within the window (one per request): "+
				"httpapi/audit.go:145 buckets failures by (tenant, source, reason, keyID), so only identical key ids fold (up to maxFailSources = 10,000 events per window); SPEC §2 says repeats from a source fold", n, grew)
		}
	})
}

func TestKeysCLI(t *testing.T) {
	ts := startServer(t, t.TempDir(), noQueryLimit)
	out, e, code := ts.cli("", "keys", "create", "--tenant", "acme", "--role", "reader", "--name", "bob")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "ct_") {
		t.Fatalf("keys create: exit %d, stdout %q, stderr %q", code, out, e)
	}
	token := strings.TrimSpace(out)
	parts := strings.SplitN(token, "_", 3)
	if len(parts) != 3 || len(parts[1]) != 16 || len(parts[2]) < 40 {
		t.Fatalf("token %q", token)
	}
	id, secret := parts[1], parts[2]
	if strings.Contains(e, secret) || !strings.Contains(e, id) {
		t.Errorf("keys create stderr %q: want the id and never the secret", e)
	}
	if st, _, body := acReq(t, ts, "GET", "/v1/events", "", bearerOf(token)); st != 200 {
		t.Fatalf("bob's key: %d %s", st, body)
	}

	out, e, code = ts.cli("", "keys", "list", "--tenant", "acme")
	if code != 0 || strings.Contains(out, secret) {
		t.Fatalf("keys list: exit %d\n%s%s", code, out, e)
	}
	row := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, id) {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 5 || f[1] != "bob" || f[2] != "acme" || f[3] != "reader" || f[len(f)-1] != "active" {
		t.Errorf("keys list row for bob = %q in\n%s", row, out)
	}
	out, _, _ = ts.cli("", "keys", "list", "--tenant", "acme", "--format", "json")
	if strings.Contains(out, secret) || !strings.Contains(out, `"name": "bob"`) {
		t.Errorf("keys list --format json:\n%s", out)
	}

	if _, e, code = ts.cli("", "keys", "revoke", id); code != 0 {
		t.Fatalf("keys revoke: %d %s", code, e)
	}
	if st, _, body := acReq(t, ts, "GET", "/v1/events", "", bearerOf(token)); st != 401 {
		t.Errorf("bob's key after revoke: %d %s, want 401", st, body)
	}
	if _, _, code = ts.cli("", "logs", "search", "--token", token, "--query", "type:prompt"); code != 4 {
		t.Errorf("logs search with a revoked key: exit %d, want 4", code)
	}
	out, _, _ = ts.cli("", "keys", "list", "--tenant", "acme")
	if !strings.Contains(out, id) || !strings.Contains(out, "revoked") || strings.Contains(out, secret) {
		t.Errorf("keys list after revoke:\n%s", out)
	}

	// Both changes are on record in acme, for its auditors and the root key.
	aud := acCreateKey(t, ts, "acme", "auditor", "carol", "")
	for auth, path := range map[string]string{
		bearerOf(ts.token):  "/v1/events?tenant=acme&limit=100&wait_seq=latest&q=" + acQ("type:config_change"),
		bearerOf(aud.token): "/v1/events?limit=100&wait_seq=latest&q=" + acQ("type:config_change"),
	} {
		evs := acSearch(t, ts, auth, path)
		found := map[string]bool{}
		for _, ev := range evs {
			if ev.attrStr("key_id") == id {
				found[ev.str("reason")] = true
				if ev.attrStr("key_name") != "bob" || ev.attrStr("role") != "reader" || ev.attrStr("action") != ev.str("reason") || ev.str("tenant_id") != "acme" {
					t.Errorf("config_change for bob: %v", ev)
				}
			}
			if strings.Contains(fmt.Sprint(ev), secret) {
				t.Errorf("a config_change event holds the secret: %v", ev)
			}
		}
		if !found["key created"] || !found["key revoked"] {
			t.Errorf("config_change events for bob's key: %v (all: %v)", found, evs)
		}
	}
	// The same through the CLI, as the auditor.
	out, e, code = ts.cli("", "logs", "search", "--token", aud.token, "--query", "type:config_change", "--format", "jsonl")
	if code != 0 || strings.Count(out, `"key_id":"`+id+`"`) < 2 {
		t.Errorf("auditor logs search type:config_change: exit %d\n%s%s", code, out, e)
	}
	// A reader cannot make keys: exit 4.
	rdr := acCreateKey(t, ts, "acme", "reader", "rita", "")
	if _, e, code = ts.cli("", "keys", "create", "--token", rdr.token, "--role", "admin"); code != 4 {
		t.Errorf("keys create with a reader key: exit %d %s, want 4", code, e)
	}
}

func TestRateLimits(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, noQueryLimit)
	r1 := acCreateKey(t, ts, "acme", "reader", "r1", "")
	r2 := acCreateKey(t, ts, "acme", "reader", "r2", "")
	i1 := acCreateKey(t, ts, "acme", "ingest", "i1", "")
	i2 := acCreateKey(t, ts, "acme", "ingest", "i2", "")
	acStop(ts)
	ts = startServer(t, dir, func(c *serveConfig) { c.QueryRate = 2; c.IngestRate = 10 })

	retryAfter := func(label string, h http.Header) {
		t.Helper()
		n, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q, want whole seconds >= 1", label, h.Get("Retry-After"))
		}
	}
	// Queries: a burst of one second's worth (2), then 429.
	var codes []int
	var limited http.Header
	for i := 0; i < 5; i++ {
		st, h, _ := acReq(t, ts, "GET", "/v1/events", "", bearerOf(r1.token))
		codes = append(codes, st)
		if st == 429 && limited == nil {
			limited = h
		}
	}
	if fmt.Sprint(codes) != "[200 200 429 429 429]" {
		t.Errorf("query burst: %v, want [200 200 429 429 429]", codes)
	}
	if limited != nil {
		retryAfter("query 429", limited)
	}
	if st, _, body := acReq(t, ts, "GET", "/v1/events", "", bearerOf(r2.token)); st != 200 {
		t.Errorf("another key during the first's limit: %d %s", st, body)
	}

	// Ingest: 10 events/s, requests of 5 events.
	batch := strings.Repeat(`{"type":"prompt","content":"x"}`+"\n", 5)
	codes = nil
	limited = nil
	for i := 0; i < 4; i++ {
		st, h, body := acReq(t, ts, "POST", "/v1/events", batch, bearerOf(i1.token), "Content-Type", "application/x-ndjson")
		codes = append(codes, st)
		if st == 429 {
			if limited == nil {
				limited = h
			}
			if !strings.Contains(body, "rate_limited") {
				t.Errorf("ingest 429 body %s", body)
			}
		}
	}
	if fmt.Sprint(codes) != "[200 200 429 429]" {
		t.Errorf("ingest burst: %v, want [200 200 429 429]", codes)
	}
	if limited != nil {
		retryAfter("ingest 429", limited)
	}
	if st, _, body := acReq(t, ts, "POST", "/v1/events", batch, bearerOf(i2.token), "Content-Type", "application/x-ndjson"); st != 200 {
		t.Errorf("another ingest key during the first's limit: %d %s", st, body)
	}
	// Nothing of a refused request was stored: 15 events (two of i1, one of i2).
	acStop(ts)
	ts = startServer(t, dir, noQueryLimit)
	if evs := acSearch(t, ts, bearerOf(ts.token), "/v1/events?tenant=acme&limit=1000&wait_seq=latest&q="+acQ("type:prompt")); len(evs) != 15 {
		t.Errorf("%d events stored, want 15", len(evs))
	}
	// After Retry-After the key may go on.
	acStop(ts)
	ts = startServer(t, dir, func(c *serveConfig) { c.QueryRate = 2; c.IngestRate = 10 })
	for i := 0; i < 3; i++ {
		acReq(t, ts, "GET", "/v1/events", "", bearerOf(r1.token))
	}
	st, h, _ := acReq(t, ts, "GET", "/v1/events", "", bearerOf(r1.token))
	if st != 429 {
		t.Fatalf("query over the limit: %d", st)
	}
	n, _ := strconv.Atoi(h.Get("Retry-After"))
	time.Sleep(time.Duration(n) * time.Second)
	if st, _, body := acReq(t, ts, "GET", "/v1/events", "", bearerOf(r1.token)); st != 200 {
		t.Errorf("after Retry-After: %d %s", st, body)
	}
}
