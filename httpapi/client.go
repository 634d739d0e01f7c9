package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
)

// ErrUnreachable means the server could not be reached at all.
var ErrUnreachable = errors.New("server unreachable")

// APIError is an error answered by the server.
type APIError struct {
	Status  int
	Code    string
	Message string
	Details []clawtrail.FieldError
}

func (e *APIError) Error() string {
	msg := e.Message
	for i, d := range e.Details {
		if i == 10 {
			msg += fmt.Sprintf("\n  … and %d more", len(e.Details)-10)
			break
		}
		msg += "\n  " + d.Error()
	}
	return msg
}

// Unwrap maps the status back to the sentinel it came from.
func (e *APIError) Unwrap() error { return sentinelOf(e.Status) }

// Client talks to a clawtrail server.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:7300
	Token   string
	Tenant  string // root key only: act on this tenant
	HTTP    *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) url(path string, params url.Values) string {
	if params == nil {
		params = url.Values{}
	}
	if c.Tenant != "" {
		params.Set("tenant", c.Tenant)
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	return u
}

// Do sends a request and returns the response when it is a 2xx; otherwise
// the server's error as an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, params url.Values, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, params), body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, c.BaseURL, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeAPIError(resp)
}

func decodeAPIError(resp *http.Response) error {
	var eb errorBody
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(data, &eb); err != nil || eb.Error.Message == "" {
		return &APIError{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("server answered %s", resp.Status)}
	}
	return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
}

// IngestResult is the answer to POST /v1/events.
type IngestResult struct {
	Accepted   int    `json:"accepted"`
	Duplicates int    `json:"duplicates"`
	FirstSeq   *int64 `json:"first_seq"`
	LastSeq    *int64 `json:"last_seq"`
}

// Ingest posts an NDJSON body.
func (c *Client) Ingest(ctx context.Context, ndjson []byte) (IngestResult, error) {
	h := http.Header{"Content-Type": {"application/x-ndjson"}}
	resp, err := c.Do(ctx, http.MethodPost, "/v1/events", nil, bytes.NewReader(ndjson), h)
	if err != nil {
		return IngestResult{}, err
	}
	defer resp.Body.Close()
	var res IngestResult
	return res, json.NewDecoder(resp.Body).Decode(&res)
}

// SearchPage is one page of GET /v1/events or /v1/sessions/{id}.
type SearchPage struct {
	Events     []json.RawMessage `json:"events"`
	NextCursor string            `json:"next_cursor"`
}

// GetJSON decodes a JSON GET into out.
func (c *Client) GetJSON(ctx context.Context, path string, params url.Values, out any) error {
	resp, err := c.Do(ctx, http.MethodGet, path, params, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// Tail follows GET /v1/tail, calling fn for each event. It reconnects after
// a dropped connection with Last-Event-ID, so no event is missed or
// repeated, until ctx ends or fn returns an error.
func (c *Client) Tail(ctx context.Context, params url.Values, fn func(seq int64, body []byte) error) error {
	last := ""
	connected := false
	backoff := 100 * time.Millisecond
	for {
		h := http.Header{"Accept": {"text/event-stream"}}
		if last != "" {
			h.Set("Last-Event-ID", last)
		}
		resp, err := c.Do(ctx, http.MethodGet, "/v1/tail", params, nil, h)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, ErrUnreachable) || !connected {
				return err
			}
		} else {
			connected = true
			backoff = 100 * time.Millisecond
			err = readSSE(resp.Body, func(id string, data []byte) error {
				seq, perr := strconv.ParseInt(id, 10, 64)
				if perr != nil {
					return fmt.Errorf("tail: bad event id %q", id)
				}
				last = id
				if data == nil {
					return nil // a position only: where the stream starts
				}
				return fn(seq, data)
			})
			resp.Body.Close()
			var stop stopError
			if errors.As(err, &stop) {
				return stop.err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }

// readSSE parses an event stream; fn gets each event, with nil data for an
// event that only sets the id. An error from fn stops it as a stopError.
func readSSE(r io.Reader, fn func(id string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 32<<20)
	var id string
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data != nil || id != "" {
				if err := fn(id, data); err != nil {
					return stopError{err}
				}
			}
			data, id = nil, ""
		case bytes.HasPrefix(line, []byte("id: ")):
			id = string(line[4:])
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data[:0:0], line[6:]...)
		}
	}
	return sc.Err()
}
