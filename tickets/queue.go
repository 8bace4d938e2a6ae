package tickets

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
)

// Sort orders for List.
const (
	SortActivity = "activity" // last activity, newest first (default)
	SortSLADue   = "sla_due"  // tickets awaiting a first response by due time, soonest first; answered ones after
)

// Filter selects and orders tickets for List. Zero fields do not filter.
type Filter struct {
	Queue         string
	Statuses      []Status
	AssigneeID    int64
	AssigneeEmail string
	Unassigned    bool
	Mine          bool // assigned to the acting agent
	Tag           string
	Query         string // full-text search over subject, messages, requester and tags
	Sort          string // SortActivity or SortSLADue
	Limit         int    // 1..MaxListLimit; 0 means DefaultListLimit
	Cursor        string // from the previous page's NextCursor
}

// Page is one page of List.
type Page struct {
	Tickets    []Ticket `json:"tickets"`
	NextCursor string   `json:"next_cursor"` // "" on the last page
}

// cursor is the position after the last ticket of a page. It is opaque to
// clients (base64 of this JSON) and names its sort, so a cursor from one
// order is refused by the other.
type cursor struct {
	Sort      string `json:"s"`
	Updated   string `json:"u,omitempty"`
	Responded int    `json:"r,omitempty"`
	Due       string `json:"d,omitempty"`
	ID        int64  `json:"i"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, sort string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 512 {
		return cursor{}, ErrBadCursor
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Sort != sort || c.ID <= 0 {
		return cursor{}, ErrBadCursor
	}
	switch sort {
	case SortActivity:
		if _, err := parseTime(c.Updated); err != nil {
			return cursor{}, ErrBadCursor
		}
	case SortSLADue:
		if _, err := parseTime(c.Due); (err != nil && c.Due != noDue) || (c.Responded != 0 && c.Responded != 1) {
			return cursor{}, ErrBadCursor
		}
	}
	return c, nil
}

// noDue sorts tickets without an SLA due time after every real one.
const noDue = "~"

// List returns a page of tickets matching f. It returns an
// apperr.KindInvalid error for a bad filter or cursor, and
// ErrSearchUnavailable when f.Query is set and the index is down.
func (s *Service) List(ctx context.Context, actor auth.Agent, f Filter) (Page, error) {
	if f.Sort == "" {
		f.Sort = SortActivity
	}
	if f.Sort != SortActivity && f.Sort != SortSLADue {
		return Page{}, apperr.Invalid("sort must be %q or %q", SortActivity, SortSLADue)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultListLimit
	}
	f.Limit = min(f.Limit, MaxListLimit)
	n := 0
	for _, b := range []bool{f.Unassigned, f.Mine, f.AssigneeID != 0 || f.AssigneeEmail != ""} {
		if b {
			n++
		}
	}
	if n > 1 {
		return Page{}, apperr.Invalid("use only one of assignee, unassigned and mine")
	}
	var (
		where []string
		args  []any
	)
	if f.Queue != "" {
		where, args = append(where, "t.queue = ?"), append(args, f.Queue)
	}
	if len(f.Statuses) > 0 {
		for _, st := range f.Statuses {
			if !st.Valid() {
				return Page{}, apperr.Invalid("status %q is not one of new, open, pending, solved, closed", st)
			}
			args = append(args, string(st))
		}
		where = append(where, "t.status IN ("+placeholders(len(f.Statuses))+")")
	}
	switch {
	case f.Unassigned:
		where = append(where, "t.assignee_id IS NULL")
	case f.Mine:
		where, args = append(where, "t.assignee_id = ?"), append(args, actor.ID)
	case f.AssigneeID != 0:
		where, args = append(where, "t.assignee_id = ?"), append(args, f.AssigneeID)
	case f.AssigneeEmail != "":
		where, args = append(where, "t.assignee_id = (SELECT id FROM agents WHERE email = ?)"), append(args, strings.ToLower(f.AssigneeEmail))
	}
	if f.Tag != "" {
		tags, err := NormalizeTags([]string{f.Tag})
		if err != nil {
			return Page{}, err
		}
		if len(tags) == 1 {
			where, args = append(where, "EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = ?)"), append(args, tags[0])
		}
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		if len(q) > 500 {
			return Page{}, apperr.Invalid("q is longer than 500 characters")
		}
		ids, err := s.index.search(ctx, q, maxSearchHits)
		if err != nil {
			if errors.Is(err, ErrSearchUnavailable) {
				return Page{}, err
			}
			return Page{}, apperr.Internal("tickets: search", err)
		}
		if len(ids) == 0 {
			return Page{Tickets: []Ticket{}}, nil
		}
		for _, id := range ids {
			args = append(args, id)
		}
		where = append(where, "t.id IN ("+placeholders(len(ids))+")")
	}
	order := " ORDER BY t.updated_at DESC, t.id DESC"
	if f.Sort == SortSLADue {
		order = " ORDER BY (t.first_response_at IS NOT NULL), COALESCE(t.sla_due_at, '" + noDue + "'), t.id"
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor, f.Sort)
		if err != nil {
			return Page{}, err
		}
		if f.Sort == SortActivity {
			where, args = append(where, "(t.updated_at, t.id) < (?, ?)"), append(args, c.Updated, c.ID)
		} else {
			where = append(where, "((t.first_response_at IS NOT NULL), COALESCE(t.sla_due_at, '"+noDue+"'), t.id) > (?, ?, ?)")
			args = append(args, c.Responded, c.Due, c.ID)
		}
	}
	q := ticketSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += order + " LIMIT ?"
	args = append(args, f.Limit+1)

	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return Page{}, apperr.Internal("tickets: list", err)
	}
	defer rows.Close()
	page := Page{Tickets: []Ticket{}}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return Page{}, apperr.Internal("tickets: list", err)
		}
		page.Tickets = append(page.Tickets, t)
	}
	if err := rows.Err(); err != nil {
		return Page{}, apperr.Internal("tickets: list", err)
	}
	if len(page.Tickets) > f.Limit {
		page.Tickets = page.Tickets[:f.Limit]
		last := page.Tickets[f.Limit-1]
		c := cursor{Sort: f.Sort, ID: last.ID}
		if f.Sort == SortActivity {
			c.Updated = fmtTime(last.UpdatedAt)
		} else {
			c.Due = noDue
			if last.SLADueAt != nil {
				c.Due = fmtTime(*last.SLADueAt)
			}
			if last.FirstResponseAt != nil {
				c.Responded = 1
			}
		}
		page.NextCursor = c.encode()
	}
	ids := make([]int64, len(page.Tickets))
	for i, t := range page.Tickets {
		ids[i] = t.ID
	}
	tags, err := loadTags(ctx, s.db.R, ids)
	if err != nil {
		return Page{}, apperr.Internal("tickets: list tags", err)
	}
	for i := range page.Tickets {
		if tg := tags[page.Tickets[i].ID]; tg != nil {
			page.Tickets[i].Tags = tg
		}
	}
	return page, nil
}

// Get returns a ticket with its conversation and the other agents on it,
// and records the actor as viewing it. It returns ErrNotFound.
func (s *Service) Get(ctx context.Context, actor auth.Agent, id int64) (Detail, error) {
	var d Detail
	var err error
	if d.Ticket, err = getTicket(ctx, s.db.R, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Detail{}, err
		}
		return Detail{}, apperr.Internal("tickets: get", err)
	}
	if d.Participants, err = loadParticipants(ctx, s.db.R, id); err != nil {
		return Detail{}, apperr.Internal("tickets: get participants", err)
	}
	if d.Messages, err = loadMessages(ctx, s.db.R, id); err != nil {
		return Detail{}, apperr.Internal("tickets: get messages", err)
	}
	if err := s.viewers.Touch(ctx, id, Viewer{AgentID: actor.ID, Name: actor.Name}); err != nil {
		s.log.WarnContext(ctx, "tickets: record viewer", "ticket", id, "err", err)
	}
	if d.Viewers, err = s.others(ctx, actor, id); err != nil {
		s.log.WarnContext(ctx, "tickets: list viewers", "ticket", id, "err", err)
		d.Viewers = []Viewer{}
	}
	return d, nil
}

// others lists the viewers of a ticket except the actor.
func (s *Service) others(ctx context.Context, actor auth.Agent, id int64) ([]Viewer, error) {
	vs, err := s.viewers.List(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []Viewer{}
	for _, v := range vs {
		if v.AgentID != actor.ID {
			out = append(out, v)
		}
	}
	return out, nil
}

// SetViewing records what the actor is doing on a ticket (ActivityViewing
// or ActivityReplying) and returns the other agents on it. It returns
// ErrNotFound, or an apperr.KindInvalid error for another activity.
func (s *Service) SetViewing(ctx context.Context, actor auth.Agent, id int64, activity string) ([]Viewer, error) {
	if activity != ActivityViewing && activity != ActivityReplying {
		return nil, apperr.Invalid("activity must be %q or %q", ActivityViewing, ActivityReplying)
	}
	var one int
	err := s.db.R.QueryRowContext(ctx, `SELECT 1 FROM tickets WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Internal("tickets: viewing", err)
	}
	if err := s.viewers.Touch(ctx, id, Viewer{AgentID: actor.ID, Name: actor.Name, Activity: activity}); err != nil {
		return nil, err
	}
	vs, err := s.others(ctx, actor, id)
	if err != nil {
		return nil, apperr.Internal("tickets: viewers", err)
	}
	return vs, nil
}

