package mail

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Sender delivers a composed message to its recipients. envelopeFrom is
// the SMTP reverse path ("" for the null sender), to the envelope
// recipients.
type Sender interface {
	Send(ctx context.Context, envelopeFrom string, to []string, raw []byte) error
}

// PermanentError reports that the relay refused the message for good (an
// SMTP 5xx reply to RCPT or DATA, other than about authentication):
// retrying will not help. Test for it with errors.As. Every other Send
// error — network, TLS, 4xx, a refused login or sender address, which
// are fixed by configuration — is worth retrying.
type PermanentError struct {
	Code int    // SMTP reply code, 500–599
	Text string // the server's reply text
	// Recipients lists the refused recipients when the relay refused some
	// recipients but accepted the others: the message WAS delivered to
	// the others. Nil when the whole message was refused.
	Recipients []string
	Err        error
}

func (e *PermanentError) Error() string {
	if len(e.Recipients) > 0 {
		return fmt.Sprintf("mail: recipients refused (%s): %v", strings.Join(e.Recipients, ", "), e.Err)
	}
	return fmt.Sprintf("mail: message refused: %v", e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Outbox is a Sender that writes each message as a file in a folder, for
// installations without a relay and for tests: <dir>/<UTC time>-<hash>.eml.
type Outbox struct {
	dir string
	now func() time.Time
}

// NewOutbox returns an Outbox writing to dir, created (mode 0750) on the
// first Send.
func NewOutbox(dir string) *Outbox {
	return &Outbox{dir: dir, now: time.Now}
}

// Send writes raw to a new file atomically: a temporary file in the same
// folder is written and synced, then linked to its final name, which
// fails instead of replacing an existing file; the folder is synced so
// the name survives a crash. The envelope is not recorded: the file is
// the message as sent. Names sort in sending order.
func (o *Outbox) Send(ctx context.Context, envelopeFrom string, to []string, raw []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o750); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	tmp, err := os.CreateTemp(o.dir, ".outgoing-*.tmp")
	if err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after the link, or on failure
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if err := os.Chmod(tmpName, 0o640); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}

	sum := sha256.Sum256(raw)
	base := o.now().UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(sum[:6])
	for i := 0; ; i++ {
		name := base + ".eml"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.eml", base, i)
		}
		err := os.Link(tmpName, filepath.Join(o.dir, name))
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i >= 100 {
			return fmt.Errorf("mail: outbox: %w", err)
		}
	}
	return syncDir(o.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("mail: outbox: sync folder: %w", err)
	}
	return nil
}

// RelayOptions tunes a Relay.
type RelayOptions struct {
	// TLSConfig is used for STARTTLS and smtps://; nil means the system
	// roots and the URL's host name. Tests set RootCAs here.
	TLSConfig *tls.Config
	// HeloName is the name sent in EHLO; the host name when empty.
	HeloName string
	// Timeout bounds connecting and each SMTP command; 30s when zero. The
	// context given to Send bounds the whole exchange.
	Timeout time.Duration
	// AllowInsecureAuth permits sending the password over a connection
	// without TLS to a host that is not the loopback; off by default.
	AllowInsecureAuth bool
}

// Relay is a Sender through an SMTP server (a "smarthost").
type Relay struct {
	addr        string // host:port
	host        string
	implicitTLS bool
	user, pass  string
	hasAuth     bool
	redacted    string // the URL without the password, for errors
	opts        RelayOptions
}

// NewRelay returns a Relay for smtp://[user:pass@]host[:port] (port 587
// by default; STARTTLS whenever the server offers it) or
// smtps://[user:pass@]host[:port] (implicit TLS, port 465 by default).
// With credentials, AUTH PLAIN is used, and only over TLS unless the host
// is the loopback or opts.AllowInsecureAuth is set. Errors never contain
// the password.
func NewRelay(rawURL string, opts RelayOptions) (*Relay, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors repeat the URL, password included.
		return nil, errors.New("mail: relay URL does not parse as smtp://user:pass@host:port")
	}
	r := &Relay{redacted: u.Redacted(), opts: opts}
	var defaultPort string
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		defaultPort = "587"
	case "smtps":
		defaultPort, r.implicitTLS = "465", true
	default:
		return nil, fmt.Errorf("mail: relay %s: scheme must be smtp or smtps", r.redacted)
	}
	r.host = u.Hostname()
	if r.host == "" {
		return nil, fmt.Errorf("mail: relay %s: no host", r.redacted)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	r.addr = net.JoinHostPort(r.host, port)
	if u.User != nil {
		r.user = u.User.Username()
		r.pass, _ = u.User.Password()
		r.hasAuth = r.user != ""
	}
	if r.opts.Timeout <= 0 {
		r.opts.Timeout = 30 * time.Second
	}
	if r.opts.HeloName == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			r.opts.HeloName = h
		} else {
			r.opts.HeloName = "localhost"
		}
	}
	return r, nil
}

// String returns the relay URL without the password.
func (r *Relay) String() string { return r.redacted }

