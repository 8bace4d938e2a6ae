package hours_test

import (
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/hours"
)

// scheduleCase is one instant to ask a schedule about: Open(now) should be
// wantOpen and NextChange(now) should be want (the zero Time for "no change
// within the horizon").
type scheduleCase struct {
	name     string
	now      time.Time
	wantOpen bool
	want     time.Time
}

// checkSchedule runs cases against s.
func checkSchedule(t *testing.T, s *hours.Schedule, tests []scheduleCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Open(tt.now); got != tt.wantOpen {
				t.Errorf("Open(%v) = %v, want %v", tt.now, got, tt.wantOpen)
			}
			got := s.NextChange(tt.now)
			if !got.Equal(tt.want) {
				t.Errorf("NextChange(%v) = %v (%v), want %v (%v)", tt.now, got, got.UTC(), tt.want, tt.want.UTC())
			}
			if !got.IsZero() && got.Location() != s.Location() {
				t.Errorf("NextChange(%v) is in %v, want the schedule's location %v", tt.now, got.Location(), s.Location())
			}
		})
	}
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := hours.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustSchedule(t testing.TB, spec, zone string, holidays ...hours.Date) *hours.Schedule {
	t.Helper()
	w, err := hours.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return hours.New(w, mustZone(t, zone), holidays)
}

