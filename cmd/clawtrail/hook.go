package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clawtrail/clawtrail/claudecode"
	"github.com/clawtrail/clawtrail/sdk"
	"github.com/spf13/cobra"
)

// exitStatus makes a command exit with a given code (hook commands must
// never exit 2 by accident: Claude Code reads 2 as "block this call").
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string { return e.err.Error() }
func (e exitStatus) Unwrap() error { return e.err }

func newHookCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "Record an agent's hook calls (Claude Code)",
		// An agent runs this command: a mistyped hook name must not exit 0
		// with the help on stdout (Claude Code would give it to the model
		// as context) nor 2 (Claude Code's "block").
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exitStatus{1, fmt.Errorf("unknown hook %q (the hooks are: claude-code)", args[0])}
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newClaudeCodeHookCmd(e))
	return cmd
}

// hookError makes any error of a hook command exit 1: flag and argument
// errors would otherwise exit 2, which Claude Code reads as "block this
// call" (a settings.json written for another version would then block
// every prompt and tool call).
func hookError(err error) error {
	if err == nil {
		return nil
	}
	var es exitStatus
	if errors.As(err, &es) {
		return err
	}
	return exitStatus{1, err}
}

// claudeHookEvents are the hook events --print-settings registers.
var claudeHookEvents = []string{
	claudecode.SessionStart, claudecode.UserPromptSubmit, claudecode.PreToolUse, claudecode.PermissionRequest,
	claudecode.PostToolUse, claudecode.PostToolUseFailure, claudecode.Stop, "SubagentStop",
	claudecode.Notification, claudecode.SessionEnd,
}

type claudeHookFlags struct {
	cf                          clientFlags
	deny                        []string
	rules, tokenFile, spool     string
	user, agent, channel        string
	timeout                     time.Duration
	maxField                    int
	requireRecord, print, asURL bool
}

