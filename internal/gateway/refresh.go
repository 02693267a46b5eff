package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/metrics"
	"github.com/actiongate/actiongate/internal/oauth"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
)

// Locker runs fn while holding the refresh lock of one connection, so that one
// refresh per connection happens at a time. The in-process implementation
// (KeyedMutex) serves one replica; a PostgreSQL advisory lock serves a fleet.
// Waits end with ctx. Once fn runs, the lock must be held until fn returns,
// even if ctx ends meanwhile: fn finishes a refresh its caller has abandoned.
type Locker interface {
	WithConnectionLock(ctx context.Context, actionID, user string, fn func(ctx context.Context) error) error
}

// KeyedMutex is an in-process Locker: one mutex per connection, created on
// demand and dropped when nobody holds or waits for it.
type KeyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	ch   chan struct{} // a one-slot semaphore, so waits can end with ctx
	refs int
}

// WithConnectionLock implements Locker.
func (k *KeyedMutex) WithConnectionLock(ctx context.Context, actionID, user string, fn func(ctx context.Context) error) error {
	key := actionID + "\x00" + user
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}()
	select {
	case l.ch <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.ch }()
	return fn(ctx)
}

// RefreshStats counts refresh outcomes.
type RefreshStats struct {
	Refreshed   atomic.Int64 // a token request succeeded
	Shared      atomic.Int64 // another caller's refresh was used instead of a token request
	NeedsReauth atomic.Int64 // the refresh token was refused: the user must sign in again
	Transient   atomic.Int64 // the provider could not be reached or failed; tokens kept
}

// RefreshStats returns the gateway's refresh counters.
func (g *Gateway) RefreshStats() *RefreshStats { return &g.stats }

// DefaultRefreshSkew is how early a token is refreshed before it expires (at
// most half its lifetime, so short-lived tokens are not refreshed on every call).
const DefaultRefreshSkew = 60 * time.Second

// needsRefresh reports whether conn's access token should be refreshed before
// use: when less than min(skew, lifetime/2) remains (QUIRKS Q14). A token
// without a known expiry is used until the API answers 401 (Q06).
func (g *Gateway) needsRefresh(conn *store.Connection) bool {
	if conn.ExpiresAt.IsZero() {
		return false
	}
	margin := g.skew
	if life := conn.ExpiresAt.Sub(conn.UpdatedAt); life > 0 && life/2 < margin {
		margin = life / 2
	}
	return !g.now().Before(conn.ExpiresAt.Add(-margin))
}

// userToken returns the user's access token for an oauth action, refreshing it
// first when it is about to expire, or sign_in_required. seen is the sealed token
// returned, so that a reactive refresh can tell whether someone else already
// replaced it.
func (g *Gateway) userToken(ctx context.Context, c *compiled, user string) (secrets.Secret, []byte, error) {
	if e, ok := g.cachedToken(c.action.ID, user); ok {
		return e.token, e.sealed, nil
	}
	gen := g.creds.gen.Load()
	conn, err := g.store.GetConnection(ctx, c.action.ID, user)
	if errors.Is(err, store.ErrNotFound) || (err == nil && conn.Status != store.StatusConnected) {
		return secrets.Secret{}, nil, g.signInRequired(c, user)
	}
	if err != nil {
		return secrets.Secret{}, nil, err
	}
	g.touch(c.action.ID, user)
	if g.needsRefresh(&conn) {
		return g.refresh(ctx, c, user, conn.AccessToken, false)
	}
	tok, err := g.keys.OpenString(conn.AccessToken, connAAD(c.action.ID, user)+":access")
	if err == nil {
		g.cacheToken(&conn, tok, gen)
	}
	return tok, conn.AccessToken, err
}

// refresh refreshes the connection's tokens under its lock and returns the new
// access token. seen is the sealed access token the caller judged stale: if the
// stored one differs and is usable, another caller (or replica) has refreshed
// already, and its token is used without a token request. force refreshes even a
// token that looks fresh (the API answered 401 to it).
func (g *Gateway) refresh(ctx context.Context, c *compiled, user string, seen []byte, force bool) (secrets.Secret, []byte, error) {
	tok, sealed, _, err := g.refreshConn(ctx, c, user, seen, force)
	return tok, sealed, err
}

// errReplaced aborts a store update: the connection is no longer the one the
// refresh started from (the user signed in again meanwhile).
var errReplaced = errors.New("connection replaced during refresh")

