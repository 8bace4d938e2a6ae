package chat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// timeLayout is fixed-width so that times stored as text sort and compare
// as times (RFC3339Nano drops trailing zeros and would not).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// SQLiteStore is the Store kept in the helpdesk's SQLite database. Writes
// go through sqlitedb.DB.Tx (BEGIN IMMEDIATE), so two processes sharing the
// file never hand out the same seq or offer a conversation twice.
type SQLiteStore struct {
	db *sqlitedb.DB

	stmtMu sync.Mutex
	stmts  *appendStmts // prepared on first use

	// Group commit of Append (see there): messages waiting for a batch,
	// and whether a goroutine is committing them.
	gmu        sync.Mutex
	pending    []*appendReq
	committing bool
}

// NewSQLiteStore returns a Store backed by db, which must have been
// migrated (sqlitedb.Open does that).
func NewSQLiteStore(db *sqlitedb.DB) *SQLiteStore { return &SQLiteStore{db: db} }

var _ Store = (*SQLiteStore)(nil)

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type rowScanner interface{ Scan(dest ...any) error }

func storeErr(op string, err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Internal("chat: "+op, err)
}

// --- visitors ---

// CreateVisitor implements Store.
func (s *SQLiteStore) CreateVisitor(ctx context.Context, tokenHash []byte, now time.Time) (int64, error) {
	var id int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO chat_visitors (token_hash, created_at) VALUES (?, ?) RETURNING id`,
			tokenHash, fmtTime(now)).Scan(&id)
	})
	if err != nil {
		return 0, storeErr("create visitor", err)
	}
	return id, nil
}

// VisitorByToken implements Store.
func (s *SQLiteStore) VisitorByToken(ctx context.Context, tokenHash []byte) (int64, error) {
	var id int64
	err := s.db.R.QueryRowContext(ctx, `SELECT id FROM chat_visitors WHERE token_hash = ?`, tokenHash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrBadVisitor
	}
	if err != nil {
		return 0, storeErr("find visitor", err)
	}
	return id, nil
}

// --- conversations ---

const convCols = `c.id, c.visitor_id, c.customer_name, c.customer_email, c.status,
	COALESCE(c.agent_id, 0), COALESCE(c.offered_to, 0), c.offer_expires_at, c.last_seq,
	c.customer_read_seq, c.agent_read_seq, c.agent_joined, c.article_opened, c.deflected,
	COALESCE(c.rating, 0), c.rating_comment, COALESCE(c.ticket_id, 0), c.closed_by,
	c.created_at, c.updated_at, c.queued_at, c.assigned_at, c.closed_at`

func scanConversation(r rowScanner) (Conversation, error) {
	var c Conversation
	var offerExp, queued, assigned, closed sql.NullString
	var created, updated string
	err := r.Scan(&c.ID, &c.VisitorID, &c.CustomerName, &c.CustomerEmail, &c.Status,
		&c.AgentID, &c.OfferedTo, &offerExp, &c.LastSeq,
		&c.CustomerReadSeq, &c.AgentReadSeq, &c.AgentJoined, &c.ArticleOpened, &c.Deflected,
		&c.Rating, &c.RatingComment, &c.TicketID, &c.ClosedBy,
		&created, &updated, &queued, &assigned, &closed)
	if err != nil {
		return c, err
	}
	for _, f := range []struct {
		dst *time.Time
		src sql.NullString
	}{
		{&c.OfferExpiresAt, offerExp}, {&c.QueuedAt, queued}, {&c.AssignedAt, assigned}, {&c.ClosedAt, closed},
		{&c.CreatedAt, sql.NullString{String: created, Valid: true}}, {&c.UpdatedAt, sql.NullString{String: updated, Valid: true}},
	} {
		if !f.src.Valid {
			continue
		}
		t, err := parseTime(f.src.String)
		if err != nil {
			return c, fmt.Errorf("conversation %d: %w", c.ID, err)
		}
		*f.dst = t
	}
	return c, nil
}

func getConversation(ctx context.Context, q querier, id int64) (Conversation, error) {
	c, err := scanConversation(q.QueryRowContext(ctx, `SELECT `+convCols+` FROM chat_conversations c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

func listConversations(ctx context.Context, q querier, query string, args ...any) ([]Conversation, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Conversation
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// OpenConversation implements Store.
func (s *SQLiteStore) OpenConversation(ctx context.Context, visitorID int64, name, email string, now time.Time) (Conversation, error) {
	var c Conversation
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM chat_conversations
			WHERE visitor_id = ? AND status <> 'closed' ORDER BY id DESC LIMIT 1`, visitorID).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = tx.QueryRowContext(ctx, `INSERT INTO chat_conversations
				(visitor_id, customer_name, customer_email, status, created_at, updated_at, customer_seen_at)
				VALUES (?, ?, ?, 'open', ?, ?, ?) RETURNING id`,
				visitorID, name, email, fmtTime(now), fmtTime(now), fmtTime(now)).Scan(&id)
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET
				customer_name = CASE WHEN ? <> '' THEN ? ELSE customer_name END,
				customer_email = CASE WHEN ? <> '' THEN ? ELSE customer_email END,
				updated_at = CASE WHEN ? <> '' OR ? <> '' THEN ? ELSE updated_at END,
				customer_seen_at = ? WHERE id = ?`,
				name, name, email, email, name, email, fmtTime(now), fmtTime(now), id); err != nil {
				return err
			}
		}
		c, err = getConversation(ctx, tx, id)
		return err
	})
	if err != nil {
		return c, storeErr("open conversation", err)
	}
	return c, nil
}

