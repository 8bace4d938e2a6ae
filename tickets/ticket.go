// Package tickets is the email-to-ticket inbox and the agents' queue.
//
// Mail to one of the shop's inbox addresses becomes a ticket in that inbox's
// queue, or joins the ticket it answers; agents work the queue through the
// JSON API, and their replies go back to the customer as threaded email
// through a persistent outbound queue. The package decides what a message
// means (which ticket, whether to answer it); package internal/mail only
// knows email.
//
// Guarantees the rest of the helpdesk relies on:
//
//   - Nothing received is lost. Ingest writes the raw message to disk (fsync)
//     before anything else and commits everything one message causes in one
//     transaction before it returns, so an SMTP 250 is only given for mail
//     that is stored. (The database runs WAL with synchronous=NORMAL: a power
//     cut, unlike a crash, may take the last commits, but their raw files
//     stay in mail/raw, and inbound_raw tells which were filed.)
//   - Mail does not loop. Our own mail coming back (our loop header, or one
//     of our Message-IDs) is recorded but never becomes a ticket; mail that
//     says it is automatic (auto-replies, bounces, lists) is stored but never
//     answered; automatic answers are capped per recipient.
//   - Outbound mail is sent at least once. A reply and its email are stored
//     in the same transaction; the worker in Run marks a message sent only
//     after the Sender accepted it, so a crash between the two sends it again.
//
// # Threading
//
// An inbound message joins an existing ticket, tried in this order:
//
//  1. its In-Reply-To or References name a message we stored or sent
//     (customer mail, our replies, our acknowledgements);
//  2. its subject carries a [#1234] token and the sender (From, never
//     Reply-To) is ticket 1234's requester or a participant;
//  3. it was sent to support+t1234@ (our Reply-To), same sender rule.
//
// Otherwise it opens a new ticket in the queue of the inbox it was sent to.
// A customer message reopens a pending or solved ticket; one about a closed
// ticket opens a follow-up ticket pointing back to it (followup_of).
// Automatic mail (auto-replies, bounces) is stored without changing the
// status. A bounce also marks the outbound message it reports as failed.
//
// The Bleve ticket index is a cache of SQLite, rebuilt whenever it is
// missing, unreadable, stale or built by an older mapping.
//
// Permissions: every agent sees and works every queue. Queue-level
// permissions are a later step; the acting agent is passed to each method so
// that they can be added without changing signatures.
package tickets

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
)

// Status is where a ticket is in its life.
type Status string

// The statuses. New is only ever the initial status; closed is final.
const (
	StatusNew     Status = "new"
	StatusOpen    Status = "open"
	StatusPending Status = "pending" // waiting for the customer
	StatusSolved  Status = "solved"
	StatusClosed  Status = "closed"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusNew, StatusOpen, StatusPending, StatusSolved, StatusClosed:
		return true
	}
	return false
}

// CanBecome reports whether a ticket in status s may be moved to status to.
// Staying in the same status is always allowed (a no-op). Nothing moves back
// to new, and nothing leaves closed: a customer writing about a closed ticket
// gets a follow-up ticket instead.
func (s Status) CanBecome(to Status) bool {
	if s == to {
		return true
	}
	if s == StatusClosed || to == StatusNew || !s.Valid() || !to.Valid() {
		return false
	}
	return true
}

// Priority is how urgent a ticket is.
type Priority string

// The priorities, lowest first.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Valid reports whether p is one of the priorities.
func (p Priority) Valid() bool {
	switch p {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
		return true
	}
	return false
}

// Message kinds.
const (
	KindInbound  = "inbound"  // email from a customer (or an automatic reply, or a bounce)
	KindOutbound = "outbound" // an agent's email reply
	KindNote     = "note"     // internal, never sent
	KindChat     = "chat"     // a chat transcript line (written by package chat)
)

// Limits on what agents and the inbox may store.
const (
	MaxTextBytes      = 64 << 10 // a reply, note or canned response
	MaxMessageSize    = 25 << 20 // a raw inbound email
	MaxTags           = 20
	MaxTagLen         = 40
	MaxSubjectLen     = 500
	MaxParticipants   = 50 // per ticket
	MaxCc             = 20 // addresses in one reply's cc
	MaxCannedTitleLen = 200
	DefaultListLimit  = 25
	MaxListLimit      = 100
	maxSearchHits     = 1000 // ticket ids taken from the index for one search
)

// Person is a customer or other email correspondent.
type Person struct {
	Email string `json:"email"` // lowercased
	Name  string `json:"name"`
}

// AgentRef identifies an agent in a ticket.
type AgentRef struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Ticket is one customer request.
type Ticket struct {
	ID              int64      `json:"id"`
	Subject         string     `json:"subject"`
	Status          Status     `json:"status"`
	Queue           string     `json:"queue"`
	Priority        Priority   `json:"priority"`
	Requester       Person     `json:"requester"`
	Assignee        *AgentRef  `json:"assignee"` // null when unassigned
	Tags            []string   `json:"tags"`
	Inbox           string     `json:"inbox"`       // the address it came in to and replies come from
	FollowupOf      *int64     `json:"followup_of"` // the closed ticket this one follows up
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"` // last activity
	SLADueAt        *time.Time `json:"sla_due_at"` // first response due, in support hours
	FirstResponseAt *time.Time `json:"first_response_at"`
	SolvedAt        *time.Time `json:"solved_at"`
	ClosedAt        *time.Time `json:"closed_at"`
}

