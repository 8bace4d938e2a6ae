package chat

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	fws "github.com/fasthttp/websocket"

	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/kb"
)

// serveCustomer runs one customer socket until it ends. It is the
// websocket handler's goroutine (the reader).
func (s *Service) serveCustomer(ws *fws.Conn) {
	c := newConn(s, kindCustomer, ws)
	if !s.register(c) {
		_ = ws.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		return
	}
	c.startPings()
	_ = ws.SetReadDeadline(time.Now().Add(s.limits.HelloTimeout))
	err := c.readLoop(c.customerFrame)
	if !c.live && isTimeout(err) {
		c.closeWith(fws.ClosePolicyViolation, "no hello in time")
	}
	s.finish(c)
}

// finish tears a connection down once its reader stopped: it stops the
// writer (waiting for it, at most WriteTimeout before dropping the socket
// under it), sends a requested close frame the writer did not get to,
// unsubscribes everything and forgets the connection.
func (s *Service) finish(c *conn) {
	c.cancel()
	if !c.stopWriter(s.limits.WriteTimeout) {
		c.kill("writer stuck")
		c.waitWriter()
	}
	c.pinger.Stop() // again: a ping written as finish began re-armed it
	if !c.killed.Load() {
		c.sendClose() // finish is the only writer now
	}
	c.smu.Lock()
	c.finished = true
	topics := slices.Collect(maps.Keys(c.topics))
	c.topics = nil
	c.smu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, t := range topics {
		s.hub.unsubscribe(ctx, t, c)
	}
	if c.kind == kindAgent {
		if err := s.presence.Leave(ctx, c.id); err != nil {
			s.log.Warn("chat: presence leave failed; the entry expires by itself", "err", err)
		}
		s.kickRouting(false)
	}
	_ = c.ws.Close()
	s.unregister(c)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// pushErr answers a failed frame. Internal causes are logged, never sent.
func (c *conn) pushErr(ref string, err error, clientID string) {
	code := errorCode(err)
	if code == codeInternal && c.ctx.Err() == nil {
		c.logger().Error("chat: frame failed", "type", ref, "err", err)
	}
	c.pushError(ref, code, apperr.PublicMessage(err), clientID)
}

func errorCode(err error) string {
	switch {
	case errors.Is(err, ErrClosed):
		return codeClosed
	case errors.Is(err, ErrUnavailable):
		return codeUnavailable
	case errors.Is(err, ErrNotAssigned):
		return codeNotAssigned
	case errors.Is(err, ErrOfferGone):
		return codeOfferGone
	case errors.Is(err, ErrAgentBusy):
		return codeAgentBusy
	case errors.Is(err, ErrNoTickets), errors.Is(err, ErrNoMailer):
		return codeNotSupported
	}
	switch apperr.KindOf(err) {
	case apperr.KindInvalid, apperr.KindTooLarge:
		return codeInvalid
	case apperr.KindNotFound:
		return codeNotFound
	case apperr.KindTooMany:
		return codeRateLimited
	case apperr.KindInternal:
		return codeInternal
	}
	return codeInvalid
}

// --- validation ---

// cleanLine validates a one-line field: trimmed, at most max characters.
func cleanLine(field, v string, max int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		return "", apperr.Invalid("%s is required", field)
	case !utf8.ValidString(v):
		return "", apperr.Invalid("%s is not valid UTF-8", field)
	case utf8.RuneCountInString(v) > max:
		return "", apperr.Invalid("%s is longer than %d characters", field, max)
	case strings.ContainsAny(v, "\x00\r\n"):
		return "", apperr.Invalid("%s must be a single line", field)
	}
	return v, nil
}

// cleanText validates message text: not blank (unless blankOK), at most
// max characters, valid UTF-8 without NULs. Inner whitespace is kept.
func cleanText(field, v string, max int, blankOK bool) (string, error) {
	switch {
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return "", apperr.Invalid("%s is not valid text", field)
	case strings.TrimSpace(v) == "" && !blankOK:
		return "", apperr.Invalid("%s is empty", field)
	case utf8.RuneCountInString(v) > max:
		return "", apperr.Invalid("%s is longer than %d characters", field, max)
	}
	return strings.TrimRight(v, " \t\r\n"), nil
}