// Conversation implements Store.
func (s *SQLiteStore) Conversation(ctx context.Context, id int64) (Conversation, error) {
	c, err := getConversation(ctx, s.db.R, id)
	if err != nil {
		return c, storeErr("get conversation", err)
	}
	return c, nil
}

// VisitorConversations implements Store.
func (s *SQLiteStore) VisitorConversations(ctx context.Context, visitorID int64) ([]Conversation, error) {
	cs, err := listConversations(ctx, s.db.R, `SELECT `+convCols+` FROM chat_conversations c
		WHERE c.visitor_id = ? ORDER BY c.id DESC LIMIT 100`, visitorID)
	if err != nil {
		return nil, storeErr("list visitor conversations", err)
	}
	return cs, nil
}

// ConversationsByEmail implements Store.
func (s *SQLiteStore) ConversationsByEmail(ctx context.Context, email string, limit int) ([]Conversation, error) {
	cs, err := listConversations(ctx, s.db.R, `SELECT `+convCols+` FROM chat_conversations c
		WHERE c.customer_email = ? ORDER BY c.id DESC LIMIT ?`, strings.ToLower(email), limit)
	if err != nil {
		return nil, storeErr("list conversations by email", err)
	}
	return cs, nil
}

// AgentConversations implements Store.
func (s *SQLiteStore) AgentConversations(ctx context.Context, agentID int64) ([]Conversation, error) {
	cs, err := listConversations(ctx, s.db.R, `SELECT `+convCols+` FROM chat_conversations c
		WHERE c.status = 'active' AND c.agent_id = ? ORDER BY c.id`, agentID)
	if err != nil {
		return nil, storeErr("list agent conversations", err)
	}
	return cs, nil
}

