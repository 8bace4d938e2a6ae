package tickets

import (
	"context"
	"database/sql"
	"html"
	netmail "net/mail"
	"strconv"
	"strings"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/mail"
)

// maxReferences bounds the References header of a reply: the first message
// of the thread plus the latest ones, as RFC 5322 suggests trimming.
const maxReferences = 20

// ReplyInput is an agent's email reply.
type ReplyInput struct {
	Text     string   // the reply; or
	CannedID int64    // a canned response to render and send instead
	Cc       []string // addresses to add to the ticket's participants (and copy)
	Status   *Status  // status afterwards; nil means pending (waiting for the customer)
}

// Reply sends an email reply to the ticket's requester, copying its
// participants. The reply is stored and its email queued in one
// transaction; the worker in Run sends it. The first reply sets the
// ticket's first response time. It returns ErrNotFound, ErrCannedNotFound,
// ErrClosed, ErrNoRequester, a transition error for a forbidden status, and
// apperr.KindInvalid errors for bad input.
func (s *Service) Reply(ctx context.Context, actor auth.Agent, ticketID int64, in ReplyInput) (Message, error) {
	if in.CannedID != 0 && strings.TrimSpace(in.Text) != "" {
		return Message{}, apperr.Invalid("give either text or canned_id, not both")
	}
	status := StatusPending
	if in.Status != nil {
		if !in.Status.Valid() {
			return Message{}, apperr.Invalid("status %q is not one of new, open, pending, solved, closed", *in.Status)
		}
		status = *in.Status
	}
	cc, err := s.parseCc(in.Cc)
	if err != nil {
		return Message{}, err
	}
	text := in.Text
	if in.CannedID == 0 {
		if text, err = validText("text", text); err != nil {
			return Message{}, err
		}
	}
	now := s.now()
	var out Message
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		t, err := getTicket(ctx, tx, ticketID)
		if err != nil {
			return err
		}
		if t.Status == StatusClosed {
			return ErrClosed
		}
		if status == StatusNew {
			return &apperr.Error{Kind: apperr.KindConflict, Public: "a replied ticket is no longer new; choose open, pending, solved or closed", Cause: ErrTransition}
		}
		if !t.Status.CanBecome(status) {
			return transitionError(t.Status, status)
		}
		if t.Requester.Email == "" {
			return ErrNoRequester
		}
		if in.CannedID != 0 {
			c, err := getCanned(ctx, tx, in.CannedID)
			if err != nil {
				return err
			}
			if text, err = validText("canned response", renderCanned(c.Body, t, actor)); err != nil {
				return err
			}
		}
		if err := addParticipants(ctx, tx, t.ID, cc, now); err != nil {
			return err
		}
		parts, err := loadParticipants(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		inReplyTo, refs, err := threadIDs(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		from := mail.Address{Name: agentName(actor) + " via " + t.Queue, Address: t.Inbox}
		replyTo := mail.Address{Address: plusAddress(t.Inbox, t.ID)}
		to := []mail.Address{{Name: t.Requester.Name, Address: t.Requester.Email}}
		var ccAddrs []mail.Address
		for _, p := range parts {
			if p.Email != t.Requester.Email {
				ccAddrs = append(ccAddrs, mail.Address{Name: p.Name, Address: p.Email})
			}
		}
		body := textToHTML(text)
		om := mail.Outgoing{
			From:       from,
			To:         to,
			Cc:         ccAddrs,
			ReplyTo:    &replyTo,
			Subject:    replySubject(t.ID, t.Subject),
			InReplyTo:  inReplyTo,
			References: refs,
			Text:       text,
			HTML:       body,
			Date:       now,
		}
		raw, mid, err := s.compose(om)
		if err != nil {
			// An address or header from the customer's mail that cannot
			// be written into a message.
			return &apperr.Error{Kind: apperr.KindConflict, Public: "the reply cannot be sent as email: " + err.Error(), Cause: err}
		}
		out = Message{
			Kind:        KindOutbound,
			From:        Person{Email: from.Address, Name: from.Name},
			AgentID:     &actor.ID,
			To:          toPeople(to),
			Cc:          toPeople(ccAddrs),
			Subject:     om.Subject,
			Text:        text,
			HTML:        body,
			Attachments: []Attachment{},
			Warnings:    []string{},
			MessageID:   mid,
			Delivery:    OutQueued,
			CreatedAt:   now,
		}
		if out.ID, err = insertMessage(ctx, tx, newMessage{
			ticketID: t.ID, kind: KindOutbound, messageID: mid, inReplyTo: inReplyTo, refs: refs,
			from: out.From, to: out.To, cc: out.Cc, subject: om.Subject, text: text, html: body,
			agentID: actor.ID, at: now,
		}); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, outMail{ticketID: t.ID, ticketMessage: out.ID, kind: "reply", out: om, raw: raw, messageID: mid}, now); err != nil {
			return err
		}
		if err := setStatus(ctx, tx, t, status, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tickets SET first_response_at = COALESCE(first_response_at, ?), updated_at = ? WHERE id = ?`,
			fmtTime(now), fmtTime(now), t.ID)
		return err
	})
	if err != nil {
		if apperr.KindOf(err) != apperr.KindInternal {
			return Message{}, err
		}
		return Message{}, apperr.Internal("tickets: reply", err)
	}
	s.reindex(ctx, ticketID)
	s.nudge()
	return out, nil
}

// AddNote adds an internal note, never sent to the customer. It returns
// ErrNotFound, or an apperr.KindInvalid error for bad text.
func (s *Service) AddNote(ctx context.Context, actor auth.Agent, ticketID int64, text string) (Message, error) {
	text, err := validText("text", text)
	if err != nil {
		return Message{}, err
	}
	now := s.now()
	m := Message{
		Kind:        KindNote,
		From:        Person{Email: actor.Email, Name: agentName(actor)},
		AgentID:     &actor.ID,
		To:          []Person{},
		Cc:          []Person{},
		Text:        text,
		HTML:        textToHTML(text),
		Attachments: []Attachment{},
		Warnings:    []string{},
		CreatedAt:   now,
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := getTicket(ctx, tx, ticketID); err != nil {
			return err
		}
		var err error
		if m.ID, err = insertMessage(ctx, tx, newMessage{ticketID: ticketID, kind: KindNote, from: m.From,
			text: text, html: m.HTML, agentID: actor.ID, at: now}); err != nil {
			return err
		}
		return touchTicket(ctx, tx, ticketID, now)
	})
	if err != nil {
		if apperr.KindOf(err) != apperr.KindInternal {
			return Message{}, err
		}
		return Message{}, apperr.Internal("tickets: add note", err)
	}
	s.reindex(ctx, ticketID)
	return m, nil
}

// parseCc validates the addresses an agent adds to a reply.
func (s *Service) parseCc(list []string) ([]Person, error) {
	if len(list) > MaxCc {
		return nil, apperr.Invalid("cc may hold at most %d addresses", MaxCc)
	}
	var out []Person
	for _, raw := range list {
		a, err := netmail.ParseAddress(strings.TrimSpace(raw))
		if err != nil || !strings.Contains(a.Address, "@") {
			return nil, apperr.Invalid("cc: %q is not an email address", raw)
		}
		if s.isOurAddress(a.Address) {
			return nil, apperr.Invalid("cc: %q is one of our own inboxes", raw)
		}
		out = append(out, Person{Email: strings.ToLower(a.Address), Name: a.Name})
	}
	return out, nil
}

// threadIDs returns what a reply answers: In-Reply-To is the latest
// customer message (not a bounce or auto-reply when there is a real one),
// References the thread's Message-IDs oldest first, ending with it.
func threadIDs(ctx context.Context, q querier, ticketID int64) (string, []string, error) {
	rows, err := q.QueryContext(ctx, `SELECT message_id, kind, bounce, auto_submitted, created_at, 0 AS src, id FROM ticket_messages
			WHERE ticket_id = ? AND message_id IS NOT NULL
		UNION ALL
		SELECT message_id, 'ack', 0, 1, created_at, 1, id FROM outbound_mail WHERE ticket_id = ? AND kind = 'ack'
		ORDER BY 5, 6, 7`, ticketID, ticketID)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var (
		ids               []string
		lastReal, lastAny string
	)
	for rows.Next() {
		var (
			mid, kind, created string
			bounce, autoSubmit bool
			src, id            int64
		)
		if err := rows.Scan(&mid, &kind, &bounce, &autoSubmit, &created, &src, &id); err != nil {
			return "", nil, err
		}
		if bounce {
			continue
		}
		ids = append(ids, mid)
		if kind == KindInbound {
			lastAny = mid
			if !autoSubmit {
				lastReal = mid
			}
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	parent := lastReal
	if parent == "" {
		parent = lastAny
	}
	var refs []string
	for _, id := range ids {
		if id != parent {
			refs = append(refs, id)
		}
	}
	if parent != "" {
		refs = append(refs, parent)
	}
	if len(refs) > maxReferences {
		refs = append(refs[:1], refs[len(refs)-maxReferences+1:]...)
	}
	return parent, refs, nil
}

// replySubject is "Re: [#id] subject", whatever prefixes and tokens the
// stored subject had.
func replySubject(id int64, subject string) string {
	return "Re: [#" + strconv.FormatInt(id, 10) + "] " + displaySubject(subject)
}

// agentName is how an agent signs mail.
func agentName(a auth.Agent) string {
	if n := strings.TrimSpace(a.Name); n != "" {
		return n
	}
	local, _, _ := strings.Cut(a.Email, "@")
	if local == "" {
		return "Support"
	}
	return local
}

func toPeople(as []mail.Address) []Person {
	out := make([]Person, 0, len(as))
	for _, a := range as {
		out = append(out, Person{Email: strings.ToLower(a.Address), Name: a.Name})
	}
	return out
}

// textToHTML renders an agent's plain text as simple, safe HTML: escaped,
// blank lines as paragraphs, single newlines as line breaks.
func textToHTML(text string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(html.EscapeString(strings.Trim(para, "\n")), "\n", "<br>\n"))
		b.WriteString("</p>\n")
	}
	return b.String()
}
