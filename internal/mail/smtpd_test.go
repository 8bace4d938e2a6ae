package mail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// startSMTP runs an SMTPServer on 127.0.0.1:0 until the test ends.
func startSMTP(t *testing.T, d Deliverer, opts SMTPOptions) (*SMTPServer, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.Domain == "" {
		opts.Domain = "mx.example.com"
	}
	s := NewSMTPServer(d, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

func newDeliverer() *memDeliverer {
	return &memDeliverer{accept: map[string]bool{"support@example.com": true, "corporate@example.com": true}}
}

func dialSMTP(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	return c
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

const testMessage = "From: Jane <jane@example.org>\r\nTo: support@example.com\r\nSubject: Hello\r\nMessage-ID: <m1@example.org>\r\n\r\nMy printer is broken.\r\n.leading dot line\r\n"

func TestSMTPDelivers(t *testing.T) {
	d := newDeliverer()
	_, addr := startSMTP(t, d, SMTPOptions{})
	c := dialSMTP(t, addr)
	if err := c.SendMail("jane@example.org", []string{"Support+T1042@Example.com", "corporate@example.com", "support+t1042@example.com"}, strings.NewReader(testMessage)); err != nil {
		t.Fatal(err)
	}
	got := d.got()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	g := got[0]
	if g.From != "jane@example.org" || strings.Join(g.Rcpts, ",") != "support+t1042@example.com,corporate@example.com" {
		t.Errorf("from %q rcpts %q", g.From, g.Rcpts)
	}
	if !bytes.HasSuffix(g.Raw, []byte(testMessage)) {
		t.Errorf("message changed in transit:\n%s", g.Raw)
	}
	if !bytes.HasPrefix(g.Raw, []byte("Return-Path: <jane@example.org>\r\nReceived: from client.example.org ([127.0.0.1])\r\n\tby mx.example.com with ESMTP; ")) {
		t.Errorf("trace headers:\n%s", g.Raw[:200])
	}
	m := Parse(g.Raw, ParseOptions{})
	if m.Subject != "Hello" || m.MessageID != "m1@example.org" || m.AutoSubmitted {
		t.Errorf("parsed %+v", m)
	}
}

func TestSMTPNullSenderBounce(t *testing.T) {
	d := newDeliverer()
	_, addr := startSMTP(t, d, SMTPOptions{})
	c := dialSMTP(t, addr)
	bounce := "From: MAILER-DAEMON@mx.example.net\r\nTo: support@example.com\r\nSubject: Undelivered Mail\r\n\r\n<gone@example.net>: 550 5.1.1 unknown user\r\n"
	if err := c.SendMail("", []string{"support@example.com"}, strings.NewReader(bounce)); err != nil {
		t.Fatalf("MAIL FROM:<> refused: %v", err)
	}
	got := d.got()
	if len(got) != 1 || got[0].From != "" || !bytes.HasPrefix(got[0].Raw, []byte("Return-Path: <>\r\n")) {
		t.Fatalf("got %+v", got)
	}
	if m := Parse(got[0].Raw, ParseOptions{}); !m.AutoSubmitted || m.Bounce == nil {
		t.Errorf("bounce not classified: auto=%v bounce=%v", m.AutoSubmitted, m.Bounce)
	}
}

func TestSMTPRefusals(t *testing.T) {
	t.Run("unknown recipient gets 550 5.1.1", func(t *testing.T) {
		d := newDeliverer()
		_, addr := startSMTP(t, d, SMTPOptions{})
		c := dialSMTP(t, addr)
		if err := c.Mail("jane@example.org", nil); err != nil {
			t.Fatal(err)
		}
		err := c.Rcpt("nobody@example.com", nil)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
			t.Fatalf("err = %v", err)
		}
		// The session goes on: a known recipient still works.
		if err := c.Rcpt("support@example.com", nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("too large gets 552 5.3.4", func(t *testing.T) {
		d := newDeliverer()
		_, addr := startSMTP(t, d, SMTPOptions{MaxMessageBytes: 1024})
		c := dialSMTP(t, addr)
		big := testMessage + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30)
		err := c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(big))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 552 || se.EnhancedCode != (smtp.EnhancedCode{5, 3, 4}) {
			t.Fatalf("err = %v", err)
		}
		if len(d.got()) != 0 || d.calls != 0 {
			t.Error("a too-large message reached the Deliverer")
		}
	})
	t.Run("line too long is refused for good", func(t *testing.T) {
		d := newDeliverer()
		_, addr := startSMTP(t, d, SMTPOptions{MaxLineLength: 100})
		c := dialSMTP(t, addr)
		long := testMessage + strings.Repeat("y", 500) + "\r\n"
		if err := c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(long)); smtpCode(err)/100 != 5 {
			t.Fatalf("err = %v, want 5xx", err)
		}
		if len(d.got()) != 0 {
			t.Error("delivered")
		}
	})
	t.Run("SIZE announced too large gets 552", func(t *testing.T) {
		_, addr := startSMTP(t, newDeliverer(), SMTPOptions{MaxMessageBytes: 1024})
		c := dialSMTP(t, addr)
		if err := c.Mail("jane@example.org", &smtp.MailOptions{Size: 4096}); smtpCode(err) != 552 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("Deliver failure gets 451 4.3.0 and the retry succeeds", func(t *testing.T) {
		d := newDeliverer()
		d.failures = 1
		_, addr := startSMTP(t, d, SMTPOptions{})
		c := dialSMTP(t, addr)
		err := c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(testMessage))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
			t.Fatalf("err = %v", err)
		}
		if err := c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(testMessage)); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if len(d.got()) != 1 {
			t.Errorf("%d deliveries", len(d.got()))
		}
	})
	t.Run("too many recipients", func(t *testing.T) {
		_, addr := startSMTP(t, newDeliverer(), SMTPOptions{MaxRecipients: 2})
		c := dialSMTP(t, addr)
		c.Mail("jane@example.org", nil)
		c.Rcpt("support@example.com", nil)
		c.Rcpt("corporate@example.com", nil)
		if err := c.Rcpt("support+x@example.com", nil); smtpCode(err) != 452 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no AUTH offered", func(t *testing.T) {
		serverTLS, _ := testTLS(t)
		_, addr := startSMTP(t, newDeliverer(), SMTPOptions{TLSConfig: serverTLS})
		c := dialSMTP(t, addr)
		if ok, _ := c.Extension("AUTH"); ok {
			t.Error("AUTH offered by an inbound MX")
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			t.Error("STARTTLS not offered with a TLS config")
		}
	})
}

// TestSMTPReplyOnlyAfterDeliver holds Deliver and checks the client has
// no reply to its DATA until Deliver returns.
func TestSMTPReplyOnlyAfterDeliver(t *testing.T) {
	d := newDeliverer()
	d.block = make(chan struct{})
	_, addr := startSMTP(t, d, SMTPOptions{})
	c := dialSMTP(t, addr)
	result := make(chan error, 1)
	go func() {
		result <- c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(testMessage))
	}()
	select {
	case err := <-result:
		t.Fatalf("client got its answer (%v) before Deliver returned", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(d.block)
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after Deliver returned")
	}
	if len(d.got()) != 1 {
		t.Error("not delivered")
	}
}

// TestSMTPConnectionLimit fills every slot, checks the next client is told
// 421, then frees a slot and checks a new client is served.
func TestSMTPConnectionLimit(t *testing.T) {
	_, addr := startSMTP(t, newDeliverer(), SMTPOptions{MaxConnections: 2})
	var held []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if line := readLine(t, conn); !strings.HasPrefix(line, "220 ") {
			t.Fatalf("greeting %q", line)
		}
		held = append(held, conn)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if line := readLine(t, extra); !strings.HasPrefix(line, "421 4.7.0") {
		t.Fatalf("over the limit got %q, want 421", line)
	}

	fmt.Fprintf(held[0], "QUIT\r\n")
	readLine(t, held[0])
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		line := readLine(t, conn)
		conn.Close()
		if strings.HasPrefix(line, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed, last reply %q", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readLine(t *testing.T, conn net.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := textproto.NewReader(bufio.NewReader(conn)).ReadLine()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return line
}

func TestSMTPStartTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	d := newDeliverer()
	_, addr := startSMTP(t, d, SMTPOptions{TLSConfig: serverTLS})
	c, err := smtp.DialStartTLS(addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(testMessage)); err != nil {
		t.Fatal(err)
	}
	if got := d.got(); len(got) != 1 || !bytes.Contains(got[0].Raw, []byte("with ESMTPS;")) {
		t.Errorf("got %+v", got)
	}
}

func TestSMTPShutdownWaitsForDelivery(t *testing.T) {
	d := newDeliverer()
	d.block = make(chan struct{})
	s, addr := startSMTP(t, d, SMTPOptions{})
	c := dialSMTP(t, addr)
	result := make(chan error, 1)
	go func() {
		result <- c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(testMessage))
	}()
	for d.callCount() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	close(d.block)
	if err := <-result; err != nil {
		t.Fatalf("in-flight message lost: %v", err)
	}
	c.Quit()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

func TestSMTPCloseCancelsDelivery(t *testing.T) {
	d := newDeliverer()
	d.block = make(chan struct{}) // never closed: only ctx ends Deliver
	s, addr := startSMTP(t, d, SMTPOptions{})
	c := dialSMTP(t, addr)
	result := make(chan error, 1)
	go func() {
		result <- c.SendMail("jane@example.org", []string{"support@example.com"}, strings.NewReader(testMessage))
	}()
	for d.callCount() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	s.Close()
	d.mu.Lock()
	active := d.active
	d.mu.Unlock()
	if active != 0 {
		t.Error("Close returned while Deliver was still running")
	}
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("the client was told 250 for a message that was not delivered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the session")
	}
}

func (d *memDeliverer) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}
