package server

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/actiongate/actiongate/internal/apierr"
)

// limiters holds one token bucket per key (an API token or an end user),
// created on demand and dropped after being idle. Limits are per replica: in a
// fleet each replica enforces them on the traffic it sees.
type limiters struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	m       map[string]*limiterEntry
	inserts int
}

type limiterEntry struct {
	l    *rate.Limiter
	used time.Time
}

const limiterIdle = 10 * time.Minute

// newLimiters returns nil (no limit) when perSecond is not positive.
func newLimiters(perSecond float64, burst int) *limiters {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = int(math.Max(1, math.Ceil(perSecond*2)))
	}
	return &limiters{limit: rate.Limit(perSecond), burst: burst, m: map[string]*limiterEntry{}}
}

// allow takes one request for key, or returns a rate_limited error saying
// when to retry.
func (ls *limiters) allow(key, what string) error {
	if ls == nil || key == "" {
		return nil // no limit configured, or no user named
	}
	now := time.Now()
	ls.mu.Lock()
	e := ls.m[key]
	if e == nil {
		e = &limiterEntry{l: rate.NewLimiter(ls.limit, ls.burst)}
		ls.m[key] = e
		if ls.inserts++; ls.inserts%1024 == 0 {
			for k, v := range ls.m {
				if now.Sub(v.used) > limiterIdle {
					delete(ls.m, k)
				}
			}
		}
	}
	e.used = now
	r := e.l.ReserveN(now, 1)
	ls.mu.Unlock()
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	r.CancelAt(now)
	secs := int(math.Ceil(d.Seconds()))
	return &apierr.Error{
		Code:    apierr.RateLimited,
		Message: "too many requests for this " + what + "; retry after " + strconv.Itoa(secs) + "s",
		Extra:   map[string]any{"retry_after": secs},
	}
}
