package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"
)

var defaultClient atomic.Pointer[Client]

// SetDefault makes c the client the package-level functions log to when
// the context names none (WithClient).
func SetDefault(c *Client) { defaultClient.Store(c) }

// Default returns the client given to SetDefault, or nil.
func Default() *Client { return defaultClient.Load() }

// clientOf is the context's client, else the default one.
func clientOf(id *identity) *Client {
	if id.client != nil {
		return id.client
	}
	return defaultClient.Load()
}

// Log records e with the context's client (WithClient) or the default one.
// Without either it returns ErrNoClient.
func Log(ctx context.Context, e Event) error {
	id := identityOf(ctx)
	c := clientOf(&id)
	if c == nil {
		return ErrNoClient
	}
	id.fill(&e)
	return c.log(&e, false)
}

// ErrNoClient: a package-level function found no client (SetDefault or
// WithClient).
var ErrNoClient = errors.New("clawtrail sdk: no client: call sdk.SetDefault or sdk.WithClient")

// record logs an event from a wrapper: the agent's own work must go on,
// so a failure to log is reported (OnError), never returned.
func record(ctx context.Context, e *Event, mustSync bool) { recordTo(nil, ctx, e, mustSync) }

// recordTo is record with a client chosen by the caller (nil: the
// context's, then the default).
func recordTo(c *Client, ctx context.Context, e *Event, mustSync bool) {
	id := identityOf(ctx)
	if c == nil {
		c = clientOf(&id)
	}
	if c == nil {
		warnNoClient()
		return
	}
	if e.SpanID == "" {
		// Each wrapped call is a span of its own, under the context's.
		e.SpanID, e.ParentID = newSpanID(), id.span
	}
	id.fill(e)
	if err := c.log(e, mustSync); err != nil && !errors.Is(err, ErrDropped) {
		c.rep.report(fmt.Errorf("logging a %s event: %w", e.Type, err))
	}
}

var warnedNoClient atomic.Bool

func warnNoClient() {
	if warnedNoClient.CompareAndSwap(false, true) {
		fmt.Fprintln(os.Stderr, "clawtrail sdk: an event was not recorded: no client (call sdk.SetDefault or use sdk.WithClient)")
	}
}

func newSpanID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ToolCall runs fn and records a tool_call event: the tool's name, its
// arguments, the result, how long it took, and status success or error
// (with the error's text). It returns exactly what fn returned. If fn
// panics, the event (status error, "panic: …") is written to the spool
// before the panic goes on, unchanged.
//
// args should encode as a JSON object (a map or a struct); anything else
// is recorded as {"input": args}.
func ToolCall[R any](ctx context.Context, name string, args any, fn func(ctx context.Context) (R, error)) (result R, err error) {
	start := time.Now()
	// Stamped with its start, so a timeline shows the call before what it
	// did (an API call inside it).
	e := &Event{Type: "tool_call", Tool: name, Arguments: objectOf(args), Timestamp: start}
	panicked := true
	defer func() {
		e.Duration = time.Since(start)
		if panicked {
			r := recover()
			if r == nil {
				// runtime.Goexit (t.FailNow): record it and let it go on.
				e.Status, e.Error = "error", "the goroutine exited inside the tool call"
				record(ctx, e, true)
				return
			}
			e.Status, e.Error = "error", fmt.Sprintf("panic: %v", r)
			record(ctx, e, true)
			panic(r)
		}
		if err != nil {
			e.Status, e.Error = "error", err.Error()
		} else {
			e.Status = "success"
		}
		e.Result = limitResult(ctx, e, result)
		record(ctx, e, false)
	}()
	result, err = fn(ctx)
	panicked = false
	return result, err
}

// Prompt records a prompt: what the user (or a message) asked the agent.
func Prompt(ctx context.Context, content string) {
	record(ctx, &Event{Type: "prompt", Content: content}, false)
}

