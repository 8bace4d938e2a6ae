// Package hours models the shop's support hours: a weekly timetable in a
// time zone, minus holidays. It parses the --hours, --timezone and
// --holidays settings and answers two questions for a given instant: is
// support open, and when does that next change.
//
// Hours are wall-clock times in the schedule's location: "06:00" means six in
// the morning local time on every date it applies to, whatever the UTC offset
// is that day. The package never reads the clock; callers pass the instant,
// so tests and the status endpoint see the same answers.
//
// # Daylight-saving time
//
// A wall-clock time T on a local date is turned into an instant by one rule:
// it is the first instant at which the local clock reads T or later. Go's
// time.Date leaves both ambiguous cases unspecified (and in practice moves a
// time in the spring-forward gap backwards by an hour), which could turn a
// range inside out; this rule never does, because a later wall-clock time
// never maps to an earlier instant. What it means in practice, using
// America/Los_Angeles:
//
//   - Spring forward (second Sunday of March, 02:00 PST jumps to 03:00 PDT).
//     A time that never appears on the clock, such as 02:30, takes effect at
//     03:00 PDT, the moment the clock jumps past it. A range spanning the gap
//     (01:00-04:00) is an hour shorter that day; a range wholly inside it
//     (02:00-02:45) does not open that day.
//   - Fall back (first Sunday of November, 01:00-02:00 happens twice). A time
//     in the repeated hour, such as 01:30, means its first occurrence (PDT), so
//     every range opens and closes once. A range spanning the repeat
//     (00:00-05:00) is an hour longer; one ending at 01:30 stays closed while
//     the clock shows 01:00-02:00 the second time.
//   - A range ending at 24:00 and the next day's range starting at 00:00 map
//     to the same instant, so they form one open period even in zones whose
//     transitions skip or repeat midnight.
package hours

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultSpec is the shop's posted support hours, the default for --hours.
const DefaultSpec = "Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00"

// DefaultTimezone is the zone the posted hours are in, the default for
// --timezone.
const DefaultTimezone = "America/Los_Angeles"

// minutesPerDay is 24:00, the largest end a Range may have.
const minutesPerDay = 24 * 60

// dayNames are the spellings Parse accepts (case-insensitively) and String
// writes, indexed by time.Weekday.
var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// weekOrder is the order String lists days in: the shop's week starts on
// Monday, as the posted hours do.
var weekOrder = [7]time.Weekday{
	time.Monday, time.Tuesday, time.Wednesday, time.Thursday,
	time.Friday, time.Saturday, time.Sunday,
}

// Range is one opening period within a day, in minutes since local midnight.
// Ranges returned by this package keep 0 <= Start < End <= 1440; an End of
// 1440 is 24:00, the end of the day.
type Range struct {
	Start int
	End   int
}

// String formats r as "HH:MM-HH:MM", the form Parse accepts.
func (r Range) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", r.Start/60, r.Start%60, r.End/60, r.End%60)
}

// Weekly is the opening ranges for each day of the week, as wall-clock times.
// The zero Weekly is never open. Each day's ranges are sorted and neither
// overlap nor touch (Parse merges them), so the same hours always have the
// same Weekly and the same String. A Weekly is not modified after Parse
// returns it, so it is safe to share.
type Weekly struct {
	days [7][]Range // indexed by time.Weekday
}

// Ranges returns the opening ranges of day d in order, or nil when the shop is
// closed all day. The slice is a copy the caller may keep or modify.
func (w Weekly) Ranges(d time.Weekday) []Range {
	if d < time.Sunday || d > time.Saturday {
		return nil
	}
	return slices.Clone(w.days[d])
}

// Equal reports whether w and v have the same ranges on every day.
func (w Weekly) Equal(v Weekly) bool {
	for d := range w.days {
		if !slices.Equal(w.days[d], v.days[d]) {
			return false
		}
	}
	return true
}

// String returns the canonical spec for w: days from Monday to Sunday, runs
// of consecutive days with the same hours written as one day range, one group
// per range, for example "Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00". Parse
// of the result gives a Weekly equal to w. The zero Weekly gives "", which
// Parse rejects, since an empty --hours is far more likely a mistake than a
// shop that never opens.
func (w Weekly) String() string {
	var groups []string
	for i := 0; i < len(weekOrder); {
		ranges := w.days[weekOrder[i]]
		j := i + 1
		for j < len(weekOrder) && slices.Equal(w.days[weekOrder[j]], ranges) {
			j++
		}
		days := dayNames[weekOrder[i]]
		if j-1 > i {
			days += "-" + dayNames[weekOrder[j-1]]
		}
		for _, r := range ranges {
			groups = append(groups, days+" "+r.String())
		}
		i = j
	}
	return strings.Join(groups, ", ")
}

// Parse reads support hours in the --hours format: comma-separated groups of
// a day part and a time range, such as
//
//	Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00
//
// The day part is one day ("Sat") or an inclusive range ("Mon-Fri"); a range
// may wrap past Sunday ("Fri-Mon" is Friday to Monday). Day names are the
// three-letter English abbreviations in any case. The time range is
// HH:MM-HH:MM on a 24-hour clock (a one-digit hour is accepted); the end may
// be 24:00, the end of the day, and must be after the start, so overnight
// hours are written as two groups ("Fri 22:00-24:00, Sat 00:00-02:00").
// A day may appear in several groups; its ranges are merged where they
// overlap or touch. "Mon-Sun 00:00-24:00" is always open.
//
// The error names the offending group and token, for example
//
//	hours: "Mon-Fry 06:00-18:00": unknown day "Fry" (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)
func Parse(spec string) (Weekly, error) {
	if strings.TrimSpace(spec) == "" {
		return Weekly{}, fmt.Errorf("hours: empty spec; want groups like %q", DefaultSpec)
	}
	var w Weekly
	for i, raw := range strings.Split(spec, ",") {
		group := strings.TrimSpace(raw)
		if group == "" {
			return Weekly{}, fmt.Errorf("hours: %q: group %d is empty (stray comma?)", spec, i+1)
		}
		days, r, err := parseGroup(group)
		if err != nil {
			return Weekly{}, fmt.Errorf("hours: %q: %w", group, err)
		}
		for _, d := range days {
			w.days[d] = append(w.days[d], r)
		}
	}
	for d := range w.days {
		w.days[d] = merge(w.days[d])
	}
	return w, nil
}

