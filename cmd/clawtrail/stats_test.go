package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/httpapi"
)

// statsOf runs `clawtrail logs stats --format json` with args.
func statsOf(t *testing.T, ts *testServer, args ...string) map[string]map[string]int64 {
	t.Helper()
	out := mustCLI(t, ts, 0, append([]string{"logs", "stats", "--format", "json"}, args...)...)
	var page httpapi.StatsPage
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("stats json %q: %v", out, err)
	}
	got := map[string]map[string]int64{}
	for _, d := range page.Days {
		var sum int64
		for _, n := range d.Types {
			sum += n
		}
		if sum != d.Total {
			t.Fatalf("day %s: total %d, types sum to %d", d.Day, d.Total, sum)
		}
		got[d.Day] = d.Types
	}
	return got
}

// Counts per day and type: from the indexer's rollup without a query, from
// the index rows with one; both equal what was ingested; whole days; the
// rollup follows erasure; the server's own records only when asked for.
func TestStatsPerDayAndType(t *testing.T) {
	ts := startServer(t, t.TempDir(), func(c *serveConfig) { c.RetentionEvery = 0 })
	types := []string{"prompt", "tool_call", "output", "api_call"}
	tools := []string{"exec", "send_email"}
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]map[string]int64{}
	wantExec := map[string]map[string]int64{}
	wantLong := map[string]map[string]int64{} // the events whose content is longContent
	const longContent = "the agent ran the nightly finance report and mailed it to the auditors at once"
	add := func(m map[string]map[string]int64, day, typ string) {
		if m[day] == nil {
			m[day] = map[string]int64{}
		}
		m[day][typ]++
	}
	r := rand.New(rand.NewPCG(1, 2))
	var lines []string
	for i := 0; i < 600; i++ {
		ts := day0.Add(time.Duration(r.Int64N(int64(5 * 24 * time.Hour))))
		typ, tool := types[r.IntN(len(types))], tools[r.IntN(len(tools))]
		user := "bob"
		if i%10 == 0 {
			user = "alice"
		}
		content := fmt.Sprintf("word%d", i)
		day := ts.Format(time.DateOnly)
		if i%7 == 0 {
			content = longContent
			add(wantLong, day, typ)
		}
		lines = append(lines, fmt.Sprintf(`{"id":"s%d","type":%q,"tool":%q,"user_id":%q,"timestamp":%q,"content":%q}`, i, typ, tool, user, ts.Format(time.RFC3339Nano), content))
		add(want, day, typ)
		if tool == "exec" {
			add(wantExec, day, typ)
		}
	}
	if out, errOut, code := ts.cli(strings.Join(lines, "\n")+"\n", "ingest", "-"); code != 0 {
		t.Fatalf("ingest: %d %s %s", code, out, errOut)
	}
	equal := func(what string, got, want map[string]map[string]int64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
		}
	}
	equal("stats (rollup)", statsOf(t, ts), want)
	equal("stats tool:exec (index rows)", statsOf(t, ts, "--query", "tool:exec"), wantExec)
	// A query that selects everything takes the other path: same counts.
	equal("stats -tool:nothing (index rows)", statsOf(t, ts, "--query", "-tool:nothing"), want)

	// Whole days: a range inside one day counts that whole day.
	d1 := day0.Add(24 * time.Hour).Format(time.DateOnly)
	got := statsOf(t, ts, "--from", d1+"T10:00:00Z", "--to", d1+"T11:00:00Z")
	equal("one day", got, map[string]map[string]int64{d1: want[d1]})
	equal("one day, with a query", statsOf(t, ts, "--from", d1+"T10:00:00Z", "--to", d1+"T11:00:00Z", "--query", "tool:exec"),
		map[string]map[string]int64{d1: wantExec[d1]})

	// The table names every type.
	out := mustCLI(t, ts, 0, "logs", "stats")
	if !strings.HasPrefix(out, "DAY") || !strings.Contains(out, d1) || !strings.Contains(out, "tool_call") || strings.Count(out, "\n") != len(want)+1 {
		t.Fatalf("stats table:\n%s", out)
	}
	// Another tenant's key sees none of it.
	key, _, _ := ts.cli("", "keys", "create", "--tenant", "acme", "--role", "reader")
	acme := strings.TrimSpace(key)
	if st, body := ts.do("GET", "/v1/stats", "", "Authorization", "Bearer "+acme); st != 200 || body != `{"days":[]}`+"\n" {
		t.Fatalf("stats of another tenant: %d %q", st, body)
	}
	// A reversed range is an error, not a day's counts.
	if _, errOut, code := ts.cli("", "logs", "stats", "--from", d1+"T11:00:00Z", "--to", d1+"T10:00:00Z"); code != 2 || !strings.Contains(errOut, "from is after to") {
		t.Fatalf("stats of a reversed range: %d %s", code, errOut)
	}
	// Search's paging parameters mean nothing to a count: named, refused.
	for _, p := range []string{"limit=10", "cursor=abc", "order=asc"} {
		if st, body := ts.do("GET", "/v1/stats?"+p, ""); st != 400 || !strings.Contains(body, strings.Split(p, "=")[0]+" is a search parameter") {
			t.Fatalf("stats?%s: %d %s", p, st, body)
		}
	}
	// A phrase, or an equality on a long text value, is a superset in the
	// index (no positions; no value token for a long content): counted
	// from the events the matcher accepts. (Before index schema 17 a
	// phrase was refused.)
	equal("stats of a phrase", statsOf(t, ts, "--query", `"finance report"`), wantLong)
	equal("stats of a long content", statsOf(t, ts, "--query", `content:"`+longContent+`"`), wantLong)
	equal("stats of a phrase no event holds", statsOf(t, ts, "--query", `"report finance"`), map[string]map[string]int64{})

	// Server records: left out, unless the query names the type.
	// (access records are written behind the answers they record)
	for deadline := time.Now().Add(10 * time.Second); len(statsOf(t, ts, "--query", "type:access")) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no access records counted with --query type:access")
		}
	}
	for _, types := range statsOf(t, ts) {
		if types["access"] != 0 {
			t.Fatalf("access records counted without a query naming the type: %v", types)
		}
	}

	// Erasure takes alice's events out of the index: the rollup follows.
	mustCLI(t, ts, 0, "erase", "--user", "alice", "--yes")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var total, totalQ int64
		for _, ty := range statsOf(t, ts) {
			for _, n := range ty {
				total += n
			}
		}
		for _, ty := range statsOf(t, ts, "--query", "-tool:nothing") {
			for _, n := range ty {
				totalQ += n
			}
		}
		if total == 540 && totalQ == 540 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after erasing alice's 60 events: rollup counts %d, index rows %d, want 540", total, totalQ)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A bad --format is refused before any request is made: the commands name
// the flag instead of failing on the server (here, none is listening).
func TestFormatCheckedFirst(t *testing.T) {
	ts := &testServer{t: t, url: "http://127.0.0.1:1", token: "ct_nothing"}
	for _, cmd := range [][]string{{"logs", "sessions"}, {"logs", "stats"}} {
		out, errOut, code := ts.cli("", append(cmd, "--format", "bogus")...)
		if code == 0 || !strings.Contains(errOut, "--format must be table or json") || strings.Contains(out+errOut, "refused") {
			t.Fatalf("clawtrail %s --format bogus: exit %d\nstdout: %s\nstderr: %s", strings.Join(cmd, " "), code, out, errOut)
		}
	}
}
