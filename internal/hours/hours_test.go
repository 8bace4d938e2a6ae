package hours_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/hours"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want string // canonical String of the result
	}{
		{"default", hours.DefaultSpec, hours.DefaultSpec},
		{"lower case", "mon-fri 06:00-18:00, sat-sun 07:00-16:00", hours.DefaultSpec},
		{"upper case", "MON-FRI 06:00-18:00, SAT-SUN 07:00-16:00", hours.DefaultSpec},
		{"loose spacing", "  Mon-Fri\t06:00-18:00 ,Sat-Sun   07:00-16:00  ", hours.DefaultSpec},
		{"single days spelled out", "Sat 07:00-16:00, Mon 06:00-18:00, Tue 06:00-18:00, Wed 06:00-18:00, Thu 06:00-18:00, Fri 06:00-18:00, Sun 07:00-16:00", hours.DefaultSpec},
		{"one digit hour", "Sat 9:00-17:00", "Sat 09:00-17:00"},
		{"wrapping range", "Fri-Mon 10:00-14:00", "Mon 10:00-14:00, Fri-Sun 10:00-14:00"},
		{"wrapping range from Sat", "Sat-Tue 10:00-14:00", "Mon-Tue 10:00-14:00, Sat-Sun 10:00-14:00"},
		{"always open", "Mon-Sun 00:00-24:00", "Mon-Sun 00:00-24:00"},
		{"split day", "Mon 09:00-12:00, Mon 13:00-17:00", "Mon 09:00-12:00, Mon 13:00-17:00"},
		{"split day listed backwards", "Mon 13:00-17:00, Mon 09:00-12:00", "Mon 09:00-12:00, Mon 13:00-17:00"},
		{"overlap merged", "Mon 09:00-12:00, Mon 11:00-13:00", "Mon 09:00-13:00"},
		{"contained merged", "Mon 09:00-17:00, Mon 10:00-11:00", "Mon 09:00-17:00"},
		{"touching merged", "Mon 09:00-12:00, Mon 12:00-13:00", "Mon 09:00-13:00"},
		{"override inside a range", "Mon-Fri 09:00-17:00, Wed 08:00-10:00", "Mon-Tue 09:00-17:00, Wed 08:00-17:00, Thu-Fri 09:00-17:00"},
		{"midnight pair stays two ranges", "Fri 18:00-24:00, Sat 00:00-06:00", "Fri 18:00-24:00, Sat 00:00-06:00"},
		{"one minute", "Sun 23:59-24:00", "Sun 23:59-24:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := hours.Parse(tt.spec)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.spec, err)
			}
			if got := w.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestWeeklyRanges(t *testing.T) {
	w, err := hours.Parse("Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00, Mon 19:00-24:00")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		day  time.Weekday
		want []hours.Range
	}{
		{"Monday has two ranges", time.Monday, []hours.Range{{Start: 360, End: 1080}, {Start: 1140, End: 1440}}},
		{"Friday", time.Friday, []hours.Range{{Start: 360, End: 1080}}},
		{"Sunday", time.Sunday, []hours.Range{{Start: 420, End: 960}}},
		{"out of range weekday", time.Weekday(7), nil},
		{"negative weekday", time.Weekday(-1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w.Ranges(tt.day); !slices.Equal(got, tt.want) {
				t.Errorf("Ranges(%v) = %v, want %v", tt.day, got, tt.want)
			}
		})
	}

	// The caller gets a copy: changing it must not change the Weekly.
	got := w.Ranges(time.Friday)
	got[0].Start = 0
	if again := w.Ranges(time.Friday); again[0].Start != 360 {
		t.Errorf("Ranges returned the Weekly's own slice: after a caller's edit Friday starts at %d", again[0].Start)
	}

	if got := (hours.Weekly{}).Ranges(time.Monday); got != nil {
		t.Errorf("zero Weekly Ranges(Monday) = %v, want nil", got)
	}
	if got, want := (hours.Range{Start: 405, End: 1440}).String(), "06:45-24:00"; got != want {
		t.Errorf("Range.String() = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want string // substring the error must contain: the offending token
	}{
		{"empty", "", "empty spec"},
		{"blank", "  \t ", "empty spec"},
		{"unknown day in range", "Mon-Fry 06:00-18:00", `"Mon-Fry 06:00-18:00": unknown day "Fry"`},
		{"unknown single day", "Xyz 06:00-18:00", `unknown day "Xyz"`},
		{"full day name", "Monday 06:00-18:00", `unknown day "Monday"`},
		{"unicode look-alike day", "ſat 06:00-18:00", `unknown day "ſat"`},
		{"day range missing end", "Mon- 06:00-18:00", `missing day in "Mon-"`},
		{"day range missing start", "-Fri 06:00-18:00", `missing day in "-Fri"`},
		{"same day range", "Mon-Mon 06:00-18:00", `"Mon-Mon"`},
		{"three day range", "Mon-Wed-Fri 06:00-18:00", `unknown day "Wed-Fri"`},
		{"start after end", "Mon 18:00-06:00", `"18:00-06:00" ends before it starts`},
		{"start equals end", "Mon 09:00-09:00", `"09:00-09:00" is empty`},
		{"start at 24:00", "Mon 24:00-24:00", `"24:00-24:00" is empty`},
		{"minutes 60", "Mon 09:60-10:00", `"09:60"`},
		{"hour 25", "Mon 09:00-25:00", `"25:00"`},
		{"past 24:00", "Mon 09:00-24:01", `"24:01"`},
		{"no minutes", "Mon 9-17", `"9"`},
		{"no colon", "Mon 0900-1700", `"0900"`},
		{"one digit minutes", "Mon 09:0-17:00", `"09:0"`},
		{"three digit hour", "Mon 123:00-130:00", `"123:00"`},
		{"signed hour", "Mon +9:00-17:00", `"+9:00"`},
		{"fullwidth digits", "Mon ０９:00-17:00", `"０９:00"`},
		{"trailing junk", "Mon 09:00-17:00x", `"17:00x"`},
		{"double dash", "Mon 09:00--17:00", `"-17:00"`},
		{"single time", "Mon 09:00", `"09:00": want HH:MM-HH:MM`},
		{"missing time range", "Mon", `missing time range after "Mon"`},
		{"missing day", "06:00-18:00", `missing day before "06:00-18:00"`},
		{"time before day", "06:00-18:00 Mon", `"06:00-18:00" comes before the day`},
		{"two ranges in one group", "Mon 09:00-12:00 13:00-17:00", `unexpected "13:00-17:00"`},
		{"semicolon separator", "Mon 09:00-17:00; Tue 09:00-17:00", `unexpected "Tue"`},
		{"trailing comma", "Mon 09:00-17:00,", "group 2 is empty"},
		{"double comma", "Mon 09:00-17:00,,Tue 09:00-17:00", "group 2 is empty"},
		{"garbage", "!!!", `missing time range after "!!!"`},
		{"garbage with range", "!!! 09:00-17:00", `unknown day "!!!"`},
		{"bad group after good one", "Mon-Fri 06:00-18:00, Sat 07:00-16:60", `"Sat 07:00-16:60": time range "07:00-16:60": time "16:60"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := hours.Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error mentioning %s", tt.spec, w, tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "hours: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to start with \"hours: \" and mention %s", tt.spec, msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("Parse(%q) error spans lines: %q", tt.spec, msg)
			}
		})
	}
}

func TestWeeklyEqual(t *testing.T) {
	a, err := hours.Parse("Mon-Fri 06:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hours.Parse("Fri 06:00-18:00, Mon-Thu 06:00-12:00, Mon-Thu 12:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	c, err := hours.Parse("Mon-Fri 06:00-18:01")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		x, y hours.Weekly
		want bool
	}{
		{"same hours written differently", a, b, true},
		{"one minute apart", a, c, false},
		{"zero and non-zero", a, hours.Weekly{}, false},
		{"both zero", hours.Weekly{}, hours.Weekly{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.x.Equal(tt.y); got != tt.want {
				t.Errorf("%q.Equal(%q) = %v, want %v", tt.x, tt.y, got, tt.want)
			}
		})
	}
}

// FuzzParse checks that Parse never panics on outside input, and that
// whatever it accepts is described exactly by its canonical String.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		hours.DefaultSpec,
		"Mon-Sun 00:00-24:00",
		"Fri-Mon 10:00-14:00",
		"Mon 09:00-12:00, Mon 11:00-13:00, Mon 13:00-17:00",
		"Fri 18:00-24:00, Sat 00:00-06:00",
		"sat 9:00-17:00",
		"Mon-Fry 06:00-18:00",
		"Mon 18:00-06:00",
		"Mon 24:00-24:01",
		"Mon 09:00-17:00,",
		"",
		",",
		"-",
		"Mon-",
		"ſat 09:00-10:00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		w, err := hours.Parse(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "hours: ") {
				t.Errorf("Parse(%q) error %q lacks the package prefix", spec, err)
			}
			return
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			rs := w.Ranges(d)
			for i, r := range rs {
				if r.Start < 0 || r.Start >= r.End || r.End > 24*60 {
					t.Fatalf("Parse(%q): %v range %v out of bounds", spec, d, r)
				}
				if i > 0 && r.Start <= rs[i-1].End {
					t.Fatalf("Parse(%q): %v ranges %v not sorted and merged", spec, d, rs)
				}
			}
		}
		canon := w.String()
		again, err := hours.Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) gave %q, which does not parse: %v", spec, canon, err)
		}
		if !again.Equal(w) {
			t.Fatalf("Parse(%q) gave %q, which parses to %q", spec, canon, again)
		}
		if again.String() != canon {
			t.Fatalf("String is not canonical: %q then %q", canon, again.String())
		}
	})
}
