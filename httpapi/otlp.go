package httpapi

import (
	"fmt"
	"mime"
	"net/http"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/otlp"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// OTLP/HTTP ingest (POST /v1/otlp/v1/traces and /v1/otlp/v1/logs): the
// body is decoded with pdata (protobuf or JSON), mapped to events by package
// otlp, and the events go through the same decoder (validation, idempotency
// hash) and commit (tenant, rate limit, redaction, atomic append) as POST
// /v1/events. The answer is an empty Export*ServiceResponse in the request's
// content type, sent only once the events are durable.

const (
	ctProtobuf = "application/x-protobuf"
	ctJSON     = "application/json"
)

func (s *Server) handleOTLPTraces(w http.ResponseWriter, r *http.Request) {
	s.handleOTLP(w, r, "traces")
}

func (s *Server) handleOTLPLogs(w http.ResponseWriter, r *http.Request) {
	s.handleOTLP(w, r, "logs")
}

func (s *Server) handleOTLP(w http.ResponseWriter, r *http.Request, signal string) {
	c := callerOf(r.Context())
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != ctProtobuf && mt != ctJSON {
		s.metrics.rejected.WithLabelValues("unsupported_media_type").Inc()
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: errorDetail{Code: "unsupported_media_type",
			Message: "OTLP/HTTP takes Content-Type application/x-protobuf or application/json, not " + quoteOrNone(r.Header.Get("Content-Type"))}})
		return
	}
	isJSON := mt == ctJSON
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The mapped events of one request are bounded like a request to POST
	// /v1/events (with room for what mapping adds): each carries its
	// resource, so many small spans under a large resource would otherwise
	// take gigabytes.
	opts := otlp.Options{MaxEventBytes: s.cfg.Limits.MaxEventBytes, MaxTotalBytes: 2 * s.cfg.Limits.MaxRequestBytes}
	var res otlp.Result
	switch signal {
	case "traces":
		td, err := otlp.DecodeTraces(body, isJSON)
		if err != nil {
			s.writeError(w, r, &clawtrail.InvalidError{Message: err.Error()})
			return
		}
		res = otlp.Traces(td, opts)
	default:
		ld, err := otlp.DecodeLogs(body, isJSON)
		if err != nil {
			s.writeError(w, r, &clawtrail.InvalidError{Message: err.Error()})
			return
		}
		res = otlp.Logs(ld, opts)
	}
	if res.TooLarge {
		s.writeError(w, r, fmt.Errorf("%w: the events this OTLP request maps to are over %d bytes (every event carries the resource's attributes); send smaller batches or a smaller resource",
			clawtrail.ErrTooLarge, opts.MaxTotalBytes))
		return
	}
	if len(res.Lines) > 0 {
		events, err := s.dec.Decode(res.NDJSON(), true)
		if err != nil {
			// A mapped event the decoder refuses is a mapping fault, not
			// the sender's: said as such, with the decoder's details.
			s.log.Error("otlp: mapped events refused by the decoder", "signal", signal, "err", err)
			s.writeError(w, r, err)
			return
		}
		if _, _, err := s.commit(r, c, events); err != nil {
			s.writeCommitError(w, r, err)
			return
		}
	}
	for reason, n := range res.Skipped {
		s.metrics.otlpSkipped.WithLabelValues(signal, reason).Add(float64(n))
	}
	writeOTLPResponse(w, signal, isJSON)
}

// writeOTLPResponse answers an empty (fully successful) export response in
// the request's encoding; the JSON form is what the OpenTelemetry Collector
// itself answers.
func writeOTLPResponse(w http.ResponseWriter, signal string, isJSON bool) {
	if isJSON {
		w.Header().Set("Content-Type", ctJSON)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"partialSuccess":{}}`))
		return
	}
	var b []byte
	var err error
	if signal == "traces" {
		b, err = ptraceotlp.NewExportResponse().MarshalProto()
	} else {
		b, err = plogotlp.NewExportResponse().MarshalProto()
	}
	if err != nil {
		b = nil // an empty message encodes to no bytes
	}
	w.Header().Set("Content-Type", ctProtobuf)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func quoteOrNone(ct string) string {
	if ct == "" {
		return "none"
	}
	return "\"" + ct + "\""
}