// PendingOffers implements Store.
func (s *SQLiteStore) PendingOffers(ctx context.Context, agentID int64) ([]Offer, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT c.id, c.customer_name, c.queued_at, c.offer_expires_at,
			COALESCE((SELECT m.text FROM chat_messages m WHERE m.conversation_id = c.id AND m.author_kind = 'customer' ORDER BY m.seq LIMIT 1), '')
		FROM chat_conversations c WHERE c.status = 'waiting' AND c.offered_to = ? ORDER BY c.queued_at, c.id`, agentID)
	if err != nil {
		return nil, storeErr("list offers", err)
	}
	defer rows.Close()
	var out []Offer
	for rows.Next() {
		o := Offer{AgentID: agentID}
		var queued, exp, preview string
		if err := rows.Scan(&o.ConversationID, &o.CustomerName, &queued, &exp, &preview); err != nil {
			return nil, storeErr("list offers", err)
		}
		o.WaitingSince, _ = parseTime(queued)
		o.ExpiresAt, _ = parseTime(exp)
		o.Preview = previewOf(preview)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("list offers", err)
	}
	return out, nil
}

// previewOf shortens a first message for an offer.
func previewOf(text string) string {
	const n = 140
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	r := []rune(text)
	return string(r[:n]) + "…"
}

// --- messages ---

const msgCols = `m.conversation_id, m.seq, m.author_kind, COALESCE(m.agent_id, 0), m.author,
	COALESCE(m.client_id, ''), m.text, m.attachments, m.created_at`

func scanMessage(r rowScanner) (Message, error) {
	var m Message
	var atts, at string
	if err := r.Scan(&m.ConversationID, &m.Seq, &m.From, &m.AgentID, &m.Author, &m.ClientID, &m.Text, &atts, &at); err != nil {
		return m, err
	}
	if atts != "" && atts != "[]" {
		if err := json.Unmarshal([]byte(atts), &m.Attachments); err != nil {
			return m, fmt.Errorf("message %d/%d attachments: %w", m.ConversationID, m.Seq, err)
		}
	}
	t, err := parseTime(at)
	if err != nil {
		return m, fmt.Errorf("message %d/%d: %w", m.ConversationID, m.Seq, err)
	}
	m.At = t
	return m, nil
}

func senderKey(from From, agentID int64) string {
	if from == FromAgent {
		return "agent:" + itoa(agentID)
	}
	return string(from)
}

// insertMessage appends a message to a conversation inside tx, taking the
// next seq from the conversation row. The UPDATE ... RETURNING and the
// INSERT run in one BEGIN IMMEDIATE transaction, so seqs are gapless and
// unique even with several processes writing.
func insertMessage(ctx context.Context, tx *sql.Tx, m Message, sender string, now time.Time) (Message, error) {
	if err := tx.QueryRowContext(ctx, `UPDATE chat_conversations SET last_seq = last_seq + 1, updated_at = ?
		WHERE id = ? RETURNING last_seq`, fmtTime(now), m.ConversationID).Scan(&m.Seq); err != nil {
		return m, fmt.Errorf("next seq: %w", err)
	}
	atts, err := attachmentsJSON(m.Attachments)
	if err != nil {
		return m, err
	}
	var clientID, agentID any
	if m.ClientID != "" {
		clientID = m.ClientID
	}
	if m.AgentID != 0 {
		agentID = m.AgentID
	}
	m.At = now.UTC()
	_, err = tx.ExecContext(ctx, insertMessageSQL,
		m.ConversationID, m.Seq, sender, string(m.From), agentID, m.Author, clientID, m.Text, atts, fmtTime(now))
	if err != nil {
		return m, fmt.Errorf("insert message: %w", err)
	}
	return m, nil
}

func systemMessage(ctx context.Context, tx *sql.Tx, conv int64, text string, now time.Time) (Message, error) {
	return insertMessage(ctx, tx, Message{ConversationID: conv, From: FromSystem, Author: "", Text: text}, string(FromSystem), now)
}

// Append implements Store. It is the hot path (one call per chat
// message), so concurrent calls are committed together (group commit):
// each call queues its message; a call that finds no batch running
// commits everything queued in one transaction itself, and if more queued
// meanwhile, leaves them to a goroutine that commits batch after batch
// until the queue is empty. A message waits for at most the batch before
// it; under load a commit carries many messages, which is what lets one
// SQLite writer keep up, and without load there is no hand-off at all. Within a batch each message is checked by reads before anything is
// written, so a refused message (closed, not assigned, ...) leaves no
// trace and does not affect the others; a failure while writing fails
// the whole batch, and nobody is acked (clients resend with their
// client_id). The statements are prepared once on the write connection.
func (s *SQLiteStore) Append(ctx context.Context, in NewMessage, now time.Time) (AppendResult, error) {
	req := &appendReq{in: in, now: now, done: make(chan appendOutcome, 1)}
	s.gmu.Lock()
	s.pending = append(s.pending, req)
	lead := !s.committing
	s.committing = true
	s.gmu.Unlock()
	if lead {
		// The queue was empty: the first batch holds this message.
		if s.commitNext() {
			go s.commitLoop()
		}
	}
	select {
	case out := <-req.done:
		return out.res, out.err
	case <-ctx.Done():
		// The message may still be stored: a resend with its client_id
		// finds it.
		return AppendResult{}, ctx.Err()
	}
}

// appendReq is one Append waiting for its batch.
type appendReq struct {
	in   NewMessage
	now  time.Time
	done chan appendOutcome // capacity 1
}

type appendOutcome struct {
	res AppendResult
	err error
}

// maxAppendBatch bounds one transaction, so that a burst is committed (and
// acked) in slices rather than all at the end.
const maxAppendBatch = 128

// commitLoop stores queued messages batch by batch until none is left.
func (s *SQLiteStore) commitLoop() {
	for s.commitNext() {
	}
}

// commitNext commits the next batch and reports whether more is queued.
// When nothing is, it gives up the committer's role (in the same critical
// section, so the next Append takes it).
func (s *SQLiteStore) commitNext() bool {
	s.gmu.Lock()
	n := min(len(s.pending), maxAppendBatch)
	batch := s.pending[:n:n]
	s.pending = s.pending[n:]
	s.gmu.Unlock()
	if n > 0 {
		s.commitBatch(batch)
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if len(s.pending) == 0 {
		s.committing = false
		s.pending = nil
		return false
	}
	return true
}

// commitBatch stores a batch in one transaction and answers every request.
func (s *SQLiteStore) commitBatch(batch []*appendReq) {
	// Not any caller's context: one caller giving up must not fail the
	// others' messages.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]appendOutcome, len(batch))
	st, err := s.appendStatements(ctx)
	if err == nil {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			for i, r := range batch {
				res, err := appendTx(ctx, tx, st, r.in, r.now)
				var refused *apperr.Error
				if err != nil && !errors.As(err, &refused) {
					return err // a write failed: the whole batch fails
				}
				out[i] = appendOutcome{res: res, err: err}
			}
			return nil
		})
	}
	for i, r := range batch {
		if err != nil {
			out[i] = appendOutcome{err: storeErr("append message", err)}
		}
		r.done <- out[i]
	}
}

// appendTx stores one message inside tx. A message that cannot be stored
// (an *apperr.Error: closed, not assigned, unavailable, not found, a bad
// attachment) is refused before anything is written; any other error
// comes from a write and leaves the transaction unusable.
func appendTx(ctx context.Context, tx *sql.Tx, st *appendStmts, in NewMessage, now time.Time) (AppendResult, error) {
	var res AppendResult
	sender := senderKey(in.From, in.AgentID)
	if in.ClientID != "" {
		m, err := scanMessage(tx.StmtContext(ctx, st.dup).QueryRowContext(ctx, in.ConversationID, sender, in.ClientID))
		if err == nil {
			return AppendResult{Message: m, Duplicate: true}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return res, fmt.Errorf("duplicate check: %w", err)
		}
	}
	var status Status
	var agentID int64
	err := tx.StmtContext(ctx, st.state).QueryRowContext(ctx, in.ConversationID).Scan(&status, &agentID)
	if errors.Is(err, sql.ErrNoRows) {
		return res, ErrNotFound
	}
	if err != nil {
		return res, fmt.Errorf("read conversation: %w", err)
	}
	queue := false
	switch {
	case status == StatusClosed:
		return res, ErrClosed
	case in.From == FromAgent && (status != StatusActive || agentID != in.AgentID):
		return res, ErrNotAssigned
	case in.From == FromCustomer && status == StatusOpen:
		if !in.EnterQueue {
			return res, ErrUnavailable
		}
		queue = true
	}
	m := Message{ConversationID: in.ConversationID, From: in.From, AgentID: in.AgentID,
		Author: in.Author, ClientID: in.ClientID, Text: in.Text, At: now.UTC()}
	if len(in.Attachments) > 0 {
		if m.Attachments, err = attachmentRefs(ctx, tx, in.ConversationID, in.Attachments); err != nil {
			var refused *apperr.Error
			if errors.As(err, &refused) {
				return res, err
			}
			return res, fmt.Errorf("read attachments: %w", err)
		}
	}
	atts, err := attachmentsJSON(m.Attachments)
	if err != nil {
		return res, err
	}
	// The checks passed: from here on every statement writes.
	if err := tx.StmtContext(ctx, st.bump).QueryRowContext(ctx, fmtTime(now), in.ConversationID).Scan(&m.Seq); err != nil {
		return res, fmt.Errorf("next seq: %w", err)
	}
	if queue {
		if _, err := tx.StmtContext(ctx, st.queue).ExecContext(ctx, fmtTime(now), in.ConversationID); err != nil {
			return res, fmt.Errorf("enter queue: %w", err)
		}
		res.Queued = true
	}
	var clientID, agent any
	if m.ClientID != "" {
		clientID = m.ClientID
	}
	if m.AgentID != 0 {
		agent = m.AgentID
	}
	if _, err := tx.StmtContext(ctx, st.insert).ExecContext(ctx,
		m.ConversationID, m.Seq, sender, string(m.From), agent, m.Author, clientID, m.Text, atts, fmtTime(now)); err != nil {
		return res, fmt.Errorf("insert message: %w", err)
	}
	res.Message = m
	return res, nil
}

// appendStmts are Append's statements, prepared on the write connection.
type appendStmts struct {
	dup, state, bump, queue, insert *sql.Stmt
}

const insertMessageSQL = `INSERT INTO chat_messages
	(conversation_id, seq, sender, author_kind, agent_id, author, client_id, text, attachments, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// appendStatements prepares Append's statements the first time. It must
// not be called inside a transaction: the write pool has one connection.
func (s *SQLiteStore) appendStatements(ctx context.Context) (*appendStmts, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.stmts != nil {
		return s.stmts, nil
	}
	var st appendStmts
	var err error
	prepare := func(dst **sql.Stmt, q string) {
		if err == nil {
			*dst, err = s.db.W.PrepareContext(ctx, q)
		}
	}
	prepare(&st.dup, `SELECT `+msgCols+` FROM chat_messages m WHERE m.conversation_id = ? AND m.sender = ? AND m.client_id = ?`)
	prepare(&st.state, `SELECT status, COALESCE(agent_id, 0) FROM chat_conversations WHERE id = ?`)
	prepare(&st.bump, `UPDATE chat_conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ? RETURNING last_seq`)
	prepare(&st.queue, `UPDATE chat_conversations SET status = 'waiting', queued_at = ?1, customer_seen_at = ?1 WHERE id = ?2`)
	prepare(&st.insert, insertMessageSQL)
	if err != nil {
		for _, p := range []*sql.Stmt{st.dup, st.state, st.bump, st.queue, st.insert} {
			if p != nil {
				p.Close()
			}
		}
		return nil, err
	}
	s.stmts = &st
	return s.stmts, nil
}

func attachmentsJSON(refs []AttachmentRef) (string, error) {
	if len(refs) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(refs)
	return string(b), err
}

func attachmentRefs(ctx context.Context, tx *sql.Tx, conv int64, ids []int64) ([]AttachmentRef, error) {
	refs := make([]AttachmentRef, 0, len(ids))
	for _, id := range ids {
		var r AttachmentRef
		err := tx.QueryRowContext(ctx, `SELECT id, name, content_type, size FROM chat_attachments
			WHERE id = ? AND conversation_id = ?`, id, conv).Scan(&r.ID, &r.Name, &r.ContentType, &r.Size)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrAttachmentNotFound
		}
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// Messages implements Store.
func (s *SQLiteStore) Messages(ctx context.Context, conv, afterSeq int64, limit int) ([]Message, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+msgCols+` FROM chat_messages m
		WHERE m.conversation_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`, conv, afterSeq, limit)
	if err != nil {
		return nil, storeErr("list messages", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, storeErr("list messages", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("list messages", err)
	}
	return out, nil
}

// --- routing ---

// inList is ids as an SQL list of placeholders, with its arguments. An
// empty list is "()", which SQLite accepts with the meaning sets have: x IN
// () is false and x NOT IN () is true ("(NULL)" would make NOT IN unknown,
// so that with nobody online no offer would look stale).
func inList(ids []int64) (string, []any) {
	if len(ids) == 0 {
		return "()", nil
	}
	var b strings.Builder
	args := make([]any, len(ids))
	b.WriteByte('(')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('?')
		args[i] = id
	}
	b.WriteByte(')')
	return b.String(), args
}

// NeedsRouting implements Store.
func (s *SQLiteStore) NeedsRouting(ctx context.Context, in RouteInput) (bool, error) {
	list, args := inList(in.Online)
	var stale, unoffered bool
	err := s.db.R.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM chat_conversations WHERE status = 'waiting' AND offered_to IS NOT NULL
			AND (offer_expires_at <= ? OR offered_to NOT IN `+list+`)),
		EXISTS (SELECT 1 FROM chat_conversations WHERE status = 'waiting' AND offered_to IS NULL)`,
		append([]any{fmtTime(in.Now)}, args...)...).Scan(&stale, &unoffered)
	if err != nil {
		return false, storeErr("check queue", err)
	}
	if stale {
		return true, nil
	}
	if !unoffered || len(in.Online) == 0 {
		return false, nil
	}
	load, err := agentLoad(ctx, s.db.R, in.Online)
	if err != nil {
		return false, storeErr("check queue", err)
	}
	for _, n := range load {
		if n < in.Capacity {
			return true, nil
		}
	}
	return false, nil
}

// agentLoad counts, for each of the given agents, active chats plus
// pending offers.
func agentLoad(ctx context.Context, q querier, agents []int64) (map[int64]int, error) {
	load := map[int64]int{}
	for _, id := range agents {
		load[id] = 0
	}
	rows, err := q.QueryContext(ctx, `SELECT agent, COUNT(*) FROM (
		SELECT agent_id AS agent FROM chat_conversations WHERE status = 'active' AND agent_id IS NOT NULL
		UNION ALL
		SELECT offered_to FROM chat_conversations WHERE status = 'waiting' AND offered_to IS NOT NULL
	) GROUP BY agent`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		if _, ok := load[id]; ok {
			load[id] = n
		}
	}
	return load, rows.Err()
}

// Route implements Store.
func (s *SQLiteStore) Route(ctx context.Context, in RouteInput) ([]RouteChange, error) {
	var changes []RouteChange
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		changes = changes[:0]
		now := fmtTime(in.Now)
		online := map[int64]bool{}
		for _, id := range in.Online {
			online[id] = true
		}

		// 1. Withdraw expired offers and offers to agents who left.
		type held struct{ conv, agent int64 }
		var stale []held
		var staleReason []string
		rows, err := tx.QueryContext(ctx, `SELECT id, offered_to, offer_expires_at <= ? FROM chat_conversations
			WHERE status = 'waiting' AND offered_to IS NOT NULL`, now)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h held
			var expired bool
			if err := rows.Scan(&h.conv, &h.agent, &expired); err != nil {
				rows.Close()
				return err
			}
			switch {
			case expired:
				stale, staleReason = append(stale, h), append(staleReason, "timeout")
			case !online[h.agent]:
				stale, staleReason = append(stale, h), append(staleReason, "offline")
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, h := range stale {
			outcome := "expired"
			if staleReason[i] == "offline" {
				outcome = "withdrawn"
			}
			if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET offered_to = NULL, offer_expires_at = NULL WHERE id = ?`, h.conv); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE chat_offers SET outcome = ?, resolved_at = ?
				WHERE conversation_id = ? AND agent_id = ? AND outcome = 'pending'`, outcome, now, h.conv, h.agent); err != nil {
				return err
			}
			changes = append(changes, RouteChange{Reason: staleReason[i], Offer: Offer{ConversationID: h.conv, AgentID: h.agent}})
		}
		if len(in.Online) == 0 {
			return nil
		}

		// 2. Load of every online agent: active chats plus pending offers.
		load, err := agentLoad(ctx, tx, in.Online)
		if err != nil {
			return err
		}
		free := 0
		for _, n := range load {
			free += max(0, in.Capacity-n)
		}
		if free == 0 {
			return nil
		}

		// 3. Offer waiting conversations in queue order.
		type waiting struct {
			id      int64
			name    string
			queued  string
			preview string
		}
		var ws []waiting
		rows, err = tx.QueryContext(ctx, `SELECT c.id, c.customer_name, c.queued_at,
				COALESCE((SELECT m.text FROM chat_messages m WHERE m.conversation_id = c.id AND m.author_kind = 'customer' ORDER BY m.seq LIMIT 1), '')
			FROM chat_conversations c WHERE c.status = 'waiting' AND c.offered_to IS NULL
			ORDER BY c.queued_at, c.id LIMIT ?`, free)
		if err != nil {
			return err
		}
		for rows.Next() {
			var w waiting
			if err := rows.Scan(&w.id, &w.name, &w.queued, &w.preview); err != nil {
				rows.Close()
				return err
			}
			ws = append(ws, w)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		expires := in.Now.Add(in.OfferTimeout)
		for _, w := range ws {
			tried := map[int64]int{}
			rows, err := tx.QueryContext(ctx, `SELECT agent_id, COUNT(*) FROM chat_offers WHERE conversation_id = ? GROUP BY agent_id`, w.id)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				var n int
				if err := rows.Scan(&id, &n); err != nil {
					rows.Close()
					return err
				}
				tried[id] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			agent, ok := pickAgent(load, tried, in.Capacity)
			if !ok {
				break
			}
			load[agent]++
			if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET offered_to = ?, offer_expires_at = ? WHERE id = ?`,
				agent, fmtTime(expires), w.id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO chat_offers (conversation_id, agent_id, offered_at) VALUES (?, ?, ?)`,
				w.id, agent, now); err != nil {
				return err
			}
			since, _ := parseTime(w.queued)
			changes = append(changes, RouteChange{Offered: true, Offer: Offer{
				ConversationID: w.id, AgentID: agent, CustomerName: w.name,
				Preview: previewOf(w.preview), WaitingSince: since, ExpiresAt: expires,
			}})
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("route", err)
	}
	return changes, nil
}

// pickAgent chooses who gets the next offer: among agents under capacity,
// the one offered this conversation the fewest times, then the least
// loaded, then the lowest id (so the choice is deterministic).
func pickAgent(load, tried map[int64]int, capacity int) (int64, bool) {
	ids := make([]int64, 0, len(load))
	for id := range load {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	best, found := int64(0), false
	for _, id := range ids {
		if load[id] >= capacity {
			continue
		}
		if !found || tried[id] < tried[best] || (tried[id] == tried[best] && load[id] < load[best]) {
			best, found = id, true
		}
	}
	return best, found
}

// Accept implements Store.
func (s *SQLiteStore) Accept(ctx context.Context, conv int64, agent AgentRef, now time.Time) (Conversation, Message, error) {
	var c Conversation
	var m Message
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := getConversation(ctx, tx, conv)
		if err != nil {
			return err
		}
		if cur.Status != StatusWaiting || cur.OfferedTo != agent.ID || !cur.OfferExpiresAt.After(now) {
			return ErrOfferGone
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET status = 'active', agent_id = ?,
			offered_to = NULL, offer_expires_at = NULL, agent_joined = 1,
			assigned_at = COALESCE(assigned_at, ?), updated_at = ? WHERE id = ?`,
			agent.ID, fmtTime(now), fmtTime(now), conv); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chat_offers SET outcome = 'accepted', resolved_at = ?
			WHERE conversation_id = ? AND agent_id = ? AND outcome = 'pending'`, fmtTime(now), conv, agent.ID); err != nil {
			return err
		}
		if m, err = systemMessage(ctx, tx, conv, agent.Name+" joined the chat.", now); err != nil {
			return err
		}
		c, err = getConversation(ctx, tx, conv)
		return err
	})
	if err != nil {
		return c, m, storeErr("accept", err)
	}
	return c, m, nil
}

// Decline implements Store.
func (s *SQLiteStore) Decline(ctx context.Context, conv, agentID int64, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET offered_to = NULL, offer_expires_at = NULL
			WHERE id = ? AND status = 'waiting' AND offered_to = ?`, conv, agentID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrOfferGone
		}
		_, err = tx.ExecContext(ctx, `UPDATE chat_offers SET outcome = 'declined', resolved_at = ?
			WHERE conversation_id = ? AND agent_id = ? AND outcome = 'pending'`, fmtTime(now), conv, agentID)
		return err
	})
	if err != nil {
		return storeErr("decline", err)
	}
	return nil
}