// utc is a UTC instant; the DST tests state expectations in UTC so that they
// do not depend on the code under test's reading of local time.
func utc(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

func TestScheduleDefault(t *testing.T) {
	s := mustSchedule(t, hours.DefaultSpec, hours.DefaultTimezone)
	la := s.Location()
	// 2026-06-01 is a Monday; Los Angeles is on PDT (UTC-7) all week.
	at := func(day, hh, mm, ss int) time.Time { return time.Date(2026, time.June, day, hh, mm, ss, 0, la) }
	checkSchedule(t, s, []scheduleCase{
		{"Monday small hours", at(1, 3, 0, 0), false, at(1, 6, 0, 0)},
		{"Monday one second before opening", at(1, 5, 59, 59), false, at(1, 6, 0, 0)},
		{"Monday one nanosecond before opening", at(1, 6, 0, 0).Add(-time.Nanosecond), false, at(1, 6, 0, 0)},
		{"Monday exactly 06:00", at(1, 6, 0, 0), true, at(1, 18, 0, 0)},
		{"Monday noon", at(1, 12, 0, 0), true, at(1, 18, 0, 0)},
		{"Monday 17:59:59", at(1, 17, 59, 59), true, at(1, 18, 0, 0)},
		{"Monday exactly 18:00", at(1, 18, 0, 0), false, at(2, 6, 0, 0)},
		{"Monday late evening", at(1, 23, 59, 59), false, at(2, 6, 0, 0)},
		{"Friday 18:00 to Saturday 07:00", at(5, 18, 0, 0), false, at(6, 7, 0, 0)},
		{"Friday evening", at(5, 21, 30, 0), false, at(6, 7, 0, 0)},
		{"Saturday 06:00 is not a weekday", at(6, 6, 0, 0), false, at(6, 7, 0, 0)},
		{"Saturday 07:00", at(6, 7, 0, 0), true, at(6, 16, 0, 0)},
		{"Sunday 15:59:59", at(7, 15, 59, 59), true, at(7, 16, 0, 0)},
		{"Sunday 16:00 to Monday 06:00", at(7, 16, 0, 0), false, at(8, 6, 0, 0)},
		// Callers may pass instants in any zone; 13:00Z is 06:00 PDT.
		{"instant given in UTC", utc(2026, time.June, 1, 13, 0, 0), true, utc(2026, time.June, 2, 1, 0, 0)},
		{"UTC date ahead of local date", utc(2026, time.June, 6, 2, 0, 0), false, at(6, 7, 0, 0)},
	})
}

func TestScheduleDST(t *testing.T) {
	s := mustSchedule(t, hours.DefaultSpec, hours.DefaultTimezone)
	// 2026-03-08 and 2026-11-01 are Sundays. In the spring Los Angeles goes
	// from PST (UTC-8) to PDT (UTC-7) at 02:00 PST = 10:00Z; in the autumn
	// from PDT back to PST at 02:00 PDT = 09:00Z.
	checkSchedule(t, s, []scheduleCase{
		{"spring: Saturday 16:00 PST to Sunday 07:00 PDT", utc(2026, time.March, 8, 0, 0, 0), false, utc(2026, time.March, 8, 14, 0, 0)},
		{"spring: 01:59 PST", utc(2026, time.March, 8, 9, 59, 0), false, utc(2026, time.March, 8, 14, 0, 0)},
		{"spring: 03:00 PDT just after the jump", utc(2026, time.March, 8, 10, 0, 0), false, utc(2026, time.March, 8, 14, 0, 0)},
		{"spring: 06:59:59 PDT", utc(2026, time.March, 8, 13, 59, 59), false, utc(2026, time.March, 8, 14, 0, 0)},
		{"spring: 07:00 PDT opens", utc(2026, time.March, 8, 14, 0, 0), true, utc(2026, time.March, 8, 23, 0, 0)},
		{"spring: 16:00 PDT to Monday 06:00 PDT", utc(2026, time.March, 8, 23, 0, 0), false, utc(2026, time.March, 9, 13, 0, 0)},
		{"autumn: Saturday 16:00 PDT to Sunday 07:00 PST", utc(2026, time.October, 31, 23, 0, 0), false, utc(2026, time.November, 1, 15, 0, 0)},
		{"autumn: first 01:30 (PDT)", utc(2026, time.November, 1, 8, 30, 0), false, utc(2026, time.November, 1, 15, 0, 0)},
		{"autumn: second 01:30 (PST)", utc(2026, time.November, 1, 9, 30, 0), false, utc(2026, time.November, 1, 15, 0, 0)},
		{"autumn: 07:00 PDT would be 14:00Z, still closed", utc(2026, time.November, 1, 14, 0, 0), false, utc(2026, time.November, 1, 15, 0, 0)},
		{"autumn: 07:00 PST opens", utc(2026, time.November, 1, 15, 0, 0), true, utc(2026, time.November, 2, 0, 0, 0)},
		{"autumn: 16:00 PST to Monday 06:00 PST", utc(2026, time.November, 2, 0, 0, 0), false, utc(2026, time.November, 2, 14, 0, 0)},
	})
}

func TestScheduleSpringForwardGap(t *testing.T) {
	// On 2026-03-08 in Los Angeles, 02:00-02:59 never appears on the clock:
	// 09:59:59Z is 01:59:59 PST and 10:00Z is 03:00 PDT.
	tests := []struct {
		name  string
		spec  string
		cases []scheduleCase
	}{
		{"range spanning the gap is an hour shorter", "Sun 01:00-04:00", []scheduleCase{
			{"before", utc(2026, time.March, 8, 8, 0, 0), false, utc(2026, time.March, 8, 9, 0, 0)},
			{"01:00 PST", utc(2026, time.March, 8, 9, 0, 0), true, utc(2026, time.March, 8, 11, 0, 0)},
			{"03:00 PDT", utc(2026, time.March, 8, 10, 0, 0), true, utc(2026, time.March, 8, 11, 0, 0)},
			{"04:00 PDT to next Sunday 01:00 PDT", utc(2026, time.March, 8, 11, 0, 0), false, utc(2026, time.March, 15, 8, 0, 0)},
		}},
		{"start inside the gap opens when the clock jumps past it", "Sun 02:30-03:30", []scheduleCase{
			{"01:59 PST", utc(2026, time.March, 8, 9, 59, 0), false, utc(2026, time.March, 8, 10, 0, 0)},
			{"03:00 PDT", utc(2026, time.March, 8, 10, 0, 0), true, utc(2026, time.March, 8, 10, 30, 0)},
			{"03:30 PDT", utc(2026, time.March, 8, 10, 30, 0), false, utc(2026, time.March, 15, 9, 30, 0)},
		}},
		{"end inside the gap closes when the clock jumps past it", "Sun 01:30-02:30", []scheduleCase{
			{"01:30 PST", utc(2026, time.March, 8, 9, 30, 0), true, utc(2026, time.March, 8, 10, 0, 0)},
			{"03:00 PDT", utc(2026, time.March, 8, 10, 0, 0), false, utc(2026, time.March, 15, 8, 30, 0)},
		}},
		{"range wholly inside the gap does not open that day", "Sun 02:00-02:45", []scheduleCase{
			{"Sunday midnight", utc(2026, time.March, 8, 8, 0, 0), false, utc(2026, time.March, 15, 9, 0, 0)},
			{"01:30 PST", utc(2026, time.March, 8, 9, 30, 0), false, utc(2026, time.March, 15, 9, 0, 0)},
			{"03:00 PDT", utc(2026, time.March, 8, 10, 0, 0), false, utc(2026, time.March, 15, 9, 0, 0)},
		}},
		{"ranges meeting across the gap are one period", "Sun 01:30-02:30, Sun 03:00-04:00", []scheduleCase{
			{"01:30 PST", utc(2026, time.March, 8, 9, 30, 0), true, utc(2026, time.March, 8, 11, 0, 0)},
			{"03:00 PDT", utc(2026, time.March, 8, 10, 0, 0), true, utc(2026, time.March, 8, 11, 0, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSchedule(t, mustSchedule(t, tt.spec, "America/Los_Angeles"), tt.cases)
		})
	}
}

func TestScheduleFallBackRepeat(t *testing.T) {
	// On 2026-11-01 in Los Angeles, 01:00-01:59 happens twice: first as PDT
	// (08:00Z-08:59Z), then as PST (09:00Z-09:59Z). A time in it means its
	// first occurrence.
	tests := []struct {
		name  string
		spec  string
		cases []scheduleCase
	}{
		{"start in the repeat opens at the first occurrence", "Sun 01:30-05:00", []scheduleCase{
			{"01:00 PDT", utc(2026, time.November, 1, 8, 0, 0), false, utc(2026, time.November, 1, 8, 30, 0)},
			{"first 01:30", utc(2026, time.November, 1, 8, 30, 0), true, utc(2026, time.November, 1, 13, 0, 0)},
			{"second 01:15 stays open", utc(2026, time.November, 1, 9, 15, 0), true, utc(2026, time.November, 1, 13, 0, 0)},
			{"05:00 PST", utc(2026, time.November, 1, 13, 0, 0), false, utc(2026, time.November, 8, 9, 30, 0)},
		}},
		{"end in the repeat closes once", "Sun 00:00-01:30", []scheduleCase{
			{"00:00 PDT", utc(2026, time.November, 1, 7, 0, 0), true, utc(2026, time.November, 1, 8, 30, 0)},
			{"first 01:30", utc(2026, time.November, 1, 8, 30, 0), false, utc(2026, time.November, 8, 8, 0, 0)},
			{"second 01:15 does not reopen", utc(2026, time.November, 1, 9, 15, 0), false, utc(2026, time.November, 8, 8, 0, 0)},
		}},
		{"range spanning the repeat is an hour longer", "Sun 01:00-02:00", []scheduleCase{
			{"first 01:00", utc(2026, time.November, 1, 8, 0, 0), true, utc(2026, time.November, 1, 10, 0, 0)},
			{"second 01:00", utc(2026, time.November, 1, 9, 0, 0), true, utc(2026, time.November, 1, 10, 0, 0)},
			{"02:00 PST", utc(2026, time.November, 1, 10, 0, 0), false, utc(2026, time.November, 8, 9, 0, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSchedule(t, mustSchedule(t, tt.spec, "America/Los_Angeles"), tt.cases)
		})
	}
}

func TestScheduleMidnight(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	// 2026-06-05 is a Friday.
	at := func(day, hh, mm, ss int) time.Time { return time.Date(2026, time.June, day, hh, mm, ss, 0, la) }
	tests := []struct {
		name  string
		spec  string
		zone  string
		cases []scheduleCase
	}{
		{"overnight Friday to Saturday", "Fri 18:00-24:00, Sat 00:00-06:00", "America/Los_Angeles", []scheduleCase{
			{"Friday evening", at(5, 20, 0, 0), true, at(6, 6, 0, 0)},
			{"Friday 23:59:59", at(5, 23, 59, 59), true, at(6, 6, 0, 0)},
			{"Saturday midnight", at(6, 0, 0, 0), true, at(6, 6, 0, 0)},
			{"Saturday 06:00", at(6, 6, 0, 0), false, at(12, 18, 0, 0)},
		}},
		{"night shifts", "Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00", "America/Los_Angeles", []scheduleCase{
			{"Monday 23:00", at(1, 23, 0, 0), true, at(2, 6, 0, 0)},
			{"Tuesday 06:00", at(2, 6, 0, 0), false, at(2, 22, 0, 0)},
			{"Friday 22:00", at(5, 22, 0, 0), true, at(6, 6, 0, 0)},
			{"Saturday 06:00 to Monday 22:00", at(6, 6, 0, 0), false, at(8, 22, 0, 0)},
		}},
		{"whole weekend is one period", "Sat-Sun 00:00-24:00", "America/Los_Angeles", []scheduleCase{
			{"Saturday morning", at(6, 10, 0, 0), true, at(8, 0, 0, 0)},
			{"Friday", at(5, 10, 0, 0), false, at(6, 0, 0, 0)},
			// The weekend of 2026-03-07/08 loses an hour; it still ends
			// at Monday 00:00 PDT = 07:00Z.
			{"weekend across spring forward", utc(2026, time.March, 7, 18, 0, 0), true, utc(2026, time.March, 9, 7, 0, 0)},
		}},
		// Beirut moves its clocks at midnight: on 2026-03-29 (a Sunday) 00:00
		// EET jumps to 01:00 EEST (22:00Z), and on 2026-10-25 00:00 EEST
		// falls back to Saturday 23:00 EET (21:00Z). 24:00 and the next
		// day's 00:00 must still be one instant.
		{"midnight skipped", "Sat 20:00-24:00, Sun 00:00-02:00", "Asia/Beirut", []scheduleCase{
			{"before Saturday 20:00 EET", utc(2026, time.March, 28, 17, 59, 0), false, utc(2026, time.March, 28, 18, 0, 0)},
			{"Saturday 21:00 EET", utc(2026, time.March, 28, 19, 0, 0), true, utc(2026, time.March, 28, 23, 0, 0)},
			{"Sunday 01:00 EEST", utc(2026, time.March, 28, 22, 0, 0), true, utc(2026, time.March, 28, 23, 0, 0)},
		}},
		{"midnight repeated", "Sat 20:00-24:00, Sun 00:00-02:00", "Asia/Beirut", []scheduleCase{
			{"Saturday 21:00 EEST", utc(2026, time.October, 24, 18, 0, 0), true, utc(2026, time.October, 25, 0, 0, 0)},
			{"first 23:30 (EEST)", utc(2026, time.October, 24, 20, 30, 0), true, utc(2026, time.October, 25, 0, 0, 0)},
			{"second 23:30 (EET)", utc(2026, time.October, 24, 21, 30, 0), true, utc(2026, time.October, 25, 0, 0, 0)},
			{"Sunday 02:00 EET to Saturday 20:00 EET", utc(2026, time.October, 25, 0, 0, 0), false, utc(2026, time.October, 31, 18, 0, 0)},
		}},
		{"always open across skipped midnight", "Mon-Sun 00:00-24:00", "Asia/Beirut", []scheduleCase{
			{"spring", utc(2026, time.March, 28, 22, 0, 0), true, time.Time{}},
			{"autumn", utc(2026, time.October, 24, 21, 30, 0), true, time.Time{}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSchedule(t, mustSchedule(t, tt.spec, tt.zone), tt.cases)
		})
	}
}

func TestScheduleHolidays(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	// 2026-12-25 is a Friday; Los Angeles is on PST (UTC-8).
	at := func(day, hh, mm int) time.Time { return time.Date(2026, time.December, day, hh, mm, 0, 0, la) }
	christmas := hours.Date{Year: 2026, Month: time.December, Day: 25}
	tests := []struct {
		name     string
		spec     string
		holidays []hours.Date
		cases    []scheduleCase
	}{
		{"Christmas on a Friday", hours.DefaultSpec, []hours.Date{christmas}, []scheduleCase{
			{"Thursday afternoon", at(24, 17, 0), true, at(24, 18, 0)},
			{"Thursday close skips Friday", at(24, 18, 0), false, at(26, 7, 0)},
			{"Christmas midnight", at(25, 0, 0), false, at(26, 7, 0)},
			{"Christmas 10:00", at(25, 10, 0), false, at(26, 7, 0)},
			// 2026-12-26 01:00Z is already the 26th in UTC, but still
			// Christmas in the shop's zone.
			{"Christmas evening given in UTC", utc(2026, time.December, 26, 1, 0, 0), false, at(26, 7, 0)},
			{"Saturday after", at(26, 7, 0), true, at(26, 16, 0)},
		}},
		{"four days off", hours.DefaultSpec, []hours.Date{
			christmas, {Year: 2026, Month: time.December, Day: 26},
			{Year: 2026, Month: time.December, Day: 27}, {Year: 2026, Month: time.December, Day: 28},
		}, []scheduleCase{
			{"Thursday close", at(24, 18, 0), false, at(29, 6, 0)},
		}},
		{"always open except Christmas", "Mon-Sun 00:00-24:00", []hours.Date{christmas}, []scheduleCase{
			{"Christmas Eve", at(24, 12, 0), true, at(25, 0, 0)},
			{"Christmas", at(25, 12, 0), false, at(26, 0, 0)},
			{"after Christmas", at(26, 0, 0), true, time.Time{}},
		}},
		{"holiday in the past is ignored", hours.DefaultSpec, []hours.Date{{Year: 2025, Month: time.December, Day: 25}}, []scheduleCase{
			{"Christmas 2026 is a normal Friday", at(25, 10, 0), true, at(25, 18, 0)},
		}},
		{"impossible date is never matched", hours.DefaultSpec, []hours.Date{{Year: 2026, Month: time.February, Day: 30}}, []scheduleCase{
			{"March 2 opens as usual", time.Date(2026, time.March, 2, 5, 0, 0, 0, la), false, time.Date(2026, time.March, 2, 6, 0, 0, 0, la)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := hours.Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			checkSchedule(t, hours.New(w, la, tt.holidays), tt.cases)
		})
	}
}

func TestScheduleHorizon(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	// Open Mondays only, with the next weeks' Mondays all holidays.
	firstMonday := time.Date(2026, time.June, 1, 0, 0, 0, 0, la)
	mondaysOff := func(weeks int) []hours.Date {
		var ds []hours.Date
		for i := range weeks {
			ds = append(ds, hours.DateOf(firstMonday.AddDate(0, 0, 7*i)))
		}
		return ds
	}
	w, err := hours.Parse("Mon 09:00-17:00")
	if err != nil {
		t.Fatal(err)
	}
	sunday := time.Date(2026, time.May, 31, 12, 0, 0, 0, la)
	tests := []struct {
		name  string
		weeks int
		want  time.Time
	}{
		{"next Monday", 0, time.Date(2026, time.June, 1, 9, 0, 0, 0, la)},
		{"50 Mondays off is within the horizon", 50, time.Date(2026, time.June, 1, 9, 0, 0, 0, la).AddDate(0, 0, 7*50)},
		{"60 Mondays off is past the horizon", 60, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := hours.New(w, la, mondaysOff(tt.weeks))
			if got := s.NextChange(sunday); !got.Equal(tt.want) {
				t.Errorf("NextChange(%v) = %v, want %v", sunday, got, tt.want)
			}
		})
	}
}

func TestScheduleAlwaysAndNever(t *testing.T) {
	always := mustSchedule(t, "Mon-Sun 00:00-24:00", "America/Los_Angeles")
	never := hours.New(hours.Weekly{}, mustZone(t, "America/Los_Angeles"), nil)
	instants := []time.Time{
		utc(2026, time.June, 1, 12, 0, 0),
		utc(2026, time.March, 8, 10, 0, 0),   // spring forward
		utc(2026, time.November, 1, 9, 0, 0), // second 01:00
		utc(2026, time.December, 31, 23, 59, 59),
	}
	var alwaysCases, neverCases []scheduleCase
	for _, now := range instants {
		alwaysCases = append(alwaysCases, scheduleCase{now.Format(time.RFC3339), now, true, time.Time{}})
		neverCases = append(neverCases, scheduleCase{now.Format(time.RFC3339), now, false, time.Time{}})
	}
	t.Run("always open", func(t *testing.T) { checkSchedule(t, always, alwaysCases) })
	t.Run("never open", func(t *testing.T) { checkSchedule(t, never, neverCases) })
}

// TestScheduleConsistent walks through the weeks around both 2026 DST changes
// in small steps and checks that NextChange and Open agree: the state flips
// at NextChange, holds just before it, and every sample before it reports the
// same next change. A missed boundary or a fake one at midnight fails here.
func TestScheduleConsistent(t *testing.T) {
	specs := []string{
		hours.DefaultSpec,
		"Sun 01:00-04:00, Sun 02:30-03:30, Sat 22:00-24:00",
		"Sun 00:00-01:30, Sun 01:15-01:45, Mon 00:00-02:00",
		"Fri 18:00-24:00, Sat 00:00-06:00, Sat-Sun 01:30-02:30",
		"Mon 09:00-12:00, Mon 13:00-17:00, Tue-Thu 02:00-02:45",
	}
	windows := []time.Time{
		utc(2026, time.March, 4, 0, 0, 0),
		utc(2026, time.October, 28, 0, 0, 0),
	}
	const step = 7 * time.Minute // not a divisor of an hour, to hit odd offsets
	for _, spec := range specs {
		s := mustSchedule(t, spec, "America/Los_Angeles", hours.Date{Year: 2026, Month: time.March, Day: 10})
		for _, from := range windows {
			var prev time.Time // NextChange of the previous sample
			for now := from; now.Before(from.Add(10 * 24 * time.Hour)); now = now.Add(step) {
				open := s.Open(now)
				next := s.NextChange(now)
				if next.IsZero() || !next.After(now) {
					t.Fatalf("%q: NextChange(%v) = %v, want a later instant", spec, now, next)
				}
				if s.Open(next) == open {
					t.Fatalf("%q: Open(%v) = %v and Open(NextChange = %v) = %v: no change", spec, now, open, next, open)
				}
				if before := next.Add(-time.Nanosecond); before.After(now) && s.Open(before) != open {
					t.Fatalf("%q: Open changes before NextChange(%v) = %v", spec, now, next)
				}
				if !prev.IsZero() && now.Before(prev) && !next.Equal(prev) {
					t.Fatalf("%q: NextChange(%v) = %v, but the sample before said %v", spec, now, next, prev)
				}
				prev = next
			}
		}
	}
}

func TestNewNilLocationPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with a nil location did not panic")
		}
	}()
	hours.New(hours.Weekly{}, nil, nil)
}

func BenchmarkNextChange(b *testing.B) {
	now := utc(2026, time.June, 3, 20, 0, 0)
	for _, spec := range []string{hours.DefaultSpec, "Mon-Sun 00:00-24:00"} {
		s := mustSchedule(b, spec, hours.DefaultTimezone)
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				s.NextChange(now)
			}
		})
	}
}

