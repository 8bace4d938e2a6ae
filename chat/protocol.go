package chat

import (
	"encoding/json"
	"time"
)

// Frame types a client sends. See docs/chat-protocol.md for each one's
// fields and answers.
const (
	inHello         = "hello"
	inMessage       = "message"
	inTyping        = "typing"
	inRead          = "read"
	inClose         = "close"
	inRating        = "rating"
	inTranscript    = "transcript"
	inLeaveMessage  = "leave_message"
	inArticleOpened = "article_opened"
	inSync          = "sync"
	inStatus        = "status"
	inAccept        = "accept"
	inDecline       = "decline"
	inTransfer      = "transfer"
	inPing          = "ping"
)

// inFrame is every client frame: one struct, decoded once, with the fields
// of all types (unused ones stay zero).
type inFrame struct {
	Type         string  `json:"type"`
	Visitor      string  `json:"visitor"`
	Name         string  `json:"name"`
	Email        string  `json:"email"`
	AfterSeq     int64   `json:"after_seq"`
	ClientID     string  `json:"client_id"`
	Text         string  `json:"text"`
	Attachments  []int64 `json:"attachments"`
	Conversation int64   `json:"conversation"`
	Status       string  `json:"status"`
	Seq          int64   `json:"seq"`
	Score        int     `json:"score"`
	Comment      string  `json:"comment"`
	ToAgentID    int64   `json:"to_agent_id"`
	Queue        bool    `json:"queue"`
	Slug         string  `json:"slug"`
}

// Error codes sent in error frames.
const (
	codeUnknownType  = "unknown_type"
	codeBadFrame     = "bad_frame"
	codeHelloFirst   = "hello_required"
	codeInvalid      = "invalid"
	codeRateLimited  = "rate_limited"
	codeUnavailable  = "chat_unavailable"
	codeClosed       = "conversation_closed"
	codeNotAssigned  = "not_assigned"
	codeOfferGone    = "offer_gone"
	codeNotFound     = "not_found"
	codeAgentBusy    = "agent_busy"
	codeNotSupported = "not_supported"
	codeInternal     = "internal"
)

