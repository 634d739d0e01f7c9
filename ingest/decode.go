// Package ingest turns request bodies into validated events ready for the
// sequencer: it undoes gzip within limits, splits NDJSON, arrays or a single
// object, validates every event against SPEC §1 (collecting every problem,
// not just the first), assigns ids and default timestamps, and computes the
// idempotency hash of what the client sent.
package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/strictjson"
	"github.com/oklog/ulid/v2"
)

// Defaults for Limits.
const (
	DefaultMaxEventBytes   = 1 << 20
	DefaultMaxRequestBytes = 16 << 20
	DefaultMaxClockSkew    = 24 * time.Hour
)

// Limits bound what one request may carry.
type Limits struct {
	MaxEventBytes   int           // one event's JSON
	MaxRequestBytes int           // the whole body, after gzip is undone
	MaxClockSkew    time.Duration // beyond it, attributes.clock_skew_ms marks the event
}

// DefaultLimits returns the SPEC §1 limits.
func DefaultLimits() Limits {
	return Limits{MaxEventBytes: DefaultMaxEventBytes, MaxRequestBytes: DefaultMaxRequestBytes, MaxClockSkew: DefaultMaxClockSkew}
}

// ReadBody reads a request body, undoing gzip when encoding is "gzip", and
// refuses more than max bytes after decompression (so a gzip bomb costs at
// most max bytes of memory).
func ReadBody(r io.Reader, encoding string, max int) ([]byte, error) {
	switch encoding {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, &clawtrail.InvalidError{Message: "body is not valid gzip: " + err.Error()}
		}
		defer zr.Close()
		r = zr
	default:
		return nil, &clawtrail.InvalidError{Message: fmt.Sprintf("unsupported Content-Encoding %q (use gzip or none)", encoding)}
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		var gz bool
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			gz = true
		}
		if gz {
			return nil, &clawtrail.InvalidError{Message: "body is not valid gzip: " + err.Error()}
		}
		return nil, err
	}
	if len(data) > max {
		return nil, fmt.Errorf("%w: request body is over %d bytes (after gzip is undone); split it", clawtrail.ErrTooLarge, max)
	}
	return data, nil
}

// Decoder validates request bodies.
type Decoder struct {
	Limits Limits
	Now    func() time.Time
}

// Decode splits and validates a body. ndjson says the client declared
// application/x-ndjson; otherwise a body starting with '[' is an array, and
// one starting with '{' is a single object or, if more follow, NDJSON. It
// returns every problem as an *clawtrail.InvalidError (nothing is accepted
// from a request with any bad event).
func (d *Decoder) Decode(body []byte, ndjson bool) ([]clawtrail.Pending, error) {
	now := d.Now().UTC()
	c := collector{d: d, now: now}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil, &clawtrail.InvalidError{Message: "empty request body: send one event object, an array, or NDJSON"}
	case !ndjson && trimmed[0] == '[':
		err := strictjson.ParseArray(body, func(i int, v strictjson.Value, raw []byte) error {
			c.add(i+1, v, len(raw))
			return nil
		})
		if err != nil {
			c.errs = append(c.errs, clawtrail.FieldError{Message: err.Error()})
		}
	case !ndjson && trimmed[0] == '{' && isSingle(body):
		v, err := strictjson.Parse(body)
		if err != nil {
			c.errs = append(c.errs, clawtrail.FieldError{Line: 1, Message: err.Error()})
		} else {
			c.add(1, v, len(body))
		}
	default:
		c.lines(body)
	}
	if len(c.errs) > 0 {
		return nil, &clawtrail.InvalidError{Message: fmt.Sprintf("%d problem(s) in the request; nothing was stored", len(c.errs)), Details: c.errs}
	}
	return c.out, nil
}

// isSingle reports whether body holds exactly one JSON value (else NDJSON).
func isSingle(body []byte) bool {
	_, err := strictjson.Parse(body)
	var se *strictjson.SyntaxError
	return err == nil || !errors.As(err, &se) || se.Msg != "unexpected data after the JSON value"
}

type collector struct {
	d    *Decoder
	now  time.Time
	out  []clawtrail.Pending
	errs []clawtrail.FieldError
	buf  []byte
}

func (c *collector) lines(body []byte) {
	for line := 1; len(body) > 0; line++ {
		var raw []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			raw, body = body[:i], body[i+1:]
		} else {
			raw, body = body, nil
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		v, err := strictjson.Parse(raw)
		if err != nil {
			c.errs = append(c.errs, clawtrail.FieldError{Line: line, Message: err.Error()})
			continue
		}
		c.add(line, v, len(raw))
	}
}

func (c *collector) add(line int, v strictjson.Value, size int) {
	if size > c.d.Limits.MaxEventBytes {
		c.errs = append(c.errs, clawtrail.FieldError{Line: line, Message: fmt.Sprintf("event is %d bytes, over the %d-byte limit", size, c.d.Limits.MaxEventBytes)})
		return
	}
	e, errs := clawtrail.DecodeEvent(&v, false)
	for _, fe := range errs {
		fe.Line = line
		c.errs = append(c.errs, fe)
	}
	if e == nil {
		return
	}
	c.buf = strictjson.AppendCanonical(c.buf[:0], v)
	p := clawtrail.Pending{Event: e, ReqHash: clawtrail.ReqHash(c.buf), Line: line}
	if e.ID == "" {
		e.ID = ulid.Make().String()
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = c.now
	} else if skew := e.Timestamp.Sub(c.now); skew > c.d.Limits.MaxClockSkew || -skew > c.d.Limits.MaxClockSkew {
		markSkew(e, skew)
	}
	c.out = append(c.out, p)
}

// markSkew records attributes.clock_skew_ms (timestamp minus receive time).
func markSkew(e *clawtrail.Event, skew time.Duration) {
	attrs := strictjson.Value{Kind: strictjson.Object}
	if e.Attributes != nil {
		attrs.Members = append(attrs.Members, e.Attributes.Members...)
	}
	n := strictjson.Value{Kind: strictjson.Number, Str: strconv.FormatInt(skew.Milliseconds(), 10)}
	for i := range attrs.Members {
		if attrs.Members[i].Key == "clock_skew_ms" {
			attrs.Members[i].Value = n
			e.Attributes = &attrs
			return
		}
	}
	attrs.Members = append(attrs.Members, strictjson.Member{Key: "clock_skew_ms", Value: n})
	e.Attributes = &attrs
}
