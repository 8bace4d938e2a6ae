package chat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
)

// connKind tells customer sockets from agent sockets.
type connKind int

const (
	kindCustomer connKind = iota + 1
	kindAgent
)

func (k connKind) String() string {
	if k == kindAgent {
		return "agent"
	}
	return "customer"
}

// itemKind is what the writer goroutine is asked to do.
type itemKind int

const (
	itemFrame    itemKind = iota + 1 // write data
	itemMessage                      // a live message event: deliver in seq order
	itemSync                         // (re)start conversation conv after seq `seq`
	itemStart                        // start conv after `seq`, known to be its last stored message
	itemAssign                       // follow conv (agents): subscribe, write data, send its messages
	itemUnassign                     // write data, stop following conv
	itemEnd                          // write data; agents stop following conv
	itemResync                       // the broker may have lost events: re-read everything
	itemPing                         // send a ping and arm the next one
)

type outItem struct {
	kind itemKind
	conv int64
	seq  int64
	data []byte
}

// closeMsg is a close frame the writer sends before it stops.
type closeMsg struct {
	code   int
	reason string
}

// conn is one websocket connection.
//
// Goroutines: the socket handler's goroutine runs readLoop and, when it
// returns, finish. Everything sent goes through a bounded queue (push),
// drained by one writer goroutine (writeLoop), the only code that writes
// data frames to the socket. The writer runs only while there is
// something to write: push starts it when none is running, and it exits
// once the queue is empty, so an idle connection costs one goroutine (the
// reader), not two. At most one writer runs at a time (writing, under
// qmu), which also hands the writer's state (cursors) from one run to the
// next. A timer queues a ping every PingInterval. After a close frame, or
// once finish stopped the connection, no writer starts again; finish
// waits for a running one, so no goroutine outlives the handler. (The
// websocket library itself answers pings and close frames with
// WriteControl from the reader, which it documents as safe.)
//
// A connection whose queue is full is a slow consumer and is disconnected
// at once, so it can never hold up the goroutine that delivers to others.
type conn struct {
	id   string
	kind connKind
	svc  *Service
	ws   *fws.Conn

	ctx    context.Context
	cancel context.CancelFunc

	// The send queue and the writer's lifecycle, guarded by qmu. writing
	// is set while a writer goroutine runs; stopped once none may start
	// again (close frame sent, or finish); writerIdle, when finish waits,
	// is closed by the running writer as it exits.
	qmu        sync.Mutex
	queue      []outItem
	writing    bool
	stopped    bool
	writerIdle chan struct{}
	pinger     *time.Timer

	closeReq  atomic.Pointer[closeMsg]
	closeSent atomic.Bool
	killed    atomic.Bool

	// topics this connection follows; guarded by smu. finished is set
	// (under smu) once the connection stopped following anything, after
	// which nothing may subscribe it again.
	smu      sync.Mutex
	topics   map[string]struct{}
	finished bool

	// cursors[conv] is the last seq written for conv. A conversation
	// without a cursor is not being delivered yet (its itemSync or
	// itemAssign is still queued): live events for it are skipped, as the
	// sync reads them from the store. Owned by the writer goroutine.
	cursors map[int64]int64

	// Reader-goroutine state.
	limiter bucket
	abuse   bucket
	live    bool // past hello: reads and pongs extend the read deadline

	// Customer state, set by hello (reader goroutine).
	visitorID      int64
	convID         atomic.Int64
	convOpen       bool   // the conversation was open (not yet queued) when last seen
	author         string // the customer's name
	lastTyping     time.Time
	lastSuggest    time.Time
	lastQuery      string
	lastTranscript time.Time

	// Agent state.
	agent  AgentRef
	status atomic.Value // AgentStatus
}

func newConn(svc *Service, kind connKind, ws *fws.Conn) *conn {
	ctx, cancel := context.WithCancel(svc.ctx)
	lim := svc.limits
	rate, burst := lim.CustomerRate, lim.CustomerBurst
	if kind == kindAgent {
		rate, burst = lim.AgentRate, lim.AgentBurst
	}
	now := time.Now()
	c := &conn{
		id:      svc.nextConnID(),
		kind:    kind,
		svc:     svc,
		ws:      ws,
		ctx:     ctx,
		cancel:  cancel,
		topics:  map[string]struct{}{},
		cursors: map[int64]int64{},
		limiter: bucket{rate: rate, burst: burst, tokens: burst, last: now},
		abuse:   bucket{rate: lim.AbuseRate, burst: lim.AbuseBurst, tokens: lim.AbuseBurst, last: now},
	}
	return c
}