// Transfer implements Store.
func (s *SQLiteStore) Transfer(ctx context.Context, conv, from int64, to AgentRef, capacity int, now time.Time) (Conversation, Message, error) {
	var c Conversation
	var m Message
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := getConversation(ctx, tx, conv)
		if err != nil {
			return err
		}
		if cur.Status == StatusClosed {
			return ErrClosed
		}
		if cur.Status != StatusActive || cur.AgentID != from {
			return ErrNotAssigned
		}
		if to.ID == 0 {
			// Back to the queue, keeping its original place: it has waited
			// longest. The transferring agent is recorded as tried so that
			// routing prefers someone else.
			if _, err := tx.ExecContext(ctx, `INSERT INTO chat_offers (conversation_id, agent_id, offered_at, outcome, resolved_at)
				VALUES (?, ?, ?, 'transferred', ?)`, conv, from, fmtTime(now), fmtTime(now)); err != nil {
				return err
			}
			m, err = backToQueue(ctx, tx, conv, "The chat went back to the queue; the next available agent will join.", now)
		} else {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM chat_conversations WHERE status = 'active' AND agent_id = ?`, to.ID).Scan(&n); err != nil {
				return err
			}
			if n >= capacity {
				return ErrAgentBusy
			}
			if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET agent_id = ?, updated_at = ? WHERE id = ?`,
				to.ID, fmtTime(now), conv); err != nil {
				return err
			}
			m, err = systemMessage(ctx, tx, conv, "The chat was transferred to "+to.Name+".", now)
		}
		if err != nil {
			return err
		}
		c, err = getConversation(ctx, tx, conv)
		return err
	})
	if err != nil {
		return c, m, storeErr("transfer", err)
	}
	return c, m, nil
}

