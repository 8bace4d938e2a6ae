// Package settings holds what admins configure in the browser instead of on
// the command line: the support hours (with their time zone and holidays)
// and each inbox's automatic acknowledgement.
//
// Flags give the starting values. Once an admin saves a setting it is
// stored in SQLite and overrides the flag from then on, in every process
// that shares the database, including after restarts.
//
// A saved change takes effect at once in the process that saved it: the
// Service applies it to the *hours.Schedule that the status endpoint, ticket
// SLAs and chat all hold (hours.Schedule.Set), and to the ticket service's
// acknowledgements (tickets.Service.SetAcks). Other processes notice within
// one PollInterval: every write bumps a single version counter in the same
// transaction, Run polls that counter, and a process that sees it move
// reloads every setting and applies it the same way.
package settings

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/tickets"
)

// Audit actions recorded by this package.
const (
	ActionHoursChanged = "settings.hours_changed"
	ActionInboxChanged = "settings.inbox_changed"
)

// Limits on what an admin may save.
const (
	MaxHoursSpecLen = 1000
	MaxHolidays     = 400
	MaxAckTextBytes = 8 << 10
)

// Sources of a setting's current value.
const (
	SourceFlags = "flags" // nobody saved it; the command line (or its default) applies
	SourceSaved = "saved" // an admin saved it
)

// Hours is the support-hours setting as an admin edits it: the weekly hours
// in the --hours format, an IANA time zone and closed dates.
type Hours struct {
	Hours    string   `json:"hours"`    // e.g. "Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00"
	Timezone string   `json:"timezone"` // e.g. "America/Los_Angeles"
	Holidays []string `json:"holidays"` // YYYY-MM-DD
}

// HoursView is the hours setting in force, as GET /api/admin/hours shows it.
type HoursView struct {
	Hours
	Source    string     `json:"source"`     // SourceFlags or SourceSaved
	UpdatedAt *time.Time `json:"updated_at"` // when it was saved; null for flags
	// Open and NextChange describe the schedule at the time of the
	// answer, so an admin sees the effect of what they saved.
	Open       bool   `json:"open"`
	NextChange string `json:"next_change"` // RFC 3339; "" when it never changes
}

// hoursValue is a validated Hours.
type hoursValue struct {
	weekly   hours.Weekly
	loc      *time.Location
	holidays []hours.Date
}

// canonical returns the stored, normalized form of v: the weekly hours as
// hours.Weekly.String writes them and holidays sorted without duplicates.
func (v hoursValue) canonical() Hours {
	h := Hours{Hours: v.weekly.String(), Timezone: v.loc.String(), Holidays: make([]string, len(v.holidays))}
	for i, d := range v.holidays {
		h.Holidays[i] = d.String()
	}
	return h
}

// validate checks an admin's hours and returns them parsed, with holidays
// sorted and de-duplicated. Errors are apperr.KindInvalid and name the
// field.
func (h Hours) validate() (hoursValue, error) {
	var v hoursValue
	spec := strings.TrimSpace(h.Hours)
	if len(spec) > MaxHoursSpecLen {
		return v, apperr.Invalid("hours: longer than %d characters", MaxHoursSpecLen)
	}
	w, err := hours.Parse(spec)
	if err != nil {
		return v, apperr.Invalid("hours: %s", strings.TrimPrefix(err.Error(), "hours: "))
	}
	zone := strings.TrimSpace(h.Timezone)
	loc, err := hours.LoadLocation(zone)
	if err != nil || len(zone) > 100 {
		return v, apperr.Invalid("timezone: %q is not a known IANA time zone name such as %q", zone, hours.DefaultTimezone)
	}
	if len(h.Holidays) > MaxHolidays {
		return v, apperr.Invalid("holidays: at most %d dates", MaxHolidays)
	}
	dates := make([]hours.Date, 0, len(h.Holidays))
	for _, raw := range h.Holidays {
		s := strings.TrimSpace(raw)
		if s == "" || strings.Contains(s, ",") {
			return v, apperr.Invalid("holidays: %q is not a date written YYYY-MM-DD", raw)
		}
		ds, err := hours.ParseHolidays(s)
		if err != nil {
			return v, apperr.Invalid("holidays: %s", strings.TrimPrefix(err.Error(), "hours: "))
		}
		dates = append(dates, ds...)
	}
	slices.SortFunc(dates, compareDates)
	dates = slices.Compact(dates)
	return hoursValue{weekly: w, loc: loc, holidays: dates}, nil
}

func compareDates(a, b hours.Date) int {
	switch {
	case a.Year != b.Year:
		return a.Year - b.Year
	case a.Month != b.Month:
		return int(a.Month) - int(b.Month)
	}
	return a.Day - b.Day
}

// Inbox is one inbox and its acknowledgement, as GET /api/admin/inboxes
// lists it.
type Inbox struct {
	Address string `json:"address"`
	Queue   string `json:"queue"`
	// AckEnabled and AckText are what new tickets from this inbox get now.
	AckEnabled bool   `json:"ack_enabled"`
	AckText    string `json:"ack_text"`
	// The acknowledgement the flags and built-in texts give, which applies
	// while Source is SourceFlags and is what "reset" returns to.
	DefaultAckEnabled bool       `json:"default_ack_enabled"`
	DefaultAckText    string     `json:"default_ack_text"`
	Source            string     `json:"source"`
	UpdatedAt         *time.Time `json:"updated_at"`
	// Placeholders lists what AckText may contain.
	Placeholders []string `json:"placeholders"`
}

// InboxInput is the body of PUT /api/admin/inboxes/:address. An empty
// AckText means the default text.
type InboxInput struct {
	AckText    string `json:"ack_text"`
	AckEnabled *bool  `json:"ack_enabled"`
}

// inboxValue is the stored form of an inbox's acknowledgement.
type inboxValue struct {
	AckEnabled bool   `json:"ack_enabled"`
	AckText    string `json:"ack_text"`
}

func (in InboxInput) validate() (inboxValue, error) {
	if in.AckEnabled == nil {
		return inboxValue{}, apperr.Invalid("ack_enabled is required (true or false)")
	}
	text := strings.ReplaceAll(in.AckText, "\r\n", "\n")
	if strings.TrimSpace(text) == "" {
		text = ""
	}
	switch {
	case len(text) > MaxAckTextBytes:
		return inboxValue{}, apperr.Invalid("ack_text: longer than %d KiB", MaxAckTextBytes>>10)
	case !utf8.ValidString(text) || strings.ContainsRune(text, 0):
		return inboxValue{}, apperr.Invalid("ack_text: not valid UTF-8 text")
	}
	if bad := unknownPlaceholder(text); bad != "" {
		return inboxValue{}, apperr.Invalid("ack_text: unknown placeholder %s; use %s", bad, strings.Join(tickets.AckPlaceholders, ", "))
	}
	return inboxValue{AckEnabled: *in.AckEnabled, AckText: text}, nil
}

// unknownPlaceholder returns the first {{...}} in text that the ticket
// service would not fill in (and so would send as is), or "".
func unknownPlaceholder(text string) string {
	for rest := text; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			return ""
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return ""
		}
		p := rest[i : i+j+2]
		if !slices.Contains(tickets.AckPlaceholders, p) {
			return p
		}
		rest = rest[i+j+2:]
	}
}

// Errors returned by the service.
var ErrUnknownInbox = apperr.NotFound("no inbox with this address")
