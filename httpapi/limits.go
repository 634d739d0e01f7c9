package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/clawtrail/clawtrail"
)

// limiter holds a token bucket per key for ingested events and one for read
// requests. A rate of 0 is unlimited. Buckets hold one second of the rate.
type limiter struct {
	ingestRate, queryRate float64
	now                   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket // "i:"+key or "q:"+key
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(ingest, query float64, now func() time.Time) *limiter {
	return &limiter{ingestRate: ingest, queryRate: query, now: now, buckets: map[string]*bucket{}}
}

// take spends n tokens of the bucket; when short it spends nothing and
// returns how long until n tokens are there.
func (l *limiter) take(name string, rate, n float64) (time.Duration, bool) {
	if rate <= 0 {
		return 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[name]
	if b == nil {
		if len(l.buckets) > 100000 {
			clear(l.buckets) // bounded: a forgotten bucket only refills
		}
		b = &bucket{tokens: rate, last: now}
		l.buckets[name] = b
	}
	b.tokens = math.Min(rate, b.tokens+rate*now.Sub(b.last).Seconds())
	b.last = now
	// A request larger than one second's worth needs a full bucket and then
	// leaves it in debt: the next requests wait until the debt is repaid,
	// so large batches cannot beat the rate.
	need := math.Min(n, rate)
	if b.tokens >= need {
		b.tokens -= n
		return 0, true
	}
	return time.Duration((need - b.tokens) / rate * float64(time.Second)), false
}

func (l *limiter) allowQuery(key string) (time.Duration, bool) {
	return l.take("q:"+key, l.queryRate, 1)
}

func (l *limiter) allowIngest(key string, events int) (time.Duration, bool) {
	return l.take("i:"+key, l.ingestRate, float64(events))
}

// tooMany answers 429 with Retry-After (whole seconds, at least 1).
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, kind string, wait time.Duration) {
	s.metrics.rateLimited.WithLabelValues(kind).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	s.writeError(w, r, fmt.Errorf("%w: this key's %s rate limit is reached; retry after %s", clawtrail.ErrRateLimited, kind, wait.Round(time.Millisecond)))
}
