package httpapi

import (
	"net/http"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus series. No series carries a tenant
// label: metrics never reveal which tenants exist. Make them with
// NewMetrics before opening the store, so that the store reports into them
// from its first commit.
type Metrics struct {
	reg           *prometheus.Registry
	ingested      prometheus.Counter
	duplicates    prometheus.Counter
	hookRefusals  prometheus.Counter
	batchEvents   prometheus.Histogram
	commitSeconds prometheus.Histogram
	indexed       prometheus.Counter
	rejected      *prometheus.CounterVec
	searchSeconds prometheus.Histogram
	tails         prometheus.Gauge
	auditDropped  prometheus.Counter
	rateLimited   *prometheus.CounterVec
	otlpSkipped   *prometheus.CounterVec
}

// NewMetrics registers the series in reg (a new registry when nil).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		reg:          reg,
		ingested:     prometheus.NewCounter(prometheus.CounterOpts{Name: "clawtrail_events_ingested_total", Help: "Events committed to the ledger."}),
		hookRefusals: prometheus.NewCounter(prometheus.CounterOpts{Name: "clawtrail_hook_refusals_total", Help: "Agent hook calls refused by a deny rule."}),
		duplicates:   prometheus.NewCounter(prometheus.CounterOpts{Name: "clawtrail_events_duplicate_total", Help: "Events not stored again because their id and body were already stored."}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "clawtrail_commit_batch_events", Help: "Events per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "clawtrail_commit_seconds", Help: "Time to write and fsync one group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		indexed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "clawtrail_events_indexed_total", Help: "Events written to the search index."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clawtrail_requests_rejected_total", Help: "Requests answered with an error, by reason."}, []string{"reason"}),
		searchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "clawtrail_search_seconds", Help: "Search latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		tails: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clawtrail_tail_streams", Help: "Open tail streams."}),
		auditDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "clawtrail_audit_records_dropped_total",
			Help: "access and auth records that could not be stored (queue full, or the ledger refused them)."}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clawtrail_requests_rate_limited_total", Help: "Requests answered 429, by kind."}, []string{"kind"}),
		otlpSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clawtrail_otlp_skipped_total",
			Help: "OTLP spans and log records received but not stored as events (not agent activity, or operational telemetry), by signal and reason."},
			[]string{"signal", "reason"}),
	}
	reg.MustRegister(m.ingested, m.duplicates, m.hookRefusals, m.batchEvents, m.commitSeconds, m.indexed, m.rejected, m.searchSeconds, m.tails, m.auditDropped, m.rateLimited, m.otlpSkipped,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// watchStore adds the series read from the store at scrape time.
func (m *Metrics) watchStore(store Store) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clawtrail_index_lag_events", Help: "Committed events not yet in the search index."},
		func() float64 { return float64(store.IndexLag()) }))
}

// StoreHooks returns the hooks the store reports its commits and index
// batches through.
func (m *Metrics) StoreHooks() sqlite.Metrics {
	return sqlite.Metrics{
		CommitSeconds: func(sec float64, events int) {
			m.commitSeconds.Observe(sec)
			m.batchEvents.Observe(float64(events))
		},
		Indexed: func(n int) { m.indexed.Add(float64(n)) },
	}
}

// metricsHandler serves /metrics to the root key, or to anyone with
// MetricsPublic.
func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	if s.cfg.MetricsPublic {
		return h
	}
	return s.auth(clawtrail.RoleAdmin, func(w http.ResponseWriter, r *http.Request) {
		if !callerOf(r.Context()).key.Root {
			s.writeError(w, r, clawtrail.ErrForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
