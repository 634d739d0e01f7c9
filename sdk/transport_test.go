package sdk

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// seenRequest is what the remote API received.
type seenRequest struct {
	method, uri   string
	header        http.Header
	body          string
	contentLength int64
}

// remoteAPI is an httptest server that records what it receives and
// answers with handle.
type remoteAPI struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRemoteAPI(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *remoteAPI {
	api := &remoteAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("remote API: reading the body: %v", err)
		}
		api.mu.Lock()
		api.seen = append(api.seen, seenRequest{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: string(b), contentLength: r.ContentLength})
		api.mu.Unlock()
		if handle != nil {
			handle(w, r)
		}
	}))
	t.Cleanup(api.Close)
	return api
}

func (a *remoteAPI) last(t *testing.T) seenRequest {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		t.Fatal("the remote API received nothing")
	}
	return a.seen[len(a.seen)-1]
}

func (a *remoteAPI) host() string { return strings.TrimPrefix(a.URL, "http://") }

// onlyReader is a request body with nothing but Read: http.NewRequest
// gives such a request no GetBody and no ContentLength.
type onlyReader struct{ r io.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func roundTrip(t *testing.T, tr http.RoundTripper, req *http.Request) *http.Response {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

func drainClose(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// Credentials are never recorded, not even when RecordHeaders names them;
// the request still carries them.
func TestTransportNeverRecordsCredentials(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	api := newRemoteAPI(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Set-Cookie", "sid=resp-cookie-secret")
		h.Set("Cookie", "resp-cookie2-secret")
		h.Set("Authorization", "resp-authz-secret")
		h.Set("Proxy-Authorization", "resp-proxy-secret")
		h.Set("X-Api-Key", "resp-apikey-secret")
		h.Set("X-Auth-Token", "resp-token-secret")
		h.Set("X-Request-Id", "req-42")
		h.Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	})
	tr := &Transport{Client: c, RecordHeaders: []string{"authorization", "Proxy-Authorization", "COOKIE", "Set-Cookie",
		"x-api-key", "X-Auth-Token", "Content-Type", "X-Request-Id", "X-Note"}}
	secrets := map[string]string{
		"Authorization":       "Bearer req-authz-secret",
		"Proxy-Authorization": "Basic req-proxy-secret",
		"Cookie":              "sid=req-cookie-secret",
		"X-Api-Key":           "req-apikey-secret",
		"X-Auth-Token":        "req-token-secret",
	}
	req, _ := http.NewRequestWithContext(WithSession(context.Background(), "creds"), "POST", api.URL+"/v1/send", strings.NewReader("{}"))
	for k, v := range secrets {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Note", "visible")
	drainClose(roundTrip(t, tr, req))
	got := api.last(t)
	for k, v := range secrets {
		if got.header.Get(k) != v {
			t.Errorf("the remote API got %s %q, want %q: the request must go through unchanged", k, got.header.Get(k), v)
		}
	}
	flush(t, c)
	e := onlyEvent(t, ts)
	attrs := attrsOf(e)
	if want := map[string]any{"Content-Type": "text/plain", "X-Note": "visible"}; !reflect.DeepEqual(attrs["request_headers"], want) {
		t.Errorf("request_headers %v, want %v", attrs["request_headers"], want)
	}
	if want := map[string]any{"Content-Type": "application/json", "X-Request-Id": "req-42"}; !reflect.DeepEqual(attrs["response_headers"], want) {
		t.Errorf("response_headers %v, want %v", attrs["response_headers"], want)
	}
	all := fmt.Sprint(ts.Ledger("acme"))
	for _, s := range []string{"secret", "Authorization", "Cookie", "Api-Key", "Auth-Token"} {
		if strings.Contains(all, s) {
			t.Errorf("%q recorded: %s", s, all)
		}
	}
	if e["type"] != "api_call" || e["session_id"] != "creds" || e["method"] != "POST" || e["endpoint"] != "/v1/send" ||
		e["destination"] != api.host() || e["status_code"] != 200.0 || e["status"] != "success" {
		t.Errorf("event %v", e)
	}
	if _, ok := e["duration_ms"].(float64); !ok {
		t.Errorf("no duration: %v", e)
	}
}

// The query string is left out of endpoint unless RecordQuery; the
// client can come from the request's context.
func TestTransportQueryString(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	api := newRemoteAPI(t, nil)
	ctx := WithClient(context.Background(), c)
	for _, record := range []bool{false, true} {
		tr := &Transport{RecordQuery: record}
		req, _ := http.NewRequestWithContext(WithSession(ctx, fmt.Sprint("query-", record)), "GET", api.URL+"/v1/items/a%20b?api_key=q-secret-1&x=1", nil)
		drainClose(roundTrip(t, tr, req))
		if got := api.last(t).uri; got != "/v1/items/a%20b?api_key=q-secret-1&x=1" {
			t.Fatalf("the remote API got %s", got)
		}
	}
	flush(t, c)
	evs := ledgerBy(t, ts, "session_id")
	if e := evs["query-false"]; e == nil || e["endpoint"] != "/v1/items/a%20b" || strings.Contains(fmt.Sprint(e), "q-secret-1") {
		t.Errorf("without RecordQuery: %v", e)
	}
	if e := evs["query-true"]; e == nil || e["endpoint"] != "/v1/items/a%20b?api_key=q-secret-1&x=1" {
		t.Errorf("with RecordQuery: %v", e)
	}
}

// RecordBodies records the request body (arguments.body) and the
// response body (result), each cut at MaxResultBytes and marked; the
// remote API still gets the whole request body, with or without GetBody.
func TestTransportRecordBodies(t *testing.T) {
	ts := NewTestServer(t)
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.MaxResultBytes = 50
	c := newClient(t, cfg)
	respBody := strings.Repeat("r", 300)
	api := newRemoteAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "ok")
			return
		}
		io.WriteString(w, respBody)
	})
	tr := &Transport{Client: c, RecordBodies: true}
	long := strings.Repeat("0123456789", 20) // 200 bytes
	for _, tc := range []struct {
		session string
		body    io.Reader
		path    string
	}{
		{"getbody", strings.NewReader(long), "/big"},
		{"reader", &onlyReader{strings.NewReader(long)}, "/big"},
		{"small", &onlyReader{strings.NewReader("tiny")}, "/small"},
	} {
		req, _ := http.NewRequestWithContext(WithSession(context.Background(), tc.session), "POST", api.URL+tc.path, tc.body)
		if (req.GetBody != nil) != (tc.session == "getbody") {
			t.Fatalf("%s: test premise: GetBody %v", tc.session, req.GetBody != nil)
		}
		resp := roundTrip(t, tr, req)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := long
		if tc.session == "small" {
			want = "tiny"
			if string(b) != "ok" {
				t.Fatalf("%s: the caller read %q", tc.session, b)
			}
		} else if string(b) != respBody {
			t.Fatalf("%s: the caller read %d bytes of the response, want all %d", tc.session, len(b), len(respBody))
		}
		got := api.last(t)
		if got.body != want {
			t.Errorf("%s: the remote API got a body of %d bytes (%q), want all %d", tc.session, len(got.body), got.body, len(want))
		}
		if tc.session == "getbody" && got.contentLength != int64(len(long)) {
			t.Errorf("%s: Content-Length %d, want %d", tc.session, got.contentLength, len(long))
		}
	}
	flush(t, c)
	evs := ledgerBy(t, ts, "session_id")
	for _, s := range []string{"getbody", "reader"} {
		e := evs[s]
		if e == nil {
			t.Errorf("%s: no event", s)
			continue
		}
		if args, _ := e["arguments"].(map[string]any); args["body"] != long[:50] {
			t.Errorf("%s: arguments %v, want body = the first 50 bytes", s, e["arguments"])
		}
		if e["result"] != respBody[:50] {
			t.Errorf("%s: result %v, want the first 50 bytes", s, e["result"])
		}
		if want := map[string]any{"arguments.body": 200.0, "result": 300.0}; !reflect.DeepEqual(truncatedOf(e), want) {
			t.Errorf("%s: attributes %v, want truncated %v", s, attrsOf(e), want)
		}
	}
	if e := evs["small"]; e == nil || e["result"] != "ok" || e["attributes"] != nil ||
		!reflect.DeepEqual(e["arguments"], map[string]any{"body": "tiny"}) {
		t.Errorf("small bodies: %v", e)
	}
}