// Detail is a ticket with its conversation, as GET /api/tickets/{id} shows it.
type Detail struct {
	Ticket
	Participants []Person  `json:"participants"` // copied on replies
	Messages     []Message `json:"messages"`     // oldest first
	Viewers      []Viewer  `json:"viewers"`      // other agents on the ticket now
}

// Message is one entry in a ticket's conversation.
type Message struct {
	ID            int64        `json:"id"`
	Kind          string       `json:"kind"`
	From          Person       `json:"from"`
	AgentID       *int64       `json:"agent_id,omitempty"` // author of outbound mail and notes
	To            []Person     `json:"to"`
	Cc            []Person     `json:"cc"`
	Subject       string       `json:"subject"`
	Text          string       `json:"text"`
	HTML          string       `json:"html"` // sanitized
	Attachments   []Attachment `json:"attachments"`
	Warnings      []string     `json:"warnings"` // why the email could not be read fully
	AutoSubmitted bool         `json:"auto_submitted"`
	Bounce        bool         `json:"bounce"`
	MessageID     string       `json:"message_id,omitempty"`
	Delivery      string       `json:"delivery,omitempty"` // outbound: queued, sending, sent or failed
	CreatedAt     time.Time    `json:"created_at"`
}

// Attachment describes a stored attachment; its content is served by
// Service.Attachment.
type Attachment struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// Errors returned by the service. Callers branch on them with errors.Is.
var (
	ErrNotFound           = apperr.NotFound("ticket not found")
	ErrAttachmentNotFound = apperr.NotFound("attachment not found")
	ErrCannedNotFound     = apperr.NotFound("canned response not found")
	ErrTransition         = apperr.New(apperr.KindConflict, "status change not allowed")
	ErrClosed             = apperr.New(apperr.KindConflict, "ticket is closed; a closed ticket cannot be answered or reopened (a customer reply opens a follow-up ticket)")
	ErrNoRequester        = apperr.New(apperr.KindConflict, "ticket has no requester email address to reply to")
	ErrTooLarge           = apperr.New(apperr.KindTooLarge, fmt.Sprintf("message is larger than %d MiB", MaxMessageSize>>20))
	ErrBadCursor          = apperr.Invalid("cursor is not valid for this listing; start again without it")
	ErrNoChange           = apperr.Invalid("give at least one of status, priority, assignee or tags")
)

// transitionError explains a refused status change. It matches ErrTransition
// (and ErrClosed when the ticket is closed) with errors.Is.
func transitionError(from, to Status) error {
	cause := error(ErrTransition)
	msg := fmt.Sprintf("status cannot change from %s to %s", from, to)
	switch {
	case from == StatusClosed:
		cause, msg = ErrClosed, msg+": closed tickets are final"
	case to == StatusNew:
		msg += ": new is only the status of a ticket nobody has handled yet"
	}
	return &apperr.Error{Kind: apperr.KindConflict, Public: msg, Cause: cause}
}

// ParseStatus validates a status given by a client.
func ParseStatus(s string) (Status, error) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	if !st.Valid() {
		return "", apperr.Invalid("status %q is not one of new, open, pending, solved, closed", s)
	}
	return st, nil
}

// ParsePriority validates a priority given by a client.
func ParsePriority(s string) (Priority, error) {
	p := Priority(strings.ToLower(strings.TrimSpace(s)))
	if !p.Valid() {
		return "", apperr.Invalid("priority %q is not one of low, normal, high, urgent", s)
	}
	return p, nil
}

// NormalizeTags lowercases tags, turns runs of spaces into dashes and drops
// empty tags and duplicates, keeping the order given. A tag may hold
// letters, digits and . _ : - only, so that it is safe in URLs and filters.
// It returns an apperr.KindInvalid error for a bad tag or more than MaxTags.
func NormalizeTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	seen := map[string]bool{}
	for _, raw := range tags {
		t := strings.ToLower(strings.Join(strings.Fields(raw), "-"))
		if t == "" {
			continue
		}
		if utf8.RuneCountInString(t) > MaxTagLen {
			return nil, apperr.Invalid("tag %q is longer than %d characters", raw, MaxTagLen)
		}
		for _, r := range t {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == ':') {
				return nil, apperr.Invalid("tag %q may only contain letters, digits and . _ : -", raw)
			}
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, apperr.Invalid("a ticket may have at most %d tags", MaxTags)
	}
	return out, nil
}

// validText checks an agent's reply, note or canned response body.
func validText(field, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", apperr.Invalid("%s is required", field)
	}
	if len(s) > MaxTextBytes {
		return "", apperr.Invalid("%s is longer than %d KiB", field, MaxTextBytes>>10)
	}
	if !utf8.ValidString(s) {
		return "", apperr.Invalid("%s is not valid UTF-8", field)
	}
	if strings.ContainsRune(s, 0) {
		return "", apperr.Invalid("%s contains a NUL character", field)
	}
	return strings.ReplaceAll(s, "\r\n", "\n"), nil
}
