package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/spf13/cobra"
)

// Data protection commands: retention, holds, subject export, erasure,
// hash (docs/data-protection.md).

// sendJSON sends a JSON body and decodes a JSON answer into out.
func sendJSON(ctx context.Context, c *httpapi.Client, method, path string, in, out any) error {
	var body io.Reader
	h := http.Header{}
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
		h.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(ctx, method, path, nil, body, h)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return decodeJSON(resp, out)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var retentionPresets = map[string]string{"7d": "7d", "30d": "30d", "90d": "90d", "hipaa": "2190d", "6y": "2190d"}

func newRetentionCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "retention", Short: "Retention policy: how long events are kept (set, show, run, lock)",
		Long: `With no policy, events are kept for ever. A policy deletes events whose received_at is
older than it allows (so no client can age its own events out), leaving tombstones that
clawtrail verify checks. Legal holds exempt what they cover.`}
	cmd.AddCommand(newRetentionSetCmd(e), newRetentionShowCmd(e), newRetentionRunCmd(e), newRetentionLockCmd(e))
	return cmd
}

func newRetentionSetCmd(e env) *cobra.Command {
	var cf clientFlags
	var days int
	var keep, preset string
	var lock, allowShort bool
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set a tenant's retention: --days N, --keep DUR (30d, 12h) or --preset 7d|30d|90d|hipaa (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, set := range []bool{days != 0, keep != "", preset != ""} {
				if set {
					n++
				}
			}
			if n != 1 {
				return usagef("give exactly one of --days N, --keep DUR or --preset 7d|30d|90d|hipaa")
			}
			req := httpapi.RetentionRequest{Days: days, Keep: keep, Lock: lock, AllowShort: allowShort}
			if preset != "" {
				p, ok := retentionPresets[preset]
				if !ok {
					return usagef("--preset %q: want 7d, 30d, 90d or hipaa (2190 days, six years)", preset)
				}
				req.Keep = p
			}
			if days < 0 {
				return usagef("--days must be positive")
			}
			if keep != "" {
				if _, err := httpapi.ParseKeep(keep); err != nil {
					return usagef("--keep: %v", err)
				}
			}
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			var out struct {
				Policy json.RawMessage `json:"policy"`
			}
			if err := sendJSON(cmd.Context(), c, http.MethodPut, "/v1/retention", req, &out); err != nil {
				return err
			}
			return printJSON(e.stdout, out.Policy)
		},
	}
	cf.register(cmd)
	fs := cmd.Flags()
	fs.IntVar(&days, "days", 0, "keep events this many days")
	fs.StringVar(&keep, "keep", "", "keep events this long: 30d, 2190d, 36h")
	fs.StringVar(&preset, "preset", "", "7d, 30d, 90d, or hipaa (2190 days)")
	fs.BoolVar(&lock, "lock", false, "lock the policy: from now on it may only lengthen")
	fs.BoolVar(&allowShort, "allow-short", false, "allow a policy under 1 day")
	return cmd
}

func newRetentionShowCmd(e env) *cobra.Command {
	return jsonCmd(e, "show", "Show a tenant's retention policy (auditor)", http.MethodGet, "/v1/retention")
}

// jsonCmd is a client command without arguments that calls one endpoint
// and prints its JSON answer.
func jsonCmd(e env, use, short, method, path string) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			var out json.RawMessage
			if err := sendJSON(cmd.Context(), c, method, path, nil, &out); err != nil {
				return err
			}
			return printJSON(e.stdout, out)
		},
	}
	cf.register(cmd)
	return cmd
}

func newRetentionLockCmd(e env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Lock a tenant's current retention policy: from now on it may only lengthen (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			var cur struct {
				Policy *struct {
					KeepSeconds int64 `json:"keep_seconds"`
				} `json:"policy"`
			}
			if err := c.GetJSON(cmd.Context(), "/v1/retention", nil, &cur); err != nil {
				return err
			}
			if cur.Policy == nil {
				return usagef("the tenant has no retention policy to lock: set one first (retention set --days N --lock)")
			}
			req := httpapi.RetentionRequest{Keep: (time.Duration(cur.Policy.KeepSeconds) * time.Second).String(), Lock: true, AllowShort: true}
			var out struct {
				Policy json.RawMessage `json:"policy"`
			}
			if err := sendJSON(cmd.Context(), c, http.MethodPut, "/v1/retention", req, &out); err != nil {
				return err
			}
			return printJSON(e.stdout, out.Policy)
		},
	}
	cf.register(cmd)
	return cmd
}