// AssigneeRef names the agent to assign: by ID, or by Email when ID is 0.
// Both zero means unassign.
type AssigneeRef struct {
	ID    int64
	Email string
}

// Patch holds the changes an agent may make to a ticket; nil fields stay.
type Patch struct {
	Status   *Status
	Priority *Priority
	Assignee *AssigneeRef
	Tags     *[]string
}

// Update applies p to a ticket and returns it. It returns ErrNotFound,
// ErrNoChange for an empty patch, an error matching ErrTransition (409) for
// a status change the rules forbid, and apperr.KindInvalid errors for bad
// values or an unknown or inactive assignee.
func (s *Service) Update(ctx context.Context, actor auth.Agent, id int64, p Patch) (Ticket, error) {
	if p.Status == nil && p.Priority == nil && p.Assignee == nil && p.Tags == nil {
		return Ticket{}, ErrNoChange
	}
	if p.Status != nil && !p.Status.Valid() {
		return Ticket{}, apperr.Invalid("status %q is not one of new, open, pending, solved, closed", *p.Status)
	}
	if p.Priority != nil && !p.Priority.Valid() {
		return Ticket{}, apperr.Invalid("priority %q is not one of low, normal, high, urgent", *p.Priority)
	}
	var tags []string
	if p.Tags != nil {
		var err error
		if tags, err = NormalizeTags(*p.Tags); err != nil {
			return Ticket{}, err
		}
	}
	now := s.now()
	var t Ticket
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if t, err = getTicket(ctx, tx, id); err != nil {
			return err
		}
		if p.Status != nil {
			if err := setStatus(ctx, tx, t, *p.Status, now); err != nil {
				return err
			}
		}
		if p.Priority != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE tickets SET priority = ? WHERE id = ?`, *p.Priority, id); err != nil {
				return err
			}
		}
		if p.Assignee != nil {
			var agent any
			if p.Assignee.ID != 0 || p.Assignee.Email != "" {
				aid, err := resolveAgent(ctx, tx, *p.Assignee)
				if err != nil {
					return err
				}
				agent = aid
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tickets SET assignee_id = ? WHERE id = ?`, agent, id); err != nil {
				return err
			}
		}
		if p.Tags != nil {
			if err := setTags(ctx, tx, id, tags); err != nil {
				return err
			}
		}
		if err := touchTicket(ctx, tx, id, now); err != nil {
			return err
		}
		t, err = getTicket(ctx, tx, id)
		return err
	})
	if err != nil {
		if apperr.KindOf(err) != apperr.KindInternal {
			return Ticket{}, err
		}
		return Ticket{}, apperr.Internal("tickets: update", err)
	}
	s.reindex(ctx, id)
	return t, nil
}

