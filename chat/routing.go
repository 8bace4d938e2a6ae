package chat

import (
	"context"
	"math"
	"time"
)

// Routing keeps its authoritative state in the Store, not in Redis.
//
// Why: the queue and who is assigned to what must survive the crash of any
// node and a Redis restart, and every node must agree on them. In SQLite,
// changed only in BEGIN IMMEDIATE transactions, that comes for free: any
// node may run a routing pass at any time, each pass is one serialised
// transaction over the committed state, two nodes can never offer one
// conversation twice or hand out one agent's last slot twice, and nothing
// is lost with Redis. The broker only carries the resulting notifications
// (offers, assignments), and presence, soft state by nature, lives in
// Redis with TTLs. The cost is one small write transaction per pass when
// something is waiting and an agent has room, which SQLite handles with
// ease at a shop's chat volume.
//
// Every node runs the loop below. A pass happens when this node changed
// the queue (a customer's first message, an agent coming online, an
// accept, a decline, a transfer, a close) and every RouteInterval, which is
// also how expired offers move on: an offer's expiry is a time in the
// database, compared against the injected clock.

// routerLoop runs routing passes until the service closes.
func (s *Service) routerLoop() {
	defer s.bg.Done()
	t := time.NewTicker(s.routeInterval)
	defer t.Stop()
	var lastQueue, lastReclaim time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
		if time.Since(lastReclaim) >= s.reclaimEvery {
			lastReclaim = time.Now()
			s.reclaim(s.ctx)
		}
		refresh := time.Since(lastQueue) >= s.queueRefresh
		if refresh {
			lastQueue = time.Now()
		}
		s.routeOnce(s.ctx, refresh)
	}
}

// reclaim frees chats whose people are gone (see ReclaimInput): an absent
// agent's chats go back to the queue, abandoned waiting chats close.
func (s *Service) reclaim(ctx context.Context) {
	connected, err := s.presence.Connected(ctx)
	if err != nil {
		// Without presence everyone looks gone; wait for it to answer.
		s.log.WarnContext(ctx, "chat: reclaim skipped: presence unavailable", "err", err)
		return
	}
	in := ReclaimInput{Connected: connected, AgentGone: s.agentGone, CustomerGone: s.customerGone, Now: s.now()}
	need, err := s.store.NeedsReclaim(ctx, in)
	if err != nil || !need {
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "chat: reclaim check failed", "err", err)
		}
		return
	}
	res, err := s.store.Reclaim(ctx, in)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "chat: reclaim failed", "err", err)
		}
		return
	}
	for _, r := range res.Requeued {
		id := r.Conversation.ID
		s.log.InfoContext(ctx, "chat: agent gone; chat back in the queue", "conversation", id, "agent", r.AgentID)
		s.m.reclaimed.WithLabelValues("agent_gone").Inc()
		s.publishMessage(ctx, r.Message)
		s.publishFrame(ctx, convTopic(id), toCustomer, "", unassignedFrame{Type: "unassigned", Conversation: id, Reason: "agent_gone"})
		if r.AgentID != 0 {
			// A tab that comes back gets this, or finds out at its resync.
			s.publish(ctx, agentTopic(r.AgentID), event{Kind: evUnassign, Conv: id,
				Frame: mustJSON(unassignedFrame{Type: "unassigned", Conversation: id, Reason: "reassigned"})})
		}
	}
	for _, cr := range res.Abandoned {
		s.log.InfoContext(ctx, "chat: customer gone; waiting chat closed", "conversation", cr.Conversation.ID)
		s.m.reclaimed.WithLabelValues("customer_gone").Inc()
		s.afterClose(ctx, cr)
	}
	if len(res.Requeued) > 0 {
		s.kickRouting(true)
	}
}

