package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
)

// handleTail is GET /v1/tail: live events as Server-Sent Events, read from
// the ledger (never behind the index). The SSE id is the event's seq; a
// client that reconnects with Last-Event-ID resumes right after it, without
// gaps or duplicates. Without one it starts at the current end of the
// ledger (or after ?after_seq=).
func (s *Server) handleTail(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	q, err := query.Parse(r.URL.Query().Get("q"))
	if err != nil {
		s.writeError(w, r, &clawtrail.InvalidError{Message: err.Error()})
		return
	}
	after := s.store.Head(c.tenant) - 1
	resume := r.Header.Get("Last-Event-ID")
	if resume == "" {
		resume = r.URL.Query().Get("after_seq")
	}
	if resume != "" {
		n, err := strconv.ParseInt(resume, 10, 64)
		if err != nil || n < -1 {
			s.writeError(w, r, &clawtrail.InvalidError{Message: "Last-Event-ID (or after_seq) must be an event seq"})
			return
		}
		after = n
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.writeError(w, r, fmt.Errorf("streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The id of this first, data-less event is where the stream starts: a
	// client that reconnects before any event resumes from here.
	fmt.Fprintf(w, ": clawtrail tail\nid: %d\n\n", after)
	flusher.Flush()
	s.metrics.tails.Inc()
	defer s.metrics.tails.Dec()
	s.audit.access(r, c, "tail", r.URL.Query().Get("q"), 0)
	s.tailLoop(w, flusher, r, c.tenant, q, after)
}

func (s *Server) tailLoop(w http.ResponseWriter, f http.Flusher, r *http.Request, tenant string, q *query.Query, after int64) {
	ctx := r.Context()
	hideServer := !q.NamesType() || !callerOf(r.Context()).seesServerRecords()
	heartbeat := time.NewTicker(s.cfg.TailHeartbeat)
	defer heartbeat.Stop()
	checked := s.now()
	for {
		// A key revoked (or expired) while its tail is open stops
		// receiving within a heartbeat interval, caught up or not.
		if s.now().Sub(checked) >= s.cfg.TailHeartbeat {
			if _, err := s.store.Authenticate(ctx, bearer(r)); err != nil {
				fmt.Fprint(w, "event: error\ndata: the key is no longer valid\n\n")
				f.Flush()
				return
			}
			checked = s.now()
		}
		wait := s.store.WaitCommit()
		events, next, err := s.store.ReadAfter(ctx, tenant, after, 500)
		if err != nil {
			s.log.Warn("tail read", "err", err)
			return
		}
		for _, st := range events {
			e, err := clawtrail.ParseEvent(st.Body)
			if err != nil || (hideServer && clawtrail.ServerRecordType(e.Type)) || !q.Match(e) {
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", st.Seq, st.Body); err != nil {
				return
			}
		}
		if len(events) > 0 {
			f.Flush()
		}
		if next > after {
			after = next
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-wait:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			f.Flush()
		}
	}
}
