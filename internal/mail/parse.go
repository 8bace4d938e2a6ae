package mail

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jhillyerd/enmime"
	"golang.org/x/net/html/charset"
)

// maxWarnings caps Message.Warnings; a broken message can produce
// thousands of identical complaints.
const maxWarnings = 20

// maxReferences caps Message.References. The first (the thread root) and
// the newest are the ones threading needs.
const maxReferences = 100

// Parse turns a raw RFC 5322 message into a Message. It never returns nil
// and never drops content: when the MIME structure cannot be read, Text
// holds the raw body; when a part is lost inside an otherwise readable
// message, the whole raw message is kept as an "original-message.eml"
// attachment. Every string in the result is valid UTF-8. Problems are
// reported in Warnings.
//
// The caller bounds the size of raw (the SMTP server and the HTTP endpoint
// stop at 25 MiB).
func Parse(raw []byte, opts ParseOptions) *Message {
	m := &Message{}
	var h header
	raw = trimMboxLine(raw)
	env, err := readEnvelope(raw)
	if err != nil {
		h = parseFallback(raw, m, err)
	} else {
		h = header(env.Root.Header)
		if guessed := retryWithGuessedBoundary(env); guessed != nil {
			env = guessed
			m.warn("multipart message without a boundary parameter: the boundary was guessed")
		}
		fillBody(m, env, raw)
	}
	fillHeaders(m, h)
	classify(m, h, opts)
	m.Preview = preview(m.Text)
	return m
}

// trimMboxLine drops the "From sender date" line that starts a message
// exported from an mbox file; it is not a header and breaks header parsing.
func trimMboxLine(raw []byte) []byte {
	if !bytes.HasPrefix(raw, []byte("From ")) {
		return raw
	}
	if i := bytes.IndexByte(raw, '\n'); i >= 0 {
		return raw[i+1:]
	}
	return raw
}

// readEnvelope runs enmime over raw. enmime is third-party code fed with
// hostile input, so a panic is turned into an error and Parse falls back
// to the raw text instead of taking the process down.
func readEnvelope(raw []byte) (env *enmime.Envelope, err error) {
	defer func() {
		if r := recover(); r != nil {
			env, err = nil, fmt.Errorf("MIME parser failed: %v", r)
		}
	}()
	p := enmime.NewParser(
		enmime.SkipMalformedParts(true),
		enmime.MultipartWOBoundaryAsSinglePart(true),
		enmime.RawContent(true),            // decodePart decodes, see decode.go
		enmime.DisableTextConversion(true), // htmlToText does it, readably
		enmime.MaxStoredPartErrors(maxWarnings*5),
	)
	env, err = p.ReadEnvelope(bytes.NewReader(raw))
	if err == nil && (env == nil || env.Root == nil) {
		err = fmt.Errorf("MIME parser returned no message")
	}
	return env, err
}

// parseFallback fills m from raw when enmime could not parse it: headers
// through net/mail when possible, the raw body as text.
func parseFallback(raw []byte, m *Message, cause error) header {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Text = cleanText(string(raw))
		m.warn(fmt.Sprintf("could not read the message (%v): the whole message is shown as text", cause))
		return nil
	}
	body, _ := io.ReadAll(msg.Body) // a bytes.Reader cannot fail
	m.Text = strings.TrimSpace(cleanText(string(body)))
	m.warn(fmt.Sprintf("could not parse the MIME structure (%v): the raw body is shown as text", cause))
	return header(msg.Header)
}

var boundaryLine = regexp.MustCompile(`(?m)^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?$`)

