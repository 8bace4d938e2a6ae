package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/printshop/helpdesk/internal/mail"
)

var _ mail.UIDStore = (*Service)(nil)

// LoadUID returns the IMAP position saved for a polled mailbox (zero values
// for one never polled). With SaveUID it makes the Service the
// mail.UIDStore of the IMAP pollers: the position lives in the database
// next to the tickets, so processes sharing the database share it.
func (s *Service) LoadUID(ctx context.Context, key string) (uidValidity, lastUID uint32, err error) {
	var v string
	err = s.db.R.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, "imap_uid:"+key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("tickets: load imap position: %w", err)
	}
	if _, err := fmt.Sscanf(v, "%d:%d", &uidValidity, &lastUID); err != nil {
		return 0, 0, fmt.Errorf("tickets: imap position %q: %w", v, err)
	}
	return uidValidity, lastUID, nil
}

// SaveUID records the IMAP position of a polled mailbox.
func (s *Service) SaveUID(ctx context.Context, key string, uidValidity, lastUID uint32) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			"imap_uid:"+key, fmt.Sprintf("%d:%d", uidValidity, lastUID), fmtTime(s.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("tickets: save imap position: %w", err)
	}
	return nil
}
