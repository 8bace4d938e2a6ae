package settings

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/internal/sqlitedb"
	"github.com/printshop/helpdesk/tickets"
)

// fakeAcks stands in for the ticket service: two inboxes, abuse not
// acknowledged by default.
type fakeAcks struct {
	mu  sync.Mutex
	set map[string]tickets.AckSetting
}

func (f *fakeAcks) Inboxes() []tickets.Inbox {
	return []tickets.Inbox{{Address: "support@example.com", Queue: "Customer Service"}, {Address: "abuse@example.com", Queue: "Abuse Reports"}}
}

func (f *fakeAcks) BaseAck(addr string) (tickets.AckSetting, bool) {
	switch strings.ToLower(addr) {
	case "support@example.com":
		return tickets.AckSetting{Enabled: true, Text: "Default support text {{ticket_id}}"}, true
	case "abuse@example.com":
		return tickets.AckSetting{Enabled: false, Text: "Default abuse text"}, true
	}
	return tickets.AckSetting{}, false
}

func (f *fakeAcks) Acks() map[string]tickets.AckSetting {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]tickets.AckSetting{}
	for k, v := range f.set {
		out[k] = v
	}
	return out
}

func (f *fakeAcks) SetAcks(m map[string]tickets.AckSetting) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.set = m
}

type fakeAudit struct {
	mu     sync.Mutex
	events []auth.Event
}

func (f *fakeAudit) Record(_ context.Context, ev auth.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	return nil
}

func (f *fakeAudit) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		out = append(out, e.Action)
	}
	return out
}

type env struct {
	t     *testing.T
	db    *sqlitedb.DB
	sched *hours.Schedule
	acks  *fakeAcks
	audit *fakeAudit
	svc   *Service
	now   time.Time
}

const flagHours = "Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00"

func openDB(t *testing.T, dir string) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(dir, "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func defaults(t *testing.T) Defaults {
	t.Helper()
	w, err := hours.Parse(flagHours)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := hours.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	return Defaults{Weekly: w, Location: loc}
}