// retryWithGuessedBoundary handles a multipart message whose Content-Type
// lacks the boundary parameter (enmime then keeps the body as one opaque
// part): when the body has a line that looks like a boundary and repeats,
// the message is parsed again with that boundary. It returns nil when
// there is nothing to guess or the guess does not help.
func retryWithGuessedBoundary(env *enmime.Envelope) *enmime.Envelope {
	root := env.Root
	if !strings.HasPrefix(root.ContentType, "multipart/") || root.FirstChild != nil || root.Boundary != "" {
		return nil
	}
	m := boundaryLine.FindSubmatch(root.Content)
	if m == nil || bytes.Count(root.Content, append([]byte("--"), m[1]...)) < 2 {
		return nil
	}
	boundary := string(m[1])
	var b bytes.Buffer
	for k, vs := range root.Header {
		if strings.EqualFold(k, "Content-Type") {
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	params := map[string]string{"boundary": boundary}
	for k, v := range root.ContentTypeParams {
		if k != "boundary" {
			params[k] = v
		}
	}
	fmt.Fprintf(&b, "Content-Type: %s\r\n\r\n", mime.FormatMediaType(root.ContentType, params))
	b.Write(root.Content)
	guessed, err := readEnvelope(b.Bytes())
	if err != nil || guessed.Root.FirstChild == nil {
		return nil
	}
	return guessed
}

// header is a message header as read by enmime or net/mail (canonical keys,
// raw values).
type header map[string][]string

// values returns the raw values of the field named k, in order.
func (h header) values(k string) []string {
	if v, ok := h[k]; ok {
		return v
	}
	for key, v := range h {
		if strings.EqualFold(key, k) {
			return v
		}
	}
	return nil
}

// get returns the first raw value of the field named k, or "".
func (h header) get(k string) string {
	if v := h.values(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

// has reports whether the field named k is present.
func (h header) has(k string) bool { return h.values(k) != nil }

// wordDecoder decodes RFC 2047 encoded words in any charset the WHATWG
// encoding standard knows (ISO-2022-JP, windows-1252, KOI8-R, ...).
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.NewReaderLabel}

// decodeHeader returns a header value with encoded words decoded, as valid
// UTF-8 on one line.
func decodeHeader(v string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	return cleanHeader(v)
}

func fillHeaders(m *Message, h header) {
	m.Subject = decodeHeader(h.get("Subject"))
	if ids := parseIDs(h.get("Message-ID")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = parseIDs(h.get("In-Reply-To"))
	m.References = capReferences(parseIDs(strings.Join(h.values("References"), " ")))
	if v := strings.TrimSpace(h.get("Date")); v != "" {
		if t, ok := parseDate(v); ok {
			m.Date = t
		} else {
			m.warn("could not parse the Date header")
		}
	}
	if from := m.addressList(h, "From"); len(from) > 0 {
		m.From = from[0]
	} else if h.get("From") != "" {
		m.warn("could not read a sender address from the From header")
	}
	m.ReplyTo = m.addressList(h, "Reply-To")
	m.To = m.addressList(h, "To")
	m.Cc = m.addressList(h, "Cc")
}

// parseIDs returns the message ids in a Message-ID, In-Reply-To or
// References value, without angle brackets, in order, without duplicates.
// It accepts what mailers send: ids run together ("<a@x><b@x>"),
// separated by commas, folded over lines, mixed with comments and quoted
// text ("<a@x> (Jane's message of "Tue, 3 Mar")"), and bare ids without
// brackets (any bare word with an "@" outside comments and quotes).
func parseIDs(v string) []string {
	v = cleanText(v)
	var ids []string
	seen := make(map[string]bool)
	add := func(id string) {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > 500 || seen[id] || strings.ContainsFunc(id, unicode.IsSpace) {
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}
	depth := 0 // comment nesting
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '(':
			depth++
			i++
		case c == ')' && depth > 0:
			depth--
			i++
		case depth > 0:
			if c == '\\' {
				i++
			}
			i++
		case c == '"':
			end := strings.IndexByte(v[i+1:], '"')
			if end < 0 {
				return ids
			}
			i += end + 2
		case c == '<':
			end := strings.IndexByte(v[i+1:], '>')
			if end < 0 {
				add(v[i+1:])
				return ids
			}
			add(v[i+1 : i+1+end])
			i += end + 2
		case c == ' ' || c == '\t' || c == '\n' || c == ',' || c == '>':
			i++
		default:
			j := i
			for j < len(v) && !strings.ContainsRune(" \t\n,<>()\"", rune(v[j])) {
				j++
			}
			if word := v[i:j]; strings.Contains(word, "@") {
				add(word)
			}
			i = max(j, i+1) // a stray ")" or quote: step over it
		}
	}
	return ids
}

func capReferences(ids []string) []string {
	if len(ids) <= maxReferences {
		return ids
	}
	out := append([]string{ids[0]}, ids[len(ids)-maxReferences+1:]...)
	return out
}

var dateComment = regexp.MustCompile(`\([^()]*\)`)

// dateLayouts are formats seen in the wild that net/mail rejects.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700 MST",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 02 Jan 2006 15:04:05 -0700",
	"Monday, 2 Jan 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon, 2 Jan 2006 15:04:05",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339,
}

// parseDate reads a Date header: RFC 5322 through net/mail first, then
// without comments, then a list of common deviations.
func parseDate(v string) (time.Time, bool) {
	if t, err := netmail.ParseDate(v); err == nil {
		return t, true
	}
	v = collapseSpace(dateComment.ReplaceAllString(v, ""))
	if t, err := netmail.ParseDate(v); err == nil {
		return t, true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// addressList reads an address header. A malformed list keeps every
// address that can be read (and warns).
func (m *Message) addressList(h header, key string) []Address {
	var out []Address
	for _, raw := range h.values(key) {
		raw = cleanText(raw)
		if strings.TrimSpace(raw) == "" {
			continue
		}
		list, err := enmime.ParseAddressList(raw)
		if err == nil {
			for _, a := range list {
				out = appendAddress(out, a.Name, a.Address)
			}
			continue
		}
		if err == netmail.ErrHeaderNotPresent {
			continue // "undisclosed-recipients:;" and friends
		}
		n := len(out)
		for _, item := range splitAddressList(raw) {
			if list, err := enmime.ParseAddressList(item); err == nil {
				for _, a := range list {
					out = appendAddress(out, a.Name, a.Address)
				}
				continue
			}
			if addr := looseAddress.FindString(item); addr != "" {
				name := strings.Replace(item, addr, "", 1)
				name = strings.Trim(strings.TrimSpace(strings.NewReplacer("<>", "", "<", "", ">", "").Replace(name)), `"' `)
				out = appendAddress(out, decodeHeader(name), addr)
			}
		}
		m.warn(fmt.Sprintf("malformed %s header: kept %d address(es)", key, len(out)-n))
	}
	return out
}

var looseAddress = regexp.MustCompile(`[^\s<>(),;:"'\[\]@]+@[^\s<>(),;:"'\[\]@]+\.[^\s<>(),;:"'\[\]@]+`)

func appendAddress(list []Address, name, addr string) []Address {
	addr = strings.ToLower(strings.TrimSpace(cleanHeader(addr)))
	if addr == "" {
		return list
	}
	name = cleanHeader(name)
	return append(list, Address{Name: name, Address: addr})
}

// splitAddressList splits an address list at commas outside quotes,
// comments and angle brackets.
func splitAddressList(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote, inAngle := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case (c == ',' || c == ';') && depth == 0 && !inAngle:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// fillBody sets Text, HTML and Attachments from the MIME tree, and
// Warnings from enmime's list of problems.
func fillBody(m *Message, env *enmime.Envelope, raw []byte) {
	lost := false
	for _, p := range env.Root.DepthMatchAll(func(p *enmime.Part) bool { return p.FirstChild == nil }) {
		l, w := decodeTransfer(p)
		lost = lost || l
		if w != "" {
			m.warn(w)
		}
	}

	c := &collector{}
	c.walk(env.Root, 0)
	for _, w := range c.warnings {
		m.warn(w)
	}

	texts := make([]string, 0, len(c.texts))
	for _, t := range c.texts {
		if t = strings.TrimSpace(cleanText(t)); t != "" {
			texts = append(texts, t)
		}
	}
	m.Text = strings.Join(texts, "\n\n")
	if len(c.htmls) > 0 {
		rawHTML := cleanText(strings.Join(c.htmls, "\n"))
		m.HTML = sanitizeHTML(rawHTML)
		if m.Text == "" {
			m.Text = htmlToText(rawHTML)
		}
	}

	for i, p := range c.atts {
		m.Attachments = append(m.Attachments, attachment(p, i+1))
	}

	for _, e := range env.Errors {
		if e.Name == enmime.ErrorPlainTextFromHTML {
			continue // expected for HTML-only mail, not a problem
		}
		if e.Severe && e.Name == enmime.ErrorMalformedChildPart {
			lost = true
		}
		m.warn(e.Name + ": " + e.Detail)
	}
	if lost {
		m.Attachments = append(m.Attachments, Attachment{
			Filename:    "original-message.eml",
			ContentType: "message/rfc822",
			Data:        raw,
		})
		m.warn("part of the message could not be decoded exactly: the original message is attached")
	}
}

// collector walks the MIME tree, sorting leaves into body text, body HTML
// and attachments.
type collector struct {
	texts    []string
	htmls    []string
	atts     []*enmime.Part
	warnings []string
}

// maxDepth bounds the walk over nested multiparts; deeper leaves become
// attachments.
const maxDepth = 50

func (c *collector) walk(p *enmime.Part, depth int) {
	if p.FirstChild == nil {
		c.leaf(p)
		return
	}
	if depth > maxDepth {
		for _, l := range p.DepthMatchAll(func(p *enmime.Part) bool { return p.FirstChild == nil }) {
			c.atts = append(c.atts, l)
		}
		return
	}
	if p.ContentType != "multipart/alternative" {
		for ch := p.FirstChild; ch != nil; ch = ch.NextSibling {
			c.walk(ch, depth+1)
		}
		return
	}
	// multipart/alternative: the same content several times. Text comes
	// from the first alternative that has plain text, HTML from the last
	// (richest) that has HTML; other renderings are duplicates. Parts that
	// are not renderings of the body (a text/calendar invite, images of a
	// multipart/related) are kept from every alternative.
	var subs []*collector
	for ch := p.FirstChild; ch != nil; ch = ch.NextSibling {
		s := &collector{}
		s.walk(ch, depth+1)
		subs = append(subs, s)
		c.warnings = append(c.warnings, s.warnings...)
	}
	for _, s := range subs {
		if len(s.texts) > 0 {
			c.texts = append(c.texts, s.texts...)
			break
		}
	}
	for i := len(subs) - 1; i >= 0; i-- {
		if len(subs[i].htmls) > 0 {
			c.htmls = append(c.htmls, subs[i].htmls...)
			break
		}
	}
	for _, s := range subs {
		c.atts = append(c.atts, s.atts...)
	}
}

func (c *collector) leaf(p *enmime.Part) {
	body := p.Disposition != "attachment" && p.FileName == ""
	switch {
	case body && (p.ContentType == "text/plain" || p.ContentType == ""):
		c.texts = append(c.texts, c.bodyText(p))
	case body && p.ContentType == "text/html":
		c.htmls = append(c.htmls, c.bodyText(p))
	case body && strings.HasPrefix(p.ContentType, "multipart/"):
		// A multipart without parts (no boundary, or none found): its body
		// is all there is.
		if len(bytes.TrimSpace(p.Content)) > 0 {
			c.texts = append(c.texts, c.bodyText(p))
		}
	default:
		c.atts = append(c.atts, p)
	}
}

// bodyText returns a body part's content converted to UTF-8.
func (c *collector) bodyText(p *enmime.Part) string {
	if w := decodeCharset(p); w != "" {
		c.warnings = append(c.warnings, w)
	}
	return string(p.Content)
}

// attachment converts a MIME part; n numbers fallback file names.
func attachment(p *enmime.Part, n int) Attachment {
	ct := strings.ToLower(strings.TrimSpace(p.ContentType))
	if ct == "" || !strings.Contains(ct, "/") {
		ct = "application/octet-stream"
	}
	name := sanitizeFilename(p.FileName)
	if name == "" && ct == "message/rfc822" {
		if msg, err := netmail.ReadMessage(bytes.NewReader(p.Content)); err == nil {
			if s := sanitizeFilename(decodeHeader(msg.Header.Get("Subject"))); s != "" {
				name = truncateName(s, 120) + ".eml"
			}
		}
	}
	if name == "" {
		name = fmt.Sprintf("attachment-%d%s", n, extensionFor(ct))
	}
	cid := strings.Trim(cleanHeader(p.ContentID), "<> ")
	return Attachment{
		Filename:    name,
		ContentType: ct,
		ContentID:   cid,
		Inline:      p.Disposition == "inline" || (p.Disposition == "" && cid != ""),
		Data:        p.Content,
	}
}

// extensions for fallback file names; mime.ExtensionsByType depends on the
// host's mime.types, this does not.
var extensions = map[string]string{
	"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
	"image/webp": ".webp", "image/svg+xml": ".svg", "text/plain": ".txt", "text/html": ".html",
	"text/calendar": ".ics", "text/csv": ".csv", "message/rfc822": ".eml",
	"message/delivery-status": ".txt", "message/global-delivery-status": ".txt",
	"text/rfc822-headers": ".txt", "message/disposition-notification": ".txt",
	"application/zip": ".zip", "application/ms-tnef": ".dat",
}

func extensionFor(ct string) string {
	if e, ok := extensions[ct]; ok {
		return e
	}
	return ".bin"
}

// sanitizeFilename makes an attachment name safe to use anywhere: the base
// name only (no directories, on any OS), no control or bidi-override
// characters, none of the characters Windows forbids, not "." or "..", at
// most 200 bytes with its extension kept. It returns "" when nothing usable
// is left.
func sanitizeFilename(name string) string {
	name = decodeHeader(name) // encoded words inside quotes: wrong, but common
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return -1
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			return -1 // bidi controls: "invoice‮fdp.exe"
		case strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		case r == utf8.RuneError:
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	if name == "" || name == "/" {
		return ""
	}
	return truncateName(name, 200)
}

// truncateName shortens name to at most max bytes, keeping a short
// extension and whole runes.
func truncateName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	base := name[:len(name)-len(ext)]
	limit := max - len(ext)
	for limit > 0 && !utf8.RuneStart(base[limit]) {
		limit--
	}
	return strings.TrimRight(base[:limit], " .") + ext
}

// warn adds a warning for agents, once. Warnings often quote the input,
// so they are cleaned like any other text.
func (m *Message) warn(s string) {
	s = cleanHeader(s)
	for _, w := range m.Warnings {
		if w == s {
			return
		}
	}
	switch {
	case len(m.Warnings) < maxWarnings:
		m.Warnings = append(m.Warnings, s)
	case len(m.Warnings) == maxWarnings:
		m.Warnings = append(m.Warnings, "further warnings omitted")
	}
}

// readHeaderBlock reads "Name: value" fields (with folded continuation
// lines) from the start of b, stopping at the first blank line. It returns
// the fields and the rest of b. It is lenient: lines without a colon are
// skipped.
func readHeaderBlock(b []byte) (header, []byte) {
	h := header{}
	r := bufio.NewReader(bytes.NewReader(b))
	consumed := 0
	var lastKey string
	for {
		line, err := r.ReadString('\n')
		consumed += len(line)
		t := strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(t) == "" {
			if len(h) > 0 || err != nil {
				break
			}
			if err != nil {
				break
			}
			continue // leading blank lines
		}
		if (t[0] == ' ' || t[0] == '\t') && lastKey != "" {
			vs := h[lastKey]
			vs[len(vs)-1] += " " + strings.TrimSpace(t)
		} else if k, v, ok := strings.Cut(t, ":"); ok && strings.TrimSpace(k) != "" && !strings.ContainsAny(strings.TrimSpace(k), " \t") {
			lastKey = strings.ToLower(strings.TrimSpace(k))
			h[lastKey] = append(h[lastKey], strings.TrimSpace(v))
		}
		if err != nil {
			break
		}
	}
	return h, b[min(consumed, len(b)):]
}