// startPings arms the ping timer; each ping queued re-arms it (handle).
func (c *conn) startPings() {
	c.pinger = time.AfterFunc(c.svc.limits.PingInterval, func() { c.push(outItem{kind: itemPing}) })
}

// logger is the service's logger with the connection named. It is built
// on use, not kept: an idle connection should cost as little as possible.
func (c *conn) logger() *slog.Logger {
	return c.svc.log.With("conn", c.id, "kind", c.kind.String())
}

// push queues an item for the writer. It never blocks: when the queue is
// full the connection is killed as a slow consumer.
func (c *conn) push(it outItem) {
	if c.killed.Load() || c.ctx.Err() != nil {
		return
	}
	c.qmu.Lock()
	if len(c.queue) >= c.svc.limits.SendQueue {
		c.qmu.Unlock()
		c.svc.m.slowConsumers.Inc()
		c.kill("slow consumer: send queue full")
		return
	}
	c.queue = append(c.queue, it)
	start := c.claimWriter()
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// claimWriter reports whether the caller should start a writer: none is
// running and one may still start. It marks one as running. qmu is held.
func (c *conn) claimWriter() bool {
	if c.writing || c.stopped {
		return false
	}
	c.writing = true
	return true
}

func (c *conn) pushFrame(v any) { c.push(outItem{kind: itemFrame, data: mustJSON(v)}) }

func (c *conn) pushError(ref string, code, msg, clientID string) {
	c.pushFrame(errorFrame{Type: "error", Code: code, Message: msg, ClientID: clientID, Ref: ref})
}

// kill drops the connection without a close handshake: closing the socket
// makes the writer's and the reader's pending calls fail at once.
func (c *conn) kill(why string) {
	if c.killed.Swap(true) {
		return
	}
	c.logger().Info("chat: dropping connection", "why", why)
	c.cancel()
	_ = rawConn(c.ws.NetConn()).Close()
}

// rawConn unwraps fasthttp's hijacked connection, whose Close does nothing
// (fasthttp closes it when the handler returns), to the socket itself.
func rawConn(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}

// closeWith asks the writer to send a close frame with code and reason and
// stop; the reader then sees the peer's answer (or times out) and the
// handler finishes. Only the first request counts.
func (c *conn) closeWith(code int, reason string) {
	if !c.closeReq.CompareAndSwap(nil, &closeMsg{code: code, reason: reason}) {
		return
	}
	c.qmu.Lock()
	start := c.claimWriter()
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// stopWriter keeps any writer from starting again and waits for a running
// one to exit, at most wait; it reports whether the writer is gone.
func (c *conn) stopWriter(wait time.Duration) bool {
	c.qmu.Lock()
	c.stopped = true
	var idle chan struct{}
	if c.writing {
		if c.writerIdle == nil {
			c.writerIdle = make(chan struct{})
		}
		idle = c.writerIdle
	}
	c.qmu.Unlock()
	if c.pinger != nil {
		c.pinger.Stop()
	}
	if idle == nil {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

// waitWriter waits, without limit, for a running writer to exit; call it
// after stopWriter.
func (c *conn) waitWriter() {
	c.qmu.Lock()
	idle := c.writerIdle
	running := c.writing
	c.qmu.Unlock()
	if running {
		<-idle
	}
}

// --- subscriptions ---

// follow subscribes the connection to topic. It returns an error when the
// connection is finishing (context.Canceled) or the broker refused.
func (c *conn) follow(ctx context.Context, topic string) error {
	c.smu.Lock()
	if c.finished {
		c.smu.Unlock()
		return context.Canceled
	}
	if _, ok := c.topics[topic]; ok {
		c.smu.Unlock()
		return nil
	}
	c.topics[topic] = struct{}{}
	c.smu.Unlock()
	if err := c.svc.hub.subscribe(ctx, topic, c); err != nil {
		c.smu.Lock()
		delete(c.topics, topic)
		c.smu.Unlock()
		return err
	}
	return nil
}

func (c *conn) unfollow(topic string) {
	c.smu.Lock()
	_, ok := c.topics[topic]
	delete(c.topics, topic)
	c.smu.Unlock()
	if ok {
		c.svc.hub.unsubscribe(context.WithoutCancel(c.ctx), topic, c)
	}
}

func (c *conn) follows(topic string) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	_, ok := c.topics[topic]
	return ok
}

// deliver implements subscriber.
func (c *conn) deliver(ev *event) {
	if ev.Skip == c.id {
		return
	}
	if ev.To != "" && ev.To != c.kind.String() {
		return
	}
	switch ev.Kind {
	case evMessage:
		c.push(outItem{kind: itemMessage, conv: ev.Conv, seq: ev.Seq, data: ev.Frame})
	case evFrame:
		c.push(outItem{kind: itemFrame, data: ev.Frame})
	case evAssign:
		c.push(outItem{kind: itemAssign, conv: ev.Conv, data: ev.Frame})
	case evUnassign:
		c.push(outItem{kind: itemUnassign, conv: ev.Conv, data: ev.Frame})
	case evEnd:
		c.push(outItem{kind: itemEnd, conv: ev.Conv, data: ev.Frame})
	}
}

// resync implements subscriber.
func (c *conn) resync() { c.push(outItem{kind: itemResync}) }

// --- writer ---

var errClosing = errors.New("connection closing")

func (c *conn) writeLoop() {
	var batch []outItem
	for {
		c.qmu.Lock()
		if len(c.queue) == 0 {
			// Everything queued before a close request has been written
			// (whoever asks for a close queues the frames saying why
			// first): the close frame goes now, and no writer runs again.
			if c.closeReq.Load() != nil && !c.stopped && c.ctx.Err() == nil {
				c.stopped = true
				c.qmu.Unlock()
				c.sendClose()
				c.writerExit()
				return
			}
			// Giving up the writer role in the same critical section as
			// seeing the queue empty: a push after it starts a new one.
			c.exitLocked()
			c.qmu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		if cap(c.queue) > 64 {
			c.queue = nil // do not keep a burst's buffer on an idle connection
		}
		c.qmu.Unlock()
		for i := range batch {
			if err := c.handle(batch[i]); err != nil {
				if !errors.Is(err, errClosing) {
					c.logger().Debug("chat: write failed", "err", err)
					c.kill("write failed")
				}
				c.writerExit()
				return
			}
			batch[i] = outItem{}
		}
	}
}

// writerExit marks the writer as gone, waking finish if it waits.
func (c *conn) writerExit() {
	c.qmu.Lock()
	c.exitLocked()
	c.qmu.Unlock()
}

// exitLocked is writerExit with qmu held.
func (c *conn) exitLocked() {
	c.writing = false
	if c.writerIdle != nil {
		close(c.writerIdle)
	}
}

// sendClose writes the requested close frame, once, and reports whether
// a close was requested. After it the reader gets a short deadline to see
// the peer's answer.
func (c *conn) sendClose() bool {
	cm := c.closeReq.Load()
	if cm == nil {
		return false
	}
	if c.closeSent.Swap(true) {
		return true
	}
	dl := time.Now().Add(time.Second)
	_ = c.ws.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(cm.code, cm.reason), dl)
	_ = c.ws.SetReadDeadline(dl)
	return true
}

func (c *conn) write(data []byte) error {
	if c.ctx.Err() != nil {
		return errClosing
	}
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.svc.limits.WriteTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(fws.TextMessage, data)
}

func (c *conn) handle(it outItem) error {
	switch it.kind {
	case itemFrame:
		return c.write(it.data)
	case itemMessage:
		last, ok := c.cursors[it.conv]
		switch {
		case !ok || it.seq <= last:
			return nil // not started yet (the sync will read it) or already sent
		case it.seq == last+1:
			if err := c.write(it.data); err != nil {
				return err
			}
			c.cursors[it.conv] = it.seq
			return nil
		default:
			// A gap: an earlier message's event is late or lost. The
			// store has everything up to this one.
			return c.catchUp(it.conv)
		}
	case itemSync:
		c.cursors[it.conv] = it.seq
		return c.catchUp(it.conv)
	case itemStart:
		// Nothing stored after seq when the connection already followed
		// the conversation: anything later arrives live. Skipping the read
		// keeps an idle connection's writer stack small.
		c.cursors[it.conv] = it.seq
		return nil
	case itemAssign:
		if _, ok := c.cursors[it.conv]; ok {
			return c.write(it.data)
		}
		if err := c.follow(c.ctx, convTopic(it.conv)); err != nil {
			if c.ctx.Err() != nil {
				return errClosing
			}
			return err
		}
		if err := c.write(it.data); err != nil {
			return err
		}
		c.cursors[it.conv] = 0
		return c.catchUp(it.conv)
	case itemUnassign:
		delete(c.cursors, it.conv)
		c.unfollow(convTopic(it.conv))
		return c.write(it.data)
	case itemEnd:
		if c.kind == kindAgent {
			// Deliver what is left of the conversation (the closing
			// system message) before letting go of it.
			if _, ok := c.cursors[it.conv]; ok {
				if err := c.catchUp(it.conv); err != nil {
					return err
				}
			}
			delete(c.cursors, it.conv)
			c.unfollow(convTopic(it.conv))
		}
		return c.write(it.data)
	case itemPing:
		if err := c.ws.WriteControl(fws.PingMessage, nil, time.Now().Add(c.svc.limits.WriteTimeout)); err != nil {
			return err
		}
		c.pinger.Reset(c.svc.limits.PingInterval)
		return nil
	case itemResync:
		if c.kind == kindAgent {
			if err := c.svc.reconcileAgent(c); err != nil {
				return err
			}
		}
		for conv := range c.cursors {
			if err := c.catchUp(conv); err != nil {
				return err
			}
		}
	}
	return nil
}

// catchUp writes every stored message of conv after the cursor.
func (c *conn) catchUp(conv int64) error {
	const page = 200
	for {
		last := c.cursors[conv]
		msgs, err := c.svc.store.Messages(c.ctx, conv, last, page)
		if err != nil {
			if c.ctx.Err() != nil {
				return errClosing
			}
			return err
		}
		for _, m := range msgs {
			if err := c.write(encodeMessage(m)); err != nil {
				return err
			}
			c.cursors[conv] = m.Seq
		}
		if len(msgs) < page {
			return nil
		}
	}
}

// --- reader ---

// readLoop reads frames until the connection ends and hands each to
// dispatch. It returns the read error, or nil when a handler decided to
// close.
func (c *conn) readLoop(dispatch func(f *inFrame, raw []byte) bool) error {
	lim := c.svc.limits
	c.ws.SetReadLimit(lim.ReadLimit)
	c.ws.SetPongHandler(func(string) error {
		if !c.live {
			return nil // before hello only the hello deadline counts
		}
		return c.ws.SetReadDeadline(time.Now().Add(lim.PongWait))
	})
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		if c.killed.Load() {
			return net.ErrClosed
		}
		if c.closeReq.Load() != nil {
			continue // closing: wait for the peer's close frame
		}
		now := time.Now() // rate limits run on the real clock, not the injected one
		if c.live {
			_ = c.ws.SetReadDeadline(now.Add(lim.PongWait))
		}
		if !c.limiter.allow(now) {
			c.svc.m.rateLimited.Inc()
			if !c.abuse.allow(now) {
				c.closeWith(fws.ClosePolicyViolation, "rate limit exceeded")
				continue
			}
			c.pushError("", codeRateLimited, "too many frames; slow down", "")
			continue
		}
		if typ != fws.TextMessage {
			c.pushError("", codeBadFrame, "frames are JSON text messages", "")
			continue
		}
		var f inFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.pushError("", codeBadFrame, "frame is not a JSON object with the expected fields", "")
			continue
		}
		if !dispatch(&f, data) {
			return nil
		}
	}
}

// bucket is a token bucket. It is used by one goroutine only.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) allow(now time.Time) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
