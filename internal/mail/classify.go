package mail

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/jhillyerd/enmime/mediatype"
)

// classify sets AutoSubmitted, Bounce and OurLoop from the top-level
// header h (nil when the message had none) and the parsed body.
//
// A message is automatic — to be stored but never answered — when any of
// these holds:
//
//   - Auto-Submitted is present and not "no" (RFC 3834);
//   - Precedence is bulk, junk, list or auto_reply;
//   - X-Autoreply, X-Autorespond or X-Auto-Response-Suppress is present,
//     whatever its value (the last is Exchange's request not to be
//     auto-answered);
//   - List-Id or List-Unsubscribe is present (mailing lists, newsletters);
//   - Return-Path is the null path <>;
//   - the sender's local part is mailer-daemon or postmaster;
//   - it is a report: a delivery-status bounce or a read receipt
//     (multipart/report; report-type=disposition-notification).
func classify(m *Message, h header, opts ParseOptions) {
	if opts.LoopID != "" {
		for _, v := range h.values(LoopHeader) {
			if strings.TrimSpace(v) == opts.LoopID {
				m.OurLoop = true
			}
		}
	}

	if v, ok := firstToken(h, "Auto-Submitted"); ok && v != "no" {
		m.AutoSubmitted = true
	}
	if v, _ := firstToken(h, "Precedence"); v == "bulk" || v == "junk" || v == "list" || v == "auto_reply" {
		m.AutoSubmitted = true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe"} {
		if h.has(k) {
			m.AutoSubmitted = true
		}
	}
	if rp := h.values("Return-Path"); len(rp) > 0 && strings.Trim(rp[0], " \t<>") == "" {
		m.AutoSubmitted = true
	}
	daemon := isDaemon(m.From.Address)
	if daemon {
		m.AutoSubmitted = true
	}

	ctype, params, _, _ := mediatype.Parse(h.get("Content-Type"))
	report := ""
	if ctype == "multipart/report" {
		report = strings.ToLower(params["report-type"])
	}
	switch {
	case report == "delivery-status" || report == "global-delivery-status":
		m.Bounce = deliveryStatus(m, h)
	case report == "disposition-notification":
		m.AutoSubmitted = true
	case daemon:
		m.Bounce = informalBounce(m, h)
	}
	if m.Bounce != nil {
		m.AutoSubmitted = true
	}
}

// firstToken returns the first value of a header field, lower-cased, up to
// any ";" parameter or "(" comment.
func firstToken(h header, k string) (string, bool) {
	vs := h.values(k)
	if len(vs) == 0 {
		return "", false
	}
	v := vs[0]
	if i := strings.IndexAny(v, ";("); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v)), true
}

func isDaemon(addr string) bool {
	local, _, _ := strings.Cut(addr, "@")
	local, _, _ = strings.Cut(local, "+")
	switch strings.ToLower(local) {
	case "mailer-daemon", "postmaster", "mailer_daemon", "maildaemon":
		return true
	}
	return false
}

// deliveryStatus reads an RFC 3464 report: the message/delivery-status
// part for the failed recipients, action and status; the returned message
// (message/rfc822 or text/rfc822-headers) for our original Message-ID.
func deliveryStatus(m *Message, h header) *Bounce {
	b := &Bounce{}
	for _, a := range m.Attachments {
		switch a.ContentType {
		case "message/delivery-status", "message/global-delivery-status":
			readDeliveryStatus(b, a.Data)
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			if b.OriginalMessageID == "" {
				rh, _ := readHeaderBlock(a.Data)
				if ids := parseIDs(rh.get("message-id")); len(ids) > 0 {
					b.OriginalMessageID = ids[0]
				}
			}
		}
	}
	fillFromText(b, m, h)
	return b
}

