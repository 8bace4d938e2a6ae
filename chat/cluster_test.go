package chat

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// cluster is two nodes sharing one SQLite file and one fan-out.
type cluster struct {
	a, b   *node
	dbA    any
	pubsub string // Redis client name of the nodes' broker connections ("" in memory)
	rdb    *redis.Client
}

type clusterKind struct {
	name  string
	build func(t *testing.T) (brokerA, brokerB Broker, presA, presB Presence, kill func())
}

func clusterKinds() []clusterKind {
	return []clusterKind{
		{"memory", func(t *testing.T) (Broker, Broker, Presence, Presence, func()) {
			bus := NewMemoryBus()
			p := NewMemoryPresence(time.Now, 0)
			return bus.NewBroker(), bus.NewBroker(), p, p, nil
		}},
		{"redis", func(t *testing.T) (Broker, Broker, Presence, Presence, func()) {
			base, prefix := redisFor(t)
			mk := func(name string) *redis.Client {
				o := *base.Options()
				o.ClientName = strings.ReplaceAll(prefix, ":", "-") + name
				c := redis.NewClient(&o)
				t.Cleanup(func() { c.Close() })
				return c
			}
			ra, rb := mk("a"), mk("b")
			opts := RedisBrokerOptions{Prefix: prefix, RetryDelay: 300 * time.Millisecond}
			kill := func() { killPubSub(t, base, strings.ReplaceAll(prefix, ":", "-")+"b") }
			return NewRedisBroker(ra, opts), NewRedisBroker(rb, opts),
				NewRedisPresence(ra, prefix, 0, nil), NewRedisPresence(rb, prefix, 0, nil), kill
		}},
	}
}

// TestTwoNodes runs a customer on node A and an agent on node B, sharing
// one SQLite file and the fan-out (in process, then Redis): presence and
// routing are shared, messages flow both ways exactly once.
func TestTwoNodes(t *testing.T) {
	for _, kind := range clusterKinds() {
		t.Run(kind.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shared.db")
			dbA, dbB := openDB(t, path), openDB(t, path)
			ann := addAgent(t, dbA, "Ann")
			brA, brB, prA, prB, kill := kind.build(t)
			nodeEvents := make(chan string, 10)
			a := startNode(t, nodeConfig{db: dbA, opts: Options{Broker: brA, Presence: prA, NodeID: "A", Limits: Limits{AgentRate: 1000, AgentBurst: 1000, CustomerRate: 1000, CustomerBurst: 1000}}})
			b := startNode(t, nodeConfig{db: dbB, opts: Options{Broker: brB, Presence: prB, NodeID: "B",
				NodeEvents: func(data []byte) { nodeEvents <- string(data) }, Limits: Limits{AgentRate: 1000, AgentBurst: 1000, CustomerRate: 1000, CustomerBurst: 1000}}})

			// The node-wide channel (search-index invalidation) reaches B.
			if err := a.svc.PublishNode(context.Background(), []byte("kb:changed")); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-nodeEvents:
				if got != "kb:changed" {
					t.Fatalf("node event %q", got)
				}
			case <-time.After(waitTimeout):
				t.Fatal("no node event on B")
			}

			ag := b.agent(t, ann)
			// Node A sees the agent node B announced.
			eventually(t, "node A to see Ann online", func() bool {
				n, _ := a.svc.AgentsOnline(context.Background())
				return n == 1
			})
			cu := a.customer(t)
			w := cu.hello("", 0)
			if !w.ChatAvailable {
				t.Fatal("chat not available on node A")
			}
			cu.say("c1", "hello from A")
			offer := ag.expect("offer")
			if offer.Conversation != w.Conversation {
				t.Fatalf("offer = %+v", offer)
			}
			ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
			ag.expect("assigned")
			cu.expect("assigned", func(f frame) bool { return f.Agent.Name == "Ann" })

			// Both ways, interleaved.
			const n = 40
			for i := range n {
				cu.send(map[string]any{"type": "message", "client_id": fmt.Sprint("c", i+2), "text": fmt.Sprint("customer ", i)})
				ag.send(map[string]any{"type": "message", "conversation": w.Conversation, "client_id": fmt.Sprint("a", i), "text": fmt.Sprint("agent ", i)})
			}
			want := int64(2 + 2*n)
			// The customer's client skipped seqs 1 and 2 waiting for
			// "assigned"; the agent gets them after its "assigned".
			for c, first := range map[*client]int64{cu: 3, ag: 1} {
				for seq := first; seq <= want; seq++ {
					if f := c.expect("message"); f.Seq != seq {
						t.Fatalf("got seq %d, want %d", f.Seq, seq)
					}
				}
				c.quiet("message", 100*time.Millisecond)
			}
			if kill == nil {
				return
			}

			// Node B's subscription drops (as when Redis restarts); what A
			// stores meanwhile reaches the agent on B exactly once, read
			// back from SQLite after B resubscribes.
			kill()
			for i := range 5 {
				cu.say(fmt.Sprint("gap", i), fmt.Sprint("during the gap ", i))
			}
			for seq := want + 1; seq <= want+5; seq++ {
				if f := ag.expect("message"); f.Seq != seq {
					t.Fatalf("after the gap got seq %d, want %d", f.Seq, seq)
				}
			}
			ag.quiet("message", 300*time.Millisecond)
			ag.agentSay(w.Conversation, "after", "still here")
			cu.expect("message", func(f frame) bool { return f.Text == "still here" })
		})
	}
}

// After Redis lost presence (a restart), live connections announce
// themselves again within one heartbeat.
func TestRedisPresenceRebuilds(t *testing.T) {
	rdb, prefix := redisFor(t)
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, opts: Options{
		Broker:    NewRedisBroker(rdb, RedisBrokerOptions{Prefix: prefix}),
		Presence:  NewRedisPresence(rdb, prefix, 3*time.Second, nil),
		Heartbeat: time.Second,
	}})
	n.agent(t, ann)
	ctx := context.Background()
	if on, _ := n.svc.AgentsOnline(ctx); on != 1 {
		t.Fatalf("online = %d", on)
	}
	if err := rdb.Del(ctx, prefix+"presence:hb", prefix+"presence:conns").Err(); err != nil {
		t.Fatal(err)
	}
	if on, _ := n.svc.AgentsOnline(ctx); on != 0 {
		t.Fatalf("online after the wipe = %d", on)
	}
	start := time.Now()
	eventually(t, "presence to come back", func() bool {
		on, _ := n.svc.AgentsOnline(ctx)
		return on == 1
	})
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
}
