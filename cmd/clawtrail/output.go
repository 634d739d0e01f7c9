package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/strictjson"
	"golang.org/x/sys/unix"
)

// printer writes events in one of the output formats.
type printer struct {
	w      io.Writer
	format string // table, json, jsonl, csv
	width  int
	csv    *csv.Writer
	n      int
	first  time.Time // for timeline offsets
	offset bool      // show +offset from the first event instead of the date
}

func newPrinter(w io.Writer, format string) (*printer, error) {
	switch format {
	case "table", "json", "jsonl", "csv":
	default:
		return nil, usagef("--format must be table, json, jsonl or csv, not %q", format)
	}
	return &printer{w: w, format: format, width: terminalWidth(w)}, nil
}

func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 40 {
			return int(ws.Col)
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 40 {
		return n
	}
	return 120
}

func (p *printer) begin() {
	switch p.format {
	case "json":
		fmt.Fprint(p.w, "[")
	case "csv":
		p.csv = csv.NewWriter(p.w)
		p.csv.Write(httpapi.CSVHeader)
	case "table":
		p.header()
	}
}

func (p *printer) end() {
	switch p.format {
	case "json":
		if p.n > 0 {
			fmt.Fprint(p.w, "\n")
		}
		fmt.Fprintln(p.w, "]")
	case "csv":
		p.csv.Flush()
	}
}

func (p *printer) event(body []byte) error {
	defer func() { p.n++ }()
	switch p.format {
	case "jsonl":
		_, err := fmt.Fprintf(p.w, "%s\n", body)
		return err
	case "json":
		sep := ",\n"
		if p.n == 0 {
			sep = "\n"
		}
		_, err := fmt.Fprintf(p.w, "%s%s", sep, body)
		return err
	case "csv":
		row := make([]string, len(httpapi.CSVHeader))
		if err := httpapi.CSVRow(row, body); err != nil {
			return err
		}
		return p.csv.Write(row)
	}
	e, err := clawtrail.ParseEvent(body)
	if err != nil {
		return err
	}
	return p.row(e)
}

// columns: time, type, session, target, status, duration, excerpt.
func (p *printer) widths() [7]int {
	w := [7]int{24, 14, 16, 24, 9, 9, 0}
	if p.offset {
		w[0] = 11
	}
	used := 0
	for _, n := range w[:6] {
		used += n + 1
	}
	w[6] = max(p.width-used, 10)
	return w
}

func (p *printer) header() {
	first := "TIME"
	if p.offset {
		first = "OFFSET"
	}
	p.cells([]string{first, "TYPE", "SESSION", "TOOL/ENDPOINT/PATH", "STATUS", "DURATION", "CONTENT"})
}

func (p *printer) cells(c []string) {
	w := p.widths()
	var b strings.Builder
	for i, s := range c {
		s = fit(clean(s), w[i])
		b.WriteString(s)
		if i < len(c)-1 {
			b.WriteString(strings.Repeat(" ", w[i]-len([]rune(s))+1))
		}
	}
	fmt.Fprintln(p.w, strings.TrimRight(b.String(), " "))
}

func (p *printer) row(e *clawtrail.Event) error {
	when := e.Timestamp.Format("2006-01-02 15:04:05.000")
	if p.offset {
		if p.n == 0 {
			p.first = e.Timestamp
		}
		when = "+" + formatOffset(e.Timestamp.Sub(p.first))
	}
	dur := ""
	if e.DurationMS != nil {
		dur = formatDuration(*e.DurationMS)
	}
	status := e.Status
	if e.StatusCode != nil {
		status = strings.TrimSpace(status + " " + strconv.FormatInt(*e.StatusCode, 10))
	}
	p.cells([]string{when, e.Type, e.SessionID, target(e), status, dur, excerpt(e)})
	return nil
}

func target(e *clawtrail.Event) string {
	switch {
	case e.Tool != "":
		return e.Tool
	case e.Endpoint != "" || e.Destination != "":
		return strings.TrimSpace(e.Method + " " + e.Destination + e.Endpoint)
	case e.Path != "":
		return strings.TrimSpace(e.Operation + " " + e.Path)
	}
	return ""
}

func excerpt(e *clawtrail.Event) string {
	switch {
	case e.Error != "":
		return "error: " + e.Error
	case e.Content != "":
		return e.Content
	case e.Arguments != nil:
		return string(strictjson.AppendCanonical(nil, *e.Arguments))
	case e.Decision != "":
		return strings.TrimSpace(e.Decision + " " + e.Approver + " " + e.Reason)
	case e.Result != nil:
		return string(strictjson.AppendCanonical(nil, *e.Result))
	}
	return ""
}

func formatDuration(ms float64) string {
	if ms < 1000 {
		return strconv.FormatFloat(ms, 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 3, 64) + "s"
}

func formatOffset(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}

// clean makes text safe for a terminal: control characters (including ESC,
// so no escape sequence gets through) become spaces, runs of space collapse.
func clean(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

func fit(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}
