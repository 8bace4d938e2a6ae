// Package mail is the helpdesk's email layer, apart from tickets: parsing
// raw RFC 5322 messages from customers into plain values, composing our
// outbound messages with correct threading headers, sending them (to the
// outbox folder or through an SMTP relay), and the inbound SMTP server.
//
// Package tickets decides what a message means (which ticket, whether to
// answer); this package only knows email.
package mail

import "time"

// Address is a parsed mailbox.
type Address struct {
	Name    string `json:"name"`
	Address string `json:"email"` // lower-cased
}

// Attachment is one attached (or inline) part.
type Attachment struct {
	Filename    string // sanitized: no path separators, never empty
	ContentType string // as declared, lower-cased, without parameters
	ContentID   string // for inline parts referenced from HTML as cid:
	Inline      bool
	Data        []byte
}

// Bounce is what a delivery-status report says about a message we sent.
type Bounce struct {
	OriginalMessageID string   // Message-ID of our message that bounced, if found
	Recipients        []string // failed recipients
	Action            string   // failed, delayed, ...
	Status            string   // e.g. 5.1.1
}

// Message is a parsed inbound email. Parse never drops content: when MIME
// parsing fails, Text holds the raw body as best it can and Warnings says why.
type Message struct {
	MessageID   string    // without angle brackets; "" when absent
	InReplyTo   []string  // Message-IDs, without angle brackets
	References  []string  // Message-IDs, without angle brackets, oldest first
	Date        time.Time // zero when absent or unparseable
	From        Address
	ReplyTo     []Address
	To          []Address
	Cc          []Address
	Subject     string // decoded
	Text        string // text body (derived from HTML when only HTML was sent)
	HTML        string // sanitized HTML body (bluemonday UGC), "" when none
	Preview     string // Text with quoted replies and signatures trimmed, for lists
	Attachments []Attachment

	// Classification for loop prevention.
	AutoSubmitted bool    // auto-reply, out-of-office, list or bulk mail: store, never answer
	Bounce        *Bounce // non-nil for delivery-status reports and bounces
	OurLoop       bool    // carries our own loop-detection header: must not be ingested

	Warnings []string // parse problems worth showing to an agent
}

// Outgoing is a message we send.
type Outgoing struct {
	MessageID  string // without brackets; generated when empty
	From       Address
	To         []Address
	Cc         []Address
	ReplyTo    *Address
	Subject    string
	InReplyTo  string   // without brackets
	References []string // without brackets, oldest first
	Text       string
	HTML       string // optional; derived from Text when empty
	Automatic  bool   // acknowledgements etc.: adds Auto-Submitted: auto-replied
	Date       time.Time
}

// The API the rest of the helpdesk uses (implemented in parse.go, compose.go,
// send.go, smtpd.go, imap.go, address.go):
//
//	func Parse(raw []byte, opts ParseOptions) *Message
//	func Compose(out Outgoing, opts ComposeOptions) (raw []byte, messageID string, err error)
//	type Sender interface { Send(ctx context.Context, envelopeFrom string, to []string, raw []byte) error }
//	func NewOutbox(dir string) *Outbox                                // Sender writing <dir>/*.eml
//	func NewRelay(rawURL string, opts RelayOptions) (*Relay, error)   // Sender through smtp(s)://user:pass@host:port
//	type PermanentError struct{ ... }                                 // a 5xx refusal from the relay (errors.As)
//	type Deliverer interface {
//		Accepts(rcpt string) bool
//		Deliver(ctx context.Context, envelopeFrom string, rcpts []string, raw []byte) error
//	}
//	func NewSMTPServer(d Deliverer, opts SMTPOptions) *SMTPServer     // Serve(ln), Close(), Shutdown(ctx)
//	type UIDStore interface { LoadUID(...); SaveUID(...) }
//	func NewPoller(opts PollerOptions, d Deliverer, store UIDStore) *Poller // Run(ctx), PollOnce(ctx)
//	func SplitPlus(addr string) (base, tag string)
//
// Compose returns ErrNoRecipients, ErrInvalidAddress and ErrInvalidHeader.

// LoopHeader is carried by every message we send; its value identifies this
// helpdesk installation, so mail that comes back to us is recognised.
const LoopHeader = "X-Helpdesk-Loop"

// ParseOptions tunes Parse.
type ParseOptions struct {
	LoopID string // our LoopHeader value; a message carrying it sets OurLoop
}

// ComposeOptions tunes Compose.
type ComposeOptions struct {
	Domain string // right-hand side of generated Message-IDs; the From domain when empty
	LoopID string // value of LoopHeader; required

	// Now is the clock used for the Date header when Outgoing.Date is
	// zero; time.Now when nil.
	Now func() time.Time
}
