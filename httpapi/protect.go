package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
	"github.com/clawtrail/clawtrail/sqlite"
)

// Data protection endpoints (docs/data-protection.md): retention, legal
// holds, erasure, subject export and fingerprint lookups. Changes are
// recorded by the store in the same commit as the change (config_change or
// tombstone events); reads are access records like any other.

func actorOf(c caller) sqlite.Actor { return sqlite.Actor{KeyID: c.key.ID, Name: c.key.Name} }

func decodeBody(r *http.Request, v any, shape string) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &clawtrail.InvalidError{Message: "body must be " + shape + ": " + err.Error()}
	}
	return nil
}

// RetentionRequest is PUT /v1/retention's body: keep is a duration (30d,
// 720h, 2190d) or days a whole number of days.
type RetentionRequest struct {
	Keep       string `json:"keep,omitempty"`
	Days       int    `json:"days,omitempty"`
	Lock       bool   `json:"lock,omitempty"`
	AllowShort bool   `json:"allow_short,omitempty"`
}

// ParseKeep reads a retention duration: Go durations (36h) plus days (30d).
func ParseKeep(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int64
		if _, err := fmt.Sscanf(d, "%d", &n); err != nil || fmt.Sprint(n) != d || n <= 0 || n > 1_000_000 {
			return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("retention %q: want a positive number of days such as 30d", s)}
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("retention %q: want a positive duration such as 30d, 2190d or 12h", s)}
	}
	return d, nil
}

func (s *Server) handleSetRetention(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	var req RetentionRequest
	if err := decodeBody(r, &req, `{"keep": "30d"} or {"days": 30}, with "lock" and "allow_short"`); err != nil {
		s.writeError(w, r, err)
		return
	}
	var keep time.Duration
	switch {
	case req.Keep != "" && req.Days != 0:
		s.writeError(w, r, &clawtrail.InvalidError{Message: "give keep or days, not both"})
		return
	case req.Keep != "":
		d, err := ParseKeep(req.Keep)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		keep = d
	case req.Days > 0:
		keep = time.Duration(req.Days) * 24 * time.Hour
	default:
		s.writeError(w, r, &clawtrail.InvalidError{Message: "give keep (a duration such as 30d) or days (a positive number)"})
		return
	}
	p, err := s.store.SetRetention(r.Context(), c.tenant, actorOf(c), keep, req.Lock, req.AllowShort)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy": p})
}