// backToQueue puts an active conversation back in the queue at the place
// it had (queued_at is kept) and stores a system message. Its customer
// counts as seen now: the wait for an agent starts again.
func backToQueue(ctx context.Context, tx *sql.Tx, conv int64, text string, now time.Time) (Message, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET status = 'waiting', agent_id = NULL,
		agent_missing_since = NULL, customer_seen_at = ?1, updated_at = ?1 WHERE id = ?2`, fmtTime(now), conv); err != nil {
		return Message{}, err
	}
	return systemMessage(ctx, tx, conv, text, now)
}

// Close implements Store.
func (s *SQLiteStore) Close(ctx context.Context, conv int64, by From, agent AgentRef, now time.Time) (CloseResult, error) {
	var res CloseResult
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := getConversation(ctx, tx, conv)
		if err != nil {
			return err
		}
		if cur.Status == StatusClosed {
			return ErrClosed
		}
		if by == FromAgent && (cur.Status != StatusActive || cur.AgentID != agent.ID) {
			return ErrNotAssigned
		}
		text := "The customer ended the chat."
		switch by {
		case FromAgent:
			text = agent.Name + " ended the chat."
		case FromSystem:
			text = "The chat was ended."
		}
		res, err = closeTx(ctx, tx, cur, by, text, now)
		return err
	})
	if err != nil {
		return CloseResult{}, storeErr("close", err)
	}
	return res, nil
}

// closeTx closes cur (not closed yet), withdrawing a pending offer, and
// stores text as a system message.
func closeTx(ctx context.Context, tx *sql.Tx, cur Conversation, by From, text string, now time.Time) (CloseResult, error) {
	var res CloseResult
	conv := cur.ID
	if cur.OfferedTo != 0 {
		res.WithdrawnTo = cur.OfferedTo
		if _, err := tx.ExecContext(ctx, `UPDATE chat_offers SET outcome = 'withdrawn', resolved_at = ?
			WHERE conversation_id = ? AND outcome = 'pending'`, fmtTime(now), conv); err != nil {
			return res, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET status = 'closed', offered_to = NULL,
		offer_expires_at = NULL, agent_missing_since = NULL, closed_by = ?, closed_at = ?, updated_at = ?,
		deflected = CASE WHEN agent_joined = 0 AND article_opened = 1 THEN 1 ELSE 0 END
		WHERE id = ?`, string(by), fmtTime(now), fmtTime(now), conv); err != nil {
		return res, err
	}
	var err error
	if res.Message, err = systemMessage(ctx, tx, conv, text, now); err != nil {
		return res, err
	}
	res.Conversation, err = getConversation(ctx, tx, conv)
	return res, err
}

