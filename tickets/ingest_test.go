package tickets

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIngestNewTicketInRightQueue(t *testing.T) {
	tests := []struct {
		name      string
		rcpt      string
		wantQueue string
		wantInbox string
	}{
		{"support", "support@example.com", "Customer Service", "support@example.com"},
		{"case-insensitive", "Corporate@Example.COM", "Corporate Sales", "corporate@example.com"},
		{"plus address", "gov+quote-42@example.com", "School & Government", "gov@example.com"},
		{"angle brackets", "<abuse@example.com>", "Abuse Reports", "abuse@example.com"},
	}
	e := newEnv(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.ingest(testMail{From: "Ann@Customer.example", FromName: "Ann Smith", Subject: "Re: Toner smudges",
				MessageID: fmt.Sprintf("m%d@customer.example", i)}, tt.rcpt)
			if !res.Created || res.Duplicate || res.TicketID == 0 {
				t.Fatalf("Ingest = %+v, want a new ticket", res)
			}
			d := e.ticket(res.TicketID)
			if d.Queue != tt.wantQueue || d.Inbox != tt.wantInbox {
				t.Errorf("queue, inbox = %q, %q; want %q, %q", d.Queue, d.Inbox, tt.wantQueue, tt.wantInbox)
			}
			if d.Status != StatusNew || d.Priority != PriorityNormal {
				t.Errorf("status, priority = %s, %s; want new, normal", d.Status, d.Priority)
			}
			if d.Requester != (Person{Email: "ann@customer.example", Name: "Ann Smith"}) {
				t.Errorf("requester = %+v", d.Requester)
			}
			if d.Subject != "Toner smudges" {
				t.Errorf("subject = %q, want the Re: prefix removed", d.Subject)
			}
			if len(d.Messages) != 1 || d.Messages[0].Kind != KindInbound || !strings.Contains(d.Messages[0].Text, "printer") {
				t.Fatalf("messages = %+v", d.Messages)
			}
			if d.SLADueAt == nil || !d.SLADueAt.Equal(d.CreatedAt.Add(DefaultSLAFirstResponse)) {
				t.Errorf("sla_due_at = %v, want created + 4h (always open without a schedule)", d.SLADueAt)
			}
		})
	}
	// Every raw message is on disk under its digest.
	entries, err := os.ReadDir(filepath.Join(e.dir, "mail", "raw"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(tests) {
		t.Errorf("%d raw files, want %d", len(entries), len(tests))
	}
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), ".eml") || len(en.Name()) != 64+4 {
			t.Errorf("raw file %q is not <sha256>.eml", en.Name())
		}
	}
}

func TestAcceptsInboxAddresses(t *testing.T) {
	e := newEnv(t)
	for rcpt, want := range map[string]bool{
		"support@example.com":          true,
		"SUPPORT@EXAMPLE.COM":          true,
		"support+t1234@example.com":    true,
		"support+anything@example.com": true,
		"sales@example.com":            false,
		"support@example.org":          false,
		"":                             false,
	} {
		if got := e.svc.Accepts(rcpt); got != want {
			t.Errorf("Accepts(%q) = %v, want %v", rcpt, got, want)
		}
	}
}

func TestThreadByInReplyToOurReply(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	first := e.ingest(testMail{From: "ann@customer.example", Subject: "Paper jam", MessageID: "q1@customer.example"})
	reply := e.reply(agent, first.TicketID, "Please open tray 2.")
	if d := e.ticket(first.TicketID); d.Status != StatusPending {
		t.Fatalf("status after reply = %s, want pending", d.Status)
	}
	// The customer's client keeps only In-Reply-To and changes the subject.
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "another thing", MessageID: "q2@customer.example", InReplyTo: reply.MessageID})
	if res.TicketID != first.TicketID || res.Created {
		t.Fatalf("reply went to %+v, want ticket %d", res, first.TicketID)
	}
	d := e.ticket(first.TicketID)
	if d.Status != StatusOpen {
		t.Errorf("status after customer reply = %s, want open", d.Status)
	}
	if len(d.Messages) != 3 {
		t.Errorf("%d messages, want 3", len(d.Messages))
	}
	// A reply to the acknowledgement threads too (References only).
	ack := e.outbound(first.TicketID)[0]
	if ack.Kind != "ack" {
		t.Fatalf("first outbound is %s, want the ack", ack.Kind)
	}
	res = e.ingest(testMail{From: "someone@else.example", Subject: "fwd", MessageID: "q3@else.example", References: []string{"root@x", ack.MessageID}})
	if res.TicketID != first.TicketID {
		t.Errorf("reply to the ack went to %+v, want ticket %d", res, first.TicketID)
	}
}