func cleanClientID(v string) (string, error) {
	if v == "" {
		return "", apperr.Invalid("client_id is required")
	}
	if len(v) > MaxClientIDLen || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return "", apperr.Invalid("client_id must be at most %d bytes of text", MaxClientIDLen)
	}
	return v, nil
}

func cleanEmail(v string, required bool) (string, error) {
	if strings.TrimSpace(v) == "" {
		if required {
			return "", apperr.Invalid("email is required")
		}
		return "", nil
	}
	e, err := auth.NormalizeEmail(v)
	if err != nil {
		return "", apperr.Invalid("email is not a valid address like name@example.com")
	}
	return e, nil
}

func cleanAttachments(ids []int64) error {
	if len(ids) > MaxAttachments {
		return apperr.Invalid("a message carries at most %d attachments", MaxAttachments)
	}
	return nil
}

// checkMessage validates a message frame (either side's): its client id,
// text and attachment ids. It answers a bad one with an error frame and
// reports false.
func (c *conn) checkMessage(f *inFrame) (clientID, text string, ok bool) {
	clientID, err := cleanClientID(f.ClientID)
	if err != nil {
		c.pushErr(inMessage, err, f.ClientID)
		return "", "", false
	}
	text, err = cleanText("text", f.Text, MaxTextLen, len(f.Attachments) > 0)
	if err == nil {
		err = cleanAttachments(f.Attachments)
	}
	if err != nil {
		c.pushErr(inMessage, err, clientID)
		return "", "", false
	}
	return clientID, text, true
}

// --- frames ---

// customerFrame handles one frame of a customer socket. It returns false
// to end the connection.
func (c *conn) customerFrame(f *inFrame, _ []byte) bool {
	if !c.live && f.Type != inHello {
		c.pushError(f.Type, codeHelloFirst, "send hello first", "")
		return true
	}
	ctx := c.ctx
	switch f.Type {
	case inHello:
		return c.customerHello(ctx, f)
	case inMessage:
		c.customerMessage(ctx, f)
	case inTyping:
		c.customerTyping(ctx, f)
	case inRead:
		c.customerRead(ctx, f)
	case inClose:
		c.customerClose(ctx)
	case inRating:
		c.customerRating(ctx, f)
	case inTranscript:
		c.customerTranscript(ctx, f)
	case inLeaveMessage:
		c.customerLeaveMessage(ctx, f)
	case inArticleOpened:
		c.customerArticleOpened(ctx, f)
	case inSync:
		c.push(outItem{kind: itemSync, conv: c.convID.Load(), seq: max(0, f.AfterSeq)})
	case inPing:
		c.pushFrame(simpleFrame{Type: "pong"})
	default:
		c.pushError(f.Type, codeUnknownType, "unknown frame type "+quoteType(f.Type), "")
	}
	return true
}

func quoteType(t string) string {
	if len(t) > 40 {
		t = t[:40]
	}
	return "\"" + strings.ToValidUTF8(t, "") + "\""
}

