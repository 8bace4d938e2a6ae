package reports

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

func TestStatsOf(t *testing.T) {
	mins := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Minute
		}
		return out
	}
	tests := []struct {
		name      string
		in        []time.Duration
		med, p90  float64
		wantEmpty bool
	}{
		{name: "none", in: nil, wantEmpty: true},
		{name: "one", in: mins(7), med: 7, p90: 7},
		{name: "two: mean of both, p90 is the larger", in: mins(10, 20), med: 15, p90: 20},
		{name: "odd, unsorted", in: mins(50, 10, 30), med: 30, p90: 50},
		{name: "ten: p90 is the 9th", in: mins(1, 2, 3, 4, 5, 6, 7, 8, 9, 100), med: 5.5, p90: 9},
		{name: "eleven: p90 is the 10th", in: mins(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), med: 6, p90: 10},
		{name: "twenty: p90 is the 18th", in: mins(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), med: 10.5, p90: 18},
		{name: "seconds round to two decimals", in: []time.Duration{100 * time.Second, 20 * time.Second}, med: 1, p90: 1.67},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statsOf(tt.in, time.Minute)
			if s.Count != len(tt.in) {
				t.Errorf("count = %d", s.Count)
			}
			if tt.wantEmpty {
				if s.Median != nil || s.P90 != nil {
					t.Errorf("median %v p90 %v, want null", s.Median, s.P90)
				}
				return
			}
			if *s.Median != tt.med || *s.P90 != tt.p90 {
				t.Errorf("median %v p90 %v, want %v and %v", *s.Median, *s.P90, tt.med, tt.p90)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC) // still March 9 in Los Angeles
	f, to, err := ParseRange("", "", today, la)
	if err != nil || f.Format(time.DateOnly) != "2026-02-08" || to.Format(time.DateOnly) != "2026-03-09" || to.Location() != la {
		t.Errorf("default range = %v..%v, %v", f, to, err)
	}
	f, to, err = ParseRange("2025-03-10", "2026-03-10", today, la) // 366 days, across DST changes
	if err != nil || daysBetween(f, to) != 365 {
		t.Errorf("366-day range = %v..%v, %v", f, to, err)
	}
	bad := []struct{ from, to, want string }{
		{"2026-03-01", "", "give both from and to"},
		{"", "2026-03-01", "give both from and to"},
		{"2026-3-1", "2026-03-02", `from: "2026-3-1" is not a date`},
		{"2026-03-01", "2026-02-30", `to: "2026-02-30" is not a date`},
		{"2026-03-02", "2026-03-01", "to (2026-03-01) is before from (2026-03-02)"},
		{"2025-03-09", "2026-03-10", "the range covers 367 days; a report covers at most 366"},
	}
	for _, b := range bad {
		_, _, err := ParseRange(b.from, b.to, today, la)
		if apperr.KindOf(err) != apperr.KindInvalid || !strings.HasPrefix(apperr.PublicMessage(err), b.want) {
			t.Errorf("ParseRange(%q, %q) = %v, want 400 %q", b.from, b.to, err, b.want)
		}
	}
}

// seed is a database with known tickets and chats in March 2026.
type seed struct {
	db  *sqlitedb.DB
	now time.Time
}

func ts(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return fmtTime(t)
}

// at returns the stored form of base plus d, or NULL for a negative d.
func at(base string, d time.Duration) any {
	if d < 0 {
		return nil
	}
	t, _ := time.Parse(time.RFC3339, base)
	return fmtTime(t.Add(d))
}

const none = time.Duration(-1)

