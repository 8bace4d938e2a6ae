package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
)

// ChatOptions configures the chat load: customers who chat, agents who
// answer, and idle sockets.
type ChatOptions struct {
	URL       string   // helpdesk base URL, http://127.0.0.1:8080
	Origin    string   // Origin header; default: URL's origin (it must be the server's --public-url origin)
	Customers int      // customers who chat
	Agents    int      // agents online, one socket each
	Tokens    []string // agent API tokens, one per agent
	Rate      float64  // customer messages per second across all customers
	AgentRate float64  // agent messages per second across all agents, into their assigned chats
	Sources   int      // loopback source addresses 127.0.0.1..N to spread sockets over
	Record    *Recorder
	// Tag goes into every client_id, so that runs against one database
	// never reuse one (an agent may answer in a chat of an earlier run,
	// and a reused client_id is, rightly, stored only once).
	Tag string
}

// frame is the part of a server frame the load reads.
type frame struct {
	Type         string `json:"type"`
	Code         string `json:"code"`
	Conversation int64  `json:"conversation"`
	Seq          int64  `json:"seq"`
	ClientID     string `json:"client_id"`
	Duplicate    bool   `json:"duplicate"`
	By           string `json:"by"`
	From         string `json:"from"`
	Text         string `json:"text"`
}

// messagePrefix starts every message frame the server sends (its struct
// puts type first); customers skip those frames without decoding them.
var messagePrefix = []byte(`{"type":"message"`)

// chatLoad is one chat load: its sockets, their goroutines and counters.
//
// Goroutines: one reader per socket, which ends when the socket closes
// (close closes them all); one sender per chatting customer and per agent
// (with AgentRate), which end when stop is closed or ctx ends.
type chatLoad struct {
	o      ChatOptions
	d      *dialer
	ctx    context.Context
	cancel context.CancelFunc

	closing   atomic.Bool // sockets are being closed: read errors are expected
	measuring atomic.Bool
	ready     chan struct{} // closed when the measured window starts
	agentStop chan struct{} // closed when it ends: agents stop sending first,
	stopc     chan struct{} // then customers end their chats
	stopOnce  sync.Once
	closeOnce sync.Once

	cust    collector // customer send → ack, and every customer-side error
	deliver collector // customer send → the assigned agent's receipt
	agent   collector // agent send → ack, and every agent-side error

	assigned  atomic.Int64 // customers whose chat an agent accepted
	warmAcked atomic.Int64 // acks of messages sent before the window
	idleOK    atomic.Int64

	mu        sync.Mutex
	customers []*customer
	agents    []*agent

	conns   sync.Map       // *fws.Conn → struct{}: every open socket
	readers sync.WaitGroup // socket readers
	senders sync.WaitGroup // customer senders
	asend   sync.WaitGroup // agent senders
}

func newChatLoad(ctx context.Context, o ChatOptions) (*chatLoad, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("chat: bad URL %q", o.URL)
	}
	origin := o.Origin
	if origin == "" {
		origin = u.Scheme + "://" + u.Host
	}
	ws := "ws://" + u.Host
	if u.Scheme == "https" {
		ws = "wss://" + u.Host
	}
	l := &chatLoad{o: o, d: &dialer{ws: ws, origin: origin, sources: o.Sources},
		ready: make(chan struct{}), agentStop: make(chan struct{}), stopc: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(ctx)
	return l, nil
}

// dialer opens websockets, spreading them over loopback source addresses
// so that tens of thousands do not exhaust one address's ephemeral ports.
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

func (l *chatLoad) track(c *fws.Conn) { l.conns.Store(c, struct{}{}) }

// writer serialises one socket's writes (the reader answers offers while
// the sender sends).
type writer struct {
	mu sync.Mutex
	c  *fws.Conn
}

func (w *writer) write(msg []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return w.c.WriteMessage(fws.TextMessage, msg)
}

// connectAgents opens every agent's socket and goes online.
func (l *chatLoad) connectAgents() error {
	for k := range l.o.Agents {
		c, err := l.d.dial(l.ctx, "/ws/agent", http.Header{"Authorization": {"Bearer " + l.o.Tokens[k]}})
		if err != nil {
			return fmt.Errorf("agent %d: %w", k+1, err)
		}
		l.track(c)
		a := &agent{l: l, k: k + 1, w: writer{c: c}, pending: map[string]agentPending{}}
		if err := a.w.write([]byte(`{"type":"status","status":"online"}`)); err != nil {
			return fmt.Errorf("agent %d: %w", k+1, err)
		}
		l.mu.Lock()
		l.agents = append(l.agents, a)
		l.mu.Unlock()
		l.readers.Go(a.read)
	}
	return nil
}

