package hours_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/hours"
)

func TestParseHolidays(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []hours.Date
	}{
		{"empty", "", nil},
		{"blank", "  ", nil},
		{"one", "2026-12-25", []hours.Date{{Year: 2026, Month: time.December, Day: 25}}},
		{"two in given order", "2027-01-01,2026-12-25", []hours.Date{{Year: 2027, Month: time.January, Day: 1}, {Year: 2026, Month: time.December, Day: 25}}},
		{"spaces", " 2026-12-25 , 2027-01-01 ", []hours.Date{{Year: 2026, Month: time.December, Day: 25}, {Year: 2027, Month: time.January, Day: 1}}},
		{"leap day", "2028-02-29", []hours.Date{{Year: 2028, Month: time.February, Day: 29}}},
		{"month end", "2026-04-30", []hours.Date{{Year: 2026, Month: time.April, Day: 30}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hours.ParseHolidays(tt.spec)
			if err != nil {
				t.Fatalf("ParseHolidays(%q): %v", tt.spec, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseHolidays(%q) = %v, want %v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestParseHolidaysErrors(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want string // substring the error must contain
	}{
		{"february 30", "2026-02-30", `holiday "2026-02-30": February 2026 has only 28 days`},
		{"not a leap year", "2027-02-29", `holiday "2027-02-29": February 2027 has only 28 days`},
		{"april 31", "2026-04-31", `holiday "2026-04-31": April 2026 has only 30 days`},
		{"day zero", "2026-12-00", `holiday "2026-12-00": day 00 does not exist`},
		{"month 13", "2026-13-01", `holiday "2026-13-01": month 13 is not 01 to 12`},
		{"month zero", "2026-00-10", `month 00`},
		{"year zero", "0000-01-01", `"0000-01-01": year 0000`},
		{"two digit year", "26-12-25", `holiday "26-12-25": want YYYY-MM-DD`},
		{"slashes", "2026/12/25", `holiday "2026/12/25": want YYYY-MM-DD`},
		{"no zero padding", "2026-1-5", `holiday "2026-1-5": want YYYY-MM-DD`},
		{"word", "tomorrow", `holiday "tomorrow"`},
		{"with time", "2026-12-25T00:00", `holiday "2026-12-25T00:00"`},
		{"bad one after good one", "2026-12-25,2026-12-32", `holiday "2026-12-32"`},
		{"trailing comma", "2026-12-25,", "date 2 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hours.ParseHolidays(tt.spec)
			if err == nil {
				t.Fatalf("ParseHolidays(%q) = %v, want an error mentioning %s", tt.spec, got, tt.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "hours: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("ParseHolidays(%q) error = %q, want it to mention %s", tt.spec, msg, tt.want)
			}
		})
	}
}

func TestDate(t *testing.T) {
	la, err := hours.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-12-25 04:00 UTC is still Christmas Eve in Los Angeles.
	instant := time.Date(2026, time.December, 25, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"UTC", instant, "2026-12-25"},
		{"Los Angeles", instant.In(la), "2026-12-24"},
		{"small year padded", time.Date(12, time.March, 4, 0, 0, 0, 0, time.UTC), "0012-03-04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hours.DateOf(tt.t).String(); got != tt.want {
				t.Errorf("DateOf(%v).String() = %q, want %q", tt.t, got, tt.want)
			}
		})
	}
}

func TestLoadLocation(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		want    string // error substring; empty for success
		wantLoc string
	}{
		{"default", hours.DefaultTimezone, "", "America/Los_Angeles"},
		{"UTC by name", "UTC", "", "UTC"},
		{"Beirut", "Asia/Beirut", "", "Asia/Beirut"},
		{"unknown", "Mars/Olympus_Mons", `unknown time zone "Mars/Olympus_Mons"`, ""},
		{"wrong case", "america/los_angeles_x", `"america/los_angeles_x"`, ""},
		{"path escape", "../etc/passwd", `"../etc/passwd"`, ""},
		{"empty", "", "empty time zone name", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := hours.LoadLocation(tt.zone)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("LoadLocation(%q): %v", tt.zone, err)
				}
				if loc.String() != tt.wantLoc {
					t.Errorf("LoadLocation(%q) = %v, want %v", tt.zone, loc, tt.wantLoc)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadLocation(%q) = %v, want an error mentioning %s", tt.zone, loc, tt.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "hours: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("LoadLocation(%q) error = %q, want it to mention %s", tt.zone, msg, tt.want)
			}
		})
	}
}

// FuzzParseHolidays checks that ParseHolidays never panics and that every
// date it accepts exists and prints back to a spec that gives the same dates.
func FuzzParseHolidays(f *testing.F) {
	for _, seed := range []string{"", "2026-12-25", "2026-12-25, 2027-01-01", "2028-02-29", "2026-02-30", "2026-13-01", "0000-01-01", ",", "2026-1-5"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		dates, err := hours.ParseHolidays(spec)
		if err != nil {
			return
		}
		strs := make([]string, len(dates))
		for i, d := range dates {
			if hours.DateOf(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)) != d {
				t.Fatalf("ParseHolidays(%q) accepted %v, which does not exist", spec, d)
			}
			strs[i] = d.String()
		}
		again, err := hours.ParseHolidays(strings.Join(strs, ","))
		if err != nil || !slices.Equal(again, dates) {
			t.Fatalf("ParseHolidays(%q) = %v, but its String form gives %v, %v", spec, dates, again, err)
		}
	})
}
