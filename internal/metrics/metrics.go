// Package metrics defines actiongate's Prometheus metrics on a registry the
// process owns (not the global default), with the Go runtime and process
// collectors. The gateway and the HTTP layer record into it; GET /metrics
// serves it.
//
// Label values are bounded and never secret or personal: action ids and
// operation ids of registered actions, error codes, mux routes. End-user ids,
// tokens and URLs never become label values.
//
// A nil *Metrics records nothing, so tests and tools can leave it out.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Call modes.
const (
	ModeInvoke = "invoke"
	ModeProxy  = "proxy"
)

// Outcome of a call that succeeded as far as the gateway is concerned (the API
// answered, whatever its status).
const OutcomeOK = "ok"

// Refresh outcomes.
const (
	RefreshRefreshed   = "refreshed"    // this caller's token request succeeded
	RefreshShared      = "shared"       // another caller's (or replica's) refresh was used
	RefreshNeedsReauth = "needs_reauth" // the provider refused: the user must sign in again
	RefreshTransient   = "transient"    // the provider failed or was unreachable; tokens kept
	RefreshError       = "error"        // anything else (storing the tokens failed…)
)

// Sign-in events.
const (
	SignInStarted   = "started"
	SignInCompleted = "completed"
	SignInFailed    = "failed"
)

// Caches.
const (
	CacheAction     = "action"
	CacheCredential = "credential"
)

// Metrics holds every collector. Safe for concurrent use.
type Metrics struct {
	reg       *prometheus.Registry
	calls     *prometheus.CounterVec
	gwTime    *prometheus.HistogramVec
	upTime    *prometheus.HistogramVec
	requests  *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	signIns   *prometheus.CounterVec
	cache     *prometheus.CounterVec
}

// New returns the metrics on a new registry with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "actiongate_calls_total",
		Help: "API calls through invoke and proxy, by action, operation (invoke only), outcome (ok or the error code) and the upstream's status class (none when it was not called or did not answer).",
	}, []string{"mode", "action", "operation", "outcome", "upstream_status"})
	m.gwTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "actiongate_call_gateway_seconds",
		Help:    "Time a call spent in the gateway itself: its whole handling minus the upstream time (loading the action, the credential, refresh waits, mapping, building the answer).",
		Buckets: []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"mode", "action"})
	m.upTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "actiongate_call_upstream_seconds",
		Help:    "Time a call waited on the API: from sending the request to the response head (proxy), or to the end of the body (invoke).",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"mode", "action"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "actiongate_api_requests_total",
		Help: "Requests to the /v1 API by route and outcome (ok or the error code), including those refused before reaching an action (unauthorized, rate_limited).",
	}, []string{"route", "outcome"})
	m.refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "actiongate_token_refreshes_total",
		Help: "OAuth token refresh outcomes: refreshed, shared, needs_reauth, transient, error.",
	}, []string{"outcome"})
	m.signIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "actiongate_sign_ins_total",
		Help: "OAuth sign-ins: started (a link was opened), completed, failed (with a reason).",
	}, []string{"event", "reason"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "actiongate_cache_lookups_total",
		Help: "In-memory cache lookups on the call path: action (the parsed action and its opened API key) and credential (a user's opened OAuth access token; only when the credential cache is on), by result (hit or miss).",
	}, []string{"cache", "result"})
	m.reg.MustRegister(m.calls, m.gwTime, m.upTime, m.requests, m.refreshes, m.signIns, m.cache,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Pre-create the series that exist from the start, so dashboards see zeros.
	for _, o := range []string{RefreshRefreshed, RefreshShared, RefreshNeedsReauth, RefreshTransient, RefreshError} {
		m.refreshes.WithLabelValues(o)
	}
	m.signIns.WithLabelValues(SignInStarted, "")
	m.signIns.WithLabelValues(SignInCompleted, "")
	for _, c := range []string{CacheAction, CacheCredential} {
		m.cache.WithLabelValues(c, "hit")
		m.cache.WithLabelValues(c, "miss")
	}
	return m
}

// Registry is the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// StatusClass is "2xx"… for an HTTP status, "none" for 0.
func StatusClass(status int) string {
	switch {
	case status >= 100 && status < 200:
		return "1xx"
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return "none"
}

// Call records one invoke or proxy call. action and operation must be ids of
// a registered action and its operation ("" when unknown: never caller input
// that was not found). upstream is zero when the API was not called.
func (m *Metrics) Call(mode, action, operation, outcome string, upstreamStatus int, total, upstream time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(mode, action, operation, outcome, StatusClass(upstreamStatus)).Inc()
	gw := total - upstream
	if gw < 0 {
		gw = 0
	}
	m.gwTime.WithLabelValues(mode, action).Observe(gw.Seconds())
	if upstream > 0 {
		m.upTime.WithLabelValues(mode, action).Observe(upstream.Seconds())
	}
}

// Request records one /v1 API request; route is the mux pattern.
func (m *Metrics) Request(route, outcome string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, outcome).Inc()
}

// Refresh records a refresh outcome.
func (m *Metrics) Refresh(outcome string) {
	if m == nil {
		return
	}
	m.refreshes.WithLabelValues(outcome).Inc()
}

// SignIn records a sign-in event; reason only for failures.
func (m *Metrics) SignIn(event, reason string) {
	if m == nil {
		return
	}
	m.signIns.WithLabelValues(event, reason).Inc()
}

// CacheLookup records a cache hit or miss.
func (m *Metrics) CacheLookup(cache string, hit bool) {
	if m == nil {
		return
	}
	r := "miss"
	if hit {
		r = "hit"
	}
	m.cache.WithLabelValues(cache, r).Inc()
}
