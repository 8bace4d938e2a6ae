package chat

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBroker is the Broker of a multi-node helpdesk: Redis pub/sub, one
// channel per topic (prefix + topic), all received over one PubSub
// connection per node.
//
// Goroutine: Start launches one receiver, which exits when Close is
// called. When the connection drops (Redis restarted, the subscription was
// killed) go-redis reconnects and resubscribes every channel; the first
// confirmation after that makes the receiver call HandleResync, since
// messages published meanwhile are gone.
type RedisBroker struct {
	rdb    *redis.Client
	prefix string
	retry  time.Duration

	mu      sync.Mutex
	ps      *redis.PubSub
	waiters map[string][]chan struct{} // channel ("-" + channel for unsubscribing) -> calls waiting for Redis's confirmation
	closed  bool

	h      BrokerHandler
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// RedisBrokerOptions configures a RedisBroker.
type RedisBrokerOptions struct {
	Prefix     string        // prepended to every channel, e.g. "helpdesk:"; lets shops (and tests) share a Redis
	RetryDelay time.Duration // pause after a receive error; default 250ms
}

// NewRedisBroker returns a broker on rdb. The client stays the caller's:
// Close does not close it.
func NewRedisBroker(rdb *redis.Client, opts RedisBrokerOptions) *RedisBroker {
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 250 * time.Millisecond
	}
	return &RedisBroker{rdb: rdb, prefix: opts.Prefix, retry: opts.RetryDelay, waiters: map[string][]chan struct{}{}}
}

// Start implements Broker.
func (b *RedisBroker) Start(h BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBrokerClosed
	}
	if b.ps != nil {
		return errors.New("chat: broker already started")
	}
	b.h = h
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.ps = b.rdb.Subscribe(b.ctx)
	b.done = make(chan struct{})
	go b.receive(b.ps) // exits when Close cancels b.ctx and closes ps
	return nil
}

// Subscribe implements Broker: it waits for Redis to confirm the
// subscription, so an event published after it returns is delivered.
func (b *RedisBroker) Subscribe(ctx context.Context, topic string) error {
	ch := b.prefix + topic
	err := b.confirmed(ctx, ch, ErrBrokerClosed, func(ps *redis.PubSub) error { return ps.Subscribe(ctx, ch) })
	if err != nil && err != ErrBrokerClosed {
		// go-redis remembers the channel even when sending failed, and
		// would resubscribe it on reconnect; forget it, the caller sees
		// the error.
		b.mu.Lock()
		ps := b.ps
		b.mu.Unlock()
		if ps != nil {
			_ = ps.Unsubscribe(context.WithoutCancel(ctx), ch)
		}
	}
	return err
}

// Unsubscribe implements Broker: it waits for Redis to confirm, so no
// event published after it returns is delivered.
func (b *RedisBroker) Unsubscribe(ctx context.Context, topic string) error {
	ch := b.prefix + topic
	// Waiters for an unsubscription are keyed "-channel".
	return b.confirmed(ctx, "-"+ch, nil, func(ps *redis.PubSub) error { return ps.Unsubscribe(ctx, ch) })
}

// confirmed sends a (un)subscription with send and waits until the receive
// loop sees Redis confirm it (it closes the waiters registered under key).
// When the broker is closed, before or while waiting, it returns
// closedErr: an error for Subscribe, nothing for Unsubscribe.
func (b *RedisBroker) confirmed(ctx context.Context, key string, closedErr error, send func(ps *redis.PubSub) error) error {
	w := make(chan struct{})
	b.mu.Lock()
	if b.closed || b.ps == nil {
		b.mu.Unlock()
		return closedErr
	}
	b.waiters[key] = append(b.waiters[key], w)
	ps := b.ps
	b.mu.Unlock()
	err := send(ps)
	if err == nil {
		select {
		case <-w:
			return nil
		case <-ctx.Done():
			err = ctx.Err()
		case <-b.ctx.Done():
			err = closedErr
		}
	}
	b.dropWaiter(key, w)
	return err
}