func TestThreadBySubjectToken(t *testing.T) {
	e := newEnv(t)
	first := e.ingest(testMail{From: "ann@customer.example", Cc: "Carl <carl@customer.example>, support@example.com", Subject: "Invoice copy", MessageID: "a1@customer.example"})
	token := fmt.Sprintf("[#%d]", first.TicketID)
	tests := []struct {
		name    string
		from    string
		subject string
		same    bool
	}{
		{"requester", "ann@customer.example", "Re: " + token + " Invoice copy", true},
		{"requester in other case", "ANN@Customer.Example", "RE: AW: " + token + " Invoice copy", true},
		{"participant from Cc", "carl@customer.example", token + " one more", true},
		{"stranger", "mallory@evil.example", "Re: " + token + " Invoice copy", false},
		{"unknown ticket number", "ann@customer.example", "[#999999] hello", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.ingest(testMail{From: tt.from, Subject: tt.subject, MessageID: fmt.Sprintf("s%d@x.example", i)})
			if got := res.TicketID == first.TicketID; got != tt.same {
				t.Errorf("went to ticket %d (created %v); same ticket = %v, want %v", res.TicketID, res.Created, got, tt.same)
			}
			if !tt.same && !res.Created {
				t.Errorf("want a new ticket, got %+v", res)
			}
		})
	}
	// Our own inbox in Cc is not a participant.
	d := e.ticket(first.TicketID)
	for _, p := range d.Participants {
		if p.Email == "support@example.com" {
			t.Errorf("participants include our inbox: %+v", d.Participants)
		}
	}
	if d.Subject != "Invoice copy" {
		t.Errorf("subject = %q", d.Subject)
	}
}

func TestThreadByPlusAddress(t *testing.T) {
	e := newEnv(t)
	first := e.ingest(testMail{From: "ann@customer.example", Subject: "Cartridge", MessageID: "p1@customer.example"})
	plus := fmt.Sprintf("support+t%d@example.com", first.TicketID)
	res := e.ingest(testMail{From: "ann@customer.example", To: plus, Subject: "no token here", MessageID: "p2@customer.example"}, plus)
	if res.TicketID != first.TicketID {
		t.Errorf("requester via plus address went to %+v, want ticket %d", res, first.TicketID)
	}
	res = e.ingest(testMail{From: "eve@evil.example", To: plus, Subject: "no token here", MessageID: "p3@evil.example"}, plus)
	if res.TicketID == first.TicketID || !res.Created {
		t.Errorf("stranger via plus address went to %+v, want a new ticket", res)
	}
	if d := e.ticket(res.TicketID); d.Queue != "Customer Service" {
		t.Errorf("stranger's ticket queue = %q", d.Queue)
	}
}

