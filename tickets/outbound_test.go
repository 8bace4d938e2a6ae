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

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/mail"
)

func TestReplyEmailHeaders(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob Jones")
	first := e.ingest(testMail{From: "ann@customer.example", FromName: "Ann", Cc: "Carl <carl@customer.example>",
		Subject: "Fwd: Duplex printing", MessageID: "d1@customer.example"})
	second := e.ingest(testMail{From: "ann@customer.example", Subject: fmt.Sprintf("RE: Re: [#%d] Duplex printing", first.TicketID),
		MessageID: "d2@customer.example", InReplyTo: "d1@customer.example", References: []string{"d1@customer.example"}})
	if second.TicketID != first.TicketID {
		t.Fatalf("second message went to %d", second.TicketID)
	}
	e.sendDue() // the ack
	m, err := e.svc.Reply(e.ctx, agent, first.TicketID, ReplyInput{Text: "Hello Ann,\n\nuse <b>duplex</b> mode.", Cc: []string{"Dee <dee@customer.example>"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindOutbound || m.Delivery != OutQueued || m.MessageID == "" {
		t.Errorf("reply = %+v", m)
	}
	// Queued in the same transaction: it is there before any worker ran.
	if n := e.count(`SELECT COUNT(*) FROM outbound_mail WHERE message_id = ? AND status = 'queued'`, m.MessageID); n != 1 {
		t.Fatalf("reply not queued")
	}
	if n := e.sendDue(); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	sent := e.sender.messages()
	last := sent[len(sent)-1]
	if last.from != "support@example.com" {
		t.Errorf("envelope from = %q", last.from)
	}
	slices.Sort(last.to)
	if want := []string{"ann@customer.example", "carl@customer.example", "dee@customer.example"}; !slices.Equal(last.to, want) {
		t.Errorf("envelope to = %v, want %v", last.to, want)
	}
	p := parsed(last.raw)
	wantSubject := fmt.Sprintf("Re: [#%d] Duplex printing", first.TicketID)
	if p.Subject != wantSubject {
		t.Errorf("Subject = %q, want %q", p.Subject, wantSubject)
	}
	if p.MessageID != m.MessageID {
		t.Errorf("Message-ID = %q, want %q", p.MessageID, m.MessageID)
	}
	if !slices.Equal(p.InReplyTo, []string{"d2@customer.example"}) {
		t.Errorf("In-Reply-To = %v, want the latest customer message", p.InReplyTo)
	}
	if len(p.References) < 2 || p.References[0] != "d1@customer.example" || p.References[len(p.References)-1] != "d2@customer.example" {
		t.Errorf("References = %v, want the thread from d1 ending with d2", p.References)
	}
	if len(p.ReplyTo) != 1 || p.ReplyTo[0].Address != fmt.Sprintf("support+t%d@example.com", first.TicketID) {
		t.Errorf("Reply-To = %v", p.ReplyTo)
	}
	if p.From.Address != "support@example.com" || p.From.Name != "Bob Jones via Customer Service" {
		t.Errorf("From = %+v", p.From)
	}
	if len(p.To) != 1 || p.To[0].Address != "ann@customer.example" {
		t.Errorf("To = %v", p.To)
	}
	var cc []string
	for _, a := range p.Cc {
		cc = append(cc, a.Address)
	}
	slices.Sort(cc)
	if !slices.Equal(cc, []string{"carl@customer.example", "dee@customer.example"}) {
		t.Errorf("Cc = %v", cc)
	}
	if !p.OurLoop || p.AutoSubmitted {
		t.Errorf("OurLoop %v, AutoSubmitted %v; want our loop header and no Auto-Submitted on a person's reply", p.OurLoop, p.AutoSubmitted)
	}
	if !strings.Contains(p.Text, "use <b>duplex</b> mode.") {
		t.Errorf("text = %q", p.Text)
	}
	d := e.ticket(first.TicketID)
	if d.FirstResponseAt == nil || d.Status != StatusPending {
		t.Errorf("first_response_at %v, status %s", d.FirstResponseAt, d.Status)
	}
	lastMsg := d.Messages[len(d.Messages)-1]
	if lastMsg.Delivery != OutSent || lastMsg.AgentID == nil || *lastMsg.AgentID != agent.ID || strings.Contains(lastMsg.HTML, "<b>") {
		t.Errorf("stored reply = %+v (html must escape the text)", lastMsg)
	}

	// A second reply keeps one token and one Re:, and answers the same
	// latest customer message.
	e.clock.Advance(time.Minute)
	status := StatusSolved
	if _, err := e.svc.Reply(e.ctx, agent, first.TicketID, ReplyInput{Text: "Anything else?", Status: &status}); err != nil {
		t.Fatal(err)
	}
	e.sendDue()
	sent = e.sender.messages()
	p2 := parsed(sent[len(sent)-1].raw)
	if p2.Subject != wantSubject || !slices.Equal(p2.InReplyTo, []string{"d2@customer.example"}) {
		t.Errorf("second reply: Subject %q, In-Reply-To %v", p2.Subject, p2.InReplyTo)
	}
	if !slices.Contains(p2.References, m.MessageID) {
		t.Errorf("second reply References %v lack the first reply", p2.References)
	}
	if d := e.ticket(first.TicketID); d.Status != StatusSolved || d.SolvedAt == nil || !d.FirstResponseAt.Equal(*e.ticket(first.TicketID).FirstResponseAt) {
		t.Errorf("after solving reply: %s, solved_at %v", d.Status, d.SolvedAt)
	}
}

func TestReplyValidation(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "x", MessageID: "v1@customer.example"})
	open := StatusNew
	tests := []struct {
		name string
		id   int64
		in   ReplyInput
		kind string // apperr kind as HTTP status text
		want error
	}{
		{"empty", res.TicketID, ReplyInput{Text: "  "}, "400", nil},
		{"too long", res.TicketID, ReplyInput{Text: strings.Repeat("a", MaxTextBytes+1)}, "400", nil},
		{"both text and canned", res.TicketID, ReplyInput{Text: "hi", CannedID: 1}, "400", nil},
		{"bad cc", res.TicketID, ReplyInput{Text: "hi", Cc: []string{"not an address"}}, "400", nil},
		{"cc our inbox", res.TicketID, ReplyInput{Text: "hi", Cc: []string{"support+x@example.com"}}, "400", nil},
		{"back to new", res.TicketID, ReplyInput{Text: "hi", Status: &open}, "409", ErrTransition},
		{"unknown ticket", 424242, ReplyInput{Text: "hi"}, "404", ErrNotFound},
		{"unknown canned", res.TicketID, ReplyInput{CannedID: 77}, "404", ErrCannedNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Reply(e.ctx, agent, tt.id, tt.in)
			checkErr(t, err, tt.kind, tt.want)
		})
	}
	e.setStatus(agent, res.TicketID, StatusClosed)
	_, err := e.svc.Reply(e.ctx, agent, res.TicketID, ReplyInput{Text: "hi"})
	checkErr(t, err, "409", ErrClosed)
	if n := e.count(`SELECT COUNT(*) FROM outbound_mail WHERE kind = 'reply'`); n != 0 {
		t.Errorf("%d replies queued by failed calls", n)
	}
}

