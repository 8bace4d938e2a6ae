package settings

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// Keys of the settings table.
const (
	keyHours       = "hours"
	keyInboxPrefix = "inbox:"
)

func inboxKey(address string) string { return keyInboxPrefix + strings.ToLower(address) }

// timeLayout is how times are stored: UTC, fixed width, so that string
// order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

type storedRow struct {
	key       string
	value     string
	version   int64
	updatedAt time.Time
}

// snapshot is every stored setting as of one version.
type snapshot struct {
	version int64
	rows    map[string]storedRow
}

// readAll reads the version and every row in one read transaction, so the
// rows are exactly those of that version (WAL gives the transaction one
// snapshot of the database).
func readAll(ctx context.Context, db *sql.DB) (snapshot, error) {
	snap := snapshot{rows: map[string]storedRow{}}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return snap, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	if err := tx.QueryRowContext(ctx, `SELECT version FROM admin_settings_version WHERE id = 1`).Scan(&snap.version); err != nil {
		return snap, fmt.Errorf("read settings version: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT key, value, version, updated_at FROM admin_settings`)
	if err != nil {
		return snap, fmt.Errorf("read settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return snap, err
		}
		snap.rows[r.key] = r
	}
	return snap, rows.Err()
}

// readOne reads one setting; ok is false when it was never saved.
func readOne(ctx context.Context, db *sql.DB, key string) (storedRow, bool, error) {
	r, err := scanRow(db.QueryRowContext(ctx, `SELECT key, value, version, updated_at FROM admin_settings WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return storedRow{}, false, nil
	}
	return r, err == nil, err
}

type rowScanner interface{ Scan(dest ...any) error }

func scanRow(s rowScanner) (storedRow, error) {
	var (
		r  storedRow
		at string
	)
	if err := s.Scan(&r.key, &r.value, &r.version, &at); err != nil {
		return r, err
	}
	t, err := time.Parse(timeLayout, at)
	if err != nil {
		return r, fmt.Errorf("setting %s: updated_at %q: %w", r.key, at, err)
	}
	r.updatedAt = t
	return r, nil
}

// writeSetting stores value as JSON under key and bumps the version, in one
// transaction. actor 0 records no agent.
func writeSetting(ctx context.Context, db *sqlitedb.DB, key string, value any, actor int64, now time.Time) error {
	b, err := json.Marshal(value)
	if err != nil {
		return err
	}
	var by any
	if actor != 0 {
		by = actor
	}
	return db.Tx(ctx, func(tx *sql.Tx) error {
		var v int64
		if err := tx.QueryRowContext(ctx, `UPDATE admin_settings_version SET version = version + 1 WHERE id = 1 RETURNING version`).Scan(&v); err != nil {
			return fmt.Errorf("bump settings version: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_settings (key, value, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			key, string(b), v, now.UTC().Format(timeLayout), by)
		return err
	})
}

// decode reads a stored JSON value, refusing unknown fields so that a value
// written by a newer binary is noticed rather than half-applied.
func decode(value string, v any) error {
	dec := json.NewDecoder(strings.NewReader(value))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