// customerHello identifies the visitor, opens (or resumes) their
// conversation and starts delivery: the welcome is queued, then the
// connection follows the conversation, then the read of the stored
// messages is queued. A message stored meanwhile is either in that read
// or arrives live after it, and the per-conversation cursor drops the
// second copy (live events before the read are skipped: the read has
// them).
func (c *conn) customerHello(ctx context.Context, f *inFrame) bool {
	s := c.svc
	if c.live {
		c.pushError(inHello, codeBadFrame, "hello was already received on this connection", "")
		return true
	}
	name, err := cleanLine("name", f.Name, MaxNameLen, false)
	if err != nil {
		c.pushErr(inHello, err, "")
		return true
	}
	email, err := cleanEmail(f.Email, false)
	if err != nil {
		c.pushErr(inHello, err, "")
		return true
	}
	token := f.Visitor
	var visitorID int64
	if token != "" {
		visitorID, err = s.Visitor(ctx, token)
		switch {
		case errors.Is(err, ErrBadVisitor):
			token = "" // unknown token: this browser starts afresh, with nothing of anyone else's
		case err != nil:
			c.pushErr(inHello, err, "")
			return true
		}
	}
	if token == "" {
		var hash []byte
		token, hash = newVisitorToken()
		if visitorID, err = s.store.CreateVisitor(ctx, hash, s.now()); err != nil {
			c.pushErr(inHello, err, "")
			return true
		}
	}
	conv, err := s.store.OpenConversation(ctx, visitorID, name, email, s.now())
	if err != nil {
		c.pushErr(inHello, err, "")
		return true
	}
	c.visitorID = visitorID
	c.convID.Store(conv.ID)
	c.convOpen = conv.Status == StatusOpen
	c.author = conv.CustomerName
	c.live = true
	_ = c.ws.SetReadDeadline(time.Now().Add(s.limits.PongWait))

	after := f.AfterSeq
	if after < 0 || after > conv.LastSeq || (f.Conversation != 0 && f.Conversation != conv.ID) {
		after = 0 // the client's cursor belongs to another conversation
	}
	// The welcome is queued before the connection follows the
	// conversation, so it is the first frame whatever happens live.
	av := s.Availability(ctx)
	c.pushFrame(welcomeFrame{Type: "welcome", Visitor: token, Conversation: conv.ID,
		ChatAvailable: av.Available, Status: conv.Status, LastSeq: conv.LastSeq})
	if err := c.follow(ctx, convTopic(conv.ID)); err != nil {
		if ctx.Err() == nil {
			c.logger().Warn("chat: subscribe failed", "err", err)
			c.pushError(inHello, codeInternal, "chat is temporarily unavailable; reconnect shortly", "")
			c.closeWith(fws.CloseTryAgainLater, "try again later")
		}
		return true
	}
	// The connection follows the conversation now, so a message stored
	// from here on arrives live; whether anything older than that is
	// missing is one read away.
	if now, err := s.store.Conversation(ctx, conv.ID); err == nil && now.LastSeq <= after {
		c.push(outItem{kind: itemStart, conv: conv.ID, seq: after})
	} else {
		c.push(outItem{kind: itemSync, conv: conv.ID, seq: after})
	}
	switch conv.Status {
	case StatusOpen:
		if !av.Available {
			c.pushFrame(av.frame())
		}
	case StatusWaiting:
		if q, ok := s.queuePosition(ctx, conv.ID); ok {
			c.pushFrame(q)
		}
	case StatusActive:
		if name, err := s.store.AgentName(ctx, conv.AgentID); err == nil {
			c.pushFrame(assignedCustomerFrame{Type: "assigned", Conversation: conv.ID, Agent: agentJSON{Name: name}})
		}
	}
	return true
}

func (c *conn) customerMessage(ctx context.Context, f *inFrame) {
	s := c.svc
	clientID, text, ok := c.checkMessage(f)
	if !ok {
		return
	}
	enter := false
	var av Availability
	if c.convOpen {
		av = s.Availability(ctx)
		enter = av.Available
	}
	author := c.author
	if author == "" {
		author = "Customer"
	}
	res, err := s.store.Append(ctx, NewMessage{ConversationID: c.convID.Load(), From: FromCustomer,
		Author: author, ClientID: clientID, Text: text, Attachments: f.Attachments, EnterQueue: enter}, s.now())
	if err != nil {
		c.pushErr(inMessage, err, clientID)
		if errors.Is(err, ErrUnavailable) {
			c.pushFrame(av.frame())
		}
		return
	}
	c.pushFrame(ackFrame{Type: "ack", ClientID: clientID, Seq: res.Message.Seq, Duplicate: res.Duplicate})
	if res.Duplicate {
		return
	}
	s.m.messages.WithLabelValues(string(FromCustomer)).Inc()
	s.publishMessage(ctx, res.Message)
	c.convOpen = false // a stored customer message means queued, now or before
	if res.Queued {
		s.kickRouting(true)
		c.suggest(ctx, text, true)
	}
}

func (c *conn) customerTyping(ctx context.Context, f *inFrame) {
	now := time.Now()
	conv := c.convID.Load()
	if now.Sub(c.lastTyping) >= time.Second {
		c.lastTyping = now
		c.svc.publishFrame(ctx, convTopic(conv), toAgent, c.id, typingFrame{Type: "typing", Conversation: conv, From: FromCustomer})
	}
	if f.Text != "" {
		c.suggest(ctx, f.Text, false)
	}
}

