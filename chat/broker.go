package chat

import (
	"context"
	"errors"
	"sync"
)

// Broker fans events out between the nodes (processes) that serve one shop.
// It is only a notification path: every event that matters is also in the
// Store, and a node that may have missed events is told so through
// BrokerHandler.HandleResync and reads the Store. Modelled on
// centrifuge's Broker: one interface, an in-process implementation
// (MemoryBus) and a Redis pub/sub one (RedisBroker), one shared test
// suite (brokerSuite) run against both.
type Broker interface {
	// Start begins delivering events of subscribed topics to h. It is
	// called once, before any other method.
	Start(h BrokerHandler) error
	// Subscribe makes this node receive the topic's events. When it
	// returns nil the subscription is active: an event published after
	// that is delivered (unless the broker later reports a resync).
	Subscribe(ctx context.Context, topic string) error
	// Unsubscribe stops the topic's events for this node. Subscribe and
	// Unsubscribe of one topic are never called concurrently (the hub
	// serialises them); different topics may be.
	Unsubscribe(ctx context.Context, topic string) error
	// Publish sends data to every node subscribed to topic, this one
	// included. Handlers must not modify data.
	Publish(ctx context.Context, topic string, data []byte) error
	// Close stops delivery and releases the broker's resources. Start's
	// handler is not called after Close returns.
	Close() error
}

// BrokerHandler receives a node's events. Its methods must not block: the
// hub hands events to bounded per-connection queues.
type BrokerHandler interface {
	HandleEvent(topic string, data []byte)
	// HandleResync says events may have been lost (the connection to the
	// broker dropped and was re-established): every subscriber must
	// re-read what it delivers from the Store.
	HandleResync()
}

// ErrBrokerClosed is returned by a Broker used after Close.
var ErrBrokerClosed = errors.New("chat: broker closed")

// MemoryBus connects in-process brokers, as Redis connects nodes: each
// NewBroker is one node. A single-process helpdesk uses one bus with one
// broker; tests use two brokers on one bus to run a two-node setup in one
// process.
type MemoryBus struct {
	mu    sync.RWMutex
	nodes map[*memoryBroker]struct{}
}

// NewMemoryBus returns an empty bus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{nodes: map[*memoryBroker]struct{}{}} }

// NewBroker returns a new node on the bus.
func (b *MemoryBus) NewBroker() Broker {
	n := &memoryBroker{bus: b, topics: map[string]struct{}{}}
	b.mu.Lock()
	b.nodes[n] = struct{}{}
	b.mu.Unlock()
	return n
}

// NewMemoryBroker returns the broker of a single-node helpdesk.
func NewMemoryBroker() Broker { return NewMemoryBus().NewBroker() }

type memoryBroker struct {
	bus *MemoryBus

	mu     sync.RWMutex
	h      BrokerHandler
	topics map[string]struct{}
	closed bool
}

func (m *memoryBroker) Start(h BrokerHandler) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrBrokerClosed
	}
	m.h = h
	return nil
}

func (m *memoryBroker) Subscribe(ctx context.Context, topic string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrBrokerClosed
	}
	m.topics[topic] = struct{}{}
	return nil
}

func (m *memoryBroker) Unsubscribe(ctx context.Context, topic string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.topics, topic)
	return nil
}

// Publish delivers synchronously, in the publisher's goroutine: the
// handlers only enqueue.
func (m *memoryBroker) Publish(ctx context.Context, topic string, data []byte) error {
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return ErrBrokerClosed
	}
	m.bus.mu.RLock()
	defer m.bus.mu.RUnlock()
	for n := range m.bus.nodes {
		n.mu.RLock()
		_, ok := n.topics[topic]
		h := n.h
		n.mu.RUnlock()
		if ok && h != nil {
			h.HandleEvent(topic, data)
		}
	}
	return nil
}

func (m *memoryBroker) Close() error {
	m.mu.Lock()
	m.closed = true
	m.h = nil
	m.topics = map[string]struct{}{}
	m.mu.Unlock()
	m.bus.mu.Lock()
	delete(m.bus.nodes, m)
	m.bus.mu.Unlock()
	return nil
}
