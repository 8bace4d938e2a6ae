package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/printshop/helpdesk/internal/mail"
)

// Outbound queue states.
const (
	OutQueued  = "queued"
	OutSending = "sending"
	OutSent    = "sent"
	OutFailed  = "failed"
)

// Retry policy for temporary send failures: exponential backoff from
// retryBase, capped at retryCap, each delay spread by ±20% so that mail
// queued during one relay outage does not retry in lockstep. sendLease is
// how long a claimed message is reserved for the process sending it; a
// process that dies mid-send leaves the message to be sent again once the
// lease runs out.
const (
	retryBase = 30 * time.Second
	retryCap  = time.Hour
	sendLease = 5 * time.Minute
)

// outMail is a composed email about to be queued.
type outMail struct {
	ticketID      int64
	ticketMessage int64 // the ticket message it carries, 0 for automatic mail
	kind          string
	automatic     bool
	out           mail.Outgoing // what was composed: envelope and caps are taken from it
	raw           []byte
	messageID     string
}

// compose renders out with our Message-ID domain and loop header.
func (s *Service) compose(out mail.Outgoing) ([]byte, string, error) {
	return mail.Compose(out, mail.ComposeOptions{Domain: s.mailDomain, LoopID: s.opts.LoopID, Now: s.now})
}

// enqueue stores a composed email in the outbound queue inside the
// caller's transaction. The caller wakes the worker after commit.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, o outMail, now time.Time) error {
	var rcpts []string
	seen := map[string]bool{}
	for _, a := range append(append([]mail.Address(nil), o.out.To...), o.out.Cc...) {
		addr := strings.ToLower(a.Address)
		if addr != "" && !seen[addr] {
			seen[addr] = true
			rcpts = append(rcpts, addr)
		}
	}
	if len(rcpts) == 0 {
		return errors.New("outbound mail has no recipients")
	}
	var tm, tid any
	if o.ticketMessage != 0 {
		tm = o.ticketMessage
	}
	if o.ticketID != 0 {
		tid = o.ticketID
	}
	// The envelope sender is the inbox, so bounces come back to us and are
	// filed against the message that bounced.
	_, err := tx.ExecContext(ctx, `INSERT INTO outbound_mail (ticket_id, ticket_message, message_id, kind, automatic,
		envelope_from, rcpt_to, rcpts, raw, status, attempts, next_attempt_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)`,
		tid, tm, o.messageID, o.kind, o.automatic, strings.ToLower(o.out.From.Address), rcpts[0], jsonList(rcpts), o.raw,
		fmtTime(now), fmtTime(now), fmtTime(now))
	return err
}