// refreshConn is refresh; refreshed reports whether this call's own token
// request succeeded (rather than another caller's result being used).
//
// Waiting for the lock ends with ctx, and after the upstream timeout at most, so
// that a hung provider does not hang every call queued behind its refresh. Once
// the lock is held the refresh no longer depends on ctx: it runs to completion
// (bounded by the upstream timeout) even if the caller goes away, because a
// provider that rotated the refresh token has already retired the old one, and
// losing the new one would lose the connection (Q09).
func (g *Gateway) refreshConn(ctx context.Context, c *compiled, user string, seen []byte, force bool) (tok secrets.Secret, sealed []byte, refreshed bool, err error) {
	actionID := c.action.ID
	aad := connAAD(actionID, user)
	use := func(conn *store.Connection) error {
		var err error
		tok, err = g.keys.OpenString(conn.AccessToken, aad+":access")
		sealed = conn.AccessToken
		return err
	}
	// shared uses a token someone else stored.
	shared := func(conn *store.Connection) error {
		g.stats.Shared.Add(1)
		g.metrics.Refresh(metrics.RefreshShared)
		g.log.Debug("token refresh shared", "action", actionID)
		return use(conn)
	}
	wait, cancelWait := context.WithTimeout(ctx, g.timeout)
	defer cancelWait()
	locked := false
	var fnErr error
	body := func(lockCtx context.Context) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(lockCtx), g.timeout)
		defer cancel()
		conn, err := g.store.GetConnection(ctx, actionID, user)
		if errors.Is(err, store.ErrNotFound) {
			return g.signInRequired(c, user)
		}
		if err != nil {
			return err
		}
		if conn.Status != store.StatusConnected {
			return g.signInRequired(c, user)
		}
		// Re-read under the lock: another caller may have refreshed already.
		if !g.sameSecret(conn.AccessToken, seen, aad+":access") && !g.needsRefresh(&conn) {
			return shared(&conn)
		}
		if !force && !g.needsRefresh(&conn) {
			return use(&conn)
		}
		if conn.RefreshToken == nil {
			return g.refused(ctx, c, user, conn.RefreshToken, "no refresh token", shared)
		}
		rt, err := g.keys.OpenString(conn.RefreshToken, aad+":refresh")
		if err != nil {
			return err
		}
		cfg, err := g.oauthConfig(c)
		if err != nil {
			return err
		}
		newTok, err := g.oauth.Refresh(ctx, cfg, rt, conn.Scope)
		if err != nil {
			if oauth.IsTransient(err) || ctx.Err() != nil {
				g.stats.Transient.Add(1)
				g.metrics.Refresh(metrics.RefreshTransient)
				g.log.Warn("token refresh failed; tokens kept, will retry", "action", actionID, "err", err)
				return refreshUnavailable(c, err)
			}
			// Terminal (invalid_grant or another refusal): the user must sign in
			// again. Stored tokens are never overwritten with empties (Q13).
			g.log.Warn("token refresh refused; user must sign in again", "action", actionID, "err", err)
			return g.refused(ctx, c, user, conn.RefreshToken, "refresh refused", shared)
		}
		// Persist before anyone uses the new tokens (Q09, Q10), in one
		// transaction, unless the user signed in again meanwhile: then that newer
		// grant stays and is used.
		at, err := g.keys.SealString(newTok.AccessToken, aad+":access")
		if err != nil {
			return err
		}
		var rtNew []byte
		if !newTok.RefreshToken.IsZero() {
			if rtNew, err = g.keys.SealString(newTok.RefreshToken, aad+":refresh"); err != nil {
				return err
			}
		}
		var cur store.Connection
		_, err = g.store.UpdateConnection(ctx, actionID, user, func(cn *store.Connection) error {
			if !g.sameSecret(cn.RefreshToken, conn.RefreshToken, aad+":refresh") {
				cur = *cn
				return errReplaced
			}
			cn.AccessToken = at
			if rtNew != nil {
				cn.RefreshToken = rtNew // else keep the stored one (Q08)
			}
			if newTok.Scope != "" {
				cn.Scope = newTok.Scope
			}
			cn.ExpiresAt = newTok.ExpiresAt.UTC()
			cn.Status = store.StatusConnected
			cn.UpdatedAt = g.now().UTC()
			return nil
		})
		switch {
		case errors.Is(err, errReplaced):
			g.stats.Refreshed.Add(1)
			g.metrics.Refresh(metrics.RefreshRefreshed)
			refreshed = true
			g.log.Info("token refreshed, but the user signed in again meanwhile; keeping the new sign-in", "action", actionID)
			if cur.Status != store.StatusConnected {
				return g.signInRequired(c, user)
			}
			return use(&cur)
		case errors.Is(err, store.ErrNotFound): // disconnected meanwhile
			return g.signInRequired(c, user)
		case err != nil:
			g.log.Error("storing refreshed tokens failed", "action", actionID, "rotated", rtNew != nil, "err", err)
			g.metrics.Refresh(metrics.RefreshError)
			return err
		}
		g.stats.Refreshed.Add(1)
		g.metrics.Refresh(metrics.RefreshRefreshed)
		refreshed = true
		g.log.Info("token refreshed", "action", actionID, "rotated", rtNew != nil)
		g.audit(ctx, EventConnectionRefreshed, actionID, user, map[string]any{"rotated": rtNew != nil})
		tok, sealed = newTok.AccessToken, at
		return nil
	}
	err = g.locker.WithConnectionLock(wait, actionID, user, func(lockCtx context.Context) error {
		locked = true
		fnErr = body(lockCtx)
		return fnErr
	})
	// Whatever happened, the next call reads the stored connection.
	g.creds.forget(actionID, user)
	if err != nil && locked && fnErr == nil {
		// The work was done under the lock; only releasing it failed (a
		// PostgreSQL lock whose session died). What was stored stands.
		g.log.Warn("connection lock not released cleanly; the refresh stands", "action", actionID, "err", err)
		err = nil
	}
	if err != nil && !locked && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return secrets.Secret{}, nil, false, &apierr.Error{Code: apierr.UpstreamTimeout, Message: "timed out waiting to refresh the sign-in", Cause: err}
	}
	if err != nil {
		return secrets.Secret{}, nil, refreshed, err
	}
	return tok, sealed, refreshed, nil
}

