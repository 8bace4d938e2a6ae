package tickets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/mail"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

const testLoopID = "test-install-1"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeSender records what it is asked to send. Errors queued with failNext
// are returned by the next calls, in order.
type fakeSender struct {
	mu    sync.Mutex
	sent  []sentMail
	calls int
	errs  []error
}

type sentMail struct {
	from string
	to   []string
	raw  []byte
}

func (f *fakeSender) Send(ctx context.Context, from string, to []string, raw []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return err
		}
	}
	f.sent = append(f.sent, sentMail{from: from, to: append([]string(nil), to...), raw: append([]byte(nil), raw...)})
	return nil
}

func (f *fakeSender) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, errs...)
}

func (f *fakeSender) messages() []sentMail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMail(nil), f.sent...)
}

func (f *fakeSender) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func defaultInboxes() []Inbox {
	return []Inbox{
		{Address: "support@example.com", Queue: "Customer Service"},
		{Address: "corporate@example.com", Queue: "Corporate Sales"},
		{Address: "gov@example.com", Queue: "School & Government"},
		{Address: "abuse@example.com", Queue: "Abuse Reports"},
	}
}

// env is one service under test with its database, clock and sender.
type env struct {
	t      testing.TB
	dir    string
	db     *sqlitedb.DB
	svc    *Service
	clock  *clock
	sender *fakeSender
	ctx    context.Context
}

// newEnv opens a fresh database in a temp folder and a Service on it. The
// clock starts on Monday 2026-06-01 10:00 UTC. edit may change the options.
func newEnv(t testing.TB, edit ...func(*Options)) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(dir, "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, dir: dir, db: db, clock: newClock(time.Date(2026, time.June, 1, 10, 0, 0, 0, time.UTC)), sender: &fakeSender{}, ctx: context.Background()}
	e.svc = e.open(edit...)
	return e
}

// open starts a(nother) Service on the env's database and data folder.
func (e *env) open(edit ...func(*Options)) *Service {
	e.t.Helper()
	opts := Options{
		Inboxes:   defaultInboxes(),
		DataDir:   e.dir,
		PublicURL: "https://help.example.com",
		LoopID:    testLoopID,
		Sender:    e.sender,
		Now:       e.clock.Now,
	}
	for _, f := range edit {
		f(&opts)
	}
	svc, err := New(e.db, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { svc.Close() })
	return svc
}

// agent creates an agent account directly in the auth table.
func (e *env) agent(email, name string) auth.Agent {
	e.t.Helper()
	now := fmtTime(e.clock.Now())
	res, err := e.db.W.Exec(`INSERT INTO agents (email, name, role, active, password_hash, created_at, updated_at)
		VALUES (?, ?, 'agent', 1, 'x', ?, ?)`, email, name, now, now)
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return auth.Agent{ID: id, Email: email, Name: name, Role: auth.RoleAgent, Active: true}
}

// ingest delivers m to rcpts and fails the test on error.
func (e *env) ingest(m testMail, rcpts ...string) Result {
	e.t.Helper()
	if len(rcpts) == 0 {
		rcpts = []string{"support@example.com"}
	}
	res, err := e.svc.Ingest(e.ctx, rcpts, m.From, m.bytes())
	if err != nil {
		e.t.Fatalf("Ingest: %v", err)
	}
	return res
}

func (e *env) ticket(id int64) Detail {
	e.t.Helper()
	d, err := e.svc.Get(e.ctx, auth.Agent{ID: 999999, Name: "test"}, id)
	if err != nil {
		e.t.Fatalf("Get(%d): %v", id, err)
	}
	return d
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.R.QueryRow(query, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// outbound returns the ticket's outbound mail.
func (e *env) outbound(ticketID int64) []OutboundStatus {
	e.t.Helper()
	out, err := e.svc.Outbound(e.ctx, ticketID)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) sendDue() int {
	e.t.Helper()
	n, err := e.svc.SendDue(e.ctx)
	if err != nil {
		e.t.Fatalf("SendDue: %v", err)
	}
	return n
}

func (e *env) reply(a auth.Agent, id int64, text string) Message {
	e.t.Helper()
	m, err := e.svc.Reply(e.ctx, a, id, ReplyInput{Text: text})
	if err != nil {
		e.t.Fatalf("Reply: %v", err)
	}
	return m
}

func (e *env) setStatus(a auth.Agent, id int64, st Status) {
	e.t.Helper()
	if _, err := e.svc.Update(e.ctx, a, id, Patch{Status: &st}); err != nil {
		e.t.Fatalf("Update status %s: %v", st, err)
	}
}

// testMail is an inbound email built for a test.
type testMail struct {
	From       string // address
	FromName   string
	To         string
	Cc         string
	Subject    string
	MessageID  string // without brackets; "" leaves the header out
	InReplyTo  string
	References []string
	Headers    []string // extra header lines
	Body       string
	Raw        []byte // used as is when set
}

func (m testMail) bytes() []byte {
	if m.Raw != nil {
		return m.Raw
	}
	var b strings.Builder
	from := "<" + m.From + ">"
	if m.FromName != "" {
		from = fmt.Sprintf("%q %s", m.FromName, from)
	}
	fmt.Fprintf(&b, "From: %s\r\n", from)
	to := m.To
	if to == "" {
		to = "support@example.com"
	}
	fmt.Fprintf(&b, "To: %s\r\n", to)
	if m.Cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", m.Cc)
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", m.Subject)
	fmt.Fprintf(&b, "Date: Mon, 01 Jun 2026 10:00:00 +0000\r\n")
	if m.MessageID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", m.MessageID)
	}
	if m.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\n", m.InReplyTo)
	}
	if len(m.References) > 0 {
		fmt.Fprintf(&b, "References: <%s>\r\n", strings.Join(m.References, "> <"))
	}
	for _, h := range m.Headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	body := m.Body
	if body == "" {
		body = "Hello, my printer needs help.\r\n"
	}
	b.WriteString(body)
	return []byte(b.String())
}

// parsed returns the parsed form of raw outbound mail.
func parsed(raw []byte) *mail.Message {
	return mail.Parse(raw, mail.ParseOptions{LoopID: testLoopID})
}

var errTemporary = errors.New("dial tcp smtp://relayuser:s3cret@relay.example.net:587: connection refused")

// checkErr fails unless err has the HTTP status of its apperr kind and, when
// want is set, matches want with errors.Is.
func checkErr(t *testing.T, err error, status string, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want a %s error", status)
	}
	if got := strconv.Itoa(apperr.KindOf(err).Status()); got != status {
		t.Errorf("err = %v (status %s), want status %s", err, got, status)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("err = %v, want it to match %v", err, want)
	}
}

// agent2 is an acting agent that need not exist in the database (reads
// only).
func (e *env) agent2() auth.Agent { return auth.Agent{ID: 424242, Name: "Reader"} }