// setStatus moves a ticket to status to, keeping solved_at and closed_at in
// step. It returns a transition error when the rules forbid the change.
func setStatus(ctx context.Context, tx *sql.Tx, t Ticket, to Status, now time.Time) error {
	if !t.Status.CanBecome(to) {
		return transitionError(t.Status, to)
	}
	if t.Status == to {
		return nil
	}
	solved, closed := t.SolvedAt, t.ClosedAt
	switch to {
	case StatusSolved:
		solved = &now
	case StatusClosed:
		closed = &now
		if solved == nil {
			// Closed without being solved first (spam, duplicates):
			// resolution time is when it was closed.
			solved = &now
		}
	default:
		solved = nil // reopened
	}
	_, err := tx.ExecContext(ctx, `UPDATE tickets SET status = ?, solved_at = ?, closed_at = ? WHERE id = ?`,
		to, timeOrNull(solved), timeOrNull(closed), t.ID)
	return err
}

// resolveAgent finds the active agent ref names.
func resolveAgent(ctx context.Context, q querier, ref AssigneeRef) (int64, error) {
	var (
		id     int64
		active bool
		err    error
	)
	if ref.ID != 0 {
		err = q.QueryRowContext(ctx, `SELECT id, active FROM agents WHERE id = ?`, ref.ID).Scan(&id, &active)
	} else {
		err = q.QueryRowContext(ctx, `SELECT id, active FROM agents WHERE email = ?`, strings.ToLower(strings.TrimSpace(ref.Email))).Scan(&id, &active)
	}
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !active) {
		if ref.ID != 0 {
			return 0, apperr.Invalid("assignee: no active agent with id %d", ref.ID)
		}
		return 0, apperr.Invalid("assignee: no active agent with email %q", ref.Email)
	}
	return id, err
}

