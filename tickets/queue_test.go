package tickets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/hours"
)

func TestStatusTransitions(t *testing.T) {
	all := []Status{StatusNew, StatusOpen, StatusPending, StatusSolved, StatusClosed}
	allowed := map[Status][]Status{
		StatusNew:     {StatusNew, StatusOpen, StatusPending, StatusSolved, StatusClosed},
		StatusOpen:    {StatusOpen, StatusPending, StatusSolved, StatusClosed},
		StatusPending: {StatusOpen, StatusPending, StatusSolved, StatusClosed},
		StatusSolved:  {StatusOpen, StatusPending, StatusSolved, StatusClosed},
		StatusClosed:  {StatusClosed},
	}
	for _, from := range all {
		for _, to := range all {
			want := slices.Contains(allowed[from], to)
			if got := from.CanBecome(to); got != want {
				t.Errorf("%s -> %s allowed = %v, want %v", from, to, got, want)
			}
		}
	}
	if Status("bogus").CanBecome(StatusOpen) || StatusOpen.CanBecome("bogus") {
		t.Error("unknown statuses must not transition")
	}

	// The same rules through the service, with their errors.
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	for _, from := range all {
		for _, to := range all {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				res := e.ingest(testMail{From: "ann@customer.example", Subject: "t", MessageID: fmt.Sprintf("st-%s-%s@x", from, to)})
				if from != StatusNew {
					e.setStatus(agent, res.TicketID, from)
				}
				_, err := e.svc.Update(e.ctx, agent, res.TicketID, Patch{Status: &to})
				switch {
				case slices.Contains(allowed[from], to):
					if err != nil {
						t.Fatalf("Update: %v", err)
					}
					if got := e.ticket(res.TicketID).Status; got != to {
						t.Errorf("status = %s, want %s", got, to)
					}
				case from == StatusClosed:
					checkErr(t, err, "409", ErrClosed)
				default:
					checkErr(t, err, "409", ErrTransition)
				}
			})
		}
	}
}

func TestUpdateFields(t *testing.T) {
	e := newEnv(t)
	bob := e.agent("bob@example.com", "Bob")
	cy := e.agent("cy@example.com", "Cy")
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "Fields", MessageID: "fl1@x"})
	id := res.TicketID
	high := PriorityHigh
	tags := []string{" Billing ", "VIP customer", "billing"}
	tk, err := e.svc.Update(e.ctx, bob, id, Patch{Priority: &high, Assignee: &AssigneeRef{Email: "CY@example.com"}, Tags: &tags})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Priority != PriorityHigh || tk.Assignee == nil || tk.Assignee.ID != cy.ID || tk.Assignee.Name != "Cy" {
		t.Errorf("after patch: %+v, assignee %+v", tk, tk.Assignee)
	}
	if !slices.Equal(tk.Tags, []string{"billing", "vip-customer"}) {
		t.Errorf("tags = %v, want normalized and de-duplicated", tk.Tags)
	}
	if tk, err = e.svc.Update(e.ctx, bob, id, Patch{Assignee: &AssigneeRef{ID: bob.ID}}); err != nil || tk.Assignee.ID != bob.ID {
		t.Errorf("assign by id: %+v, %v", tk.Assignee, err)
	}
	if tk, err = e.svc.Update(e.ctx, bob, id, Patch{Assignee: &AssigneeRef{}}); err != nil || tk.Assignee != nil {
		t.Errorf("unassign: %+v, %v", tk.Assignee, err)
	}
	bad := Priority("whenever")
	for name, p := range map[string]Patch{
		"empty":            {},
		"unknown agent":    {Assignee: &AssigneeRef{Email: "nobody@example.com"}},
		"unknown id":       {Assignee: &AssigneeRef{ID: 987654}},
		"bad priority":     {Priority: &bad},
		"bad tag":          {Tags: &[]string{"no/slashes"}},
		"too many tags":    {Tags: &[]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u"}},
		"tag far too long": {Tags: &[]string{"abcdefghijabcdefghijabcdefghijabcdefghijx"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Update(e.ctx, bob, id, p)
			checkErr(t, err, "400", nil)
		})
	}
	_, err = e.svc.Update(e.ctx, bob, 999999, Patch{Priority: &high})
	checkErr(t, err, "404", ErrNotFound)

	// Notes are internal and count as activity.
	before := e.ticket(id).UpdatedAt
	e.clock.Advance(time.Minute)
	n, err := e.svc.AddNote(e.ctx, bob, id, "Customer called, see CRM.")
	if err != nil || n.Kind != KindNote {
		t.Fatalf("AddNote = %+v, %v", n, err)
	}
	d := e.ticket(id)
	if !d.UpdatedAt.After(before) || d.Messages[len(d.Messages)-1].Text != "Customer called, see CRM." {
		t.Errorf("note not stored or not counted as activity")
	}
	if len(e.outbound(id)) != 1 {
		t.Errorf("a note sent email")
	}
	_, err = e.svc.AddNote(e.ctx, bob, id, "")
	checkErr(t, err, "400", nil)
}