func TestOutboundRetryThenSuccess(t *testing.T) {
	e := newEnv(t)
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "Retry", MessageID: "r1@customer.example"})
	e.sender.failNext(errTemporary, errTemporary)

	if n := e.sendDue(); n != 0 {
		t.Fatalf("sent %d during the outage", n)
	}
	o := e.outbound(res.TicketID)[0]
	if o.Status != OutQueued || o.Attempts != 1 {
		t.Fatalf("after a failure: %+v", o)
	}
	if strings.Contains(o.LastError, "s3cret") || !strings.Contains(o.LastError, "connection refused") {
		t.Errorf("last_error = %q, want the cause without the password", o.LastError)
	}
	if d := o.NextAttemptAt.Sub(e.clock.Now()); d < 24*time.Second || d > 36*time.Second {
		t.Errorf("first retry in %v, want 30s ± 20%%", d)
	}
	// Not due yet: nothing happens.
	if e.sendDue(); e.sender.callCount() != 1 {
		t.Fatalf("retried before the backoff ran out")
	}
	e.clock.Advance(40 * time.Second)
	e.sendDue()
	o = e.outbound(res.TicketID)[0]
	if d := o.NextAttemptAt.Sub(e.clock.Now()); o.Attempts != 2 || d < 48*time.Second || d > 72*time.Second {
		t.Errorf("second retry: attempts %d in %v, want 2 in 60s ± 20%%", o.Attempts, d)
	}
	e.clock.Advance(2 * time.Minute)
	if n := e.sendDue(); n != 1 {
		t.Fatalf("sent %d after the outage, want 1", n)
	}
	o = e.outbound(res.TicketID)[0]
	if o.Status != OutSent || o.Attempts != 3 || o.LastError != "" {
		t.Errorf("after success: %+v", o)
	}
	if len(e.sender.messages()) != 1 {
		t.Errorf("sent %d copies", len(e.sender.messages()))
	}
}

