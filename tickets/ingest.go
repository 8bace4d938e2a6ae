package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/mail"
)

// Bounds on what one inbound message stores in the database. The raw
// message is always kept whole on disk; these only stop a pathological
// message from bloating every ticket page.
const (
	maxStoredText    = 2 << 20
	maxThreadLookups = 50 // Message-IDs from In-Reply-To and References tried
	maxNewPeople     = 20 // participants one inbound message may add
)

// subjectToken finds ticket numbers in subjects: "[#1234]".
var subjectToken = regexp.MustCompile(`\[#(\d{1,18})\]`)

// replyPrefix matches one reply or forward marker at the start of a subject,
// in the languages customers commonly use ("Re:", "RE[2]:", "Fwd:", "AW:",
// "SV:", "Antw:" ...).
var replyPrefix = regexp.MustCompile(`(?i)^\s*(re|fw|fwd|aw|sv|vs|wg|antw|tr|ref|rif)(\[\d+\])?\s*:\s*`)

// cleanSubject removes ticket tokens and leading reply markers, so that a
// ticket's subject is what the customer first wrote and ours never grow
// "Re: Re: [#1] [#1]" chains.
func cleanSubject(s string) string {
	s = subjectToken.ReplaceAllString(s, " ")
	for {
		t := replyPrefix.ReplaceAllString(s, "")
		if t == s {
			break
		}
		s = t
	}
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > MaxSubjectLen {
		s = string([]rune(s)[:MaxSubjectLen])
	}
	return s
}

// displaySubject is cleanSubject with a stand-in for an empty subject.
func displaySubject(s string) string {
	if c := cleanSubject(s); c != "" {
		return c
	}
	return "(no subject)"
}

// inbound is one received message on its way into the database.
type inbound struct {
	sum          string
	size         int
	envelopeFrom string
	rcpts        []string
	msg          *mail.Message
	atts         []storedAttachment
	received     time.Time
	imported     bool // from helpdesk import: never acknowledged
}

type storedAttachment struct {
	sum string
	a   mail.Attachment
}

// Ingest stores a message received for rcpts and files it into a ticket
// (see the package comment for the threading rules and Result for the
// outcomes). It returns only after the message and everything it causes
// (ticket changes, attachments, an acknowledgement in the outbound queue)
// are committed in one transaction, so a nil error may be answered with
// SMTP 250. It returns ErrTooLarge for a message over MaxMessageSize and an
// internal error when storage fails (answer with a temporary failure; the
// sender will retry, and a retry of a stored message is a duplicate).
func (s *Service) Ingest(ctx context.Context, rcpts []string, envelopeFrom string, raw []byte) (Result, error) {
	return s.ingest(ctx, rcpts, envelopeFrom, raw, false)
}

// IngestRaw ingests a message that came without an envelope, as through the
// inbound webhook. Its recipients are the To and Cc addresses that are ours
// (an inbox or its plus form); when none is, the message is treated as sent
// to the first configured inbox. Otherwise it is Ingest.
func (s *Service) IngestRaw(ctx context.Context, raw []byte) (Result, error) {
	return s.ingest(ctx, nil, "", raw, false)
}

// Import ingests a message from a shop's old mailbox (helpdesk import): as
// IngestRaw, but a new ticket gets no acknowledgement, since the customer
// wrote long ago and has likely been answered already.
func (s *Service) Import(ctx context.Context, raw []byte) (Result, error) {
	return s.ingest(ctx, nil, "", raw, true)
}