// newEnv opens a Service over the database in dir (a new one when empty)
// with its own schedule, as one helpdesk process would.
func newEnv(t *testing.T, db *sqlitedb.DB) *env {
	t.Helper()
	if db == nil {
		db = openDB(t, t.TempDir())
	}
	d := defaults(t)
	e := &env{t: t, db: db, sched: hours.New(d.Weekly, d.Location, nil), acks: &fakeAcks{}, audit: &fakeAudit{},
		now: time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)} // Thursday 10:00 in Los Angeles
	svc, err := New(db, Options{Schedule: e.sched, Defaults: d, Acks: e.acks, Auditor: e.audit,
		Now: func() time.Time { return e.now }, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

func TestHoursDefaultsToFlags(t *testing.T) {
	e := newEnv(t, nil)
	v, err := e.svc.Hours(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.Source != SourceFlags || v.UpdatedAt != nil || v.Hours.Hours != flagHours || v.Timezone != "America/Los_Angeles" || len(v.Holidays) != 0 {
		t.Errorf("Hours() = %+v, want the flags", v)
	}
	if !v.Open || v.NextChange != "2026-12-24T18:00:00-08:00" {
		t.Errorf("open %v next %q, want open until 18:00", v.Open, v.NextChange)
	}
}

func TestSetHours(t *testing.T) {
	e := newEnv(t, nil)
	ctx := auth.NewContext(context.Background(), auth.Agent{Name: "Ada"})
	v, err := e.svc.SetHours(ctx, Hours{
		Hours:    " mon-sun 09:00-17:00 ",
		Timezone: "Europe/Berlin",
		Holidays: []string{"2026-12-25", " 2026-12-24", "2026-12-25"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Hours{Hours: "Mon-Sun 09:00-17:00", Timezone: "Europe/Berlin", Holidays: []string{"2026-12-24", "2026-12-25"}}
	if v.Hours.Hours != want.Hours || v.Timezone != want.Timezone || strings.Join(v.Holidays, ",") != strings.Join(want.Holidays, ",") {
		t.Errorf("SetHours = %+v, want %+v (canonical, sorted, de-duplicated)", v.Hours, want)
	}
	if v.Source != SourceSaved || v.UpdatedAt == nil || !v.UpdatedAt.Equal(e.now) {
		t.Errorf("source %q updated %v", v.Source, v.UpdatedAt)
	}
	// Applied to the schedule everyone holds: Christmas Eve is closed now.
	if e.sched.Open(e.now) || v.Open {
		t.Error("open on a saved holiday")
	}
	if e.sched.Location().String() != "Europe/Berlin" {
		t.Errorf("schedule zone = %s", e.sched.Location())
	}
	if got := e.audit.actions(); len(got) != 1 || got[0] != ActionHoursChanged {
		t.Errorf("audit = %v", got)
	}

	// A restart keeps the saved hours, not the flags.
	again := newEnv(t, e.db)
	if again.sched.Location().String() != "Europe/Berlin" || !again.sched.Weekly().Equal(e.sched.Weekly()) || len(again.sched.Holidays()) != 2 {
		t.Errorf("after restart: %s %s %v", again.sched.Weekly(), again.sched.Location(), again.sched.Holidays())
	}
}

func TestSetHoursInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   Hours
		want string
	}{
		{"empty hours", Hours{Hours: "", Timezone: "UTC"}, "hours: empty spec"},
		{"bad day", Hours{Hours: "Mon-Fry 06:00-18:00", Timezone: "UTC"}, `hours: "Mon-Fry 06:00-18:00": unknown day "Fry"`},
		{"bad range", Hours{Hours: "Mon 18:00-06:00", Timezone: "UTC"}, "hours: "},
		{"empty zone", Hours{Hours: "Mon 06:00-18:00", Timezone: ""}, "timezone: "},
		{"unknown zone", Hours{Hours: "Mon 06:00-18:00", Timezone: "Mars/Olympus"}, `timezone: "Mars/Olympus" is not a known IANA time zone`},
		{"bad holiday", Hours{Hours: "Mon 06:00-18:00", Timezone: "UTC", Holidays: []string{"2026-02-30"}}, "holidays: holiday \"2026-02-30\": February 2026 has only 28 days"},
		{"two dates in one", Hours{Hours: "Mon 06:00-18:00", Timezone: "UTC", Holidays: []string{"2026-12-25,2026-12-26"}}, "holidays: "},
		{"blank holiday", Hours{Hours: "Mon 06:00-18:00", Timezone: "UTC", Holidays: []string{" "}}, "holidays: "},
		{"long spec", Hours{Hours: strings.Repeat("Mon 06:00-18:00, ", 100), Timezone: "UTC"}, "hours: longer than"},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.SetHours(context.Background(), tt.in)
			if apperr.KindOf(err) != apperr.KindInvalid || !strings.HasPrefix(apperr.PublicMessage(err), tt.want) {
				t.Errorf("SetHours(%+v) = %v, want a 400 starting %q", tt.in, err, tt.want)
			}
		})
	}
	// Nothing was saved or applied.
	if v, _ := e.svc.Hours(context.Background()); v.Source != SourceFlags {
		t.Errorf("source after invalid input = %s", v.Source)
	}
	if len(e.audit.actions()) != 0 {
		t.Errorf("invalid input audited: %v", e.audit.actions())
	}
}

// TestOtherProcessPicksUpChanges runs two services on one database, as two
// processes sharing a data folder: a change saved by one reaches the other
// through Run's poll of the version.
func TestOtherProcessPicksUpChanges(t *testing.T) {
	a := newEnv(t, nil)
	b := newEnv(t, a.db)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	if _, err := a.svc.SetHours(context.Background(), Hours{Hours: "Mon-Sun 00:00-24:00", Timezone: "UTC", Holidays: []string{"2026-12-24"}}); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := a.svc.SetInbox(context.Background(), "abuse@example.com", InboxInput{AckEnabled: &on, AckText: "Thanks {{customer_name}}"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other process to apply the hours and the inbox", func() bool {
		return b.sched.Location() == time.UTC && len(b.sched.Holidays()) == 1 && b.acks.Acks()["abuse@example.com"].Enabled
	})
	if got := b.acks.Acks()["abuse@example.com"].Text; got != "Thanks {{customer_name}}" {
		t.Errorf("other process ack text = %q", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInboxes(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	list, err := e.svc.Inboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Address != "support@example.com" || !list[0].AckEnabled || list[0].Source != SourceFlags ||
		list[1].AckEnabled || list[1].AckText != "Default abuse text" {
		t.Fatalf("Inboxes() = %+v", list)
	}

	off := false
	got, err := e.svc.SetInbox(ctx, "Support@Example.com", InboxInput{AckEnabled: &off, AckText: "Hi {{customer_name}}, #{{ticket_id}}\r\n"})
	if err != nil {
		t.Fatal(err)
	}
	if got.AckEnabled || got.AckText != "Hi {{customer_name}}, #{{ticket_id}}\n" || got.Source != SourceSaved || !got.DefaultAckEnabled || got.DefaultAckText != "Default support text {{ticket_id}}" {
		t.Errorf("SetInbox = %+v", got)
	}
	if a := e.acks.Acks()["support@example.com"]; a.Enabled || a.Text != got.AckText {
		t.Errorf("applied ack = %+v", a)
	}
	// An empty text means the default one.
	on := true
	got, err = e.svc.SetInbox(ctx, "support@example.com", InboxInput{AckEnabled: &on, AckText: "  "})
	if err != nil {
		t.Fatal(err)
	}
	if !got.AckEnabled || got.AckText != "Default support text {{ticket_id}}" {
		t.Errorf("SetInbox with empty text = %+v", got)
	}

	bad := []struct {
		name, addr string
		in         InboxInput
		kind       apperr.Kind
	}{
		{"unknown inbox", "nobody@example.com", InboxInput{AckEnabled: &on}, apperr.KindNotFound},
		{"no ack_enabled", "support@example.com", InboxInput{AckText: "x"}, apperr.KindInvalid},
		{"unknown placeholder", "support@example.com", InboxInput{AckEnabled: &on, AckText: "Hi {{name}}"}, apperr.KindInvalid},
		{"too long", "support@example.com", InboxInput{AckEnabled: &on, AckText: strings.Repeat("x", MaxAckTextBytes+1)}, apperr.KindInvalid},
		{"NUL", "support@example.com", InboxInput{AckEnabled: &on, AckText: "a\x00b"}, apperr.KindInvalid},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.svc.SetInbox(ctx, tt.addr, tt.in); apperr.KindOf(err) != tt.kind {
				t.Errorf("SetInbox = %v, want kind %v", err, tt.kind)
			}
		})
	}
	if got := e.audit.actions(); len(got) != 2 || got[0] != ActionInboxChanged {
		t.Errorf("audit = %v", got)
	}
}

// TestBadStoredValueFallsBack checks that a stored row that no longer
// validates leaves the flags in force instead of stopping the process.
func TestBadStoredValueFallsBack(t *testing.T) {
	e := newEnv(t, nil)
	if err := writeSetting(context.Background(), e.db, keyHours, Hours{Hours: "Someday 9-5", Timezone: "UTC"}, 0, e.now); err != nil {
		t.Fatal(err)
	}
	again := newEnv(t, e.db)
	if again.sched.Location().String() != "America/Los_Angeles" || again.sched.Weekly().String() != flagHours {
		t.Errorf("schedule = %s in %s, want the flags", again.sched.Weekly(), again.sched.Location())
	}
}

func TestNewRequiresSchedule(t *testing.T) {
	if _, err := New(openDB(t, t.TempDir()), Options{}); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("New without a schedule = %v", err)
	}
}
