package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testTLS returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and localhost, and a client config trusting it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "helpdesk test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// testLogger logs through t until the test ends. Library goroutines
// (go-smtp's connection handlers, which its Close does not wait for) may
// still log an error after that; those lines are dropped.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// relayServer is a go-smtp server standing in for a smarthost: it records
// what it receives and refuses what it is told to.
type relayServer struct {
	Addr     string
	mu       sync.Mutex
	received []relayMessage
	authed   []string // usernames that authenticated
	user     string
	pass     string
	// rcptCodes maps a recipient to the SMTP code to refuse it with.
	rcptCodes map[string]int
	dataCode  int // refuse DATA with this code when non-zero
}

type relayMessage struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	Auth string
}

type relayMode int

const (
	relayPlain relayMode = iota
	relayStartTLS
	relayImplicitTLS
)

func startRelayServer(t testing.TB, mode relayMode, serverTLS *tls.Config, user, pass string) *relayServer {
	t.Helper()
	rs := &relayServer{user: user, pass: pass, rcptCodes: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &relaySession{rs: rs, conn: c}, nil
	}))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slogPrinter{testLogger(t)}
	var ln net.Listener
	var err error
	switch mode {
	case relayImplicitTLS:
		ln, err = tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	default:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if mode == relayStartTLS {
			srv.TLSConfig = serverTLS
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	rs.Addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return rs
}

func (rs *relayServer) messages() []relayMessage {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]relayMessage(nil), rs.received...)
}

type relaySession struct {
	rs   *relayServer
	conn *smtp.Conn
	msg  relayMessage
}

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *relaySession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.rs.user || password != s.rs.pass {
			return errors.New("invalid credentials")
		}
		s.msg.Auth = username
		return nil
	}), nil
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.rs.user != "" && s.msg.Auth == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code := s.rs.rcptCodes[to]; code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "refused by test"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.rs.dataCode != 0 {
		return &smtp.SMTPError{Code: s.rs.dataCode, EnhancedCode: smtp.EnhancedCode{s.rs.dataCode / 100, 0, 0}, Message: "data refused by test"}
	}
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.msg.Data = b
	s.rs.mu.Lock()
	s.rs.received = append(s.rs.received, s.msg)
	s.rs.mu.Unlock()
	auth := s.msg.Auth
	s.msg = relayMessage{Auth: auth}
	return nil
}

func (s *relaySession) Reset() {
	auth := s.msg.Auth
	s.msg = relayMessage{Auth: auth}
}

func (s *relaySession) Logout() error { return nil }

// memDeliverer is a Deliverer keeping messages in memory; failures makes
// Deliver fail that many times first.
type memDeliverer struct {
	mu        sync.Mutex
	accept    map[string]bool
	delivered []delivery
	failures  int
	block     chan struct{} // when set, Deliver waits for it (or ctx)
	calls     int
	active    int // Deliver calls running now
}

type delivery struct {
	From  string
	Rcpts []string
	Raw   []byte
}

func (d *memDeliverer) Accepts(rcpt string) bool {
	base, _ := SplitPlus(rcpt)
	return d.accept[base]
}

func (d *memDeliverer) Deliver(ctx context.Context, from string, rcpts []string, raw []byte) error {
	d.mu.Lock()
	d.calls++
	d.active++
	defer func() {
		d.mu.Lock()
		d.active--
		d.mu.Unlock()
	}()
	block := d.block
	if d.failures > 0 {
		d.failures--
		d.mu.Unlock()
		return errors.New("database is locked")
	}
	d.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delivered = append(d.delivered, delivery{from, rcpts, append([]byte(nil), raw...)})
	return nil
}

func (d *memDeliverer) got() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery(nil), d.delivered...)
}
