package tickets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/internal/mail"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// Sender delivers one composed message. mail.Outbox and mail.Relay (any
// mail.Sender) implement it; it is declared here, where it is used, so that
// tests can fake it. An error that wraps *mail.PermanentError means retrying
// cannot help.
type Sender interface {
	Send(ctx context.Context, envelopeFrom string, to []string, raw []byte) error
}

// The mail package's implementations fit where this package uses them.
var (
	_ mail.Deliverer = (*Service)(nil)
	_ Sender         = (*mail.Outbox)(nil)
	_ Sender         = (*mail.Relay)(nil)
	_ Sender         = mail.Sender(nil)
)

// Inbox is one inbound address and the queue it feeds.
type Inbox struct {
	Address string // e.g. support@example.com; matched case-insensitively
	Queue   string // e.g. Customer Service
}

// DefaultSLAFirstResponse is the first-response target, in support hours,
// for a queue without its own.
const DefaultSLAFirstResponse = 4 * time.Hour

// AbuseQueue is the default name of the queue whose mail is not
// acknowledged: answering abuse reports automatically mostly answers the
// forged senders of spam.
const AbuseQueue = "Abuse Reports"

// Caps on automatic mail (acknowledgements) to one recipient, counted over
// the outbound queue in SQLite so that they hold across restarts and
// processes.
const (
	AutoMailPer10Min   = 10
	AutoMailPerHour    = 30
	defaultPoll        = 10 * time.Second
	defaultMaxAge      = 72 * time.Hour
	defaultCatchUp     = 30 * time.Second
	defaultSendTimeout = time.Minute
)

// Options configures a Service. Inboxes, DataDir and Sender are required.
type Options struct {
	Inboxes []Inbox
	DataDir string // holds mail/raw, attachments and (by default) index/tickets
	// IndexDir is where the ticket search index lives; default
	// <DataDir>/index/tickets. Processes sharing a data folder each need
	// their own, as the index is a per-process cache.
	IndexDir   string
	PublicURL  string // for the FAQ link in acknowledgements, e.g. https://help.example.com
	LoopID     string // value of mail.LoopHeader on our mail; identifies this installation; default "helpdesk.<MailDomain>"
	MailDomain string // right-hand side of our Message-IDs; default: the first inbox's domain
	// Schedule is the support hours SLA targets are counted in; nil counts
	// every hour (always open).
	Schedule *hours.Schedule
	Sender   Sender // delivers outbound mail: a mail.Outbox or mail.Relay

	Now        func() time.Time      // nil means time.Now
	Logger     *slog.Logger          // nil discards logs
	Registerer prometheus.Registerer // nil registers no metrics

	// AckEnabled switches acknowledgements per queue name. A queue not in
	// the map is acknowledged unless it is AbuseQueue.
	AckEnabled map[string]bool
	// AckText overrides the acknowledgement text per queue. Placeholders:
	// {{customer_name}}, {{ticket_id}} (digits only), {{queue}},
	// {{subject}}, {{faq_url}} and {{faq_block}} (a paragraph with the FAQ
	// link, or nothing when there is no link).
	AckText map[string]string
	// SLAFirstResponse is the first-response target per queue, in support
	// hours; missing queues get DefaultSLAFirstResponse.
	SLAFirstResponse map[string]time.Duration

	Viewers Viewers // who is looking at which ticket; nil means in-process (NewMemoryViewers)

	PollInterval   time.Duration // how often the outbound worker looks for due mail without being woken; default 10s
	OutboundMaxAge time.Duration // a message still unsent after this long fails; default 72h
	IndexCatchUp   time.Duration // how often Run indexes tickets changed by other processes; default 30s
	SendTimeout    time.Duration // bound on one Sender.Send; default 1m
}

// Service is the ticket inbox and queue. It is safe for concurrent use.
type Service struct {
	db         *sqlitedb.DB
	opts       Options
	now        func() time.Time
	log        *slog.Logger
	inboxes    []Inbox          // addresses lowercased, in configured order
	byAddr     map[string]Inbox // lowercased address -> inbox
	mailDomain string
	rawDir     string
	attDir     string
	index      *searchIndex
	iq         indexQueue // batches index updates while Run is active
	viewers    Viewers
	m          *metrics
	acks       atomic.Pointer[map[string]AckSetting] // runtime overrides by inbox address; see SetAcks

	// wake nudges the outbound worker after a commit that queued mail. It
	// holds at most one pending nudge; more would say nothing new.
	wake chan struct{}

	closeOnce sync.Once
}

