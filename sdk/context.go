package sdk

import "context"

// identity is what a context carries for the events logged under it. One
// value under one key, so Log looks the context up once.
type identity struct {
	client  *Client
	tenant  string
	session string
	user    string
	agent   string
	channel string
	trace   string
	span    string
}

type ctxKey struct{}

func identityOf(ctx context.Context) identity {
	if ctx == nil {
		return identity{}
	}
	id, _ := ctx.Value(ctxKey{}).(*identity)
	if id == nil {
		return identity{}
	}
	return *id
}

func with(ctx context.Context, set func(*identity)) context.Context {
	id := identityOf(ctx)
	set(&id)
	return context.WithValue(ctx, ctxKey{}, &id)
}

// WithClient makes c the client that the package-level wrappers
// (ToolCall, Prompt, Output, the file helpers) log to under ctx. Without
// it they use the client given to SetDefault.
func WithClient(ctx context.Context, c *Client) context.Context {
	return with(ctx, func(id *identity) { id.client = c })
}

// WithSession sets the session_id of the events logged under ctx.
func WithSession(ctx context.Context, sessionID string) context.Context {
	return with(ctx, func(id *identity) { id.session = sessionID })
}

// WithUser sets the user_id (the person the agent acts for).
func WithUser(ctx context.Context, userID string) context.Context {
	return with(ctx, func(id *identity) { id.user = userID })
}

// WithAgent sets the agent_id.
func WithAgent(ctx context.Context, agentID string) context.Context {
	return with(ctx, func(id *identity) { id.agent = agentID })
}

// WithChannel sets the channel (slack, email, web, …).
func WithChannel(ctx context.Context, channel string) context.Context {
	return with(ctx, func(id *identity) { id.channel = channel })
}

// WithTenant sets the tenant_id. Only the root admin key may log for a
// tenant other than its own; the server refuses it otherwise.
func WithTenant(ctx context.Context, tenantID string) context.Context {
	return with(ctx, func(id *identity) { id.tenant = tenantID })
}

// WithTrace sets the trace and span the events belong to (W3C trace ids
// where you have them). Wrappers give each call its own span, whose
// parent_id is spanID.
func WithTrace(ctx context.Context, traceID, spanID string) context.Context {
	return with(ctx, func(id *identity) { id.trace, id.span = traceID, spanID })
}

// Session returns the session id carried by ctx.
func Session(ctx context.Context) string { return identityOf(ctx).session }

// fill sets e's identity fields from the context where e leaves them empty.
func (id *identity) fill(e *Event) {
	if e.TenantID == "" {
		e.TenantID = id.tenant
	}
	if e.SessionID == "" {
		e.SessionID = id.session
	}
	if e.UserID == "" {
		e.UserID = id.user
	}
	if e.AgentID == "" {
		e.AgentID = id.agent
	}
	if e.Channel == "" {
		e.Channel = id.channel
	}
	if e.TraceID == "" {
		e.TraceID = id.trace
	}
	if e.SpanID == "" && e.ParentID == "" {
		e.SpanID = id.span
	}
}
