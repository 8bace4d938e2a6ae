package tickets

import (
	"context"
	"database/sql"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/printshop/helpdesk/internal/mail"
)

// defaultAckText returns the built-in acknowledgement for a queue: the
// contract's default queues each get their own wording, any other queue the
// generic one.
func defaultAckText(queue string) string {
	intro := "Thank you for contacting {{queue}}. We have received your message and opened request #{{ticket_id}}. An agent will answer as soon as possible during our support hours."
	switch queue {
	case "Corporate Sales":
		intro = "Thank you for your interest in our corporate programme. We have received your message as request #{{ticket_id}}, and a member of our corporate sales team will contact you shortly, usually within one business day."
	case "School & Government":
		intro = "Thank you for contacting our School & Government team. We have received your message as request #{{ticket_id}}. A specialist for education and public-sector accounts will answer soon; please keep any purchase order or quote number at hand."
	}
	return "Hello {{customer_name}},\n\n" + intro + "\n\n" +
		"To add information, just reply to this email and keep [#{{ticket_id}}] in the subject.\n\n" +
		"{{faq_block}}" +
		"Kind regards,\n{{queue}}\n"
}

// AckPlaceholders are the placeholders an acknowledgement text may use.
var AckPlaceholders = []string{"{{customer_name}}", "{{ticket_id}}", "{{queue}}", "{{subject}}", "{{faq_url}}", "{{faq_block}}"}

// AckSetting is one inbox's acknowledgement as an admin set it while the
// helpdesk runs (package settings stores it). It takes precedence over
// Options.AckEnabled and Options.AckText for tickets opened by mail to that
// inbox.
type AckSetting struct {
	Enabled bool
	Text    string // "" means the text the options give (or the built-in one)
}

// SetAcks replaces every runtime acknowledgement setting, keyed by inbox
// address (any case). Inboxes not in m go back to what the options say. It
// is safe to call while mail is being ingested; m is copied.
func (s *Service) SetAcks(m map[string]AckSetting) {
	c := make(map[string]AckSetting, len(m))
	for addr, a := range m {
		c[strings.ToLower(strings.TrimSpace(addr))] = a
	}
	s.acks.Store(&c)
}

// Acks returns a copy of the runtime acknowledgement settings given to
// SetAcks, keyed by lowercased inbox address.
func (s *Service) Acks() map[string]AckSetting {
	if m := s.acks.Load(); m != nil {
		return maps.Clone(*m)
	}
	return map[string]AckSetting{}
}

// BaseAck returns the acknowledgement of mail to an inbox as the options
// alone configure it, ignoring SetAcks: whether it is sent, and its text
// (the built-in one when the options give none). ok is false for an address
// that is not an inbox.
func (s *Service) BaseAck(address string) (a AckSetting, ok bool) {
	in, ok := s.byAddr[strings.ToLower(strings.TrimSpace(address))]
	if !ok {
		return AckSetting{}, false
	}
	return AckSetting{Enabled: s.ackEnabled(in.Queue), Text: s.baseAckText(in.Queue)}, true
}

// ackEnabled reports whether new tickets in queue are acknowledged, by the
// options alone.
func (s *Service) ackEnabled(queue string) bool {
	if on, ok := s.opts.AckEnabled[queue]; ok {
		return on
	}
	return !strings.EqualFold(queue, AbuseQueue)
}

// baseAckText is the acknowledgement text for queue by the options alone.
func (s *Service) baseAckText(queue string) string {
	if text, ok := s.opts.AckText[queue]; ok && strings.TrimSpace(text) != "" {
		return text
	}
	return defaultAckText(queue)
}

// ackFor returns whether a new ticket that came in to inbox in queue is
// acknowledged and with which text: the runtime setting of the inbox if
// there is one, else the options.
func (s *Service) ackFor(inbox, queue string) (bool, string) {
	if m := s.acks.Load(); m != nil {
		if a, ok := (*m)[strings.ToLower(inbox)]; ok {
			if strings.TrimSpace(a.Text) == "" {
				return a.Enabled, s.baseAckText(queue)
			}
			return a.Enabled, a.Text
		}
	}
	return s.ackEnabled(queue), s.baseAckText(queue)
}

// faqURL links the help-center search for a subject; "" without a public
// URL or a subject.
func (s *Service) faqURL(subject string) string {
	subject = cleanSubject(subject)
	if s.opts.PublicURL == "" || subject == "" {
		return ""
	}
	return strings.TrimRight(s.opts.PublicURL, "/") + "/search?q=" + url.QueryEscape(subject)
}

