// Package chat is the shop's live chat: customers talk to agents over
// websockets during support hours, and leave a message (which becomes a
// ticket) the rest of the time.
//
// The pieces, each in its own file:
//
//   - chat.go: the domain types, errors and the interfaces chat consumes
//     (TicketCreator, Suggester, Mailer).
//   - store.go, sqlite.go: Store, the durable record of visitors,
//     conversations, messages, offers and attachments. SQLite is the source
//     of truth for everything that must survive: message sequence numbers,
//     the queue and who is assigned to what.
//   - broker.go, hub.go, redis.go: Broker, the fan-out of events between
//     nodes (in process, or Redis pub/sub), and the hub that hands events to
//     the connections of this node.
//   - presence.go, redis.go: Presence, which agents are online, shared
//     between nodes; viewers.go: the "who is viewing this ticket" registry.
//   - service.go, routing.go, customer.go, agent.go: the rules.
//   - conn.go: one websocket connection: its single writer goroutine, its
//     bounded send queue, rate limit and per-conversation delivery cursor.
//   - http.go: the Fiber handlers (upgrade checks, sockets, the small JSON
//     API and attachments).
//
// The delivery guarantee: a message is acknowledged only after the
// transaction that stored it committed. Every connection remembers, per
// conversation, the last sequence number it delivered; live events are
// only a hint, and whenever one is missing (a gap in the sequence, a
// resubscription after Redis restarted) the connection reads the rest from
// the database. So an acknowledged message is delivered to every connected
// participant exactly once and in order, whatever the broker loses.
//
// The wire protocol is documented in docs/chat-protocol.md.
package chat

import (
	"context"
	"time"

	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/apperr"
)

// Status is where a conversation is in its life.
type Status string

// The conversation statuses. A conversation is open from the customer's
// hello until their first message, which puts it in the queue (waiting);
// it becomes active when an agent accepts it and closed when either side
// ends it.
const (
	StatusOpen    Status = "open"
	StatusWaiting Status = "waiting"
	StatusActive  Status = "active"
	StatusClosed  Status = "closed"
)

// From says who wrote a message.
type From string

// The message authors.
const (
	FromCustomer From = "customer"
	FromAgent    From = "agent"
	FromSystem   From = "system"
)

