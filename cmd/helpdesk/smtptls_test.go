package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSelfSigned writes a throwaway certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: nil,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSMTPStartTLS: with a certificate configured the inbound SMTP server
// offers STARTTLS, and mail sent over it becomes a ticket.
func TestSMTPStartTLS(t *testing.T) {
	certFile, keyFile, pool := writeSelfSigned(t)
	dir := t.TempDir()
	token := newAgentToken(t, dir, "tls@shop.example", "agent")
	smtpAddr := freeAddr(t)
	ts := startServer(t, dir, nil, "--smtp-addr", smtpAddr, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile)

	c, err := smtp.Dial(smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if err := c.StartTLS(&tls.Config{ServerName: "localhost", RootCAs: pool}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := c.Mail("tina@customer.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("support@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("From: tina@customer.example\r\nTo: support@example.com\r\nSubject: Sent over TLS\r\nMessage-ID: <tls-1@customer.example>\r\n\r\nhello\r\n"))
	if err := w.Close(); err != nil {
		t.Fatalf("DATA over TLS: %v", err)
	}
	c.Quit()

	var list struct {
		Tickets []ticketJSON `json:"tickets"`
	}
	if st := (apiClient{t: t, base: ts.URL, token: token}).do("GET", "/api/tickets", nil, &list); st != 200 || len(list.Tickets) != 1 || list.Tickets[0].Subject != "Sent over TLS" {
		t.Fatalf("tickets after TLS mail: %d %+v", st, list.Tickets)
	}

	// A key without its certificate, or an unreadable one, stops the server
	// with one line naming the flag.
	for _, args := range [][]string{
		{"--smtp-tls-key", keyFile},
		{"--smtp-tls-cert", filepath.Join(t.TempDir(), "missing.pem"), "--smtp-tls-key", keyFile},
	} {
		_, _, err := runCmd(t, "", append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "--smtp-tls-cert") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v", args, err)
		}
	}
}