// TestScheduleSet checks that Set changes the answers of a schedule that
// others already hold, and that Weekly, Location and Holidays report it.
func TestScheduleSet(t *testing.T) {
	s := mustSchedule(t, "Mon-Fri 09:00-17:00", "America/Los_Angeles")
	// Friday 2026-12-25 10:00 in Los Angeles.
	at := time.Date(2026, 12, 25, 10, 0, 0, 0, mustZone(t, "America/Los_Angeles"))
	if !s.Open(at) {
		t.Fatal("open on a weekday morning before Set")
	}

	w, err := hours.Parse("Mon-Sun 00:00-24:00")
	if err != nil {
		t.Fatal(err)
	}
	xmas := hours.Date{Year: 2026, Month: time.December, Day: 25}
	holidays := []hours.Date{xmas}
	s.Set(w, mustZone(t, "Europe/Berlin"), holidays)
	holidays[0] = hours.Date{Year: 2027, Month: time.January, Day: 1} // Set copies

	if got := s.Location().String(); got != "Europe/Berlin" {
		t.Errorf("Location = %s, want Europe/Berlin", got)
	}
	if !s.Weekly().Equal(w) {
		t.Errorf("Weekly = %s, want %s", s.Weekly(), w)
	}
	if got := s.Holidays(); len(got) != 1 || got[0] != xmas {
		t.Errorf("Holidays = %v, want [%v]", got, xmas)
	}
	// 10:00 in Los Angeles is 19:00 on Christmas Day in Berlin: a holiday.
	if s.Open(at) {
		t.Error("open on the new holiday after Set")
	}
	next := s.NextChange(at)
	if want := time.Date(2026, 12, 26, 0, 0, 0, 0, mustZone(t, "Europe/Berlin")); !next.Equal(want) {
		t.Errorf("NextChange = %v, want %v", next, want)
	}
	if due := s.AddOpen(at, time.Hour); !due.Equal(next.Add(time.Hour)) {
		t.Errorf("AddOpen = %v, want %v", due, next.Add(time.Hour))
	}
}

// TestScheduleSetConcurrent is for the race detector: readers and Set at
// once, every answer coming from one whole version of the schedule.
func TestScheduleSetConcurrent(t *testing.T) {
	always := mustSchedule(t, "Mon-Sun 00:00-24:00", "UTC")
	never := hours.Weekly{}
	s := mustSchedule(t, "Mon-Sun 00:00-24:00", "UTC")
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if i%2 == 0 {
				s.Set(never, time.UTC, nil)
			} else {
				s.Set(always.Weekly(), time.UTC, nil)
			}
		}
	}()
	for range 200 {
		// Open time either exists (always open) or never does.
		if d := s.AddOpen(now, time.Hour); !d.IsZero() && !d.Equal(now.Add(time.Hour)) {
			t.Fatalf("AddOpen = %v: mixed two versions of the schedule", d)
		}
		_ = s.Open(now)
		_ = s.Holidays()
	}
	<-done
}

func TestSetNilLocationPanics(t *testing.T) {
	s := mustSchedule(t, "Mon-Sun 00:00-24:00", "UTC")
	defer func() {
		if recover() == nil {
			t.Error("Set with a nil location did not panic")
		}
	}()
	s.Set(hours.Weekly{}, nil, nil)
}