// openIdle opens n customer sockets that say hello and hold, reading (so
// that the server's pings are answered). It returns how many are open.
func (l *chatLoad) openIdle(n int) int64 {
	sem := make(chan struct{}, 200)
	var wg sync.WaitGroup
	for i := 0; i < n && l.ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := l.d.dial(l.ctx, "/ws/chat", nil)
			if err != nil {
				l.cust.fail("idle dial: " + short(err))
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			var f frame
			if err := c.WriteMessage(fws.TextMessage, []byte(`{"type":"hello","name":"Idle"}`)); err != nil {
				l.cust.fail("idle hello: " + short(err))
				c.Close()
				return
			}
			if err := c.ReadJSON(&f); err != nil || f.Type != "welcome" {
				l.cust.fail("idle: no welcome")
				c.Close()
				return
			}
			_ = c.SetReadDeadline(time.Time{})
			l.track(c)
			l.idleOK.Add(1)
			l.readers.Go(func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			})
		})
	}
	wg.Wait()
	return l.idleOK.Load()
}

// connectCustomers opens the customers' sockets, says hello and sends
// each one's first message, which puts the chat in the queue. A customer
// that cannot connect is counted as an error and left out.
func (l *chatLoad) connectCustomers() int {
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i := range l.o.Customers {
		if l.ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cu, err := l.connectCustomer(i + 1)
			if err != nil {
				l.cust.fail("customer connect: " + short(err))
				return
			}
			l.mu.Lock()
			l.customers = append(l.customers, cu)
			l.mu.Unlock()
		})
	}
	wg.Wait()
	return len(l.customers)
}

func (l *chatLoad) connectCustomer(i int) (*customer, error) {
	c, err := l.d.dial(l.ctx, "/ws/chat", nil)
	if err != nil {
		return nil, err
	}
	cu := &customer{l: l, i: i, w: writer{c: c}, pending: map[string]pending{}, endedc: make(chan struct{})}
	hello := fmt.Appendf(nil, `{"type":"hello","name":"Customer %d","email":"c%d@loadgen.example"}`, i, i)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var f frame
	if err = cu.w.write(hello); err == nil {
		if err = c.ReadJSON(&f); err == nil && f.Type != "welcome" {
			err = fmt.Errorf("%s frame (%s) instead of welcome", f.Type, f.Code)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Time{})
	cu.conv = f.Conversation
	l.track(c)
	l.readers.Go(cu.read)
	if !cu.send(0) {
		return nil, fmt.Errorf("first message not sent")
	}
	return cu, nil
}

// warmup waits, at most d, until every customer's first message is stored
// and the agents took what chats they will: every one, or no new one for
// two seconds (a real server gives each agent only a few at a time; the
// rest wait in the queue and keep chatting there).
func (l *chatLoad) warmup(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	last, changed := int64(-1), time.Now()
	n := int64(len(l.customers))
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if a := l.assigned.Load(); a != last {
			last, changed = a, time.Now()
		}
		if l.warmAcked.Load() >= n && (last >= n || l.o.Agents == 0 || time.Since(changed) > 2*time.Second) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start begins the measured window: customers send at their share of
// Rate, agents at theirs of AgentRate.
func (l *chatLoad) start() {
	l.measuring.Store(true)
	if n := len(l.customers); n > 0 && l.o.Rate > 0 {
		interval := time.Duration(float64(time.Second) * float64(n) / l.o.Rate)
		for j, cu := range l.customers {
			// Spread the customers' sends evenly over the interval.
			offset := time.Duration(int64(interval) * int64(j) / int64(n))
			l.senders.Go(func() { cu.run(interval, offset) })
		}
	}
	if n := len(l.agents); n > 0 && l.o.AgentRate > 0 {
		interval := time.Duration(float64(time.Second) * float64(n) / l.o.AgentRate)
		for j, a := range l.agents {
			offset := time.Duration(int64(interval) * int64(j) / int64(n))
			l.asend.Go(func() { a.run(interval, offset) })
		}
	}
	close(l.ready)
}

// stop ends the measured window: agents stop answering, then customers end
// their chats (freeing the agents' slots), and the senders return, each
// side's last messages acked (see stopSenders).
func (l *chatLoad) stop(ctx context.Context) {
	l.measuring.Store(false)
	l.stopSenders(ctx, true)
}

// stopSenders stops the agents' senders, then the customers'. With wait,
// it waits after each (up to five seconds, unless ctx ends) for the acks
// still due, so that a customer does not end a chat while an agent's
// answer in it is still on its way.
func (l *chatLoad) stopSenders(ctx context.Context, wait bool) {
	l.stopOnce.Do(func() {
		close(l.agentStop)
		l.asend.Wait()
		if wait {
			waitAcks(ctx, &l.agent)
		}
		close(l.stopc)
		l.senders.Wait()
		if wait {
			waitAcks(ctx, &l.cust)
		}
	})
}

// waitAcks waits up to five seconds, or until ctx ends, until every
// message counted as sent is acked or failed.
func waitAcks(ctx context.Context, c *collector) {
	deadline := time.Now().Add(5 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) && c.ok.Load()+c.errs.Load() < c.sent.Load() {
		time.Sleep(20 * time.Millisecond)
	}
}

// close closes every socket and waits for the readers. Calls after the
// first do nothing.
func (l *chatLoad) close() {
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		l.cancel()
		l.conns.Range(func(k, _ any) bool {
			k.(*fws.Conn).Close()
			return true
		})
		l.stopSenders(l.ctx, false)
		l.readers.Wait()
	})
}

