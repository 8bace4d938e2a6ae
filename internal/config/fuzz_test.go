package config

import (
	"io"
	"net/mail"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/internal/hours"
)

// fuzzSecret stands for a password inside a URL-valued flag.
const fuzzSecret = "Fz9-SECRET-pw"

// FuzzFlagValues feeds arbitrary values to the flags whose strings are
// parsed here (--inboxes, --allowed-origins, --imap, --hours, and the
// URL-valued --redis and --smtp-relay), each alone and all at once. Start-up
// must never panic; a refused value must give one line that names the flag
// and never repeats a password given in a URL; an accepted one must yield a
// Config that keeps its invariants.
func FuzzFlagValues(f *testing.F) {
	for _, s := range [][6]string{
		{DefaultInboxes, "https://shop.example", "support@example.com=imaps://user@mail.example:993/INBOX?after=seen", hours.DefaultSpec, "127.0.0.1:6379/0", "127.0.0.1:587"},
		{"Support@Example.com=Customer Service", "https://Shop.Example, http://localhost:3000/", "support@example.com=imap://u@h/Box?after=move:Done", "Mon-Sun 00:00-24:00", "h:1/15?dial_timeout=3s", "relay.example:25"},
		{"a+b@example.com=Q", "shop.example", "support@example.com=http://x", "Mon-Fry 9-5", "h:notaport/0", "h:notaport"},
		{"x@example.com=Q,x@example.com=R", "https://u:p@shop.example", "nobody@example.com=imaps://u@h", "Mon-Fri 18:00-06:00", "h:1/0%zz", "ho st:25"},
		{"=", "https://shop.example/path?q", "support@example.com=imaps://:@h:0/?after=bogus", "Mon 24:00-24:00,", "h:1/x\ny", "h:1\r\nX: y"},
		{"", ",,,", "", "", "", ""},
		{"\"Name\" <q@example.com>=Queue", "http://[::1]:8080", "support@example.com=imaps://u%zz@h", "Sat-Sun 07:00-16:00, Mon-Fri 06:00-18:00", "[::1]:6379/0?protocol=2", "[::1]:465"},
		{"q@example.com=" + strings.Repeat("Q", 81), "https://" + strings.Repeat("a", 300) + ".example", "support@example.com=imaps://u@h/INBOX?after=move:", "Mon-Fri 06:00-18:00\x00", "h:1/0?unknown_option=1", ""},
		{DefaultInboxes, "", "", hours.DefaultSpec, "h:1/0/x%0Ay", "h:1"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}

	f.Fuzz(func(t *testing.T, inboxes, origins, imap, hoursSpec, redisRest, relayRest string) {
		secretIn := strings.Contains(inboxes+origins+imap+hoursSpec+redisRest+relayRest, fuzzSecret)
		all := []string{"--inboxes", inboxes, "--allowed-origins", origins, "--imap", imap, "--hours", hoursSpec}
		for _, tt := range []struct {
			name   string
			args   []string
			secret bool // the args carry fuzzSecret as a URL password
		}{
			{"inboxes", []string{"--inboxes", inboxes}, false},
			{"allowed-origins", []string{"--allowed-origins", origins}, false},
			{"imap", []string{"--imap", imap}, false},
			{"imap", []string{"--imap", "support@example.com=imaps://user:" + fuzzSecret + "@" + imap}, true},
			{"hours", []string{"--hours", hoursSpec}, false},
			{"redis", []string{"--redis", "redis://user:" + fuzzSecret + "@" + redisRest}, true},
			{"smtp-relay", []string{"--smtp-relay", "smtp://user:" + fuzzSecret + "@" + relayRest}, true},
			{"", all, false}, // several at once: the error names the first bad one
		} {
			fs, load := FlagSet("serve", func(string) string { return "" }, io.Discard)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("flag parsing refused %q: %v", tt.args, err)
			}
			c, err := load()
			if err != nil {
				msg := err.Error()
				if strings.ContainsAny(msg, "\r\n\v\f\u0085\u2028\u2029") {
					t.Errorf("%v: error is not one line: %q", tt.args, msg)
				}
				if !strings.HasPrefix(msg, "invalid --"+tt.name) {
					t.Errorf("%v: error %q does not name --%s", tt.args, msg, tt.name)
				}
				if tt.secret && !secretIn && strings.Contains(msg, fuzzSecret) {
					t.Errorf("%v: error repeats the password: %q", tt.args, msg)
				}
				continue
			}
			checkConfig(t, tt.args, c)
		}
	})
}

// checkConfig asserts what the rest of the program relies on in a Config
// that validation accepted.
func checkConfig(t *testing.T, args []string, c Config) {
	t.Helper()
	if len(c.Inboxes) == 0 {
		t.Errorf("%v: accepted with no inbox", args)
	}
	seen := map[string]bool{}
	for _, in := range c.Inboxes {
		a, err := mail.ParseAddress(in.Address)
		local, _, _ := strings.Cut(in.Address, "@")
		if err != nil || a.Address != in.Address || in.Address != strings.ToLower(in.Address) ||
			strings.Contains(local, "+") || seen[in.Address] || in.Queue == "" || len(in.Queue) > 80 {
			t.Errorf("%v: inbox %+v", args, in)
		}
		seen[in.Address] = true
	}
	if len(c.AllowedOrigins) == 0 || c.AllowedOrigins[0] != Origin(c.PublicURL) {
		t.Errorf("%v: origins %q do not start with the public URL's", args, c.AllowedOrigins)
	}
	for _, o := range c.AllowedOrigins {
		scheme, host, ok := strings.Cut(o, "://")
		if !ok || (scheme != "http" && scheme != "https") || host == "" || strings.ContainsAny(host, "/?#@ \t\r\n") || o != strings.ToLower(o) {
			t.Errorf("%v: origin %q is not scheme://host[:port]", args, o)
		}
	}
	for _, src := range c.IMAP {
		if !seen[src.Inbox] || src.Username == "" || src.Addr == "" {
			t.Errorf("%v: imap source %+v", args, src)
		}
		switch a := src.AfterCommit; {
		case a == "", a == "seen", a == "none", strings.HasPrefix(a, "move:") && len(a) > len("move:"):
		default:
			t.Errorf("%v: imap after=%q", args, a)
		}
	}
	if _, err := hours.Parse(c.HoursSpec); err != nil {
		t.Errorf("%v: hours %q accepted but do not parse: %v", args, c.HoursSpec, err)
	}
}
