package sdk

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Transport is an http.RoundTripper that records every request as an
// api_call event: destination (host), method, endpoint (path), status
// code, duration and status. Headers and bodies are not recorded unless
// asked, and credentials never are. Identity (session, user, …) comes from
// the request's context:
//
//	httpClient := &http.Client{Transport: &sdk.Transport{}}
//	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil) // ctx from sdk.WithSession
type Transport struct {
	Base   http.RoundTripper // default http.DefaultTransport
	Client *Client           // default: the context's client, then Default()

	// RecordQuery keeps the query string in endpoint. Off by default:
	// query strings often carry keys.
	RecordQuery bool
	// RecordHeaders names request and response headers to record (in
	// attributes.request_headers / response_headers). Authorization,
	// cookies, and any header whose name mentions a key, token, secret,
	// password, session or auth are never recorded.
	RecordHeaders []string
	// RecordBodies records the request body (arguments.body) and the
	// response body (result), each cut at the client's MaxResultBytes. The
	// event is then logged when the response body is closed or read to
	// the end.
	RecordBodies bool
}

// sensitiveHeader reports headers that are never recorded.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, w := range []string{"key", "token", "secret", "password", "auth", "session", "signature", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	id := identityOf(ctx)
	c := t.Client
	if c == nil {
		c = clientOf(&id)
	}
	if c == nil || c.ownRequest(req) {
		return t.base().RoundTrip(req)
	}
	limit := c.cfg.MaxResultBytes
	e := &Event{Type: "api_call", Destination: req.URL.Host, Method: req.Method, Endpoint: req.URL.EscapedPath()}
	if t.RecordQuery && req.URL.RawQuery != "" {
		e.Endpoint += "?" + req.URL.RawQuery
	}
	if h := t.headers(req.Header); h != nil {
		attr(e, "request_headers", h)
	}
	if t.RecordBodies && req.Body != nil && req.Body != http.NoBody {
		body, r2, err := peekBody(req, limit)
		if err != nil {
			return nil, err
		}
		req = r2
		e.Arguments = map[string]any{"body": body.text}
		if body.total > limit {
			mark(e, "arguments.body", body.total)
		}
	}
	start := time.Now()
	e.Timestamp = start
	resp, err := t.base().RoundTrip(req)
	e.Duration = time.Since(start)
	if err != nil {
		e.Status, e.Error = "error", err.Error()
		recordTo(c, ctx, e, false)
		return resp, err
	}
	e.StatusCode = resp.StatusCode
	e.Status = "success"
	if resp.StatusCode >= 400 {
		e.Status, e.Error = "error", resp.Status
	}
	if h := t.headers(resp.Header); h != nil {
		attr(e, "response_headers", h)
	}
	if !t.RecordBodies || resp.Body == nil || resp.Body == http.NoBody {
		recordTo(c, ctx, e, false)
		return resp, nil
	}
	resp.Body = &recordingBody{rc: resp.Body, limit: limit, done: func(b *recordingBody) {
		r := b.buf.String()
		if b.total > limit {
			r = trimPartialRune(r)
		}
		e.Result = r
		if b.total > limit {
			mark(e, "result", b.total)
		}
		recordTo(c, ctx, e, false)
	}}
	return resp, nil
}

// ownRequest is a request to this client's own server's ingest endpoint
// (a Transport wrapped around the SDK's own HTTP client must not record
// its deliveries).
func (c *Client) ownRequest(req *http.Request) bool {
	return strings.HasPrefix(req.URL.String(), c.endpoint)
}

func (t *Transport) headers(h http.Header) map[string]any {
	var out map[string]any
	for _, name := range t.RecordHeaders {
		if sensitiveHeader(name) {
			continue
		}
		if v := h.Values(name); len(v) > 0 {
			if out == nil {
				out = map[string]any{}
			}
			out[http.CanonicalHeaderKey(name)] = strings.Join(v, ", ")
		}
	}
	return out
}

func attr(e *Event, k string, v any) {
	if e.Attributes == nil {
		e.Attributes = map[string]any{}
	}
	e.Attributes[k] = v
}

type peeked struct {
	text  string
	total int
}

// peekBody reads the request body for the record and gives the request a
// fresh copy of it (the caller's request is not modified).
func peekBody(req *http.Request, limit int) (peeked, *http.Request, error) {
	var data []byte
	var err error
	r2 := req.Clone(req.Context())
	if req.GetBody != nil {
		rc, gerr := req.GetBody()
		if gerr != nil {
			return peeked{}, nil, gerr
		}
		data, err = io.ReadAll(rc)
		rc.Close()
	} else {
		data, err = io.ReadAll(req.Body)
		req.Body.Close()
		r2.Body = io.NopCloser(bytes.NewReader(data))
		r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	if err != nil {
		return peeked{}, nil, err
	}
	return peeked{text: cut(string(data), limit), total: len(data)}, r2, nil
}

// recordingBody keeps the first limit bytes of a response body as it is
// read and calls done once, at EOF or Close.
type recordingBody struct {
	rc    io.ReadCloser
	limit int
	buf   bytes.Buffer
	total int
	once  sync.Once
	done  func(*recordingBody)
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(n, room)])
	}
	b.total += n
	if err == io.EOF {
		b.once.Do(func() { b.done(b) })
	}
	return n, err
}

func (b *recordingBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() { b.done(b) })
	return err
}

// trimPartialRune drops a character cut in two at the end of s.
func trimPartialRune(s string) string {
	for range 3 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
