// Package reports answers "how is support doing?" for managers: ticket
// volume per day and queue, first-response and resolution times, SLA
// breaches, and live-chat volume, waits, ratings and deflection, over a
// range of days.
//
// Everything is computed from the rows in SQLite at request time; nothing
// is pre-aggregated, so a report always agrees with the tickets and chats
// it describes. Medians and 90th percentiles are exact, computed in Go
// from every value in the range (see Stats for the definitions).
//
// Days are calendar days in the shop's time zone (the support-hours
// zone), so "Monday" means the shop's Monday.
package reports

import (
	"math"
	"slices"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
)

// MaxDays is the longest range a report may cover.
const MaxDays = 366

// DefaultDays is the range used when none is given: the last 30 days,
// today included.
const DefaultDays = 30

// Query selects what a report covers.
type Query struct {
	From, To time.Time // local dates (midnight in the report's zone); both included
	Queue    string    // only tickets of this queue; "" for all. Chats have no queue.
}

// Summary is one report, as GET /api/reports/summary answers it.
type Summary struct {
	From        string        `json:"from"` // YYYY-MM-DD
	To          string        `json:"to"`
	Queue       string        `json:"queue"`
	Timezone    string        `json:"timezone"`
	GeneratedAt time.Time     `json:"generated_at"`
	Queues      []string      `json:"queues"` // every queue known: configured ones and those seen in the range
	Tickets     TicketSummary `json:"tickets"`
	Chat        *ChatSummary  `json:"chat"` // null when this database has no chat tables
}

// TicketSummary is about the tickets created in the range.
type TicketSummary struct {
	Created int            `json:"created"`
	ByQueue map[string]int `json:"by_queue"`
	PerDay  []TicketDay    `json:"per_day"` // every day of the range, oldest first
	// FirstResponse is the time from creation to the first agent reply,
	// over tickets that have one; Resolution the time from creation to
	// solved (or closed), over tickets that are solved or closed now.
	// Both are wall-clock minutes, not support hours.
	FirstResponse Stats `json:"first_response_minutes"`
	Resolution    Stats `json:"resolution_minutes"`
	SLA           SLA   `json:"sla"`
}

// TicketDay is the tickets created on one day.
type TicketDay struct {
	Date    string         `json:"date"`
	Total   int            `json:"total"`
	ByQueue map[string]int `json:"by_queue"`
}

// SLA counts the first-response target of the tickets that have one (a
// ticket has none when its queue's schedule never opens). Every such
// ticket is in exactly one of Met, BreachedLate, BreachedUnanswered and
// Pending:
//
//   - BreachedLate: first answered after its due time;
//   - BreachedUnanswered: never answered, and still unresolved when it
//     fell due (open now past due, or solved after it without a reply);
//   - Met: answered by its due time, or resolved before it without a reply;
//   - Pending: unanswered and unresolved, not due yet.
//
// BreachRate is Breached over the decided tickets (WithTarget − Pending),
// 0 when none are decided.
type SLA struct {
	WithTarget         int     `json:"with_target"`
	Met                int     `json:"met"`
	Breached           int     `json:"breached"`
	BreachedLate       int     `json:"breached_late"`
	BreachedUnanswered int     `json:"breached_unanswered"`
	Pending            int     `json:"pending"`
	BreachRate         float64 `json:"breach_rate"`
}

// ChatSummary is about the chats started in the range. A chat is a
// conversation in which the customer asked for help: they joined the queue
// (wrote a message while chat was available) or were deflected.
type ChatSummary struct {
	Conversations int       `json:"conversations"`
	PerDay        []ChatDay `json:"per_day"`
	// Wait is seconds from joining the queue to the first agent accepting,
	// over chats an agent accepted.
	Wait Stats `json:"wait_seconds"`
	// Abandoned chats joined the queue and ended without an agent and
	// without being deflected.
	Abandoned int     `json:"abandoned"`
	Ratings   Ratings `json:"ratings"`
	// Deflected chats ended after the customer opened a suggested article,
	// without an agent joining. DeflectionRate is over Conversations.
	Deflected      int     `json:"deflected"`
	DeflectionRate float64 `json:"deflection_rate"`
}