// kickRouting asks for a routing pass soon; queueChanged also has waiting
// customers told their new position.
func (s *Service) kickRouting(queueChanged bool) {
	if queueChanged {
		s.queueDirty.Store(true)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// routeOnce runs one routing pass and, when the queue changed or refresh
// is set, publishes queue positions. It is serialised by routeMu so tests
// may call it directly.
func (s *Service) routeOnce(ctx context.Context, refresh bool) {
	s.routeMu.Lock()
	defer s.routeMu.Unlock()
	s.route(ctx)
	if s.queueDirty.Swap(false) || refresh {
		s.publishQueue(ctx)
	}
}

func (s *Service) route(ctx context.Context) {
	online, err := s.presence.Online(ctx)
	if err != nil {
		// Without presence we cannot tell who left; withdrawing every
		// offer would be worse than waiting for the next pass.
		s.log.WarnContext(ctx, "chat: routing skipped: presence unavailable", "err", err)
		return
	}
	in := RouteInput{Online: online, Capacity: s.capacity, OfferTimeout: s.offerTimeout, Now: s.now()}
	need, err := s.store.NeedsRouting(ctx, in)
	if err != nil || !need {
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "chat: routing check failed", "err", err)
		}
		return
	}
	changes, err := s.store.Route(ctx, in)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "chat: routing failed", "err", err)
		}
		return
	}
	for _, ch := range changes {
		o := ch.Offer
		if ch.Offered {
			s.m.offers.WithLabelValues("offered").Inc()
			s.publishFrame(ctx, agentTopic(o.AgentID), "", "", offerJSON(o))
			continue
		}
		s.m.offers.WithLabelValues(ch.Reason).Inc()
		s.publishFrame(ctx, agentTopic(o.AgentID), "", "", offerWithdrawnFrame{Type: "offer_withdrawn", Conversation: o.ConversationID, Reason: ch.Reason})
	}
}

func offerJSON(o Offer) offerFrame {
	return offerFrame{Type: "offer", Conversation: o.ConversationID, Customer: customerJSON{Name: o.CustomerName},
		Preview: o.Preview, WaitingSince: rfc3339(o.WaitingSince), ExpiresAt: rfc3339(o.ExpiresAt)}
}

// publishQueue tells every waiting customer whose position or estimate
// changed since this node last told them. Caller holds routeMu.
func (s *Service) publishQueue(ctx context.Context) {
	q, err := s.store.Queue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "chat: read queue", "err", err)
		}
		return
	}
	s.m.queueLength.Set(float64(len(q)))
	online, _ := s.presence.AgentsOnline(ctx) // an error counts as nobody
	avg := s.avgHandle(ctx)
	seen := make(map[int64]struct{}, len(q))
	for i, e := range q {
		f := queueFrame{Type: "queue", Conversation: e.ConversationID, Position: i + 1,
			EstimatedWaitSeconds: estimateWait(i+1, online, s.capacity, avg)}
		seen[e.ConversationID] = struct{}{}
		if s.queueSent[e.ConversationID] == f {
			continue
		}
		s.queueSent[e.ConversationID] = f
		s.publishFrame(ctx, convTopic(e.ConversationID), toCustomer, "", f)
	}
	for id := range s.queueSent {
		if _, ok := seen[id]; !ok {
			delete(s.queueSent, id)
		}
	}
}

// queuePosition computes one conversation's queue frame (for a customer
// who just connected).
func (s *Service) queuePosition(ctx context.Context, conv int64) (queueFrame, bool) {
	q, err := s.store.Queue(ctx)
	if err != nil {
		return queueFrame{}, false
	}
	for i, e := range q {
		if e.ConversationID == conv {
			online, _ := s.presence.AgentsOnline(ctx)
			return queueFrame{Type: "queue", Conversation: conv, Position: i + 1,
				EstimatedWaitSeconds: estimateWait(i+1, online, s.capacity, s.avgHandle(ctx))}, true
		}
	}
	return queueFrame{}, false
}

// estimateWait is the expected wait of the customer at position (1 is
// next): the chats ahead of them, and theirs, start as slots free up, and
// agents free agents×capacity slots per average handle time. With nobody
// online it assumes one agent, so that the customer still sees a figure.
func estimateWait(position, agentsOnline, capacity int, avgHandle time.Duration) int {
	slots := max(1, agentsOnline) * max(1, capacity)
	secs := float64(position) * avgHandle.Seconds() / float64(slots)
	return int(math.Round(secs/5) * 5)
}

// avgHandle is the mean handle time of chats closed in the last day (up to
// 50), cached for a minute; DefaultHandle before there is history.
func (s *Service) avgHandle(ctx context.Context) time.Duration {
	s.handleMu.Lock()
	defer s.handleMu.Unlock()
	now := s.now()
	if now.Before(s.handleUntil) {
		return s.handleAvg
	}
	ds, err := s.store.HandleTimes(ctx, now.Add(-24*time.Hour), 50)
	avg := s.defaultHandle
	if err == nil && len(ds) > 0 {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		avg = sum / time.Duration(len(ds))
	}
	s.handleAvg, s.handleUntil = avg, now.Add(time.Minute)
	return avg
}