func TestOutboundPermanentFailureStops(t *testing.T) {
	e := newEnv(t)
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "Perm", MessageID: "pf1@customer.example"})
	e.sender.failNext(fmt.Errorf("relay said: %w", &mail.PermanentError{Err: fmt.Errorf("550 5.1.1 no such user")}))
	e.sendDue()
	o := e.outbound(res.TicketID)[0]
	if o.Status != OutFailed || o.Attempts != 1 || !strings.Contains(o.LastError, "550") {
		t.Fatalf("after a permanent failure: %+v", o)
	}
	e.clock.Advance(48 * time.Hour)
	e.sendDue()
	if calls := e.sender.callCount(); calls != 1 {
		t.Errorf("Send called %d times, want no retry after a permanent failure", calls)
	}
}

func TestOutboundGivesUpAfterMaxAge(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.OutboundMaxAge = 2 * time.Hour })
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "Old", MessageID: "old1@customer.example"})
	for range 20 {
		e.sender.failNext(errTemporary)
	}
	for range 10 {
		e.sendDue()
		e.clock.Advance(time.Hour)
	}
	o := e.outbound(res.TicketID)[0]
	if o.Status != OutFailed || o.Attempts < 2 {
		t.Errorf("after %v of failures: %+v, want failed", 10*time.Hour, o)
	}
}

func TestBackoffBounds(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 8: time.Hour, 50: time.Hour} {
		for range 20 {
			d := backoff(attempts)
			if d < want*8/10 || d > want*12/10 {
				t.Errorf("backoff(%d) = %v, want %v ± 20%%", attempts, d, want)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, notWant, want string }{
		{"dial smtp://user:pa55@relay:587: refused", "pa55", "smtp://***@relay"},
		{"535 AUTH PLAIN dXNlcjpwYXNz rejected", "dXNlcjpwYXNz", "AUTH PLAIN ***"},
		{"line\r\nbreak", "\n", "line break"},
	} {
		got := redact(fmt.Errorf("%s", tt.in))
		if strings.Contains(got, tt.notWant) || !strings.Contains(got, tt.want) {
			t.Errorf("redact(%q) = %q", tt.in, got)
		}
	}
}

func TestQueuedMailSentAfterRestart(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "Restart", MessageID: "rs1@customer.example"})
	r := e.reply(agent, res.TicketID, "Queued before the crash.")
	// Simulate a crash mid-send of the ack: claimed, lease running.
	if _, ok, err := e.svc.claim(e.ctx); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process on the same database and data folder.
	sender2 := &fakeSender{}
	svc2 := e.open(func(o *Options) { o.Sender = sender2 })
	if n, err := svc2.SendDue(e.ctx); err != nil || n != 1 {
		t.Fatalf("after restart sent %d (%v), want the reply (the ack is leased)", n, err)
	}
	if got := parsed(sender2.messages()[0].raw).MessageID; got != r.MessageID {
		t.Errorf("sent %q, want the reply %q", got, r.MessageID)
	}
	// Once the dead process's lease runs out, its message is sent again
	// (at least once).
	e.clock.Advance(sendLease + time.Second)
	if n, err := svc2.SendDue(e.ctx); err != nil || n != 1 {
		t.Fatalf("after the lease ran out sent %d (%v), want the ack", n, err)
	}
	for _, o := range e.outbound(res.TicketID) {
		if o.Status != OutSent {
			t.Errorf("outbound %s is %s, want sent", o.Kind, o.Status)
		}
	}
}

