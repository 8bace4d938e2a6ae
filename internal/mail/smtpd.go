package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Deliverer receives inbound mail, from the SMTP server or the IMAP poller.
type Deliverer interface {
	// Accepts reports whether rcpt (lower-cased) is one of our addresses.
	Accepts(rcpt string) bool
	// Deliver stores the message. It returns nil only once the message is
	// safely kept: the sender is then told it was delivered. An error
	// makes the sender try again later.
	Deliver(ctx context.Context, envelopeFrom string, rcpts []string, raw []byte) error
}

// SMTPOptions configures the inbound SMTP server. Zero values get the
// defaults noted.
type SMTPOptions struct {
	Domain          string        // name in the greeting and Received headers; "localhost"
	MaxMessageBytes int64         // larger messages are refused with 552 5.3.4; 25 MiB
	MaxRecipients   int           // per message; 50
	MaxLineLength   int           // longer lines end the connection; 2000
	ReadTimeout     time.Duration // per command and for the message data; 60s
	WriteTimeout    time.Duration // per reply; 60s
	MaxConnections  int           // concurrent connections; beyond, 421 and close; 100
	DeliverTimeout  time.Duration // bound on one Deliver call; 2m
	TLSConfig       *tls.Config   // STARTTLS is offered when set
	Logger          *slog.Logger  // connection-level events, never message content; slog.Default()
	Now             func() time.Time
}

// SMTPServer is the inbound MX: it accepts mail for the addresses its
// Deliverer accepts and hands each message over, answering 250 only after
// Deliver returned nil. It offers no AUTH: it is not a relay.
type SMTPServer struct {
	srv    *smtp.Server
	d      Deliverer
	log    *slog.Logger
	opts   SMTPOptions
	ctx    context.Context // ends on Close, or when Shutdown's wait gives up
	cancel context.CancelFunc
	calls  inflight // session calls into d
}

// NewSMTPServer returns a server delivering to d.
func NewSMTPServer(d Deliverer, opts SMTPOptions) *SMTPServer {
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 25 << 20
	}
	if opts.MaxRecipients <= 0 {
		opts.MaxRecipients = 50
	}
	if opts.MaxLineLength <= 0 {
		opts.MaxLineLength = 2000
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 60 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 60 * time.Second
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 100
	}
	if opts.DeliverTimeout <= 0 {
		opts.DeliverTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &SMTPServer{d: d, log: opts.Logger.With("component", "smtpd"), opts: opts}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.calls.idle = sync.NewCond(&s.calls.mu)

	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = opts.Domain
	srv.MaxMessageBytes = opts.MaxMessageBytes
	srv.MaxRecipients = opts.MaxRecipients
	srv.MaxLineLength = opts.MaxLineLength
	srv.ReadTimeout = opts.ReadTimeout
	srv.WriteTimeout = opts.WriteTimeout
	srv.TLSConfig = opts.TLSConfig
	srv.EnableSMTPUTF8 = true // the message is stored as bytes; Parse reads UTF-8 headers
	srv.ErrorLog = slogPrinter{s.log}
	s.srv = srv
	return s
}

// Serve accepts connections on ln until Close or Shutdown, at most
// MaxConnections at a time. It returns nil after Close or Shutdown.
func (s *SMTPServer) Serve(ln net.Listener) error {
	l := &limitListener{Listener: ln, sem: make(chan struct{}, s.opts.MaxConnections), s: s}
	s.log.Info("smtp server listening", "addr", ln.Addr().String(), "tls", s.opts.TLSConfig != nil)
	err := s.srv.Serve(l)
	l.wait()
	return err
}

// Close closes the listeners and every connection at once, cancels the
// context of Deliver calls in flight and waits for them to return; after
// Close the Deliverer is no longer used. A message whose delivery was cut
// short got no 250, so its sender retries.
func (s *SMTPServer) Close() error {
	s.cancel()
	err := s.srv.Close()
	s.calls.closeAndWait()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for the open ones to
// finish, until ctx ends; then it does what Close does. After Shutdown
// the Deliverer is no longer used.
func (s *SMTPServer) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	s.cancel()
	if err != nil {
		s.srv.Close() // ctx ended first: cut the connections still open
	}
	s.calls.closeAndWait()
	return err
}

// inflight counts session calls that use the Deliverer, so Close can wait
// for them; once closed, it admits no new call.
type inflight struct {
	mu     sync.Mutex
	idle   *sync.Cond
	n      int
	closed bool
}

func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inflight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		f.idle.Broadcast()
	}
}

func (f *inflight) closeAndWait() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for f.n > 0 {
		f.idle.Wait()
	}
}

