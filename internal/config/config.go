// Package config turns command-line flags and their HELPDESK_* environment
// twins into one validated Config. A flag always wins over its environment
// variable, which wins over the built-in default. Every value is checked
// here, at start, so that a bad one stops the program with one line naming
// the flag instead of failing later.
package config

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/printshop/helpdesk/internal/hours"
)

// DefaultInboxes is the contract's default mapping of inbound addresses to
// ticket queues.
const DefaultInboxes = "support@example.com=Customer Service,corporate@example.com=Corporate Sales,gov@example.com=School & Government,abuse@example.com=Abuse Reports"

// Inbox is one inbound email address and the queue it feeds.
type Inbox struct {
	Address string // lower-cased
	Queue   string
}

// Config is the validated configuration of a helpdesk process.
type Config struct {
	Addr           string // HTTP listen address
	Data           string // data folder
	SMTPAddr       string // inbound SMTP listen address; "" when off
	RedisURL       string // "" = in-process presence and fan-out
	SMTPRelay      string // "" = write outbound mail to <data>/outbox
	Inboxes        []Inbox
	PublicURL      *url.URL
	AllowedOrigins []string // every origin allowed to open the chat socket, the public URL's first
	InboundToken   string   // "" = POST /api/inbound/email is off
	HoursSpec      string
	Hours          hours.Weekly
	Timezone       *time.Location
	Holidays       []hours.Date
	TrustedProxies []string // addresses or CIDRs whose X-Forwarded-For is believed
	IMAP           []IMAPSource
	SMTPTLS        *tls.Certificate // offered over STARTTLS by the inbound SMTP server; nil = no STARTTLS
	LogLevel       string
}

// IMAPSource is a hosted mailbox polled for one inbox, for shops whose mail
// lives at a mail host rather than arriving at our SMTP server.
type IMAPSource struct {
	Inbox       string // an inbox address from Inboxes
	Addr        string // host:port
	TLS         bool   // imaps:// (implicit TLS)
	Username    string
	Password    string
	Mailbox     string // INBOX when empty
	AfterCommit string // seen (default), none, or move:FOLDER
}

// field describes one flag: its name, environment twin, default and help.
type field struct {
	name, env, def, usage string
	dst                   *string
}

// raw holds the unvalidated string value of every flag.
type raw struct {
	addr, data, smtpAddr, redis, relay, inboxes, publicURL, origins,
	inboundToken, hours, timezone, holidays, proxies, imap, tlsCert, tlsKey, logLevel string
}

func (r *raw) fields() []field {
	return []field{
		{"addr", "HELPDESK_ADDR", ":8080", "HTTP listen address", &r.addr},
		{"data", "HELPDESK_DATA", "./data", "folder for SQLite, search indexes, attachments, outbox", &r.data},
		{"smtp-addr", "HELPDESK_SMTP_ADDR", ":2525", "inbound SMTP listen address; off disables", &r.smtpAddr},
		{"redis", "HELPDESK_REDIS_URL", "", "redis://host:port/db; empty = in-process presence and fan-out", &r.redis},
		{"smtp-relay", "HELPDESK_SMTP_RELAY", "", "outbound smtp://user:pass@host:port; empty = write to the outbox folder", &r.relay},
		{"inboxes", "HELPDESK_INBOXES", DefaultInboxes, "inbound addresses and the queue each feeds (address=Queue, comma separated)", &r.inboxes},
		{"public-url", "HELPDESK_PUBLIC_URL", "http://localhost:8080", "public base URL, used in links and as the websocket origin", &r.publicURL},
		{"allowed-origins", "HELPDESK_ALLOWED_ORIGINS", "", "extra site origins allowed to embed the chat widget (comma separated)", &r.origins},
		{"inbound-token", "HELPDESK_INBOUND_TOKEN", "", "bearer token for POST /api/inbound/email; empty disables it", &r.inboundToken},
		{"hours", "HELPDESK_HOURS", hours.DefaultSpec, "support hours", &r.hours},
		{"timezone", "HELPDESK_TIMEZONE", hours.DefaultTimezone, "time zone of the support hours", &r.timezone},
		{"holidays", "HELPDESK_HOLIDAYS", "", "closed dates, YYYY-MM-DD comma separated", &r.holidays},
		{"trusted-proxies", "HELPDESK_TRUSTED_PROXIES", "", "proxy addresses or CIDRs whose X-Forwarded-For is trusted (comma separated)", &r.proxies},
		{"imap", "HELPDESK_IMAP", "", "hosted mailboxes to poll: inbox=imaps://user:pass@host:993/INBOX?after=seen, comma separated (prefer the environment variable: it holds passwords)", &r.imap},
		{"smtp-tls-cert", "HELPDESK_SMTP_TLS_CERT", "", "PEM certificate (chain) for STARTTLS on inbound SMTP", &r.tlsCert},
		{"smtp-tls-key", "HELPDESK_SMTP_TLS_KEY", "", "PEM private key for --smtp-tls-cert", &r.tlsKey},
		{"log-level", "HELPDESK_LOG_LEVEL", "info", "debug, info, warn or error", &r.logLevel},
	}
}

