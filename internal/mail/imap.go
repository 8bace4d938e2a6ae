package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// UIDStore remembers, per mailbox, how far the poller got, so nothing is
// fetched twice. key identifies the mailbox (account, server, folder).
// LoadUID returns zeros for a mailbox never polled.
type UIDStore interface {
	LoadUID(ctx context.Context, key string) (uidValidity, lastUID uint32, err error)
	SaveUID(ctx context.Context, key string, uidValidity, lastUID uint32) error
}

// PollerOptions configures a Poller.
type PollerOptions struct {
	Addr     string // host:port
	Username string
	Password string
	Mailbox  string // folder to read; INBOX when empty

	TLS                bool        // implicit TLS (port 993); plain TCP when false
	InsecureSkipVerify bool        // with TLS: accept any certificate (tests only)
	TLSConfig          *tls.Config // with TLS: used instead of the defaults (RootCAs for tests)

	Interval time.Duration // between rounds in Run; 1 minute when zero
	Timeout  time.Duration // connecting and each command; 1 minute when zero

	// Inbox is the address this mailbox feeds: the recipient passed to
	// Deliver.
	Inbox string
	// AfterCommit is what happens to a message once delivered: "seen"
	// (the default) sets \Seen, "move:FOLDER" moves it to FOLDER, "none"
	// leaves it alone. Messages are read with BODY.PEEK, so polling alone
	// changes nothing.
	AfterCommit string
	// MaxMessageBytes: larger messages are skipped (and logged), not
	// fetched, so one huge message cannot stall the mailbox; 25 MiB.
	MaxMessageBytes int64

	Logger *slog.Logger // slog.Default() when nil
}

// Poller reads new messages from an IMAP mailbox and delivers them, for
// addresses whose mail lands in a hosted mailbox rather than at our SMTP
// server.
//
// It keeps the UIDVALIDITY and the highest delivered UID in a UIDStore: a
// message is fetched once, the UID is saved only after Deliver returned
// nil, and a Deliver error ends the round without passing the failed
// message, so it is tried again next round. When the server's UIDVALIDITY
// changes (the mailbox was recreated), every message is read again; the
// Deliverer is expected to drop duplicates by Message-ID.
type Poller struct {
	opts  PollerOptions
	d     Deliverer
	store UIDStore
	log   *slog.Logger
	key   string
}

