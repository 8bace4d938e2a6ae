package hours_test

import (
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/hours"
)

func TestAddOpen(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	// 2026-06-01 is a Monday; Los Angeles is on PDT all week.
	june := func(day, hh, mm int) time.Time { return time.Date(2026, time.June, day, hh, mm, 0, 0, la) }
	dec := func(day, hh, mm int) time.Time { return time.Date(2026, time.December, day, hh, mm, 0, 0, la) }
	christmas := hours.Date{Year: 2026, Month: time.December, Day: 25} // a Friday
	tests := []struct {
		name     string
		spec     string
		holidays []hours.Date
		start    time.Time
		d        time.Duration
		want     time.Time
	}{
		{"within one day", hours.DefaultSpec, nil, june(1, 10, 0), 4 * time.Hour, june(1, 14, 0)},
		{"ends exactly at closing", hours.DefaultSpec, nil, june(1, 14, 0), 4 * time.Hour, june(1, 18, 0)},
		{"crosses the night", hours.DefaultSpec, nil, june(1, 16, 0), 4 * time.Hour, june(2, 8, 0)},
		{"starts before opening", hours.DefaultSpec, nil, june(1, 3, 0), 4 * time.Hour, june(1, 10, 0)},
		{"starts at closing", hours.DefaultSpec, nil, june(1, 18, 0), time.Hour, june(2, 7, 0)},
		{"minutes and seconds", hours.DefaultSpec, nil, june(1, 17, 59), 90 * time.Second, june(2, 6, 0).Add(30 * time.Second)},
		{"Friday evening into the Saturday hours", hours.DefaultSpec, nil, june(5, 17, 0), 4 * time.Hour, june(6, 10, 0)},
		{"skips a closed weekend", "Mon-Fri 09:00-17:00", nil, june(5, 15, 0), 4 * time.Hour, june(8, 11, 0)},
		{"several days", "Mon-Fri 09:00-17:00", nil, june(1, 9, 0), 20 * time.Hour, june(3, 13, 0)},
		{"lunch break", "Mon 09:00-12:00, Mon 13:00-17:00", nil, june(1, 11, 0), 2 * time.Hour, june(1, 14, 0)},
		{"skips a holiday and the weekend", "Mon-Fri 09:00-17:00", []hours.Date{christmas}, dec(24, 16, 0), 4 * time.Hour, dec(28, 12, 0)},
		{"skips a holiday into Saturday hours", hours.DefaultSpec, []hours.Date{christmas}, dec(24, 17, 0), 4 * time.Hour, dec(26, 10, 0)},
		{"starts on a holiday", hours.DefaultSpec, []hours.Date{christmas}, dec(25, 10, 0), time.Hour, dec(26, 8, 0)},
		// 2026-03-08: 02:00 PST jumps to 03:00 PDT.
		{"always open over spring forward counts real time", "Mon-Sun 00:00-24:00", nil,
			utc(2026, time.March, 8, 9, 0, 0), 2 * time.Hour, utc(2026, time.March, 8, 11, 0, 0)},
		{"range spanning the gap is an hour short", "Sun 01:00-04:00", nil,
			utc(2026, time.March, 8, 8, 0, 0), 3 * time.Hour, utc(2026, time.March, 15, 9, 0, 0)},
		// 2026-11-01: 01:00-02:00 happens twice.
		{"range spanning the repeat is an hour long", "Sun 00:00-05:00", nil,
			utc(2026, time.November, 1, 7, 0, 0), 5*time.Hour + 30*time.Minute, utc(2026, time.November, 1, 12, 30, 0)},
		{"start given in UTC", hours.DefaultSpec, nil, june(1, 10, 0).UTC(), time.Hour, june(1, 11, 0)},
		{"zero duration", hours.DefaultSpec, nil, june(1, 3, 0), 0, june(1, 3, 0)},
		{"longer than the look-ahead horizon", "Mon 09:00-10:00", nil, june(1, 8, 0), 60 * time.Hour,
			june(1, 10, 0).AddDate(0, 0, 7*59)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := hours.Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			s := hours.New(w, la, tt.holidays)
			got := s.AddOpen(tt.start, tt.d)
			if !got.Equal(tt.want) {
				t.Errorf("AddOpen(%v, %v) = %v (%v), want %v (%v)", tt.start, tt.d, got, got.UTC(), tt.want, tt.want.UTC())
			}
			if got.Location() != la {
				t.Errorf("AddOpen returned a time in %v, want %v", got.Location(), la)
			}
		})
	}
}

func TestAddOpenNeverOpen(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	never := hours.New(hours.Weekly{}, la, nil)
	if got := never.AddOpen(utc(2026, time.June, 1, 12, 0, 0), time.Hour); !got.IsZero() {
		t.Errorf("AddOpen on a schedule that never opens = %v, want the zero Time", got)
	}
}

// TestAddOpenAdditive checks that counting a+b support hours at once equals
// counting a and then b, and that the open time between start and the result
// is exactly what was asked for, sampled across both 2026 DST changes.
func TestAddOpenAdditive(t *testing.T) {
	specs := []string{hours.DefaultSpec, "Sun 01:00-04:00, Sat 22:00-24:00, Mon 00:00-02:00", "Mon-Fri 09:00-12:00, Mon-Fri 13:00-17:30"}
	windows := []time.Time{utc(2026, time.March, 4, 0, 0, 0), utc(2026, time.October, 28, 0, 0, 0)}
	const step = 317 * time.Minute
	for _, spec := range specs {
		s := mustSchedule(t, spec, "America/Los_Angeles", hours.Date{Year: 2026, Month: time.March, Day: 10})
		for _, from := range windows {
			for start := from; start.Before(from.Add(10 * 24 * time.Hour)); start = start.Add(step) {
				a, b := 90*time.Minute, 3*time.Hour+7*time.Minute
				once := s.AddOpen(start, a+b)
				twice := s.AddOpen(s.AddOpen(start, a), b)
				if !once.Equal(twice) {
					t.Fatalf("%q: AddOpen(%v, a+b) = %v, but stepwise = %v", spec, start, once, twice)
				}
				if got := openBetween(s, start, once); got != a+b {
					t.Fatalf("%q: open time between %v and AddOpen = %v is %v, want %v", spec, start, once, got, a+b)
				}
			}
		}
	}
}

// openBetween measures open time in [from, to) with Open and NextChange, an
// independent route to the answer AddOpen computes.
func openBetween(s *hours.Schedule, from, to time.Time) time.Duration {
	var total time.Duration
	for t := from; t.Before(to); {
		next := s.NextChange(t)
		if next.IsZero() || next.After(to) {
			next = to
		}
		if s.Open(t) {
			total += next.Sub(t)
		}
		t = next
	}
	return total
}

func BenchmarkAddOpen(b *testing.B) {
	s := mustSchedule(b, hours.DefaultSpec, hours.DefaultTimezone)
	start := utc(2026, time.June, 5, 23, 0, 0)
	for b.Loop() {
		s.AddOpen(start, 4*time.Hour)
	}
}
