package mail

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func composeTest(t *testing.T) ([]byte, string) {
	t.Helper()
	raw, id, err := Compose(testOutgoing(), ComposeOptions{Domain: "helpdesk.example.com", LoopID: testLoopID, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return raw, id
}

func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "outbox")
	o := NewOutbox(dir)
	o.now = fixedNow // every file gets the same timestamp: names must still differ
	raw, id := composeTest(t)

	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := o.Send(context.Background(), "support@example.com", []string{"mobrien@contoso-legal.com"}, raw); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o750 {
		t.Errorf("outbox folder mode %o, want 750", perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 10 {
		t.Fatalf("%d files, want 10 (no overwrite, no temp files left): %v", len(entries), entries)
	}
	name := regexp.MustCompile(`^20260303T174501\.000000000Z-[0-9a-f]{12}(-\d+)?\.eml$`)
	for _, e := range entries {
		if !name.MatchString(e.Name()) {
			t.Errorf("file name %q", e.Name())
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, raw) {
			t.Errorf("%s differs from the message sent", e.Name())
		}
		if m := Parse(data, ParseOptions{LoopID: testLoopID}); m.MessageID != id || !m.OurLoop {
			t.Errorf("%s parses as %q loop=%v", e.Name(), m.MessageID, m.OurLoop)
		}
	}
}

func TestOutboxCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewOutbox(dir).Send(ctx, "", []string{"a@example.org"}, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestRelaySend(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	tests := []struct {
		name    string
		mode    relayMode
		scheme  string
		user    string
		pass    string
		wantTLS bool
	}{
		{"plain, no STARTTLS offered, no auth", relayPlain, "smtp", "", "", false},
		{"plain with AUTH on loopback", relayPlain, "smtp", "helpdesk", "s3cret", false},
		{"STARTTLS with AUTH", relayStartTLS, "smtp", "helpdesk", "p@ss:w/rd", true},
		{"implicit TLS with AUTH", relayImplicitTLS, "smtps", "helpdesk", "s3cret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := startRelayServer(t, tt.mode, serverTLS, tt.user, tt.pass)
			u := tt.scheme + "://" + rs.Addr
			if tt.user != "" {
				u = tt.scheme + "://" + tt.user + ":" + escapePass(tt.pass) + "@" + rs.Addr
			}
			r, err := NewRelay(u, RelayOptions{TLSConfig: clientTLS, HeloName: "helpdesk.example.com", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := composeTest(t)
			to := []string{"mobrien@contoso-legal.com", "zazolc@example.pl"}
			if err := r.Send(context.Background(), "support@example.com", to, raw); err != nil {
				t.Fatal(err)
			}
			got := rs.messages()
			if len(got) != 1 {
				t.Fatalf("relay received %d messages", len(got))
			}
			m := got[0]
			if m.From != "support@example.com" || !reflect.DeepEqual(m.To, to) || !bytes.Equal(m.Data, raw) {
				t.Errorf("received from %q to %q, %d bytes (want %d)", m.From, m.To, len(m.Data), len(raw))
			}
			if m.TLS != tt.wantTLS || m.Auth != tt.user {
				t.Errorf("tls=%v auth=%q, want tls=%v auth=%q", m.TLS, m.Auth, tt.wantTLS, tt.user)
			}
		})
	}
}

func escapePass(p string) string {
	return strings.NewReplacer("@", "%40", ":", "%3A", "/", "%2F").Replace(p)
}

func TestRelayErrors(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	raw, _ := composeTest(t)
	const secret = "hunter2-very-secret"

	t.Run("5xx for every recipient is permanent", func(t *testing.T) {
		rs := startRelayServer(t, relayPlain, nil, "", "")
		rs.rcptCodes["gone@example.org"] = 550
		r, _ := NewRelay("smtp://"+rs.Addr, RelayOptions{})
		err := r.Send(context.Background(), "support@example.com", []string{"gone@example.org"}, raw)
		var pe *PermanentError
		if !errors.As(err, &pe) || pe.Code != 550 || pe.Recipients != nil {
			t.Fatalf("err = %#v, want a whole-message PermanentError 550", err)
		}
		if len(rs.messages()) != 0 {
			t.Error("message delivered anyway")
		}
	})
	t.Run("one recipient refused, the other delivered", func(t *testing.T) {
		rs := startRelayServer(t, relayPlain, nil, "", "")
		rs.rcptCodes["gone@example.org"] = 550
		r, _ := NewRelay("smtp://"+rs.Addr, RelayOptions{})
		err := r.Send(context.Background(), "support@example.com", []string{"gone@example.org", "ok@example.org"}, raw)
		var pe *PermanentError
		if !errors.As(err, &pe) || !reflect.DeepEqual(pe.Recipients, []string{"gone@example.org"}) {
			t.Fatalf("err = %v, want PermanentError for gone@example.org", err)
		}
		if got := rs.messages(); len(got) != 1 || !reflect.DeepEqual(got[0].To, []string{"ok@example.org"}) {
			t.Errorf("received %+v", got)
		}
	})
	t.Run("4xx is temporary", func(t *testing.T) {
		rs := startRelayServer(t, relayPlain, nil, "", "")
		rs.rcptCodes["busy@example.org"] = 451
		r, _ := NewRelay("smtp://"+rs.Addr, RelayOptions{})
		err := r.Send(context.Background(), "support@example.com", []string{"busy@example.org"}, raw)
		var pe *PermanentError
		if err == nil || errors.As(err, &pe) {
			t.Fatalf("err = %v, want a temporary error", err)
		}
	})
	t.Run("authentication required is not permanent", func(t *testing.T) {
		rs := startRelayServer(t, relayPlain, nil, "needs", "auth") // refuses MAIL with 502/530 without AUTH
		r, _ := NewRelay("smtp://"+rs.Addr, RelayOptions{})
		err := r.Send(context.Background(), "support@example.com", []string{"a@example.org"}, raw)
		var pe *PermanentError
		if err == nil || errors.As(err, &pe) {
			t.Fatalf("err = %v, want a temporary error", err)
		}
	})
	t.Run("DATA refused with 554 is permanent", func(t *testing.T) {
		rs := startRelayServer(t, relayPlain, nil, "", "")
		rs.dataCode = 554
		r, _ := NewRelay("smtp://"+rs.Addr, RelayOptions{})
		var pe *PermanentError
		if err := r.Send(context.Background(), "support@example.com", []string{"a@example.org"}, raw); !errors.As(err, &pe) || pe.Code != 554 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong password: temporary, password not in the error", func(t *testing.T) {
		rs := startRelayServer(t, relayStartTLS, serverTLS, "helpdesk", "right")
		r, err := NewRelay("smtp://helpdesk:"+secret+"@"+rs.Addr, RelayOptions{TLSConfig: clientTLS})
		if err != nil {
			t.Fatal(err)
		}
		err = r.Send(context.Background(), "support@example.com", []string{"a@example.org"}, raw)
		var pe *PermanentError
		if err == nil || errors.As(err, &pe) {
			t.Fatalf("err = %v, want a non-permanent error", err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(r.String(), secret) {
			t.Errorf("password leaked: %v / %s", err, r)
		}
		if !strings.Contains(err.Error(), "helpdesk:xxxxx@") {
			t.Errorf("error does not name the relay: %v", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		rs := startRelayServer(t, relayStartTLS, serverTLS, "", "")
		r, _ := NewRelay("smtp://"+rs.Addr, RelayOptions{}) // system roots
		if err := r.Send(context.Background(), "support@example.com", []string{"a@example.org"}, raw); err == nil {
			t.Fatal("sent over TLS to an untrusted server")
		}
	})
	t.Run("credentials refused without TLS to a remote host", func(t *testing.T) {
		rs := startRelayServer(t, relayPlain, nil, "u", secret)
		r, err := NewRelay("smtp://u:"+secret+"@"+rs.Addr, RelayOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.host = "relay.example.net" // as if the server were remote
		err = r.Send(context.Background(), "support@example.com", []string{"a@example.org"}, raw)
		if err == nil || !strings.Contains(err.Error(), "without TLS") || len(rs.messages()) != 0 {
			t.Fatalf("err = %v", err)
		}
		r.opts.AllowInsecureAuth = true
		if err := r.Send(context.Background(), "support@example.com", []string{"a@example.org"}, raw); err != nil {
			t.Fatalf("with AllowInsecureAuth: %v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		r, _ := NewRelay("smtp://u:"+secret+"@"+addr, RelayOptions{Timeout: time.Second})
		err := r.Send(context.Background(), "support@example.com", []string{"a@example.org"}, raw)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("context cancelled while the server stalls", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				defer c.Close()
				time.Sleep(5 * time.Second) // never greets
			}
		}()
		r, _ := NewRelay("smtp://"+ln.Addr().String(), RelayOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := r.Send(ctx, "support@example.com", []string{"a@example.org"}, raw); err == nil {
			t.Fatal("no error")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Send took %v after the context ended", d)
		}
	})
}

func TestNewRelay(t *testing.T) {
	tests := []struct {
		url     string
		addr    string
		tls     bool
		wantErr bool
	}{
		{"smtp://relay.example.com", "relay.example.com:587", false, false},
		{"smtp://relay.example.com:25", "relay.example.com:25", false, false},
		{"smtps://u:p@relay.example.com", "relay.example.com:465", true, false},
		{"SMTPS://relay.example.com:2465", "relay.example.com:2465", true, false},
		{"http://relay.example.com", "", false, true},
		{"smtp://", "", false, true},
		{"smtp://user:pa%zzss@host", "", false, true},
	}
	for _, tt := range tests {
		r, err := NewRelay(tt.url, RelayOptions{})
		if (err != nil) != tt.wantErr {
			t.Errorf("NewRelay(%q) err = %v", tt.url, err)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "pa%zzss") {
				t.Errorf("error repeats the password: %v", err)
			}
			continue
		}
		if r.addr != tt.addr || r.implicitTLS != tt.tls {
			t.Errorf("NewRelay(%q) = %s tls=%v", tt.url, r.addr, r.implicitTLS)
		}
	}
}