// --- reclaiming chats whose people are gone ---

// SeenCustomers implements Store.
func (s *SQLiteStore) SeenCustomers(ctx context.Context, convs []int64, now time.Time) error {
	const chunk = 500
	for len(convs) > 0 {
		n := min(len(convs), chunk)
		list, args := inList(convs[:n])
		if _, err := s.db.W.ExecContext(ctx, `UPDATE chat_conversations SET customer_seen_at = ?
			WHERE status IN ('waiting', 'active') AND id IN `+list, append([]any{fmtTime(now)}, args...)...); err != nil {
			return storeErr("record customers seen", err)
		}
		convs = convs[n:]
	}
	return nil
}

// reclaimCutoffs are the times before which an agent's or a customer's
// absence has lasted long enough.
func reclaimCutoffs(in ReclaimInput) (agent, customer string) {
	return fmtTime(in.Now.Add(-in.AgentGone)), fmtTime(in.Now.Add(-in.CustomerGone))
}

// NeedsReclaim implements Store.
func (s *SQLiteStore) NeedsReclaim(ctx context.Context, in ReclaimInput) (bool, error) {
	list, args := inList(in.Connected)
	agentCut, customerCut := reclaimCutoffs(in)
	var agents, customers bool
	err := s.db.R.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM chat_conversations WHERE status = 'active' AND (
			((agent_id IS NULL OR agent_id NOT IN `+list+`) AND (agent_missing_since IS NULL OR agent_missing_since <= ?))
			OR (agent_id IN `+list+` AND agent_missing_since IS NOT NULL))),
		EXISTS (SELECT 1 FROM chat_conversations WHERE status = 'waiting'
			AND COALESCE(customer_seen_at, queued_at, updated_at) <= ?)`,
		append(append(append(args, agentCut), args...), customerCut)...).Scan(&agents, &customers)
	if err != nil {
		return false, storeErr("check for gone agents and customers", err)
	}
	return agents || customers, nil
}

// Reclaim implements Store.
func (s *SQLiteStore) Reclaim(ctx context.Context, in ReclaimInput) (ReclaimResult, error) {
	var res ReclaimResult
	list, args := inList(in.Connected)
	agentCut, customerCut := reclaimCutoffs(in)
	now := fmtTime(in.Now)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res = ReclaimResult{}
		if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET agent_missing_since = NULL
			WHERE status = 'active' AND agent_missing_since IS NOT NULL AND agent_id IN `+list, args...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET agent_missing_since = ?
			WHERE status = 'active' AND agent_missing_since IS NULL AND (agent_id IS NULL OR agent_id NOT IN `+list+`)`,
			append([]any{now}, args...)...); err != nil {
			return err
		}
		due, err := queryIDs(ctx, tx, `SELECT id FROM chat_conversations
			WHERE status = 'active' AND agent_missing_since <= ? ORDER BY id`, agentCut)
		if err != nil {
			return err
		}
		for _, id := range due {
			cur, err := getConversation(ctx, tx, id)
			if err != nil {
				return err
			}
			m, err := backToQueue(ctx, tx, id,
				"Your agent lost their connection, so the chat went back to the queue; the next available agent will join.", in.Now)
			if err != nil {
				return err
			}
			cv, err := getConversation(ctx, tx, id)
			if err != nil {
				return err
			}
			res.Requeued = append(res.Requeued, Requeued{Conversation: cv, AgentID: cur.AgentID, Message: m})
		}
		gone, err := queryIDs(ctx, tx, `SELECT id FROM chat_conversations
			WHERE status = 'waiting' AND COALESCE(customer_seen_at, queued_at, updated_at) <= ? ORDER BY id`, customerCut)
		if err != nil {
			return err
		}
		for _, id := range gone {
			cur, err := getConversation(ctx, tx, id)
			if err != nil {
				return err
			}
			cr, err := closeTx(ctx, tx, cur, FromSystem, "The customer left before an agent could join.", in.Now)
			if err != nil {
				return err
			}
			res.Abandoned = append(res.Abandoned, cr)
		}
		return nil
	})
	if err != nil {
		return ReclaimResult{}, storeErr("reclaim", err)
	}
	return res, nil
}

func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Queue implements Store.
func (s *SQLiteStore) Queue(ctx context.Context) ([]QueueEntry, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, queued_at FROM chat_conversations
		WHERE status = 'waiting' ORDER BY queued_at, id`)
	if err != nil {
		return nil, storeErr("queue", err)
	}
	defer rows.Close()
	var out []QueueEntry
	for rows.Next() {
		var e QueueEntry
		var q string
		if err := rows.Scan(&e.ConversationID, &q); err != nil {
			return nil, storeErr("queue", err)
		}
		if e.QueuedAt, err = parseTime(q); err != nil {
			return nil, storeErr("queue", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("queue", err)
	}
	return out, nil
}

// HandleTimes implements Store.
func (s *SQLiteStore) HandleTimes(ctx context.Context, since time.Time, n int) ([]time.Duration, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT assigned_at, closed_at FROM chat_conversations
		WHERE status = 'closed' AND closed_at >= ? AND assigned_at IS NOT NULL
		ORDER BY closed_at DESC LIMIT ?`, fmtTime(since), n)
	if err != nil {
		return nil, storeErr("handle times", err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var a, c string
		if err := rows.Scan(&a, &c); err != nil {
			return nil, storeErr("handle times", err)
		}
		at, err1 := parseTime(a)
		ct, err2 := parseTime(c)
		if err := errors.Join(err1, err2); err != nil {
			return nil, storeErr("handle times", err)
		}
		out = append(out, ct.Sub(at))
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("handle times", err)
	}
	return out, nil
}

// --- small updates ---

// MarkRead implements Store.
func (s *SQLiteStore) MarkRead(ctx context.Context, conv int64, by From, seq int64, now time.Time) (int64, error) {
	col := "customer_read_seq"
	if by == FromAgent {
		col = "agent_read_seq"
	}
	var stored int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE chat_conversations SET `+col+` = MAX(`+col+`, MIN(?, last_seq))
			WHERE id = ? RETURNING `+col, seq, conv).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return 0, storeErr("mark read", err)
	}
	return stored, nil
}