// outboundLoop sends due mail until ctx ends. It is woken by nudge after a
// commit that queued mail, and otherwise polls every PollInterval (or
// sooner when a retry is due sooner).
func (s *Service) outboundLoop(ctx context.Context) {
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("tickets: outbound queue", "err", err)
		}
		wait := s.opts.PollInterval
		if next, ok, err := s.nextAttempt(ctx); err == nil && ok {
			if d := next.Sub(s.now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// nextAttempt returns when the earliest queued message is due.
func (s *Service) nextAttempt(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullString
	if err := s.db.R.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM outbound_mail WHERE status = 'queued'`).Scan(&next); err != nil {
		return time.Time{}, false, err
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	t, err := parseTime(next.String)
	return t, err == nil, err
}

// claimed is an outbound message reserved for sending by this process.
type claimed struct {
	id           int64
	messageID    string
	envelopeFrom string
	rcpts        []string
	raw          []byte
	attempts     int
	created      time.Time
	lease        string
}

// SendDue sends every outbound message that is due now, one at a time, and
// returns how many were sent. A message is marked sent only after the
// Sender returned nil; a temporary failure schedules a retry with backoff,
// and a permanent one (mail.PermanentError), or one still failing after
// OutboundMaxAge, marks it failed. Run calls SendDue; tests and tools may
// call it directly. It stops early, without error, when ctx ends.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		c, ok, err := s.claim(ctx)
		if err != nil {
			return sent, err
		}
		if !ok {
			return sent, nil
		}
		sendCtx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
		serr := s.opts.Sender.Send(sendCtx, c.envelopeFrom, c.rcpts, c.raw)
		cancel()
		if serr != nil && ctx.Err() != nil {
			// Shutting down mid-send: leave the lease to run out so the
			// message is tried again, rather than count a failure that
			// was ours.
			return sent, nil
		}
		if err := s.settle(ctx, c, serr); err != nil {
			return sent, err
		}
		if serr == nil {
			sent++
		}
	}
	return sent, nil
}

// claim reserves the next due message: a queued one whose time has come,
// or one left 'sending' by a process whose lease ran out.
func (s *Service) claim(ctx context.Context) (claimed, bool, error) {
	now := s.now()
	c := claimed{lease: fmtTime(now.Add(sendLease))}
	var rcpts, created string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `UPDATE outbound_mail
			SET status = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?
			WHERE id = (SELECT id FROM outbound_mail
				WHERE (status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?)
				ORDER BY next_attempt_at, id LIMIT 1)
			RETURNING id, message_id, envelope_from, rcpts, raw, attempts, created_at`,
			c.lease, fmtTime(now), fmtTime(now), fmtTime(now)).
			Scan(&c.id, &c.messageID, &c.envelopeFrom, &rcpts, &c.raw, &c.attempts, &created)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return claimed{}, false, nil
	}
	if err != nil {
		return claimed{}, false, err
	}
	if err := json.Unmarshal([]byte(rcpts), &c.rcpts); err != nil {
		return claimed{}, false, err
	}
	if c.created, err = parseTime(created); err != nil {
		return claimed{}, false, err
	}
	return c, true, nil
}

// settle records the outcome of one send. The update only applies while
// this process still holds the lease, and never overrides a bounce that
// already marked the message failed.
func (s *Service) settle(ctx context.Context, c claimed, serr error) error {
	now := s.now()
	var (
		q    string
		args []any
		log  = s.log.With("outbound_id", c.id, "message_id", c.messageID, "attempt", c.attempts)
	)
	var pe *mail.PermanentError
	partial := errors.As(serr, &pe) && len(pe.Recipients) > 0
	switch {
	case partial:
		// The relay took the message for the other recipients: it is
		// sent, and trying again would send it to them twice.
		s.m.outbound.WithLabelValues("sent").Inc()
		log.Warn("tickets: outbound mail refused for some recipients", "err", redact(serr))
		q = `UPDATE outbound_mail SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = ?, updated_at = ?
			WHERE id = ? AND status = 'sending' AND lease_until = ?`
		args = []any{fmtTime(now), redact(serr), fmtTime(now), c.id, c.lease}
	case serr == nil:
		s.m.outbound.WithLabelValues("sent").Inc()
		q = `UPDATE outbound_mail SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = '', updated_at = ?
			WHERE id = ? AND status = 'sending' AND lease_until = ?`
		args = []any{fmtTime(now), fmtTime(now), c.id, c.lease}
	case isPermanent(serr) || now.Sub(c.created) >= s.opts.OutboundMaxAge:
		s.m.outbound.WithLabelValues("failed").Inc()
		log.Warn("tickets: outbound mail failed for good", "err", redact(serr))
		q = `UPDATE outbound_mail SET status = 'failed', lease_until = NULL, last_error = ?, updated_at = ?
			WHERE id = ? AND status = 'sending' AND lease_until = ?`
		args = []any{redact(serr), fmtTime(now), c.id, c.lease}
	default:
		s.m.outbound.WithLabelValues("retry").Inc()
		next := now.Add(backoff(c.attempts))
		log.Info("tickets: outbound mail will be retried", "err", redact(serr), "next_attempt_at", next)
		q = `UPDATE outbound_mail SET status = 'queued', next_attempt_at = ?, lease_until = NULL, last_error = ?, updated_at = ?
			WHERE id = ? AND status = 'sending' AND lease_until = ?`
		args = []any{fmtTime(next), redact(serr), fmtTime(now), c.id, c.lease}
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
}

// isPermanent reports whether a send error says retrying cannot help.
func isPermanent(err error) bool {
	var pe *mail.PermanentError
	return errors.As(err, &pe)
}

// backoff is the delay before retry number attempts+1.
func backoff(attempts int) time.Duration {
	d := retryBase
	for i := 1; i < attempts && d < retryCap; i++ {
		d *= 2
	}
	d = min(d, retryCap)
	// ±20% jitter.
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// credentials in URLs ("smtp://user:secret@host") and AUTH exchanges must
// not reach the database or the logs.
var (
	urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)
	authLine    = regexp.MustCompile(`(?i)\b(auth(?:enticate)?\s+(?:plain|login|cram-md5|xoauth2)?)\s+\S+`)
)

// redact makes a send error safe to store and show: credentials removed,
// one line, bounded length.
func redact(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	s = urlUserinfo.ReplaceAllString(s, "${1}***@")
	s = authLine.ReplaceAllString(s, "${1} ***")
	s = strings.Join(strings.Fields(s), " ")
	return truncate(s, 500)
}

// OutboundStatus is one queued email, for tests and the admin.
type OutboundStatus struct {
	ID            int64
	TicketID      int64
	MessageID     string
	Kind          string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	Raw           []byte
}

// Outbound returns the outbound mail of a ticket, oldest first.
func (s *Service) Outbound(ctx context.Context, ticketID int64) ([]OutboundStatus, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, COALESCE(ticket_id, 0), message_id, kind, status, attempts, next_attempt_at, last_error, raw
		FROM outbound_mail WHERE ticket_id = ? ORDER BY id`, ticketID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OutboundStatus
	for rows.Next() {
		var o OutboundStatus
		var next string
		if err := rows.Scan(&o.ID, &o.TicketID, &o.MessageID, &o.Kind, &o.Status, &o.Attempts, &next, &o.LastError, &o.Raw); err != nil {
			return nil, err
		}
		if o.NextAttemptAt, err = parseTime(next); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