// With RecordBodies the event is logged when the response body is closed,
// read to the end or not; once.
func TestTransportLogsWhenTheBodyIsClosed(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	big := strings.Repeat("b", 10<<10)
	api := newRemoteAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
		} else {
			io.WriteString(w, "short answer")
		}
	})
	tr := &Transport{Client: c, RecordBodies: true}
	logged := func() int64 { return c.Stats().Logged }

	// Closed after 10 bytes.
	req, _ := http.NewRequestWithContext(WithSession(context.Background(), "partial"), "GET", api.URL+"/big", nil)
	resp := roundTrip(t, tr, req)
	var buf [10]byte
	if _, err := io.ReadFull(resp.Body, buf[:]); err != nil {
		t.Fatal(err)
	}
	if n := logged(); n != 0 {
		t.Fatalf("logged %d events before the body was closed", n)
	}
	resp.Body.Close()
	if n := logged(); n != 1 {
		t.Fatalf("logged %d events after Close, want 1", n)
	}
	resp.Body.Close()
	if n := logged(); n != 1 {
		t.Fatalf("a second Close logged again: %d", n)
	}

	// Read to the end: logged at EOF, not again at Close.
	req, _ = http.NewRequestWithContext(WithSession(context.Background(), "eof"), "GET", api.URL+"/short", nil)
	resp = roundTrip(t, tr, req)
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "short answer" {
		t.Fatalf("read %q, %v", b, err)
	}
	if n := logged(); n != 2 {
		t.Fatalf("logged %d events after EOF, want 2", n)
	}
	resp.Body.Close()
	if n := logged(); n != 2 {
		t.Fatalf("Close after EOF logged again: %d", n)
	}

	// Without RecordBodies: logged when the response comes back.
	req, _ = http.NewRequestWithContext(WithSession(context.Background(), "nobody"), "GET", api.URL+"/big", nil)
	resp = roundTrip(t, &Transport{Client: c}, req)
	if n := logged(); n != 3 {
		t.Fatalf("logged %d events before the body was read, want 3", n)
	}
	resp.Body.Close()

	flush(t, c)
	evs := ledgerBy(t, ts, "session_id")
	if e := evs["partial"]; e == nil || e["result"] != big[:10] || e["status_code"] != 200.0 || e["status"] != "success" {
		t.Errorf("partial read: %v", e)
	}
	if e := evs["eof"]; e == nil || e["result"] != "short answer" {
		t.Errorf("read to EOF: %v", e)
	}
	if e := evs["nobody"]; e == nil || e["result"] != nil || e["status_code"] != 200.0 {
		t.Errorf("without RecordBodies: %v", e)
	}
}

