package hours

import "time"

// AddOpen returns the instant at which d of open time has passed since start:
// the answer to "a response is due within four support hours" for a request
// made at start. Only time during which Open reports true is counted, so
// nights, closed weekend days and holidays are skipped, and an hour lost or
// repeated at a daylight-saving change counts as it really passes (a range
// spanning the spring-forward gap contributes an hour less).
//
// A start outside support hours begins counting at the next opening. A d of
// zero or less returns start. The result is in the schedule's location. When
// the schedule never accumulates d of open time (it has no ranges, or every
// day for more than a year ahead is a holiday), AddOpen returns the zero
// Time; callers should check IsZero.
func (s *Schedule) AddOpen(start time.Time, d time.Duration) time.Time {
	t := s.cur.Load() // one snapshot for the whole walk
	if d <= 0 {
		return start.In(t.loc)
	}
	remaining := d
	from := DateOf(start.In(t.loc))
	for {
		found := false
		for p := range t.periods(from, horizonDays) {
			if !p.end.After(start) {
				continue
			}
			found = true
			begin := later(p.start, start)
			avail := p.end.Sub(begin)
			if avail >= remaining {
				return begin.Add(remaining).In(t.loc)
			}
			remaining -= avail
			// Periods never overlap (see periods), but moving start
			// keeps the sum honest even if two ever touched.
			start = p.end
		}
		if !found {
			return time.Time{}
		}
		// A very long d on a sparse schedule: keep walking, one horizon
		// at a time, from the day after the last one looked at.
		next := from.midnightUTC().AddDate(0, 0, horizonDays)
		from = DateOf(next)
	}
}