func TestRunWakesOnEnqueue(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Now = time.Now
		o.PollInterval = time.Hour // only the wake-up can be fast
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	// Let the worker reach its wait before anything is queued.
	time.Sleep(50 * time.Millisecond)
	e.ingest(testMail{From: "ann@customer.example", Subject: "Wake", MessageID: "wk1@customer.example"})
	deadline := time.Now().Add(5 * time.Second)
	for len(e.sender.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("ack not sent within 5s of being queued")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestUnsendableAddress(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	// Parse keeps this address (Japanese mobile carriers issue them), but
	// it cannot be written into a message we send.
	res, err := e.svc.Ingest(e.ctx, []string{"support@example.com"}, "", testMail{From: "a..b@customer.example", Subject: "Dots", MessageID: "dots1@x"}.bytes())
	if err != nil || !res.Created {
		t.Fatalf("Ingest = %+v, %v; the message must be stored even though no ack can be sent", res, err)
	}
	if n := len(e.outbound(res.TicketID)); n != 0 {
		t.Errorf("%d acks queued", n)
	}
	_, err = e.svc.Reply(e.ctx, agent, res.TicketID, ReplyInput{Text: "hi"})
	checkErr(t, err, "409", nil)
	if !strings.Contains(apperr.PublicMessage(err), "a..b@customer.example") {
		t.Errorf("message %q does not say which address", apperr.PublicMessage(err))
	}
}

func TestOutboundPartialRefusalIsSent(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	res := e.ingest(testMail{From: "ann@customer.example", Cc: "gone@customer.example", Subject: "Partial", MessageID: "pr1@x"})
	e.sendDue() // ack
	e.reply(agent, res.TicketID, "Hello both.")
	e.sender.failNext(&mail.PermanentError{Code: 550, Text: "no such user", Recipients: []string{"gone@customer.example"}, Err: fmt.Errorf("550 no such user")})
	e.sendDue()
	o := e.outbound(res.TicketID)[1]
	if o.Status != OutSent || !strings.Contains(o.LastError, "gone@customer.example") {
		t.Errorf("partly refused reply: %+v, want sent with the refused recipient noted", o)
	}
	e.clock.Advance(time.Hour)
	e.sendDue()
	if n := e.sender.callCount(); n != 2 {
		t.Errorf("Send called %d times, want no retry", n)
	}
}

// TestRealOutbox runs the outbound path through mail.Outbox, the Sender
// used when no relay is configured.
func TestRealOutbox(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.Sender = mail.NewOutbox(filepath.Join(dir, "outbox")) })
	agent := e.agent("bob@example.com", "Bob")
	res := e.ingest(testMail{From: "ann@customer.example", FromName: "Ann Müller", Subject: "Grüße – Toner", MessageID: "ob1@x"})
	r := e.reply(agent, res.TicketID, "Hallo Ann, der Toner ist unterwegs.")
	if n := e.sendDue(); n != 2 {
		t.Fatalf("sent %d, want 2", n)
	}
	files, err := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if err != nil || len(files) != 2 {
		t.Fatalf("outbox files = %v, %v", files, err)
	}
	slices.Sort(files)
	raw, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	p := parsed(raw)
	if p.MessageID != r.MessageID || p.Subject != fmt.Sprintf("Re: [#%d] Grüße – Toner", res.TicketID) ||
		!slices.Equal(p.InReplyTo, []string{"ob1@x"}) || !strings.Contains(p.Text, "der Toner ist unterwegs") || !p.OurLoop {
		t.Errorf("outbox reply: id %q subject %q in-reply-to %v loop %v text %q", p.MessageID, p.Subject, p.InReplyTo, p.OurLoop, p.Text)
	}
	if p.To[0].Name != "Ann Müller" {
		t.Errorf("To = %+v", p.To)
	}
	// Our own reply delivered back to us is recognised and dropped.
	if res := e.ingest(testMail{Raw: raw}); !res.Loop {
		t.Errorf("our outbox message ingested: %+v", res)
	}
}
