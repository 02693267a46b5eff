package server_test

import (
	"testing"
	"time"
)

// cacheCount reads actiongate_cache_lookups_total{cache, result}.
func (s *stack) cacheCount(cache, result string) float64 {
	s.t.Helper()
	mfs, err := s.metrics.Registry().Gather()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "actiongate_cache_lookups_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["cache"] == cache && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestCredentialCache: with the credential cache on (the SQLite default), a
// signed-in user's calls reuse the opened token, and every change made here
// shows at once: a disconnect, a new sign-in, an expiry.
func TestCredentialCache(t *testing.T) {
	s := newStack(t)
	p := newFakeProvider(t)
	id := p.setup(t, s, nil)
	p.signIn(t, s, id, "alice")

	wantInvokeOK(t, s, id, "alice")
	hits := s.cacheCount("credential", "hit")
	wantInvokeOK(t, s, id, "alice")
	wantInvokeOK(t, s, id, "alice")
	if got := s.cacheCount("credential", "hit"); got != hits+2 {
		t.Fatalf("credential cache hits %v → %v, want two more", hits, got)
	}

	// Disconnect: the very next call asks for sign-in, without waiting for the TTL.
	if st, res := s.api("DELETE", "/v1/connections/"+id+"/alice", nil); st != 204 {
		t.Fatalf("disconnect: %d %v", st, res)
	}
	wantSignInRequired(t, s, id, "alice")

	// Signing in again: the new token is used at once.
	p.signIn(t, s, id, "alice")
	wantInvokeOK(t, s, id, "alice")
	calls := p.apiCalls()
	if len(calls) < 2 || calls[len(calls)-1] == calls[0] {
		t.Fatalf("API calls after a new sign-in used the old token: %v", calls)
	}

	// Near expiry the cached token is not used: the stored row decides, and
	// the token is refreshed.
	before := len(p.refreshRequests())
	s.clock.Add(2 * time.Hour)
	wantInvokeOK(t, s, id, "alice")
	if len(p.refreshRequests()) != before+1 {
		t.Fatalf("refreshes: %d → %d, want one", before, len(p.refreshRequests()))
	}
}
