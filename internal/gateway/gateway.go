// Package gateway is actiongate's core: it registers actions, resolves each
// call's credentials (none, API key, or the end user's OAuth token), builds the
// upstream request from an operation and flat arguments, and calls the API through
// the guarded client. The HTTP layer (package server) calls it; it calls the
// openapi, oauth, secrets and store packages, and nothing calls back up.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/netguard"
	"github.com/actiongate/actiongate/internal/oauth"
	"github.com/actiongate/actiongate/internal/openapi"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
)

// Options configure a Gateway.
type Options struct {
	Store     store.Store
	Keys      *secrets.Keyring
	PublicURL string // no trailing slash
	// AllowPrivate lets actions and token URLs reach loopback and private
	// addresses, and use plain http there.
	AllowPrivate     bool
	UpstreamTimeout  time.Duration // total time for one upstream call (default 45s)
	MaxResponseBytes int64         // cap on an upstream body read by invoke (default 10 MiB)
	Logger           *slog.Logger
	Now              func() time.Time // for tests; default time.Now
	// HTTPClient overrides the guarded client (tests only).
	HTTPClient *http.Client
	// Locker serialises refreshes per connection; default in-process.
	Locker Locker
	// RefreshSkew: refresh this long before expiry, at most half the token's
	// lifetime (default 60s).
	RefreshSkew time.Duration
	// RecentUse: the background sweep keeps refreshing connections used within
	// this window (default 24h).
	RecentUse time.Duration
	// Metrics records calls, refreshes, sign-ins and cache lookups (nil: none).
	Metrics *metrics.Metrics
	// CredentialCacheTTL: how long users' opened access tokens are trusted in
	// memory (cache.go); 0 turns the credential cache off. Only for one process
	// per database.
	CredentialCacheTTL time.Duration
	// CacheTTL: how long actions are trusted in memory
	// (cache.go); 0 means DefaultCacheTTL, negative turns the caches off.
	CacheTTL time.Duration
}

// Gateway serves actions. It is safe for concurrent use.
type Gateway struct {
	store        store.Store
	keys         *secrets.Keyring
	publicURL    string
	allowPrivate bool
	timeout      time.Duration
	maxBody      int64
	log          *slog.Logger
	now          func() time.Time
	client       *http.Client
	oauth        *oauth.Client
	locker       Locker
	skew         time.Duration
	recentUse    time.Duration
	stats        RefreshStats

	recentMu sync.Mutex
	recent   map[string]time.Time // "action\x00user" → last use, for the sweep

	mu       sync.Mutex
	cache    map[string]*compiled // by action id
	cacheGen uint64               // moves on every invalidation (cache.go)

	metrics  *metrics.Metrics
	cacheTTL time.Duration
	credTTL  time.Duration
	creds    credCache // cache.go

	tools toolCache // tools.go
}

// UserAgent identifies actiongate to APIs and providers (some, like Reddit,
// reject generic ones).
const UserAgent = "actiongate/1 (+https://github.com/actiongate/actiongate)"

// New returns a Gateway.
func New(o Options) *Gateway {
	g := &Gateway{
		store:        o.Store,
		keys:         o.Keys,
		publicURL:    strings.TrimRight(o.PublicURL, "/"),
		allowPrivate: o.AllowPrivate,
		timeout:      o.UpstreamTimeout,
		maxBody:      o.MaxResponseBytes,
		log:          o.Logger,
		now:          o.Now,
		client:       o.HTTPClient,
		cache:        map[string]*compiled{},
		recent:       map[string]time.Time{},
		locker:       o.Locker,
		skew:         o.RefreshSkew,
		recentUse:    o.RecentUse,
		metrics:      o.Metrics,
		cacheTTL:     o.CacheTTL,
		credTTL:      o.CredentialCacheTTL,
	}
	if g.cacheTTL == 0 {
		g.cacheTTL = DefaultCacheTTL
	}
	if g.locker == nil {
		g.locker = &KeyedMutex{}
	}
	if g.skew <= 0 {
		g.skew = DefaultRefreshSkew
	}
	if g.recentUse <= 0 {
		g.recentUse = DefaultRecentUse
	}
	if g.timeout <= 0 {
		g.timeout = 45 * time.Second
	}
	if g.maxBody <= 0 {
		g.maxBody = 10 << 20
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.client == nil {
		g.client = netguard.NewClient(netguard.Policy{AllowPrivate: o.AllowPrivate})
	}
	g.oauth = &oauth.Client{HTTP: g.client, UserAgent: UserAgent, Now: g.now}
	return g
}

// CallbackURL is the single OAuth redirect URI for every action.
func (g *Gateway) CallbackURL() string { return g.publicURL + "/oauth/callback" }

// compiled is an action with its parsed document, cached by UpdatedAt so that a
// document is parsed once per change, not once per call.
type compiled struct {
	action store.Action
	auth   Auth
	doc    *openapi.Document
	// Set by load (cache.go): when the row was last read, and the opened API
	// key of an api_key action. A cached compiled is shared: read-only.
	checked  time.Time
	apiKey   secrets.Secret
	keyForms []string // credentialForms(apiKey), for scrubbing answers
	// Proxy mode (prepareProxy): the parsed server URL, its path ending in
	// "/", and where the credential goes.
	target     *url.URL
	targetPath string
	// targetRawPath is targetPath as the server URL escapes it.
	targetRawPath string
	proxyPl       placement
}

// load returns the action with its parsed document.
// Within CacheTTL of the last read the cached value is used as it is; after
// that the row is read again and the document parsed again only if it changed.
func (g *Gateway) load(ctx context.Context, id string) (*compiled, error) {
	now := g.now()
	g.mu.Lock()
	c, gen := g.cache[id], g.cacheGen
	g.mu.Unlock()
	if c != nil && g.cacheTTL > 0 && now.Sub(c.checked) < g.cacheTTL {
		g.metrics.CacheLookup(metrics.CacheAction, true)
		return c, nil
	}
	g.metrics.CacheLookup(metrics.CacheAction, false)
	a, err := g.store.GetAction(ctx, id)
	if err != nil {
		return nil, storeErr(err, "action %q", id)
	}
	if c != nil && c.action.UpdatedAt.Equal(a.UpdatedAt) {
		// A copy: the cached value is shared by concurrent calls.
		cp := *c
		cp.action, cp.checked = a, now
		c = &cp
	} else {
		if c, err = compile(a); err != nil {
			return nil, err
		}
		c.checked = now
		g.prepareProxy(c)
		if c.auth.Type == AuthAPIKey && a.Secret != nil {
			// A key that does not open (sealed under a master key that is not
			// configured) fails the calls that need it (credential), not the
			// listing and viewing of the action.
			if key, err := g.keys.OpenString(a.Secret, secretAAD(a.ID)); err == nil {
				c.apiKey, c.keyForms = key, credentialForms(key)
			}
		}
	}
	g.mu.Lock()
	if g.cacheGen == gen { // not invalidated meanwhile
		g.cache[id] = c
	}
	g.mu.Unlock()
	return c, nil
}

func (g *Gateway) forget(id string) { g.forgetAction(id) }

func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
