package config

import (
	"io"
	"strings"
	"testing"
)

func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs, load := FlagSet("serve", func(k string) string { return env[k] }, io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return load()
}

func TestDefaults(t *testing.T) {
	c, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.Data != "./data" || c.SMTPAddr != ":2525" || c.RedisURL != "" || c.SMTPRelay != "" || c.InboundToken != "" {
		t.Errorf("defaults = %+v", c)
	}
	if c.PublicURL.String() != "http://localhost:8080" || len(c.AllowedOrigins) != 1 || c.AllowedOrigins[0] != "http://localhost:8080" {
		t.Errorf("public url %v origins %v", c.PublicURL, c.AllowedOrigins)
	}
	if c.Timezone.String() != "America/Los_Angeles" || c.HoursSpec != "Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00" {
		t.Errorf("hours %q in %v", c.HoursSpec, c.Timezone)
	}
	want := []Inbox{
		{"support@example.com", "Customer Service"},
		{"corporate@example.com", "Corporate Sales"},
		{"gov@example.com", "School & Government"},
		{"abuse@example.com", "Abuse Reports"},
	}
	if len(c.Inboxes) != len(want) {
		t.Fatalf("inboxes = %v", c.Inboxes)
	}
	for i := range want {
		if c.Inboxes[i] != want[i] {
			t.Errorf("inbox %d = %v, want %v", i, c.Inboxes[i], want[i])
		}
	}
}

func TestEnvAndFlagPrecedence(t *testing.T) {
	env := map[string]string{"HELPDESK_ADDR": "127.0.0.1:9000", "HELPDESK_SMTP_ADDR": "off", "HELPDESK_DATA": "/tmp/envdata"}
	c, err := parse(t, []string{"--data", "/tmp/flagdata"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.SMTPAddr != "" || c.Data != "/tmp/flagdata" {
		t.Errorf("got addr %q smtp %q data %q", c.Addr, c.SMTPAddr, c.Data)
	}
}

func TestInvalidValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // must appear in the error
		hide string // must not appear in the error
	}{
		{name: "addr", args: []string{"--addr", "8080"}, want: "--addr"},
		{name: "port range", args: []string{"--addr", ":70000"}, want: "--addr"},
		{name: "smtp addr", args: []string{"--smtp-addr", "nope"}, want: "--smtp-addr"},
		{name: "relay hides password", args: []string{"--smtp-relay", "http://u:hunter2secret@h:25"}, want: "--smtp-relay", hide: "hunter2secret"},
		{name: "redis", args: []string{"--redis", "mysql://x"}, want: "--redis"},
		{name: "inbox without queue", args: []string{"--inboxes", "a@b.example="}, want: "--inboxes"},
		{name: "duplicate inbox", args: []string{"--inboxes", "a@b.example=X,A@b.example=Y"}, want: "listed twice"},
		{name: "plus inbox", args: []string{"--inboxes", "a+x@b.example=X"}, want: "'+'"},
		{name: "public url path query", args: []string{"--public-url", "https://x.example/?a=b"}, want: "--public-url"},
		{name: "origin with path", args: []string{"--allowed-origins", "https://shop.example/page"}, want: "--allowed-origins"},
		{name: "short inbound token", args: []string{"--inbound-token", "short"}, want: "--inbound-token", hide: "short\""},
		{name: "hours", args: []string{"--hours", "Mon-Fri 18:00-06:00"}, want: "--hours"},
		{name: "timezone", args: []string{"--timezone", "Atlantis/Capital"}, want: "--timezone"},
		{name: "holidays", args: []string{"--holidays", "2026-13-01"}, want: "--holidays"},
		{name: "proxies", args: []string{"--trusted-proxies", "10.0.0.0/33"}, want: "--trusted-proxies"},
		{name: "log level", args: []string{"--log-level", "loud"}, want: "--log-level"},
		{name: "imap unknown inbox", args: []string{"--imap", "other@example.com=imaps://u:topsecret@mail.example/INBOX"}, want: "--imap", hide: "topsecret"},
		{name: "imap bad scheme", args: []string{"--imap", "support@example.com=pop3://u:topsecret@mail.example"}, want: "--imap", hide: "topsecret"},
		{name: "imap no user", args: []string{"--imap", "support@example.com=imaps://mail.example"}, want: "--imap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.args, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line containing %q", msg, tt.want)
			}
			if tt.hide != "" && strings.Contains(msg, tt.hide) {
				t.Errorf("error %q leaks %q", msg, tt.hide)
			}
		})
	}
}

func TestAllowedOrigins(t *testing.T) {
	c, err := parse(t, []string{"--public-url", "https://help.Shop.example/", "--allowed-origins", "https://www.shop.example, http://localhost:3000"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.AllowedOrigins, " ")
	if got != "https://help.shop.example https://www.shop.example http://localhost:3000" {
		t.Errorf("origins = %q", got)
	}
}

func TestIMAPSources(t *testing.T) {
	c, err := parse(t, []string{"--imap", "Support@example.com=imaps://desk%40shop.example:p%2Cw@mail.example/Support?after=move:Done, gov@example.com=imap://g:x@mail.example:1143"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []IMAPSource{
		{Inbox: "support@example.com", Addr: "mail.example:993", TLS: true, Username: "desk@shop.example", Password: "p,w", Mailbox: "Support", AfterCommit: "move:Done"},
		{Inbox: "gov@example.com", Addr: "mail.example:1143", Username: "g", Password: "x"},
	}
	if len(c.IMAP) != 2 || c.IMAP[0] != want[0] || c.IMAP[1] != want[1] {
		t.Errorf("IMAP = %+v", c.IMAP)
	}
}
