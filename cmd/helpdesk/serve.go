package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/printshop/helpdesk/chat"
	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/console"
	"github.com/printshop/helpdesk/internal/helpcenter"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/internal/logging"
	"github.com/printshop/helpdesk/internal/mail"
	"github.com/printshop/helpdesk/internal/nodedir"
	"github.com/printshop/helpdesk/internal/reports"
	"github.com/printshop/helpdesk/internal/server"
	"github.com/printshop/helpdesk/internal/settings"
	"github.com/printshop/helpdesk/internal/sqlitedb"
	"github.com/printshop/helpdesk/internal/widget"
	"github.com/printshop/helpdesk/kb"
	"github.com/printshop/helpdesk/tickets"
)

// core is what every subcommand that touches data opens: the database and
// the services and indexes built on it.
type core struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	reg     *prometheus.Registry
	db      *sqlitedb.DB
	kb      *kb.Service
	faq     *faq.Index
	auth    *auth.Service
	tix     *tickets.Service
	sche    *hours.Schedule
	set     *settings.Service // admin settings; applied to sche and tix
	rdb     *redis.Client     // nil without --redis
	faqSync *faqSync          // the FAQ index's link to the other nodes
	node    *nodedir.Dir      // this process's folder for its search indexes
}

// openCore opens the data folder, logging to stderr at cfg's level. The
// caller must call close.
func openCore(ctx context.Context, cfg config.Config, stderr io.Writer) (*core, error) {
	log := logging.New(stderr, cfg.LogLevel)
	c := &core{cfg: cfg, log: log, now: time.Now, reg: prometheus.NewRegistry()}
	c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.Data, "helpdesk.db"))
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	c.db = db
	c.kb = kb.New(db, c.now, log)
	n, err := c.kb.SeedIfEmpty(ctx)
	if err != nil {
		c.close()
		return nil, err
	}
	if n > 0 {
		log.InfoContext(ctx, "loaded the starter knowledge base", "articles", n)
	}
	if c.node, err = nodedir.Acquire(filepath.Join(cfg.Data, "index")); err != nil {
		c.close()
		return nil, err
	}
	c.faq, err = faq.Open(filepath.Join(c.node.Path, "faq"), c.kb, faq.Options{Logger: log, Registerer: c.reg})
	if err != nil {
		c.close()
		return nil, fmt.Errorf("faq index: %w", err)
	}
	c.faqSync = newFAQSync(c.faq, c.kb, fmt.Sprintf("%s/node-%d", hostname(), c.node.Slot), log)
	c.kb.SetIndexer(c.faqSync)
	if cfg.RedisURL != "" {
		ropts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			c.close()
			return nil, errors.New("--redis: not a redis:// URL")
		}
		// go-redis reports dial failures through its own package logger;
		// send them into ours, as one JSON line with the rest.
		redis.SetLogger(redisLog{log})
		c.rdb = redis.NewClient(ropts)
	}
	c.auth = auth.New(db, auth.Options{Now: c.now, Logger: log, SecureCookies: cfg.PublicURL.Scheme == "https"})
	c.kb.SetAuditor(articleAudit{c.auth, log})
	c.sche = hours.New(cfg.Hours, cfg.Timezone, cfg.Holidays)

	sender, err := outboundSender(cfg)
	if err != nil {
		c.close()
		return nil, err
	}
	inboxes := make([]tickets.Inbox, len(cfg.Inboxes))
	for i, in := range cfg.Inboxes {
		inboxes[i] = tickets.Inbox{Address: in.Address, Queue: in.Queue}
	}
	c.tix, err = tickets.New(db, tickets.Options{
		Inboxes:    inboxes,
		DataDir:    cfg.Data,
		IndexDir:   filepath.Join(c.node.Path, "tickets"),
		Sender:     sender,
		PublicURL:  cfg.PublicURL.String(),
		Schedule:   c.sche,
		Viewers:    viewers(c.rdb, c.now),
		Now:        c.now,
		Logger:     log,
		Registerer: c.reg,
	})
	if err != nil {
		c.close()
		return nil, fmt.Errorf("tickets: %w", err)
	}
	// Settings saved by an admin override the flags from the start.
	c.set, err = settings.New(db, settings.Options{
		Schedule: c.sche,
		Defaults: settings.Defaults{Weekly: cfg.Hours, Location: cfg.Timezone, Holidays: cfg.Holidays},
		Acks:     c.tix,
		Auditor:  c.auth,
		Now:      c.now,
		Logger:   log,
	})
	if err == nil {
		err = c.set.Load(ctx)
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("settings: %w", err)
	}
	return c, nil
}

// outboundSender is the relay when one is configured, else the outbox
// folder, where every message is written once sent as one .eml file.
func outboundSender(cfg config.Config) (tickets.Sender, error) {
	if cfg.SMTPRelay == "" {
		return mail.NewOutbox(filepath.Join(cfg.Data, "outbox")), nil
	}
	r, err := mail.NewRelay(cfg.SMTPRelay, mail.RelayOptions{})
	if err != nil {
		return nil, fmt.Errorf("--smtp-relay: %w", err)
	}
	return r, nil
}