// ChatDay is the chats started on one day.
type ChatDay struct {
	Date  string `json:"date"`
	Count int    `json:"count"`
}

// Ratings are the customers' 1-5 ratings of chats.
type Ratings struct {
	Count        int     `json:"count"`
	Average      float64 `json:"average"`      // 0 when Count is 0; two decimals
	Distribution [5]int  `json:"distribution"` // [0] is the number of 1s, [4] of 5s
}

// Stats describes a set of durations in one unit (minutes or seconds, as
// the field name says), rounded to two decimals.
//
//   - Median is the middle value of the sorted values, or the mean of the
//     two middle values when there is an even number of them.
//   - P90 is the nearest-rank 90th percentile: the smallest value that at
//     least 90% of the values are less than or equal to, which is the
//     value at 1-based rank ceil(0.9 × n). It is always one of the values.
//
// Median and P90 are null when Count is 0.
type Stats struct {
	Count  int      `json:"count"`
	Median *float64 `json:"median"`
	P90    *float64 `json:"p90"`
}

// statsOf computes Stats of ds, expressed in unit. ds is sorted in place.
func statsOf(ds []time.Duration, unit time.Duration) Stats {
	s := Stats{Count: len(ds)}
	if len(ds) == 0 {
		return s
	}
	slices.Sort(ds)
	n := len(ds)
	var med time.Duration
	if n%2 == 1 {
		med = ds[n/2]
	} else {
		// The mean of the two middle values, without overflow.
		a, b := ds[n/2-1], ds[n/2]
		med = a + (b-a)/2
	}
	// ceil(0.9n) in integers: (9n + 9) / 10.
	p90 := ds[(9*n+9)/10-1]
	m, p := round2(float64(med)/float64(unit)), round2(float64(p90)/float64(unit))
	s.Median, s.P90 = &m, &p
	return s
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// ParseRange reads the from and to query parameters (YYYY-MM-DD, both
// included) as dates in loc. Both empty means the DefaultDays days up to
// and including today. It returns an apperr.KindInvalid error naming the
// problem: only one given, a malformed or impossible date, to before from,
// or a range longer than MaxDays.
func ParseRange(from, to string, today time.Time, loc *time.Location) (time.Time, time.Time, error) {
	if from == "" && to == "" {
		y, m, d := today.In(loc).Date()
		end := time.Date(y, m, d, 0, 0, 0, 0, loc)
		return end.AddDate(0, 0, -(DefaultDays - 1)), end, nil
	}
	if from == "" || to == "" {
		return time.Time{}, time.Time{}, apperr.Invalid("give both from and to (YYYY-MM-DD), or neither for the last %d days", DefaultDays)
	}
	f, err := parseDate("from", from, loc)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	t, err := parseDate("to", to, loc)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if t.Before(f) {
		return time.Time{}, time.Time{}, apperr.Invalid("to (%s) is before from (%s)", to, from)
	}
	if n := daysBetween(f, t) + 1; n > MaxDays {
		return time.Time{}, time.Time{}, apperr.Invalid("the range covers %d days; a report covers at most %d", n, MaxDays)
	}
	return f, t, nil
}

func parseDate(field, s string, loc *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation("2006-01-02", s, loc)
	if err != nil || len(s) != len("2006-01-02") {
		return time.Time{}, apperr.Invalid("%s: %q is not a date written YYYY-MM-DD", field, s)
	}
	return d, nil
}

// daysBetween counts calendar days from a to b, both local midnights; it
// is exact across daylight-saving changes.
func daysBetween(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	ua := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
	ub := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int(ub.Sub(ua).Hours() / 24)
}
