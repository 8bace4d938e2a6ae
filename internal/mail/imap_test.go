package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

type memUIDStore struct {
	mu    sync.Mutex
	state map[string][2]uint32
}

func (s *memUIDStore) LoadUID(_ context.Context, key string) (uint32, uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.state[key]
	return v[0], v[1], nil
}

func (s *memUIDStore) SaveUID(_ context.Context, key string, validity, last uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == nil {
		s.state = map[string][2]uint32{}
	}
	s.state[key] = [2]uint32{validity, last}
	return nil
}

type imapFixture struct {
	addr string
	user *imapmemserver.User
}

// startIMAP runs go-imap's in-memory server on 127.0.0.1:0 with a user
// helpdesk/pw owning INBOX and Processed. With serverTLS, it speaks
// implicit TLS.
func startIMAP(t *testing.T, serverTLS *tls.Config) *imapFixture {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("helpdesk", "pw")
	for _, mbox := range []string{"INBOX", "Processed"} {
		if err := user.Create(mbox, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       imapLogger{t},
	})
	var ln net.Listener
	var err error
	if serverTLS != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return &imapFixture{addr: ln.Addr().String(), user: user}
}

type imapLogger struct{ t *testing.T }

func (l imapLogger) Printf(format string, args ...any) { l.t.Logf("imapserver: "+format, args...) }

type literal struct {
	*bytes.Reader
	size int64
}

func (l literal) Size() int64 { return l.size }

