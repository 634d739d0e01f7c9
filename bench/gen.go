package main

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oklog/ulid/v2"
)

// The synthetic corpus: agent activity as an SDK would send it. Events are
// generated per session, then put in timestamp order (the order in which
// agents emit them) and cut into per-tenant NDJSON batches, so that ids
// (ULIDs from the event time, monotonic) arrive time-ordered.

// Event types and their shares (DESIGN.md, research/baselines.md).
var eventTypes = []struct {
	name     string
	weight   float64
	meanSize float64 // target line size in bytes
}{
	{"prompt", 0.21, 800},
	{"tool_call", 0.30, 750},
	{"output", 0.20, 900},
	{"api_call", 0.15, 450},
	{"file_operation", 0.15, 450},
}

// tenants and the share of sessions each gets; the first is the measured one.
var tenants = []struct {
	name   string
	weight float64
}{
	{"default", 0.50},
	{"acme", 0.25},
	{"globex", 0.15},
	{"initech", 0.10},
}

// tools and their weights among tool calls.
var tools = []struct {
	name   string
	weight float64
}{
	{"exec", 20}, {"read_file", 18}, {"web_search", 14}, {"send_email", 12}, {"write_file", 10},
	{"http_get", 8}, {"query_db", 7}, {"create_ticket", 5}, {"slack_post", 4}, {"calendar_create", 2},
}

var (
	channels     = []string{"slack", "cli", "web", "api", "teams", "email"}
	models       = []string{"claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4.1", "gpt-4o-mini", "gemini-2.5-pro"}
	destinations = []struct{ host, endpoint string }{
		{"api.anthropic.com", "/v1/messages"}, {"api.openai.com", "/v1/chat/completions"},
		{"api.github.com", "/repos/acme/app/pulls"}, {"hooks.slack.com", "/services/T000/B000"},
		{"api.stripe.com", "/v1/invoices"}, {"generativelanguage.googleapis.com", "/v1beta/models"},
	}
	fileOps  = []string{"read", "write", "list", "delete", "stat"}
	dirs     = []string{"/workspace/src", "/workspace/docs", "/home/agent/notes", "/workspace/data", "/tmp/scratch", "/etc/app"}
	exts     = []string{".go", ".md", ".json", ".csv", ".yaml", ".txt", ".py"}
	commands = []string{"ls -la", "git status", "go test ./...", "make build", "cat README.md", "grep -rn TODO .", "df -h", "ps aux"}
	domains  = []string{"vendor.com", "example.org", "acme.io", "globex.net", "mail.test"}
	errTexts = []string{"permission denied", "timeout after 30s", "connection refused", "rate limited by upstream", "file not found", "invalid argument"}
)

// Planted words: a common one and a rare one, at fixed document rates, kept
// out of the Zipf vocabulary so their frequency is exactly what is planted.
const (
	commonWord = "invoice"
	rareWord   = "predicated"
	commonRate = 0.15
	rareRate   = 0.003
)

// Generation parameters.
const (
	vocabSize        = 8192
	zipfS            = 1.07
	meanSessionLen   = 80
	meanGap          = 4 * time.Second // between a session's events
	maxLineBytes     = 2100
	tsLayout         = "2006-01-02T15:04:05.000000Z"
	minFillerWords   = 6
	lineHeadroomSize = 2600
)

// baseWords head the vocabulary (the most frequent ranks), so text reads a
// little like agent traffic; generated pseudo-words fill the long tail.
var baseWords = []string{
	"the", "to", "and", "of", "a", "in", "for", "is", "on", "that", "with", "please", "this", "it", "be",
	"customer", "order", "report", "data", "file", "email", "meeting", "update", "send", "check", "account",
	"payment", "shipment", "status", "summary", "request", "review", "team", "project", "deadline", "budget",
	"draft", "ticket", "issue", "deploy", "build", "test", "config", "server", "user", "access", "api", "key",
	"today", "tomorrow", "week", "month", "quarter", "sales", "support", "vendor", "contract", "policy",
	"approve", "reject", "schedule", "calendar", "notes", "list", "table", "query", "result", "error", "retry",
	"timeout", "latency", "database", "backup", "restore", "release", "version", "branch", "merge", "commit",
	"document", "section", "paragraph", "analysis", "forecast", "revenue", "cost", "price", "discount", "refund",
	"delivery", "warehouse", "inventory", "product", "feature", "bug", "fix", "patch", "security", "audit",
	"compliance", "risk", "incident", "alert", "monitor", "metric", "dashboard", "chart", "export", "import",
	"upload", "download", "share", "link", "folder", "archive", "reply", "forward", "confirm", "cancel",
	"reminder", "follow", "up", "call", "client", "partner", "legal", "finance", "hr", "onboarding", "training",
	"plan", "roadmap", "milestone", "goal", "task", "owner", "priority", "high", "low", "urgent", "done",
	"pending", "blocked", "waiting", "next", "steps", "thanks", "hello", "regards", "attached", "below", "above",
	"we", "you", "they", "can", "will", "should", "could", "would", "need", "want", "from", "by", "at", "as",
	"an", "or", "not", "are", "was", "have", "has", "all", "any", "each", "more", "new", "old", "latest",
}

