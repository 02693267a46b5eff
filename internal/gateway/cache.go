package gateway

import "time"

// An action (its row, parsed document, opened API key and proxy target) is
// kept in memory and trusted for CacheTTL after it was read; then the row is
// read again and the document parsed again only if updated_at moved (load in
// gateway.go). In this process every change invalidates at once: updating or
// deleting an action, a key rotation. Another replica's change to an action is
// seen within CacheTTL (default 5s).
//
// Users' connections are not cached: every call reads the stored connection
// (one indexed row, about 20 µs), so that a user who disconnects, or whose
// token another replica refreshed or found revoked, is seen at once by every
// replica.

// DefaultCacheTTL is how long a cached action is trusted.
const DefaultCacheTTL = 5 * time.Second

// forgetAction drops an action from the cache.
func (g *Gateway) forgetAction(id string) {
	g.mu.Lock()
	delete(g.cache, id)
	g.cacheGen++
	g.mu.Unlock()
}

// clearCaches empties the action cache.
func (g *Gateway) clearCaches() {
	g.mu.Lock()
	clear(g.cache)
	g.cacheGen++
	g.mu.Unlock()
}
