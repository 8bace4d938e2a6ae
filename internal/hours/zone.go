package hours

import (
	"fmt"
	"time"

	// The server must not depend on the host having /usr/share/zoneinfo
	// (minimal containers do not); the embedded copy is used when it is
	// missing.
	_ "time/tzdata"
)

// LoadLocation returns the time zone with the given IANA name, such as
// DefaultTimezone. It works on hosts without a zoneinfo database. Unlike
// time.LoadLocation it rejects the empty name, which time.LoadLocation reads
// as UTC: an empty --timezone is more likely a mistake than a request for UTC,
// and "UTC" can be asked for by name.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return nil, fmt.Errorf("hours: empty time zone name; want an IANA name such as %q", DefaultTimezone)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("hours: unknown time zone %q (want an IANA name such as %q): %w", name, DefaultTimezone, err)
	}
	return loc, nil
}

// maxZonePeriods bounds the walk in firstAtOrAfter. Real zones change offset
// at most a few times in the three days it looks at.
const maxZonePeriods = 16

// firstAtOrAfter returns the earliest instant at which the local clock in loc
// reads wall or later. wall is a wall-clock reading written as seconds since
// 1970-01-01 00:00 as though it were UTC (Date.midnightUTC plus the time of
// day). This is the package's one rule for wall-clock times, described in the
// package comment: a reading in a spring-forward gap becomes the end of the
// gap, a repeated reading its first occurrence. Because a later reading never
// gives an earlier instant, ranges built with it never turn inside out.
func firstAtOrAfter(loc *time.Location, wall int64) time.Time {
	// The answer lies within a day of wall read as UTC, since UTC offsets are
	// under a day. Walk the zone's periods of constant offset forward from
	// two days earlier: in each period [start, end) with offset off the clock
	// reads t+off, so the first period in which it reaches wall holds the
	// answer, at wall-off or, if that is before the period (a gap), at its
	// start.
	t := time.Unix(wall-2*secondsPerDay, 0).In(loc)
	for range maxZonePeriods {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		at := wall - int64(off)
		if end.IsZero() || at < end.Unix() {
			if !start.IsZero() && at < start.Unix() {
				at = start.Unix()
			}
			return time.Unix(at, 0).In(loc)
		}
		t = end.In(loc)
	}
	// Not reached for any zone in the tz database; fall back to time.Date's
	// own (unspecified) choice rather than loop on a corrupt zone.
	w := time.Unix(wall, 0).UTC()
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
}

const secondsPerDay = 24 * 60 * 60