func (c *core) close() {
	if c.tix != nil {
		if err := c.tix.Close(); err != nil {
			c.log.Error("close tickets", "err", err)
		}
	}
	if c.faq != nil {
		if err := c.faq.Close(); err != nil {
			c.log.Error("close faq index", "err", err)
		}
	}
	if c.rdb != nil {
		c.rdb.Close()
	}
	if c.db != nil {
		if err := c.db.Close(); err != nil {
			c.log.Error("close database", "err", err)
		}
	}
	if err := c.node.Release(); err != nil {
		c.log.Error("release index folder", "err", err)
	}
}

// loadConfig parses a subcommand's flags. done is set when the command
// should stop without error (-h).
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (cfg config.Config, done bool, err error) {
	fs, load := config.FlagSet(name, getenv, stderr)
	if done, err := parseFlags(fs, args); done || err != nil {
		return cfg, done, err
	}
	cfg, err = load()
	return cfg, false, err
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, done, err := loadConfig("serve", args, getenv, stderr)
	if done || err != nil {
		return err
	}
	c, err := openCore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	log := c.log

	if n, err := c.auth.CountAgents(ctx); err != nil {
		return err
	} else if n == 0 {
		log.WarnContext(ctx, "no agents yet; create the first admin with: helpdesk agent add --email you@example.com --name 'Your Name' --role admin --password-stdin --data "+cfg.Data)
	}
	chatSvc, err := openChat(c)
	if err != nil {
		return err
	}
	srv, err := newServer(c, chatSvc)
	if err != nil {
		chatSvc.Close(context.Background())
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on --addr %s: %w", cfg.Addr, err)
	}
	var smtpLn net.Listener
	if cfg.SMTPAddr != "" {
		if smtpLn, err = net.Listen("tcp", cfg.SMTPAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on --smtp-addr %s: %w", cfg.SMTPAddr, err)
		}
	}

	// Background work lives until runCtx ends; every goroutine below exits
	// then, and serve waits for them before closing the database.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.tix.Run(runCtx); err != nil {
			log.Error("tickets background work stopped", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Picks up settings saved by other processes sharing the database.
		if err := c.set.Run(runCtx); err != nil {
			log.Error("settings reload stopped", "err", err)
		}
	}()
	go func() { errc <- srv.Serve(ln) }() // exits when Shutdown is called
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.faqSync.run(runCtx)
	}()
	for _, src := range cfg.IMAP {
		p := mail.NewPoller(mail.PollerOptions{
			Addr: src.Addr, TLS: src.TLS, Username: src.Username, Password: src.Password,
			Mailbox: src.Mailbox, Inbox: src.Inbox, AfterCommit: src.AfterCommit, Logger: log,
		}, c.tix, c.tix)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(runCtx); err != nil {
				log.Error("imap poller stopped", "inbox", src.Inbox, "err", err)
			}
		}()
	}

	var smtpd *mail.SMTPServer
	if smtpLn != nil {
		sopts := mail.SMTPOptions{Domain: cfg.PublicURL.Hostname(), Logger: log}
		if cfg.SMTPTLS != nil {
			sopts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cfg.SMTPTLS}, MinVersion: tls.VersionTLS12}
		}
		smtpd = mail.NewSMTPServer(c.tix, sopts)
		go func() {
			if err := smtpd.Serve(smtpLn); err != nil {
				errc <- fmt.Errorf("smtp server: %w", err)
			}
		}()
	}

	base := "http://" + displayAddr(ln.Addr())
	attrs := []any{"help_center", base + "/", "api", base + "/api/", "health", base + "/healthz", "metrics", base + "/metrics",
		"public_url", cfg.PublicURL.String(), "index_folder", c.node.Path}
	if smtpLn != nil {
		attrs = append(attrs, "smtp", "smtp://"+displayAddr(smtpLn.Addr()))
	}
	log.InfoContext(ctx, "helpdesk is serving", attrs...)

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if smtpd != nil {
		// Sessions in the middle of DATA finish (and get their 250) first.
		if err := smtpd.Shutdown(sctx); err != nil {
			log.Error("smtp shutdown", "err", err)
		}
	}
	// Chat sockets are hijacked connections Fiber does not track: close
	// them (1001, clients resume elsewhere) before the HTTP server.
	if err := chatSvc.Close(sctx); err != nil {
		log.Error("chat shutdown", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("http shutdown", "err", err)
	}
	stopRun()
	wg.Wait()
	if serveErr != nil {
		return serveErr
	}
	return nil
}

// newServer wires the HTTP server over an opened core.
// viewers is where tickets keep "who is viewing": shared through Redis
// when several processes serve the shop, in-process otherwise.
func viewers(rdb *redis.Client, now func() time.Time) tickets.Viewers {
	if rdb == nil {
		return nil // tickets' in-process default
	}
	return chat.NewRedisViewers(rdb, redisPrefix, now)
}