// FlagSet returns a flag set for a subcommand with every configuration flag
// registered, defaults taken from getenv where set, and a function that
// validates the parsed values into a Config. Subcommands may add their own
// flags to the set before parsing.
func FlagSet(name string, getenv func(string) string, output io.Writer) (*flag.FlagSet, func() (Config, error)) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	var r raw
	for _, f := range r.fields() {
		def := f.def
		if v, ok := lookup(getenv, f.env); ok {
			def = v
		}
		fs.StringVar(f.dst, f.name, def, f.usage+" (env "+f.env+")")
	}
	return fs, func() (Config, error) { return r.validate() }
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// flagErr names the flag in a one-line error.
func flagErr(name, value string, err error) error {
	return fmt.Errorf("invalid --%s %q: %w", name, value, err)
}

func (r *raw) validate() (Config, error) {
	c := Config{
		Data:         strings.TrimSpace(r.data),
		RedisURL:     strings.TrimSpace(r.redis),
		SMTPRelay:    strings.TrimSpace(r.relay),
		InboundToken: r.inboundToken,
		HoursSpec:    r.hours,
		LogLevel:     strings.ToLower(strings.TrimSpace(r.logLevel)),
	}
	var err error
	if c.Addr, err = listenAddr(r.addr); err != nil {
		return c, flagErr("addr", r.addr, err)
	}
	if c.Data == "" {
		return c, flagErr("data", r.data, errors.New("must not be empty"))
	}
	if strings.EqualFold(strings.TrimSpace(r.smtpAddr), "off") {
		c.SMTPAddr = ""
	} else if c.SMTPAddr, err = listenAddr(r.smtpAddr); err != nil {
		return c, flagErr("smtp-addr", r.smtpAddr, err)
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			return c, flagErr("redis", "(redacted)", redisURLError(err))
		}
	}
	if c.SMTPRelay != "" {
		if err := checkRelay(c.SMTPRelay); err != nil {
			// The relay URL may carry a password: never echo it.
			return c, flagErr("smtp-relay", "(redacted)", err)
		}
	}
	if c.Inboxes, err = ParseInboxes(r.inboxes); err != nil {
		return c, flagErr("inboxes", r.inboxes, err)
	}
	if c.PublicURL, err = parsePublicURL(r.publicURL); err != nil {
		return c, flagErr("public-url", r.publicURL, err)
	}
	c.AllowedOrigins = []string{Origin(c.PublicURL)}
	for _, o := range splitList(r.origins) {
		u, err := parseOrigin(o)
		if err != nil {
			return c, flagErr("allowed-origins", r.origins, err)
		}
		c.AllowedOrigins = append(c.AllowedOrigins, u)
	}
	if r.inboundToken != "" && len(r.inboundToken) < 16 {
		return c, flagErr("inbound-token", "(redacted)", errors.New("must be at least 16 characters"))
	}
	if c.Hours, err = hours.Parse(r.hours); err != nil {
		return c, flagErr("hours", r.hours, err)
	}
	if c.Timezone, err = hours.LoadLocation(strings.TrimSpace(r.timezone)); err != nil {
		return c, flagErr("timezone", r.timezone, err)
	}
	if c.Holidays, err = hours.ParseHolidays(r.holidays); err != nil {
		return c, flagErr("holidays", r.holidays, err)
	}
	for _, p := range splitList(r.proxies) {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return c, flagErr("trusted-proxies", r.proxies, fmt.Errorf("%q is neither an IP address nor a CIDR", p))
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	if c.IMAP, err = parseIMAP(r.imap, c.Inboxes); err != nil {
		// The value holds passwords: name the flag, not the value.
		return c, flagErr("imap", "(redacted)", err)
	}
	switch {
	case r.tlsCert == "" && r.tlsKey == "":
	case r.tlsCert == "" || r.tlsKey == "":
		return c, flagErr("smtp-tls-cert", r.tlsCert, errors.New("--smtp-tls-cert and --smtp-tls-key go together"))
	default:
		cert, err := tls.LoadX509KeyPair(r.tlsCert, r.tlsKey)
		if err != nil {
			return c, flagErr("smtp-tls-cert", r.tlsCert, errors.New(strings.Join(strings.Fields(err.Error()), " ")))
		}
		c.SMTPTLS = &cert
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c, flagErr("log-level", r.logLevel, errors.New("want debug, info, warn or error"))
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// listenAddr checks a host:port listen address.
func listenAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errors.New("want host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("host %q is not valid", host)
	}
	return s, nil
}

// redisURLError is a redis.ParseURL error fit for a one-line message that
// may be printed or logged: url.Parse's errors repeat the whole URL,
// password included, and go-redis's own may quote parts of the path or
// query, unescaped (newlines included).
func redisURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("not a URL like redis://user:pass@host:6379/0")
	}
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}

