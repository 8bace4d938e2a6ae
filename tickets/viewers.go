package tickets

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
)

// Viewer activities.
const (
	ActivityViewing  = "viewing"
	ActivityReplying = "replying"
)

// ViewerTTL is how long a viewer stays listed after their last touch.
// Clients refresh by reloading the ticket or posting to /viewing.
const ViewerTTL = 30 * time.Second

// Viewer is an agent currently looking at (or answering) a ticket, shown to
// other agents so that two do not answer the same customer at once.
type Viewer struct {
	AgentID  int64     `json:"agent_id"`
	Name     string    `json:"name"`
	Activity string    `json:"activity"` // viewing or replying
	Since    time.Time `json:"since"`    // when the agent started this activity
}

// Viewers records who is on which ticket. The in-process implementation is
// MemoryViewers; with several processes a shared (Redis) implementation
// takes its place behind this interface.
type Viewers interface {
	// Touch records that v.AgentID is on the ticket now. An empty
	// v.Activity keeps the agent's current activity (or starts viewing):
	// reloading the ticket must not turn "replying" back into "viewing".
	Touch(ctx context.Context, ticketID int64, v Viewer) error
	// List returns the agents seen on the ticket within the TTL, ordered by
	// Since.
	List(ctx context.Context, ticketID int64) ([]Viewer, error)
}

// MemoryViewers is the in-process Viewers. Entries expire ViewerTTL after
// their last touch; expired entries are dropped as tickets are touched and
// by a sweep of everything at most once per TTL.
type MemoryViewers struct {
	now func() time.Time

	mu        sync.Mutex
	tickets   map[int64]map[int64]*viewerEntry
	lastSweep time.Time
}

type viewerEntry struct {
	v    Viewer
	seen time.Time
}

// NewMemoryViewers returns an empty registry using now as its clock.
func NewMemoryViewers(now func() time.Time) *MemoryViewers {
	if now == nil {
		now = time.Now
	}
	return &MemoryViewers{now: now, tickets: map[int64]map[int64]*viewerEntry{}}
}

// Touch implements Viewers.
func (m *MemoryViewers) Touch(_ context.Context, ticketID int64, v Viewer) error {
	if v.Activity != "" && v.Activity != ActivityViewing && v.Activity != ActivityReplying {
		return apperr.Invalid("activity must be %q or %q", ActivityViewing, ActivityReplying)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastSweep) >= ViewerTTL {
		m.sweep(now)
	}
	byAgent := m.tickets[ticketID]
	if byAgent == nil {
		byAgent = map[int64]*viewerEntry{}
		m.tickets[ticketID] = byAgent
	}
	e := byAgent[v.AgentID]
	if e == nil || now.Sub(e.seen) >= ViewerTTL {
		if v.Activity == "" {
			v.Activity = ActivityViewing
		}
		v.Since = now
		byAgent[v.AgentID] = &viewerEntry{v: v, seen: now}
		return nil
	}
	if v.Activity != "" && v.Activity != e.v.Activity {
		e.v.Activity, e.v.Since = v.Activity, now
	}
	if v.Name != "" {
		e.v.Name = v.Name
	}
	e.seen = now
	return nil
}

// List implements Viewers.
func (m *MemoryViewers) List(_ context.Context, ticketID int64) ([]Viewer, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Viewer{}
	for id, e := range m.tickets[ticketID] {
		if now.Sub(e.seen) >= ViewerTTL {
			delete(m.tickets[ticketID], id)
			continue
		}
		out = append(out, e.v)
	}
	if len(m.tickets[ticketID]) == 0 {
		delete(m.tickets, ticketID)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].AgentID < out[j].AgentID
	})
	return out, nil
}

// sweep drops every expired entry. Called with mu held.
func (m *MemoryViewers) sweep(now time.Time) {
	m.lastSweep = now
	for tid, byAgent := range m.tickets {
		for aid, e := range byAgent {
			if now.Sub(e.seen) >= ViewerTTL {
				delete(byAgent, aid)
			}
		}
		if len(byAgent) == 0 {
			delete(m.tickets, tid)
		}
	}
}
