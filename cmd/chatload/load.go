package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
)

// frame is the part of a server frame the load tool reads.
type frame struct {
	Type         string `json:"type"`
	Code         string `json:"code"`
	Message      string `json:"message"`
	Conversation int64  `json:"conversation"`
	From         string `json:"from"`
	Text         string `json:"text"`
}

type stats struct {
	acked     atomic.Int64
	sent      atomic.Int64
	delivered atomic.Int64
	errors    atomic.Int64
	connected atomic.Int64
	assigned  atomic.Int64
	measuring atomic.Bool

	mu        sync.Mutex
	latencies []time.Duration
	errSample map[string]int
}

func (s *stats) fail(what string) {
	s.errors.Add(1)
	s.mu.Lock()
	if s.errSample == nil {
		s.errSample = map[string]int{}
	}
	if len(s.errSample) < 20 {
		s.errSample[what]++
	}
	s.mu.Unlock()
}

type dialer struct {
	ws, origin string
	sources    int
	next       atomic.Uint64
}

func (d *dialer) dial(ctx context.Context, path string, header http.Header) (*fws.Conn, error) {
	h := http.Header{"Origin": {d.origin}}
	for k, v := range header {
		h[k] = v
	}
	n := d.next.Add(1)
	wd := fws.Dialer{
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{Timeout: 30 * time.Second}
			if d.sources > 1 {
				ip := net.IPv4(127, 0, byte(n/250%250), byte(1+n%250))
				if d.sources <= 250 {
					ip = net.IPv4(127, 0, 0, byte(1+n%uint64(d.sources)))
				}
				nd.LocalAddr = &net.TCPAddr{IP: ip}
			}
			return nd.DialContext(ctx, network, addr)
		},
	}
	c, resp, err := wd.DialContext(ctx, d.ws+path, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
		return nil, err
	}
	return c, nil
}

func load(ctx context.Context, cfg config, out io.Writer) error {
	u, err := url.Parse(cfg.url)
	if err != nil {
		return err
	}
	origin := cfg.origin
	if origin == "" {
		origin = u.Scheme + "://" + u.Host
	}
	ws := "ws://" + u.Host
	if u.Scheme == "https" {
		ws = "wss://" + u.Host
	}
	d := &dialer{ws: ws, origin: origin, sources: cfg.sources}
	st := &stats{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var conns sync.Map // *fws.Conn -> struct{}, closed at the end

	report := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	rss := func() int64 {
		if cfg.pid == 0 {
			return 0
		}
		kb, err := rssKB(cfg.pid)
		if err != nil {
			report("warning: RSS of pid %d: %v", cfg.pid, err)
		}
		return kb
	}
	rssStart := rss()

	// Agents first, so that chat is available when customers arrive.
	for i := 0; i < cfg.agents; i++ {
		c, err := d.dial(ctx, "/ws/agent", http.Header{"Authorization": {"Bearer " + cfg.tokens[i]}})
		if err != nil {
			return fmt.Errorf("agent %d: %w", i+1, err)
		}
		conns.Store(c, struct{}{})
		st.connected.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			runAgent(ctx, c, st)
		}()
	}

	// Idle sockets: hello, then hold (reading, so pings are answered).
	if cfg.idle > 0 {
		start := time.Now()
		sem := make(chan struct{}, 200)
		var idleOK atomic.Int64
		var iwg sync.WaitGroup
		for i := 0; i < cfg.idle && ctx.Err() == nil; i++ {
			sem <- struct{}{}
			iwg.Add(1)
			go func() {
				defer iwg.Done()
				defer func() { <-sem }()
				c, err := d.dial(ctx, "/ws/chat", nil)
				if err != nil {
					st.fail("idle dial: " + short(err))
					return
				}
				if err := c.WriteJSON(map[string]any{"type": "hello", "name": "Idle"}); err != nil {
					st.fail("idle hello: " + short(err))
					c.Close()
					return
				}
				var f frame
				if err := c.ReadJSON(&f); err != nil || f.Type != "welcome" {
					st.fail("idle welcome")
					c.Close()
					return
				}
				conns.Store(c, struct{}{})
				idleOK.Add(1)
				st.connected.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
					}
				}()
			}()
		}
		iwg.Wait()
		time.Sleep(2 * time.Second) // let the server settle before measuring
		runtime.GC()
		rssIdle := rss()
		report("idle sockets: %d of %d connected in %s", idleOK.Load(), cfg.idle, time.Since(start).Round(time.Millisecond))
		if cfg.pid != 0 && idleOK.Load() > 0 {
			per := float64(rssIdle-rssStart) * 1024 / float64(idleOK.Load())
			report("server RSS: %d KiB before, %d KiB with the idle sockets: %.1f KiB per socket", rssStart, rssIdle, per/1024)
		}
	}

	if cfg.customers > 0 {
		// Customers: hello, a first message (which queues the chat), then
		// wait until an agent accepted before the measured window.
		interval := time.Duration(float64(time.Second) * float64(cfg.customers) / cfg.rate)
		ready, stop := make(chan struct{}), make(chan struct{})
		var cwg sync.WaitGroup
		for i := 0; i < cfg.customers; i++ {
			c, err := d.dial(ctx, "/ws/chat", nil)
			if err != nil {
				return fmt.Errorf("customer %d: %w", i+1, err)
			}
			conns.Store(c, struct{}{})
			st.connected.Add(1)
			cwg.Add(1)
			go func(i int) {
				defer cwg.Done()
				runCustomer(ctx, c, i, interval, ready, stop, st)
			}(i)
		}
		deadline := time.Now().Add(cfg.warmup)
		for st.assigned.Load() < int64(cfg.customers) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		report("customers assigned to an agent: %d of %d", st.assigned.Load(), cfg.customers)
		st.acked.Store(0)
		st.sent.Store(0)
		st.delivered.Store(0)
		st.measuring.Store(true)
		start := time.Now()
		close(ready)
		select {
		case <-ctx.Done():
		case <-time.After(cfg.duration):
		}
		st.measuring.Store(false)
		el := time.Since(start).Seconds()
		close(stop) // customers end their chats, freeing the agents' slots
		cwg.Wait()
		acked, sent, delivered := st.acked.Load(), st.sent.Load(), st.delivered.Load()
		st.mu.Lock()
		lat := slices.Clone(st.latencies)
		st.mu.Unlock()
		slices.Sort(lat)
		report("messages: %d sent, %d stored (acked) = %.0f/s, %d delivered to agents", sent, acked, float64(acked)/el, delivered)
		if len(lat) > 0 {
			report("delivery latency (customer send -> agent receive): p50 %s, p99 %s, max %s (%d samples)",
				pct(lat, 50), pct(lat, 99), lat[len(lat)-1].Round(time.Microsecond), len(lat))
		}
	}
	report("sockets connected: %d (agents %d, customers %d, idle %d requested)", st.connected.Load(), cfg.agents, cfg.customers, cfg.idle)
	if cfg.pid != 0 {
		report("server RSS: %d KiB", rss())
	}
	st.mu.Lock()
	report("errors: %d %v", st.errors.Load(), st.errSample)
	st.mu.Unlock()

	if cfg.hold > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.hold):
		}
	}
	cancel()
	conns.Range(func(k, _ any) bool {
		k.(*fws.Conn).Close()
		return true
	})
	wg.Wait()
	return nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return sorted[i].Round(time.Microsecond)
}