func (s *Service) ingest(ctx context.Context, rcpts []string, envelopeFrom string, raw []byte, imported bool) (Result, error) {
	started := time.Now()
	if len(raw) > MaxMessageSize {
		return Result{}, ErrTooLarge
	}
	sum := sha256Hex(raw)
	// The same bytes again (an SMTP retry after a lost 250) are answered
	// from the read pool without touching the disk or the writer.
	if res, ok, err := rawSeen(ctx, s.db.R, sum); err != nil {
		return Result{}, apperr.Internal("tickets: look up raw message", err)
	} else if ok {
		s.m.ingested.WithLabelValues("duplicate").Inc()
		return res, nil
	}
	// The raw message reaches the disk before anything is committed, so
	// that whatever fails later, the message itself is not lost. Its fsync
	// runs while the message is parsed and its attachments are written:
	// the waits for the disk overlap instead of adding up.
	rawStored := make(chan error, 1)
	go func() { rawStored <- writeOnce(s.rawPath(sum), raw) }()
	msg := s.parse(raw)
	if rcpts == nil {
		rcpts = s.rcptsFromHeaders(msg)
	}
	in := inbound{sum: sum, size: len(raw), envelopeFrom: envelopeFrom, rcpts: rcpts, msg: msg, received: s.now(), imported: imported}
	var attErr error
	if !msg.OurLoop {
		in.atts, attErr = s.storeAttachments(msg.Attachments)
	}
	if err := <-rawStored; err != nil {
		return Result{}, apperr.Internal("tickets: store raw message", err)
	}
	if attErr != nil {
		return Result{}, apperr.Internal("tickets: store attachment", attErr)
	}
	var (
		res    Result
		queued bool
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, queued, err = s.ingestTx(ctx, tx, in)
		return err
	})
	if err != nil {
		return Result{}, apperr.Internal("tickets: ingest message", err)
	}
	s.m.ingestS.Observe(time.Since(started).Seconds())
	switch {
	case res.Duplicate:
		s.m.ingested.WithLabelValues("duplicate").Inc()
	case res.Loop:
		s.m.ingested.WithLabelValues("loop").Inc()
		s.log.InfoContext(ctx, "tickets: our own mail came back; recorded, not ingested", "sha256", sum, "message_id", msg.MessageID)
	case res.Created:
		s.m.ingested.WithLabelValues("created").Inc()
	default:
		s.m.ingested.WithLabelValues("threaded").Inc()
	}
	if !res.Duplicate && res.TicketID != 0 {
		s.reindex(ctx, res.TicketID)
	}
	if queued {
		s.nudge()
	}
	return res, nil
}

// maxParallelWrites bounds the attachment files written at once.
const maxParallelWrites = 4

