package chat

import (
	"context"
	"slices"
	"sync"
	"time"
)

// AgentStatus is what an agent told the chat about their availability.
type AgentStatus string

// The agent statuses. Only online agents get offers; away agents keep their
// chats but get no new ones.
const (
	AgentOnline  AgentStatus = "online"
	AgentAway    AgentStatus = "away"
	AgentOffline AgentStatus = "offline"
)

func (s AgentStatus) valid() bool { return s == AgentOnline || s == AgentAway || s == AgentOffline }

// AgentConn is one agent connection (a tab or a device) as presence knows
// it. ConnID is unique across nodes.
type AgentConn struct {
	ConnID  string
	AgentID int64
	Status  AgentStatus
}

// Presence knows which agents are available for chat, across every node.
// Each connection is announced with its status and expires after the
// implementation's TTL unless announced again (the service re-announces
// every live connection every Heartbeat), so a node that dies takes its
// agents offline within one TTL, and a presence store that lost its data
// (a Redis restart) is complete again within one heartbeat.
//
// An agent's status is the best of their connections' statuses: online if
// any connection says online, else away if any says away, else offline.
type Presence interface {
	// Announce records or refreshes connections.
	Announce(ctx context.Context, conns ...AgentConn) error
	// Leave forgets connections at once (a clean disconnect).
	Leave(ctx context.Context, connIDs ...string) error
	// AgentsOnline counts the agents whose status is online. It is what
	// /api/status reports.
	AgentsOnline(ctx context.Context) (int, error)
	// Online lists the ids of online agents in increasing order; routing
	// offers chats to them.
	Online(ctx context.Context) ([]int64, error)
	// AgentStatus returns one agent's status (AgentOffline when unknown).
	AgentStatus(ctx context.Context, agentID int64) (AgentStatus, error)
	// Connected lists the ids of agents with at least one live
	// connection, whatever its status, in increasing order. An assigned
	// chat whose agent is not among them for long goes back to the queue.
	Connected(ctx context.Context) ([]int64, error)
}

// Presence timing defaults: a connection not announced for PresenceTTL is
// gone; the service re-announces every DefaultHeartbeat.
const (
	DefaultPresenceTTL = 30 * time.Second
	DefaultHeartbeat   = 10 * time.Second
)

// MemoryPresence is the Presence of a single-node helpdesk.
type MemoryPresence struct {
	now func() time.Time
	ttl time.Duration

	mu    sync.Mutex
	conns map[string]memoryPresenceEntry
}

type memoryPresenceEntry struct {
	AgentConn
	expires time.Time
}

// NewMemoryPresence returns an in-process Presence whose entries expire
// ttl after their last announcement (DefaultPresenceTTL when ttl is 0).
func NewMemoryPresence(now func() time.Time, ttl time.Duration) *MemoryPresence {
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryPresence{now: now, ttl: ttl, conns: map[string]memoryPresenceEntry{}}
}

// Announce implements Presence.
func (p *MemoryPresence) Announce(ctx context.Context, conns ...AgentConn) error {
	exp := p.now().Add(p.ttl)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c.ConnID] = memoryPresenceEntry{AgentConn: c, expires: exp}
	}
	return nil
}

// Leave implements Presence.
func (p *MemoryPresence) Leave(ctx context.Context, connIDs ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range connIDs {
		delete(p.conns, id)
	}
	return nil
}

func (p *MemoryPresence) statuses() map[int64]AgentStatus {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var live []AgentConn
	for id, e := range p.conns {
		if !e.expires.After(now) {
			delete(p.conns, id)
			continue
		}
		live = append(live, e.AgentConn)
	}
	return aggregateStatus(live)
}

// AgentsOnline implements Presence.
func (p *MemoryPresence) AgentsOnline(ctx context.Context) (int, error) {
	ids, _ := p.Online(ctx)
	return len(ids), nil
}

// Online implements Presence.
func (p *MemoryPresence) Online(ctx context.Context) ([]int64, error) {
	return onlineIDs(p.statuses()), nil
}

// Connected implements Presence.
func (p *MemoryPresence) Connected(ctx context.Context) ([]int64, error) {
	return connectedIDs(p.statuses()), nil
}

// AgentStatus implements Presence.
func (p *MemoryPresence) AgentStatus(ctx context.Context, agentID int64) (AgentStatus, error) {
	if s, ok := p.statuses()[agentID]; ok {
		return s, nil
	}
	return AgentOffline, nil
}

// aggregateStatus folds connections into one status per agent.
func aggregateStatus(conns []AgentConn) map[int64]AgentStatus {
	rank := map[AgentStatus]int{AgentOffline: 1, AgentAway: 2, AgentOnline: 3}
	out := map[int64]AgentStatus{}
	for _, c := range conns {
		if cur, ok := out[c.AgentID]; !ok || rank[c.Status] > rank[cur] {
			out[c.AgentID] = c.Status
		}
	}
	return out
}

func onlineIDs(st map[int64]AgentStatus) []int64 {
	ids := []int64{}
	for id, s := range st {
		if s == AgentOnline {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func connectedIDs(st map[int64]AgentStatus) []int64 {
	ids := make([]int64, 0, len(st))
	for id := range st {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
