package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/query"
	"github.com/spf13/cobra"
)

func newLogsCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "logs", Short: "Search, export, tail and investigate the audit log"}
	cmd.AddCommand(newSearchCmd(e), newExportCmd(e), newTailCmd(e), newSessionCmd(e), newSessionsCmd(e), newStatsCmd(e))
	return cmd
}

// filterFlags are --query, --from and --to, and --no-wait.
type filterFlags struct {
	query, from, to string
	noWait          bool
}

func (f *filterFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.noWait, "no-wait", false, "do not wait for the search index to cover events committed before the command")
	cmd.Flags().StringVarP(&f.query, "query", "q", "", "query (see SPEC §3), e.g. 'tool:send_email'")
	cmd.Flags().StringVar(&f.from, "from", "", "from this time: RFC 3339, a date (2026-01-01) or a duration back (15m, 24h, 7d)")
	cmd.Flags().StringVar(&f.to, "to", "", "to this time (a date includes the whole day)")
}

// setup builds the client and the query parameters of a filtered command.
func (f *filterFlags) setup(cf *clientFlags, e env) (*httpapi.Client, url.Values, error) {
	c, err := cf.client(e)
	if err != nil {
		return nil, nil, err
	}
	params, err := f.params()
	return c, params, err
}

// params validates the flags locally (so a bad query fails without a round
// trip, naming the position) and returns the API parameters.
func (f *filterFlags) params() (url.Values, error) {
	if _, err := query.Parse(f.query); err != nil {
		return nil, usagef("%v", err)
	}
	now := time.Now()
	v := url.Values{}
	if !f.noWait {
		v.Set("wait_seq", "latest")
	}
	if f.query != "" {
		v.Set("q", f.query)
	}
	for name, s := range map[string]string{"from": f.from, "to": f.to} {
		if _, err := clawtrail.ParseTimeBound(s, now, name == "to"); err != nil {
			return nil, usagef("--%s: %v", name, err)
		}
		if s != "" {
			v.Set(name, s)
		}
	}
	return v, nil
}

func newSearchCmd(e env) *cobra.Command {
	var cf clientFlags
	var ff filterFlags
	var limit int
	var format, order string
	var all bool
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Search events (newest first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, params, err := ff.setup(&cf, e)
			if err != nil {
				return err
			}
			if limit < 1 || limit > httpapi.MaxLimit {
				return usagef("--limit must be from 1 to %d", httpapi.MaxLimit)
			}
			p, err := newPrinter(e.stdout, format)
			if err != nil {
				return err
			}
			params.Set("limit", strconv.Itoa(limit))
			if order != "" {
				params.Set("order", order)
			}
			return searchPages(cmd.Context(), c, params, p, all, e)
		},
	}
	cf.register(cmd)
	ff.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 100, "how many events (per page with --all)")
	cmd.Flags().StringVar(&format, "format", "table", "table, json, jsonl or csv")
	cmd.Flags().StringVar(&order, "order", "", "desc (newest first, the default) or asc")
	cmd.Flags().BoolVar(&all, "all", false, "follow the cursor through every page")
	return cmd
}

func searchPages(ctx context.Context, c *httpapi.Client, params url.Values, p *printer, all bool, e env) error {
	p.begin()
	for {
		var page httpapi.SearchPage
		if err := c.GetJSON(ctx, "/v1/events", params, &page); err != nil {
			return err
		}
		for _, ev := range page.Events {
			if err := p.event(ev); err != nil {
				return err
			}
		}
		params.Del("wait_seq")
		if page.NextCursor == "" || !all {
			p.end()
			if page.NextCursor != "" && p.format == "table" {
				fmt.Fprintf(e.stderr, "(more results: use --all or a larger --limit)\n")
			}
			return nil
		}
		params.Set("cursor", page.NextCursor)
	}
}