// storeAttachments writes the attachments' content-addressed files,
// several at a time, and returns once all are durable.
func (s *Service) storeAttachments(atts []mail.Attachment) ([]storedAttachment, error) {
	out := make([]storedAttachment, len(atts))
	errs := make([]error, len(atts))
	sem := make(chan struct{}, maxParallelWrites)
	var wg sync.WaitGroup
	for i, a := range atts {
		out[i] = storedAttachment{sum: sha256Hex(a.Data), a: a}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = writeOnce(s.attachmentPath(out[i].sum), a.Data)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// parse runs mail.Parse and bounds what is stored of the result.
func (s *Service) parse(raw []byte) *mail.Message {
	msg := s.parseSafely(raw)
	if len(msg.Text) > maxStoredText {
		msg.Text = strings.ToValidUTF8(msg.Text[:maxStoredText], "")
		msg.Warnings = append(msg.Warnings, "the text is too long and was cut; the full message is kept as received")
	}
	if len(msg.HTML) > maxStoredText {
		msg.HTML = ""
		msg.Warnings = append(msg.Warnings, "the HTML part is too long to show; the text part is shown instead")
	}
	return msg
}

// parseSafely turns a parser panic on hostile input into a message that
// still becomes a ticket, showing the raw text and why.
func (s *Service) parseSafely(raw []byte) (msg *mail.Message) {
	fallback := func() *mail.Message {
		text := strings.ToValidUTF8(string(raw), "\uFFFD")
		return &mail.Message{Text: text, Preview: text, Warnings: []string{"the message could not be parsed; it is shown as raw text"}}
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("tickets: mail parser panicked", "panic", fmt.Sprint(r))
			msg = fallback()
		}
	}()
	if msg = mail.Parse(raw, mail.ParseOptions{LoopID: s.opts.LoopID}); msg == nil {
		return fallback()
	}
	return msg
}

// rcptsFromHeaders picks the recipients of a message that came without an
// envelope: its To and Cc addresses that are ours, else the first inbox.
func (s *Service) rcptsFromHeaders(msg *mail.Message) []string {
	var out []string
	for _, a := range slices.Concat(msg.To, msg.Cc) {
		if s.isOurAddress(a.Address) && !slices.Contains(out, strings.ToLower(a.Address)) {
			out = append(out, strings.ToLower(a.Address))
		}
	}
	if len(out) == 0 {
		out = []string{s.inboxes[0].Address}
	}
	return out
}

// rawSeen reports whether the raw message with this digest was received
// before, and what became of it.
func rawSeen(ctx context.Context, q querier, sum string) (Result, bool, error) {
	var tid sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT ticket_id FROM inbound_raw WHERE sha256 = ?`, sum).Scan(&tid)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, err
	}
	return Result{TicketID: tid.Int64, Duplicate: true}, true, nil
}

func recordRaw(ctx context.Context, tx *sql.Tx, in inbound, outcome string, ticketID int64) error {
	var tid any
	if ticketID != 0 {
		tid = ticketID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO inbound_raw (sha256, size, envelope_from, rcpts, message_id, outcome, ticket_id, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, in.sum, in.size, in.envelopeFrom, jsonList(in.rcpts), in.msg.MessageID, outcome, tid, fmtTime(in.received))
	return err
}

// ingestTx files one message. It reports whether mail was queued (an
// acknowledgement) so that the caller can wake the outbound worker after
// the commit.
func (s *Service) ingestTx(ctx context.Context, tx *sql.Tx, in inbound) (Result, bool, error) {
	msg := in.msg
	// Checked again inside the transaction: two deliveries of one message
	// may race past the read-pool check, and the writer lock orders them.
	if res, ok, err := rawSeen(ctx, tx, in.sum); err != nil || ok {
		return res, false, err
	}
	if tid, kind, ok, err := ticketForMessageID(ctx, tx, msg.MessageID); err != nil {
		return Result{}, false, err
	} else if ok {
		if kind == KindOutbound {
			// One of our own Message-IDs: our mail came back with the
			// loop header stripped.
			return Result{Loop: true}, false, recordRaw(ctx, tx, in, "loop", 0)
		}
		return Result{TicketID: tid, Duplicate: true}, false, recordRaw(ctx, tx, in, "duplicate", tid)
	}
	if msg.OurLoop {
		return Result{Loop: true}, false, recordRaw(ctx, tx, in, "loop", 0)
	}

	inbox, plusTag := s.pickInbox(in.rcpts)
	from := s.sender(in)
	automatic := msg.AutoSubmitted || msg.Bounce != nil

	t, found, err := s.thread(ctx, tx, msg, from.Email, plusTag)
	if err != nil {
		return Result{}, false, err
	}
	res := Result{}
	var followupOf int64
	if found && t.Status == StatusClosed && !automatic {
		// A customer writing about a closed ticket starts a new one that
		// points back; automatic mail stays on the closed ticket (nobody
		// needs a new ticket for an out-of-office reply).
		followupOf, found = t.ID, false
	}
	now := in.received
	if found {
		res.TicketID = t.ID
		if !automatic && (t.Status == StatusSolved || t.Status == StatusPending) {
			if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = ?, solved_at = NULL WHERE id = ?`, StatusOpen, t.ID); err != nil {
				return Result{}, false, err
			}
		}
		if err := touchTicket(ctx, tx, t.ID, now); err != nil {
			return Result{}, false, err
		}
	} else {
		nt := newTicket{
			subject:    displaySubject(msg.Subject),
			queue:      inbox.Queue,
			inbox:      inbox.Address,
			requester:  from,
			followupOf: followupOf,
			at:         now,
		}
		if followupOf != 0 {
			// The follow-up belongs where the conversation was.
			nt.queue, nt.inbox = t.Queue, t.Inbox
		}
		if t, err = s.createTicket(ctx, tx, nt); err != nil {
			return Result{}, false, err
		}
		res.TicketID, res.Created = t.ID, true
	}

	nm := newMessage{
		ticketID:      res.TicketID,
		kind:          KindInbound,
		messageID:     msg.MessageID,
		refs:          msg.References,
		from:          from,
		to:            people(msg.To),
		cc:            people(msg.Cc),
		subject:       msg.Subject,
		text:          msg.Text,
		html:          msg.HTML,
		warnings:      msg.Warnings,
		autoSubmitted: msg.AutoSubmitted,
		bounce:        msg.Bounce != nil,
		rawSHA:        in.sum,
		at:            now,
	}
	if len(msg.InReplyTo) > 0 {
		nm.inReplyTo = msg.InReplyTo[0]
	}
	if res.MessageID, err = insertMessage(ctx, tx, nm); err != nil {
		return Result{}, false, err
	}
	for _, sa := range in.atts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_attachments (message_id, ticket_id, sha256, filename, content_type, size, inline, content_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, res.MessageID, res.TicketID, sa.sum, attachmentName(sa.a.Filename),
			strings.ToLower(sa.a.ContentType), len(sa.a.Data), sa.a.Inline, sa.a.ContentID); err != nil {
			return Result{}, false, err
		}
	}
	if !automatic {
		if err := addParticipants(ctx, tx, res.TicketID, s.newParticipants(msg, t.Requester.Email, from), now); err != nil {
			return Result{}, false, err
		}
	}
	if msg.Bounce != nil {
		if err := s.markBounced(ctx, tx, msg.Bounce, now); err != nil {
			return Result{}, false, err
		}
	}
	if err := recordRaw(ctx, tx, in, "ticket", res.TicketID); err != nil {
		return Result{}, false, err
	}
	queued := false
	if res.Created && !automatic && !in.imported {
		if queued, err = s.acknowledge(ctx, tx, t, msg, now); err != nil {
			return Result{}, false, err
		}
	}
	return res, queued, nil
}