func TestSLADueInSupportHours(t *testing.T) {
	w, err := hours.Parse("Mon-Fri 09:00-17:00")
	if err != nil {
		t.Fatal(err)
	}
	la, err := hours.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	sched := hours.New(w, la, []hours.Date{{Year: 2026, Month: time.June, Day: 8}})
	e := newEnv(t, func(o *Options) {
		o.Schedule = sched
		o.SLAFirstResponse = map[string]time.Duration{"Corporate Sales": 8 * time.Hour}
	})
	// Friday 2026-06-05 16:00 PDT; Monday the 8th is a holiday.
	e.clock.t = time.Date(2026, time.June, 5, 16, 0, 0, 0, la)
	support := e.ingest(testMail{From: "ann@customer.example", Subject: "SLA", MessageID: "sla1@x"})
	corp := e.ingest(testMail{From: "ann@customer.example", Subject: "SLA", MessageID: "sla2@x"}, "corporate@example.com")
	for _, tt := range []struct {
		id   int64
		want time.Time
	}{
		{support.TicketID, time.Date(2026, time.June, 9, 12, 0, 0, 0, la)}, // 1h Friday + 3h Tuesday
		{corp.TicketID, time.Date(2026, time.June, 9, 16, 0, 0, 0, la)},    // 1h Friday + 7h Tuesday
	} {
		if got := e.ticket(tt.id).SLADueAt; got == nil || !got.Equal(tt.want) {
			t.Errorf("ticket %d sla_due_at = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func listAll(t *testing.T, e *env, a auth.Agent, f Filter) []Ticket {
	t.Helper()
	var out []Ticket
	seen := map[int64]bool{}
	for page := 0; ; page++ {
		p, err := e.svc.List(e.ctx, a, f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		if len(p.Tickets) > max(f.Limit, 1) && f.Limit > 0 {
			t.Fatalf("page of %d, limit %d", len(p.Tickets), f.Limit)
		}
		for _, tk := range p.Tickets {
			if seen[tk.ID] {
				t.Fatalf("ticket %d on two pages", tk.ID)
			}
			seen[tk.ID] = true
		}
		out = append(out, p.Tickets...)
		if p.NextCursor == "" {
			return out
		}
		if page > 100 {
			t.Fatal("pagination does not end")
		}
		f.Cursor = p.NextCursor
	}
}

func ids(ts []Ticket) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func TestListFiltersAndPagination(t *testing.T) {
	e := newEnv(t)
	bob := e.agent("bob@example.com", "Bob")
	cy := e.agent("cy@example.com", "Cy")
	const n = 23
	var all []int64
	for i := range n {
		rcpt := "support@example.com"
		if i%3 == 0 {
			rcpt = "corporate@example.com"
		}
		res := e.ingest(testMail{From: fmt.Sprintf("c%d@customer.example", i), Subject: fmt.Sprintf("Ticket %d", i), MessageID: fmt.Sprintf("l%d@x", i)}, rcpt)
		all = append(all, res.TicketID)
		if i%2 == 0 { // pairs share an updated_at: the id breaks the tie
			e.clock.Advance(time.Second)
		}
	}
	pending, solved := StatusPending, StatusSolved
	for i, id := range all {
		var p Patch
		switch i % 4 {
		case 1:
			p.Assignee = &AssigneeRef{ID: bob.ID}
		case 2:
			p.Assignee = &AssigneeRef{ID: cy.ID}
			p.Status = &pending
		case 3:
			p.Status = &solved
		}
		if i%5 == 0 {
			p.Tags = &[]string{"vip"}
		}
		if p != (Patch{}) {
			if _, err := e.svc.Update(e.ctx, bob, id, p); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 == 0 {
			e.clock.Advance(time.Second)
		}
	}

	everything := listAll(t, e, bob, Filter{Limit: 100})
	if len(everything) != n {
		t.Fatalf("listed %d tickets, want %d", len(everything), n)
	}
	for i := 1; i < len(everything); i++ {
		a, b := everything[i-1], everything[i]
		if a.UpdatedAt.Before(b.UpdatedAt) || (a.UpdatedAt.Equal(b.UpdatedAt) && a.ID < b.ID) {
			t.Fatalf("not newest activity first at %d: %d (%v) before %d (%v)", i, a.ID, a.UpdatedAt, b.ID, b.UpdatedAt)
		}
	}
	want := func(keep func(Ticket) bool) []int64 {
		var out []int64
		for _, tk := range everything {
			if keep(tk) {
				out = append(out, tk.ID)
			}
		}
		return out
	}
	assigned := func(a auth.Agent) func(Ticket) bool {
		return func(tk Ticket) bool { return tk.Assignee != nil && tk.Assignee.ID == a.ID }
	}
	tests := []struct {
		name string
		f    Filter
		keep func(Ticket) bool
		n    int
	}{
		{"all in pages of 5", Filter{}, func(Ticket) bool { return true }, n},
		{"queue", Filter{Queue: "Corporate Sales"}, func(tk Ticket) bool { return tk.Queue == "Corporate Sales" }, 8},
		{"one status", Filter{Statuses: []Status{StatusSolved}}, func(tk Ticket) bool { return tk.Status == StatusSolved }, 5},
		{"several statuses", Filter{Statuses: []Status{StatusNew, StatusPending}}, func(tk Ticket) bool { return tk.Status == StatusNew || tk.Status == StatusPending }, 18},
		{"assignee id", Filter{AssigneeID: bob.ID}, assigned(bob), 6},
		{"assignee email", Filter{AssigneeEmail: "CY@example.com"}, assigned(cy), 6},
		{"unassigned", Filter{Unassigned: true}, func(tk Ticket) bool { return tk.Assignee == nil }, 11},
		{"mine", Filter{Mine: true}, assigned(bob), 6},
		{"tag", Filter{Tag: "VIP"}, func(tk Ticket) bool { return slices.Contains(tk.Tags, "vip") }, 5},
		{"combined", Filter{Queue: "Customer Service", Statuses: []Status{StatusPending}}, func(tk Ticket) bool {
			return tk.Queue == "Customer Service" && tk.Status == StatusPending
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Limit = 5
			got := ids(listAll(t, e, bob, tt.f))
			w := want(tt.keep)
			if !slices.Equal(got, w) {
				t.Errorf("got %v, want %v", got, w)
			}
			if tt.n >= 0 && len(got) != tt.n {
				t.Errorf("got %d tickets, want %d", len(got), tt.n)
			}
		})
	}

	// Sorted by SLA: tickets awaiting a first response, soonest due
	// first; then answered ones. Paging gives the same order.
	for _, id := range all[:4] {
		e.reply(bob, id, "answered")
	}
	bySLA := listAll(t, e, bob, Filter{Sort: SortSLADue, Limit: 4})
	if len(bySLA) != n {
		t.Fatalf("sla sort listed %d", len(bySLA))
	}
	if one := listAll(t, e, bob, Filter{Sort: SortSLADue, Limit: 100}); !slices.Equal(ids(one), ids(bySLA)) {
		t.Errorf("sla order differs between page sizes:\n%v\n%v", ids(one), ids(bySLA))
	}
	for i := 1; i < len(bySLA); i++ {
		a, b := bySLA[i-1], bySLA[i]
		ra, rb := a.FirstResponseAt != nil, b.FirstResponseAt != nil
		if ra && !rb || (ra == rb && a.SLADueAt.After(*b.SLADueAt)) {
			t.Fatalf("sla order broken at %d: %d then %d", i, a.ID, b.ID)
		}
	}
	if got := bySLA[len(bySLA)-1].FirstResponseAt; got == nil {
		t.Errorf("answered tickets are not last")
	}

	// Bad input.
	page, _ := e.svc.List(e.ctx, bob, Filter{Limit: 2})
	for name, f := range map[string]Filter{
		"garbage cursor":          {Cursor: "!!!"},
		"cursor of another sort":  {Cursor: page.NextCursor, Sort: SortSLADue},
		"unknown sort":            {Sort: "random"},
		"unknown status":          {Statuses: []Status{"lost"}},
		"mine and unassigned":     {Mine: true, Unassigned: true},
		"assignee and unassigned": {AssigneeID: bob.ID, Unassigned: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.List(e.ctx, bob, f)
			checkErr(t, err, "400", nil)
		})
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	bob := e.agent("bob@example.com", "Bob")
	toner := e.ingest(testMail{From: "ann@customer.example", Subject: "Toner smudges on glossy paper", MessageID: "se1@x"})
	invoice := e.ingest(testMail{From: "dave@corp.example", FromName: "Dave Miller", Subject: "Invoice for March", MessageID: "se2@x", Body: "Please resend the invoice."})
	other := e.ingest(testMail{From: "erin@customer.example", Subject: "Question", MessageID: "se3@x"})
	if _, err := e.svc.Update(e.ctx, bob, other.TicketID, Patch{Tags: &[]string{"wholesale"}}); err != nil {
		t.Fatal(err)
	}
	e.reply(bob, invoice.TicketID, "The zebra invoice is attached.")
	search := func(f Filter) []int64 {
		t.Helper()
		p, err := e.svc.List(e.ctx, bob, f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		return ids(p.Tickets)
	}
	tests := []struct {
		name string
		f    Filter
		want []int64
	}{
		{"stemmed subject word", Filter{Query: "smudge"}, []int64{toner.TicketID}},
		{"all words", Filter{Query: "glossy toner"}, []int64{toner.TicketID}},
		{"words from different tickets", Filter{Query: "glossy invoice"}, nil},
		{"requester email", Filter{Query: "dave@corp.example"}, []int64{invoice.TicketID}},
		{"requester name", Filter{Query: "miller"}, []int64{invoice.TicketID}},
		{"tag", Filter{Query: "wholesale"}, []int64{other.TicketID}},
		{"agent reply text", Filter{Query: "zebra"}, []int64{invoice.TicketID}},
		{"ticket number", Filter{Query: fmt.Sprintf("#%d", other.TicketID)}, []int64{other.TicketID}},
		{"with a filter", Filter{Query: "invoice", Statuses: []Status{StatusNew}}, nil},
		{"with a matching filter", Filter{Query: "invoice", Statuses: []Status{StatusPending}}, []int64{invoice.TicketID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := search(tt.f); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	// The index is a cache: missing, it is rebuilt on start; behind the
	// database (a change it never saw), it is rebuilt too.
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.dir, "index", "tickets")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	e.svc = e.open()
	if got := search(Filter{Query: "smudge"}); !slices.Equal(got, []int64{toner.TicketID}) {
		t.Errorf("after rebuild: %v", got)
	}
	e.svc.Close()
	e.clock.Advance(time.Minute)
	if _, err := e.db.W.Exec(`UPDATE tickets SET subject = 'Stapler jammed', updated_at = ? WHERE id = ?`, fmtTime(e.clock.Now()), other.TicketID); err != nil {
		t.Fatal(err)
	}
	e.svc = e.open()
	if got := search(Filter{Query: "stapler"}); !slices.Equal(got, []int64{other.TicketID}) {
		t.Errorf("stale index not rebuilt: %v", got)
	}
	// A change made by another process is picked up by the catch-up.
	e.clock.Advance(time.Minute)
	if _, err := e.db.W.Exec(`UPDATE tickets SET subject = 'Laminator smoke', updated_at = ? WHERE id = ?`, fmtTime(e.clock.Now()), toner.TicketID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.index.catchUp(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := search(Filter{Query: "laminator"}); !slices.Equal(got, []int64{toner.TicketID}) {
		t.Errorf("catch-up missed a change: %v", got)
	}
	// Rebuild on demand keeps everything.
	var calls int
	if err := e.svc.Reindex(e.ctx, func(done, total int) { calls++ }); err != nil || calls == 0 {
		t.Fatalf("Reindex: %v (progress calls %d)", err, calls)
	}
	if got := search(Filter{Query: "zebra"}); !slices.Equal(got, []int64{invoice.TicketID}) {
		t.Errorf("after Reindex: %v", got)
	}
}

func TestCanned(t *testing.T) {
	e := newEnv(t)
	bob := e.agent("bob@example.com", "Bob Jones")
	res := e.ingest(testMail{From: "ann@customer.example", FromName: "Ann Lee", Subject: "Canned", MessageID: "cn1@x"})
	title, body := "Greeting", "Hi {{customer_name}},\n\nabout #{{ticket_id}}: {{unknown}} {{ticket_id}}\n\n{{agent_name}}"
	c, err := e.svc.CreateCanned(e.ctx, bob, CannedInput{Title: &title, Body: &body})
	if err != nil {
		t.Fatal(err)
	}
	text, err := e.svc.RenderCanned(e.ctx, bob, res.TicketID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Hi Ann Lee,\n\nabout #%d: {{unknown}} %d\n\nBob Jones", res.TicketID, res.TicketID)
	if text != want {
		t.Errorf("rendered %q, want %q", text, want)
	}
	m, err := e.svc.Reply(e.ctx, bob, res.TicketID, ReplyInput{CannedID: c.ID})
	if err != nil || m.Text != want {
		t.Fatalf("reply with canned: %q, %v", m.Text, err)
	}
	// Substitution is plain: a customer name that looks like a placeholder
	// or template code stays text.
	evil := e.ingest(testMail{From: "x@customer.example", FromName: "{{agent_name}} {{.}}", Subject: "E", MessageID: "cn2@x"})
	if text, _ := e.svc.RenderCanned(e.ctx, bob, evil.TicketID, c.ID); !strings.HasPrefix(text, "Hi {{agent_name}} {{.}},") {
		t.Errorf("placeholder in a name was expanded: %q", text)
	}
	newBody := "Thanks, {{agent_name}}"
	if c, err = e.svc.UpdateCanned(e.ctx, c.ID, CannedInput{Body: &newBody}); err != nil || c.Body != newBody || c.Title != title {
		t.Errorf("update: %+v, %v", c, err)
	}
	list, err := e.svc.ListCanned(e.ctx)
	if err != nil || len(list) != 1 {
		t.Errorf("list: %+v, %v", list, err)
	}
	if err := e.svc.DeleteCanned(e.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	checkErr(t, e.svc.DeleteCanned(e.ctx, c.ID), "404", ErrCannedNotFound)
	_, err = e.svc.RenderCanned(e.ctx, bob, res.TicketID, c.ID)
	checkErr(t, err, "404", ErrCannedNotFound)
	empty := ""
	_, err = e.svc.CreateCanned(e.ctx, bob, CannedInput{Title: &empty, Body: &body})
	checkErr(t, err, "400", nil)
}

func TestMemoryViewers(t *testing.T) {
	clk := newClock(time.Date(2026, time.June, 1, 10, 0, 0, 0, time.UTC))
	v := NewMemoryViewers(clk.Now)
	ctx := context.Background()
	touch := func(agent int64, activity string) {
		t.Helper()
		if err := v.Touch(ctx, 1, Viewer{AgentID: agent, Name: fmt.Sprint("agent ", agent), Activity: activity}); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []Viewer {
		t.Helper()
		vs, err := v.List(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	touch(1, ActivityViewing)
	clk.Advance(time.Second)
	touch(2, ActivityReplying)
	vs := list()
	if len(vs) != 2 || vs[0].AgentID != 1 || vs[1].Activity != ActivityReplying {
		t.Fatalf("viewers = %+v", vs)
	}
	since := vs[1].Since
	// Reloading the ticket (no activity) keeps "replying" and its start.
	clk.Advance(20 * time.Second)
	touch(2, "")
	if vs := list(); vs[1].Activity != ActivityReplying || !vs[1].Since.Equal(since) {
		t.Errorf("after a reload: %+v", vs[1])
	}
	// Agent 1 went away 31 s ago.
	clk.Advance(11 * time.Second)
	if vs := list(); len(vs) != 1 || vs[0].AgentID != 2 {
		t.Errorf("after expiry: %+v", vs)
	}
	clk.Advance(ViewerTTL)
	if vs := list(); len(vs) != 0 {
		t.Errorf("after everyone left: %+v", vs)
	}
	if err := v.Touch(ctx, 1, Viewer{AgentID: 1, Activity: "typing"}); err == nil {
		t.Error("unknown activity accepted")
	}

	// Through the service: GET records the caller, who does not see
	// themself.
	e := newEnv(t)
	bob, cy := e.agent("bob@example.com", "Bob"), e.agent("cy@example.com", "Cy")
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "V", MessageID: "vw1@x"})
	if _, err := e.svc.SetViewing(e.ctx, cy, res.TicketID, ActivityReplying); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.Get(e.ctx, bob, res.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Viewers) != 1 || d.Viewers[0].AgentID != cy.ID || d.Viewers[0].Activity != ActivityReplying || d.Viewers[0].Name != "Cy" {
		t.Errorf("bob sees %+v", d.Viewers)
	}
	others, err := e.svc.SetViewing(e.ctx, cy, res.TicketID, ActivityViewing)
	if err != nil || len(others) != 1 || others[0].AgentID != bob.ID {
		t.Errorf("cy sees %+v, %v", others, err)
	}
	_, err = e.svc.SetViewing(e.ctx, cy, 424242, ActivityViewing)
	checkErr(t, err, "404", ErrNotFound)
}
