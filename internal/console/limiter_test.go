package console

import (
	"testing"
	"time"
)

// TestLoginLimiterPerAddress: failures from one address slow that address
// down only; another address, the admin's, still signs in.
func TestLoginLimiterPerAddress(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := &loginLimiter{now: func() time.Time { return now }}
	for i := range loginBurst {
		if !l.allow("203.0.113.9") {
			t.Fatalf("attempt %d refused", i)
		}
		l.failed("203.0.113.9")
	}
	if l.allow("203.0.113.9") {
		t.Fatal("the guesser was not slowed down")
	}
	if !l.allow("198.51.100.7") {
		t.Fatal("another address is locked out by the guesser's failures")
	}
	now = now.Add(loginRefill)
	if !l.allow("203.0.113.9") {
		t.Fatal("no attempt after the refill time")
	}
	for i := range maxLoginBuckets + 1 { // addresses are forgotten past the bound
		l.allow(string(rune(i)))
	}
	if len(l.buckets) > maxLoginBuckets {
		t.Fatalf("%d addresses remembered", len(l.buckets))
	}
}
