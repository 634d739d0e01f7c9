package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// singlePosts is how many one-event POSTs the single-event phase sends.
func singlePosts(o options) int {
	if o.quick {
		return 300
	}
	return 2000
}

type singleResult struct {
	lat []time.Duration
}

// singles posts n events one at a time (application/json, one object per
// request, one client on a kept-alive connection), each after the previous
// one's ack: what a client without the SDK's batching sees per event.
func (s *server) singles(ctx context.Context, n int) (singleResult, error) {
	var res singleResult
	for i := range n {
		body := fmt.Appendf(nil, `{"type":"tool_call","session_id":"sess_single","tool":"exec","arguments":{"command":"echo %d"},"status":"success","duration_ms":12}`, i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.client.BaseURL+"/v1/events", bytes.NewReader(body))
		if err != nil {
			return res, err
		}
		req.Header.Set("Authorization", "Bearer "+s.client.Token)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := s.client.HTTP.Do(req)
		if err != nil {
			return res, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("POST of one event: %s", resp.Status)
		}
		res.lat = append(res.lat, d)
	}
	return res, nil
}

type exportResult struct {
	how    string
	events int
	lat    []time.Duration
}

// export times GET /v1/export?format=jsonl over a window of the measured
// tenant holding about want events, reps times, counting the lines.
func (s *server) export(ctx context.Context, c *corpus, o genOptions, want, reps int) (exportResult, error) {
	window := time.Duration(float64(24*time.Hour) * float64(want) / float64(max(1, c.def.typesDay)))
	window = min(window, 30*24*time.Hour)
	from, to := o.dayFrom, o.dayFrom.Add(window)
	if to.After(c.end) {
		from, to = c.end.Add(-window), c.end
	}
	params := url.Values{"format": {"jsonl"}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	res := exportResult{how: "GET /v1/export?" + params.Encode()}
	for i := range reps + 1 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.client.BaseURL+"/v1/export?"+params.Encode(), nil)
		if err != nil {
			return res, err
		}
		req.Header.Set("Authorization", "Bearer "+s.client.Token)
		t0 := time.Now()
		resp, err := s.client.HTTP.Do(req)
		if err != nil {
			return res, err
		}
		n, err := countLines(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil {
			return res, err
		}
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("export: %s", resp.Status)
		}
		if i == 0 { // warm-up
			res.events = n
			continue
		}
		if n != res.events {
			return res, fmt.Errorf("export returned %d events, then %d", res.events, n)
		}
		res.lat = append(res.lat, d)
	}
	return res, nil
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 256<<10)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