// corpus is a pre-generated workload.
type corpus struct {
	batches  []*batch
	events   int
	bytes    int64
	start    time.Time // the window the timestamps span
	end      time.Time
	perType  map[string]int
	perTen   map[string]int
	def      defaultStats
	minLine  int
	maxLine  int
	sessions int
}

// batch is one NDJSON request body, all of one tenant.
type batch struct {
	tenant string
	body   []byte
	n      int         // events
	meta   []eventMeta // one per line, for the baselines (dropped after them)
}

// eventMeta are the columns the bare SQLite baseline stores beside the body.
type eventMeta struct {
	id      string
	ts      int64
	typ     uint8
	tenant  uint8
	lineEnd int32 // offset in batch.body after the line's '\n'
}

// defaultStats describes the measured tenant, to pick and check queries.
type defaultStats struct {
	events      int
	common      int // events holding commonWord
	rare        int
	sessionLen  map[string]int
	trace       map[string]string // session id → its trace id
	user        map[string]int    // events per user
	sendEmail7d int               // tool:send_email inside the field query's 7-day range
	typesDay    int               // events on the count-by-type day
	span        string            // the span id of the tenant's spanAt-th event
	content     string            // the content of the tenant's first prompt from the spanAt-th event on
}

// spanAt picks the event whose span the span query looks up: an old one,
// which a walk of the tenant newest first reaches last.
const spanAt = 1000

type session struct {
	id, user, agent, channel, trace string
	tenant                          uint8
	model                           string
}

type skeleton struct {
	ts   int64
	sess int32
}

// generator holds the seeded random sources.
type generator struct {
	r       *rand.Rand
	zipf    *rand.Zipf
	entropy *ulid.MonotonicEntropy
	vocab   []string
	typeCDF []float64
	toolCDF []float64
	tenCDF  []float64
	words   []string // scratch
	hexbuf  [16]byte
}

func newGenerator(seed uint64) *generator {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var cs [32]byte
	binary.LittleEndian.PutUint64(cs[:], seed)
	copy(cs[8:], "clawtrail bench ulid entropy")
	g := &generator{r: r, entropy: ulid.Monotonic(rand.NewChaCha8(cs), 0)}
	g.zipf = rand.NewZipf(r, zipfS, 1, vocabSize-1)
	g.vocab = buildVocab(rand.New(rand.NewPCG(seed+1, 7)))
	for _, t := range eventTypes {
		g.typeCDF = appendCDF(g.typeCDF, t.weight)
	}
	for _, t := range tools {
		g.toolCDF = appendCDF(g.toolCDF, t.weight)
	}
	for _, t := range tenants {
		g.tenCDF = appendCDF(g.tenCDF, t.weight)
	}
	return g
}

func appendCDF(cdf []float64, w float64) []float64 {
	prev := 0.0
	if len(cdf) > 0 {
		prev = cdf[len(cdf)-1]
	}
	return append(cdf, prev+w)
}

func (g *generator) pick(cdf []float64) int {
	x := g.r.Float64() * cdf[len(cdf)-1]
	i, _ := slices.BinarySearch(cdf, x)
	return min(i, len(cdf)-1)
}