// Rate implements Store.
func (s *SQLiteStore) Rate(ctx context.Context, conv int64, score int, comment string, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET rating = ?, rating_comment = ?, updated_at = ? WHERE id = ?`,
			score, comment, fmtTime(now), conv)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return storeErr("rate", err)
	}
	return nil
}

// ArticleOpened implements Store.
func (s *SQLiteStore) ArticleOpened(ctx context.Context, conv int64, slug string, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO chat_article_opens (conversation_id, slug, opened_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, conv, slug, fmtTime(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET article_opened = 1 WHERE id = ?`, conv)
		return err
	})
	if err != nil {
		return storeErr("record article", err)
	}
	return nil
}

// OfflineTicket implements Store.
func (s *SQLiteStore) OfflineTicket(ctx context.Context, conv int64, clientID string) (int64, bool, error) {
	var id int64
	err := s.db.R.QueryRowContext(ctx, `SELECT ticket_id FROM chat_offline_messages WHERE conversation_id = ? AND client_id = ?`,
		conv, clientID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, storeErr("find offline message", err)
	}
	return id, true, nil
}

// SaveOfflineTicket implements Store.
func (s *SQLiteStore) SaveOfflineTicket(ctx context.Context, conv int64, clientID string, ticketID int64, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if clientID != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO chat_offline_messages (conversation_id, client_id, ticket_id, created_at)
				VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, conv, clientID, ticketID, fmtTime(now)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET ticket_id = ?, updated_at = ? WHERE id = ?`,
			ticketID, fmtTime(now), conv)
		return err
	})
	if err != nil {
		return storeErr("save offline message", err)
	}
	return nil
}

// SetCustomerEmail implements Store.
func (s *SQLiteStore) SetCustomerEmail(ctx context.Context, conv int64, email string, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE chat_conversations SET customer_email = ?, updated_at = ?
			WHERE id = ? AND customer_email = ''`, email, fmtTime(now), conv)
		return err
	})
	if err != nil {
		return storeErr("set email", err)
	}
	return nil
}