// A transport error (connection refused) is recorded with status error
// and the error's text, and returned.
func TestTransportConnectionRefused(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, bodies := range []bool{false, true} {
		tr := &Transport{Client: c, RecordBodies: bodies}
		req, _ := http.NewRequestWithContext(WithSession(context.Background(), fmt.Sprint("refused-", bodies)), "PUT", "http://"+addr+"/v1/thing", strings.NewReader("payload"))
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("a request to a closed port succeeded")
		}
		if !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("error %v", err)
		}
	}
	flush(t, c)
	evs := ledgerBy(t, ts, "session_id")
	for _, s := range []string{"refused-false", "refused-true"} {
		e := evs[s]
		if e == nil || e["type"] != "api_call" || e["status"] != "error" || !strings.Contains(fmt.Sprint(e["error"]), "connection refused") ||
			e["destination"] != addr || e["method"] != "PUT" || e["endpoint"] != "/v1/thing" || e["status_code"] != nil {
			t.Errorf("%s: %v", s, e)
		}
	}
	if args, _ := evs["refused-true"]["arguments"].(map[string]any); args["body"] != "payload" {
		t.Errorf("the body of a failed request: %v", evs["refused-true"]["arguments"])
	}
}

// A status of 400 or more is status error, with the status text.
func TestTransportErrorStatus(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	api := newRemoteAPI(t, func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &code)
		w.WriteHeader(code)
	})
	tr := &Transport{Client: c}
	for _, code := range []int{200, 201, 302, 399, 400, 404, 418, 500, 503} {
		req, _ := http.NewRequestWithContext(WithSession(context.Background(), fmt.Sprint(code)), "GET", fmt.Sprintf("%s/%d", api.URL, code), nil)
		resp := roundTrip(t, tr, req)
		if resp.StatusCode != code {
			t.Fatalf("got %d, want %d", resp.StatusCode, code)
		}
		drainClose(resp)
	}
	flush(t, c)
	evs := ledgerBy(t, ts, "session_id")
	for _, code := range []int{200, 201, 302, 399, 400, 404, 418, 500, 503} {
		e := evs[fmt.Sprint(code)]
		if e == nil || e["status_code"] != float64(code) {
			t.Errorf("%d: %v", code, e)
			continue
		}
		if code < 400 {
			if e["status"] != "success" || e["error"] != nil {
				t.Errorf("%d: status %v error %v, want success", code, e["status"], e["error"])
			}
			continue
		}
		if want := fmt.Sprintf("%d %s", code, http.StatusText(code)); e["status"] != "error" || e["error"] != want {
			t.Errorf("%d: status %v error %v, want error %q", code, e["status"], e["error"], want)
		}
	}
}