// redisLog adapts slog to go-redis's logger interface.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "host"
	}
	return h
}

func newServer(c *core, chatSvc *chat.Service) (*server.Server, error) {
	render := kb.NewRenderer()
	pages, err := helpcenter.New(helpcenter.Options{
		Articles:    c.kb,
		Search:      c.faq,
		Render:      render,
		Departments: departments(c.cfg.Inboxes),
		// Saved hours as of start; the help center's printed hours follow
		// later changes only after a restart (its status line is live).
		Hours:    c.sche.Weekly(),
		Location: c.sche.Location(),
		SiteName: siteName,
		Logger:   c.log,
		Now:      c.now,
	})
	if err != nil {
		return nil, err
	}
	queues := make([]string, 0, len(c.cfg.Inboxes))
	for _, in := range c.cfg.Inboxes {
		if !slices.Contains(queues, in.Queue) {
			queues = append(queues, in.Queue)
		}
	}
	agentPages, err := console.New(console.Options{SiteName: siteName, Render: render, Agents: c.auth, Queues: queues, Chat: true, Logger: c.log})
	if err != nil {
		return nil, err
	}
	chatWidget, err := widget.New(widget.Options{SiteName: siteName, PublicURL: c.cfg.PublicURL.String(), AllowedOrigins: c.cfg.AllowedOrigins})
	if err != nil {
		return nil, err
	}
	ready := []server.ReadyCheck{
		{Name: "database", Check: c.db.Ping},
		{Name: "search index", Check: func(context.Context) error { return c.faq.Ping() }},
		{Name: "ticket index", Check: func(context.Context) error { return c.tix.PingIndex() }},
	}
	if c.rdb != nil {
		ready = append(ready, server.ReadyCheck{Name: "redis", Check: func(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }})
	}
	return server.New(server.Deps{
		Config:   c.cfg,
		Logger:   c.log,
		Now:      c.now,
		Registry: c.reg,
		Schedule: c.sche,
		Presence: chatSvc,
		Ready:    ready,
		Chat: chat.NewHandlers(chatSvc, chat.HandlerOptions{
			PublicURL:      c.cfg.PublicURL.String(),
			AllowedOrigins: c.cfg.AllowedOrigins,
		}),
		Auth:     auth.NewHandlers(c.auth),
		KB:       kb.NewHandlers(c.kb, render, auth.IsAdmin),
		FAQ:      faq.NewHandlers(c.faq),
		Tickets:  tickets.NewHandlers(c.tix),
		Settings: settings.NewHandlers(c.set),
		Reports:  reports.NewHandlers(reports.New(c.db, reports.Options{Zone: c.sche, Queues: queues, Now: c.now})),
		Console:  agentPages,
		Pages:    pages,
		Widget:   chatWidget,
	}), nil
}

// articleAudit writes knowledge-base edits into the security audit log.
type articleAudit struct {
	auth *auth.Service
	log  *slog.Logger
}

func (a articleAudit) ArticleChanged(ctx context.Context, action, slug string) {
	if err := a.auth.Record(ctx, auth.Event{Action: action, Target: "article:" + slug}); err != nil {
		a.log.ErrorContext(ctx, "audit: record article change", "action", action, "slug", slug, "err", err)
	}
}

// displayAddr turns a listen address into one a person can click: an
// unspecified host (":8080", "[::]:8080") becomes localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func reindex(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, done, err := loadConfig("reindex", args, getenv, stderr)
	if done || err != nil {
		return err
	}
	c, err := openCore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	fmt.Fprintln(stdout, "rebuilding the FAQ search index")
	if err := c.faq.Rebuild(ctx, tenPercent(stdout, "faq", " articles")); err != nil {
		return fmt.Errorf("reindex faq: %w", err)
	}
	n, _ := c.faq.DocCount()
	fmt.Fprintf(stdout, "done: faq index holds %d articles\n", n)

	fmt.Fprintln(stdout, "rebuilding the ticket search index")
	if err := c.tix.Reindex(ctx, tenPercent(stdout, "tickets", "")); err != nil {
		return fmt.Errorf("reindex tickets: %w", err)
	}
	fmt.Fprintln(stdout, "done: ticket index rebuilt")
	return nil
}

// tenPercent is a progress callback that prints a line at every tenth of
// the work and at the end: "  label: done/total unit (pct%)".
func tenPercent(w io.Writer, label, unit string) func(done, total int) {
	last := -1
	return func(done, total int) {
		pct := 100
		if total > 0 {
			pct = done * 100 / total
		}
		if pct != last && (pct%10 == 0 || done == total) {
			fmt.Fprintf(w, "  %s: %d/%d%s (%d%%)\n", label, done, total, unit, pct)
			last = pct
		}
	}
}