func newSeed(t *testing.T) seed {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := seed{db: db, now: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)}
	tickets := []struct {
		queue, created     string
		first, solved, due time.Duration
		absDue             string
	}{
		// 1: answered in 10 min, solved in 60, due in 4 h: met.
		{"Customer Service", "2026-03-01T10:00:00Z", 10 * time.Minute, 60 * time.Minute, 4 * time.Hour, ""},
		// 2: answered in 30 min, due in 20: late.
		{"Customer Service", "2026-03-01T11:00:00Z", 30 * time.Minute, 120 * time.Minute, 20 * time.Minute, ""},
		// 3: answered in 20 min, not solved: met.
		{"Corporate Sales", "2026-03-02T09:00:00Z", 20 * time.Minute, none, 4 * time.Hour, ""},
		// 4: never answered, due long ago: breached, unanswered.
		{"Customer Service", "2026-03-02T12:00:00Z", none, none, time.Hour, ""},
		// 5: closed as spam within 30 min without a reply: met.
		{"Customer Service", "2026-03-03T08:00:00Z", none, 30 * time.Minute, 4 * time.Hour, ""},
		// 6: unanswered, due after now: pending.
		{"Abuse Reports", "2026-03-03T09:00:00Z", none, none, none, "2026-03-10T12:00:00Z"},
		// 7: answered in 50 min, no due time (schedule never opens).
		{"Customer Service", "2026-03-03T10:00:00Z", 50 * time.Minute, none, none, ""},
		// 8: solved after its due time without a reply: breached, unanswered.
		{"Corporate Sales", "2026-03-03T11:00:00Z", none, 5 * time.Hour, time.Hour, ""},
		// Outside the range on both sides.
		{"Customer Service", "2026-02-28T23:59:59Z", time.Minute, none, time.Hour, ""},
		{"Customer Service", "2026-03-04T00:00:00Z", time.Minute, none, time.Hour, ""},
	}
	for _, tk := range tickets {
		due := at(tk.created, tk.due)
		if tk.absDue != "" {
			due = ts(tk.absDue)
		}
		_, err := db.W.Exec(`INSERT INTO tickets (subject, queue, inbox, requester_email, created_at, updated_at, first_response_at, solved_at, sla_due_at)
			VALUES ('s', ?, 'support@example.com', 'c@example.com', ?, ?, ?, ?, ?)`,
			tk.queue, ts(tk.created), ts(tk.created), at(tk.created, tk.first), at(tk.created, tk.solved), due)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.W.Exec(`INSERT INTO chat_visitors (id, token_hash, created_at) VALUES (1, x'00', ?)`, ts("2026-03-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	chats := []struct {
		created, status string
		queued          bool
		wait            time.Duration
		deflected       bool
		rating          int
	}{
		{"2026-03-01T10:00:00Z", "closed", true, 30 * time.Second, false, 5},
		{"2026-03-01T11:00:00Z", "closed", true, 90 * time.Second, false, 4},
		{"2026-03-02T10:00:00Z", "closed", true, 10 * time.Second, false, 2},
		{"2026-03-02T11:00:00Z", "closed", true, none, false, 0},  // abandoned
		{"2026-03-03T10:00:00Z", "closed", false, none, true, 0},  // deflected
		{"2026-03-03T11:00:00Z", "open", false, none, false, 0},   // said hello only: not a chat
		{"2026-03-03T12:00:00Z", "waiting", true, none, false, 0}, // still waiting
		{"2026-03-05T12:00:00Z", "closed", true, time.Second, false, 1},
	}
	for _, c := range chats {
		var queued any
		if c.queued {
			queued = ts(c.created)
		}
		var rating any
		if c.rating > 0 {
			rating = c.rating
		}
		_, err := db.W.Exec(`INSERT INTO chat_conversations (visitor_id, status, deflected, rating, created_at, updated_at, queued_at, assigned_at)
			VALUES (1, ?, ?, ?, ?, ?, ?, ?)`, c.status, c.deflected, rating, ts(c.created), ts(c.created), queued, at(c.created, c.wait))
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

type fixedZone struct{ loc *time.Location }

func (z fixedZone) Location() *time.Location { return z.loc }

func (s seed) service(loc *time.Location) *Service {
	return New(s.db, Options{Zone: fixedZone{loc}, Queues: []string{"Customer Service", "School & Government"},
		Now: func() time.Time { return s.now }})
}

func march(loc *time.Location, from, to int) Query {
	return Query{From: time.Date(2026, 3, from, 0, 0, 0, 0, loc), To: time.Date(2026, 3, to, 0, 0, 0, 0, loc)}
}

func f(x float64) *float64 { return &x }

func TestSummary(t *testing.T) {
	s := newSeed(t)
	sum, err := s.service(time.UTC).Summary(context.Background(), march(time.UTC, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	tk := sum.Tickets
	if tk.Created != 8 {
		t.Errorf("created = %d, want 8", tk.Created)
	}
	wantQueues := map[string]int{"Customer Service": 5, "Corporate Sales": 2, "Abuse Reports": 1}
	for q, n := range wantQueues {
		if tk.ByQueue[q] != n {
			t.Errorf("by queue %s = %d, want %d", q, tk.ByQueue[q], n)
		}
	}
	wantDays := []struct {
		date  string
		total int
		cs    int
	}{{"2026-03-01", 2, 2}, {"2026-03-02", 2, 1}, {"2026-03-03", 4, 2}}
	if len(tk.PerDay) != 3 {
		t.Fatalf("per day = %+v", tk.PerDay)
	}
	for i, w := range wantDays {
		if d := tk.PerDay[i]; d.Date != w.date || d.Total != w.total || d.ByQueue["Customer Service"] != w.cs {
			t.Errorf("day %d = %+v, want %+v", i, d, w)
		}
	}
	// First responses 10, 30, 20, 50 min: median (20+30)/2, p90 rank ceil(3.6) = 4.
	checkStats(t, "first response", tk.FirstResponse, Stats{Count: 4, Median: f(25), P90: f(50)})
	// Resolutions 60, 120, 30, 300 min: median (60+120)/2, p90 rank 4.
	checkStats(t, "resolution", tk.Resolution, Stats{Count: 4, Median: f(90), P90: f(300)})
	wantSLA := SLA{WithTarget: 7, Met: 3, Breached: 3, BreachedLate: 1, BreachedUnanswered: 2, Pending: 1, BreachRate: 0.5}
	if tk.SLA != wantSLA {
		t.Errorf("SLA = %+v, want %+v", tk.SLA, wantSLA)
	}
	if strings.Join(sum.Queues, "|") != "Customer Service|School & Government|Abuse Reports|Corporate Sales" {
		t.Errorf("queues = %v", sum.Queues)
	}

	c := sum.Chat
	if c == nil {
		t.Fatal("no chat section")
	}
	if c.Conversations != 6 || c.Abandoned != 1 || c.Deflected != 1 || c.DeflectionRate != 0.1667 {
		t.Errorf("chat = %d chats, %d abandoned, %d deflected (%v)", c.Conversations, c.Abandoned, c.Deflected, c.DeflectionRate)
	}
	if got := []int{c.PerDay[0].Count, c.PerDay[1].Count, c.PerDay[2].Count}; got[0] != 2 || got[1] != 2 || got[2] != 2 {
		t.Errorf("chats per day = %v", got)
	}
	// Waits 30, 90, 10 s.
	checkStats(t, "chat wait", c.Wait, Stats{Count: 3, Median: f(30), P90: f(90)})
	if c.Ratings.Count != 3 || c.Ratings.Average != 3.67 || c.Ratings.Distribution != [5]int{0, 1, 0, 1, 1} {
		t.Errorf("ratings = %+v", c.Ratings)
	}
}

func checkStats(t *testing.T, name string, got, want Stats) {
	t.Helper()
	v := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	if got.Count != want.Count || v(got.Median) != v(want.Median) || v(got.P90) != v(want.P90) {
		t.Errorf("%s = {%d %v %v}, want {%d %v %v}", name, got.Count, v(got.Median), v(got.P90), want.Count, v(want.Median), v(want.P90))
	}
}

func TestSummaryQueueFilter(t *testing.T) {
	s := newSeed(t)
	q := march(time.UTC, 1, 3)
	q.Queue = "Corporate Sales"
	sum, err := s.service(time.UTC).Summary(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tickets.Created != 2 || len(sum.Tickets.ByQueue) != 1 || sum.Tickets.PerDay[1].Total != 1 {
		t.Errorf("filtered = %+v", sum.Tickets)
	}
	checkStats(t, "first response", sum.Tickets.FirstResponse, Stats{Count: 1, Median: f(20), P90: f(20)})
	if sl := sum.Tickets.SLA; sl.WithTarget != 2 || sl.Met != 1 || sl.BreachedUnanswered != 1 || sl.BreachRate != 0.5 {
		t.Errorf("filtered SLA = %+v", sl)
	}
	// The list of queues to choose from is not filtered.
	if len(sum.Queues) != 4 {
		t.Errorf("queues = %v", sum.Queues)
	}
}

// TestSummaryLocalDays checks that days are the shop's days: 23:30 in Los
// Angeles on March 1 is March 2 in UTC, but counts for March 1.
func TestSummaryLocalDays(t *testing.T) {
	s := newSeed(t)
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.W.Exec(`INSERT INTO tickets (subject, queue, inbox, requester_email, created_at, updated_at)
		VALUES ('late night', 'Night Queue', 'support@example.com', 'c@example.com', ?, ?)`,
		ts("2026-03-02T07:30:00Z"), ts("2026-03-02T07:30:00Z")); err != nil {
		t.Fatal(err)
	}
	q := march(la, 1, 1)
	q.Queue = "Night Queue"
	sum, err := s.service(la).Summary(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tickets.Created != 1 || sum.Tickets.PerDay[0].Date != "2026-03-01" || sum.Tickets.PerDay[0].Total != 1 || sum.Timezone != "America/Los_Angeles" {
		t.Errorf("summary = %+v", sum)
	}
}

func TestSummaryEmpty(t *testing.T) {
	s := newSeed(t)
	sum, err := s.service(time.UTC).Summary(context.Background(), Query{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 1, 7, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tickets.Created != 0 || len(sum.Tickets.PerDay) != 7 || sum.Tickets.FirstResponse.Median != nil ||
		sum.Tickets.SLA.BreachRate != 0 || sum.Chat.Conversations != 0 || sum.Chat.Ratings.Average != 0 {
		t.Errorf("empty summary = %+v", sum)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"first_response_minutes":{"count":0,"median":null,"p90":null}`) {
		t.Errorf("JSON = %s", b)
	}
}

func testApp(s *Service) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			return c.Status(fe.Code).JSON(fiber.Map{"error": fe.Message})
		}
		return c.Status(apperr.KindOf(err).Status()).JSON(fiber.Map{"error": apperr.PublicMessage(err)})
	}})
	h := NewHandlers(s)
	app.Get("/api/reports/summary", h.Summary)
	app.Get("/api/reports/summary.csv", h.SummaryCSV)
	return app
}

func get(t *testing.T, app *fiber.App, path string) (int, string, map[string]string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("GET", path, nil), 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), map[string]string{
		"type": resp.Header.Get("Content-Type"), "disposition": resp.Header.Get("Content-Disposition"),
	}
}

func TestHandlers(t *testing.T) {
	s := newSeed(t)
	app := testApp(s.service(time.UTC))

	st, body, _ := get(t, app, "/api/reports/summary?from=2026-03-01&to=2026-03-03")
	var sum Summary
	if err := json.Unmarshal([]byte(body), &sum); st != 200 || err != nil || sum.Tickets.Created != 8 || sum.From != "2026-03-01" {
		t.Fatalf("summary = %d %s", st, body)
	}
	st, body, _ = get(t, app, "/api/reports/summary")
	if err := json.Unmarshal([]byte(body), &sum); st != 200 || err != nil || sum.From != "2026-02-09" || sum.To != "2026-03-10" {
		t.Errorf("default range = %d %s..%s", st, sum.From, sum.To)
	}
	for _, path := range []string{
		"/api/reports/summary?from=2026-03-01",
		"/api/reports/summary?from=yesterday&to=2026-03-03",
		"/api/reports/summary?from=2026-03-03&to=2026-03-01",
		"/api/reports/summary?from=2020-01-01&to=2026-03-01",
		"/api/reports/summary.csv?from=2020-01-01&to=2026-03-01",
		"/api/reports/summary?from=2026-03-01&to=2026-03-03&queue=" + strings.Repeat("q", 201),
	} {
		st, body, _ := get(t, app, path)
		var e struct{ Error string }
		if json.Unmarshal([]byte(body), &e); st != 400 || e.Error == "" {
			t.Errorf("GET %s = %d %s, want 400 with a message", path, st, body)
		}
	}

	st, body, h := get(t, app, "/api/reports/summary.csv?from=2026-03-01&to=2026-03-03&queue=Customer%20Service")
	if st != 200 || h["type"] != "text/csv; charset=utf-8" || h["disposition"] != `attachment; filename="report-2026-03-01-to-2026-03-03.csv"` {
		t.Fatalf("csv = %d %v", st, h)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "section,date,queue,metric,value" {
		t.Errorf("header = %v", recs[0])
	}
	want := map[string]string{
		"tickets,,Customer Service,created":                       "5",
		"tickets,2026-03-03,Customer Service,created":             "2",
		"tickets,,Customer Service,first_response_minutes_median": "30",
		"tickets,,Customer Service,sla_breach_rate":               "0.5",
		"chat,,,conversations":                                    "6",
		"chat,,,ratings_5":                                        "1",
		"chat,,,wait_seconds_p90":                                 "90",
	}
	got := map[string]string{}
	for _, r := range recs[1:] {
		got[strings.Join(r[:4], ",")] = r[4]
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("csv %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestNoChatTables checks that a database without the chat migration
// reports tickets and leaves chat out.
func TestNoChatTables(t *testing.T) {
	s := newSeed(t)
	if _, err := s.db.W.Exec(`PRAGMA foreign_keys = OFF`); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"chat_offline_messages", "chat_article_opens", "chat_attachments", "chat_offers", "chat_messages", "chat_conversations"} {
		if _, err := s.db.W.Exec(`DROP TABLE ` + tbl); err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
	}
	sum, err := s.service(time.UTC).Summary(context.Background(), march(time.UTC, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Chat != nil || sum.Tickets.Created != 8 {
		t.Errorf("without chat tables: chat %v, %d tickets", sum.Chat, sum.Tickets.Created)
	}
}