// --- attachments ---

// SaveAttachment implements Store.
func (s *SQLiteStore) SaveAttachment(ctx context.Context, a Attachment) (int64, error) {
	var id int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if a.Uploader == string(FromCustomer) {
			var files int
			var bytes int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM chat_attachments
				WHERE conversation_id = ? AND uploader = ?`, a.ConversationID, a.Uploader).Scan(&files, &bytes); err != nil {
				return err
			}
			switch {
			case files >= MaxCustomerFiles:
				return ErrTooManyFiles
			case bytes+int64(len(a.Data)) > MaxCustomerBytes:
				return ErrFilesTooLarge
			}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO chat_attachments
			(conversation_id, uploader, name, content_type, size, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			a.ConversationID, a.Uploader, a.Name, a.ContentType, len(a.Data), a.Data, fmtTime(a.CreatedAt)).Scan(&id)
	})
	if err != nil {
		return 0, storeErr("save attachment", err)
	}
	return id, nil
}

// Attachment implements Store.
func (s *SQLiteStore) Attachment(ctx context.Context, id int64) (Attachment, error) {
	var a Attachment
	var created string
	err := s.db.R.QueryRowContext(ctx, `SELECT id, conversation_id, uploader, name, content_type, size, data, created_at
		FROM chat_attachments WHERE id = ?`, id).Scan(&a.ID, &a.ConversationID, &a.Uploader, &a.Name, &a.ContentType, &a.Size, &a.Data, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrAttachmentNotFound
	}
	if err != nil {
		return a, storeErr("get attachment", err)
	}
	if a.CreatedAt, err = parseTime(created); err != nil {
		return a, storeErr("get attachment", err)
	}
	return a, nil
}

// AgentName implements Store.
func (s *SQLiteStore) AgentName(ctx context.Context, id int64) (string, error) {
	var name string
	err := s.db.R.QueryRowContext(ctx, `SELECT name FROM agents WHERE id = ? AND active = 1`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrAgentNotFound
	}
	if err != nil {
		return "", storeErr("get agent", err)
	}
	return name, nil
}
