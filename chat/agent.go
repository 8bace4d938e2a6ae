package chat

import (
	"context"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/printshop/helpdesk/internal/apperr"
)

// serveAgent runs one agent socket until it ends. It is the websocket
// handler's goroutine (the reader). The agent was authenticated before the
// upgrade.
func (s *Service) serveAgent(ws *fws.Conn, agent AgentRef) {
	c := newConn(s, kindAgent, ws)
	c.agent = agent
	c.status.Store(AgentOnline)
	c.live = true
	if !s.register(c) {
		_ = ws.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		return
	}
	c.startPings()
	_ = ws.SetReadDeadline(time.Now().Add(s.limits.PongWait))
	if err := s.agentJoin(c); err != nil {
		if c.ctx.Err() == nil {
			c.logger().Warn("chat: agent join failed", "err", err)
			c.pushError("", codeInternal, "chat is temporarily unavailable; reconnect shortly", "")
			c.closeWith(fws.CloseTryAgainLater, "try again later")
		}
	}
	_ = c.readLoop(c.agentFrame)
	s.finish(c)
}

func (c *conn) agentStatus() AgentStatus {
	st, _ := c.status.Load().(AgentStatus)
	return st
}

// agentJoin announces the connection, queues the welcome, follows the
// agent's topic and queues a resync that delivers the agent's active chats
// (with their messages) and pending offers.
func (s *Service) agentJoin(c *conn) error {
	ctx := c.ctx
	if err := s.presence.Announce(ctx, AgentConn{ConnID: c.id, AgentID: c.agent.ID, Status: AgentOnline}); err != nil {
		return err
	}
	av := s.Availability(ctx)
	c.pushFrame(agentWelcomeFrame{Type: "welcome", Agent: agentJSON{ID: c.agent.ID, Name: c.agent.Name},
		Status: string(AgentOnline), ChatAvailable: av.Available})
	if err := c.follow(ctx, agentTopic(c.agent.ID)); err != nil {
		return err
	}
	c.push(outItem{kind: itemResync})
	s.kickRouting(true)
	return nil
}

// reconcileAgent makes an agent connection follow exactly the
// conversations assigned to the agent in the store, and repeats pending
// offers. It runs in the connection's writer goroutine (it owns cursors),
// on connect and whenever events may have been lost.
func (s *Service) reconcileAgent(c *conn) error {
	convs, err := s.store.AgentConversations(c.ctx, c.agent.ID)
	if err != nil {
		return err
	}
	want := make(map[int64]Conversation, len(convs))
	for _, cv := range convs {
		want[cv.ID] = cv
	}
	for id := range c.cursors {
		if _, ok := want[id]; !ok {
			if err := c.handle(outItem{kind: itemUnassign, conv: id,
				data: mustJSON(unassignedFrame{Type: "unassigned", Conversation: id, Reason: "reassigned"})}); err != nil {
				return err
			}
		}
	}
	for _, cv := range convs {
		if _, ok := c.cursors[cv.ID]; ok {
			continue
		}
		if err := c.handle(outItem{kind: itemAssign, conv: cv.ID, data: mustJSON(assignedAgentJSON(cv, false))}); err != nil {
			return err
		}
	}
	offers, err := s.store.PendingOffers(c.ctx, c.agent.ID)
	if err != nil {
		return err
	}
	for _, o := range offers {
		if err := c.write(mustJSON(offerJSON(o))); err != nil {
			return err
		}
	}
	return nil
}

func assignedAgentJSON(cv Conversation, transferred bool) assignedAgentFrame {
	return assignedAgentFrame{Type: "assigned", Conversation: cv.ID,
		Customer: customerJSON{Name: cv.CustomerName, Email: cv.CustomerEmail},
		Status:   cv.Status, LastSeq: cv.LastSeq, Transferred: transferred}
}

// agentFrame handles one frame of an agent socket. It returns false to
// end the connection.
func (c *conn) agentFrame(f *inFrame, _ []byte) bool {
	ctx := c.ctx
	switch f.Type {
	case inStatus:
		c.agentSetStatus(ctx, f)
	case inAccept:
		c.agentAccept(ctx, f)
	case inDecline:
		c.agentDecline(ctx, f)
	case inMessage:
		c.agentMessage(ctx, f)
	case inTyping:
		c.agentTyping(ctx, f)
	case inRead:
		c.agentRead(ctx, f)
	case inClose:
		c.agentClose(ctx, f)
	case inTransfer:
		c.agentTransfer(ctx, f)
	case inSync:
		if !c.follows(convTopic(f.Conversation)) {
			c.pushErr(inSync, ErrNotAssigned, "")
			return true
		}
		c.push(outItem{kind: itemSync, conv: f.Conversation, seq: max(0, f.AfterSeq)})
	case inPing:
		c.pushFrame(simpleFrame{Type: "pong"})
	default:
		c.pushError(f.Type, codeUnknownType, "unknown frame type "+quoteType(f.Type), "")
	}
	return true
}

func (c *conn) agentSetStatus(ctx context.Context, f *inFrame) {
	st := AgentStatus(f.Status)
	if !st.valid() {
		c.pushErr(inStatus, apperr.Invalid("status must be online, away or offline"), "")
		return
	}
	c.status.Store(st)
	if err := c.svc.presence.Announce(ctx, AgentConn{ConnID: c.id, AgentID: c.agent.ID, Status: st}); err != nil {
		c.pushErr(inStatus, apperr.Internal("announce status", err), "")
		return
	}
	c.pushFrame(statusFrame{Type: "status", Status: string(st)})
	c.svc.kickRouting(true)
}