func buildVocab(r *rand.Rand) []string {
	const cons, vows = "bcdfghklmnprstvwz", "aeiou"
	seen := map[string]bool{commonWord: true, rareWord: true}
	vocab := make([]string, 0, vocabSize)
	for _, w := range baseWords {
		if !seen[w] {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	for len(vocab) < vocabSize {
		n := 2 + r.IntN(3)
		b := make([]byte, 0, 10)
		for range n {
			b = append(b, cons[r.IntN(len(cons))], vows[r.IntN(len(vows))])
		}
		if r.IntN(3) == 0 {
			b = append(b, cons[r.IntN(len(cons))])
		}
		if w := string(b); !seen[w] {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	return vocab
}

func (g *generator) hex(n int) string {
	for i := 0; i < n/2; i += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8 && i+j < n/2; j++ {
			g.hexbuf[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(g.hexbuf[:n/2])
}

func (g *generator) newSession(tenant uint8) session {
	return session{
		id:      "sess_" + g.hex(12),
		user:    "user_" + strconv.Itoa(g.r.IntN(400)),
		agent:   "agent-" + strconv.Itoa(g.r.IntN(24)),
		channel: channels[g.r.IntN(len(channels))],
		trace:   g.hex(32),
		tenant:  tenant,
		model:   models[g.r.IntN(len(models))],
	}
}

// genOptions describes one stream of events.
type genOptions struct {
	events      int
	batch       int
	start, end  time.Time // timestamps fall in [start, end)
	onlyDefault bool      // every session in the measured tenant
	randomIDs   bool      // UUIDv4-style ids instead of time-ordered ULIDs
	fieldFrom   time.Time // the field query's range, for stats
	fieldTo     time.Time
	dayFrom     time.Time // the count-by-type day, for stats
}

// generate builds the batches of a stream.
func (g *generator) generate(o genOptions) *corpus {
	c := &corpus{start: o.start, end: o.end, perType: map[string]int{}, perTen: map[string]int{},
		def: defaultStats{sessionLen: map[string]int{}, trace: map[string]string{}, user: map[string]int{}}, minLine: math.MaxInt}
	// Sessions and their event times.
	var sessions []session
	skel := make([]skeleton, 0, o.events)
	span := o.end.Sub(o.start)
	for len(skel) < o.events {
		var ten uint8
		if !o.onlyDefault {
			ten = uint8(g.pick(g.tenCDF))
		}
		s := g.newSession(ten)
		n := 1 + int(g.r.ExpFloat64()*(meanSessionLen-1))
		n = min(n, o.events-len(skel))
		t := o.start.UnixNano() + g.r.Int64N(int64(span))
		for range n {
			skel = append(skel, skeleton{ts: t, sess: int32(len(sessions))})
			t += int64(g.r.ExpFloat64()*float64(meanGap)) + 1000
		}
		sessions = append(sessions, s)
	}
	c.sessions = len(sessions)
	slices.SortStableFunc(skel, func(a, b skeleton) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	// Lines, in time order, gathered per tenant into batches.
	open := make([]*batch, len(tenants))
	flush := func(t int) {
		if b := open[t]; b != nil && len(b.meta) > 0 {
			c.batches = append(c.batches, b)
		}
		open[t] = nil
	}
	for _, sk := range skel {
		s := &sessions[sk.sess]
		b := open[s.tenant]
		if b == nil {
			b = &batch{tenant: tenants[s.tenant].name, body: make([]byte, 0, o.batch*lineHeadroomSize/2), meta: make([]eventMeta, 0, o.batch)}
			open[s.tenant] = b
		}
		before := len(b.body)
		m := g.event(b, s, sk.ts, o, c)
		n := len(b.body) - before
		c.minLine, c.maxLine = min(c.minLine, n), max(c.maxLine, n)
		c.bytes += int64(n)
		m.lineEnd = int32(len(b.body))
		b.meta = append(b.meta, m)
		b.n++
		c.events++
		if len(b.meta) >= o.batch {
			flush(int(s.tenant))
		}
	}
	for t := range open {
		flush(t)
	}
	return c
}

// event appends one NDJSON line (with its '\n') to b.body.
func (g *generator) event(b *batch, s *session, ts int64, o genOptions, c *corpus) eventMeta {
	ti := g.pick(g.typeCDF)
	typ := eventTypes[ti].name
	t := time.Unix(0, ts).UTC()
	var id string
	if o.randomIDs {
		id = g.uuid4()
	} else {
		id = ulid.MustNew(ulid.Timestamp(t), g.entropy).String()
	}
	// The target size: half the type's mean plus an exponential tail.
	mean := eventTypes[ti].meanSize
	target := min(int(mean/2+g.r.ExpFloat64()*mean/2), maxLineBytes)

	d := b.body
	start := len(d)
	d = append(d, `{"id":"`...)
	d = append(d, id...)
	d = append(d, `","tenant_id":"`...)
	d = append(d, tenants[s.tenant].name...)
	d = append(d, `","type":"`...)
	d = append(d, typ...)
	d = append(d, `","timestamp":"`...)
	d = t.AppendFormat(d, tsLayout)
	d = append(d, `","session_id":"`...)
	d = append(d, s.id...)
	d = append(d, `","user_id":"`...)
	d = append(d, s.user...)
	d = append(d, `","agent_id":"`...)
	d = append(d, s.agent...)
	d = append(d, `","channel":"`...)
	d = append(d, s.channel...)
	d = append(d, `","trace_id":"`...)
	d = append(d, s.trace...)
	d = append(d, `","span_id":"`...)
	span := g.hex(16)
	d = append(d, span...)
	d = append(d, '"')

	// Each type has a text field that takes the filler; tail is what
	// follows it.
	var tail []byte
	tool := ""
	switch typ {
	case "prompt":
		d = append(d, `,"content":"`...)
		tail = append(tail, `"}`...)
	case "output":
		in, out := 200+g.r.IntN(4000), 20+g.r.IntN(1200)
		d = append(d, `,"model":"`...)
		d = append(d, s.model...)
		d = append(d, `","tokens_used":`...)
		d = strconv.AppendInt(d, int64(in+out), 10)
		d = append(d, `,"usage":{"input_tokens":`...)
		d = strconv.AppendInt(d, int64(in), 10)
		d = append(d, `,"output_tokens":`...)
		d = strconv.AppendInt(d, int64(out), 10)
		d = append(d, `},"content":"`...)
		tail = append(tail, `"}`...)
	case "tool_call":
		tool = tools[g.pick(g.toolCDF)].name
		d = append(d, `,"tool":"`...)
		d = append(d, tool...)
		d = append(d, `","arguments":{`...)
		switch tool {
		case "send_email":
			d = append(d, `"to":"`...)
			d = append(d, g.vocab[g.zipf.Uint64()]...)
			d = append(d, '@')
			d = append(d, domains[g.r.IntN(len(domains))]...)
			d = append(d, `","subject":"`...)
			for i := range 4 {
				if i > 0 {
					d = append(d, ' ')
				}
				d = append(d, g.vocab[g.zipf.Uint64()]...)
			}
			d = append(d, `","body":"`...)
			tail = append(tail, `"}`...)
		case "exec":
			d = append(d, `"command":"`...)
			d = append(d, commands[g.r.IntN(len(commands))]...)
			d = append(d, `","cwd":"`...)
			d = append(d, dirs[g.r.IntN(len(dirs))]...)
			d = append(d, `"}`...)
		case "web_search", "query_db":
			d = append(d, `"query":"`...)
			for i := range 3 {
				if i > 0 {
					d = append(d, ' ')
				}
				d = append(d, g.vocab[g.zipf.Uint64()]...)
			}
			d = append(d, `","limit":`...)
			d = strconv.AppendInt(d, int64(5+g.r.IntN(50)), 10)
			d = append(d, '}')
		default:
			d = append(d, `"path":"`...)
			d = g.appendPath(d)
			d = append(d, `"}`...)
		}
		status := "success"
		if g.r.IntN(20) == 0 {
			status = "error"
		}
		var mid []byte
		mid = append(mid, `,"status":"`...)
		mid = append(mid, status...)
		mid = append(mid, `","duration_ms":`...)
		mid = strconv.AppendInt(mid, int64(5+g.r.IntN(3000)), 10)
		if status == "error" {
			mid = append(mid, `,"error":"`...)
			mid = append(mid, errTexts[g.r.IntN(len(errTexts))]...)
			mid = append(mid, '"')
		}
		if tool == "send_email" {
			tail = append(tail, mid...)
			tail = append(tail, '}')
		} else {
			d = append(d, mid...)
			d = append(d, `,"result":"`...)
			tail = append(tail, `"}`...)
		}
	case "api_call":
		dst := destinations[g.r.IntN(len(destinations))]
		code := 200
		switch x := g.r.IntN(100); {
		case x < 2:
			code = 429
		case x < 3:
			code = 500
		}
		d = append(d, `,"destination":"`...)
		d = append(d, dst.host...)
		d = append(d, `","method":"POST","endpoint":"`...)
		d = append(d, dst.endpoint...)
		d = append(d, `","status_code":`...)
		d = strconv.AppendInt(d, int64(code), 10)
		d = append(d, `,"duration_ms":`...)
		d = strconv.AppendInt(d, int64(40+g.r.IntN(4000)), 10)
		d = append(d, `,"model":"`...)
		d = append(d, s.model...)
		d = append(d, `","content":"`...)
		tail = append(tail, `"}`...)
	case "file_operation":
		d = append(d, `,"operation":"`...)
		d = append(d, fileOps[g.r.IntN(len(fileOps))]...)
		d = append(d, `","path":"`...)
		d = g.appendPath(d)
		d = append(d, `","bytes":`...)
		d = strconv.AppendInt(d, int64(g.r.IntN(1<<20)), 10)
		d = append(d, `,"status":"success","result":"`...)
		tail = append(tail, `"}`...)
	}

	// Filler: Zipf words up to the target size, then the planted words.
	need := target - (len(d) - start) - len(tail) - 1
	g.words = g.words[:0]
	size := 0
	for size < need || len(g.words) < minFillerWords {
		w := g.vocab[g.zipf.Uint64()]
		g.words = append(g.words, w)
		size += len(w) + 1
	}
	hasCommon := g.r.Float64() < commonRate
	hasRare := g.r.Float64() < rareRate
	if hasCommon {
		g.words[g.r.IntN(len(g.words))] = commonWord
	}
	if hasRare {
		i := g.r.IntN(len(g.words))
		for g.words[i] == commonWord && hasCommon {
			i = g.r.IntN(len(g.words))
		}
		g.words[i] = rareWord
	}
	for i, w := range g.words {
		if i > 0 {
			d = append(d, ' ')
		}
		d = append(d, w...)
	}
	d = append(d, tail...)
	d = append(d, '\n')
	b.body = d

	c.perType[typ]++
	c.perTen[tenants[s.tenant].name]++
	if s.tenant == 0 {
		c.def.events++
		if c.def.events == spanAt {
			c.def.span = string(span)
		}
		if c.def.events >= spanAt && c.def.content == "" && typ == "prompt" {
			c.def.content = strings.Join(g.words, " ")
		}
		c.def.sessionLen[s.id]++
		c.def.trace[s.id] = s.trace
		c.def.user[s.user]++
		if hasCommon {
			c.def.common++
		}
		if hasRare {
			c.def.rare++
		}
		if tool == "send_email" && !t.Before(o.fieldFrom) && !t.After(o.fieldTo) {
			c.def.sendEmail7d++
		}
		if !t.Before(o.dayFrom) && t.Before(o.dayFrom.Add(24*time.Hour)) {
			c.def.typesDay++
		}
	}
	return eventMeta{id: id, ts: ts, typ: uint8(ti), tenant: s.tenant}
}

// uuid4 returns a random (version 4) UUID from the seeded source: the ids
// of a client that does not generate time-ordered ones.
func (g *generator) uuid4() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], g.r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], g.r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (g *generator) appendPath(d []byte) []byte {
	d = append(d, dirs[g.r.IntN(len(dirs))]...)
	d = append(d, '/')
	d = append(d, g.vocab[g.zipf.Uint64()]...)
	d = append(d, '_')
	d = append(d, g.vocab[g.zipf.Uint64()]...)
	return append(d, exts[g.r.IntN(len(exts))]...)
}

// midSession returns the measured tenant's session whose length is closest
// to the mean session length (a mid-sized timeline), and its length.
func (c *corpus) midSession() (string, int) {
	ids := make([]string, 0, len(c.def.sessionLen))
	for id := range c.def.sessionLen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	best, bestN := "", 0
	for _, id := range ids {
		n := c.def.sessionLen[id]
		if best == "" || abs(n-meanSessionLen) < abs(bestN-meanSessionLen) {
			best, bestN = id, n
		}
	}
	return best, bestN
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// lines calls fn for each line of the batch (with its '\n').
func (b *batch) lines(fn func(i int, line []byte)) {
	start := 0
	for i, m := range b.meta {
		fn(i, b.body[start:m.lineEnd])
		start = int(m.lineEnd)
	}
}

// moveOffHeap copies every request body into one anonymous memory mapping
// outside the Go heap and drops the per-line metadata. The corpus then
// neither inflates the Go heap (which would make the server's garbage
// collector run less often than in a real server) nor hides in the
// server's memory figure: it is exactly mapped bytes of RSS.
func moveOffHeap(cs ...*corpus) (mapped int, err error) {
	for _, c := range cs {
		for _, b := range c.batches {
			mapped += len(b.body)
		}
	}
	page := os.Getpagesize()
	mapped = (mapped + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, mapped, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, err
	}
	off := 0
	for _, c := range cs {
		for _, b := range c.batches {
			n := copy(mem[off:], b.body)
			b.body = mem[off : off+n : off+n]
			b.meta = nil
			off += n
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	return mapped, nil
}