// A Transport around the client's own HTTP client does not record its
// deliveries (nor any request to the ingest endpoint); other requests to
// the same server are recorded.
func TestTransportSkipsOwnIngest(t *testing.T) {
	ts := NewTestServer(t)
	tr := &Transport{}
	cfg := fastConfig(t, ts, t.TempDir())
	cfg.HTTPClient = &http.Client{Transport: tr}
	c := newClient(t, cfg)
	tr.Client = c // before anything is logged, so before the sender uses tr
	logMany(t, c, "own", 5, nil)
	flush(t, c)
	if st := c.Stats(); st.Logged != 5 || st.Sent != 5 {
		t.Fatalf("stats %+v: the deliveries were recorded as events", st)
	}
	// A direct POST to the ingest endpoint through the transport.
	req, _ := http.NewRequest("POST", ts.URL+"/v1/events", strings.NewReader(`{"type":"prompt","session_id":"direct","content":"by hand"}`+"\n"))
	req.Header.Set("Authorization", "Bearer "+ts.Ingest)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp := roundTrip(t, tr, req)
	drainClose(resp)
	if resp.StatusCode != 200 {
		t.Fatalf("direct ingest: %s", resp.Status)
	}
	// Another path on the same server is an API call like any other.
	req, _ = http.NewRequest("GET", ts.URL+"/v1/sessions/own", nil)
	req.Header.Set("Authorization", "Bearer "+ts.Reader)
	drainClose(roundTrip(t, tr, req))
	if n := c.Stats().Logged; n != 6 {
		t.Fatalf("logged %d, want 6 (the 5 events and the sessions call)", n)
	}
	flush(t, c)
	var types []string
	for _, e := range ts.Ledger("acme") {
		types = append(types, fmt.Sprint(e["type"], ":", e["endpoint"]))
	}
	want := "tool_call:<nil> tool_call:<nil> tool_call:<nil> tool_call:<nil> tool_call:<nil> prompt:<nil> api_call:/v1/sessions/own"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("ledger %s, want %s", got, want)
	}
}

// The caller's *http.Request is not modified (RoundTrip's contract), even
// when the transport reads its body.
func TestTransportDoesNotModifyTheRequest(t *testing.T) {
	ts := NewTestServer(t)
	c := newClient(t, fastConfig(t, ts, t.TempDir()))
	api := newRemoteAPI(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "answer") })
	tr := &Transport{Client: c, RecordBodies: true, RecordQuery: true, RecordHeaders: []string{"X-Note", "Authorization"}}
	for _, withGetBody := range []bool{true, false} {
		var body io.Reader = strings.NewReader("the body")
		if !withGetBody {
			body = &onlyReader{strings.NewReader("the body")}
		}
		ctx := WithSession(context.Background(), "unmodified")
		req, _ := http.NewRequestWithContext(ctx, "POST", api.URL+"/p?q=1", body)
		req.Header.Set("X-Note", "n")
		req.Header.Set("Authorization", "Bearer x")
		hdr := req.Header.Clone()
		url := req.URL.String()
		urlPtr := req.URL
		reqBody := req.Body
		getBody := reflect.ValueOf(req.GetBody).Pointer()
		cl, host, method := req.ContentLength, req.Host, req.Method
		resp := roundTrip(t, tr, req)
		drainClose(resp)
		if !reflect.DeepEqual(req.Header, hdr) || req.URL != urlPtr || req.URL.String() != url || req.Body != reqBody ||
			reflect.ValueOf(req.GetBody).Pointer() != getBody || req.ContentLength != cl || req.Host != host ||
			req.Method != method || req.Context() != ctx {
			t.Errorf("GetBody %v: the caller's request was modified: %+v", withGetBody, req)
		}
		if got := api.last(t); got.body != "the body" || got.header.Get("Authorization") != "Bearer x" {
			t.Errorf("GetBody %v: the remote API got %+v", withGetBody, got)
		}
	}
	flush(t, c)
	for _, e := range ts.Ledger("acme") {
		if args, _ := e["arguments"].(map[string]any); args["body"] != "the body" || e["result"] != "answer" || e["endpoint"] != "/p?q=1" {
			t.Errorf("event %v", e)
		}
	}
}

// With no client anywhere the transport only passes requests through.
func TestTransportWithoutAClient(t *testing.T) {
	prev := Default()
	SetDefault(nil)
	t.Cleanup(func() { SetDefault(prev) })
	api := newRemoteAPI(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	req, _ := http.NewRequest("POST", api.URL+"/x", &onlyReader{strings.NewReader("b")})
	resp := roundTrip(t, &Transport{RecordBodies: true}, req)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "fine" || api.last(t).body != "b" {
		t.Fatalf("pass-through: read %q, sent %q", b, api.last(t).body)
	}
	if _, ok := resp.Body.(*recordingBody); ok {
		t.Fatal("a response body was wrapped for recording without a client")
	}
}
