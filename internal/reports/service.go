package reports

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// Zone gives the time zone days are counted in; *hours.Schedule
// implements it, so a report follows the support-hours zone even after an
// admin changes it.
type Zone interface {
	Location() *time.Location
}

// Options configures a Service. Zone is required.
type Options struct {
	Zone   Zone
	Queues []string // the configured queues, listed even when they had no tickets
	Now    func() time.Time
}

// Service computes reports. It only reads the database and is safe for
// concurrent use.
type Service struct {
	db     *sqlitedb.DB
	zone   Zone
	queues []string
	now    func() time.Time
}

// New returns a Service over db.
func New(db *sqlitedb.DB, o Options) *Service {
	s := &Service{db: db, zone: o.Zone, queues: slices.Clone(o.Queues), now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Location is the zone reports count days in now.
func (s *Service) Location() *time.Location { return s.zone.Location() }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// timeLayout is how tickets and chats store times: UTC, fixed width, so
// that comparing the text compares the times.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// Summary computes the report for q. q.From and q.To must be local
// midnights in s.Location() (see ParseRange). Storage failures are
// apperr.KindInternal.
func (s *Service) Summary(ctx context.Context, q Query) (Summary, error) {
	loc := s.zone.Location()
	now := s.now()
	start := q.From
	end := q.To.AddDate(0, 0, 1) // exclusive
	days := daysBetween(q.From, q.To) + 1
	dates := make([]string, days)
	index := make(map[string]int, days)
	for i := range days {
		d := q.From.AddDate(0, 0, i).Format("2006-01-02")
		dates[i], index[d] = d, i
	}

	sum := Summary{
		From: q.From.Format("2006-01-02"), To: q.To.Format("2006-01-02"), Queue: q.Queue,
		Timezone: loc.String(), GeneratedAt: now.UTC(),
	}
	tix, seen, err := s.tickets(ctx, q.Queue, start, end, now, loc, dates, index)
	if err != nil {
		return Summary{}, apperr.Internal("reports: tickets", err)
	}
	sum.Tickets = tix
	queues := slices.Clone(s.queues)
	for _, name := range seen {
		if !slices.Contains(queues, name) {
			queues = append(queues, name)
		}
	}
	sum.Queues = queues

	has, err := hasChat(ctx, s.db.R)
	if err != nil {
		return Summary{}, apperr.Internal("reports: look for chat tables", err)
	}
	if has {
		cs, err := s.chats(ctx, start, end, loc, dates, index)
		if err != nil {
			return Summary{}, apperr.Internal("reports: chats", err)
		}
		sum.Chat = &cs
	}
	return sum, nil
}

// tickets computes the ticket part of a report, and returns the queues seen
// in the range, all of them even when filtered by queue.
func (s *Service) tickets(ctx context.Context, queue string, start, end, now time.Time, loc *time.Location,
	dates []string, index map[string]int) (TicketSummary, []string, error) {
	ts := TicketSummary{ByQueue: map[string]int{}, PerDay: make([]TicketDay, len(dates))}
	for i, d := range dates {
		ts.PerDay[i] = TicketDay{Date: d, ByQueue: map[string]int{}}
	}
	seen, err := queuesIn(ctx, s.db.R, start, end)
	if err != nil {
		return ts, nil, err
	}
	query := `SELECT queue, created_at, first_response_at, solved_at, sla_due_at
		FROM tickets WHERE created_at >= ? AND created_at < ?`
	args := []any{fmtTime(start), fmtTime(end)}
	if queue != "" {
		query += ` AND queue = ?`
		args = append(args, queue)
	}
	rows, err := s.db.R.QueryContext(ctx, query, args...)
	if err != nil {
		return ts, nil, err
	}
	defer rows.Close()
	var firsts, resolutions []time.Duration
	for rows.Next() {
		var (
			q, createdS           string
			firstS, solvedS, dueS sql.NullString
			created               time.Time
			first, solved, due    *time.Time
		)
		if err := rows.Scan(&q, &createdS, &firstS, &solvedS, &dueS); err != nil {
			return ts, nil, err
		}
		if created, err = time.Parse(timeLayout, createdS); err != nil {
			return ts, nil, fmt.Errorf("created_at %q: %w", createdS, err)
		}
		for _, f := range []struct {
			s   sql.NullString
			dst **time.Time
		}{{firstS, &first}, {solvedS, &solved}, {dueS, &due}} {
			if !f.s.Valid {
				continue
			}
			t, err := time.Parse(timeLayout, f.s.String)
			if err != nil {
				return ts, nil, fmt.Errorf("ticket time %q: %w", f.s.String, err)
			}
			*f.dst = &t
		}

		ts.Created++
		ts.ByQueue[q]++
		if i, ok := index[created.In(loc).Format("2006-01-02")]; ok {
			ts.PerDay[i].Total++
			ts.PerDay[i].ByQueue[q]++
		}
		if first != nil {
			firsts = append(firsts, first.Sub(created))
		}
		if solved != nil {
			resolutions = append(resolutions, solved.Sub(created))
		}
		if due != nil {
			ts.SLA.count(*due, first, solved, now)
		}
	}
	if err := rows.Err(); err != nil {
		return ts, nil, err
	}
	ts.FirstResponse = statsOf(firsts, time.Minute)
	ts.Resolution = statsOf(resolutions, time.Minute)
	if decided := ts.SLA.WithTarget - ts.SLA.Pending; decided > 0 {
		ts.SLA.BreachRate = round4(float64(ts.SLA.Breached) / float64(decided))
	}
	return ts, seen, nil
}

// count files one ticket with a due time under exactly one SLA outcome;
// see SLA.
func (s *SLA) count(due time.Time, first, solved *time.Time, now time.Time) {
	s.WithTarget++
	switch {
	case first != nil && first.After(due):
		s.BreachedLate++
		s.Breached++
	case first != nil:
		s.Met++
	case solved != nil && !solved.After(due):
		s.Met++
	case solved != nil || now.After(due):
		s.BreachedUnanswered++
		s.Breached++
	default:
		s.Pending++
	}
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

// queuesIn lists the queues of tickets created in [start, end), by name.
func queuesIn(ctx context.Context, db *sql.DB, start, end time.Time) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT queue FROM tickets WHERE created_at >= ? AND created_at < ? ORDER BY queue`,
		fmtTime(start), fmtTime(end))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// hasChat reports whether the database has the chat tables (migration
// 0004); a report leaves chat out without them.
func hasChat(ctx context.Context, db *sql.DB) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'chat_conversations'`).Scan(&n)
	return n > 0, err
}

// chats computes the chat part of a report: conversations created in
// [start, end) in which the customer joined the queue or was deflected.
func (s *Service) chats(ctx context.Context, start, end time.Time, loc *time.Location, dates []string, index map[string]int) (ChatSummary, error) {
	cs := ChatSummary{PerDay: make([]ChatDay, len(dates))}
	for i, d := range dates {
		cs.PerDay[i] = ChatDay{Date: d}
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT created_at, queued_at, assigned_at, status, deflected, rating
		FROM chat_conversations
		WHERE created_at >= ? AND created_at < ? AND (queued_at IS NOT NULL OR deflected = 1)`,
		fmtTime(start), fmtTime(end))
	if err != nil {
		return cs, err
	}
	defer rows.Close()
	var waits []time.Duration
	ratingSum := 0
	for rows.Next() {
		var (
			createdS, status   string
			queuedS, assignedS sql.NullString
			deflected          bool
			rating             sql.NullInt64
		)
		if err := rows.Scan(&createdS, &queuedS, &assignedS, &status, &deflected, &rating); err != nil {
			return cs, err
		}
		created, err := time.Parse(timeLayout, createdS)
		if err != nil {
			return cs, fmt.Errorf("chat created_at %q: %w", createdS, err)
		}
		cs.Conversations++
		if i, ok := index[created.In(loc).Format("2006-01-02")]; ok {
			cs.PerDay[i].Count++
		}
		switch {
		case queuedS.Valid && assignedS.Valid:
			q, err1 := time.Parse(timeLayout, queuedS.String)
			a, err2 := time.Parse(timeLayout, assignedS.String)
			if err1 != nil || err2 != nil {
				return cs, fmt.Errorf("chat wait times %q, %q", queuedS.String, assignedS.String)
			}
			waits = append(waits, a.Sub(q))
		case deflected:
			cs.Deflected++
		case status == "closed":
			cs.Abandoned++
		}
		if rating.Valid && rating.Int64 >= 1 && rating.Int64 <= 5 {
			cs.Ratings.Count++
			cs.Ratings.Distribution[rating.Int64-1]++
			ratingSum += int(rating.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return cs, err
	}
	cs.Wait = statsOf(waits, time.Second)
	if cs.Ratings.Count > 0 {
		cs.Ratings.Average = round2(float64(ratingSum) / float64(cs.Ratings.Count))
	}
	if cs.Conversations > 0 {
		cs.DeflectionRate = round4(float64(cs.Deflected) / float64(cs.Conversations))
	}
	return cs, nil
}
