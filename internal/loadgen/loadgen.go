// Package loadgen puts load on a running helpdesk through its public entry
// points and reports what the server sustained. It is the engine of
// cmd/loadtest and of the crash test (test/crash), which import it so that
// the load a person runs and the load the crash test survives are one code.
//
// Streams, all paced at a target rate and run at the same time by Run:
//
//   - chat: customers on /ws/chat say hello and send messages; agents on
//     /ws/agent go online, accept every offer and optionally answer (Chat);
//   - mail: inbound messages over real SMTP, several per session (Mail);
//   - search: FAQ searches over HTTP (Search);
//   - idle: customer sockets that say hello and hold, to measure what an
//     open socket costs the server.
//
// Each stream reports throughput, latency percentiles and errors (Stats).
// A Recorder writes every acknowledged chat message and every accepted
// email as JSON lines, so that a later check can prove none was lost.
// With a process id, Run samples the server's resident memory from
// /proc/PID/status during the run.
//
// Latencies are measured from the moment a request is written, not from
// when the pacer meant to send it; a server that falls behind shows up as a
// rate below the target rather than as latency. loadgen only ever talks to
// the address it is given and is meant for loopback.
package loadgen

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats summarises one stream.
type Stats struct {
	Name     string
	What     string // what the latency measures, for the report
	Sent     int64  // attempts
	OK       int64  // accepted (ack for chat, 250 for mail, 200 for search)
	Errors   int64
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	FirstErr string
	// ErrorKinds counts errors by kind (up to 20 kinds; later kinds are
	// counted in Errors only).
	ErrorKinds map[string]int
	// Accepted holds the Message-IDs of mail that got a 250, for loss
	// checks; nil for other streams.
	Accepted []string
}

// Rate is OK per second over the stream's run.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK) / s.Elapsed.Seconds()
}

// String is the stream's report line.
func (s Stats) String() string {
	line := fmt.Sprintf("%-8s %8d ok %8d sent %6d errors %8.1f/s  p50 %-9v p99 %-9v max %-9v",
		s.Name, s.OK, s.Sent, s.Errors, s.Rate(), roundLatency(s.P50), roundLatency(s.P99), roundLatency(s.Max))
	if s.What != "" {
		line += " (" + s.What + ")"
	}
	if s.Errors > 0 {
		if len(s.ErrorKinds) > 0 {
			keys := slices.Sorted(maps.Keys(s.ErrorKinds))
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s ×%d", k, s.ErrorKinds[k])
			}
			line += "  errors: " + strings.Join(parts, "; ")
		} else if s.FirstErr != "" {
			line += "  first error: " + s.FirstErr
		}
	}
	return strings.TrimRight(line, " ")
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// maxErrorKinds bounds Stats.ErrorKinds.
const maxErrorKinds = 20

// collector gathers one stream's outcomes from many goroutines.
type collector struct {
	sent, ok, errs atomic.Int64

	mu       sync.Mutex
	lat      []time.Duration
	ids      []string
	firstErr string
	kinds    map[string]int
}

// done records one finished attempt: its latency and, for mail, the
// Message-ID that was accepted; or its error.
func (c *collector) done(d time.Duration, id string, err error) {
	c.sent.Add(1)
	if err != nil {
		c.fail(short(err))
		return
	}
	c.ok.Add(1)
	c.mu.Lock()
	c.lat = append(c.lat, d)
	if id != "" {
		c.ids = append(c.ids, id)
	}
	c.mu.Unlock()
}

// success records an accepted attempt whose send was counted apart.
func (c *collector) success(d time.Duration) {
	c.ok.Add(1)
	c.mu.Lock()
	c.lat = append(c.lat, d)
	c.mu.Unlock()
}

// fail records an error of the given kind.
func (c *collector) fail(kind string) {
	c.errs.Add(1)
	c.mu.Lock()
	if c.firstErr == "" {
		c.firstErr = kind
	}
	if c.kinds == nil {
		c.kinds = map[string]int{}
	}
	if _, ok := c.kinds[kind]; ok || len(c.kinds) < maxErrorKinds {
		c.kinds[kind]++
	}
	c.mu.Unlock()
}

func (c *collector) stats(name, what string, elapsed time.Duration) Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Name: name, What: what, Sent: c.sent.Load(), OK: c.ok.Load(), Errors: c.errs.Load(),
		Elapsed: elapsed, FirstErr: c.firstErr, ErrorKinds: maps.Clone(c.kinds), Accepted: slices.Clone(c.ids)}
	lat := slices.Clone(c.lat)
	slices.Sort(lat)
	s.P50, s.P99, s.Max = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
	return s
}

// percentile returns the nearest-rank p-th percentile of sorted: the
// smallest value at least p percent of the samples are at or below.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(float64(n)*p/100 + 0.999999999)
	return sorted[min(max(rank, 1), n)-1]
}

// pace calls fn at about rate per second with up to workers calls in
// flight, until ctx ends or total calls were started (total <= 0: no cap).
// fn gets the worker's number (0..workers-1), for state a worker keeps
// such as an SMTP session, and the call's sequence number. When every
// worker is busy the schedule slips; the calls missed are made as fast as
// workers free up, so the rate reported shows whether the target was met.
func pace(ctx context.Context, rate float64, workers, total int, fn func(worker, i int)) {
	if rate <= 0 {
		return
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range jobs {
				fn(w, i)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; total <= 0 || i < total; i++ {
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		next = next.Add(interval)
	}
	close(jobs)
	wg.Wait()
}

// short trims a long error message to its last part, which usually names
// the cause, so that error kinds group.
func short(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i > 0 && len(s) > 60 {
		s = s[i+2:]
	}
	return s
}
