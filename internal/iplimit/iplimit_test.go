package iplimit

import (
	"fmt"
	"testing"
	"time"
)

func TestIPLimiter(t *testing.T) {
	clk := newClock()
	l := New(20, 20, 100, clk.Now)
	for i := range 20 {
		if !l.Allow("192.0.2.1") {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	if l.Allow("192.0.2.1") {
		t.Fatal("21st attempt in the same instant allowed")
	}
	if !l.Allow("192.0.2.2") {
		t.Fatal("another client refused")
	}
	clk.Advance(3 * time.Second) // one token at 20/min
	if !l.Allow("192.0.2.1") {
		t.Fatal("refused after a token refilled")
	}
	if l.Allow("192.0.2.1") {
		t.Fatal("allowed twice after one token refilled")
	}
	clk.Advance(time.Minute)
	for i := range 20 {
		if !l.Allow("192.0.2.1") {
			t.Fatalf("attempt %d refused after a full refill", i+1)
		}
	}
}

func TestIPLimiterKeys(t *testing.T) {
	tests := []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, // same /64
		{"::ffff:192.0.2.1", "192.0.2.1"},           // IPv4-mapped
	}
	for _, tt := range tests {
		if limiterKey(tt.a) != limiterKey(tt.b) {
			t.Errorf("limiterKey(%s) = %s, limiterKey(%s) = %s; want the same", tt.a, limiterKey(tt.a), tt.b, limiterKey(tt.b))
		}
	}
	if limiterKey("2001:db8:1:2::1") == limiterKey("2001:db8:1:3::1") {
		t.Error("different /64s share a key")
	}
}

func TestIPLimiterBoundedMemory(t *testing.T) {
	clk := newClock()
	l := New(20, 20, 50, clk.Now)
	for i := range 1000 {
		l.Allow(fmt.Sprintf("198.51.%d.%d", i/256, i%256))
		if n := len(l.buckets); n > 50 {
			t.Fatalf("after %d clients the limiter holds %d buckets, want <= 50", i+1, n)
		}
	}
	// Idle buckets are swept once they would have refilled.
	clk.Advance(2 * time.Minute)
	l.Allow("203.0.113.1")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("after the sweep the limiter holds %d buckets, want 1", n)
	}
}

// clock is a settable clock (the limiter is used from one goroutine here).
type clock struct{ t time.Time }

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }
