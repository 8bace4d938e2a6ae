package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"strings"
	"time"

	"github.com/printshop/helpdesk/chat"
	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/mail"
	"github.com/printshop/helpdesk/kb"
	"github.com/printshop/helpdesk/tickets"
)

// redisPrefix namespaces every Redis key and channel of the helpdesk, so a
// shop's Redis can be shared with other software.
const redisPrefix = "helpdesk:"

// openChat starts the live-chat service over an opened core: presence and
// fan-out in Redis when --redis is set, in-process otherwise. The caller
// must Close it (before shutting the HTTP server down).
func openChat(c *core) (*chat.Service, error) {
	opts := chat.Options{
		Store:      chat.NewSQLiteStore(c.db),
		Schedule:   c.sche,
		Tickets:    chatTickets{c.tix},
		Suggester:  c.faq,
		Mailer:     chatMailer{c.tix},
		Logger:     c.log,
		Now:        c.now,
		Registerer: c.reg,
		NodeID:     fmt.Sprintf("node-%d", c.node.Slot),
		NodeEvents: c.faqSync.receive,
	}
	if c.rdb != nil {
		opts.Broker = chat.NewRedisBroker(c.rdb, chat.RedisBrokerOptions{Prefix: redisPrefix})
		opts.Presence = chat.NewRedisPresence(c.rdb, redisPrefix, 0, c.now)
	}
	svc, err := chat.New(opts)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	c.faqSync.publish = svc.PublishNode
	return svc, nil
}

// chatTickets files a message a customer left while chat was closed as a
// ticket in the Customer Service queue, by passing it through the same
// pipeline as email: it is acknowledged and answered by email, threads
// like email, and is stored durably before leave_message is answered.
type chatTickets struct{ tix *tickets.Service }

func (t chatTickets) CreateFromChat(ctx context.Context, m chat.OfflineMessage) (int64, error) {
	inbox := t.tix.Inboxes()[0]
	for _, in := range t.tix.Inboxes() {
		if in.Queue == "Customer Service" {
			inbox = in
			break
		}
	}
	subject := "Message from the website chat"
	if first, _, _ := strings.Cut(strings.TrimSpace(m.Text), "\n"); first != "" {
		subject = truncate(first, 80)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s <%s>\r\n", mime.QEncoding.Encode("utf-8", m.Name), m.Email)
	fmt.Fprintf(&b, "To: <%s>\r\n", inbox.Address)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Message-ID: <chat-offline-%d-%d@helpdesk.invalid>\r\n", m.ConversationID, m.At.UnixNano())
	fmt.Fprintf(&b, "Date: %s\r\n", m.At.Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	res, err := t.tix.Ingest(ctx, []string{inbox.Address}, m.Email, []byte(b.String()))
	if err != nil {
		return 0, err
	}
	return res.TicketID, nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// chatMailer emails a chat transcript through the tickets' outbound queue.
type chatMailer struct{ tix *tickets.Service }

func (m chatMailer) SendTranscript(ctx context.Context, to string, convo chat.Conversation, msgs []chat.Message) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Here is the transcript of your chat with us (conversation %d).\n\n", convo.ID)
	for _, msg := range msgs {
		fmt.Fprintf(&b, "[%s] %s: %s\n", msg.At.UTC().Format("2006-01-02 15:04 UTC"), msg.Author, msg.Text)
	}
	b.WriteString("\nThank you for contacting us.\n")
	return m.tix.SendNotice(ctx, mail.Address{Name: convo.CustomerName, Address: to}, fmt.Sprintf("Your chat transcript (conversation %d)", convo.ID), b.String())
}

// faqSync keeps every node's FAQ index in step with article edits made on
// any node. Edits go to the local index at once (kb.Indexer) and are
// announced over the chat broker's node channel; other nodes reload the
// article from the shared database and update their own index. A missed
// announcement (Redis down) leaves a node's index stale until its next
// restart or `helpdesk reindex`; the database stays right.
type faqSync struct {
	local   *faq.Index
	kb      *kb.Service
	node    string
	log     *slog.Logger
	publish func(ctx context.Context, data []byte) error // set once chat is open
	events  chan faqEvent
}

type faqEvent struct {
	Node string `json:"node"`
	Slug string `json:"slug"`
}

func newFAQSync(local *faq.Index, k *kb.Service, node string, log *slog.Logger) *faqSync {
	return &faqSync{local: local, kb: k, node: node, log: log, events: make(chan faqEvent, 256)}
}

func (f *faqSync) Upsert(ctx context.Context, a kb.Article) error {
	err := f.local.Upsert(ctx, a)
	f.announce(ctx, a.Slug)
	return err
}

func (f *faqSync) Remove(ctx context.Context, slug string) error {
	err := f.local.Remove(ctx, slug)
	f.announce(ctx, slug)
	return err
}

func (f *faqSync) announce(ctx context.Context, slug string) {
	if f.publish == nil {
		return
	}
	data, _ := json.Marshal(faqEvent{Node: f.node, Slug: slug})
	if err := f.publish(ctx, data); err != nil {
		f.log.WarnContext(ctx, "faq: announce article change to other nodes", "slug", slug, "err", err)
	}
}

// receive is chat's NodeEvents callback: it must not block, so events go
// to run's goroutine; when that falls 256 events behind, the event is
// dropped and logged.
func (f *faqSync) receive(data []byte) {
	var ev faqEvent
	if json.Unmarshal(data, &ev) != nil || ev.Node == f.node || !kb.ValidSlug(ev.Slug) {
		return
	}
	select {
	case f.events <- ev:
	default:
		f.log.Warn("faq: dropped an article change from another node", "slug", ev.Slug)
	}
}

// run applies other nodes' article changes until ctx ends.
func (f *faqSync) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-f.events:
			a, err := f.kb.Get(ctx, ev.Slug, true)
			switch {
			case err == nil && a.Published:
				err = f.local.Upsert(ctx, a)
			case err == nil || err == kb.ErrNotFound:
				err = f.local.Remove(ctx, ev.Slug)
			}
			if err != nil {
				f.log.Error("faq: apply article change from another node", "slug", ev.Slug, "err", err)
			}
		}
	}
}
