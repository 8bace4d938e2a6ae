package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// timeLayout is how times are stored: UTC, fixed width, so that string order
// is time order (the list's sort and cursor rely on it).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

func nullTime(ns sql.NullString) (*time.Time, error) {
	if !ns.Valid {
		return nil, nil
	}
	t, err := parseTime(ns.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func timeOrNull(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

type rowScanner interface{ Scan(dest ...any) error }

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ticketSelect reads tickets with their assignee. The agents table belongs
// to internal/auth; tickets only reads its id, email and name (the schema
// already ties the two with a foreign key).
const ticketSelect = `SELECT t.id, t.subject, t.status, t.priority, t.queue, t.inbox,
	t.requester_email, t.requester_name, t.assignee_id, a.email, a.name, t.followup_of,
	t.created_at, t.updated_at, t.sla_due_at, t.first_response_at, t.solved_at, t.closed_at
	FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id`

func scanTicket(r rowScanner) (Ticket, error) {
	var (
		t                             Ticket
		assigneeID, followup          sql.NullInt64
		aEmail, aName                 sql.NullString
		created, updated              string
		due, firstResp, solved, closd sql.NullString
	)
	if err := r.Scan(&t.ID, &t.Subject, &t.Status, &t.Priority, &t.Queue, &t.Inbox,
		&t.Requester.Email, &t.Requester.Name, &assigneeID, &aEmail, &aName, &followup,
		&created, &updated, &due, &firstResp, &solved, &closd); err != nil {
		return t, err
	}
	if assigneeID.Valid {
		t.Assignee = &AgentRef{ID: assigneeID.Int64, Email: aEmail.String, Name: aName.String}
	}
	if followup.Valid {
		id := followup.Int64
		t.FollowupOf = &id
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return t, fmt.Errorf("ticket %d: created_at: %w", t.ID, err)
	}
	if t.UpdatedAt, err = parseTime(updated); err != nil {
		return t, fmt.Errorf("ticket %d: updated_at: %w", t.ID, err)
	}
	for _, f := range []struct {
		dst **time.Time
		src sql.NullString
	}{{&t.SLADueAt, due}, {&t.FirstResponseAt, firstResp}, {&t.SolvedAt, solved}, {&t.ClosedAt, closd}} {
		if *f.dst, err = nullTime(f.src); err != nil {
			return t, fmt.Errorf("ticket %d: %w", t.ID, err)
		}
	}
	t.Tags = []string{}
	return t, nil
}

// getTicket returns a ticket with its tags, or ErrNotFound.
func getTicket(ctx context.Context, q querier, id int64) (Ticket, error) {
	t, err := scanTicket(q.QueryRowContext(ctx, ticketSelect+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	tags, err := loadTags(ctx, q, []int64{id})
	if err != nil {
		return t, err
	}
	if tg := tags[id]; tg != nil {
		t.Tags = tg
	}
	return t, nil
}

// loadTags returns the tags of the given tickets, sorted.
func loadTags(ctx context.Context, q querier, ids []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, `SELECT ticket_id, tag FROM ticket_tags WHERE ticket_id IN (`+placeholders(len(ids))+`) ORDER BY ticket_id, tag`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return nil, err
		}
		out[id] = append(out[id], tag)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

func setTags(ctx context.Context, tx *sql.Tx, id int64, tags []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM ticket_tags WHERE ticket_id = ?`, id); err != nil {
		return err
	}
	for _, tag := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?)`, id, tag); err != nil {
			return err
		}
	}
	return nil
}

func loadParticipants(ctx context.Context, q querier, id int64) ([]Person, error) {
	rows, err := q.QueryContext(ctx, `SELECT email, name FROM ticket_participants WHERE ticket_id = ? ORDER BY added_at, email`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Person{}
	for rows.Next() {
		var p Person
		if err := rows.Scan(&p.Email, &p.Name); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// addParticipants adds people to a ticket, up to MaxParticipants, keeping
// the names of those already there.
func addParticipants(ctx context.Context, tx *sql.Tx, id int64, people []Person, now time.Time) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ticket_participants WHERE ticket_id = ?`, id).Scan(&n); err != nil {
		return err
	}
	for _, p := range people {
		if n >= MaxParticipants {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO ticket_participants (ticket_id, email, name, added_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (ticket_id, email) DO NOTHING`, id, p.Email, p.Name, fmtTime(now))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n++
		}
	}
	return nil
}

// mayThread reports whether email is the requester of, or a participant in,
// ticket t: only they may add to a ticket by quoting its number.
func mayThread(ctx context.Context, q querier, t Ticket, email string) (bool, error) {
	if email == "" {
		return false, nil
	}
	if strings.EqualFold(t.Requester.Email, email) {
		return true, nil
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM ticket_participants WHERE ticket_id = ? AND email = ?`, t.ID, strings.ToLower(email)).Scan(&n)
	return n > 0, err
}

// newMessage is a message about to be stored.
type newMessage struct {
	ticketID      int64
	kind          string
	messageID     string
	inReplyTo     string
	refs          []string
	from          Person
	to, cc        []Person
	subject       string
	text, html    string
	warnings      []string
	autoSubmitted bool
	bounce        bool
	agentID       int64
	rawSHA        string
	at            time.Time
}

func insertMessage(ctx context.Context, tx *sql.Tx, m newMessage) (int64, error) {
	var mid, raw, agent any
	if m.messageID != "" {
		mid = m.messageID
	}
	if m.rawSHA != "" {
		raw = m.rawSHA
	}
	if m.agentID != 0 {
		agent = m.agentID
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO ticket_messages (ticket_id, kind, message_id, in_reply_to, refs,
		from_email, from_name, to_addrs, cc_addrs, subject, text, html, warnings, auto_submitted, bounce, agent_id, raw_sha256, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ticketID, m.kind, mid, m.inReplyTo, jsonList(m.refs), m.from.Email, m.from.Name,
		jsonList(m.to), jsonList(m.cc), m.subject, m.text, m.html, jsonList(m.warnings),
		m.autoSubmitted, m.bounce, agent, raw, fmtTime(m.at))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// jsonList encodes a slice as a JSON array, never null.
func jsonList[T any](v []T) string {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only strings and Persons are encoded here; they always marshal.
		panic(err)
	}
	return string(b)
}

func unjsonList[T any](s string, dst *[]T) error {
	*dst = []T{}
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), dst)
}

// loadMessages returns a ticket's conversation, oldest first, with
// attachments and the delivery state of outbound mail.
func loadMessages(ctx context.Context, q querier, ticketID int64) ([]Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.id, m.kind, COALESCE(m.message_id, ''), m.from_email, m.from_name,
		m.agent_id, m.to_addrs, m.cc_addrs, m.subject, m.text, m.html, m.warnings, m.auto_submitted, m.bounce,
		COALESCE(o.status, ''), m.created_at
		FROM ticket_messages m LEFT JOIN outbound_mail o ON o.ticket_message = m.id
		WHERE m.ticket_id = ? ORDER BY m.id`, ticketID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Message{}
	index := map[int64]int{}
	for rows.Next() {
		var (
			m                  Message
			agent              sql.NullInt64
			to, cc, warn, when string
		)
		if err := rows.Scan(&m.ID, &m.Kind, &m.MessageID, &m.From.Email, &m.From.Name, &agent, &to, &cc,
			&m.Subject, &m.Text, &m.HTML, &warn, &m.AutoSubmitted, &m.Bounce, &m.Delivery, &when); err != nil {
			return nil, err
		}
		if agent.Valid {
			id := agent.Int64
			m.AgentID = &id
		}
		if err := errors.Join(unjsonList(to, &m.To), unjsonList(cc, &m.Cc), unjsonList(warn, &m.Warnings)); err != nil {
			return nil, fmt.Errorf("message %d: %w", m.ID, err)
		}
		if m.CreatedAt, err = parseTime(when); err != nil {
			return nil, fmt.Errorf("message %d: %w", m.ID, err)
		}
		m.Attachments = []Attachment{}
		index[m.ID] = len(out)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	arows, err := q.QueryContext(ctx, `SELECT id, message_id, filename, content_type, size FROM ticket_attachments
		WHERE ticket_id = ? ORDER BY id`, ticketID)
	if err != nil {
		return nil, err
	}
	defer arows.Close()
	for arows.Next() {
		var a Attachment
		var msgID int64
		if err := arows.Scan(&a.ID, &msgID, &a.Filename, &a.ContentType, &a.Size); err != nil {
			return nil, err
		}
		a.URL = fmt.Sprintf("/api/tickets/%d/attachments/%d", ticketID, a.ID)
		if i, ok := index[msgID]; ok {
			out[i].Attachments = append(out[i].Attachments, a)
		}
	}
	return out, arows.Err()
}

// ticketForMessageID returns the ticket a Message-ID we stored or sent
// belongs to, and whether it was inbound.
func ticketForMessageID(ctx context.Context, q querier, mid string) (ticketID int64, kind string, ok bool, err error) {
	if mid == "" {
		return 0, "", false, nil
	}
	err = q.QueryRowContext(ctx, `SELECT ticket_id, kind FROM ticket_messages WHERE message_id = ?`, mid).Scan(&ticketID, &kind)
	if err == nil {
		return ticketID, kind, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, err
	}
	var tid sql.NullInt64
	err = q.QueryRowContext(ctx, `SELECT ticket_id FROM outbound_mail WHERE message_id = ?`, mid).Scan(&tid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	return tid.Int64, KindOutbound, true, nil
}

// touchTicket records activity on a ticket.
func touchTicket(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE tickets SET updated_at = ? WHERE id = ?`, fmtTime(now), id)
	return err
}
