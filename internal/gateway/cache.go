package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
)

// An action (its row, parsed document, opened API key and proxy target) is
// kept in memory and trusted for CacheTTL after it was read; then the row is
// read again and the document parsed again only if updated_at moved (load in
// gateway.go). In this process every change invalidates at once: updating or
// deleting an action, a key rotation. Another replica's change to an action is
// seen within CacheTTL (default 5s).
//
// Users' opened access tokens are cached only when Options.CredentialCacheTTL
// is set (below).

// DefaultCacheTTL is how long a cached action is trusted.
const DefaultCacheTTL = 5 * time.Second

// forgetAction drops an action and its users' tokens from the caches.
func (g *Gateway) forgetAction(id string) {
	g.mu.Lock()
	delete(g.cache, id)
	g.cacheGen++
	g.mu.Unlock()
	g.creds.forgetAction(id)
}

// clearCaches empties both caches.
func (g *Gateway) clearCaches() {
	g.mu.Lock()
	clear(g.cache)
	g.cacheGen++
	g.mu.Unlock()
	g.creds.clear()
}

// The credential cache keeps users' opened OAuth access tokens, so that a call
// reads no connection row. It is off unless Options.CredentialCacheTTL is set,
// and is meant for one process per database (SQLite, where app turns it on):
// every change in this process invalidates at once — a sign-in, a refresh, a
// refusal, a disconnect, a deleted action, a key rotation — but another
// replica's would show only after the TTL, so with a shared PostgreSQL
// database it stays off unless the operator accepts that delay. An entry whose
// token is about to expire is never used: refresh decisions are always made on
// the stored row, under the connection lock.

// maxCredentials bounds the credential cache; when full it starts again empty.
const maxCredentials = 100_000

// touchEvery is how often a cached connection's use is recorded for the
// background sweep (which only needs to know it was used within a day).
const touchEvery = time.Minute

type credKey struct{ action, user string }

// credEntry is a user's opened access token. It is shared: read-only but for
// touched.
type credEntry struct {
	token     secrets.Secret
	sealed    []byte
	expiresAt time.Time // of the token
	updatedAt time.Time // of the connection (its lifetime, for needsRefresh)
	cachedAt  time.Time
	touched   atomic.Int64 // unix nanoseconds of the last touch
}

type credCache struct {
	mu sync.RWMutex
	m  map[credKey]*credEntry
	// gen moves on every invalidation, so that a lookup that started before
	// one does not store what it read.
	gen atomic.Uint64
}

func (cc *credCache) get(action, user string) *credEntry {
	cc.mu.RLock()
	e := cc.m[credKey{action, user}]
	cc.mu.RUnlock()
	return e
}

func (cc *credCache) put(action, user string, e *credEntry, gen uint64) {
	cc.mu.Lock()
	if cc.gen.Load() == gen {
		if cc.m == nil || len(cc.m) >= maxCredentials {
			cc.m = map[credKey]*credEntry{}
		}
		cc.m[credKey{action, user}] = e
	}
	cc.mu.Unlock()
}

func (cc *credCache) forget(action, user string) {
	cc.mu.Lock()
	cc.gen.Add(1)
	delete(cc.m, credKey{action, user})
	cc.mu.Unlock()
}

func (cc *credCache) forgetAction(action string) {
	cc.mu.Lock()
	cc.gen.Add(1)
	for k := range cc.m {
		if k.action == action {
			delete(cc.m, k)
		}
	}
	cc.mu.Unlock()
}

func (cc *credCache) clear() {
	cc.mu.Lock()
	cc.gen.Add(1)
	clear(cc.m)
	cc.mu.Unlock()
}

// cachedToken returns the user's cached access token when it may be used
// without reading the stored connection.
func (g *Gateway) cachedToken(actionID, user string) (*credEntry, bool) {
	if g.credTTL <= 0 {
		return nil, false
	}
	e := g.creds.get(actionID, user)
	now := g.now()
	if e == nil || now.Sub(e.cachedAt) >= g.credTTL ||
		g.needsRefresh(&store.Connection{ExpiresAt: e.expiresAt, UpdatedAt: e.updatedAt}) {
		g.metrics.CacheLookup(metrics.CacheCredential, false)
		return nil, false
	}
	g.metrics.CacheLookup(metrics.CacheCredential, true)
	if t := e.touched.Load(); now.UnixNano()-t > int64(touchEvery) {
		e.touched.Store(now.UnixNano())
		g.touch(actionID, user)
	}
	return e, true
}

// cacheToken remembers an opened access token read from conn; gen is the
// cache generation read before conn was.
func (g *Gateway) cacheToken(conn *store.Connection, tok secrets.Secret, gen uint64) {
	if g.credTTL <= 0 {
		return
	}
	now := g.now()
	e := &credEntry{token: tok, sealed: conn.AccessToken, expiresAt: conn.ExpiresAt, updatedAt: conn.UpdatedAt, cachedAt: now}
	e.touched.Store(now.UnixNano())
	g.creds.put(conn.ActionID, conn.User, e, gen)
}