// refreshUnavailable is the error for a transient refresh failure.
func refreshUnavailable(c *compiled, err error) error {
	domain := c.doc.Domain()
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &apierr.Error{Code: apierr.UpstreamTimeout,
			Message: domain + " did not answer in time while refreshing the sign-in; try again shortly", Cause: err}
	}
	return &apierr.Error{Code: apierr.UpstreamUnreachable,
		Message: "could not refresh the sign-in with " + domain + "; try again shortly", Cause: err}
}

// refused handles a connection whose refresh token was refused (or that has
// none): it is marked needs_reauth and the call answers sign_in_required. But
// the connection is re-read first, in the marking transaction (Q09): if its
// refresh token is no longer the one refused, the user signed in again
// meanwhile, and that connection is used instead (through useOther).
func (g *Gateway) refused(ctx context.Context, c *compiled, user string, refusedRT []byte, why string, useOther func(*store.Connection) error) error {
	var cur store.Connection
	_, err := g.store.UpdateConnection(ctx, c.action.ID, user, func(cn *store.Connection) error {
		if !g.sameSecret(cn.RefreshToken, refusedRT, connAAD(c.action.ID, user)+":refresh") {
			cur = *cn
			return errReplaced
		}
		cn.Status = store.StatusNeedsReauth
		cn.UpdatedAt = g.now().UTC()
		return nil
	})
	switch {
	case err == nil:
		g.stats.NeedsReauth.Add(1)
		g.metrics.Refresh(metrics.RefreshNeedsReauth)
		g.log.Info("connection needs sign-in again", "action", c.action.ID, "reason", why)
		g.audit(ctx, EventConnectionReauth, c.action.ID, user, map[string]any{"reason": why})
	case errors.Is(err, errReplaced) && cur.Status == store.StatusConnected:
		g.log.Info("refresh refused, but the user signed in again meanwhile; using the new sign-in", "action", c.action.ID)
		return useOther(&cur)
	case errors.Is(err, errReplaced), errors.Is(err, store.ErrNotFound):
	default:
		g.log.Error("mark connection needs_reauth", "action", c.action.ID, "err", err)
	}
	return g.signInRequired(c, user)
}

// sameSecret reports whether two sealed values hold the same secret. Equal
// bytes do; different bytes may too, since a master-key rotation re-wraps a
// value without changing it (and without the connection lock), so they are
// opened and compared. A value that does not open is not the same.
func (g *Gateway) sameSecret(a, b []byte, aad string) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	pa, err := g.keys.Open(a, aad)
	if err != nil {
		return false
	}
	pb, err := g.keys.Open(b, aad)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(pa, pb) == 1
}
