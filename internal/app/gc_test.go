package app

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

// TestTuneGC: without GOGC the collector runs at DefaultGCPercent, with it at
// what it says; a soft memory limit is set either way (the container's or the
// machine's memory), unless GOMEMLIMIT is set.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	if gc, limit := tuneGC(log); gc != DefaultGCPercent || debug.SetGCPercent(-1) != DefaultGCPercent || limit <= 0 || limit == 1<<63-1 {
		t.Fatalf("defaults: gogc %d, memory limit %d", gc, limit)
	}
	debug.SetGCPercent(150) // what the runtime took from GOGC=150 at start
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	if gc, limit := tuneGC(log); gc != 150 || debug.SetGCPercent(-1) != 150 || limit != 1<<30 {
		t.Fatalf("from the environment: gogc %d, memory limit %d", gc, limit)
	}
}