// Conversation is one chat between a customer and the shop.
type Conversation struct {
	ID              int64     `json:"id"`
	VisitorID       int64     `json:"-"`
	CustomerName    string    `json:"customer_name"`
	CustomerEmail   string    `json:"customer_email"` // lowercased; "" when not given
	Status          Status    `json:"status"`
	AgentID         int64     `json:"agent_id,omitempty"` // assigned agent while active, last one after
	OfferedTo       int64     `json:"-"`                  // agent holding a pending offer, while waiting
	OfferExpiresAt  time.Time `json:"-"`
	LastSeq         int64     `json:"last_seq"`
	CustomerReadSeq int64     `json:"customer_read_seq"`
	AgentReadSeq    int64     `json:"agent_read_seq"`
	AgentJoined     bool      `json:"agent_joined"`   // an agent accepted it at some point
	ArticleOpened   bool      `json:"article_opened"` // the customer opened a suggested article
	Deflected       bool      `json:"deflected"`      // ended after a suggestion, without an agent
	Rating          int       `json:"rating,omitempty"`
	RatingComment   string    `json:"rating_comment,omitempty"`
	TicketID        int64     `json:"ticket_id,omitempty"` // ticket made from leave_message
	ClosedBy        From      `json:"closed_by,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	QueuedAt        time.Time `json:"queued_at,omitzero"`
	AssignedAt      time.Time `json:"assigned_at,omitzero"`
	ClosedAt        time.Time `json:"closed_at,omitzero"`
}

// Message is one stored chat message. Seq numbers a conversation's
// messages from 1 without gaps.
type Message struct {
	ConversationID int64           `json:"conversation"`
	Seq            int64           `json:"seq"`
	From           From            `json:"from"`
	AgentID        int64           `json:"agent_id,omitempty"`
	Author         string          `json:"author"`
	ClientID       string          `json:"client_id,omitempty"`
	Text           string          `json:"text"`
	Attachments    []AttachmentRef `json:"attachments,omitempty"`
	At             time.Time       `json:"at"`
}

// AttachmentRef is what a message says about a file it carries.
type AttachmentRef struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// URL is where the attachment is served.
func (a AttachmentRef) URL() string { return AttachmentURL(a.ID) }

// AttachmentURL is the address of the attachment with the given id.
func AttachmentURL(id int64) string { return "/api/chat/attachments/" + itoa(id) }

// Attachment is an uploaded file.
type Attachment struct {
	AttachmentRef
	ConversationID int64
	Uploader       string // "customer" or "agent:<id>"
	Data           []byte
	CreatedAt      time.Time
}

// OfflineMessage is what a customer leaves while chat is not available.
// TicketCreator turns it into a ticket answered by email.
type OfflineMessage struct {
	ConversationID int64
	Name           string
	Email          string // validated, lowercased
	Text           string
	At             time.Time
}

// TicketCreator files an offline message as a ticket in the Customer
// Service queue. The lead adapts package tickets to it.
type TicketCreator interface {
	CreateFromChat(ctx context.Context, m OfflineMessage) (ticketID int64, err error)
}

// Suggester finds FAQ articles for what a waiting customer is asking;
// *faq.Index's search (through a small adapter) fits it.
type Suggester interface {
	Search(ctx context.Context, q faq.Query) (faq.Results, error)
}

// Mailer emails a conversation's transcript to the customer.
type Mailer interface {
	SendTranscript(ctx context.Context, to string, convo Conversation, msgs []Message) error
}

// Limits on what people send.
const (
	MaxTextLen        = 4000 // characters in one chat message
	MaxClientIDLen    = 64
	MaxNameLen        = 100
	MaxEmailLen       = 254
	MaxOfflineTextLen = 10000
	MaxCommentLen     = 2000
	MaxAttachments    = 5 // per message
	MaxAttachmentSize = 10 << 20

	// What a customer may upload to one conversation in all: files, and
	// bytes. Agents are trusted staff and not counted.
	MaxCustomerFiles = 20
	MaxCustomerBytes = 50 << 20
)

// Errors returned by the service and the store. Callers branch on them with
// errors.Is; the socket maps each to an error code (see errorCode).
var (
	ErrNotFound           = apperr.NotFound("conversation not found")
	ErrClosed             = apperr.New(apperr.KindConflict, "this chat has ended")
	ErrUnavailable        = apperr.New(apperr.KindUnavailable, "chat is not available right now; leave a message instead")
	ErrNotAssigned        = apperr.New(apperr.KindForbidden, "this chat is not assigned to you")
	ErrOfferGone          = apperr.New(apperr.KindConflict, "this chat is no longer offered to you")
	ErrAgentNotFound      = apperr.NotFound("agent not found or not available")
	ErrAgentBusy          = apperr.New(apperr.KindConflict, "that agent has no free chat slot")
	ErrAttachmentNotFound = apperr.NotFound("attachment not found")
	ErrTooManyFiles       = apperr.New(apperr.KindTooMany, "this chat already holds the most files a customer may send (20); describe the rest in words or email us")
	ErrFilesTooLarge      = apperr.New(apperr.KindTooLarge, "the files sent in this chat would exceed 50 MiB; email us larger documents instead")
	ErrUploadRate         = apperr.New(apperr.KindTooMany, "too many uploads; wait a minute and try again")
	ErrBadVisitor         = apperr.New(apperr.KindUnauthorized, "unknown or missing visitor token")
	ErrNoTickets          = apperr.New(apperr.KindUnavailable, "leaving a message is not available")
	ErrNoMailer           = apperr.New(apperr.KindUnavailable, "emailing transcripts is not available")
	ErrNoEmail            = apperr.Invalid("an email address is needed to send the transcript")
)
