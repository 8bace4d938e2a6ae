package chat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// recorder is a BrokerHandler that keeps what it got.
type recorder struct {
	mu      sync.Mutex
	events  []string // "topic=data"
	resyncs int
	notify  chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1000)} }

func (r *recorder) HandleEvent(topic string, data []byte) {
	r.mu.Lock()
	r.events = append(r.events, topic+"="+string(data))
	r.mu.Unlock()
	r.notify <- struct{}{}
}

func (r *recorder) HandleResync() {
	r.mu.Lock()
	r.resyncs++
	r.mu.Unlock()
	r.notify <- struct{}{}
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if ev := r.got(); len(ev) >= n {
			return ev
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("got %v, want %d events", r.got(), n)
		}
	}
}

// brokerSuite is the one test suite every Broker passes. newNodes returns
// brokers that reach each other, as the nodes of one shop.
func brokerSuite(t *testing.T, newNodes func(t *testing.T, n int) []Broker) {
	ctx := context.Background()
	start := func(t *testing.T, n int) ([]Broker, []*recorder) {
		bs := newNodes(t, n)
		rs := make([]*recorder, n)
		for i, b := range bs {
			rs[i] = newRecorder()
			if err := b.Start(rs[i]); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
		}
		return bs, rs
	}

	t.Run("publish reaches every subscribed node, itself included", func(t *testing.T) {
		bs, rs := start(t, 2)
		for _, b := range bs {
			if err := b.Subscribe(ctx, "c:1"); err != nil {
				t.Fatal(err)
			}
		}
		if err := bs[0].Subscribe(ctx, "c:2"); err != nil {
			t.Fatal(err)
		}
		if err := bs[1].Publish(ctx, "c:1", []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if err := bs[1].Publish(ctx, "c:2", []byte("only node 0")); err != nil {
			t.Fatal(err)
		}
		if err := bs[1].Publish(ctx, "c:3", []byte("nobody")); err != nil {
			t.Fatal(err)
		}
		got0 := rs[0].waitFor(t, 2)
		got1 := rs[1].waitFor(t, 1)
		time.Sleep(50 * time.Millisecond)
		if got0 = rs[0].got(); fmt.Sprint(got0) != "[c:1=hello c:2=only node 0]" {
			t.Errorf("node 0 got %v", got0)
		}
		if got1 = rs[1].got(); fmt.Sprint(got1) != "[c:1=hello]" {
			t.Errorf("node 1 got %v", got1)
		}
	})

	t.Run("events of one topic from one publisher arrive in order", func(t *testing.T) {
		bs, rs := start(t, 2)
		if err := bs[1].Subscribe(ctx, "a:7"); err != nil {
			t.Fatal(err)
		}
		const n = 200
		for i := range n {
			if err := bs[0].Publish(ctx, "a:7", []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		got := rs[1].waitFor(t, n)
		for i, ev := range got {
			if ev != fmt.Sprintf("a:7=%d", i) {
				t.Fatalf("event %d is %q", i, ev)
			}
		}
	})

	t.Run("unsubscribe stops delivery; subscribe again resumes", func(t *testing.T) {
		bs, rs := start(t, 2)
		if err := bs[1].Subscribe(ctx, "c:9"); err != nil {
			t.Fatal(err)
		}
		if err := bs[1].Unsubscribe(ctx, "c:9"); err != nil {
			t.Fatal(err)
		}
		_ = bs[0].Publish(ctx, "c:9", []byte("lost"))
		if err := bs[1].Subscribe(ctx, "c:9"); err != nil {
			t.Fatal(err)
		}
		_ = bs[0].Publish(ctx, "c:9", []byte("seen"))
		rs[1].waitFor(t, 1)
		time.Sleep(50 * time.Millisecond)
		if got := rs[1].got(); fmt.Sprint(got) != "[c:9=seen]" {
			t.Errorf("got %v", got)
		}
	})

	t.Run("no delivery after close", func(t *testing.T) {
		bs, rs := start(t, 2)
		if err := bs[1].Subscribe(ctx, "c:5"); err != nil {
			t.Fatal(err)
		}
		if err := bs[1].Close(); err != nil {
			t.Fatal(err)
		}
		_ = bs[0].Publish(ctx, "c:5", []byte("x"))
		time.Sleep(50 * time.Millisecond)
		if got := rs[1].got(); len(got) != 0 {
			t.Errorf("closed broker got %v", got)
		}
		if err := bs[1].Subscribe(ctx, "c:6"); err == nil {
			t.Error("subscribe after close succeeded")
		}
	})
}

func TestMemoryBroker(t *testing.T) {
	brokerSuite(t, func(t *testing.T, n int) []Broker {
		bus := NewMemoryBus()
		out := make([]Broker, n)
		for i := range out {
			out[i] = bus.NewBroker()
		}
		return out
	})
}

func TestRedisBroker(t *testing.T) {
	rdb, prefix := redisFor(t)
	brokerSuite(t, func(t *testing.T, n int) []Broker {
		// Each subtest gets its own channel namespace.
		p := prefix + fmt.Sprint(time.Now().UnixNano()) + ":"
		out := make([]Broker, n)
		for i := range out {
			out[i] = NewRedisBroker(rdb, RedisBrokerOptions{Prefix: p})
		}
		return out
	})
}

// presenceSuite is the one test suite every Presence passes.
func presenceSuite(t *testing.T, newPresence func(t *testing.T, now func() time.Time, ttl time.Duration) Presence) {
	ctx := context.Background()
	type step struct {
		name      string
		advance   time.Duration
		announce  []AgentConn
		leave     []string
		online    []int64
		connected []int64
		status    map[int64]AgentStatus
	}
	steps := []step{
		{name: "nobody", online: []int64{}, connected: []int64{}, status: map[int64]AgentStatus{1: AgentOffline}},
		{name: "two tabs, one online", announce: []AgentConn{{"n1-1", 1, AgentAway}, {"n1-2", 1, AgentOnline}},
			online: []int64{1}, connected: []int64{1}, status: map[int64]AgentStatus{1: AgentOnline}},
		{name: "a second agent away, a third offline", announce: []AgentConn{{"n2-1", 2, AgentAway}, {"n2-2", 3, AgentOffline}},
			online: []int64{1}, connected: []int64{1, 2, 3}, status: map[int64]AgentStatus{1: AgentOnline, 2: AgentAway, 3: AgentOffline}},
		{name: "agent 1 closes the online tab", leave: []string{"n1-2"},
			online: []int64{}, connected: []int64{1, 2, 3}, status: map[int64]AgentStatus{1: AgentAway}},
		{name: "agent 2 goes online on another node", advance: 20 * time.Second, announce: []AgentConn{{"n3-1", 2, AgentOnline}},
			online: []int64{2}, connected: []int64{1, 2, 3}, status: map[int64]AgentStatus{2: AgentOnline}},
		{name: "entries not refreshed expire", advance: 11 * time.Second,
			online: []int64{2}, connected: []int64{2}, status: map[int64]AgentStatus{1: AgentOffline, 2: AgentOnline, 3: AgentOffline}},
		{name: "a heartbeat keeps an entry", advance: 15 * time.Second, announce: []AgentConn{{"n3-1", 2, AgentOnline}},
			online: []int64{2}, connected: []int64{2}},
		{name: "and its expiry ends it", advance: 31 * time.Second,
			online: []int64{}, connected: []int64{}, status: map[int64]AgentStatus{2: AgentOffline}},
	}
	clk := newFakeClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	p := newPresence(t, clk.Now, 30*time.Second)
	for _, s := range steps {
		clk.Advance(s.advance)
		if err := p.Announce(ctx, s.announce...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if err := p.Leave(ctx, s.leave...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		online, err := p.Online(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(online) != fmt.Sprint(s.online) {
			t.Errorf("%s: online = %v, want %v", s.name, online, s.online)
		}
		connected, err := p.Connected(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(connected) != fmt.Sprint(s.connected) {
			t.Errorf("%s: connected = %v, want %v", s.name, connected, s.connected)
		}
		n, err := p.AgentsOnline(ctx)
		if err != nil || n != len(s.online) {
			t.Errorf("%s: AgentsOnline = %d, %v", s.name, n, err)
		}
		for id, want := range s.status {
			if got, err := p.AgentStatus(ctx, id); err != nil || got != want {
				t.Errorf("%s: agent %d status = %s, %v; want %s", s.name, id, got, err, want)
			}
		}
	}
}

func TestMemoryPresence(t *testing.T) {
	presenceSuite(t, func(t *testing.T, now func() time.Time, ttl time.Duration) Presence {
		return NewMemoryPresence(now, ttl)
	})
}

func TestRedisPresence(t *testing.T) {
	rdb, prefix := redisFor(t)
	presenceSuite(t, func(t *testing.T, now func() time.Time, ttl time.Duration) Presence {
		return NewRedisPresence(rdb, prefix, ttl, now)
	})
}

// killPubSub drops the Redis connections of the client named name that
// hold subscriptions, as a Redis restart or a network cut would.
func killPubSub(t *testing.T, rdb *redis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			fields[k] = v
		}
		if fields["name"] == name && fields["sub"] != "0" && fields["sub"] != "" {
			if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("no subscribed connection named %s", name)
	}
}

func TestRedisBrokerResync(t *testing.T) {
	base, prefix := redisFor(t)
	name := strings.ReplaceAll(prefix, ":", "-") + "sub"
	opts := *base.Options()
	opts.ClientName = name
	rdb := redis.NewClient(&opts)
	defer rdb.Close()
	b := NewRedisBroker(rdb, RedisBrokerOptions{Prefix: prefix, RetryDelay: 10 * time.Millisecond})
	r := newRecorder()
	if err := b.Start(r); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for _, topic := range []string{"c:1", "c:2"} {
		if err := b.Subscribe(ctx, topic); err != nil {
			t.Fatal(err)
		}
	}
	killPubSub(t, base, name)
	eventually(t, "a resync", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.resyncs == 1
	})
	// Both subscriptions are back.
	_ = base.Publish(ctx, prefix+"c:1", "one").Err()
	_ = base.Publish(ctx, prefix+"c:2", "two").Err()
	if got := r.waitFor(t, 2); fmt.Sprint(got) != "[c:1=one c:2=two]" {
		t.Errorf("after resync got %v", got)
	}
}