// customer is one chatting customer's socket.
type customer struct {
	l        *chatLoad
	i        int
	w        writer
	conv     int64
	assigned bool          // reader only
	ended    atomic.Bool   // the customer closed the chat: the server may hang up
	endedc   chan struct{} // closed by the reader on the ended frame

	mu      sync.Mutex
	pending map[string]pending // client_id → sent, until acked
}

type pending struct {
	at       time.Time
	measured bool // sent inside the measured window
}

// send sends the customer's n-th message, whose text carries the send time
// for the agent's delivery latency.
func (cu *customer) send(n int) bool {
	l := cu.l
	clientID := "c" + strconv.Itoa(cu.i) + "-" + strconv.Itoa(n) + "-" + l.o.Tag
	now := time.Now()
	measured := l.measuring.Load()
	cu.mu.Lock()
	cu.pending[clientID] = pending{at: now, measured: measured}
	cu.mu.Unlock()
	if measured {
		l.cust.sent.Add(1)
	}
	msg := fmt.Appendf(nil, `{"type":"message","client_id":"%s","text":"t%d message %d from customer %d"}`, clientID, now.UnixNano(), n, cu.i)
	if err := cu.w.write(msg); err != nil {
		cu.mu.Lock()
		delete(cu.pending, clientID)
		cu.mu.Unlock()
		if !l.closing.Load() {
			l.cust.fail("customer write: " + short(err))
		}
		return false
	}
	return true
}

