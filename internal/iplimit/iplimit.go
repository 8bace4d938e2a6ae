// Package iplimit is an in-process token bucket per client address, for
// the endpoints anyone may call (sign-in, customers' uploads).
package iplimit

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limiter is an in-process token bucket per client address. It keeps at
// most maxKeys buckets: a full bucket is the same as no bucket, so buckets
// idle long enough to have refilled are swept (at most once per refill
// period); when the map is still full, an arbitrary bucket is dropped, which
// only ever makes the limiter more lenient for that one client.
//
// It is per process: with several processes each allows the full rate, so
// it is a brake on one client, not an exact quota (what must be exact, like
// sign-in lockout, lives in the database). It is safe for concurrent use.
type Limiter struct {
	rate    float64 // tokens per second
	burst   float64
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter allowing each client perMinute requests a minute
// with bursts of burst, tracking at most maxKeys clients; now is the clock
// (time.Now when nil). A perMinute of 0 or less allows everything.
func New(perMinute, burst, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		rate:    float64(perMinute) / 60,
		burst:   float64(burst),
		maxKeys: maxKeys,
		now:     now,
		buckets: make(map[string]*bucket),
	}
}

// refill is how long an empty bucket takes to fill up.
func (l *Limiter) refill() time.Duration {
	return time.Duration(l.burst / l.rate * float64(time.Second))
}

// Allow takes one token from ip's bucket and reports whether there was one.
func (l *Limiter) Allow(ip string) bool {
	if l.rate <= 0 {
		return true
	}
	key := limiterKey(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict makes room for one more bucket. Called with l.mu held.
func (l *Limiter) evict(now time.Time) {
	if now.Sub(l.lastSweep) >= l.refill() {
		l.lastSweep = now
		cutoff := now.Add(-l.refill())
		for k, b := range l.buckets {
			if b.at.Before(cutoff) {
				delete(l.buckets, k)
			}
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys {
			break
		}
		delete(l.buckets, k)
	}
}

// limiterKey groups IPv6 clients by /64, the block one subscriber usually
// gets, so that walking through one's own block does not multiply the limit.
func limiterKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return strings.Clone(ip) // ip may point into a reused request buffer
	}
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}