// NewPoller returns a Poller; nothing happens until Run or PollOnce.
func NewPoller(opts PollerOptions, d Deliverer, store UIDStore) *Poller {
	if opts.Mailbox == "" {
		opts.Mailbox = "INBOX"
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.AfterCommit == "" {
		opts.AfterCommit = "seen"
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 25 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Poller{
		opts:  opts,
		d:     d,
		store: store,
		log:   opts.Logger.With("component", "imap", "mailbox", opts.Mailbox, "addr", opts.Addr),
		key:   "imap:" + strings.ToLower(opts.Username) + "@" + strings.ToLower(opts.Addr) + "/" + opts.Mailbox,
	}
}

// Run polls every Interval until ctx ends, then returns nil. A failed
// round is logged and retried at the next tick.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		n, err := p.PollOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			p.log.Error("imap poll failed", "delivered", n, "err", err)
		case n > 0:
			p.log.Info("imap poll", "delivered", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PollOnce connects, delivers the messages that arrived since the last
// round, in UID order, and disconnects. It returns how many were
// delivered; the error is the one that ended the round early, if any
// (with the count of those delivered before it).
func (p *Poller) PollOnce(ctx context.Context) (delivered int, err error) {
	after, folder, err := parseAfterCommit(p.opts.AfterCommit)
	if err != nil {
		return 0, err
	}
	if p.opts.Inbox == "" {
		return 0, errors.New("mail: imap: PollerOptions.Inbox is empty: no recipient to deliver to")
	}
	c, err := p.connect(ctx)
	if err != nil {
		return 0, err
	}
	// The client has no context support: closing the connection is how
	// ctx aborts a command in flight.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()

	sel, err := c.Select(p.opts.Mailbox, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("mail: imap select %s: %w", p.opts.Mailbox, ctxErr(ctx, err))
	}
	validity, last, err := p.store.LoadUID(ctx, p.key)
	if err != nil {
		return 0, fmt.Errorf("mail: imap load state: %w", err)
	}
	if validity != sel.UIDValidity {
		if validity != 0 {
			p.log.Warn("imap UIDVALIDITY changed: reading the mailbox again", "old", validity, "new", sel.UIDValidity)
		}
		validity, last = sel.UIDValidity, 0
		if err := p.store.SaveUID(ctx, p.key, validity, last); err != nil {
			return 0, fmt.Errorf("mail: imap save state: %w", err)
		}
	}
	if sel.NumMessages == 0 {
		return 0, c.Logout().Wait()
	}

	// UID last+1:* also returns the newest message when nothing is newer
	// (RFC 3501 §6.4.8), hence the filter.
	var set imap.UIDSet
	set.AddRange(imap.UID(last+1), 0)
	list, err := c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return 0, fmt.Errorf("mail: imap list new messages: %w", ctxErr(ctx, err))
	}
	type item struct {
		uid  imap.UID
		size int64
	}
	var todo []item
	for _, m := range list {
		if uint32(m.UID) > last {
			todo = append(todo, item{m.UID, m.RFC822Size})
		}
	}
	slices.SortFunc(todo, func(a, b item) int { return int(a.uid) - int(b.uid) })

	section := &imap.FetchItemBodySection{Peek: true}
	for _, it := range todo {
		if it.size > p.opts.MaxMessageBytes {
			p.log.Error("imap message too large, skipped", "uid", it.uid, "bytes", it.size, "max", p.opts.MaxMessageBytes)
			if err := p.store.SaveUID(ctx, p.key, validity, uint32(it.uid)); err != nil {
				return delivered, fmt.Errorf("mail: imap save state: %w", err)
			}
			continue
		}
		msgs, err := c.Fetch(imap.UIDSetNum(it.uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return delivered, fmt.Errorf("mail: imap fetch uid %d: %w", it.uid, ctxErr(ctx, err))
		}
		if len(msgs) == 0 {
			continue // expunged meanwhile
		}
		raw := msgs[0].FindBodySection(section)
		if err := p.d.Deliver(ctx, envelopeSender(raw), []string{strings.ToLower(p.opts.Inbox)}, raw); err != nil {
			return delivered, fmt.Errorf("mail: imap deliver uid %d: %w", it.uid, err)
		}
		delivered++
		if err := p.store.SaveUID(ctx, p.key, validity, uint32(it.uid)); err != nil {
			return delivered, fmt.Errorf("mail: imap save state: %w", err)
		}
		// Only now, with the message stored and the UID saved, is it
		// marked: a failure here costs a flag, never a message.
		if err := p.afterCommit(c, it.uid, after, folder); err != nil {
			p.log.Warn("imap after-commit action failed", "uid", it.uid, "action", p.opts.AfterCommit, "err", err)
		}
	}
	if err := c.Logout().Wait(); err != nil && ctx.Err() == nil {
		p.log.Debug("imap logout", "err", err)
	}
	return delivered, nil
}

func (p *Poller) connect(ctx context.Context) (*imapclient.Client, error) {
	var cfg *tls.Config
	if p.opts.TLS {
		host, _, _ := net.SplitHostPort(p.opts.Addr)
		cfg = &tls.Config{InsecureSkipVerify: p.opts.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if p.opts.TLSConfig != nil {
			cfg = p.opts.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
	}
	d := net.Dialer{Timeout: p.opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", p.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail: imap connect %s: %w", p.opts.Addr, err)
	}
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("mail: imap TLS %s: %w", p.opts.Addr, err)
		}
		conn = tc
	}
	c := imapclient.New(conn, &imapclient.Options{})
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("mail: imap greeting %s: %w", p.opts.Addr, ctxErr(ctx, err))
	}
	if err := c.Login(p.opts.Username, p.opts.Password).Wait(); err != nil {
		c.Close()
		// The error is the server's reply; the password is not in it.
		return nil, fmt.Errorf("mail: imap login %s as %s: %w", p.opts.Addr, p.opts.Username, ctxErr(ctx, err))
	}
	return c, nil
}

type afterAction int

const (
	afterNone afterAction = iota
	afterSeen
	afterMove
)

func parseAfterCommit(s string) (afterAction, string, error) {
	switch {
	case s == "none":
		return afterNone, "", nil
	case s == "seen":
		return afterSeen, "", nil
	case strings.HasPrefix(s, "move:") && strings.TrimSpace(s[len("move:"):]) != "":
		return afterMove, strings.TrimSpace(s[len("move:"):]), nil
	}
	return 0, "", fmt.Errorf("mail: imap AfterCommit %q: want seen, none or move:FOLDER", s)
}

func (p *Poller) afterCommit(c *imapclient.Client, uid imap.UID, a afterAction, folder string) error {
	set := imap.UIDSetNum(uid)
	switch a {
	case afterSeen:
		return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	case afterMove:
		_, err := c.Move(set, folder).Wait()
		return err
	}
	return nil
}

// envelopeSender is the best available stand-in for an SMTP reverse path
// for a message read from a mailbox: its Return-Path, else its From.
func envelopeSender(raw []byte) string {
	h, _ := readHeaderBlock(raw)
	if rp := h.get("return-path"); rp != "" {
		return strings.ToLower(strings.Trim(strings.TrimSpace(rp), "<>"))
	}
	var m Message
	if from := m.addressList(h, "from"); len(from) > 0 {
		return from[0].Address
	}
	return ""
}

// ctxErr prefers the context's error: when ctx ends, the connection is
// closed under the client, whose own error then says little.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}