func (c *conn) agentAccept(ctx context.Context, f *inFrame) {
	s := c.svc
	cv, sys, err := s.store.Accept(ctx, f.Conversation, c.agent, s.now())
	if err != nil {
		c.pushErr(inAccept, err, "")
		return
	}
	s.m.offers.WithLabelValues("accepted").Inc()
	s.publish(ctx, agentTopic(c.agent.ID), event{Kind: evAssign, Conv: cv.ID, Frame: mustJSON(assignedAgentJSON(cv, false))})
	s.publishMessage(ctx, sys)
	s.publishFrame(ctx, convTopic(cv.ID), toCustomer, "", assignedCustomerFrame{Type: "assigned", Conversation: cv.ID, Agent: agentJSON{Name: c.agent.Name}})
	s.kickRouting(true)
}

func (c *conn) agentDecline(ctx context.Context, f *inFrame) {
	s := c.svc
	if err := s.store.Decline(ctx, f.Conversation, c.agent.ID, s.now()); err != nil {
		c.pushErr(inDecline, err, "")
		return
	}
	s.m.offers.WithLabelValues("declined").Inc()
	s.publishFrame(ctx, agentTopic(c.agent.ID), "", "", offerWithdrawnFrame{Type: "offer_withdrawn", Conversation: f.Conversation, Reason: "declined"})
	s.kickRouting(false)
}

func (c *conn) agentMessage(ctx context.Context, f *inFrame) {
	s := c.svc
	clientID, text, ok := c.checkMessage(f)
	if !ok {
		return
	}
	res, err := s.store.Append(ctx, NewMessage{ConversationID: f.Conversation, From: FromAgent, AgentID: c.agent.ID,
		Author: c.agent.Name, ClientID: clientID, Text: text, Attachments: f.Attachments}, s.now())
	if err != nil {
		c.pushErr(inMessage, err, clientID)
		return
	}
	c.pushFrame(ackFrame{Type: "ack", ClientID: clientID, Seq: res.Message.Seq, Duplicate: res.Duplicate})
	if res.Duplicate {
		return
	}
	s.m.messages.WithLabelValues(string(FromAgent)).Inc()
	s.publishMessage(ctx, res.Message)
}

func (c *conn) agentTyping(ctx context.Context, f *inFrame) {
	if !c.follows(convTopic(f.Conversation)) {
		c.pushErr(inTyping, ErrNotAssigned, "")
		return
	}
	now := time.Now()
	if now.Sub(c.lastTyping) < time.Second {
		return
	}
	c.lastTyping = now
	c.svc.publishFrame(ctx, convTopic(f.Conversation), toCustomer, c.id,
		typingFrame{Type: "typing", Conversation: f.Conversation, From: FromAgent, Author: c.agent.Name})
}

func (c *conn) agentRead(ctx context.Context, f *inFrame) {
	if !c.follows(convTopic(f.Conversation)) {
		c.pushErr(inRead, ErrNotAssigned, "")
		return
	}
	seq, err := c.svc.store.MarkRead(ctx, f.Conversation, FromAgent, f.Seq, c.svc.now())
	if err != nil {
		c.pushErr(inRead, err, "")
		return
	}
	c.svc.publishFrame(ctx, convTopic(f.Conversation), toCustomer, "", readFrame{Type: "read", Conversation: f.Conversation, By: FromAgent, Seq: seq})
}

func (c *conn) agentClose(ctx context.Context, f *inFrame) {
	res, err := c.svc.store.Close(ctx, f.Conversation, FromAgent, c.agent, c.svc.now())
	if err != nil {
		c.pushErr(inClose, err, "")
		return
	}
	c.svc.afterClose(ctx, res)
}

// agentTransfer hands a chat to a colleague who is online or away (and has
// a free slot), or back to the queue.
func (c *conn) agentTransfer(ctx context.Context, f *inFrame) {
	s := c.svc
	var to AgentRef
	if !f.Queue {
		if f.ToAgentID == 0 || f.ToAgentID == c.agent.ID {
			c.pushErr(inTransfer, apperr.Invalid("give to_agent_id (a colleague) or queue: true"), "")
			return
		}
		name, err := s.store.AgentName(ctx, f.ToAgentID)
		if err != nil {
			c.pushErr(inTransfer, err, "")
			return
		}
		st, err := s.presence.AgentStatus(ctx, f.ToAgentID)
		if err != nil {
			c.pushErr(inTransfer, apperr.Internal("read presence", err), "")
			return
		}
		if st == AgentOffline {
			c.pushErr(inTransfer, ErrAgentNotFound, "")
			return
		}
		to = AgentRef{ID: f.ToAgentID, Name: name}
	}
	cv, sys, err := s.store.Transfer(ctx, f.Conversation, c.agent.ID, to, s.capacity, s.now())
	if err != nil {
		c.pushErr(inTransfer, err, "")
		return
	}
	s.publishMessage(ctx, sys)
	s.publish(ctx, agentTopic(c.agent.ID), event{Kind: evUnassign, Conv: cv.ID,
		Frame: mustJSON(unassignedFrame{Type: "unassigned", Conversation: cv.ID, Reason: "transferred"})})
	if to.ID != 0 {
		s.publish(ctx, agentTopic(to.ID), event{Kind: evAssign, Conv: cv.ID, Frame: mustJSON(assignedAgentJSON(cv, true))})
		s.publishFrame(ctx, convTopic(cv.ID), toCustomer, "", assignedCustomerFrame{Type: "assigned", Conversation: cv.ID, Agent: agentJSON{Name: to.Name}})
	} else {
		s.publishFrame(ctx, convTopic(cv.ID), toCustomer, "", unassignedFrame{Type: "unassigned", Conversation: cv.ID, Reason: "transferred"})
	}
	s.kickRouting(true)
}
