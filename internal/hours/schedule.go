package hours

import (
	"iter"
	"slices"
	"sync/atomic"
	"time"
)

// horizonDays is how many local days NextChange looks ahead before giving up.
// It is more than a year so that a long run of holidays (a shop closed for a
// season) is skipped rather than reported as "never opens again".
const horizonDays = 400

// Schedule is a Weekly timetable placed in a time zone, with holidays. It is
// safe for concurrent use.
//
// Everything that needs support hours (the status endpoint, ticket SLAs,
// chat availability) holds the same *Schedule, so an admin's change made
// with Set reaches all of them at once. Each method reads one consistent
// snapshot of the timetable, zone and holidays: a Set that lands while
// AddOpen is walking the calendar never mixes old hours with a new zone.
type Schedule struct {
	cur atomic.Pointer[table]
}

// table is one immutable version of a Schedule's settings.
type table struct {
	weekly   Weekly
	loc      *time.Location
	holidays map[Date]bool
	dates    []Date // holidays as given, for Holidays
}

func newTable(weekly Weekly, loc *time.Location, holidays []Date) *table {
	t := &table{weekly: weekly, loc: loc, holidays: make(map[Date]bool, len(holidays)), dates: slices.Clone(holidays)}
	for _, d := range holidays {
		t.holidays[d] = true
	}
	return t
}

// New returns the schedule that is open during weekly's ranges, read as
// wall-clock times in loc, except on holidays, which are closed for the whole
// local calendar day. New copies holidays; dates that do not exist (such as
// February 30) are never matched. It panics if loc is nil, as time.Date does.
func New(weekly Weekly, loc *time.Location, holidays []Date) *Schedule {
	if loc == nil {
		panic("hours: New called with a nil location")
	}
	s := &Schedule{}
	s.cur.Store(newTable(weekly, loc, holidays))
	return s
}

// Set replaces the schedule's hours, zone and holidays, with the same
// meaning and copying as New; callers already holding s see the change on
// their next call. It panics if loc is nil.
func (s *Schedule) Set(weekly Weekly, loc *time.Location, holidays []Date) {
	if loc == nil {
		panic("hours: Set called with a nil location")
	}
	s.cur.Store(newTable(weekly, loc, holidays))
}

// Location returns the time zone the schedule's hours are in.
func (s *Schedule) Location() *time.Location {
	return s.cur.Load().loc
}

// Weekly returns the schedule's weekly timetable.
func (s *Schedule) Weekly() Weekly {
	return s.cur.Load().weekly
}

// Holidays returns the schedule's holidays in the order they were given, as
// a copy the caller may keep or modify.
func (s *Schedule) Holidays() []Date {
	return slices.Clone(s.cur.Load().dates)
}

// Open reports whether support is open at now. A range includes its start
// and excludes its end: with hours 06:00-18:00, 06:00:00 is open and
// 18:00:00 is closed.
func (s *Schedule) Open(now time.Time) bool {
	t := s.cur.Load()
	// Periods containing now come from now's local date or later (see
	// periods); three dates also cover a zone whose clock jumps back across
	// midnight.
	for p := range t.periods(DateOf(now.In(t.loc)), 3) {
		if now.Before(p.start) {
			return false
		}
		if now.Before(p.end) {
			return true
		}
	}
	return false
}

// NextChange returns the first instant after now at which Open gives a
// different answer, in the schedule's location. Back-to-back ranges, such as
// one ending at 24:00 and the next day's starting at 00:00, are one open
// period and do not count as a change.
//
// NextChange looks 400 local days ahead. It returns the zero Time when Open
// does not change in that time: the schedule is always open (for example
// "Mon-Sun 00:00-24:00" with no holidays ahead), never open (a Weekly with no
// ranges), or closed by holidays for longer than that. Callers should check
// IsZero before showing the result.
// LookAheadEnd is where NextChange stops looking: midnight, in the
// schedule's location, 400 local days after the day of now. For a schedule
// that does not change before then, it is the earliest the next change can
// be.
func (s *Schedule) LookAheadEnd(now time.Time) time.Time {
	t := s.cur.Load()
	local := now.In(t.loc)
	return time.Date(local.Year(), local.Month(), local.Day()+horizonDays, 0, 0, 0, 0, t.loc)
}

func (s *Schedule) NextChange(now time.Time) time.Time {
	t := s.cur.Load()
	open := false
	var end time.Time // end of the open period containing now, while open
	for p := range t.periods(DateOf(now.In(t.loc)), horizonDays) {
		if open {
			if p.start.After(end) {
				return end
			}
			end = later(end, p.end)
			continue
		}
		if !p.end.After(now) {
			continue
		}
		if p.start.After(now) {
			return p.start
		}
		open, end = true, p.end
	}
	return time.Time{}
}

// period is one range on one date, as instants: open in [start, end).
type period struct {
	start, end time.Time
}

// periods yields the non-empty open periods of days local dates starting at
// from, in time order, skipping holidays.
//
// The order holds because firstAtOrAfter never maps a later wall-clock time
// to an earlier instant: every period of date D lies between the instants of
// D 00:00 and D+1 00:00, which also means a period of an earlier date ends
// by the first instant of D and so cannot contain any instant whose local
// date is D.
func (t *table) periods(from Date, days int) iter.Seq[period] {
	return func(yield func(period) bool) {
		day := from.midnightUTC()
		for range days {
			if !t.holidays[DateOf(day)] {
				midnight := day.Unix()
				for _, r := range t.weekly.days[day.Weekday()] {
					p := period{
						start: firstAtOrAfter(t.loc, midnight+int64(r.Start)*60),
						end:   firstAtOrAfter(t.loc, midnight+int64(r.End)*60),
					}
					// A range inside a spring-forward gap has no instants.
					if p.start.Before(p.end) && !yield(p) {
						return
					}
				}
			}
			day = day.AddDate(0, 0, 1)
		}
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