type errorFrame struct {
	Type     string `json:"type"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	ClientID string `json:"client_id,omitempty"`
	Ref      string `json:"ref,omitempty"` // the type of the frame that failed
}

type welcomeFrame struct {
	Type          string `json:"type"`
	Visitor       string `json:"visitor"`
	Conversation  int64  `json:"conversation"`
	ChatAvailable bool   `json:"chat_available"`
	Status        Status `json:"status"`
	LastSeq       int64  `json:"last_seq"`
}

type agentWelcomeFrame struct {
	Type          string    `json:"type"`
	Agent         agentJSON `json:"agent"`
	Status        string    `json:"status"`
	ChatAvailable bool      `json:"chat_available"`
}

type agentJSON struct {
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
}

type customerJSON struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

type closedFrame struct {
	Type     string `json:"type"`
	Reason   string `json:"reason"`              // outside_hours or no_agents
	NextOpen string `json:"next_open,omitempty"` // RFC3339; empty when unknown
}

type ackFrame struct {
	Type      string `json:"type"`
	ClientID  string `json:"client_id"`
	Seq       int64  `json:"seq"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

type attachmentJSON struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

type messageFrame struct {
	Type         string           `json:"type"`
	Conversation int64            `json:"conversation"`
	Seq          int64            `json:"seq"`
	From         From             `json:"from"`
	Author       string           `json:"author"`
	Text         string           `json:"text"`
	At           string           `json:"at"`
	ClientID     string           `json:"client_id,omitempty"`
	Attachments  []attachmentJSON `json:"attachments,omitempty"`
}

// rfc3339 formats times in frames: RFC 3339 in UTC with milliseconds.
func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func messageJSON(m Message) messageFrame {
	f := messageFrame{Type: "message", Conversation: m.ConversationID, Seq: m.Seq, From: m.From,
		Author: m.Author, Text: m.Text, At: rfc3339(m.At), ClientID: m.ClientID}
	for _, a := range m.Attachments {
		f.Attachments = append(f.Attachments, attachmentJSON{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, URL: a.URL()})
	}
	return f
}

func encodeMessage(m Message) []byte { return mustJSON(messageJSON(m)) }

type queueFrame struct {
	Type                 string `json:"type"`
	Conversation         int64  `json:"conversation"`
	Position             int    `json:"position"`
	EstimatedWaitSeconds int    `json:"estimated_wait_seconds"`
}

type assignedCustomerFrame struct {
	Type         string    `json:"type"`
	Conversation int64     `json:"conversation"`
	Agent        agentJSON `json:"agent"`
}

type assignedAgentFrame struct {
	Type         string       `json:"type"`
	Conversation int64        `json:"conversation"`
	Customer     customerJSON `json:"customer"`
	Status       Status       `json:"status"`
	LastSeq      int64        `json:"last_seq"`
	Transferred  bool         `json:"transferred,omitempty"`
}

type unassignedFrame struct {
	Type         string `json:"type"`
	Conversation int64  `json:"conversation"`
	Reason       string `json:"reason"`
}

type offerFrame struct {
	Type         string       `json:"type"`
	Conversation int64        `json:"conversation"`
	Customer     customerJSON `json:"customer"`
	Preview      string       `json:"preview"`
	WaitingSince string       `json:"waiting_since"`
	ExpiresAt    string       `json:"expires_at"`
}

type offerWithdrawnFrame struct {
	Type         string `json:"type"`
	Conversation int64  `json:"conversation"`
	Reason       string `json:"reason"` // timeout, offline, declined, closed
}

type endedFrame struct {
	Type         string `json:"type"`
	Conversation int64  `json:"conversation"`
	By           From   `json:"by"`
}

type typingFrame struct {
	Type         string `json:"type"`
	Conversation int64  `json:"conversation"`
	From         From   `json:"from"`
	Author       string `json:"author,omitempty"`
}

type readFrame struct {
	Type         string `json:"type"`
	Conversation int64  `json:"conversation"`
	By           From   `json:"by"`
	Seq          int64  `json:"seq"`
}

type suggestionsFrame struct {
	Type     string           `json:"type"`
	Articles []suggestionJSON `json:"articles"`
}

type suggestionJSON struct {
	Slug  string `json:"slug"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

type statusFrame struct {
	Type   string `json:"type"`
	Status string `json:"status"`
}

type simpleFrame struct {
	Type         string `json:"type"`
	Conversation int64  `json:"conversation,omitempty"`
	TicketID     int64  `json:"ticket_id,omitempty"`
	Score        int    `json:"score,omitempty"`
	Email        string `json:"email,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own frame structs are marshalled; they cannot fail.
		panic("chat: marshal frame: " + err.Error())
	}
	return b
}

// Event kinds carried by the broker.
const (
	evMessage  = "msg"      // a stored message: Conv, Seq, Frame
	evFrame    = "frame"    // a frame to pass on as is
	evAssign   = "assign"   // agent topic: subscribe to Conv, send Frame, then its messages
	evUnassign = "unassign" // agent topic: send Frame, stop following Conv
	evEnd      = "end"      // conversation topic: Conv ended; agents stop following it
	evNode     = "node"     // node topic: application event (search-index invalidation)
	evResync   = "resync"   // node topic: a node failed to publish; everyone re-reads
)

// Audiences an event may be limited to.
const (
	toCustomer = "customer"
	toAgent    = "agent"
)

// event is what travels through the broker. Frames are encoded once, by
// the publisher.
type event struct {
	Kind  string          `json:"k"`
	Conv  int64           `json:"c,omitempty"`
	Seq   int64           `json:"s,omitempty"`
	To    string          `json:"to,omitempty"` // audience; "" means everyone
	Skip  string          `json:"x,omitempty"`  // connection id that must not get it
	Frame json.RawMessage `json:"f,omitempty"`
	Data  []byte          `json:"d,omitempty"` // evNode payload
}

// Topics.
func convTopic(id int64) string  { return "c:" + itoa(id) }
func agentTopic(id int64) string { return "a:" + itoa(id) }

const nodeTopic = "node"