// readDeliveryStatus reads the per-recipient blocks of a delivery-status
// body. Recipients whose action is failed or delayed are kept; Action and
// Status come from the first of them.
func readDeliveryStatus(b *Bounce, data []byte) {
	_, rest := readHeaderBlock(data) // per-message fields
	for len(bytes.TrimSpace(rest)) > 0 {
		var f header
		f, rest = readHeaderBlock(rest)
		if len(f) == 0 {
			break
		}
		action, _ := firstToken(f, "action")
		if action == "delivered" || action == "relayed" || action == "expanded" {
			continue
		}
		rcpt := f.get("final-recipient")
		if rcpt == "" {
			rcpt = f.get("original-recipient")
		}
		if _, addr, ok := strings.Cut(rcpt, ";"); ok {
			rcpt = addr
		}
		if rcpt = strings.ToLower(strings.Trim(cleanHeader(rcpt), " <>")); rcpt != "" {
			b.Recipients = appendUnique(b.Recipients, rcpt)
		}
		if b.Action == "" {
			b.Action = action
		}
		if b.Status == "" {
			if s := statusCode.FindString(f.get("status")); s != "" {
				b.Status = s
			}
		}
	}
}

var (
	statusCode = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)
	// "Message-ID: <…>" in quoted or attached original headers.
	quotedMessageID = regexp.MustCompile(`(?im)^[ \t>]*Message-ID:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]+)>`)
	// Postfix "<user@example.com>: host … said:", qmail "<user@example.com>:",
	// Exim's indented address lines after "failed:".
	failedRecipientLine = regexp.MustCompile(`(?m)^[ \t]*<?([^\s<>@:;,"]+@[^\s<>@:;,"]+\.[a-zA-Z]{2,})>?:?[ \t]*(?:\(|$|host|said|mailbox|SMTP|5\.\d|4\.\d|550|553|554|552)`)
	smtpErrorText       = regexp.MustCompile(`\b(?:550|551|552|553|554)\b`)
)

// informalBounce reads a non-standard MAILER-DAEMON message (qmail's
// "failure notice", old Exim and Sendmail), best-effort: failed recipients
// from X-Failed-Recipients or the text, the status from any enhanced code
// or SMTP error in the text, the original Message-ID from the quoted
// headers.
func informalBounce(m *Message, h header) *Bounce {
	b := &Bounce{}
	fillFromText(b, m, h)
	return b
}

// fillFromText completes b from X-Failed-Recipients and the text and
// attachments of the report, for whatever the structured parts lacked.
func fillFromText(b *Bounce, m *Message, h header) {
	for _, v := range h.values("X-Failed-Recipients") {
		for _, r := range splitAddressList(v) {
			if r = strings.ToLower(strings.Trim(cleanHeader(r), " <>")); r != "" {
				b.Recipients = appendUnique(b.Recipients, r)
			}
		}
	}
	texts := []string{m.Text}
	for _, a := range m.Attachments {
		if strings.HasPrefix(a.ContentType, "text/") || strings.HasPrefix(a.ContentType, "message/") {
			texts = append(texts, string(a.Data))
		}
	}
	for _, t := range texts {
		if b.OriginalMessageID == "" {
			if mm := quotedMessageID.FindStringSubmatch(t); mm != nil && mm[1] != m.MessageID {
				b.OriginalMessageID = cleanHeader(mm[1])
			}
		}
	}
	if len(b.Recipients) == 0 {
		for _, mm := range failedRecipientLine.FindAllStringSubmatch(m.Text, 10) {
			addr := strings.ToLower(mm[1])
			if !isDaemon(addr) && addr != m.From.Address {
				b.Recipients = appendUnique(b.Recipients, addr)
			}
		}
	}
	if b.Status == "" {
		if s := statusCode.FindString(m.Text); s != "" {
			b.Status = s
		} else if smtpErrorText.MatchString(m.Text) {
			b.Status = "5.0.0"
		}
	}
	if b.Action == "" {
		b.Action = "failed"
		if strings.HasPrefix(b.Status, "4.") {
			b.Action = "delayed"
		}
	}
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
