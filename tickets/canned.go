package tickets

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
)

// Canned is a saved reply agents reuse. Its body may hold the placeholders
// {{customer_name}}, {{ticket_id}} and {{agent_name}}, replaced by plain
// substitution (no template language, so a body can never run logic or
// reach data beyond those three values). Unknown placeholders stay as
// written.
type Canned struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CannedInput creates a canned response or, with nil fields left alone,
// changes one.
type CannedInput struct {
	Title *string
	Body  *string
}

// renderCanned fills in a canned body for a ticket and the agent sending it.
func renderCanned(body string, t Ticket, agent auth.Agent) string {
	return strings.NewReplacer(
		"{{customer_name}}", customerName(t.Requester),
		"{{ticket_id}}", strconv.FormatInt(t.ID, 10),
		"{{agent_name}}", agentName(agent),
	).Replace(body)
}

func validCannedTitle(s string) (string, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return "", apperr.Invalid("title is required")
	case !utf8.ValidString(t):
		return "", apperr.Invalid("title is not valid UTF-8")
	case utf8.RuneCountInString(t) > MaxCannedTitleLen:
		return "", apperr.Invalid("title is longer than %d characters", MaxCannedTitleLen)
	case strings.ContainsAny(t, "\r\n\x00"):
		return "", apperr.Invalid("title must be a single line")
	}
	return t, nil
}

func scanCanned(r rowScanner) (Canned, error) {
	var (
		c                Canned
		by               sql.NullInt64
		created, updated string
	)
	if err := r.Scan(&c.ID, &c.Title, &c.Body, &by, &created, &updated); err != nil {
		return c, err
	}
	if by.Valid {
		id := by.Int64
		c.CreatedBy = &id
	}
	var err error
	if c.CreatedAt, err = parseTime(created); err != nil {
		return c, err
	}
	c.UpdatedAt, err = parseTime(updated)
	return c, err
}

const cannedCols = `id, title, body, created_by, created_at, updated_at`

func getCanned(ctx context.Context, q querier, id int64) (Canned, error) {
	c, err := scanCanned(q.QueryRowContext(ctx, `SELECT `+cannedCols+` FROM canned_responses WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrCannedNotFound
	}
	return c, err
}

// ListCanned returns every canned response, by title. Every agent sees and
// may edit all of them.
func (s *Service) ListCanned(ctx context.Context) ([]Canned, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+cannedCols+` FROM canned_responses ORDER BY title COLLATE NOCASE, id`)
	if err != nil {
		return nil, apperr.Internal("tickets: list canned", err)
	}
	defer rows.Close()
	out := []Canned{}
	for rows.Next() {
		c, err := scanCanned(rows)
		if err != nil {
			return nil, apperr.Internal("tickets: list canned", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal("tickets: list canned", err)
	}
	return out, nil
}

// CreateCanned stores a canned response; title and body are required. It
// returns apperr.KindInvalid errors for bad input.
func (s *Service) CreateCanned(ctx context.Context, actor auth.Agent, in CannedInput) (Canned, error) {
	if in.Title == nil || in.Body == nil {
		return Canned{}, apperr.Invalid("title and body are required")
	}
	title, err := validCannedTitle(*in.Title)
	if err != nil {
		return Canned{}, err
	}
	body, err := validText("body", *in.Body)
	if err != nil {
		return Canned{}, err
	}
	now := s.now()
	var by any
	if actor.ID != 0 {
		by = actor.ID
	}
	var c Canned
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO canned_responses (title, body, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			title, body, by, fmtTime(now), fmtTime(now))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		c, err = getCanned(ctx, tx, id)
		return err
	})
	if err != nil {
		return Canned{}, apperr.Internal("tickets: create canned", err)
	}
	return c, nil
}

// UpdateCanned changes a canned response. It returns ErrCannedNotFound or
// apperr.KindInvalid errors.
func (s *Service) UpdateCanned(ctx context.Context, id int64, in CannedInput) (Canned, error) {
	if in.Title == nil && in.Body == nil {
		return Canned{}, apperr.Invalid("give title or body to change")
	}
	var title, body string
	var err error
	if in.Title != nil {
		if title, err = validCannedTitle(*in.Title); err != nil {
			return Canned{}, err
		}
	}
	if in.Body != nil {
		if body, err = validText("body", *in.Body); err != nil {
			return Canned{}, err
		}
	}
	now := s.now()
	var c Canned
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = getCanned(ctx, tx, id); err != nil {
			return err
		}
		if in.Title != nil {
			c.Title = title
		}
		if in.Body != nil {
			c.Body = body
		}
		c.UpdatedAt = now
		_, err = tx.ExecContext(ctx, `UPDATE canned_responses SET title = ?, body = ?, updated_at = ? WHERE id = ?`,
			c.Title, c.Body, fmtTime(now), id)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCannedNotFound) {
			return Canned{}, err
		}
		return Canned{}, apperr.Internal("tickets: update canned", err)
	}
	return c, nil
}

// DeleteCanned removes a canned response. It returns ErrCannedNotFound.
func (s *Service) DeleteCanned(ctx context.Context, id int64) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM canned_responses WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrCannedNotFound
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrCannedNotFound) {
			return err
		}
		return apperr.Internal("tickets: delete canned", err)
	}
	return nil
}

// RenderCanned returns canned response cannedID filled in for a ticket and
// the acting agent, for the reply editor. It returns ErrNotFound or
// ErrCannedNotFound.
func (s *Service) RenderCanned(ctx context.Context, actor auth.Agent, ticketID, cannedID int64) (string, error) {
	t, err := getTicket(ctx, s.db.R, ticketID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", err
		}
		return "", apperr.Internal("tickets: render canned", err)
	}
	c, err := getCanned(ctx, s.db.R, cannedID)
	if err != nil {
		if errors.Is(err, ErrCannedNotFound) {
			return "", err
		}
		return "", apperr.Internal("tickets: render canned", err)
	}
	return renderCanned(c.Body, t, actor), nil
}
