package gateway

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actiongate/actiongate/internal/apierr"
	"github.com/actiongate/actiongate/internal/oauth"
	"github.com/actiongate/actiongate/internal/secrets"
	"github.com/actiongate/actiongate/internal/store"
)

// Locker runs fn while holding the refresh lock of one connection, so that one
// refresh per connection happens at a time. The in-process implementation
// (KeyedMutex) serves one replica; a PostgreSQL advisory lock serves a fleet.
// Waits end with ctx.
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
	return tok, conn.AccessToken, err
}

// refresh refreshes the connection's tokens under its lock and returns the new
// access token. seen is the sealed access token the caller judged stale: if the
// stored one differs and is usable, another caller (or replica) has refreshed
// already, and its token is used without a token request. force refreshes even a
// token that looks fresh (the API answered 401 to it).
func (g *Gateway) refresh(ctx context.Context, c *compiled, user string, seen []byte, force bool) (secrets.Secret, []byte, error) {
	var tok secrets.Secret
	var sealed []byte
	err := g.locker.WithConnectionLock(ctx, c.action.ID, user, func(ctx context.Context) error {
		conn, err := g.store.GetConnection(ctx, c.action.ID, user)
		if errors.Is(err, store.ErrNotFound) {
			return g.signInRequired(c, user)
		}
		if err != nil {
			return err
		}
		if conn.Status != store.StatusConnected {
			return g.signInRequired(c, user)
		}
		aad := connAAD(c.action.ID, user)
		if !bytes.Equal(conn.AccessToken, seen) && !g.needsRefresh(&conn) {
			g.stats.Shared.Add(1)
			tok, err = g.keys.OpenString(conn.AccessToken, aad+":access")
			sealed = conn.AccessToken
			return err
		}
		if !force && !g.needsRefresh(&conn) {
			tok, err = g.keys.OpenString(conn.AccessToken, aad+":access")
			sealed = conn.AccessToken
			return err
		}
		if conn.RefreshToken == nil {
			g.markNeedsReauth(ctx, c.action.ID, user, "no refresh token")
			return g.signInRequired(c, user)
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
				g.log.Warn("token refresh failed; tokens kept, will retry", "action", c.action.ID, "err", err)
				return &apierr.Error{Code: apierr.UpstreamUnreachable,
					Message: "could not refresh the sign-in with " + c.doc.Domain() + "; try again shortly", Cause: err}
			}
			// Terminal (invalid_grant or another refusal): the user must sign in
			// again. Stored tokens are never overwritten with empties (Q13).
			g.markNeedsReauth(ctx, c.action.ID, user, "refresh refused")
			g.log.Warn("token refresh refused; user must sign in again", "action", c.action.ID, "err", err)
			return g.signInRequired(c, user)
		}
		// Persist before anyone uses the new tokens (Q09, Q10).
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
		_, err = g.store.UpdateConnection(ctx, c.action.ID, user, func(cn *store.Connection) error {
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
		if err != nil {
			return err
		}
		g.stats.Refreshed.Add(1)
		g.log.Info("token refreshed", "action", c.action.ID, "rotated", rtNew != nil)
		tok, sealed = newTok.AccessToken, at
		return nil
	})
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) && ctx.Err() != nil {
		return secrets.Secret{}, nil, &apierr.Error{Code: apierr.UpstreamTimeout, Message: "timed out waiting to refresh the sign-in", Cause: err}
	}
	return tok, sealed, err
}

func (g *Gateway) markNeedsReauth(ctx context.Context, actionID, user, why string) {
	_, err := g.store.UpdateConnection(ctx, actionID, user, func(cn *store.Connection) error {
		cn.Status = store.StatusNeedsReauth
		cn.UpdatedAt = g.now().UTC()
		return nil
	})
	g.stats.NeedsReauth.Add(1)
	if err != nil {
		g.log.Error("mark connection needs_reauth", "action", actionID, "err", err)
		return
	}
	g.log.Info("connection needs sign-in again", "action", actionID, "reason", why)
}