func (s *SMTPServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	remote := c.Conn().RemoteAddr().String()
	_, isTLS := c.TLSConnectionState()
	s.log.Debug("smtp session", "remote", remote, "helo", c.Hostname(), "tls", isTLS)
	return &session{s: s, conn: c, remote: remote}, nil
}

// session is one SMTP conversation; go-smtp calls its methods from the
// connection's goroutine only.
type session struct {
	s      *SMTPServer
	conn   *smtp.Conn
	remote string
	from   string
	rcpts  []string
}

var (
	errNoSuchMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	errTryLater      = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary failure, please try again later"}
	errShuttingDown  = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down, please try again later"}
	errLineTooLong   = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "message has a line that is too long"}
)

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from // "" for the null reverse path: bounces must come in
	ss.rcpts = ss.rcpts[:0]
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !ss.s.calls.enter() {
		return errShuttingDown
	}
	defer ss.s.calls.leave()
	rcpt := strings.ToLower(strings.TrimSpace(to))
	if !ss.s.d.Accepts(rcpt) {
		ss.s.log.Info("smtp recipient refused", "remote", ss.remote, "rcpt", rcpt)
		return errNoSuchMailbox
	}
	for _, r := range ss.rcpts {
		if r == rcpt {
			return nil
		}
	}
	ss.rcpts = append(ss.rcpts, rcpt)
	return nil
}

// Data reads the whole message (go-smtp stops at MaxMessageBytes with 552
// 5.3.4), prepends the trace fields and hands it to the Deliverer. The
// client hears 250 only when Deliver returned nil, else 451 4.3.0, so a
// message is never acknowledged and then lost.
func (ss *session) Data(r io.Reader) error {
	if !ss.s.calls.enter() {
		return errShuttingDown
	}
	defer ss.s.calls.leave()
	body, err := io.ReadAll(r)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			ss.s.log.Info("smtp message refused", "remote", ss.remote, "reason", se.Message)
			return se // 552 5.3.4 for a message over the limit
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			// Permanent: the same message would fail the same way.
			ss.s.log.Info("smtp message refused", "remote", ss.remote, "reason", err)
			return errLineTooLong
		}
		ss.s.log.Info("smtp data aborted", "remote", ss.remote, "err", err)
		return errTryLater
	}
	raw := ss.traceHeaders(len(body))
	raw = append(raw, body...)

	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.opts.DeliverTimeout)
	defer cancel()
	start := time.Now()
	if err := ss.s.d.Deliver(ctx, ss.from, append([]string(nil), ss.rcpts...), raw); err != nil {
		ss.s.log.Error("smtp delivery failed, sender told to retry", "remote", ss.remote, "from", ss.from, "rcpts", len(ss.rcpts), "bytes", len(raw), "err", err)
		return errTryLater
	}
	ss.s.log.Info("smtp message delivered", "remote", ss.remote, "from", ss.from, "rcpts", len(ss.rcpts), "bytes", len(raw), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// traceHeaders returns the Return-Path (RFC 5321 §4.4: added at final
// delivery; <> marks a bounce) and Received fields for the message.
func (ss *session) traceHeaders(size int) []byte {
	with := "ESMTP"
	if _, ok := ss.conn.TLSConnectionState(); ok {
		with = "ESMTPS"
	}
	helo := strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '(' || r == ')' {
			return -1
		}
		return r
	}, ss.conn.Hostname())
	host, _, _ := net.SplitHostPort(ss.remote)
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", ss.from)
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s with %s; %s\r\n",
		helo, host, ss.s.opts.Domain, with, ss.s.opts.Now().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	return []byte(b.String())
}

func (ss *session) Reset() {
	ss.from = ""
	ss.rcpts = ss.rcpts[:0]
}

func (ss *session) Logout() error { return nil }

// limitListener caps concurrent connections. One over the cap is told
// "421 too busy" and closed at once, so the sending MTA retries later
// instead of waiting in the accept queue.
type limitListener struct {
	net.Listener
	sem chan struct{}
	s   *SMTPServer
	wg  sync.WaitGroup // rejections being written
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
		default:
			l.s.log.Warn("smtp connection refused: too many connections", "remote", c.RemoteAddr().String(), "max", cap(l.sem))
			// Written off the accept loop; the deadline bounds the
			// goroutine's life to a second.
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer c.Close()
				c.SetWriteDeadline(time.Now().Add(time.Second))
				fmt.Fprintf(c, "421 4.7.0 %s too many connections, try again later\r\n", l.s.opts.Domain)
			}()
		}
	}
}

func (l *limitListener) wait() { l.wg.Wait() }

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// slogPrinter adapts go-smtp's Logger to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (p slogPrinter) Println(v ...any) {
	p.log.Warn(strings.TrimSpace(fmt.Sprintln(v...)))
}