func newRetentionRunCmd(e env) *cobra.Command {
	return jsonCmd(e, "run", "Apply the tenant's retention policy now (the server also runs it hourly) (admin)", http.MethodPost, "/v1/retention/run")
}

func newHoldCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "hold", Short: "Legal holds: events they cover are exempt from retention and erasure (add, list, release)"}
	cmd.AddCommand(newHoldAddCmd(e), newHoldListCmd(e), newHoldReleaseCmd(e))
	return cmd
}

func newHoldAddCmd(e env) *cobra.Command {
	var cf clientFlags
	var q, reason string
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Place a legal hold on the events a query matches (all of the tenant's without --query) (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reason == "" {
				return usagef("--reason is required (it is recorded with the hold)")
			}
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			var out struct {
				Hold struct {
					ID string `json:"id"`
				} `json:"hold"`
			}
			if err := sendJSON(cmd.Context(), c, http.MethodPost, "/v1/holds", httpapi.HoldRequest{Query: q, Reason: reason}, &out); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, out.Hold.ID)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&q, "query", "", "the events to hold (query language); default all of the tenant's")
	cmd.Flags().StringVar(&reason, "reason", "", "why (a matter, a ticket)")
	return cmd
}

func newHoldListCmd(e env) *cobra.Command {
	var cf clientFlags
	var all bool
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tenant's legal holds (auditor)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			params := url.Values{}
			if all {
				params.Set("all", "true")
			}
			var out struct {
				Holds []struct {
					ID         string     `json:"id"`
					Query      string     `json:"query"`
					Reason     string     `json:"reason"`
					By         string     `json:"created_by"`
					CreatedAt  time.Time  `json:"created_at"`
					ReleasedAt *time.Time `json:"released_at"`
				} `json:"holds"`
			}
			if err := c.GetJSON(cmd.Context(), "/v1/holds", params, &out); err != nil {
				return err
			}
			if format == "json" {
				return printJSON(e.stdout, out.Holds)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tQUERY\tREASON\tBY\tCREATED\tRELEASED")
			for _, h := range out.Holds {
				q := h.Query
				if q == "" {
					q = "(whole tenant)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, clean(q), clean(h.Reason), clean(h.By), h.CreatedAt.Format("2006-01-02 15:04"), day(h.ReleasedAt))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "include released holds")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newHoldReleaseCmd(e env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "release ID",
		Short: "Release a legal hold (admin); retention then applies to what it kept",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			if err := sendJSON(cmd.Context(), c, http.MethodDelete, "/v1/holds/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "released %s\n", args[0])
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}

func newSubjectCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "subject", Short: "Data subjects (GDPR): export every event about a user"}
	var cf clientFlags
	var user, output string
	export := &cobra.Command{
		Use:   "export",
		Short: "Every event whose user_id is the user, as one JSON document (a GDPR access request; admin; recorded)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usagef("--user is required")
			}
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			resp, err := c.Do(cmd.Context(), http.MethodGet, "/v1/subjects/export", url.Values{"user": {user}}, nil, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			w := e.stdout
			if output != "" && output != "-" {
				f, err := os.OpenFile(output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return usagef("--output: %v", err)
				}
				defer f.Close()
				w = f
			}
			var doc json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				return fmt.Errorf("%w: the export broke off: %v", httpapi.ErrUnreachable, err)
			}
			return printJSON(w, doc)
		},
	}
	cf.register(export)
	export.Flags().StringVar(&user, "user", "", "the user_id")
	export.Flags().StringVar(&output, "output", "-", "file to write (0600), or - for stdout")
	cmd.AddCommand(export)
	return cmd
}