func TestDuplicates(t *testing.T) {
	e := newEnv(t)
	m := testMail{From: "ann@customer.example", Subject: "Dup", MessageID: "dup1@customer.example"}
	first := e.ingest(m)
	// The same Message-ID arriving again by another path (other bytes).
	m2 := m
	m2.Headers = []string{"Received: from mx2.example by mx.example; Mon, 01 Jun 2026 10:00:05 +0000"}
	again := e.ingest(m2)
	if !again.Duplicate || again.TicketID != first.TicketID {
		t.Fatalf("same Message-ID: %+v, want duplicate of ticket %d", again, first.TicketID)
	}
	// The identical bytes (an SMTP retry).
	if res := e.ingest(m); !res.Duplicate || res.TicketID != first.TicketID {
		t.Fatalf("same bytes: %+v", res)
	}
	// Without a Message-ID, the same bytes are a duplicate, other bytes not.
	noID := testMail{From: "bo@customer.example", Subject: "No id"}
	a := e.ingest(noID)
	b := e.ingest(noID)
	if !b.Duplicate || b.TicketID != a.TicketID {
		t.Fatalf("same bytes without Message-ID: %+v, want duplicate of %d", b, a.TicketID)
	}
	noID.Body = "different body"
	if c := e.ingest(noID); c.Duplicate {
		t.Fatalf("different message without Message-ID reported as duplicate")
	}
	if n := e.count(`SELECT COUNT(*) FROM ticket_messages WHERE ticket_id = ?`, first.TicketID); n != 1 {
		t.Errorf("ticket has %d messages, want 1", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM outbound_mail WHERE ticket_id = ?`, first.TicketID); n != 1 {
		t.Errorf("ticket has %d acknowledgements, want 1", n)
	}
}

func TestAutoReplyStoredNotAnswered(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	res := e.ingest(testMail{From: "ann@customer.example", Subject: "Out of office", MessageID: "ooo1@customer.example",
		Headers: []string{"Auto-Submitted: auto-replied"}})
	if !res.Created {
		t.Fatalf("auto-reply: %+v, want stored as a ticket", res)
	}
	if n := len(e.outbound(res.TicketID)); n != 0 {
		t.Errorf("auto-reply got %d automatic answers, want 0", n)
	}
	if d := e.ticket(res.TicketID); !d.Messages[0].AutoSubmitted {
		t.Errorf("message not flagged auto_submitted")
	}
	// An out-of-office answer to our reply does not reopen a solved ticket.
	first := e.ingest(testMail{From: "cy@customer.example", Subject: "Ink", MessageID: "ink1@customer.example"})
	r := e.reply(agent, first.TicketID, "Fixed.")
	e.setStatus(agent, first.TicketID, StatusSolved)
	e.ingest(testMail{From: "cy@customer.example", Subject: "Automatic reply: Ink", MessageID: "ooo2@customer.example",
		InReplyTo: r.MessageID, Headers: []string{"Auto-Submitted: auto-replied", "X-Autoreply: yes"}})
	d := e.ticket(first.TicketID)
	if d.Status != StatusSolved || len(d.Messages) != 3 {
		t.Errorf("after auto-reply: status %s with %d messages, want solved with 3", d.Status, len(d.Messages))
	}
}

func TestLoopNotIngested(t *testing.T) {
	e := newEnv(t)
	res := e.ingest(testMail{From: "support@example.com", Subject: "[#1] Re: loop", MessageID: "loop1@example.com",
		Headers: []string{"X-Helpdesk-Loop: " + testLoopID}})
	if !res.Loop || res.TicketID != 0 || res.Duplicate {
		t.Fatalf("Ingest = %+v, want Loop with no ticket", res)
	}
	if n := e.count(`SELECT COUNT(*) FROM tickets`); n != 0 {
		t.Errorf("%d tickets, want 0", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM inbound_raw WHERE outcome = 'loop'`); n != 1 {
		t.Errorf("%d loop records, want 1", n)
	}
	// Our own message with the loop header stripped is recognized by its
	// Message-ID.
	first := e.ingest(testMail{From: "ann@customer.example", Subject: "Hi", MessageID: "h1@customer.example"})
	ack := e.outbound(first.TicketID)[0]
	res = e.ingest(testMail{From: "support@example.com", Subject: "[#1] Hi", MessageID: ack.MessageID})
	if !res.Loop {
		t.Errorf("our ack coming back: %+v, want Loop", res)
	}
	if d := e.ticket(first.TicketID); len(d.Messages) != 1 {
		t.Errorf("ticket has %d messages after the loop, want 1", len(d.Messages))
	}
}

func TestBounceMarksOutboundFailed(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	first := e.ingest(testMail{From: "ann@customer.example", Subject: "Order", MessageID: "o1@customer.example"})
	r := e.reply(agent, first.TicketID, "Shipped today.")
	if n := e.sendDue(); n != 2 {
		t.Fatalf("sent %d, want the ack and the reply", n)
	}
	dsn := "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n" +
		"To: support@example.com\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Message-ID: <bounce1@mx.customer.example>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n" +
		"--BB\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--BB\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.customer.example\r\n\r\n" +
		"Final-Recipient: rfc822; ann@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
		"--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n" +
		"From: support@example.com\r\nMessage-ID: <" + r.MessageID + ">\r\nSubject: Re: [#1] Order\r\n\r\n" +
		"--BB--\r\n"
	res := e.ingest(testMail{Raw: []byte(dsn)})
	if res.TicketID != first.TicketID {
		t.Fatalf("bounce went to %+v, want ticket %d", res, first.TicketID)
	}
	var replyOut OutboundStatus
	for _, o := range e.outbound(first.TicketID) {
		if o.MessageID == r.MessageID {
			replyOut = o
		}
	}
	if replyOut.Status != OutFailed || !strings.Contains(replyOut.LastError, "5.1.1") {
		t.Errorf("bounced reply: status %q, error %q; want failed with 5.1.1", replyOut.Status, replyOut.LastError)
	}
	d := e.ticket(first.TicketID)
	last := d.Messages[len(d.Messages)-1]
	if last.Kind != KindInbound || !last.Bounce {
		t.Errorf("bounce stored as %+v, want an inbound message flagged bounce", last)
	}
	if d.Status != StatusPending {
		t.Errorf("bounce changed status to %s", d.Status)
	}
	for _, m := range d.Messages {
		if m.ID == r.ID && m.Delivery != OutFailed {
			t.Errorf("reply delivery = %q, want failed", m.Delivery)
		}
	}
	if n := len(e.outbound(first.TicketID)); n != 2 {
		t.Errorf("%d outbound messages after the bounce, want 2 (no answer to a bounce)", n)
	}
}

func TestAcknowledgement(t *testing.T) {
	e := newEnv(t)
	res := e.ingest(testMail{From: "ann@customer.example", FromName: "Ann", Subject: "Re: Colour looks faded", MessageID: "c1@customer.example"})
	outs := e.outbound(res.TicketID)
	if len(outs) != 1 || outs[0].Kind != "ack" || outs[0].Status != OutQueued {
		t.Fatalf("outbound = %+v, want one queued ack", outs)
	}
	m := parsed(outs[0].Raw)
	token := fmt.Sprintf("[#%d]", res.TicketID)
	if m.Subject != token+" Colour looks faded" {
		t.Errorf("ack subject = %q", m.Subject)
	}
	if !m.AutoSubmitted || !m.OurLoop {
		t.Errorf("ack: AutoSubmitted %v, OurLoop %v; want both", m.AutoSubmitted, m.OurLoop)
	}
	if len(m.InReplyTo) != 1 || m.InReplyTo[0] != "c1@customer.example" {
		t.Errorf("ack In-Reply-To = %v", m.InReplyTo)
	}
	if len(m.To) != 1 || m.To[0].Address != "ann@customer.example" {
		t.Errorf("ack To = %v", m.To)
	}
	wantLink := "https://help.example.com/search?q=" + url.QueryEscape("Colour looks faded")
	for _, want := range []string{fmt.Sprintf("#%d", res.TicketID), "Hello Ann", wantLink} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("ack text lacks %q:\n%s", want, m.Text)
		}
	}
	// A follow-up message on the same ticket is not acknowledged again.
	e.ingest(testMail{From: "ann@customer.example", Subject: "Re: " + token + " Colour looks faded", MessageID: "c2@customer.example"})
	if n := len(e.outbound(res.TicketID)); n != 1 {
		t.Errorf("%d acks after a second message, want 1", n)
	}
	// Abuse reports are not acknowledged; other queues can be switched off
	// and reworded.
	abuse := e.ingest(testMail{From: "spamcop@reports.example", Subject: "Spam report", MessageID: "ab1@reports.example"}, "abuse@example.com")
	if n := len(e.outbound(abuse.TicketID)); n != 0 {
		t.Errorf("abuse report got %d acks", n)
	}
	e2 := newEnv(t, func(o *Options) {
		o.AckEnabled = map[string]bool{"Corporate Sales": false}
		o.AckText = map[string]string{"Customer Service": "Hi {{customer_name}}, ticket {{ticket_id}} in {{queue}}. {{faq_url}}"}
	})
	off := e2.ingest(testMail{From: "ann@customer.example", Subject: "Bulk order", MessageID: "b1@customer.example"}, "corporate@example.com")
	if n := len(e2.outbound(off.TicketID)); n != 0 {
		t.Errorf("ack switched off, but %d sent", n)
	}
	custom := e2.ingest(testMail{From: "ann@customer.example", Subject: "Help", MessageID: "b2@customer.example"})
	body := parsed(e2.outbound(custom.TicketID)[0].Raw).Text
	if want := fmt.Sprintf("Hi there, ticket %d in Customer Service. https://help.example.com/search?q=Help", custom.TicketID); !strings.Contains(body, want) {
		t.Errorf("custom ack = %q, want %q", body, want)
	}
	// No acknowledgement to no-reply senders.
	nr := e.ingest(testMail{From: "no-reply@shop.example", Subject: "Your order", MessageID: "nr1@shop.example"})
	if n := len(e.outbound(nr.TicketID)); n != 0 {
		t.Errorf("no-reply sender got %d acks", n)
	}
}

