package chat

import (
	"context"
	"time"
)

// Store is the durable side of chat. Every method that changes state does
// so in one transaction and is safe to call from several processes sharing
// the database: sequence numbers, the queue and assignments are decided
// inside those transactions, never from a node's memory.
//
// NewSQLiteStore implements it; the interface exists so that a PostgreSQL
// store (SELECT ... FOR UPDATE instead of BEGIN IMMEDIATE) can carry it
// later without touching the service.
type Store interface {
	// CreateVisitor stores a new visitor identified by the SHA-256 of its
	// token and returns its id.
	CreateVisitor(ctx context.Context, tokenHash []byte, now time.Time) (int64, error)
	// VisitorByToken returns the id of the visitor with that token hash, or
	// ErrBadVisitor.
	VisitorByToken(ctx context.Context, tokenHash []byte) (int64, error)

	// OpenConversation returns the visitor's newest conversation that is
	// not closed, updating the customer's name and email when given, or
	// starts a new one.
	OpenConversation(ctx context.Context, visitorID int64, name, email string, now time.Time) (Conversation, error)
	// Conversation returns one conversation or ErrNotFound.
	Conversation(ctx context.Context, id int64) (Conversation, error)
	// VisitorConversations lists a visitor's conversations, newest first.
	VisitorConversations(ctx context.Context, visitorID int64) ([]Conversation, error)
	// ConversationsByEmail lists the conversations of a customer email,
	// newest first.
	ConversationsByEmail(ctx context.Context, email string, limit int) ([]Conversation, error)
	// AgentConversations lists the conversations assigned to an agent and
	// still active.
	AgentConversations(ctx context.Context, agentID int64) ([]Conversation, error)
	// PendingOffers lists the conversations currently offered to an agent.
	PendingOffers(ctx context.Context, agentID int64) ([]Offer, error)

	// Append stores a message, assigning the next seq of its conversation,
	// and applies what a message means for the conversation (see
	// NewMessage). A client id seen before from the same sender returns
	// the stored message with Duplicate set.
	Append(ctx context.Context, m NewMessage, now time.Time) (AppendResult, error)
	// Messages returns up to limit messages with seq > afterSeq, in order.
	Messages(ctx context.Context, conversationID, afterSeq int64, limit int) ([]Message, error)

	// Route applies the routing policy once (see RouteInput) and returns
	// the offers it made and withdrew.
	Route(ctx context.Context, in RouteInput) ([]RouteChange, error)
	// NeedsRouting reports cheaply, without taking the write lock, whether
	// Route could change anything for the given online agents.
	NeedsRouting(ctx context.Context, in RouteInput) (bool, error)
	// Accept assigns a conversation offered to agent (ErrOfferGone when the
	// offer expired or went to someone else) and stores a system message.
	Accept(ctx context.Context, conversationID int64, agent AgentRef, now time.Time) (Conversation, Message, error)
	// Decline gives an offer back so that routing moves on.
	Decline(ctx context.Context, conversationID, agentID int64, now time.Time) error
	// Transfer moves an active conversation from one agent to another, or
	// back to the queue when to.ID is 0, and stores a system message.
	Transfer(ctx context.Context, conversationID, fromAgent int64, to AgentRef, capacity int, now time.Time) (Conversation, Message, error)
	// Close ends a conversation and stores a system message. By is who
	// ended it; agentID must be the assigned agent when By is FromAgent.
	// It returns the agent whose pending offer it withdrew, if any.
	Close(ctx context.Context, conversationID int64, by From, agent AgentRef, now time.Time) (CloseResult, error)
	// Queue lists the waiting conversations in queue order.
	Queue(ctx context.Context) ([]QueueEntry, error)
	// SeenCustomers records that the customers of these conversations
	// still have a socket open (see ReclaimInput). Conversations that are
	// neither waiting nor active are left alone.
	SeenCustomers(ctx context.Context, conversationIDs []int64, now time.Time) error
	// Reclaim applies the policy of ReclaimInput once.
	Reclaim(ctx context.Context, in ReclaimInput) (ReclaimResult, error)
	// NeedsReclaim reports cheaply, without taking the write lock, whether
	// Reclaim could change anything.
	NeedsReclaim(ctx context.Context, in ReclaimInput) (bool, error)
	// HandleTimes returns the durations (assigned to closed) of up to n
	// recently closed conversations.
	HandleTimes(ctx context.Context, since time.Time, n int) ([]time.Duration, error)

	// MarkRead raises the customer's or the agent's read marker; it never
	// lowers it, and returns the marker now stored.
	MarkRead(ctx context.Context, conversationID int64, by From, seq int64, now time.Time) (int64, error)
	// Rate stores the customer's rating.
	Rate(ctx context.Context, conversationID int64, score int, comment string, now time.Time) error
	// ArticleOpened records that the customer opened a suggested article.
	ArticleOpened(ctx context.Context, conversationID int64, slug string, now time.Time) error
	// OfflineTicket returns the ticket made for a leave_message with this
	// client id, if there is one.
	OfflineTicket(ctx context.Context, conversationID int64, clientID string) (int64, bool, error)
	// SaveOfflineTicket records the ticket made for a leave_message.
	SaveOfflineTicket(ctx context.Context, conversationID int64, clientID string, ticketID int64, now time.Time) error
	// SetCustomerEmail stores the email of a conversation that has none.
	SetCustomerEmail(ctx context.Context, conversationID int64, email string, now time.Time) error

	// SaveAttachment stores an uploaded file and returns its id. A
	// customer's upload (Uploader "customer") is refused with
	// ErrTooManyFiles or ErrFilesTooLarge when the conversation already
	// holds MaxCustomerFiles of theirs or it would take their bytes past
	// MaxCustomerBytes; the check and the insert are one transaction.
	SaveAttachment(ctx context.Context, a Attachment) (int64, error)
	// Attachment returns an attachment with its data, or ErrAttachmentNotFound.
	Attachment(ctx context.Context, id int64) (Attachment, error)

	// AgentName returns the name of an active agent, or ErrAgentNotFound.
	AgentName(ctx context.Context, agentID int64) (string, error)
}

