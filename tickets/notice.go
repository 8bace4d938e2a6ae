package tickets

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/mail"
)

// ErrNoticeLimit is returned by SendNotice when the recipient already got
// as much automatic mail from us as the caps allow.
var ErrNoticeLimit = apperr.New(apperr.KindTooMany, "too many automatic emails to this address recently; try again later")

// SendNotice queues an automatic email that belongs to no ticket, such as a
// chat transcript a customer asked for. It goes out from the first inbox
// through the outbound queue (retried, never lost), marked Auto-Submitted,
// and counts against the same per-recipient caps as acknowledgements
// (AutoMailPer10Min, AutoMailPerHour), so the feature cannot be used to
// flood an address. It is stored with kind 'ack', the queue's kind for
// automatic mail.
func (s *Service) SendNotice(ctx context.Context, to mail.Address, subject, text string) error {
	to.Address = strings.ToLower(strings.TrimSpace(to.Address))
	if to.Address == "" || s.isOurAddress(to.Address) || noReply(to.Address) {
		return apperr.Invalid("no address to send to")
	}
	in := s.inboxes[0]
	out := mail.Outgoing{
		From:      mail.Address{Name: in.Queue, Address: in.Address},
		To:        []mail.Address{to},
		Subject:   subject,
		Text:      text,
		Automatic: true,
	}
	raw, id, err := s.compose(out)
	if err != nil {
		if errors.Is(err, mail.ErrInvalidAddress) {
			return apperr.Invalid("the email address cannot receive mail from us")
		}
		return apperr.Internal("tickets: compose notice", err)
	}
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if capped, err := autoMailCapped(ctx, tx, to.Address, now); err != nil {
			return err
		} else if capped {
			return ErrNoticeLimit
		}
		return s.enqueue(ctx, tx, outMail{kind: "ack", automatic: true, out: out, raw: raw, messageID: id}, now)
	})
	if errors.Is(err, ErrNoticeLimit) {
		return err
	}
	if err != nil {
		return apperr.Internal("tickets: queue notice", err)
	}
	s.nudge()
	return nil
}
