package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// MailOptions configures a mail stream.
type MailOptions struct {
	Addr        string  // SMTP host:port
	Rcpt        string  // an inbox address
	Rate        float64 // messages per second
	Connections int     // concurrent SMTP sessions; 8
	PerSession  int     // messages sent over one session before QUIT; 100 (1: a session per message)
	Total       int     // stop after this many (0: until ctx ends)
	Size        int     // approximate message size in bytes; 10 KiB (typical customer mail)
	Tag         string  // goes into Message-IDs and subjects, to tell runs apart and find their tickets
	Record      *Recorder
}

// MailMessageID is the Message-ID (without angle brackets) of the i-th
// message of the mail stream tagged tag.
func MailMessageID(tag string, i int) string {
	return fmt.Sprintf("load-%s-%d@loadgen.example", tag, i)
}

// MailSubject is the subject of the i-th message of the stream tagged tag.
// Its words "loadrun<tag>" and the order number 10000+i make each message
// findable in the ticket search.
func MailSubject(tag string, i int) string {
	return fmt.Sprintf("Question about order %d loadrun%s", 10000+i, tag)
}

// Mail sends a stream of ~Size-byte customer messages over SMTP and reports
// how many got a 250, with the latency of each transaction (MAIL FROM to
// the 250 after DATA; the session's connect and greeting are not
// counted). Sessions carry several messages, as a mail relay's do; a
// session that fails is dropped and the next message opens a new one.
// Every accepted message's Message-ID goes to o.Record and Stats.Accepted.
func Mail(ctx context.Context, o MailOptions) Stats {
	if o.Size <= 0 {
		o.Size = 10 << 10
	}
	if o.Connections <= 0 {
		o.Connections = 8
	}
	if o.PerSession <= 0 {
		o.PerSession = 100
	}
	if o.Tag == "" {
		o.Tag = NewTag()
	}
	body := fillerText(o.Size)
	col := &collector{}
	sessions := make([]smtpSession, o.Connections)
	start := time.Now()
	pace(ctx, o.Rate, o.Connections, o.Total, func(w, i int) {
		id := MailMessageID(o.Tag, i)
		from := fmt.Sprintf("customer%d@loadgen.example", i%500)
		msg := fmt.Sprintf("From: Customer %d <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			i%500, from, o.Rcpt, MailSubject(o.Tag, i), id, time.Now().Format(time.RFC1123Z), body)
		s := &sessions[w]
		t0 := time.Now()
		err := s.send(ctx, o.Addr, o.PerSession, from, o.Rcpt, []byte(msg))
		d := time.Since(t0)
		if err == nil {
			o.Record.Mail(id)
		}
		col.done(d, id, err)
	})
	for i := range sessions {
		sessions[i].quit()
	}
	return col.stats("smtp", "MAIL FROM → 250 after DATA", time.Since(start))
}

// smtpSession is one worker's SMTP connection, reused for several messages.
type smtpSession struct {
	conn net.Conn
	c    *smtp.Client
	sent int
}

// send delivers one message, opening a session first when there is none.
// On any error the session is dropped: its state is unknown.
func (s *smtpSession) send(ctx context.Context, addr string, perSession int, from, rcpt string, msg []byte) (err error) {
	if s.c == nil {
		if err := s.open(ctx, addr); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil {
			s.conn.Close()
			s.conn, s.c = nil, nil
		}
	}()
	_ = s.conn.SetDeadline(time.Now().Add(60 * time.Second))
	if err := s.c.Mail(from); err != nil {
		return fmt.Errorf("MAIL: %w", err)
	}
	if err := s.c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("RCPT: %w", err)
	}
	w, err := s.c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil { // the server's answer to the data
		return fmt.Errorf("end of DATA: %w", err)
	}
	if s.sent++; s.sent >= perSession {
		s.quit()
	}
	return nil
}

func (s *smtpSession) open(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	host, _, _ := net.SplitHostPort(addr)
	c, err := smtp.NewClient(conn, host)
	if err == nil {
		err = c.Hello("loadgen.example")
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	s.conn, s.c, s.sent = conn, c, 0
	return nil
}

// quit ends the session politely, if there is one.
func (s *smtpSession) quit() {
	if s.c == nil {
		return
	}
	_ = s.conn.SetDeadline(time.Now().Add(5 * time.Second))
	_ = s.c.Quit()
	s.conn.Close()
	s.conn, s.c = nil, nil
}

// fillerText returns about n bytes of plausible text in 72-column lines.
func fillerText(n int) string {
	words := strings.Fields("my printer says the new cartridge is empty although I installed it yesterday and the order arrived on time " +
		"could you tell me whether the high yield toner fits the same model and how long a refund takes to show on my card thanks")
	var b strings.Builder
	col := 0
	for i := 0; b.Len() < n; i++ {
		w := words[i%len(words)]
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteString(w)
		b.WriteByte(' ')
		col += len(w) + 1
	}
	return b.String()
}