// TestSetAcks checks the runtime acknowledgement settings an admin saves:
// they switch an inbox's acknowledgement on or off and reword it, take
// precedence over the options, and an empty text falls back to them.
func TestSetAcks(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.AckText = map[string]string{"Corporate Sales": "Options text {{ticket_id}}"}
	})
	base, ok := e.svc.BaseAck("Corporate@Example.com")
	if !ok || !base.Enabled || base.Text != "Options text {{ticket_id}}" {
		t.Fatalf("BaseAck(corporate) = %+v, %v", base, ok)
	}
	if abuse, _ := e.svc.BaseAck("abuse@example.com"); abuse.Enabled {
		t.Error("abuse inbox acknowledged by default")
	}
	if _, ok := e.svc.BaseAck("nobody@example.com"); ok {
		t.Error("BaseAck of an address that is not an inbox")
	}

	e.svc.SetAcks(map[string]AckSetting{
		"SUPPORT@example.com":   {Enabled: true, Text: "Runtime {{ticket_id}} for {{customer_name}}"},
		"abuse@example.com":     {Enabled: true},
		"corporate@example.com": {Enabled: false, Text: "never sent"},
	})
	if got := e.svc.Acks(); len(got) != 3 || got["support@example.com"].Text == "" {
		t.Errorf("Acks() = %v", got)
	}
	sup := e.ingest(testMail{From: "ann@customer.example", FromName: "Ann", Subject: "Ink", MessageID: "ra1@customer.example"})
	if out := e.outbound(sup.TicketID); len(out) != 1 {
		t.Fatalf("support: %d acks, want 1", len(out))
	} else if body, want := parsed(out[0].Raw).Text, fmt.Sprintf("Runtime %d for Ann", sup.TicketID); !strings.Contains(body, want) {
		t.Errorf("support ack = %q, want it to contain %q", body, want)
	}
	abuse := e.ingest(testMail{From: "reporter@reports.example", Subject: "Spam", MessageID: "ra2@reports.example"}, "abuse@example.com")
	if out := e.outbound(abuse.TicketID); len(out) != 1 {
		t.Fatalf("abuse switched on: %d acks, want 1", len(out))
	} else if body := parsed(out[0].Raw).Text; !strings.Contains(body, "Thank you for contacting Abuse Reports") {
		t.Errorf("abuse ack with empty runtime text = %q, want the default text", body)
	}
	corp := e.ingest(testMail{From: "ann@customer.example", Subject: "Bulk", MessageID: "ra3@customer.example"}, "corporate@example.com")
	if n := len(e.outbound(corp.TicketID)); n != 0 {
		t.Errorf("corporate switched off: %d acks", n)
	}

	// Clearing the settings returns every inbox to its options.
	e.svc.SetAcks(nil)
	corp2 := e.ingest(testMail{From: "bea@customer.example", Subject: "Bulk again", MessageID: "ra4@customer.example"}, "corporate@example.com")
	if out := e.outbound(corp2.TicketID); len(out) != 1 || !strings.Contains(parsed(out[0].Raw).Text, fmt.Sprintf("Options text %d", corp2.TicketID)) {
		t.Errorf("corporate after SetAcks(nil): %+v", out)
	}
}