// Result is what Ingest did with a message.
//
//   - A new ticket: TicketID set, Created true.
//   - A reply threaded into an existing ticket: TicketID set.
//   - A message already ingested (same Message-ID, or the same bytes when
//     it has none): Duplicate true and the TicketID it went to; nothing new
//     is stored.
//   - Our own mail coming back (loop header or one of our Message-IDs):
//     Loop true and TicketID 0. The raw message is recorded but no ticket
//     is touched, and the caller should accept it (SMTP 250): refusing it
//     would only make the other side bounce it back to us again.
type Result struct {
	TicketID  int64 `json:"ticket_id"`
	MessageID int64 `json:"-"` // the stored ticket message; 0 for duplicates and loops
	Duplicate bool  `json:"duplicate"`
	Created   bool  `json:"-"`
	Loop      bool  `json:"-"`
}

// New opens the ticket service: it checks opts, creates the data folders
// and opens (building if needed) the search index at
// <DataDir>/index/tickets. Close releases the index.
func New(db *sqlitedb.DB, opts Options) (*Service, error) {
	if db == nil {
		return nil, errors.New("tickets: database is required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("tickets: data folder is required")
	}
	if opts.Sender == nil {
		return nil, errors.New("tickets: mail sender is required")
	}
	if len(opts.Inboxes) == 0 {
		return nil, errors.New("tickets: at least one inbox is required")
	}
	// The maps are the caller's; copies keep later edits from racing
	// with the service.
	opts.AckEnabled = maps.Clone(opts.AckEnabled)
	opts.AckText = maps.Clone(opts.AckText)
	opts.SLAFirstResponse = maps.Clone(opts.SLAFirstResponse)
	s := &Service{
		db:     db,
		opts:   opts,
		now:    opts.Now,
		log:    opts.Logger,
		byAddr: map[string]Inbox{},
		wake:   make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, in := range opts.Inboxes {
		addr := strings.ToLower(strings.TrimSpace(in.Address))
		local, domain, ok := strings.Cut(addr, "@")
		if !ok || local == "" || domain == "" || strings.Contains(local, "+") {
			return nil, fmt.Errorf("tickets: inbox address %q is not a plain address like support@example.com", in.Address)
		}
		if strings.TrimSpace(in.Queue) == "" {
			return nil, fmt.Errorf("tickets: inbox %s has no queue name", addr)
		}
		if _, dup := s.byAddr[addr]; dup {
			return nil, fmt.Errorf("tickets: inbox %s is listed twice", addr)
		}
		ib := Inbox{Address: addr, Queue: strings.TrimSpace(in.Queue)}
		s.inboxes = append(s.inboxes, ib)
		s.byAddr[addr] = ib
	}
	s.mailDomain = opts.MailDomain
	if s.mailDomain == "" {
		_, s.mailDomain, _ = strings.Cut(s.inboxes[0].Address, "@")
	}
	if s.opts.LoopID == "" {
		// Every message we send must carry a loop header; without a
		// configured installation id, the mail domain names this one.
		s.opts.LoopID = "helpdesk." + s.mailDomain
	}
	if opts.PublicURL != "" {
		if u, err := url.Parse(opts.PublicURL); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("tickets: public URL %q is not an absolute URL", opts.PublicURL)
		}
	}
	if s.opts.PollInterval <= 0 {
		s.opts.PollInterval = defaultPoll
	}
	if s.opts.OutboundMaxAge <= 0 {
		s.opts.OutboundMaxAge = defaultMaxAge
	}
	if s.opts.IndexCatchUp <= 0 {
		s.opts.IndexCatchUp = defaultCatchUp
	}
	if s.opts.SendTimeout <= 0 {
		s.opts.SendTimeout = defaultSendTimeout
	}
	s.viewers = opts.Viewers
	if s.viewers == nil {
		s.viewers = NewMemoryViewers(s.now)
	}
	s.rawDir = filepath.Join(opts.DataDir, "mail", "raw")
	s.attDir = filepath.Join(opts.DataDir, "attachments")
	for _, d := range []string{s.rawDir, s.attDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("tickets: %w", err)
		}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s.m = m
	indexDir := opts.IndexDir
	if indexDir == "" {
		indexDir = filepath.Join(opts.DataDir, "index", "tickets")
	}
	ix, err := openIndex(indexDir, db, s.log)
	if err != nil {
		m.unregister(opts.Registerer)
		return nil, err
	}
	s.index = ix
	return s, nil
}

// Close closes the search index. The Service must not be used afterwards;
// Run should have returned first.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.index.Close() })
	return err
}

