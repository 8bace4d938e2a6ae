package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// timeLayout is fixed-width so that times stored as text sort and compare
// as times (RFC3339Nano drops trailing zeros and would not).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func parseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type rowScanner interface{ Scan(dest ...any) error }

func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

// --- agents ---

const agentCols = `a.id, a.email, a.name, a.role, a.active, a.created_at, a.updated_at`

// scanAgent scans agentCols followed by extra destinations.
func scanAgent(r rowScanner, extra ...any) (Agent, error) {
	var a Agent
	var created, updated string
	dest := append([]any{&a.ID, &a.Email, &a.Name, &a.Role, &a.Active, &created, &updated}, extra...)
	if err := r.Scan(dest...); err != nil {
		return a, err
	}
	var err error
	if a.CreatedAt, err = parseTime(created); err != nil {
		return a, fmt.Errorf("agent %d: created_at: %w", a.ID, err)
	}
	if a.UpdatedAt, err = parseTime(updated); err != nil {
		return a, fmt.Errorf("agent %d: updated_at: %w", a.ID, err)
	}
	return a, nil
}

// getAgent returns the agent matching where (a clause on alias a) and its
// password hash. It returns ErrAgentNotFound.
func getAgent(ctx context.Context, q querier, where string, arg any) (Agent, string, error) {
	var hash string
	a, err := scanAgent(q.QueryRowContext(ctx, `SELECT `+agentCols+`, a.password_hash FROM agents a WHERE `+where, arg), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, "", ErrAgentNotFound
	}
	return a, hash, err
}

func getAgentByID(ctx context.Context, q querier, id int64) (Agent, string, error) {
	return getAgent(ctx, q, `a.id = ?`, id)
}

func getAgentByEmail(ctx context.Context, q querier, email string) (Agent, string, error) {
	return getAgent(ctx, q, `a.email = ?`, email)
}

func listAgents(ctx context.Context, q querier) ([]Agent, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+agentCols+` FROM agents a ORDER BY a.email`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Agent{}
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func insertAgent(ctx context.Context, tx *sql.Tx, a *Agent, hash string) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO agents (email, name, role, active, password_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.Email, a.Name, a.Role, a.Active, hash, fmtTime(a.CreatedAt), fmtTime(a.UpdatedAt))
	if err != nil {
		if isUnique(err) {
			return ErrEmailTaken
		}
		return err
	}
	a.ID, err = res.LastInsertId()
	return err
}

func updateAgent(ctx context.Context, tx *sql.Tx, a Agent) error {
	_, err := tx.ExecContext(ctx, `UPDATE agents SET name = ?, role = ?, active = ?, updated_at = ? WHERE id = ?`,
		a.Name, a.Role, a.Active, fmtTime(a.UpdatedAt), a.ID)
	return err
}

func setPasswordHash(ctx context.Context, tx *sql.Tx, id int64, hash string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE agents SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, fmtTime(now), id)
	return err
}

func countActiveAdmins(ctx context.Context, q querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents WHERE role = 'admin' AND active = 1`).Scan(&n)
	return n, err
}

// --- sessions ---

func insertSession(ctx context.Context, tx *sql.Tx, s *Session, tokenHash []byte, ip string) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, agent_id, created_at, last_seen_at, expires_at, client_ip)
		VALUES (?, ?, ?, ?, ?, ?)`,
		tokenHash, s.Agent.ID, fmtTime(s.CreatedAt), fmtTime(s.LastSeenAt), fmtTime(s.ExpiresAt), ip)
	if err != nil {
		return err
	}
	s.ID, err = res.LastInsertId()
	return err
}

// getSession returns the session whose token hashes to tokenHash, with its
// agent. It returns sql.ErrNoRows.
func getSession(ctx context.Context, q querier, tokenHash []byte) (Session, error) {
	var s Session
	var created, seen, expires string
	a, err := scanAgent(q.QueryRowContext(ctx, `SELECT `+agentCols+`, s.id, s.created_at, s.last_seen_at, s.expires_at
		FROM sessions s JOIN agents a ON a.id = s.agent_id WHERE s.token_hash = ?`, tokenHash),
		&s.ID, &created, &seen, &expires)
	if err != nil {
		return s, err
	}
	s.Agent = a
	if s.CreatedAt, err = parseTime(created); err != nil {
		return s, err
	}
	if s.LastSeenAt, err = parseTime(seen); err != nil {
		return s, err
	}
	if s.ExpiresAt, err = parseTime(expires); err != nil {
		return s, err
	}
	return s, nil
}

func deleteSession(ctx context.Context, tx *sql.Tx, id int64) (agentID int64, err error) {
	err = tx.QueryRowContext(ctx, `DELETE FROM sessions WHERE id = ? RETURNING agent_id`, id).Scan(&agentID)
	return agentID, err
}