// Send delivers raw through the relay. A recipient the relay refuses does
// not stop delivery to the others; see PermanentError for how refusals
// are reported. A temporary failure (4xx, network, TLS) is returned as a
// plain error: retry later.
func (r *Relay) Send(ctx context.Context, envelopeFrom string, to []string, raw []byte) error {
	if len(to) == 0 {
		return ErrNoRecipients
	}
	c, release, err := r.dial(ctx)
	if err != nil {
		return fmt.Errorf("mail: relay %s: %w", r.redacted, err)
	}
	defer release()
	defer c.Close()

	if err := c.Mail(envelopeFrom, nil); err != nil {
		return r.wrap("MAIL FROM", err, nil)
	}
	var refused []string
	var lastRefusal error
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			if isPermanent(err) {
				refused = append(refused, rcpt)
				lastRefusal = err
				continue
			}
			return r.wrap("RCPT TO", err, nil)
		}
	}
	if len(refused) == len(to) {
		return r.wrap("RCPT TO", lastRefusal, nil)
	}
	w, err := c.Data()
	if err != nil {
		return r.wrap("DATA", err, nil)
	}
	if _, err := w.Write(raw); err != nil {
		w.Close()
		return r.wrap("DATA", err, nil)
	}
	if err := w.Close(); err != nil {
		return r.wrap("DATA", err, nil)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	if len(refused) > 0 {
		return r.wrap("RCPT TO", lastRefusal, refused)
	}
	return nil
}

// dial connects, upgrades to TLS when possible and authenticates. The
// returned release function must be called when done: until then, the
// end of ctx closes the connection, aborting any command in flight.
func (r *Relay) dial(ctx context.Context) (*smtp.Client, func(), error) {
	tlsConfig := r.tlsConfig()
	var conns []net.Conn // every connection opened
	var stops []func() bool
	release := func() {
		for _, stop := range stops {
			stop()
		}
	}
	connect := func() (net.Conn, error) {
		d := net.Dialer{Timeout: r.opts.Timeout}
		conn, err := d.DialContext(ctx, "tcp", r.addr)
		if err != nil {
			return nil, err
		}
		conns = append(conns, conn)
		// go-smtp reads the greeting and negotiates STARTTLS with its
		// default 5-minute timeout, before CommandTimeout can be set: the
		// context is what bounds that part.
		stops = append(stops, context.AfterFunc(ctx, func() { conn.Close() }))
		if r.implicitTLS {
			tc := tls.Client(conn, tlsConfig)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			return tc, nil
		}
		return conn, nil
	}
	fail := func(c *smtp.Client, err error) (*smtp.Client, func(), error) {
		release()
		if c != nil {
			c.Close()
		}
		for _, conn := range conns {
			conn.Close()
		}
		return nil, nil, err
	}

	conn, err := connect()
	if err != nil {
		return fail(nil, err)
	}
	var c *smtp.Client
	secure := r.implicitTLS
	if r.implicitTLS {
		c = smtp.NewClient(conn)
	} else {
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		switch {
		case err == nil:
			secure = true
		case isNoStartTLS(err):
			// The server does not offer STARTTLS: go-smtp has closed the
			// connection, so start over in plain text.
			if conn, err = connect(); err != nil {
				return fail(nil, err)
			}
			c = smtp.NewClient(conn)
		default:
			return fail(nil, fmt.Errorf("STARTTLS: %w", err))
		}
	}
	c.CommandTimeout = r.opts.Timeout
	c.SubmissionTimeout = 2 * r.opts.Timeout

	if err := c.Hello(r.opts.HeloName); err != nil {
		return fail(c, fmt.Errorf("EHLO: %w", err))
	}
	if r.hasAuth {
		if !secure && !r.opts.AllowInsecureAuth && !isLoopback(r.host) {
			return fail(c, errors.New("refusing to send credentials without TLS (the server offers no STARTTLS)"))
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return fail(c, errors.New("server does not offer AUTH"))
		}
		if err := c.Auth(sasl.NewPlainClient("", r.user, r.pass)); err != nil {
			return fail(c, fmt.Errorf("AUTH PLAIN: %w", err))
		}
	}
	return c, release, nil
}

func (r *Relay) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.opts.TLSConfig != nil {
		cfg = r.opts.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = r.host
	}
	return cfg
}

// wrap turns an SMTP error into a PermanentError for a 5xx reply, else a
// plain (temporary) error.
func (r *Relay) wrap(stage string, err error, refused []string) error {
	var se *smtp.SMTPError
	// A refused MAIL FROM is about our sender address or our account
	// (authentication, sending policy), not this message: once the
	// configuration is fixed it will go through, so it is not permanent.
	if stage != "MAIL FROM" && isPermanent(err) && errors.As(err, &se) {
		return &PermanentError{
			Code:       se.Code,
			Text:       se.Message,
			Recipients: refused,
			Err:        fmt.Errorf("relay %s: %s: %w", r.redacted, stage, err),
		}
	}
	return fmt.Errorf("mail: relay %s: %s: %w", r.redacted, stage, err)
}

// isPermanent reports a 5xx reply, except those about authentication
// (530, 534, 535, 538): they say our configuration is wrong, not the
// message, which will go through once it is fixed.
func isPermanent(err error) bool {
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code < 500 || se.Code > 599 {
		return false
	}
	switch se.Code {
	case 530, 534, 535, 538:
		return false
	}
	return true
}

// isNoStartTLS recognises go-smtp's error for a server without STARTTLS;
// go-smtp has no exported value for it.
func isNoStartTLS(err error) bool {
	var se *smtp.SMTPError
	return !errors.As(err, &se) && strings.Contains(err.Error(), "doesn't support STARTTLS")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var (
	_ Sender = (*Outbox)(nil)
	_ Sender = (*Relay)(nil)
)