func newExportCmd(e env) *cobra.Command {
	var cf clientFlags
	var ff filterFlags
	var format, output string
	var bundle, witnessed bool
	var limit int
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export events (oldest first), streaming, as json, jsonl or csv, or as an evidence bundle",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, params, err := ff.setup(&cf, e)
			if err != nil {
				return err
			}
			switch format {
			case "json", "jsonl", "csv":
			default:
				return usagef("--format must be json, jsonl or csv")
			}
			if output == "" {
				return usagef("--output FILE is required (- for stdout)")
			}
			if cmd.Flags().Changed("limit") {
				if limit < 1 || limit > httpapi.MaxExportLimit {
					return usagef("--limit must be from 1 to %d", httpapi.MaxExportLimit)
				}
				params.Set("limit", strconv.Itoa(limit))
			}
			if bundle {
				if cmd.Flags().Changed("format") {
					return usagef("--bundle has its own format; drop --format")
				}
				if witnessed {
					params.Set("witnessed", "true")
				}
				return export(cmd.Context(), c, "/v1/bundle", params, output, e)
			}
			params.Set("format", format)
			return export(cmd.Context(), c, "/v1/export", params, output, e)
		},
	}
	cf.register(cmd)
	ff.register(cmd)
	cmd.Flags().StringVar(&format, "format", "jsonl", "json, jsonl or csv")
	cmd.Flags().BoolVar(&witnessed, "witnessed", false, "with --bundle: prove the events against the newest checkpoint a witness cosigned (events after it are left out)")
	cmd.Flags().BoolVar(&bundle, "bundle", false, "write an evidence bundle: the events with their inclusion proofs, the signed checkpoint and the public keys (check it with clawtrail verify --bundle FILE)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (- for stdout)")
	cmd.Flags().IntVar(&limit, "limit", 0, "only the oldest N matching events (default: every one)")
	return cmd
}

func export(ctx context.Context, c *httpapi.Client, path string, params url.Values, output string, e env) error {
	resp, err := c.Do(ctx, http.MethodGet, path, params, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var w io.Writer = e.stdout
	var f *os.File
	if output != "-" {
		tmp := output + ".partial"
		if f, err = os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600); err != nil {
			return usagef("%v", err)
		}
		defer os.Remove(tmp)
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	prog := newProgress(e.stderr)
	n, err := copyCounting(bw, resp.Body, prog)
	prog.done(n)
	if err != nil {
		return fmt.Errorf("export interrupted after %d bytes: %w", n, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			return err
		}
		if err := os.Rename(output+".partial", output); err != nil {
			return err
		}
	}
	return nil
}

func copyCounting(w io.Writer, r io.Reader, prog *progress) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			prog.update(n)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// progress prints a progress line on stderr when it is a terminal.
type progress struct {
	w    io.Writer
	on   bool
	last time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(n int64) {
	if p.on && time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		fmt.Fprintf(p.w, "\rexported %.1f MB", float64(n)/1e6)
	}
}

func (p *progress) done(n int64) {
	if p.on {
		fmt.Fprintf(p.w, "\rexported %.1f MB\n", float64(n)/1e6)
	}
}

func newTailCmd(e env) *cobra.Command {
	var cf clientFlags
	var q, format string
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Follow new events live",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			if _, err := query.Parse(q); err != nil {
				return usagef("%v", err)
			}
			if format == "csv" || format == "json" {
				return usagef("tail prints table or jsonl")
			}
			p, err := newPrinter(e.stdout, format)
			if err != nil {
				return err
			}
			p.begin()
			params := url.Values{}
			if q != "" {
				params.Set("q", q)
			}
			return c.Tail(cmd.Context(), params, func(_ int64, body []byte) error {
				if err := p.event(body); err != nil {
					return err
				}
				if f, ok := e.stdout.(interface{ Sync() error }); ok {
					f.Sync()
				}
				return nil
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVarP(&q, "query", "q", "", "only events matching this query")
	cmd.Flags().StringVar(&format, "format", "table", "table or jsonl")
	return cmd
}

func newSessionCmd(e env) *cobra.Command {
	var cf clientFlags
	var format string
	cmd := &cobra.Command{
		Use:   "session SESSION_ID",
		Short: "Print one session's timeline in time order",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			if format != "table" && format != "jsonl" && format != "json" {
				return usagef("--format must be table, json or jsonl")
			}
			p, err := newPrinter(e.stdout, format)
			if err != nil {
				return err
			}
			p.offset = true
			return printSession(cmd.Context(), c, args[0], p, e)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "table, json or jsonl")
	return cmd
}

func printSession(ctx context.Context, c *httpapi.Client, id string, p *printer, e env) error {
	params := url.Values{"wait_seq": {"latest"}}
	p.begin()
	for {
		var page httpapi.SearchPage
		if err := c.GetJSON(ctx, "/v1/sessions/"+url.PathEscape(id), params, &page); err != nil {
			return err
		}
		if p.n == 0 && len(page.Events) == 0 {
			return fmt.Errorf("%w: no events in session %q", clawtrail.ErrNotFound, id)
		}
		for _, ev := range page.Events {
			if err := p.event(ev); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			p.end()
			return nil
		}
		params.Set("cursor", page.NextCursor)
		params.Del("wait_seq")
	}
}

func newSessionsCmd(e env) *cobra.Command {
	var cf clientFlags
	var ff filterFlags
	var format string
	var limit int
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "Find sessions: id, first and last time, events, errors, tools used",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format must be table or json")
			}
			c, params, err := ff.setup(&cf, e)
			if err != nil {
				return err
			}
			params.Set("limit", strconv.Itoa(limit))
			var page httpapi.SessionsPage
			if err := c.GetJSON(cmd.Context(), "/v1/sessions", params, &page); err != nil {
				return err
			}
			switch format {
			case "json":
				return printJSON(e.stdout, page)
			case "table":
				p, _ := newPrinter(e.stdout, "table")
				fmt.Fprintf(e.stdout, "%-28s %-24s %-24s %7s %6s  %s\n", "SESSION", "FIRST", "LAST", "EVENTS", "ERRORS", "TOOLS")
				for _, s := range page.Sessions {
					line := fmt.Sprintf("%-28s %-24s %-24s %7d %6d  %s", fit(clean(s.ID), 28), s.First, s.Last, s.Events, s.Errors, clean(fmt.Sprint(s.Tools)))
					fmt.Fprintln(e.stdout, fit(line, p.width))
				}
				return nil
			}
			return usagef("--format must be table or json")
		},
	}
	cf.register(cmd)
	ff.register(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().IntVar(&limit, "limit", 100, "how many sessions")
	return cmd
}