// pickInbox returns the inbox the message was sent to (the first recipient
// that is ours, else the first inbox) and the tag of the first plus-form
// recipient.
func (s *Service) pickInbox(rcpts []string) (Inbox, string) {
	var (
		inbox Inbox
		found bool
		tag   string
	)
	for _, r := range rcpts {
		in, t, ok := s.inboxFor(r)
		if !ok {
			continue
		}
		if !found {
			inbox, found = in, true
		}
		if tag == "" {
			tag = t
		}
	}
	if !found {
		inbox = s.inboxes[0]
	}
	return inbox, tag
}

// sender is who the message is from, for identity: the From header (not
// Reply-To, which anyone may set to anything), else the envelope sender.
func (s *Service) sender(in inbound) Person {
	p := Person{Email: strings.ToLower(strings.TrimSpace(in.msg.From.Address)), Name: strings.TrimSpace(in.msg.From.Name)}
	if p.Email == "" && strings.Contains(in.envelopeFrom, "@") {
		p.Email = strings.ToLower(strings.Trim(strings.TrimSpace(in.envelopeFrom), "<>"))
	}
	return p
}

// thread finds the existing ticket a message belongs to, in order: by
// Message-ID references to anything we stored or sent; by a [#id] subject
// token; by a support+t<id>@ recipient. The last two count only when the
// sender is the ticket's requester or a participant, so that guessing a
// number does not let a stranger write into someone's ticket.
func (s *Service) thread(ctx context.Context, tx *sql.Tx, msg *mail.Message, from, plusTag string) (Ticket, bool, error) {
	var ids []string
	if msg.Bounce != nil && msg.Bounce.OriginalMessageID != "" {
		ids = append(ids, msg.Bounce.OriginalMessageID)
	}
	ids = append(ids, msg.InReplyTo...)
	for i := len(msg.References) - 1; i >= 0; i-- {
		ids = append(ids, msg.References[i])
	}
	seen := map[string]bool{}
	lookups := 0
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		if lookups++; lookups > maxThreadLookups {
			break
		}
		seen[id] = true
		tid, _, ok, err := ticketForMessageID(ctx, tx, id)
		if err != nil {
			return Ticket{}, false, err
		}
		if ok && tid != 0 {
			t, err := getTicket(ctx, tx, tid)
			if err != nil {
				return Ticket{}, false, err
			}
			return t, true, nil
		}
	}
	var candidates []int64
	for _, m := range subjectToken.FindAllStringSubmatch(msg.Subject, 5) {
		if id, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			candidates = append(candidates, id)
		}
	}
	if len(plusTag) > 1 && (plusTag[0] == 't' || plusTag[0] == 'T') {
		if id, err := strconv.ParseInt(plusTag[1:], 10, 64); err == nil {
			candidates = append(candidates, id)
		}
	}
	for _, id := range candidates {
		t, err := getTicket(ctx, tx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Ticket{}, false, err
		}
		ok, err := mayThread(ctx, tx, t, from)
		if err != nil {
			return Ticket{}, false, err
		}
		if ok {
			return t, true, nil
		}
	}
	return Ticket{}, false, nil
}