// suggest sends FAQ articles matching what the customer types while no
// agent has joined. Without force it runs at most once a second and only
// for new text.
func (c *conn) suggest(ctx context.Context, text string, force bool) {
	s := c.svc
	if s.suggester == nil {
		return
	}
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) < 3 {
		return
	}
	if len(text) > faq.MaxQueryLen {
		text = strings.ToValidUTF8(text[:faq.MaxQueryLen], "")
	}
	now := time.Now()
	if !force && (now.Sub(c.lastSuggest) < time.Second || text == c.lastQuery) {
		return
	}
	c.lastSuggest, c.lastQuery = now, text
	conv, err := s.store.Conversation(ctx, c.convID.Load())
	if err != nil || conv.AgentJoined || conv.Status == StatusClosed {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := s.suggester.Search(sctx, faq.Query{Text: text, Limit: 3})
	if err != nil {
		if apperr.KindOf(err) == apperr.KindInternal {
			c.logger().Warn("chat: suggestions failed", "err", err)
		}
		return
	}
	if len(res.Results) == 0 {
		return
	}
	f := suggestionsFrame{Type: "suggestions", Articles: make([]suggestionJSON, 0, len(res.Results))}
	for _, h := range res.Results {
		f.Articles = append(f.Articles, suggestionJSON{Slug: h.Slug, Title: h.Title, URL: h.URL})
	}
	s.m.suggestions.Inc()
	c.pushFrame(f)
}

func (c *conn) customerRead(ctx context.Context, f *inFrame) {
	conv := c.convID.Load()
	seq, err := c.svc.store.MarkRead(ctx, conv, FromCustomer, f.Seq, c.svc.now())
	if err != nil {
		c.pushErr(inRead, err, "")
		return
	}
	c.svc.publishFrame(ctx, convTopic(conv), toAgent, "", readFrame{Type: "read", Conversation: conv, By: FromCustomer, Seq: seq})
}

func (c *conn) customerClose(ctx context.Context) {
	res, err := c.svc.store.Close(ctx, c.convID.Load(), FromCustomer, AgentRef{}, c.svc.now())
	if err != nil {
		c.pushErr(inClose, err, "")
		return
	}
	c.svc.afterClose(ctx, res)
}

// afterClose tells everyone a conversation ended.
func (s *Service) afterClose(ctx context.Context, res CloseResult) {
	id := res.Conversation.ID
	s.m.closed.Inc()
	if res.Conversation.Deflected {
		s.m.deflected.Inc()
	}
	s.publishMessage(ctx, res.Message)
	s.publish(ctx, convTopic(id), event{Kind: evEnd, Conv: id,
		Frame: mustJSON(endedFrame{Type: "ended", Conversation: id, By: res.Conversation.ClosedBy})})
	if res.WithdrawnTo != 0 {
		s.publishFrame(ctx, agentTopic(res.WithdrawnTo), "", "", offerWithdrawnFrame{Type: "offer_withdrawn", Conversation: id, Reason: "closed"})
	}
	s.kickRouting(true)
}

func (c *conn) customerRating(ctx context.Context, f *inFrame) {
	if f.Score < 1 || f.Score > 5 {
		c.pushErr(inRating, apperr.Invalid("score must be a whole number from 1 to 5"), "")
		return
	}
	comment, err := cleanText("comment", f.Comment, MaxCommentLen, true)
	if err != nil {
		c.pushErr(inRating, err, "")
		return
	}
	cv, err := c.ownConversation(ctx, f.Conversation)
	if err != nil {
		c.pushErr(inRating, err, "")
		return
	}
	if err := c.svc.store.Rate(ctx, cv.ID, f.Score, comment, c.svc.now()); err != nil {
		c.pushErr(inRating, err, "")
		return
	}
	c.pushFrame(simpleFrame{Type: "rated", Conversation: cv.ID, Score: f.Score})
}

// ownConversation is the conversation a rating or transcript frame is
// about: the one given, which must be the visitor's own (a chat that
// ended before a reload, say), or else the current one.
func (c *conn) ownConversation(ctx context.Context, id int64) (Conversation, error) {
	if id == 0 {
		id = c.convID.Load()
	}
	cv, err := c.svc.store.Conversation(ctx, id)
	if err != nil {
		return Conversation{}, err
	}
	if cv.VisitorID != c.visitorID {
		return Conversation{}, ErrNotFound // the same answer as for one that does not exist
	}
	return cv, nil
}