func newEraseCmd(e env) *cobra.Command {
	var cf clientFlags
	var user string
	var yes bool
	cmd := &cobra.Command{
		Use:   "erase",
		Short: "Erase a data subject (GDPR art. 17): their events become unreadable, verify still passes (admin; recorded)",
		Long: `erase destroys the data keys of the user's events (crypto-shredding, with encryption on),
deletes their bodies and search entries, and appends a tombstone. Events under a legal hold
are kept (re-keyed). The server's own records (access, config_change) are kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usagef("--user is required")
			}
			if !yes {
				return usagef("erasure cannot be undone: add --yes to erase the events of user %q", user)
			}
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			var out json.RawMessage
			if err := sendJSON(cmd.Context(), c, http.MethodPost, "/v1/erase", httpapi.EraseRequest{User: user}, &out); err != nil {
				return err
			}
			return printJSON(e.stdout, out)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&user, "user", "", "the user_id to erase")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: erasure cannot be undone")
	return cmd
}

func newHashCmd(e env) *cobra.Command {
	var cf clientFlags
	var format string
	cmd := &cobra.Command{
		Use:   "hash VALUE",
		Short: "The keyed fingerprint redaction stores for VALUE, and where it was redacted: did this key ever leak? (auditor)",
		Long: `hash answers "did this secret ever reach the audit log, and where?" without storing it:
redaction replaced it with [REDACTED:kind] and kept only a keyed fingerprint, which this
command computes (on the server, with the tenant's key) and looks up. It also prints the
pseudonym that a field rule "hmac" would store for VALUE, to search by it.
Pass - to read VALUE from stdin (keeps it out of your shell history).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			value := args[0]
			if value == "-" {
				b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
				if err != nil {
					return err
				}
				value = string(bytes.TrimRight(b, "\r\n"))
			}
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			var out struct {
				Tenant      string            `json:"tenant"`
				Fingerprint string            `json:"fingerprint"`
				Pseudonym   string            `json:"pseudonym"`
				Found       bool              `json:"found"`
				Events      []json.RawMessage `json:"events"`
			}
			if err := sendJSON(cmd.Context(), c, http.MethodPost, "/v1/hash", httpapi.HashRequest{Value: value}, &out); err != nil {
				return err
			}
			if format == "json" {
				return printJSON(e.stdout, out)
			}
			fmt.Fprintf(e.stdout, "fingerprint %s\npseudonym   %s\n", out.Fingerprint, out.Pseudonym)
			if !out.Found {
				fmt.Fprintf(e.stdout, "not found: no event of tenant %s had this value redacted\n", out.Tenant)
				return nil
			}
			fmt.Fprintf(e.stdout, "redacted in %d place(s):\n", len(out.Events))
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIMESTAMP\tSEQ\tID\tTYPE\tSESSION\tFIELD\tRULE")
			for _, raw := range out.Events {
				var h struct {
					ID, Type, Timestamp, Field, Rule string
					SessionID                        string `json:"session_id"`
					Seq                              int64
				}
				json.Unmarshal(raw, &h)
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", h.Timestamp, h.Seq, clean(h.ID), h.Type, clean(h.SessionID), clean(h.Field), h.Rule)
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newRotateMasterCmd(e env) *cobra.Command {
	var data, oldFile, newFile string
	cmd := &cobra.Command{
		Use:   "rotate-master",
		Short: "Re-wrap the tenant keys of a data directory under a new master key (offline: stop the server first)",
		Long: `rotate-master re-wraps every tenant key under the new master key in one transaction; events
are not rewritten (their data keys are wrapped by the tenant keys, which stay). Afterwards,
start the server with the new key file and destroy the old one. Without an old key (a data
directory that was not encrypted), it seals the tenant keys under the new one: the server
then encrypts new events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				data = e.getenv("CLAWTRAIL_DATA")
			}
			if data == "" {
				data = DefaultData
			}
			if oldFile == "" {
				oldFile = e.getenv("CLAWTRAIL_MASTER_KEY_FILE")
			}
			if newFile == "" {
				return usagef("--new-master-key-file is required (make one with: openssl rand -base64 32)")
			}
			next, err := crypt.LoadMasterKey(newFile)
			if err != nil {
				return usagef("%v", err)
			}
			var old *crypt.Key
			if oldFile != "" {
				k, err := crypt.LoadMasterKey(oldFile)
				if err != nil {
					return usagef("%v", err)
				}
				old = &k
			}
			n, err := sqlite.RotateMaster(cmd.Context(), data, old, &next)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "re-wrapped the keys of %d tenant(s) under the new master key; start the server with --master-key-file %s\n", n, newFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "data directory (default $CLAWTRAIL_DATA or "+DefaultData+")")
	cmd.Flags().StringVar(&oldFile, "master-key-file", "", "the current master key (default $CLAWTRAIL_MASTER_KEY_FILE)")
	cmd.Flags().StringVar(&newFile, "new-master-key-file", "", "the new master key")
	return cmd
}
