// Package sdk records what a Go agent does in clawtrail, without slowing it
// down or losing events when the server is away.
//
// Log encodes an event and returns; a writer goroutine moves buffered
// events to a spool file every FlushInterval (default 200 ms) and a sender
// delivers the spool in order, batched and gzip'd, retrying with backoff
// (honouring Retry-After) until the server has them. Every event carries a
// client-assigned id, so a retry after a lost answer is stored once. The
// spool outlives the process: the next client to open it sends what is
// left.
//
// What a crash can lose: the events logged in the last FlushInterval,
// still in memory. With Config.Durable, Log returns only after the event
// is in the spool on disk, and a crash loses nothing Log returned for.
//
// The wrappers (ToolCall, Prompt, Output, Approval, FileOp, WriteFile,
// ReadFile, Remove, Transport) fill the event's identity from the context
// (WithSession, WithUser, WithAgent, WithTenant, WithTrace) and log to the
// context's client (WithClient) or the default one (SetDefault). They
// never change what the wrapped code returns; a failure to log is
// reported to Config.OnError.
//
// See docs/sdk.md for a walk-through.
package sdk