func (f *imapFixture) appendMessage(t *testing.T, mbox string, n int) {
	t.Helper()
	raw := []byte(fmt.Sprintf("Return-Path: <customer%d@example.org>\r\nFrom: Customer %d <customer%d@example.org>\r\nTo: support@example.com\r\nSubject: Message %d\r\nMessage-ID: <imap-%d@example.org>\r\n\r\nBody of message %d.\r\n", n, n, n, n, n, n))
	if _, err := f.user.Append(mbox, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// flags returns each message's flags in mbox, by UID, read through a
// separate client.
func (f *imapFixture) flags(t *testing.T, mbox string) map[imap.UID][]imap.Flag {
	t.Helper()
	c, err := imapclient.DialInsecure(f.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("helpdesk", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(mbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	out := map[imap.UID][]imap.Flag{}
	if sel.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, sel.NumMessages), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		out[m.UID] = m.Flags
	}
	return out
}

func subjects(t *testing.T, ds []delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, Parse(d.Raw, ParseOptions{}).Subject)
	}
	return out
}

func TestPoller(t *testing.T) {
	f := startIMAP(t, nil)
	d := newDeliverer()
	store := &memUIDStore{}
	p := NewPoller(PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw", Inbox: "Support@Example.com", Logger: testLogger(t)}, d, store)
	ctx := context.Background()

	for i := 1; i <= 3; i++ {
		f.appendMessage(t, "INBOX", i)
	}
	if n, err := p.PollOnce(ctx); n != 3 || err != nil {
		t.Fatalf("first poll: %d, %v", n, err)
	}
	got := d.got()
	if !slices.Equal(subjects(t, got), []string{"Message 1", "Message 2", "Message 3"}) {
		t.Errorf("delivered %q", subjects(t, got))
	}
	if got[0].From != "customer1@example.org" || !slices.Equal(got[0].Rcpts, []string{"support@example.com"}) {
		t.Errorf("envelope from %q rcpts %q", got[0].From, got[0].Rcpts)
	}
	for uid, fl := range f.flags(t, "INBOX") {
		if !slices.Contains(fl, imap.FlagSeen) {
			t.Errorf("uid %d not \\Seen after delivery: %v", uid, fl)
		}
	}

	if n, err := p.PollOnce(ctx); n != 0 || err != nil {
		t.Fatalf("second poll: %d, %v", n, err)
	}

	f.appendMessage(t, "INBOX", 4)
	if n, err := p.PollOnce(ctx); n != 1 || err != nil {
		t.Fatalf("third poll: %d, %v", n, err)
	}
	if s := subjects(t, d.got()); len(s) != 4 || s[3] != "Message 4" {
		t.Errorf("delivered %q", s)
	}
}

func TestPollerDeliverFailureDoesNotAdvance(t *testing.T) {
	f := startIMAP(t, nil)
	d := newDeliverer()
	store := &memUIDStore{}
	p := NewPoller(PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw", Inbox: "support@example.com", Logger: testLogger(t)}, d, store)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		f.appendMessage(t, "INBOX", i)
	}

	d.failures = 1 // the first message fails once
	n, err := p.PollOnce(ctx)
	if n != 0 || err == nil {
		t.Fatalf("failing poll: %d, %v", n, err)
	}
	if _, last, _ := store.LoadUID(ctx, p.key); last != 0 {
		t.Errorf("lastUID advanced to %d past a failed delivery", last)
	}
	for uid, fl := range f.flags(t, "INBOX") {
		if slices.Contains(fl, imap.FlagSeen) {
			t.Errorf("uid %d flagged although not delivered", uid)
		}
	}

	n, err = p.PollOnce(ctx)
	if n != 3 || err != nil {
		t.Fatalf("retry: %d, %v", n, err)
	}
	if s := subjects(t, d.got()); !slices.Equal(s, []string{"Message 1", "Message 2", "Message 3"}) {
		t.Errorf("delivered %q (nothing twice, nothing lost)", s)
	}
}

func TestPollerFailureMidRound(t *testing.T) {
	f := startIMAP(t, nil)
	d := &failNth{memDeliverer: newDeliverer(), n: 2}
	store := &memUIDStore{}
	p := NewPoller(PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw", Inbox: "support@example.com", Logger: testLogger(t)}, d, store)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		f.appendMessage(t, "INBOX", i)
	}
	if n, err := p.PollOnce(ctx); n != 1 || err == nil {
		t.Fatalf("poll: %d, %v; want 1 delivered and an error", n, err)
	}
	if _, last, _ := store.LoadUID(ctx, p.key); last != 1 {
		t.Errorf("lastUID = %d, want 1", last)
	}
	if n, err := p.PollOnce(ctx); n != 2 || err != nil {
		t.Fatalf("next poll: %d, %v", n, err)
	}
	if s := subjects(t, d.got()); !slices.Equal(s, []string{"Message 1", "Message 2", "Message 3"}) {
		t.Errorf("delivered %q", s)
	}
}

// failNth fails the n-th Deliver call (1-based) once.
type failNth struct {
	*memDeliverer
	n, calls int
}

func (d *failNth) Deliver(ctx context.Context, from string, rcpts []string, raw []byte) error {
	d.calls++
	if d.calls == d.n {
		return fmt.Errorf("disk full")
	}
	return d.memDeliverer.Deliver(ctx, from, rcpts, raw)
}

func TestPollerMoveAndTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	f := startIMAP(t, serverTLS)
	d := newDeliverer()
	p := NewPoller(PollerOptions{
		Addr: f.addr, Username: "helpdesk", Password: "pw", TLS: true, TLSConfig: clientTLS,
		Inbox: "support@example.com", AfterCommit: "move:Processed", Logger: testLogger(t),
	}, d, &memUIDStore{})
	f.appendMessage(t, "INBOX", 1)
	f.appendMessage(t, "INBOX", 2)
	if n, err := p.PollOnce(context.Background()); n != 2 || err != nil {
		t.Fatalf("poll: %d, %v", n, err)
	}
	st, err := f.user.Status("Processed", &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := f.user.Status("INBOX", &imap.StatusOptions{NumMessages: true})
	if *st.NumMessages != 2 || *in.NumMessages != 0 {
		t.Errorf("Processed has %d, INBOX %d; want 2 and 0", *st.NumMessages, *in.NumMessages)
	}
	if n, err := p.PollOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("empty poll: %d, %v", n, err)
	}
}

func TestPollerUIDValidityChange(t *testing.T) {
	f := startIMAP(t, nil)
	d := newDeliverer()
	store := &memUIDStore{}
	p := NewPoller(PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw", Inbox: "support@example.com", AfterCommit: "none", Logger: testLogger(t)}, d, store)
	ctx := context.Background()
	f.appendMessage(t, "INBOX", 1)
	f.appendMessage(t, "INBOX", 2)
	if n, _ := p.PollOnce(ctx); n != 2 {
		t.Fatalf("first poll delivered %d", n)
	}
	v1, _, _ := store.LoadUID(ctx, p.key)

	// The mailbox is recreated: new UIDVALIDITY, UIDs start again at 1.
	if err := f.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := f.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	f.appendMessage(t, "INBOX", 3)
	if n, err := p.PollOnce(ctx); n != 1 || err != nil {
		t.Fatalf("poll after UIDVALIDITY change: %d, %v", n, err)
	}
	v2, last, _ := store.LoadUID(ctx, p.key)
	if v2 == v1 || last != 1 {
		t.Errorf("state validity %d→%d last %d", v1, v2, last)
	}
	if s := subjects(t, d.got()); !slices.Equal(s, []string{"Message 1", "Message 2", "Message 3"}) {
		t.Errorf("delivered %q", s)
	}
}

func TestPollerErrors(t *testing.T) {
	f := startIMAP(t, nil)
	tests := []struct {
		name string
		opts PollerOptions
		want string
	}{
		{"bad password", PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "wrong-secret", Inbox: "support@example.com"}, "login"},
		{"no such mailbox", PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw", Mailbox: "Nope", Inbox: "support@example.com"}, "select"},
		{"bad AfterCommit", PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw", AfterCommit: "delete", Inbox: "support@example.com"}, "AfterCommit"},
		{"no Inbox", PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw"}, "Inbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = testLogger(t)
			n, err := NewPoller(tt.opts, newDeliverer(), &memUIDStore{}).PollOnce(context.Background())
			if n != 0 || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%d, %v; want an error about %s", n, err, tt.want)
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("password in error: %v", err)
			}
		})
	}
}

func TestPollerRun(t *testing.T) {
	f := startIMAP(t, nil)
	d := newDeliverer()
	p := NewPoller(PollerOptions{Addr: f.addr, Username: "helpdesk", Password: "pw", Inbox: "support@example.com", Interval: 20 * time.Millisecond, Logger: testLogger(t)}, d, &memUIDStore{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	f.appendMessage(t, "INBOX", 1)
	deadline := time.Now().Add(5 * time.Second)
	for len(d.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(d.got()) != 1 {
		t.Fatalf("Run delivered %d", len(d.got()))
	}
}