func (b *RedisBroker) dropWaiter(ch string, w chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ws := b.waiters[ch]
	for i, x := range ws {
		if x == w {
			b.waiters[ch] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(b.waiters[ch]) == 0 {
		delete(b.waiters, ch)
	}
}

// Publish implements Broker.
func (b *RedisBroker) Publish(ctx context.Context, topic string, data []byte) error {
	return b.rdb.Publish(ctx, b.prefix+topic, data).Err()
}

// Close implements Broker.
func (b *RedisBroker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	ps, done := b.ps, b.done
	b.mu.Unlock()
	if ps == nil {
		return nil
	}
	b.cancel()
	err := ps.Close()
	<-done
	return err
}

// receive is the receiver goroutine.
func (b *RedisBroker) receive(ps *redis.PubSub) {
	defer close(b.done)
	broken := false
	for {
		msg, err := ps.ReceiveTimeout(b.ctx, 30*time.Second)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			if isTimeout(err) {
				// Quiet for a while: check the connection is alive. A
				// failed ping breaks it, and go-redis reconnects.
				if err := ps.Ping(b.ctx); err == nil {
					continue
				}
			}
			broken = true
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(b.retry):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Message:
			b.h.HandleEvent(strings.TrimPrefix(m.Channel, b.prefix), []byte(m.Payload))
		case *redis.Subscription:
			key := m.Channel
			switch m.Kind {
			case "subscribe":
			case "unsubscribe":
				key = "-" + m.Channel
			default:
				continue
			}
			b.mu.Lock()
			ws := b.waiters[key]
			delete(b.waiters, key)
			b.mu.Unlock()
			for _, w := range ws {
				close(w)
			}
			if broken && m.Kind == "subscribe" {
				// Resubscribed after a break: one resubscription command
				// covers every channel, so they are all live again.
				broken = false
				b.h.HandleResync()
			}
		}
	}
}

// --- presence ---

// RedisPresence is the Presence shared by every node: a sorted set of
// connection ids scored by expiry time (ms) and a hash of connection id to
// "agentID:status", under a prefix. Reads drop expired connections first,
// in one script, so a node that died leaves no ghost agents after the TTL.
// After a Redis restart the keys are rebuilt by the nodes' heartbeats.
type RedisPresence struct {
	rdb  *redis.Client
	hb   string // sorted set: conn id -> expiry (unix ms)
	info string // hash: conn id -> "agentID:status"
	ttl  time.Duration
	now  func() time.Time
}

// NewRedisPresence returns presence kept in rdb under prefix (e.g.
// "helpdesk:"), with entries living ttl (DefaultPresenceTTL when 0) past
// their last announcement.
func NewRedisPresence(rdb *redis.Client, prefix string, ttl time.Duration, now func() time.Time) *RedisPresence {
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	if now == nil {
		now = time.Now
	}
	return &RedisPresence{rdb: rdb, hb: prefix + "presence:hb", info: prefix + "presence:conns", ttl: ttl, now: now}
}

// Announce implements Presence.
func (p *RedisPresence) Announce(ctx context.Context, conns ...AgentConn) error {
	if len(conns) == 0 {
		return nil
	}
	exp := float64(p.now().Add(p.ttl).UnixMilli())
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		zs := make([]redis.Z, 0, len(conns))
		kv := make([]any, 0, 2*len(conns))
		for _, c := range conns {
			zs = append(zs, redis.Z{Score: exp, Member: c.ConnID})
			kv = append(kv, c.ConnID, strconv.FormatInt(c.AgentID, 10)+":"+string(c.Status))
		}
		pipe.ZAdd(ctx, p.hb, zs...)
		pipe.HSet(ctx, p.info, kv...)
		return nil
	})
	return err
}

// Leave implements Presence.
func (p *RedisPresence) Leave(ctx context.Context, connIDs ...string) error {
	if len(connIDs) == 0 {
		return nil
	}
	members := make([]any, len(connIDs))
	for i, id := range connIDs {
		members[i] = id
	}
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.ZRem(ctx, p.hb, members...)
		pipe.HDel(ctx, p.info, connIDs...)
		return nil
	})
	return err
}

// livePresence drops expired connections and returns the live ones'
// "agentID:status" values.
var livePresence = redis.NewScript(`
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(dead) do
  redis.call('HDEL', KEYS[2], id)
end
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
end
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
if #live == 0 then
  return {}
end
return redis.call('HMGET', KEYS[2], unpack(live))
`)

func (p *RedisPresence) statuses(ctx context.Context) (map[int64]AgentStatus, error) {
	res, err := livePresence.Run(ctx, p.rdb, []string{p.hb, p.info}, p.now().UnixMilli()).Slice()
	if err != nil {
		return nil, err
	}
	conns := make([]AgentConn, 0, len(res))
	for _, v := range res {
		s, ok := v.(string)
		if !ok {
			continue // announced to the set but not the hash: cannot happen with TxPipelined
		}
		idStr, st, _ := strings.Cut(s, ":")
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			continue
		}
		conns = append(conns, AgentConn{AgentID: id, Status: AgentStatus(st)})
	}
	return aggregateStatus(conns), nil
}

// AgentsOnline implements Presence.
func (p *RedisPresence) AgentsOnline(ctx context.Context) (int, error) {
	ids, err := p.Online(ctx)
	return len(ids), err
}

// Online implements Presence.
func (p *RedisPresence) Online(ctx context.Context) ([]int64, error) {
	st, err := p.statuses(ctx)
	if err != nil {
		return nil, err
	}
	return onlineIDs(st), nil
}

// Connected implements Presence.
func (p *RedisPresence) Connected(ctx context.Context) ([]int64, error) {
	st, err := p.statuses(ctx)
	if err != nil {
		return nil, err
	}
	return connectedIDs(st), nil
}

// AgentStatus implements Presence.
func (p *RedisPresence) AgentStatus(ctx context.Context, agentID int64) (AgentStatus, error) {
	st, err := p.statuses(ctx)
	if err != nil {
		return AgentOffline, err
	}
	if s, ok := st[agentID]; ok {
		return s, nil
	}
	return AgentOffline, nil
}
