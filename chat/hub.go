package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
)

// subscriber is anything on this node that follows topics: a connection,
// or the service itself for the node topic. Both methods must not block.
type subscriber interface {
	deliver(ev *event)
	resync()
}

// hub keeps this node's subscribers per topic and subscribes the node to a
// topic on the broker while at least one local subscriber follows it. It
// implements BrokerHandler: every event is decoded once and handed to the
// topic's subscribers.
type hub struct {
	broker Broker
	log    *slog.Logger

	mu     sync.RWMutex
	topics map[string]*topicState
}

// topicState is one topic's local subscribers and broker subscription.
//
// Invariants: subs and users are guarded by hub.mu; brokerOn by opMu, which
// also serialises the broker calls for this topic (so a Subscribe never
// races an Unsubscribe of the same topic). A topicState is removed from
// hub.topics only when nobody uses it, nobody follows it and the broker
// subscription is off, so there is at most one per topic.
type topicState struct {
	subs     map[subscriber]struct{}
	users    int
	opMu     sync.Mutex
	brokerOn bool
}

func newHub(b Broker, log *slog.Logger) *hub {
	return &hub{broker: b, log: log, topics: map[string]*topicState{}}
}

// subscribe adds s to topic and returns once the node receives the topic's
// events.
func (h *hub) subscribe(ctx context.Context, topic string, s subscriber) error {
	h.mu.Lock()
	t := h.topics[topic]
	if t == nil {
		t = &topicState{subs: map[subscriber]struct{}{}}
		h.topics[topic] = t
	}
	t.subs[s] = struct{}{}
	t.users++
	h.mu.Unlock()

	t.opMu.Lock()
	var err error
	if !t.brokerOn {
		if err = h.broker.Subscribe(ctx, topic); err == nil {
			t.brokerOn = true
		}
	}
	t.opMu.Unlock()

	h.mu.Lock()
	t.users--
	if err != nil {
		delete(t.subs, s)
	}
	h.gc(topic, t)
	h.mu.Unlock()
	return err
}

// unsubscribe removes s from topic, and the node from the broker topic when
// s was the last local subscriber.
func (h *hub) unsubscribe(ctx context.Context, topic string, s subscriber) {
	h.mu.Lock()
	t := h.topics[topic]
	if t == nil {
		h.mu.Unlock()
		return
	}
	delete(t.subs, s)
	t.users++
	h.mu.Unlock()

	t.opMu.Lock()
	h.mu.RLock()
	empty := len(t.subs) == 0
	h.mu.RUnlock()
	if empty && t.brokerOn {
		if err := h.broker.Unsubscribe(ctx, topic); err != nil {
			// The node may keep receiving the topic; the events find no
			// subscriber and are dropped.
			h.log.Warn("chat: broker unsubscribe failed", "topic", topic, "err", err)
		}
		t.brokerOn = false
	}
	t.opMu.Unlock()

	h.mu.Lock()
	t.users--
	h.gc(topic, t)
	h.mu.Unlock()
}

// gc drops an unused topic; h.mu must be held.
func (h *hub) gc(topic string, t *topicState) {
	if t.users == 0 && len(t.subs) == 0 && !t.brokerOn && h.topics[topic] == t {
		delete(h.topics, topic)
	}
}

// HandleEvent implements BrokerHandler.
func (h *hub) HandleEvent(topic string, data []byte) {
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		h.log.Error("chat: undecodable broker event", "topic", topic, "err", err)
		return
	}
	if ev.Kind == evResync {
		h.HandleResync()
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if t := h.topics[topic]; t != nil {
		for s := range t.subs {
			s.deliver(&ev)
		}
	}
}

// HandleResync implements BrokerHandler: every local subscriber re-reads.
func (h *hub) HandleResync() {
	h.log.Info("chat: broker resync; connections re-read from the store")
	h.mu.RLock()
	seen := map[subscriber]struct{}{}
	for _, t := range h.topics {
		for s := range t.subs {
			seen[s] = struct{}{}
		}
	}
	h.mu.RUnlock()
	for s := range seen {
		s.resync()
	}
}

// subscribers counts the local subscribers of a topic (for tests).
func (h *hub) subscribers(topic string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if t := h.topics[topic]; t != nil {
		return len(t.subs)
	}
	return 0
}
