package sdk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Version is sent in the User-Agent.
const Version = "0.6.0"

// runSender drains one lane in order: read a batch of one tenant from the
// acked position, deliver it (retrying until the server takes it), move
// the cursor. Only one request per lane is in flight, so the server
// commits a lane's events in the order they were logged.
func (c *Client) runSender(l *lane) {
	defer c.senders.Done()
	ctx := c.sendCtx
	for {
		acked, end := l.q.bounds()
		if acked >= end {
			if l.adopted {
				// An earlier run's lane, now empty: hand it back.
				l.done.Store(true)
				l.q.close()
				unlock(l.lock)
				c.progress.broadcast()
				return
			}
			select {
			case <-l.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		frames, err := l.q.read(acked, c.cfg.BatchBytes, c.cfg.BatchEvents)
		if err != nil || len(frames) == 0 {
			if err == nil {
				err = fmt.Errorf("nothing readable at position %d of %d", acked, end)
			}
			c.rep.report(fmt.Errorf("reading the spool %s: %w", l.dir, err))
			if !sleep(ctx, c.cfg.MaxBackoff) {
				return
			}
			continue
		}
		var payload []byte
		n := 0
		if len(frames) == 1 {
			payload = frames[0].lines
		} else {
			payload = l.payload[:0]
			for _, f := range frames {
				payload = append(payload, f.lines...)
			}
			l.payload = payload
		}
		for _, f := range frames {
			n += f.count
			c.dropped.Add(int64(f.lost)) // damaged spool bytes, reported by the spool
		}
		if n > 0 && !c.deliver(ctx, l, payload, n) {
			return // stopping; the batch stays in the spool
		}
		if err := l.q.ack(frames[len(frames)-1].end); err != nil {
			c.rep.report(fmt.Errorf("moving the spool cursor in %s: %w (the batch may be sent again; the server keeps it once)", l.dir, err))
		}
		c.progress.broadcast()
	}
}

// deliver sends lines (n events) until the server has them. Lines the
// server refuses for good (400 naming them, 409) are set aside and the
// rest resent; a 413 or a 400 naming no line splits the batch. Anything
// else — unreachable, 401/403, 429, 5xx, 507 — is retried with backoff,
// honouring Retry-After, for as long as it takes. It returns false only
// when the client is stopping.
func (c *Client) deliver(ctx context.Context, l *lane, lines []byte, n int) bool {
	backoff := c.cfg.MinBackoff
	for {
		res, err := c.post(ctx, l, lines)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			c.sent.Add(int64(res.Accepted))
			c.dups.Add(int64(res.Duplicates))
			if extra := n - res.Accepted - res.Duplicates; extra != 0 {
				c.rep.report(fmt.Errorf("the server answered for %d events of a batch of %d", res.Accepted+res.Duplicates, n))
			}
			c.rep.ok()
			return true
		}
		var ae *apiError
		if errors.As(err, &ae) {
			switch {
			case ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict:
				bad := ae.lines(n)
				if len(bad) == 0 {
					if n == 1 {
						c.reject(l, lines, 1, ae)
						return true
					}
					return c.split(ctx, l, lines, n)
				}
				keep, gone := partition(lines, bad)
				c.reject(l, gone, bytes.Count(gone, []byte{'\n'}), ae)
				lines, n = keep, bytes.Count(keep, []byte{'\n'}) // counted, not assumed: one line is one event
				if n == 0 {
					return true
				}
				continue
			case ae.Status == http.StatusRequestEntityTooLarge:
				if n == 1 {
					c.reject(l, lines, 1, ae)
					return true
				}
				return c.split(ctx, l, lines, n)
			}
		}
		c.retries.Add(1)
		c.rep.report(fmt.Errorf("sending %d events to %s: %w (kept in %s, retrying)", n, c.cfg.URL, err, c.queueName()))
		wait := jitter(backoff)
		if ae != nil && ae.RetryAfter > 0 {
			wait = min(ae.RetryAfter, 5*time.Minute)
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

func (c *Client) split(ctx context.Context, l *lane, lines []byte, n int) bool {
	cut := lineStart(lines, n/2)
	return c.deliver(ctx, l, lines[:cut], n/2) && c.deliver(ctx, l, lines[cut:], n-n/2)
}

func (c *Client) reject(l *lane, lines []byte, n int, why error) {
	c.rejected.Add(int64(n))
	kept := ""
	if l.dir != "" {
		if err := appendRejected(l.dir, lines); err != nil {
			kept = fmt.Sprintf("; they could not be kept: %v", err)
		} else {
			kept = "; kept in " + l.dir + "/" + rejectedFile
		}
	}
	// Not folded: every rejection is reported.
	c.rep.emit(fmt.Errorf("the server refused %d events for good: %v%s", n, why, kept))
	msg := why.Error()
	c.lastErr.Store(&msg)
}

// lineStart returns the offset of line i (0-based) in NDJSON lines.
func lineStart(lines []byte, i int) int {
	off := 0
	for ; i > 0; i-- {
		j := bytes.IndexByte(lines[off:], '\n')
		if j < 0 {
			return len(lines)
		}
		off += j + 1
	}
	return off
}

// partition splits lines into those not in bad (1-based numbers) and
// those in it.
func partition(lines []byte, bad map[int]bool) (keep, gone []byte) {
	for i, off := 1, 0; off < len(lines); i++ {
		j := bytes.IndexByte(lines[off:], '\n')
		end := len(lines)
		if j >= 0 {
			end = off + j + 1
		}
		if bad[i] {
			gone = append(gone, lines[off:end]...)
		} else {
			keep = append(keep, lines[off:end]...)
		}
		off = end
	}
	return keep, gone
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type ingestResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// apiError is an answer other than 200.
type apiError struct {
	Status     int
	RetryAfter time.Duration
	Body       struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Details []struct {
				Line    int    `json:"line"`
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"details"`
		} `json:"error"`
	}
}

func (e *apiError) Error() string {
	msg := e.Body.Error.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("HTTP %d: %s", e.Status, msg)
	for i, d := range e.Body.Error.Details {
		if i == 3 {
			s += fmt.Sprintf(" (and %d more)", len(e.Body.Error.Details)-3)
			break
		}
		s += "; "
		if d.Line > 0 {
			s += "line " + strconv.Itoa(d.Line) + ": "
		}
		if d.Field != "" {
			s += "field " + d.Field + ": "
		}
		s += d.Message
	}
	return s
}

// lines returns the 1-based line numbers the error names, within 1..n.
func (e *apiError) lines(n int) map[int]bool {
	bad := map[int]bool{}
	for _, d := range e.Body.Error.Details {
		if d.Line >= 1 && d.Line <= n {
			bad[d.Line] = true
		}
	}
	return bad
}

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

func (c *Client) post(ctx context.Context, l *lane, lines []byte) (ingestResult, error) {
	// The body buffer is reused only after a 200 (the server read all of
	// it): after a failure the transport may still be writing it.
	var body []byte
	if c.cfg.DisableCompression {
		body = bytes.Clone(lines)
	} else {
		l.zbuf.Reset()
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&l.zbuf)
		zw.Write(lines)
		zw.Close()
		gzipPool.Put(zw)
		body = l.zbuf.Bytes()
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return ingestResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", "clawtrail-go-sdk/"+Version)
	if !c.cfg.DisableCompression {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.http.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		l.zbuf = bytes.Buffer{}
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the message already
		}
		return ingestResult{}, fmt.Errorf("server unreachable: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ingestResult{}, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		var res ingestResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return res, fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		return res, nil
	}
	ae := &apiError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	json.Unmarshal(raw, &ae.Body)
	return ingestResult{}, ae
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