// Run runs the background workers until ctx ends and then returns nil:
//
//   - the outbound worker, which sends queued mail through the Sender. It
//     is woken as soon as a reply or acknowledgement is committed and
//     otherwise looks for due mail every PollInterval (retries whose time
//     has come, and mail queued by another process or before a restart).
//   - the index catch-up, which every IndexCatchUp indexes tickets changed
//     since it last looked, so that changes made by another process sharing
//     the database reach this process's search index.
//   - the indexer, which indexes this process's own changes in batches
//     (see indexQueue); it finishes what was queued before it exits.
//
// All three goroutines exit when ctx is done; Run waits for them, so no work of
// the Service runs after Run returns. A message being sent when ctx ends is
// left 'sending' with a lease and sent again after the lease expires (at
// least once). Run must be called at most once per Service.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.outboundLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		s.indexLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.opts.IndexCatchUp)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.index.catchUp(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("tickets: search index catch-up", "err", err)
				}
			}
		}
	}()
	wg.Wait()
	return nil
}

// Reindex rebuilds the ticket search index from the database, for the
// reindex command. progress, if not nil, is called after each batch.
func (s *Service) Reindex(ctx context.Context, progress func(done, total int)) error {
	return s.index.Rebuild(ctx, progress)
}

// PingIndex reports whether ticket search is usable, for /readyz.
func (s *Service) PingIndex() error { return s.index.Ping() }

// nudge wakes the outbound worker without blocking.
func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Inboxes returns the configured inboxes, addresses lowercased.
func (s *Service) Inboxes() []Inbox { return append([]Inbox(nil), s.inboxes...) }

// inboxFor returns the inbox an address belongs to, directly or in its plus
// form (support+anything@example.com), and the plus tag.
func (s *Service) inboxFor(addr string) (Inbox, string, bool) {
	a := strings.ToLower(strings.TrimSpace(addr))
	a = strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">")
	if in, ok := s.byAddr[a]; ok {
		return in, "", true
	}
	base, tag := mail.SplitPlus(a)
	if in, ok := s.byAddr[strings.ToLower(base)]; ok && tag != "" {
		return in, tag, true
	}
	return Inbox{}, "", false
}

// isOurAddress reports whether addr is one of our inboxes or a plus form of
// one.
func (s *Service) isOurAddress(addr string) bool {
	_, _, ok := s.inboxFor(addr)
	return ok
}

// plusAddress is the Reply-To of mail about ticket id: replies to it thread
// into the ticket even when the subject token and headers are lost.
func plusAddress(inbox string, id int64) string {
	local, domain, _ := strings.Cut(inbox, "@")
	return fmt.Sprintf("%s+t%d@%s", local, id, domain)
}

// Accepts reports whether mail to rcpt is ours: an inbox address, any case,
// or its plus form. It implements mail.Deliverer.
func (s *Service) Accepts(rcpt string) bool { return s.isOurAddress(rcpt) }

// Deliver ingests a message received by the SMTP server. It implements
// mail.Deliverer; a nil error means the message is committed.
func (s *Service) Deliver(ctx context.Context, envelopeFrom string, rcpts []string, raw []byte) error {
	_, err := s.Ingest(ctx, rcpts, envelopeFrom, raw)
	return err
}

// metrics are the service's Prometheus instruments. They work (and count
// into nothing) when no Registerer was given.
type metrics struct {
	ingested *prometheus.CounterVec // by outcome
	outbound *prometheus.CounterVec // by result
	ackSkip  *prometheus.CounterVec // by reason
	ingestS  prometheus.Histogram
	all      []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_tickets_inbound_messages_total",
			Help: "Inbound email messages by outcome: created, threaded, duplicate, loop.",
		}, []string{"outcome"}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_tickets_outbound_attempts_total",
			Help: "Outbound email send attempts by result: sent, retry, failed.",
		}, []string{"result"}),
		ackSkip: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_tickets_ack_skipped_total",
			Help: "Acknowledgements not sent, by reason.",
		}, []string{"reason"}),
		ingestS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "helpdesk_tickets_ingest_duration_seconds",
			Help:    "Time to store one inbound message, from receipt to commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}),
	}
	m.all = []prometheus.Collector{m.ingested, m.outbound, m.ackSkip, m.ingestS}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.all {
		if err := reg.Register(c); err != nil {
			for _, done := range m.all[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("tickets: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range m.all {
		reg.Unregister(c)
	}
}
