package gateway

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/actiongate/actiongate/internal/store"
)

// Background refresh: each replica remembers which connections it served
// recently (in memory — no database write on the call path) and, on a jittered
// interval, refreshes those whose access token expires before the next sweep,
// so that the user's next call does not wait on the provider. Refreshes go
// through the same per-connection lock as calls, so sweeps on several replicas
// and concurrent calls still make one token request per expiry.

// Sweep defaults.
const (
	DefaultSweepInterval = time.Minute
	DefaultRecentUse     = 24 * time.Hour
	sweepConcurrency     = 4
	maxRecent            = 100_000
)

// touch records that a connection was used now.
func (g *Gateway) touch(actionID, user string) {
	k := actionID + "\x00" + user
	g.recentMu.Lock()
	if _, ok := g.recent[k]; ok || len(g.recent) < maxRecent {
		g.recent[k] = g.now()
	}
	g.recentMu.Unlock()
}

// Sweep refreshes recently used connections whose tokens expire within
// lookahead, at most sweepConcurrency at a time, and forgets connections unused
// for longer than the recent-use window. It returns how many it refreshed.
func (g *Gateway) Sweep(ctx context.Context, lookahead time.Duration) int {
	now := g.now()
	var keys []string
	g.recentMu.Lock()
	for k, t := range g.recent {
		if now.Sub(t) > g.recentUse {
			delete(g.recent, k)
			continue
		}
		keys = append(keys, k)
	}
	g.recentMu.Unlock()

	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		n   int
		sem = make(chan struct{}, sweepConcurrency)
	)
	for _, k := range keys {
		actionID, user, _ := strings.Cut(k, "\x00")
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return n
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if g.sweepOne(ctx, actionID, user, now.Add(lookahead)) {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n
}

func (g *Gateway) sweepOne(ctx context.Context, actionID, user string, before time.Time) bool {
	conn, err := g.store.GetConnection(ctx, actionID, user)
	if err != nil || conn.Status != store.StatusConnected || conn.ExpiresAt.IsZero() || conn.ExpiresAt.After(before) || conn.RefreshToken == nil {
		return false
	}
	c, err := g.load(ctx, actionID)
	if err != nil || c.auth.Type != AuthOAuth {
		return false
	}
	// Counted only if this sweep's own token request succeeded: a refresh
	// another caller made meanwhile is theirs.
	_, _, refreshed, err := g.refreshConn(ctx, c, user, conn.AccessToken, true)
	return err == nil && refreshed
}

// RunSweeper sweeps every interval (±10% jitter, so replicas spread out) until
// ctx ends.
func (g *Gateway) RunSweeper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	for {
		jitter := time.Duration(rand.Int64N(int64(interval)/5+1)) - interval/10
		t := time.NewTimer(interval + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if n := g.Sweep(ctx, interval+g.skew); n > 0 {
			g.log.Info("background refresh", "refreshed", n)
		}
	}
}
