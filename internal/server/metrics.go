package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/actiongate/actiongate/internal/apierr"
)

// routeMetrics serves GET /metrics when metrics are configured. Like /healthz
// it needs no API token — operators keep it off the public network — unless a
// metrics token is set, which it then requires as "Authorization: Bearer".
func (s *Server) routeMetrics(o Options) {
	s.metrics = o.Metrics
	if o.Metrics == nil {
		return
	}
	h := o.Metrics.Handler()
	if o.MetricsToken != "" {
		want := sha256.Sum256([]byte(o.MetricsToken))
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="actiongate-metrics"`)
				writeJSON(w, http.StatusUnauthorized, apierr.New(apierr.Unauthorized, "GET /metrics needs the metrics token (ACTIONGATE_METRICS_TOKEN) as a bearer token").Body())
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	s.mux.Handle("GET /metrics", h)
}