func (c *conn) customerTranscript(ctx context.Context, f *inFrame) {
	s := c.svc
	if s.mailer == nil {
		c.pushErr(inTranscript, ErrNoMailer, "")
		return
	}
	if time.Since(c.lastTranscript) < time.Minute {
		c.pushError(inTranscript, codeRateLimited, "a transcript was sent less than a minute ago", "")
		return
	}
	conv, err := c.ownConversation(ctx, f.Conversation)
	if err != nil {
		c.pushErr(inTranscript, err, "")
		return
	}
	to := conv.CustomerEmail
	if to == "" {
		// Only a conversation without an address may be given one; the
		// transcript never goes anywhere but the customer's own address.
		if to, err = cleanEmail(f.Email, true); err != nil {
			c.pushErr(inTranscript, err, "")
			return
		}
		if err := s.store.SetCustomerEmail(ctx, conv.ID, to, s.now()); err != nil {
			c.pushErr(inTranscript, err, "")
			return
		}
		conv.CustomerEmail = to
	}
	msgs, err := s.allMessages(ctx, conv.ID)
	if err != nil {
		c.pushErr(inTranscript, err, "")
		return
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.mailer.SendTranscript(mctx, to, conv, msgs); err != nil {
		c.pushErr(inTranscript, apperr.Internal("send transcript", err), "")
		return
	}
	c.lastTranscript = time.Now()
	c.pushFrame(simpleFrame{Type: "transcript_sent", Conversation: conv.ID, Email: to})
}

// allMessages reads a whole conversation.
func (s *Service) allMessages(ctx context.Context, conv int64) ([]Message, error) {
	var out []Message
	after := int64(0)
	for {
		page, err := s.store.Messages(ctx, conv, after, 500)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
}

func (c *conn) customerLeaveMessage(ctx context.Context, f *inFrame) {
	s := c.svc
	if s.tickets == nil {
		c.pushErr(inLeaveMessage, ErrNoTickets, f.ClientID)
		return
	}
	name, err := cleanLine("name", f.Name, MaxNameLen, true)
	if err != nil {
		c.pushErr(inLeaveMessage, err, f.ClientID)
		return
	}
	email, err := cleanEmail(f.Email, true)
	if err != nil {
		c.pushErr(inLeaveMessage, err, f.ClientID)
		return
	}
	text, err := cleanText("text", f.Text, MaxOfflineTextLen, false)
	if err != nil {
		c.pushErr(inLeaveMessage, err, f.ClientID)
		return
	}
	if len(f.ClientID) > MaxClientIDLen {
		c.pushErr(inLeaveMessage, apperr.Invalid("client_id must be at most %d bytes", MaxClientIDLen), "")
		return
	}
	conv := c.convID.Load()
	if f.ClientID != "" {
		if id, ok, err := s.store.OfflineTicket(ctx, conv, f.ClientID); err != nil {
			c.pushErr(inLeaveMessage, err, f.ClientID)
			return
		} else if ok {
			c.pushFrame(simpleFrame{Type: "message_left", Conversation: conv, TicketID: id})
			return
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, err := s.tickets.CreateFromChat(tctx, OfflineMessage{ConversationID: conv, Name: name, Email: email, Text: text, At: s.now()})
	if err != nil {
		if apperr.KindOf(err) == apperr.KindInternal {
			err = apperr.Internal("create ticket from chat", err)
		}
		c.pushErr(inLeaveMessage, err, f.ClientID)
		return
	}
	if err := s.store.SaveOfflineTicket(ctx, conv, f.ClientID, id, s.now()); err != nil {
		c.logger().Error("chat: ticket made but not recorded on the conversation", "ticket", id, "err", err)
	}
	if err := s.store.SetCustomerEmail(ctx, conv, email, s.now()); err != nil {
		c.logger().Warn("chat: store email", "err", err)
	}
	s.m.offline.Inc()
	c.pushFrame(simpleFrame{Type: "message_left", Conversation: conv, TicketID: id})
}

func (c *conn) customerArticleOpened(ctx context.Context, f *inFrame) {
	if !kb.ValidSlug(f.Slug) {
		c.pushErr(inArticleOpened, apperr.Invalid("slug is not a valid article slug"), "")
		return
	}
	if err := c.svc.store.ArticleOpened(ctx, c.convID.Load(), f.Slug, c.svc.now()); err != nil {
		c.pushErr(inArticleOpened, err, "")
	}
}