// customerName is how we address the requester in mail when we know no name.
func customerName(p Person) string {
	if n := strings.TrimSpace(p.Name); n != "" {
		return n
	}
	return "there"
}

// noReply reports whether addr is an address nobody reads, which must never
// get automatic mail.
func noReply(addr string) bool {
	local, _, _ := strings.Cut(strings.ToLower(addr), "@")
	for _, p := range []string{"mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "bounce"} {
		if strings.HasPrefix(local, p) {
			return true
		}
	}
	return false
}

// acknowledge queues the automatic "we got your message" email for a new
// ticket, unless the queue does not acknowledge, the requester is one of us
// or a no-reply address, or the requester already got too much automatic
// mail from us recently (AutoMailPer10Min, AutoMailPerHour). Skips are
// logged and counted, never errors.
func (s *Service) acknowledge(ctx context.Context, tx *sql.Tx, t Ticket, msg *mail.Message, now time.Time) (bool, error) {
	to := t.Requester.Email
	enabled, text := s.ackFor(t.Inbox, t.Queue)
	skip := func(reason string) (bool, error) {
		s.m.ackSkip.WithLabelValues(reason).Inc()
		s.log.InfoContext(ctx, "tickets: acknowledgement not sent", "ticket", t.ID, "reason", reason)
		return false, nil
	}
	switch {
	case !enabled:
		return skip("queue")
	case to == "" || !strings.Contains(to, "@"):
		return skip("no_address")
	case s.isOurAddress(to) || noReply(to):
		return skip("no_reply_address")
	}
	if capped, err := autoMailCapped(ctx, tx, to, now); err != nil {
		return false, err
	} else if capped {
		return skip("rate_limit")
	}

	faq := s.faqURL(t.Subject)
	faqBlock := ""
	if faq != "" {
		faqBlock = "While you wait, our help center may already have the answer:\n" + faq + "\n\n"
	}
	body := strings.NewReplacer(
		"{{customer_name}}", customerName(t.Requester),
		"{{ticket_id}}", strconv.FormatInt(t.ID, 10),
		"{{queue}}", t.Queue,
		"{{subject}}", t.Subject,
		"{{faq_url}}", faq,
		"{{faq_block}}", faqBlock,
	).Replace(text)

	replyTo := mail.Address{Address: plusAddress(t.Inbox, t.ID)}
	out := mail.Outgoing{
		From:      mail.Address{Name: t.Queue, Address: t.Inbox},
		To:        []mail.Address{{Name: t.Requester.Name, Address: to}},
		ReplyTo:   &replyTo,
		Subject:   "[#" + strconv.FormatInt(t.ID, 10) + "] " + t.Subject,
		Text:      body,
		Automatic: true,
		Date:      now,
	}
	if msg.MessageID != "" {
		out.InReplyTo = msg.MessageID
		out.References = append(append([]string(nil), msg.References...), msg.MessageID)
	}
	raw, mid, err := s.compose(out)
	if err != nil {
		// Customer-supplied names, subjects and Message-IDs end up in
		// these headers; one that cannot be written must cost the
		// acknowledgement, never the message (failing here would refuse
		// the mail and have it retried forever).
		s.log.WarnContext(ctx, "tickets: acknowledgement cannot be composed", "ticket", t.ID, "err", err)
		return skip("compose")
	}
	if err := s.enqueue(ctx, tx, outMail{ticketID: t.ID, kind: "ack", automatic: true, out: out, raw: raw, messageID: mid}, now); err != nil {
		return false, err
	}
	return true, nil
}

// autoMailCapped reports whether to already got as much automatic mail
// from us as the caps allow (AutoMailPer10Min, AutoMailPerHour). It runs
// inside the caller's write transaction, so concurrent senders count each
// other.
func autoMailCapped(ctx context.Context, tx *sql.Tx, to string, now time.Time) (bool, error) {
	var last10, lastHour int
	if err := tx.QueryRowContext(ctx, `SELECT
			COUNT(*) FILTER (WHERE created_at >= ?),
			COUNT(*)
		FROM outbound_mail WHERE automatic = 1 AND rcpt_to = ? AND created_at >= ?`,
		fmtTime(now.Add(-10*time.Minute)), to, fmtTime(now.Add(-time.Hour))).Scan(&last10, &lastHour); err != nil {
		return false, err
	}
	return last10 >= AutoMailPer10Min || lastHour >= AutoMailPerHour, nil
}