func newClaudeCodeHookCmd(e env) *cobra.Command {
	var f claudeHookFlags
	cmd := &cobra.Command{
		Use:   "claude-code",
		Short: "Record one Claude Code hook call (the payload on stdin); --print-settings prints the settings.json block",
		Long: `Record one Claude Code hook call. Claude Code runs this command with the hook's
JSON payload on stdin (configure it with the block --print-settings prints).

The call becomes one event: UserPromptSubmit → prompt, PreToolUse/PostToolUse/
PostToolUseFailure → tool_call (status started/success/error), PermissionRequest →
approval (pending), Stop → output, SessionStart/SessionEnd → session_start/
session_end, any other hook → its own type. The event is written to a local
spool first (fsync'd), then sent; if the server cannot be reached in --timeout
the command returns anyway and a later hook call delivers it.

Deny rules (--deny QUERY, --rules FILE) are queries in the search language; the
first that matches a PreToolUse, UserPromptSubmit or PermissionRequest call
refuses it (Claude Code's deny answer on stdout) and the event is recorded with
status blocked (denied for a permission request). Rules are evaluated here,
so they hold while the server is down.

Exit status is 0, or 1 for an error Claude Code should show without blocking;
never 2, which Claude Code reads as "block".`,
		Args: func(cmd *cobra.Command, args []string) error { return hookError(cobra.NoArgs(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if f.print {
				return printClaudeSettings(e, cmd, &f)
			}
			defer func() {
				// A panic would exit 2 (Go's code for it): Claude Code's "block".
				if p := recover(); p != nil {
					err = fmt.Errorf("internal error: %v", p)
				}
				err = hookError(err)
			}()
			return runClaudeHook(cmd.Context(), e, &f)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return hookError(err) })
	fs := cmd.Flags()
	f.cf.register(cmd)
	fs.StringArrayVar(&f.deny, "deny", nil, "refuse calls matching this query (repeatable), e.g. 'tool:Bash AND \"rm -rf\"'")
	fs.StringVar(&f.rules, "rules", "", "YAML file of deny rules: deny: [{query: …, reason: …}]")
	fs.StringVar(&f.tokenFile, "token-file", "", "read the API key from this file (keeps it out of settings.json)")
	fs.StringVar(&f.user, "user", "", "user_id to record (default: the OS user)")
	fs.StringVar(&f.agent, "agent", "claude-code", "agent_id to record")
	fs.StringVar(&f.channel, "channel", "", "channel to record")
	fs.StringVar(&f.spool, "spool", "", "spool directory (default: the user cache dir, per server and key)")
	fs.DurationVar(&f.timeout, "timeout", 3*time.Second, "longest to wait for the server before leaving the event in the spool")
	fs.IntVar(&f.maxField, "max-field-bytes", claudecode.DefaultMaxFieldBytes, "cut longer strings in tool input/output (marked in attributes.truncated)")
	fs.BoolVar(&f.requireRecord, "require-record", false, "refuse a call (PreToolUse, UserPromptSubmit, PermissionRequest) that cannot be recorded")
	fs.BoolVar(&f.print, "print-settings", false, "print the settings.json hooks block for this configuration and exit")
	fs.BoolVar(&f.asURL, "http", false, "with --print-settings: use HTTP hooks (POST /v1/hooks/claude-code) instead of this command")
	return cmd
}

func (f *claudeHookFlags) policy() (claudecode.Policy, error) {
	var pol claudecode.Policy
	if f.rules != "" {
		p, err := claudecode.LoadPolicy(f.rules)
		if err != nil {
			return pol, err
		}
		pol = p
	}
	for _, q := range f.deny {
		pol.Deny = append(pol.Deny, claudecode.Rule{Query: q})
	}
	return pol, pol.Compile()
}

func (f *claudeHookFlags) token(e env) error {
	if f.tokenFile == "" || f.cf.token != "" {
		return nil
	}
	b, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	f.cf.token = strings.TrimSpace(string(b))
	return nil
}

func runClaudeHook(ctx context.Context, e env, f *claudeHookFlags) error {
	pol, err := f.policy()
	if err != nil {
		return err
	}
	in, err := io.ReadAll(io.LimitReader(e.stdin, 64<<20+1))
	if err != nil {
		return fmt.Errorf("reading the hook payload: %w", err)
	}
	p, err := claudecode.Parse(in)
	if err != nil {
		return err
	}
	o := claudecode.Options{User: f.user, Agent: f.agent, Channel: f.channel, MaxFieldBytes: f.maxField, ReadTranscript: true}
	if o.User == "" {
		o.User = osUser(e)
	}
	ev := claudecode.Map(p, o)
	_, answer, err := pol.Apply(p, &ev, f.cf.tenant)
	if err != nil {
		return err
	}
	if recErr := recordHookEvent(ctx, e, f, ev); recErr != nil {
		if f.requireRecord && answer == nil {
			answer = claudecode.Refusal(p.Event, "clawtrail: this call could not be recorded in the audit trail ("+recErr.Error()+")")
		}
		if answer == nil {
			return recErr
		}
		fmt.Fprintln(e.stderr, "clawtrail: "+recErr.Error())
	}
	if answer != nil {
		fmt.Fprintln(e.stdout, string(answer))
	}
	return nil
}

// recordHookEvent writes the event to the spool (durably) and gives the
// server up to --timeout to take it. It returns an error only when the
// event is not even in the spool; an unreachable server is reported on
// stderr and the event left for a later call to deliver.
func recordHookEvent(ctx context.Context, e env, f *claudeHookFlags, ev sdk.Event) error {
	if err := f.token(e); err != nil {
		return err
	}
	c, err := f.cf.client(e)
	if err != nil {
		return err
	}
	if f.cf.tenant != "" {
		ev.TenantID = f.cf.tenant
	}
	// OnError runs on the client's goroutines, with errors of several
	// types: the message is kept (an atomic.Value would panic on a second
	// type, and a panic exits 2).
	var lastErr atomic.Pointer[string]
	client, err := sdk.New(sdk.Config{URL: c.BaseURL, Token: c.Token, Durable: true, SpoolDir: f.spool,
		Logger: slog.New(slog.DiscardHandler), OnError: func(err error) { msg := err.Error(); lastErr.Store(&msg) },
		MinBackoff: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := client.Log(ctx, ev); err != nil {
		client.Close(expired())
		return err
	}
	// Deliver, but give up early once a request has failed: the event is
	// safe in the spool, and a hook must not hold Claude Code up.
	fctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.Flush(fctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var ferr error
wait:
	for {
		select {
		case ferr = <-done:
			break wait
		case <-tick.C:
			if client.Stats().Retries > 0 {
				cancel()
			}
		}
	}
	if ferr == nil {
		// Delivered: a failure to close (the spool's bookkeeping) does not
		// make the event unrecorded.
		if err := client.Close(ctx); err != nil {
			fmt.Fprintf(e.stderr, "clawtrail: the event was delivered, but closing the spool failed: %v\n", err)
		}
		return nil
	}
	client.Close(expired())
	why := client.Stats().LastError
	if msg := lastErr.Load(); msg != nil && why == "" {
		why = *msg
	}
	if why == "" {
		why = ferr.Error()
	}
	fmt.Fprintf(e.stderr, "clawtrail: the event is kept in the spool %s and will be sent by a later call: %s\n", client.SpoolDir(), why)
	return nil
}

func expired() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func osUser(e env) string {
	if u := e.getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// printClaudeSettings prints the settings.json block that installs this
// hook with the same flags (never the key itself).
func printClaudeSettings(e env, cmd *cobra.Command, f *claudeHookFlags) error {
	pol, err := f.policy()
	if err != nil {
		return err
	}
	if f.asURL && len(pol.Deny) > 0 {
		// HTTP hooks never run this command: the rules would be printed
		// into the SessionStart hook alone and refuse nothing.
		return usagef("--deny and --rules apply to command hooks; with --http, put the deny rules in the server's configuration (hooks.claude_code.deny)")
	}
	server := f.cf.server
	if server == "" {
		server = e.getenv("CLAWTRAIL_URL")
	}
	if server == "" {
		server = DefaultURL
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "clawtrail"
	}
	args := []string{exe, "hook", "claude-code", "--server", server}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	if f.tokenFile != "" {
		args = append(args, "--token-file", abs(f.tokenFile))
	}
	if f.cf.tenant != "" {
		args = append(args, "--tenant", f.cf.tenant)
	}
	if f.rules != "" {
		args = append(args, "--rules", abs(f.rules))
	}
	for _, q := range f.deny {
		args = append(args, "--deny", q)
	}
	if f.user != "" {
		args = append(args, "--user", f.user)
	}
	if f.agent != "claude-code" {
		args = append(args, "--agent", f.agent)
	}
	if f.channel != "" {
		args = append(args, "--channel", f.channel)
	}
	if f.spool != "" {
		args = append(args, "--spool", abs(f.spool))
	}
	if f.requireRecord {
		args = append(args, "--require-record")
	}
	if cmd.Flags().Changed("timeout") {
		args = append(args, "--timeout", f.timeout.String())
	}
	if cmd.Flags().Changed("max-field-bytes") {
		args = append(args, "--max-field-bytes", strconv.Itoa(f.maxField))
	}
	// Claude Code kills a hook at its timeout (seconds): leave the command
	// its --timeout and a margin for the spool and the rules.
	hookTimeout := max(10, int(math.Ceil(f.timeout.Seconds()))+5)
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	command := map[string]any{"type": "command", "command": strings.Join(quoted, " "), "timeout": hookTimeout}
	hooks := map[string]any{}
	for _, ev := range claudeHookEvents {
		h := command
		// Claude Code 2.1.x does not fire HTTP SessionStart hooks, so that
		// one stays a command hook.
		if f.asURL && ev != claudecode.SessionStart {
			h = map[string]any{"type": "http", "url": strings.TrimRight(server, "/") + "/v1/hooks/claude-code",
				"headers":        map[string]string{"Authorization": "Bearer $CLAWTRAIL_TOKEN", "X-Clawtrail-User": "$USER"},
				"allowedEnvVars": []string{"CLAWTRAIL_TOKEN", "USER"}, "timeout": 10}
		}
		hooks[ev] = []any{map[string]any{"hooks": []any{h}}}
	}
	b, err := json.MarshalIndent(map[string]any{"hooks": hooks}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, string(b))
	return err
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes s for a POSIX shell (Claude Code runs command hooks
// with sh -c).
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