// parseGroup parses one "DAYS HH:MM-HH:MM" group. Its errors do not repeat
// the group; Parse adds it.
func parseGroup(group string) ([]time.Weekday, Range, error) {
	fields := strings.Fields(group)
	switch {
	case len(fields) == 1 && strings.Contains(fields[0], ":"):
		return nil, Range{}, fmt.Errorf("missing day before %q", fields[0])
	case len(fields) == 1:
		return nil, Range{}, fmt.Errorf("missing time range after %q", fields[0])
	case len(fields) > 2:
		return nil, Range{}, fmt.Errorf("unexpected %q; want one day part and one time range, with commas between groups", fields[2])
	case strings.Contains(fields[0], ":"):
		return nil, Range{}, fmt.Errorf("%q comes before the day; write the day first, as in \"Mon-Fri 06:00-18:00\"", fields[0])
	}
	days, err := parseDays(fields[0])
	if err != nil {
		return nil, Range{}, err
	}
	r, err := parseRange(fields[1])
	if err != nil {
		return nil, Range{}, err
	}
	return days, r, nil
}

// parseDays parses "Sat" or a possibly wrapping range such as "Mon-Fri" or
// "Fri-Mon".
func parseDays(tok string) ([]time.Weekday, error) {
	first, last, isRange := strings.Cut(tok, "-")
	from, err := parseDay(first, tok)
	if err != nil {
		return nil, err
	}
	if !isRange {
		return []time.Weekday{from}, nil
	}
	to, err := parseDay(last, tok)
	if err != nil {
		return nil, err
	}
	if from == to {
		// "Mon-Mon" could mean one day or a whole week starting Monday; make
		// the writer say which.
		return nil, fmt.Errorf("day range %q starts and ends on the same day; write %q for one day or \"Mon-Sun\" for every day", tok, first)
	}
	var days []time.Weekday
	for d := from; ; d = (d + 1) % 7 {
		days = append(days, d)
		if d == to {
			return days, nil
		}
	}
}

// parseDay parses one three-letter day name; tok is the whole day part, for
// the error message.
func parseDay(s, tok string) (time.Weekday, error) {
	if s == "" {
		return 0, fmt.Errorf("missing day in %q", tok)
	}
	for d, name := range dayNames {
		if asciiEqualFold(s, name) {
			return time.Weekday(d), nil
		}
	}
	return 0, fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)", s)
}

// asciiEqualFold is strings.EqualFold restricted to ASCII, so that look-alikes
// such as "ſat" (long s) are not taken for "Sat".
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// parseRange parses "HH:MM-HH:MM".
func parseRange(tok string) (Range, error) {
	a, b, ok := strings.Cut(tok, "-")
	if !ok {
		return Range{}, fmt.Errorf("time range %q: want HH:MM-HH:MM", tok)
	}
	start, err := parseClock(a)
	if err != nil {
		return Range{}, fmt.Errorf("time range %q: %w", tok, err)
	}
	end, err := parseClock(b)
	if err != nil {
		return Range{}, fmt.Errorf("time range %q: %w", tok, err)
	}
	switch {
	case start == end:
		return Range{}, fmt.Errorf("time range %q is empty: it starts and ends at the same time", tok)
	case start > end:
		return Range{}, fmt.Errorf("time range %q ends before it starts; split overnight hours at midnight, as in \"Fri 22:00-24:00, Sat 00:00-02:00\"", tok)
	}
	return Range{Start: start, End: end}, nil
}

// parseClock parses "HH:MM" (or "H:MM") from 00:00 to 24:00 into minutes
// since midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !allDigits(h) || !allDigits(m) {
		return 0, fmt.Errorf("malformed time %q (want HH:MM)", s)
	}
	hh, mm := atoi(h), atoi(m)
	switch {
	case mm >= 60:
		return 0, fmt.Errorf("time %q: minutes must be 00 to 59", s)
	case hh > 24:
		return 0, fmt.Errorf("time %q: hour must be 00 to 24", s)
	case hh == 24 && mm != 0:
		return 0, fmt.Errorf("time %q is past 24:00, the end of the day", s)
	}
	return hh*60 + mm, nil
}

// allDigits reports whether s is ASCII digits only; strconv.Atoi would also
// take a sign.
func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi converts a short string of ASCII digits, already checked by allDigits.
func atoi(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// merge sorts ranges and joins those that overlap or touch, so that a day's
// hours have one representation and Schedule never sees a zero-length gap.
func merge(ranges []Range) []Range {
	if len(ranges) == 0 {
		return nil
	}
	slices.SortFunc(ranges, func(a, b Range) int { return cmp.Compare(a.Start, b.Start) })
	out := ranges[:1]
	for _, r := range ranges[1:] {
		last := &out[len(out)-1]
		if r.Start <= last.End {
			last.End = max(last.End, r.End)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}
