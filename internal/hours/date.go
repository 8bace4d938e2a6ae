package hours

import (
	"fmt"
	"strings"
	"time"
)

// Date is a calendar date with no time of day and no zone. A holiday is a
// Date rather than a time.Time because it names a local day in whatever zone
// the schedule is in, not an instant.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// String formats d as "YYYY-MM-DD", the form ParseHolidays accepts.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// midnightUTC returns 00:00 UTC on d. UTC has no daylight saving, so the
// result steps cleanly one date at a time and its Unix seconds double as the
// wall-clock reading of local midnight on d.
func (d Date) midnightUTC() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// ParseHolidays reads the --holidays format: comma-separated dates written
// YYYY-MM-DD, such as "2026-12-25,2027-01-01". Spaces around a date are
// ignored. An empty or blank spec means no holidays and gives nil. The dates
// are returned in the order given. The error names the offending date and
// says what is wrong with it, for example
//
//	hours: holiday "2026-02-30": February 2026 has only 28 days
func ParseHolidays(spec string) ([]Date, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	parts := strings.Split(spec, ",")
	dates := make([]Date, 0, len(parts))
	for i, raw := range parts {
		s := strings.TrimSpace(raw)
		if s == "" {
			return nil, fmt.Errorf("hours: holidays %q: date %d is empty (stray comma?)", spec, i+1)
		}
		d, err := parseDate(s)
		if err != nil {
			return nil, fmt.Errorf("hours: holiday %q: %w", s, err)
		}
		dates = append(dates, d)
	}
	return dates, nil
}

// parseDate parses exactly "YYYY-MM-DD" and checks the date exists. It does
// not use time.Parse so that it can say which part is wrong.
func parseDate(s string) (Date, error) {
	if len(s) != len("2006-01-02") || s[4] != '-' || s[7] != '-' ||
		!allDigits(s[0:4]) || !allDigits(s[5:7]) || !allDigits(s[8:10]) {
		return Date{}, fmt.Errorf("want YYYY-MM-DD")
	}
	d := Date{Year: atoi(s[0:4]), Month: time.Month(atoi(s[5:7])), Day: atoi(s[8:10])}
	switch {
	case d.Year == 0:
		return Date{}, fmt.Errorf("year 0000 does not exist")
	case d.Month < time.January || d.Month > time.December:
		return Date{}, fmt.Errorf("month %s is not 01 to 12", s[5:7])
	case d.Day == 0:
		return Date{}, fmt.Errorf("day 00 does not exist")
	}
	// Day 0 of the next month is the last day of this one; time.Date
	// normalizes it for us.
	last := time.Date(d.Year, d.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if d.Day > last {
		return Date{}, fmt.Errorf("%s %d has only %d days", d.Month, d.Year, last)
	}
	return d, nil
}