func (s *Server) handleGetRetention(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	p, ok, err := s.store.RetentionPolicy(r.Context(), c.tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit.access(r, c, "retention.show", "", 1)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"tenant": c.tenant, "policy": nil, "note": "no policy: events are kept for ever"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant": c.tenant, "policy": p})
}

func (s *Server) handleRunRetention(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	run, err := s.store.RunRetention(r.Context(), c.tenant, actorOf(c))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

// HoldRequest is POST /v1/holds' body.
type HoldRequest struct {
	Query  string `json:"query"`
	Reason string `json:"reason"`
}

func (s *Server) handleAddHold(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	var req HoldRequest
	if err := decodeBody(r, &req, `{"query", "reason"}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := query.Parse(req.Query); err != nil {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "query: " + err.Error()})
		return
	}
	h, err := s.store.AddHold(r.Context(), c.tenant, actorOf(c), req.Query, req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"hold": h})
}

func (s *Server) handleListHolds(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	hs, err := s.store.Holds(r.Context(), c.tenant, r.URL.Query().Get("all") == "true")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit.access(r, c, "holds.list", "", int64(len(hs)))
	writeJSON(w, http.StatusOK, map[string]any{"holds": hs})
}

func (s *Server) handleReleaseHold(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	id := r.PathValue("id")
	if err := s.store.ReleaseHold(r.Context(), c.tenant, actorOf(c), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"released": id})
}

// subjectValue maps a raw user id to what the store holds: its pseudonym
// when the tenant's redaction rules pseudonymise user_id.
func (s *Server) subjectValue(r *http.Request, tenant, user string) (string, error) {
	red, err := s.redactor(r.Context(), tenant)
	if err != nil {
		return "", err
	}
	if red != nil && red.FieldPseudonym("user_id") && !strings.HasPrefix(user, "hmac:") {
		return red.Pseudonym(user), nil
	}
	return user, nil
}

// EraseRequest is POST /v1/erase's body.
type EraseRequest struct {
	User string `json:"user"`
}

func (s *Server) handleErase(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	var req EraseRequest
	if err := decodeBody(r, &req, `{"user": "..."}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.User == "" {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "user is required"})
		return
	}
	user, err := s.subjectValue(r, c.tenant, req.User)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.store.Erase(r.Context(), c.tenant, actorOf(c), user)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handleSubjectExport is GET /v1/subjects/export?user=U: every event of
// the tenant whose user_id is U, as one JSON document (a GDPR access
// request). It is recorded before any byte is sent.
func (s *Server) handleSubjectExport(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	raw := r.URL.Query().Get("user")
	if raw == "" {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "user is required (?user=)"})
		return
	}
	user, err := s.subjectValue(r, c.tenant, raw)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q, err := query.Parse("user_id:" + query.Quote(user))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.waitLatest(r, c.tenant); err != nil {
		s.writeError(w, r, err)
		return
	}
	fp := ""
	if red, err := s.redactor(r.Context(), c.tenant); err == nil && red != nil {
		fp = red.Fingerprint(user)
	}
	if err := s.audit.configChange(r.Context(), c.tenant, c.key, "subject.export", map[string]string{"subject_fingerprint": fp}); err != nil {
		s.writeError(w, r, err)
		return
	}
	req := sqlite.SearchRequest{Tenant: c.tenant, Query: q, Asc: true, HideServer: true}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	head, _ := json.Marshal(map[string]any{"tenant": c.tenant, "user_id": raw, "exported_at": s.now().UTC().Format(time.RFC3339Nano)})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"events":[`)
	n := 0
	err = s.store.Export(r.Context(), req, func(st sqlite.Stored) error {
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		_, err := bw.Write(st.Body)
		return err
	})
	if err != nil {
		s.log.Error("subject export failed mid-stream", "err", err)
		bw.WriteString("\nexport failed\n")
		bw.Flush()
		return
	}
	fmt.Fprintf(bw, `],"count":%d}`+"\n", n)
	bw.Flush()
}

// HashRequest is POST /v1/hash's body.
type HashRequest struct {
	Value string `json:"value"`
}

// handleHash is POST /v1/hash (auditor): the keyed fingerprint redaction
// stores for a value, its pseudonym, and the events where that value was
// redacted. The value travels in the body, never in a URL.
func (s *Server) handleHash(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	var req HashRequest
	if err := decodeBody(r, &req, `{"value": "..."}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Value == "" {
		s.writeError(w, r, &clawtrail.InvalidError{Message: "value is required"})
		return
	}
	red, err := s.redactor(r.Context(), c.tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	fp := red.Fingerprint(req.Value)
	if err := s.waitLatest(r, c.tenant); err != nil {
		s.writeError(w, r, err)
		return
	}
	found, err := s.store.FindFingerprint(r.Context(), c.tenant, fp, c.seesServerRecords())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit.access(r, c, "hash", "", int64(len(found)))
	writeJSON(w, http.StatusOK, map[string]any{"tenant": c.tenant, "fingerprint": fp, "pseudonym": red.Pseudonym(req.Value),
		"found": len(found) > 0, "events": found})
}

// waitLatest holds the request until the search index covers every event
// the tenant committed before it (an access request or a fingerprint lookup
// must not miss what was just stored).
func (s *Server) waitLatest(r *http.Request, tenant string) error {
	ctx, cancel := context.WithTimeout(r.Context(), max(s.cfg.MaxWait, 30*time.Second))
	defer cancel()
	if err := s.store.WaitIndexed(ctx, tenant, s.store.Head(tenant)-1); err != nil {
		return fmt.Errorf("%w: the search index is behind the ledger; try again", clawtrail.ErrUnavailable)
	}
	return nil
}