func checkRelay(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return errors.New("scheme must be smtp or smtps")
	}
	if u.Hostname() == "" || u.Port() == "" {
		return errors.New("want smtp://user:pass@host:port")
	}
	return nil
}

func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return nil, errors.New("missing host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must not carry credentials, a query or a fragment")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func parseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin like https://shop.example", s)
	}
	return Origin(u), nil
}

// Origin returns the scheme://host[:port] origin of u, lower-cased, as a
// browser sends it in the Origin header.
func Origin(u *url.URL) string {
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// ParseInboxes parses "address=Queue name" pairs separated by commas.
// Addresses are compared case-insensitively and must be unique.
func ParseInboxes(s string) ([]Inbox, error) {
	var out []Inbox
	seen := map[string]bool{}
	for _, part := range splitList(s) {
		addr, queue, ok := strings.Cut(part, "=")
		addr, queue = strings.ToLower(strings.TrimSpace(addr)), strings.TrimSpace(queue)
		if !ok || addr == "" || queue == "" {
			return nil, fmt.Errorf("%q: want address=Queue name", part)
		}
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || a.Name != "" {
			return nil, fmt.Errorf("%q is not a plain email address", addr)
		}
		if strings.Contains(strings.SplitN(addr, "@", 2)[0], "+") {
			return nil, fmt.Errorf("%q: an inbox address must not contain '+' (plus addresses map to their inbox)", addr)
		}
		if len(queue) > 80 {
			return nil, fmt.Errorf("queue name %q is longer than 80 characters", queue)
		}
		if seen[addr] {
			return nil, fmt.Errorf("%q is listed twice", addr)
		}
		seen[addr] = true
		out = append(out, Inbox{Address: addr, Queue: queue})
	}
	if len(out) == 0 {
		return nil, errors.New("at least one inbox is required")
	}
	return out, nil
}

// parseIMAP parses "inbox=imap[s]://user:pass@host:port/Mailbox?after=…"
// entries separated by commas. Each inbox must be one of inboxes.
func parseIMAP(s string, inboxes []Inbox) ([]IMAPSource, error) {
	var out []IMAPSource
	for _, part := range splitList(s) {
		inbox, raw, ok := strings.Cut(part, "=")
		inbox = strings.ToLower(strings.TrimSpace(inbox))
		if !ok {
			return nil, errors.New("want inbox=imaps://user:pass@host:port/Mailbox")
		}
		known := false
		for _, in := range inboxes {
			known = known || in.Address == inbox
		}
		if !known {
			return nil, fmt.Errorf("%q is not one of --inboxes", inbox)
		}
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "imap" && u.Scheme != "imaps") || u.Hostname() == "" {
			return nil, fmt.Errorf("mailbox for %s: want imap:// or imaps://user:pass@host:port/Mailbox", inbox)
		}
		src := IMAPSource{Inbox: inbox, TLS: u.Scheme == "imaps", Mailbox: strings.TrimPrefix(u.Path, "/"), AfterCommit: u.Query().Get("after")}
		port := u.Port()
		if port == "" {
			port = map[bool]string{true: "993", false: "143"}[src.TLS]
		}
		src.Addr = net.JoinHostPort(u.Hostname(), port)
		if u.User != nil {
			src.Username = u.User.Username()
			src.Password, _ = u.User.Password()
		}
		if src.Username == "" {
			return nil, fmt.Errorf("mailbox for %s: a user name is required", inbox)
		}
		switch a := src.AfterCommit; {
		case a == "", a == "seen", a == "none", strings.HasPrefix(a, "move:") && len(a) > 5:
		default:
			return nil, fmt.Errorf("mailbox for %s: after must be seen, none or move:FOLDER", inbox)
		}
		out = append(out, src)
	}
	return out, nil
}
