package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// queryResult is the latency of one query, repeated.
type queryResult struct {
	name   string
	how    string // what was run
	hits   int    // results returned by the first run
	expect string // what the corpus says it should find
	lat    []time.Duration
}

// timeQuery runs fn once to warm up (and count hits), then reps times.
func timeQuery(reps int, fn func() (int, error)) ([]time.Duration, int, error) {
	hits, err := fn()
	if err != nil {
		return nil, 0, err
	}
	lat := make([]time.Duration, 0, reps)
	for range reps {
		t0 := time.Now()
		if _, err := fn(); err != nil {
			return nil, 0, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, hits, nil
}

// get fetches a JSON page over HTTP; the latency covers the whole body.
// Counting the events is done only when count is set (outside the timing of
// the repetitions that matter, see timeQuery).
func (s *server) get(ctx context.Context, path string, params url.Values) ([]byte, error) {
	resp, err := s.client.Do(ctx, http.MethodGet, path, params, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// countEvents counts the events of a search page, the sessions of a
// listing, or the events a stats answer counts.
func countEvents(body []byte) (int, error) {
	var page struct {
		Events   []json.RawMessage `json:"events"`
		Sessions []json.RawMessage `json:"sessions"`
		Days     []struct {
			Total int `json:"total"`
		} `json:"days"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return 0, err
	}
	n := len(page.Events) + len(page.Sessions)
	for _, d := range page.Days {
		n += d.Total
	}
	return n, nil
}

// searches runs the search workload against the full corpus.
func (s *server) searches(ctx context.Context, c *corpus, o genOptions, reps int) ([]queryResult, error) {
	var out []queryResult
	httpQuery := func(name, expect, path string, params url.Values) error {
		first := true
		lat, hits, err := timeQuery(reps, func() (int, error) {
			body, err := s.get(ctx, path, params)
			if err != nil || !first {
				return 0, err
			}
			first = false
			return countEvents(body)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		how := "GET " + path
		if len(params) > 0 {
			how += "?" + params.Encode()
		}
		out = append(out, queryResult{name: name, how: how, hits: hits, expect: expect, lat: lat})
		return nil
	}
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	pctOf := func(n int) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(max(1, c.def.events))) }

	if err := httpQuery("field query `tool:send_email`, 7-day range", fmt.Sprintf("%d matches in range; newest 100", c.def.sendEmail7d),
		"/v1/events", url.Values{"q": {"tool:send_email"}, "from": {rfc(o.fieldFrom)}, "to": {rfc(o.fieldTo)}}); err != nil {
		return nil, err
	}
	// Fields inside arguments are value tokens of the full-text index: a
	// common value (one of 8 commands) and a prefix of the file paths.
	if err := httpQuery("field query on a value `arguments.command:\"git status\"`", "newest 100",
		"/v1/events", url.Values{"q": {`arguments.command:"git status"`}}); err != nil {
		return nil, err
	}
	if err := httpQuery("field query on a prefix `arguments.path:/home/agent/*`", "newest 100",
		"/v1/events", url.Values{"q": {"arguments.path:/home/agent/*"}}); err != nil {
		return nil, err
	}
	// A long text value (over 64 bytes) has no value token: its field
	// token and words narrow, Match decides.
	words := strings.Fields(c.def.content)
	first3 := strings.Join(words[:min(3, len(words))], " ")
	if err := httpQuery(fmt.Sprintf("field query on a long value `content:\"…\"` (an old prompt's whole content, %d bytes)", len(c.def.content)), "1 event",
		"/v1/events", url.Values{"q": {`content:"` + c.def.content + `"`}}); err != nil {
		return nil, err
	}
	if err := httpQuery("field query on a text prefix `content:\""+first3+"\"*`", "newest 100",
		"/v1/events", url.Values{"q": {`content:"` + first3 + `"*`}}); err != nil {
		return nil, err
	}
	if err := httpQuery("full text, common word `"+commonWord+"`", fmt.Sprintf("%d events (%s); newest 100", c.def.common, pctOf(c.def.common)),
		"/v1/events", url.Values{"q": {commonWord}}); err != nil {
		return nil, err
	}
	if err := httpQuery("full text, rare word `"+rareWord+"`", fmt.Sprintf("%d events (%s); newest 100", c.def.rare, pctOf(c.def.rare)),
		"/v1/events", url.Values{"q": {rareWord}}); err != nil {
		return nil, err
	}
	// A key range on a full-text plan: a time window, and a page after a
	// cursor (before the seventeenth pass SQLite walked every event of the
	// tenant in the range for these, probing FTS5 for each).
	if err := httpQuery("full text, rare word `"+rareWord+"` in the 7-day range", "newest 100 in range",
		"/v1/events", url.Values{"q": {rareWord}, "from": {rfc(o.fieldFrom)}, "to": {rfc(o.fieldTo)}}); err != nil {
		return nil, err
	}
	firstPage, err := s.get(ctx, "/v1/events", url.Values{"q": {rareWord}})
	if err != nil {
		return nil, err
	}
	var fp struct {
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal(firstPage, &fp); err != nil || fp.NextCursor == "" {
		return nil, fmt.Errorf("full text, rare word: no second page (%v)", err)
	}
	if err := httpQuery("full text, rare word `"+rareWord+"`, second page (cursor)", "the next 100",
		"/v1/events", url.Values{"q": {rareWord}, "cursor": {fp.NextCursor}}); err != nil {
		return nil, err
	}
	if err := httpQuery("full text, NOT the common word `-"+commonWord+"`", fmt.Sprintf("%d events (%s); newest 100", c.def.events-c.def.common, pctOf(c.def.events-c.def.common)),
		"/v1/events", url.Values{"q": {"-" + commonWord}}); err != nil {
		return nil, err
	}
	sid, n := c.midSession()
	if err := httpQuery("session timeline", fmt.Sprintf("%d events (a mid-sized session)", n),
		"/v1/sessions/"+sid, nil); err != nil {
		return nil, err
	}
	if err := httpQuery("sessions listing, the 50 most recently active", "50 sessions",
		"/v1/sessions", url.Values{"limit": {"50"}}); err != nil {
		return nil, err
	}
	// Values of the other token columns (user, trace, ...): a user holds
	// about 1 in 400 events, a trace is a session's; a value no event has
	// is what a walk of the tenant's events in time order paid the most for.
	if err := httpQuery("field query on a user `user:user_345`", fmt.Sprintf("%d events (%s); newest 100", c.def.user["user_345"], pctOf(c.def.user["user_345"])),
		"/v1/events", url.Values{"q": {"user:user_345"}}); err != nil {
		return nil, err
	}
	if err := httpQuery("field query on a trace `trace_id:…`", fmt.Sprintf("%d events (the session above's trace)", n),
		"/v1/events", url.Values{"q": {"trace_id:" + c.def.trace[sid]}}); err != nil {
		return nil, err
	}
	if err := httpQuery("field query on a span `span_id:…`", "1 event (an old one)",
		"/v1/events", url.Values{"q": {"span_id:" + c.def.span}}); err != nil {
		return nil, err
	}
	if err := httpQuery("field query matching nothing `user:nobody`", "0 events",
		"/v1/events", url.Values{"q": {"user:nobody"}}); err != nil {
		return nil, err
	}
	// Comparisons on numeric columns few events meet (the magnitude
	// tokens drive them; before index schema 14 they walked the tenant).
	if err := httpQuery("field query on a number few events meet `tokens_used:>5400`", "~0.4% of model outputs; newest 100",
		"/v1/events", url.Values{"q": {"tokens_used:>5400"}}); err != nil {
		return nil, err
	}
	if err := httpQuery("field query on a number `duration_ms:>4000`", "~1% of API calls; newest 100",
		"/v1/events", url.Values{"q": {"duration_ms:>4000"}}); err != nil {
		return nil, err
	}
	day := o.dayFrom.Format(time.DateOnly)
	if err := httpQuery("count by type per day, one day (rollup)", fmt.Sprintf("%d events that day", c.def.typesDay),
		"/v1/stats", url.Values{"from": {day}, "to": {day}}); err != nil {
		return nil, err
	}
	if err := httpQuery("count by type per day, every day (rollup)", "all events of the tenant",
		"/v1/stats", nil); err != nil {
		return nil, err
	}
	if err := httpQuery("count by type per day for a query (`tool:send_email`, the 7-day range; index rows)", fmt.Sprintf("%d matches in range", c.def.sendEmail7d),
		"/v1/stats", url.Values{"q": {"tool:send_email"}, "from": {o.fieldFrom.Format(time.DateOnly)}, "to": {o.fieldTo.Add(-time.Nanosecond).Format(time.DateOnly)}}); err != nil {
		return nil, err
	}
	return out, nil
}