func TestAckCaps(t *testing.T) {
	e := newEnv(t)
	acks := func() int {
		return e.count(`SELECT COUNT(*) FROM outbound_mail WHERE kind = 'ack' AND rcpt_to = 'flood@customer.example'`)
	}
	n := 0
	send := func(k int) {
		for range k {
			n++
			e.ingest(testMail{From: "flood@customer.example", Subject: fmt.Sprintf("Msg %d", n), MessageID: fmt.Sprintf("f%d@customer.example", n)})
			e.clock.Advance(time.Second)
		}
	}
	send(AutoMailPer10Min + 2)
	if got := acks(); got != AutoMailPer10Min {
		t.Fatalf("%d acks in 10 minutes, want %d", got, AutoMailPer10Min)
	}
	for range 2 {
		e.clock.Advance(10 * time.Minute)
		send(AutoMailPer10Min)
	}
	if got := acks(); got != AutoMailPerHour {
		t.Fatalf("%d acks, want the hourly cap %d", got, AutoMailPerHour)
	}
	e.clock.Advance(10 * time.Minute)
	send(3)
	if got := acks(); got != AutoMailPerHour {
		t.Fatalf("%d acks after the hourly cap, want %d", got, AutoMailPerHour)
	}
	// Someone else is not affected, and the flood sender is answered again
	// an hour later.
	other := e.ingest(testMail{From: "calm@customer.example", Subject: "Hi", MessageID: "calm1@customer.example"})
	if len(e.outbound(other.TicketID)) != 1 {
		t.Errorf("another sender's ack was capped")
	}
	e.clock.Advance(time.Hour)
	send(1)
	if got := acks(); got != AutoMailPerHour+1 {
		t.Errorf("%d acks an hour later, want %d", got, AutoMailPerHour+1)
	}
	// Every message still became a ticket.
	if got := e.count(`SELECT COUNT(*) FROM tickets WHERE requester_email = 'flood@customer.example'`); got != n {
		t.Errorf("%d tickets, want %d", got, n)
	}
}

