package hours

import (
	"iter"
	"time"
)

// horizonDays is how many local days NextChange looks ahead before giving up.
// It is more than a year so that a long run of holidays (a shop closed for a
// season) is skipped rather than reported as "never opens again".
const horizonDays = 400

// Schedule is a Weekly timetable placed in a time zone, with holidays. It is
// immutable and safe for concurrent use.
type Schedule struct {
	weekly   Weekly
	loc      *time.Location
	holidays map[Date]bool
}

// New returns the schedule that is open during weekly's ranges, read as
// wall-clock times in loc, except on holidays, which are closed for the whole
// local calendar day. New copies holidays; dates that do not exist (such as
// February 30) are never matched. It panics if loc is nil, as time.Date does.
func New(weekly Weekly, loc *time.Location, holidays []Date) *Schedule {
	if loc == nil {
		panic("hours: New called with a nil location")
	}
	s := &Schedule{weekly: weekly, loc: loc, holidays: make(map[Date]bool, len(holidays))}
	for _, d := range holidays {
		s.holidays[d] = true
	}
	return s
}

// Location returns the time zone the schedule's hours are in.
func (s *Schedule) Location() *time.Location {
	return s.loc
}

// Open reports whether support is open at now. A range includes its start
// and excludes its end: with hours 06:00-18:00, 06:00:00 is open and
// 18:00:00 is closed.
func (s *Schedule) Open(now time.Time) bool {
	// Periods containing now come from now's local date or later (see
	// periods); three dates also cover a zone whose clock jumps back across
	// midnight.
	for p := range s.periods(DateOf(now.In(s.loc)), 3) {
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
func (s *Schedule) NextChange(now time.Time) time.Time {
	open := false
	var end time.Time // end of the open period containing now, while open
	for p := range s.periods(DateOf(now.In(s.loc)), horizonDays) {
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
func (s *Schedule) periods(from Date, days int) iter.Seq[period] {
	return func(yield func(period) bool) {
		day := from.midnightUTC()
		for range days {
			if !s.holidays[DateOf(day)] {
				midnight := day.Unix()
				for _, r := range s.weekly.days[day.Weekday()] {
					p := period{
						start: firstAtOrAfter(s.loc, midnight+int64(r.Start)*60),
						end:   firstAtOrAfter(s.loc, midnight+int64(r.End)*60),
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