// AttachmentFile is an attachment ready to serve.
type AttachmentFile struct {
	Filename    string
	ContentType string // as the sender declared it; see SafeContentType
	Size        int64
	File        *os.File // the caller closes it
}

// Attachment opens attachment attID of ticket ticketID. It returns
// ErrAttachmentNotFound when either does not exist or they do not belong
// together.
func (s *Service) Attachment(ctx context.Context, ticketID, attID int64) (AttachmentFile, error) {
	var (
		a   AttachmentFile
		sum string
	)
	err := s.db.R.QueryRowContext(ctx, `SELECT sha256, filename, content_type, size FROM ticket_attachments WHERE id = ? AND ticket_id = ?`,
		attID, ticketID).Scan(&sum, &a.Filename, &a.ContentType, &a.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrAttachmentNotFound
	}
	if err != nil {
		return a, apperr.Internal("tickets: attachment", err)
	}
	if len(sum) != 64 {
		return a, apperr.Internal("tickets: attachment", errors.New("bad digest "+sum))
	}
	f, err := os.Open(s.attachmentPath(sum))
	if err != nil {
		return a, apperr.Internal("tickets: open attachment", err)
	}
	a.File = f
	return a, nil
}

// SafeContentType is the Content-Type an attachment may be served with. Only
// types a browser will not run as a page or script are passed through;
// everything else (HTML, SVG, XML, JavaScript, unknown) is served as
// application/octet-stream. Attachments are always served with
// Content-Disposition: attachment and nosniff as well.
func SafeContentType(declared string) string {
	ct := strings.ToLower(strings.TrimSpace(declared))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff", "image/heic",
		"application/pdf", "application/zip", "application/gzip", "application/x-7z-compressed",
		"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
		"audio/mpeg", "audio/wav", "video/mp4", "video/quicktime":
		return ct
	case "text/plain", "text/csv":
		return ct + "; charset=utf-8"
	}
	return "application/octet-stream"
}