func TestCustomerReplyReopens(t *testing.T) {
	for _, st := range []Status{StatusSolved, StatusPending} {
		t.Run(string(st), func(t *testing.T) {
			e := newEnv(t)
			agent := e.agent("bob@example.com", "Bob")
			first := e.ingest(testMail{From: "ann@customer.example", Subject: "Scanner", MessageID: "sc1@customer.example"})
			e.reply(agent, first.TicketID, "Try this.")
			e.setStatus(agent, first.TicketID, st)
			e.ingest(testMail{From: "ann@customer.example", Subject: fmt.Sprintf("Re: [#%d] Scanner", first.TicketID), MessageID: "sc2@customer.example"})
			d := e.ticket(first.TicketID)
			if d.Status != StatusOpen || d.SolvedAt != nil {
				t.Errorf("after customer reply: status %s, solved_at %v; want open and cleared", d.Status, d.SolvedAt)
			}
		})
	}
}

func TestReplyToClosedOpensFollowup(t *testing.T) {
	e := newEnv(t)
	agent := e.agent("bob@example.com", "Bob")
	first := e.ingest(testMail{From: "ann@customer.example", Subject: "Warranty", MessageID: "w1@customer.example"}, "corporate@example.com")
	r := e.reply(agent, first.TicketID, "Done.")
	e.setStatus(agent, first.TicketID, StatusClosed)
	res := e.ingest(testMail{From: "ann@customer.example", Subject: fmt.Sprintf("Re: [#%d] Warranty", first.TicketID), MessageID: "w2@customer.example", InReplyTo: r.MessageID})
	if res.TicketID == first.TicketID || !res.Created {
		t.Fatalf("reply to closed ticket: %+v, want a new ticket", res)
	}
	d := e.ticket(res.TicketID)
	if d.FollowupOf == nil || *d.FollowupOf != first.TicketID {
		t.Errorf("followup_of = %v, want %d", d.FollowupOf, first.TicketID)
	}
	if d.Queue != "Corporate Sales" || d.Subject != "Warranty" || d.Status != StatusNew {
		t.Errorf("follow-up: queue %q, subject %q, status %s", d.Queue, d.Subject, d.Status)
	}
	old := e.ticket(first.TicketID)
	if old.Status != StatusClosed || len(old.Messages) != 2 {
		t.Errorf("closed ticket changed: status %s, %d messages", old.Status, len(old.Messages))
	}
	if n := len(e.outbound(res.TicketID)); n != 1 {
		t.Errorf("follow-up got %d acks, want 1", n)
	}
}