// Output records the model's answer with its model name and token usage.
func Output(ctx context.Context, content, model string, usage Usage) {
	e := &Event{Type: "output", Content: content, Model: model, Usage: &usage,
		TokensUsed: usage.InputTokens + usage.OutputTokens}
	if usage == (Usage{}) {
		e.Usage, e.TokensUsed = nil, 0
	}
	record(ctx, e, false)
}

// Approval records a human decision on an action: decision is approved,
// denied or expired; approver who decided; reason why.
func Approval(ctx context.Context, tool, decision, approver, reason string) {
	record(ctx, &Event{Type: "approval", Tool: tool, Decision: decision, Approver: approver, Reason: reason, Status: decision}, false)
}

// objectOf makes args a JSON object: maps and structs are kept, anything
// else is wrapped as {"input": args}.
func objectOf(args any) any {
	if args == nil {
		return nil
	}
	switch a := args.(type) {
	case map[string]any, map[string]string, json.RawMessage:
		if raw, ok := a.(json.RawMessage); ok && (len(raw) == 0 || raw[0] != '{') {
			return map[string]any{"input": raw}
		}
		return args
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return map[string]any{"unencodable": err.Error()}
	}
	if len(raw) > 0 && raw[0] == '{' {
		return json.RawMessage(raw)
	}
	return map[string]any{"input": json.RawMessage(raw)}
}

// limitResult keeps a result within MaxResultBytes of JSON: a longer one
// is cut (strings) or replaced, and the event says so in
// attributes.truncated.
func limitResult(ctx context.Context, e *Event, v any) any {
	id := identityOf(ctx)
	c := clientOf(&id)
	limit := 64 << 10
	if c != nil {
		limit = c.cfg.MaxResultBytes
	}
	switch x := v.(type) {
	case nil:
		return nil
	case string: // measured as text, not as escaped JSON
		if len(x) <= limit {
			return x
		}
		mark(e, "result", len(x))
		return cut(x, limit)
	case []byte:
		if len(x) <= limit {
			return string(x)
		}
		mark(e, "result", len(x))
		return cut(string(x), limit)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"unencodable": err.Error()}
	}
	if string(raw) == "null" {
		return nil
	}
	if len(raw) <= limit {
		return json.RawMessage(raw)
	}
	mark(e, "result", len(raw))
	return cut(string(raw), limit)
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

func mark(e *Event, field string, size int) {
	if e.Attributes == nil {
		e.Attributes = map[string]any{}
	}
	t, _ := e.Attributes["truncated"].(map[string]any)
	if t == nil {
		t = map[string]any{}
		e.Attributes["truncated"] = t
	}
	t[field] = size
}

// ---- file operations ----

// FileOp runs fn, which performs operation (read, write, delete, …) on
// path and returns the bytes it moved, and records a file_operation event
// with the path, operation, bytes, duration and status.
func FileOp(ctx context.Context, operation, path string, fn func() (int64, error)) (int64, error) {
	start := time.Now()
	n, err := fn()
	e := &Event{Type: "file_operation", Operation: operation, Path: path, Bytes: n, Timestamp: start, Duration: time.Since(start), Status: "success"}
	if err != nil {
		e.Status, e.Error = "error", err.Error()
	}
	record(ctx, e, false)
	return n, err
}

// WriteFile is os.WriteFile, recorded as a write.
func WriteFile(ctx context.Context, path string, data []byte, perm fs.FileMode) error {
	_, err := FileOp(ctx, "write", path, func() (int64, error) {
		if err := os.WriteFile(path, data, perm); err != nil {
			return 0, err
		}
		return int64(len(data)), nil
	})
	return err
}

// ReadFile is os.ReadFile, recorded as a read.
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	var data []byte
	_, err := FileOp(ctx, "read", path, func() (int64, error) {
		var err error
		data, err = os.ReadFile(path)
		return int64(len(data)), err
	})
	return data, err
}

// Remove is os.Remove, recorded as a delete (bytes: the size it had).
func Remove(ctx context.Context, path string) error {
	_, err := FileOp(ctx, "delete", path, func() (int64, error) {
		var size int64
		if fi, err := os.Lstat(path); err == nil {
			size = fi.Size()
		}
		return size, os.Remove(path)
	})
	return err
}