// deleteAgentSessions deletes every session of agentID except keep (0 keeps
// none) and returns how many it deleted.
func deleteAgentSessions(ctx context.Context, tx *sql.Tx, agentID, keep int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE agent_id = ? AND id != ?`, agentID, keep)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func pruneSessions(ctx context.Context, tx *sql.Tx, now time.Time, idle time.Duration) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?`,
		fmtTime(now), fmtTime(now.Add(-idle)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// --- API tokens ---

const tokenCols = `t.id, t.agent_id, a.email, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at`

func scanToken(r rowScanner, extra ...any) (Token, error) {
	var t Token
	var created string
	var used, revoked sql.NullString
	dest := append([]any{&t.ID, &t.AgentID, &t.AgentEmail, &t.Name, &t.Prefix, &created, &used, &revoked}, extra...)
	if err := r.Scan(dest...); err != nil {
		return t, err
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return t, fmt.Errorf("token %d: created_at: %w", t.ID, err)
	}
	if t.LastUsedAt, err = parseNullTime(used); err != nil {
		return t, fmt.Errorf("token %d: last_used_at: %w", t.ID, err)
	}
	if t.RevokedAt, err = parseNullTime(revoked); err != nil {
		return t, fmt.Errorf("token %d: revoked_at: %w", t.ID, err)
	}
	return t, nil
}

func insertToken(ctx context.Context, tx *sql.Tx, t *Token, tokenHash []byte) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (agent_id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.AgentID, t.Name, tokenHash, t.Prefix, fmtTime(t.CreatedAt))
	if err != nil {
		if isUnique(err) {
			return ErrTokenNameTaken
		}
		return err
	}
	t.ID, err = res.LastInsertId()
	return err
}

func getToken(ctx context.Context, q querier, id int64) (Token, error) {
	t, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrTokenNotFound
	}
	return t, err
}

// getTokenByHash returns the token with its agent. It returns sql.ErrNoRows.
func getTokenByHash(ctx context.Context, q querier, tokenHash []byte) (Token, Agent, error) {
	var a Agent
	var created, updated string
	t, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenCols+`, a.id, a.email, a.name, a.role, a.active, a.created_at, a.updated_at
		FROM api_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = ?`, tokenHash),
		&a.ID, &a.Email, &a.Name, &a.Role, &a.Active, &created, &updated)
	if err != nil {
		return t, a, err
	}
	if a.CreatedAt, err = parseTime(created); err != nil {
		return t, a, err
	}
	if a.UpdatedAt, err = parseTime(updated); err != nil {
		return t, a, err
	}
	return t, a, nil
}

func listTokens(ctx context.Context, q querier) ([]Token, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens t JOIN agents a ON a.id = t.agent_id ORDER BY t.id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func revokeAgentTokens(ctx context.Context, tx *sql.Tx, agentID int64, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL`, fmtTime(now), agentID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// --- sign-in throttle ---

type throttle struct {
	failures    int
	windowStart time.Time
	lockedUntil time.Time // zero when never locked
}

func getThrottle(ctx context.Context, q querier, email string) (throttle, bool, error) {
	var t throttle
	var start string
	var locked sql.NullString
	err := q.QueryRowContext(ctx, `SELECT failures, window_start, locked_until FROM login_throttle WHERE email = ?`, email).
		Scan(&t.failures, &start, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	if t.windowStart, err = parseTime(start); err != nil {
		return t, false, err
	}
	if locked.Valid {
		if t.lockedUntil, err = parseTime(locked.String); err != nil {
			return t, false, err
		}
	}
	return t, true, nil
}

func putThrottle(ctx context.Context, tx *sql.Tx, email string, t throttle, now time.Time) error {
	var locked any
	if !t.lockedUntil.IsZero() {
		locked = fmtTime(t.lockedUntil)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO login_throttle (email, failures, window_start, locked_until, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (email) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
			locked_until = excluded.locked_until, updated_at = excluded.updated_at`,
		email, t.failures, fmtTime(t.windowStart), locked, fmtTime(now))
	return err
}

func deleteThrottle(ctx context.Context, tx *sql.Tx, email string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE email = ?`, email)
	return err
}

// pruneThrottle forgets rows whose window and lock are both over: they no
// longer affect any decision. It bounds the table when someone tries many
// different addresses.
func pruneThrottle(ctx context.Context, tx *sql.Tx, now time.Time, keep time.Duration) error {
	cut := fmtTime(now.Add(-keep))
	_, err := tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE updated_at < ? AND (locked_until IS NULL OR locked_until < ?)`,
		cut, fmtTime(now))
	return err
}

// --- audit log ---

func insertAudit(ctx context.Context, tx *sql.Tx, at time.Time, actorID int64, action, target string, detail []byte, ip string) error {
	var actor any
	if actorID != 0 {
		actor = actorID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor_id, action, target, detail, client_ip) VALUES (?, ?, ?, ?, ?, ?)`,
		fmtTime(at), actor, action, target, string(detail), ip)
	return err
}

// listAudit returns up to limit entries with id < before (0: from the
// newest), newest first.
func listAudit(ctx context.Context, q querier, before int64, limit int) ([]AuditEntry, error) {
	query := `SELECT l.id, l.at, l.actor_id, COALESCE(a.email, ''), l.action, l.target, l.detail, l.client_ip
		FROM audit_log l LEFT JOIN agents a ON a.id = l.actor_id`
	args := []any{}
	if before > 0 {
		query += ` WHERE l.id < ?`
		args = append(args, before)
	}
	query += ` ORDER BY l.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at, detail string
		var actor sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &actor, &e.ActorEmail, &e.Action, &e.Target, &detail, &e.ClientIP); err != nil {
			return nil, err
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("audit %d: at: %w", e.ID, err)
		}
		if actor.Valid {
			id := actor.Int64
			e.ActorID = &id
		}
		if !json.Valid([]byte(detail)) {
			return nil, fmt.Errorf("audit %d: detail is not JSON", e.ID)
		}
		e.Detail = json.RawMessage(detail)
		out = append(out, e)
	}
	return out, rows.Err()
}
