package app

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// DefaultGCPercent is the garbage collector's target when GOGC is not set.
// The gateway's live heap is small and it allocates per request, so at Go's
// default (100) it collects very often: at 400 the proxy serves 10–20% more
// requests per second (docs/performance.md). The soft memory limit below keeps
// the larger heap from outgrowing the machine or the container.
const DefaultGCPercent = 400

// tuneGC sets the collector's target (unless GOGC is set) and a soft memory
// limit of 90% of the container's memory (cgroup), or of the machine's when
// there is no container limit (unless GOMEMLIMIT is set, or AUTOMEMLIMIT=off).
// It returns what it set, for the start-up log.
func tuneGC(log *slog.Logger) (gcPercent int, memLimit int64) {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		gcPercent = debug.SetGCPercent(-1) // read the runtime's value back
		debug.SetGCPercent(gcPercent)
	} else {
		debug.SetGCPercent(DefaultGCPercent)
		gcPercent = DefaultGCPercent
	}
	limit, err := memlimit.Set(
		memlimit.WithRatio(0.9),
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
	)
	if err != nil {
		log.Warn("no soft memory limit set (set GOMEMLIMIT)", "err", err)
	}
	return gcPercent, limit
}
