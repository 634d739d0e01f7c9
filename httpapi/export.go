package httpapi

import (
	"bufio"
	"encoding/csv"
	"errors"
	"net/http"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/clawtrail/clawtrail/strictjson"
)

// CSVHeader is the stable column list of CSV exports: the SPEC §1 fields.
var CSVHeader = []string{"id", "seq", "tenant_id", "type", "timestamp", "received_at", "key_id",
	"session_id", "user_id", "agent_id", "channel", "trace_id", "span_id", "parent_id",
	"content", "tool", "arguments", "result", "status", "error", "duration_ms", "tokens_used", "usage",
	"model", "destination", "method", "endpoint", "status_code", "operation", "path", "bytes",
	"decision", "approver", "reason", "attributes", "redactions"}

// MaxExportLimit bounds an export's limit: a count of events, not a page.
const MaxExportLimit = 1<<31 - 1

// errLimitReached ends an export that has sent its limit.
var errLimitReached = errors.New("export limit reached")

// exportRequest parses the parameters of an export or a bundle: those of a
// search, where limit is how many of the oldest matching events to send
// (0 when absent: all of them). An export is one stream, oldest first, so
// a cursor or order=desc is refused rather than ignored.
func (s *Server) exportRequest(r *http.Request) (req sqlite.SearchRequest, limit int, err error) {
	v := r.URL.Query()
	if v.Has("cursor") {
		return req, 0, &clawtrail.InvalidError{Message: "an export sends every matching event in one stream: cursor is a search parameter (narrow an export with from, to, q or limit)"}
	}
	if o := v.Get("order"); o != "" && o != "asc" {
		return req, 0, &clawtrail.InvalidError{Message: "an export is oldest first: order must be asc or absent"}
	}
	if req, err = s.readRequestMax(r, MaxExportLimit); err == nil && v.Has("limit") {
		limit = req.Limit
	}
	return req, limit, err
}

// handleExport streams the matching events (every one, or the oldest
// limit), oldest first, in constant memory: json (one array), jsonl, or csv.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	req, limit, err := s.exportRequest(r)
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "jsonl"
	}
	var ex exporter
	switch format {
	case "json":
		ex = &jsonExporter{}
	case "jsonl":
		ex = jsonlExporter{}
	case "csv":
		ex = &csvExporter{}
	default:
		err = &clawtrail.InvalidError{Message: "format must be json, jsonl or csv"}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ex.contentType())
	bw := bufio.NewWriterSize(w, 64<<10)
	ex.begin(bw)
	n := 0
	// On record however the export ends: a client that aborts after
	// reading 30,000 events has read them.
	defer func() { s.audit.access(r, callerOf(r.Context()), "export", r.URL.Query().Get("q"), int64(n)) }()
	err = s.store.Export(r.Context(), req, func(st sqlite.Stored) error {
		if n == limit && limit > 0 {
			return errLimitReached
		}
		n++
		return ex.event(bw, st.Body)
	})
	if err != nil && !errors.Is(err, errLimitReached) {
		// Headers are gone; end the stream visibly broken rather than valid.
		s.log.Error("export failed mid-stream", "err", err, "events", n)
		bw.WriteString("\nexport failed: " + err.Error() + "\n")
		bw.Flush()
		return
	}
	ex.end(bw)
	bw.Flush()
}

type exporter interface {
	contentType() string
	begin(w *bufio.Writer)
	event(w *bufio.Writer, body []byte) error
	end(w *bufio.Writer)
}

type jsonlExporter struct{}

func (jsonlExporter) contentType() string { return "application/x-ndjson" }
func (jsonlExporter) begin(*bufio.Writer) {}
func (jsonlExporter) end(*bufio.Writer)   {}
func (jsonlExporter) event(w *bufio.Writer, body []byte) error {
	w.Write(body)
	return w.WriteByte('\n')
}

type jsonExporter struct{ n int }

func (*jsonExporter) contentType() string   { return "application/json" }
func (*jsonExporter) begin(w *bufio.Writer) { w.WriteString("[") }
func (*jsonExporter) end(w *bufio.Writer)   { w.WriteString("]\n") }
func (j *jsonExporter) event(w *bufio.Writer, body []byte) error {
	if j.n > 0 {
		w.WriteString(",\n")
	} else {
		w.WriteString("\n")
	}
	j.n++
	_, err := w.Write(body)
	return err
}

type csvExporter struct {
	cw  *csv.Writer
	row []string
}

func (*csvExporter) contentType() string { return "text/csv; charset=utf-8" }
func (c *csvExporter) begin(w *bufio.Writer) {
	c.cw = csv.NewWriter(w)
	c.cw.Write(CSVHeader)
	c.row = make([]string, len(CSVHeader))
}
func (c *csvExporter) end(*bufio.Writer) { c.cw.Flush() }
func (c *csvExporter) event(_ *bufio.Writer, body []byte) error {
	if err := CSVRow(c.row, body); err != nil {
		return err
	}
	return c.cw.Write(c.row)
}

// CSVRow fills row (len(CSVHeader)) with the cells of a stored event: strings
// as they are, other values as JSON, and any cell starting with = + - @
// prefixed with ' so spreadsheets do not run it as a formula.
func CSVRow(row []string, body []byte) error {
	v, err := strictjson.Parse(body)
	if err != nil {
		return err
	}
	for i, name := range CSVHeader {
		row[i] = ""
		m, ok := v.Get(name)
		if !ok {
			continue
		}
		if m.Kind == strictjson.String {
			row[i] = m.Str
		} else {
			row[i] = string(strictjson.AppendCanonical(nil, *m))
		}
		row[i] = NeutralizeFormula(row[i])
	}
	return nil
}

// NeutralizeFormula prefixes a cell that a spreadsheet would evaluate.
func NeutralizeFormula(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + s
		}
	}
	return s
}