func TestIngestAttachmentsAndWarnings(t *testing.T) {
	e := newEnv(t)
	raw := "From: ann@customer.example\r\nTo: support@example.com\r\nSubject: Photos\r\nMessage-ID: <att1@customer.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"smudge.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n" +
		"--XX--\r\n"
	res := e.ingest(testMail{Raw: []byte(raw)})
	d := e.ticket(res.TicketID)
	atts := d.Messages[0].Attachments
	if len(atts) != 1 || atts[0].Filename != "smudge.png" || atts[0].ContentType != "image/png" || atts[0].Size != 8 {
		t.Fatalf("attachments = %+v", atts)
	}
	if want := fmt.Sprintf("/api/tickets/%d/attachments/%d", res.TicketID, atts[0].ID); atts[0].URL != want {
		t.Errorf("url = %q, want %q", atts[0].URL, want)
	}
	sum := sha256Hex([]byte("\x89PNG\r\n\x1a\n"))
	if _, err := os.Stat(filepath.Join(e.dir, "attachments", sum[:2], sum)); err != nil {
		t.Errorf("attachment file: %v", err)
	}

	// A message whose MIME structure is broken still becomes a ticket, with
	// the reason shown.
	broken := "From: bo@customer.example\r\nTo: support@example.com\r\nSubject: Broken\r\nMessage-ID: <br1@customer.example>\r\n" +
		"Date: the day before yesterday\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"bb\"\r\n\r\n" +
		"--bb\r\nContent-Type: text/plain\r\n\r\nno boundary at all, just text\r\n" +
		"--bb\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x%%%***!!=A\r\n--bb--\r\n"
	res = e.ingest(testMail{Raw: []byte(broken)})
	d = e.ticket(res.TicketID)
	if len(d.Messages[0].Warnings) == 0 || !strings.Contains(d.Messages[0].Text, "no boundary at all") {
		t.Errorf("broken message: warnings %q, text %q", d.Messages[0].Warnings, d.Messages[0].Text)
	}
}

func TestIngestTooLarge(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Ingest(e.ctx, []string{"support@example.com"}, "", make([]byte, MaxMessageSize+1))
	if err != ErrTooLarge {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestCleanSubject(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Toner", "Toner"},
		{"Re: Toner", "Toner"},
		{"RE: Re: Fwd: [#12] Toner", "Toner"},
		{"AW: SV: Re[3]: Toner  problems", "Toner problems"},
		{"[#12] Re: [#12] Toner", "Toner"},
		{"Returns policy", "Returns policy"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := cleanSubject(tt.in); got != tt.want {
			t.Errorf("cleanSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := replySubject(7, "Re: [#7] Re: Toner"); got != "Re: [#7] Toner" {
		t.Errorf("replySubject = %q", got)
	}
}

// FuzzCleanSubject checks cleanSubject never panics, is idempotent and
// leaves no ticket token behind.
func FuzzCleanSubject(f *testing.F) {
	for _, s := range []string{"Re: [#1] x", "RE[2]: AW: y", "[#", "Re:Re:Re:", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := cleanSubject(s)
		if cleanSubject(c) != c {
			t.Fatalf("cleanSubject not idempotent on %q: %q then %q", s, c, cleanSubject(c))
		}
		if subjectToken.MatchString(c) {
			t.Fatalf("cleanSubject(%q) = %q keeps a token", s, c)
		}
	})
}