func short(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i > 0 && len(s) > 60 {
		s = s[i+2:]
	}
	return s
}

// runAgent goes online, accepts every offer and times customer messages.
func runAgent(ctx context.Context, c *fws.Conn, st *stats) {
	var wmu sync.Mutex
	write := func(v any) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteJSON(v); err != nil && ctx.Err() == nil {
			st.fail("agent write: " + short(err))
		}
	}
	write(map[string]any{"type": "status", "status": "online"})
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			if ctx.Err() == nil {
				st.fail("agent read: " + short(err))
			}
			return
		}
		now := time.Now()
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			st.fail("agent: bad frame")
			continue
		}
		switch f.Type {
		case "offer":
			write(map[string]any{"type": "accept", "conversation": f.Conversation})
		case "message":
			if f.From != "customer" || !st.measuring.Load() {
				continue
			}
			ts, _, ok := strings.Cut(f.Text, " ")
			sentNs, err := strconv.ParseInt(strings.TrimPrefix(ts, "t"), 10, 64)
			if !ok || err != nil {
				continue
			}
			st.delivered.Add(1)
			st.mu.Lock()
			st.latencies = append(st.latencies, now.Sub(time.Unix(0, sentNs)))
			st.mu.Unlock()
		case "error":
			st.fail("agent error frame: " + f.Code)
		}
	}
}

// runCustomer says hello and a first message, waits for ready, then sends
// a message every interval, each carrying its send time, until stop, when
// it ends the chat.
func runCustomer(ctx context.Context, c *fws.Conn, i int, interval time.Duration, ready, stop <-chan struct{}, st *stats) {
	var wmu sync.Mutex
	write := func(v any) bool {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteJSON(v); err != nil {
			if ctx.Err() == nil {
				st.fail("customer write: " + short(err))
			}
			return false
		}
		return true
	}
	go func() { // reader: acks, assignment, errors
		assigned := false
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				if ctx.Err() == nil {
					st.fail("customer read: " + short(err))
				}
				return
			}
			var f frame
			if json.Unmarshal(data, &f) != nil {
				continue
			}
			switch f.Type {
			case "ack":
				if st.measuring.Load() {
					st.acked.Add(1)
				}
			case "assigned":
				if !assigned {
					assigned = true
					st.assigned.Add(1)
				}
			case "error":
				st.fail("customer error frame: " + f.Code)
			}
		}
	}()
	if !write(map[string]any{"type": "hello", "name": fmt.Sprintf("Customer %d", i), "email": fmt.Sprintf("c%d@load.test", i)}) {
		return
	}
	if !write(map[string]any{"type": "message", "client_id": "hello", "text": fmt.Sprintf("t%d hello", time.Now().UnixNano())}) {
		return
	}
	select {
	case <-ready:
	case <-stop:
	case <-ctx.Done():
		return
	}
	// Spread the customers' sends over the interval.
	select {
	case <-time.After(time.Duration(int64(interval) * int64(i%1000) / 1000)):
	case <-stop:
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			write(map[string]any{"type": "close"})
			return
		case <-t.C:
		}
		if !write(map[string]any{"type": "message", "client_id": strconv.Itoa(n), "text": fmt.Sprintf("t%d message %d", time.Now().UnixNano(), n)}) {
			return
		}
		if st.measuring.Load() {
			st.sent.Add(1)
		}
	}
}