func newStatsCmd(e env) *cobra.Command {
	var cf clientFlags
	var ff filterFlags
	var format string
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count events per UTC day and type (the whole days --from..--to touch)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format must be table or json")
			}
			c, params, err := ff.setup(&cf, e)
			if err != nil {
				return err
			}
			var page httpapi.StatsPage
			if err := c.GetJSON(cmd.Context(), "/v1/stats", params, &page); err != nil {
				return err
			}
			switch format {
			case "json":
				return printJSON(e.stdout, page)
			case "table":
				var types []string
				seen := map[string]bool{}
				for _, d := range page.Days {
					for t := range d.Types {
						if !seen[t] {
							seen[t] = true
							types = append(types, t)
						}
					}
				}
				slices.Sort(types)
				fmt.Fprintf(e.stdout, "%-10s %9s", "DAY", "TOTAL")
				for _, t := range types {
					fmt.Fprintf(e.stdout, " %*s", max(9, len(clean(t))), clean(t))
				}
				fmt.Fprintln(e.stdout)
				for _, d := range page.Days {
					fmt.Fprintf(e.stdout, "%-10s %9d", d.Day, d.Total)
					for _, t := range types {
						fmt.Fprintf(e.stdout, " %*d", max(9, len(clean(t))), d.Types[t])
					}
					fmt.Fprintln(e.stdout)
				}
				return nil
			}
			return usagef("--format must be table or json")
		},
	}
	cf.register(cmd)
	ff.register(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newReindexCmd(e env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the search index from the ledger (root key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			resp, err := c.Do(cmd.Context(), http.MethodPost, "/v1/admin/reindex", nil, nil, nil)
			if err != nil {
				return err
			}
			resp.Body.Close()
			fmt.Fprintln(e.stdout, "the search index is being rebuilt from the ledger; searches can pass wait_seq to wait for it")
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}