// AgentRef names an agent acting on a conversation.
type AgentRef struct {
	ID   int64
	Name string
}

// NewMessage is a message to store.
//
// For FromCustomer: a closed conversation refuses it (ErrClosed); an open
// one moves into the queue when EnterQueue is set and refuses it with
// ErrUnavailable otherwise. For FromAgent: the conversation must be active
// and assigned to AgentID (ErrNotAssigned). The duplicate check comes first,
// so a resent message is re-acked whatever happened since.
type NewMessage struct {
	ConversationID int64
	From           From
	AgentID        int64
	Author         string
	ClientID       string
	Text           string
	Attachments    []int64
	EnterQueue     bool
}

// AppendResult is what Append did.
type AppendResult struct {
	Message   Message
	Duplicate bool // the client id was seen before; Message is the original
	Queued    bool // this message put the conversation in the queue
}

// CloseResult is what Close did.
type CloseResult struct {
	Conversation Conversation
	Message      Message
	WithdrawnTo  int64 // agent whose pending offer was withdrawn, or 0
}

// ReclaimInput is what one reclaim pass knows about the world outside the
// database. Reclaiming frees chats whose people are gone:
//
//   - An active chat whose agent has no live connection (is not in
//     Connected; or whose agent account was deleted) is marked from Now;
//     the mark goes when the agent is back. A chat marked for AgentGone or
//     longer goes back to the queue, keeping its place, with a system
//     message; its customer counts as seen at Now.
//   - A waiting chat whose customer was last seen (hello, a message, or
//     SeenCustomers) CustomerGone or longer ago is closed by the system,
//     with a system message; a pending offer for it is withdrawn.
type ReclaimInput struct {
	Connected    []int64 // agents with a live connection, whatever their status
	AgentGone    time.Duration
	CustomerGone time.Duration
	Now          time.Time
}

// ReclaimResult is what Reclaim did.
type ReclaimResult struct {
	Requeued  []Requeued    // active chats back in the queue
	Abandoned []CloseResult // waiting chats closed
}

// Requeued is an active chat that went back to the queue.
type Requeued struct {
	Conversation Conversation
	AgentID      int64   // the agent it was taken from (0: account deleted)
	Message      Message // the system message saying so
}

// RouteInput is what one routing pass knows about the world outside the
// database.
//
// The policy: first, offers that expired or whose agent is no longer
// online are withdrawn. Then waiting conversations without an offer are
// taken in queue order (queued_at, id) and each is offered to the online
// agent with room under Capacity (active chats plus pending offers)
// preferring, in order, agents offered this conversation fewer times, then
// agents with fewer chats, then the lower agent id.
type RouteInput struct {
	Online       []int64 // agents whose status is online
	Capacity     int
	OfferTimeout time.Duration
	Now          time.Time
}

// RouteChange is one offer made or withdrawn by Route.
type RouteChange struct {
	Offered bool   // true: Offer was made; false: it was withdrawn
	Reason  string // why an offer was withdrawn: "timeout" or "offline"
	Offer   Offer
}

// Offer is a waiting conversation offered to one agent.
type Offer struct {
	ConversationID int64
	AgentID        int64
	CustomerName   string
	Preview        string // start of the customer's first message
	WaitingSince   time.Time
	ExpiresAt      time.Time
}

// QueueEntry is one waiting conversation.
type QueueEntry struct {
	ConversationID int64
	QueuedAt       time.Time
}