// run sends a message every interval, starting after offset, from the
// start of the window until its end, when it closes the chat.
func (cu *customer) run(interval, offset time.Duration) {
	l := cu.l
	select {
	case <-time.After(offset):
	case <-l.stopc:
		cu.close()
		return
	case <-l.ctx.Done():
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 1; ; n++ {
		if n > 1 {
			select {
			case <-l.ctx.Done():
				return
			case <-l.stopc:
				cu.close()
				return
			case <-t.C:
			}
		}
		if !cu.send(n) {
			return
		}
	}
}

// close ends the chat and waits (up to five seconds) for the server to say
// it ended: hanging up at once could cancel the close on the server, and
// leave the chat taking one of an agent's slots.
func (cu *customer) close() {
	cu.ended.Store(true)
	if cu.w.write([]byte(`{"type":"close"}`)) != nil {
		return
	}
	select {
	case <-cu.endedc:
	case <-time.After(5 * time.Second):
		cu.l.cust.fail("customer close: no ended frame within 5s")
	case <-cu.l.ctx.Done():
	}
}

func (cu *customer) read() {
	l := cu.l
	for {
		_, data, err := cu.w.c.ReadMessage()
		if err != nil {
			if !l.closing.Load() && !cu.ended.Load() {
				l.cust.fail("customer read: " + short(err))
			}
			return
		}
		if bytes.HasPrefix(data, messagePrefix) {
			continue // the customer's own and the agent's messages
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			l.cust.fail("customer: bad frame")
			continue
		}
		switch f.Type {
		case "ack":
			cu.mu.Lock()
			p, ok := cu.pending[f.ClientID]
			delete(cu.pending, f.ClientID)
			cu.mu.Unlock()
			if !ok {
				continue
			}
			if f.Duplicate { // sent once, so the client_id was used before
				l.cust.fail("duplicate ack (client_id reused)")
				continue
			}
			l.o.Record.Chat(cu.conv, f.Seq, f.ClientID, "customer")
			if p.measured {
				l.cust.success(time.Since(p.at))
			} else {
				l.warmAcked.Add(1)
			}
		case "assigned":
			if !cu.assigned {
				cu.assigned = true
				l.assigned.Add(1)
			}
		case "ended":
			if cu.ended.Load() {
				close(cu.endedc)
				return // the server may hang up now
			}
			l.cust.fail("customer: chat ended by " + f.By)
		case "error":
			if f.ClientID != "" {
				cu.mu.Lock()
				delete(cu.pending, f.ClientID)
				cu.mu.Unlock()
			}
			l.cust.fail("customer error frame: " + f.Code)
		}
	}
}

// agent is one agent's socket: it accepts every offer, times customer
// messages and, with AgentRate, answers in its chats in turn.
type agent struct {
	l *chatLoad
	k int
	w writer

	mu      sync.Mutex
	active  []int64 // conversations assigned to the agent
	next    int
	pending map[string]agentPending
}

type agentPending struct {
	at       time.Time
	conv     int64
	measured bool
}

func (a *agent) read() {
	l := a.l
	for {
		_, data, err := a.w.c.ReadMessage()
		if err != nil {
			if !l.closing.Load() {
				l.agent.fail("agent read: " + short(err))
			}
			return
		}
		now := time.Now()
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			l.agent.fail("agent: bad frame")
			continue
		}
		switch f.Type {
		case "offer":
			if err := a.w.write(fmt.Appendf(nil, `{"type":"accept","conversation":%d}`, f.Conversation)); err != nil && !l.closing.Load() {
				l.agent.fail("agent write: " + short(err))
			}
		case "assigned":
			a.mu.Lock()
			if !slices.Contains(a.active, f.Conversation) {
				a.active = append(a.active, f.Conversation)
			}
			a.mu.Unlock()
		case "ended", "unassigned":
			a.mu.Lock()
			a.active = slices.DeleteFunc(a.active, func(c int64) bool { return c == f.Conversation })
			a.mu.Unlock()
		case "message":
			if f.From != "customer" || !l.measuring.Load() {
				continue
			}
			ts, _, ok := strings.Cut(f.Text, " ")
			sent, err := strconv.ParseInt(strings.TrimPrefix(ts, "t"), 10, 64)
			if !ok || err != nil {
				continue
			}
			l.deliver.sent.Add(1)
			l.deliver.success(now.Sub(time.Unix(0, sent)))
		case "ack":
			a.mu.Lock()
			p, ok := a.pending[f.ClientID]
			delete(a.pending, f.ClientID)
			a.mu.Unlock()
			if !ok {
				continue
			}
			if f.Duplicate {
				l.agent.fail("duplicate ack (client_id reused)")
				continue
			}
			l.o.Record.Chat(p.conv, f.Seq, f.ClientID, "agent")
			if p.measured {
				l.agent.success(now.Sub(p.at))
			}
		case "error":
			if f.ClientID != "" {
				a.mu.Lock()
				delete(a.pending, f.ClientID)
				a.mu.Unlock()
			}
			if f.Code != "offer_gone" { // lost a race for an offer: routine
				l.agent.fail("agent error frame: " + f.Code)
			}
		}
	}
}

// run sends a message every interval into the agent's chats in turn.
func (a *agent) run(interval, offset time.Duration) {
	l := a.l
	select {
	case <-time.After(offset):
	case <-l.agentStop:
		return
	case <-l.ctx.Done():
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-l.ctx.Done():
			return
		case <-l.agentStop:
			return
		case <-t.C:
		}
		a.mu.Lock()
		if len(a.active) == 0 {
			a.mu.Unlock()
			continue
		}
		conv := a.active[a.next%len(a.active)]
		a.next++
		clientID := "a" + strconv.Itoa(a.k) + "-" + strconv.Itoa(n) + "-" + l.o.Tag
		measured := l.measuring.Load()
		a.pending[clientID] = agentPending{at: time.Now(), conv: conv, measured: measured}
		a.mu.Unlock()
		if measured {
			l.agent.sent.Add(1)
		}
		msg := fmt.Appendf(nil, `{"type":"message","conversation":%d,"client_id":"%s","text":"agent %d answer %d"}`, conv, clientID, a.k, n)
		if err := a.w.write(msg); err != nil {
			if !l.closing.Load() {
				l.agent.fail("agent write: " + short(err))
			}
			return
		}
	}
}