// newParticipants is who a customer message copies besides us and the
// requester: its To and Cc, and its sender when that is not the requester
// (a colleague answering in the thread).
func (s *Service) newParticipants(msg *mail.Message, requester string, from Person) []Person {
	var out []Person
	seen := map[string]bool{strings.ToLower(requester): true, "": true}
	add := func(p Person) {
		if seen[p.Email] || s.isOurAddress(p.Email) || len(out) >= maxNewPeople {
			return
		}
		seen[p.Email] = true
		out = append(out, p)
	}
	add(from)
	for _, p := range people(slices.Concat(msg.To, msg.Cc)) {
		add(p)
	}
	return out
}

func people(as []mail.Address) []Person {
	out := make([]Person, 0, len(as))
	for _, a := range as {
		if a.Address == "" {
			continue
		}
		out = append(out, Person{Email: strings.ToLower(a.Address), Name: a.Name})
	}
	return out
}

// attachmentName keeps a stored file name printable and short.
func attachmentName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(name, "_"))
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	if strings.TrimSpace(name) == "" {
		return "attachment"
	}
	return name
}

// markBounced records that mail we sent could not be delivered: the
// outbound message the report names is failed, whatever its state.
func (s *Service) markBounced(ctx context.Context, tx *sql.Tx, b *mail.Bounce, now time.Time) error {
	if b.OriginalMessageID == "" {
		return nil
	}
	why := "bounced"
	if b.Status != "" {
		why += ": status " + b.Status
	}
	if len(b.Recipients) > 0 {
		why += " for " + strings.Join(b.Recipients, ", ")
	}
	_, err := tx.ExecContext(ctx, `UPDATE outbound_mail SET status = 'failed', last_error = ?, lease_until = NULL, updated_at = ?
		WHERE message_id = ?`, truncate(why, 500), fmtTime(now), b.OriginalMessageID)
	return err
}

// newTicket is a ticket about to be created.
type newTicket struct {
	subject    string
	queue      string
	inbox      string
	requester  Person
	followupOf int64
	at         time.Time
}

func (s *Service) createTicket(ctx context.Context, tx *sql.Tx, nt newTicket) (Ticket, error) {
	var due any
	if d := s.slaDue(nt.queue, nt.at); !d.IsZero() {
		due = fmtTime(d)
	}
	var followup any
	if nt.followupOf != 0 {
		followup = nt.followupOf
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO tickets (subject, status, priority, queue, inbox, requester_email, requester_name,
		followup_of, created_at, updated_at, sla_due_at) VALUES (?, 'new', 'normal', ?, ?, ?, ?, ?, ?, ?, ?)`,
		nt.subject, nt.queue, nt.inbox, nt.requester.Email, nt.requester.Name, followup, fmtTime(nt.at), fmtTime(nt.at), due)
	if err != nil {
		return Ticket{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Ticket{}, err
	}
	return getTicket(ctx, tx, id)
}

// slaDue is when the first response to a ticket created at created in queue
// is due: the queue's target counted in support hours. Zero means never
// (the schedule never opens).
func (s *Service) slaDue(queue string, created time.Time) time.Time {
	d, ok := s.opts.SLAFirstResponse[queue]
	if !ok || d <= 0 {
		d = DefaultSLAFirstResponse
	}
	if s.opts.Schedule == nil {
		return created.Add(d)
	}
	return s.opts.Schedule.AddOpen(created, d)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
