package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors Compose returns; callers may test for them with errors.Is.
var (
	// ErrNoRecipients: the message has neither To nor Cc addresses.
	ErrNoRecipients = errors.New("mail: no recipients")
	// ErrInvalidAddress: an address does not parse as a bare addr-spec.
	ErrInvalidAddress = errors.New("mail: invalid address")
	// ErrInvalidHeader: a header input contains a line break or another
	// control character (header injection) or is otherwise unusable.
	ErrInvalidHeader = errors.New("mail: invalid header value")
)

// Compose builds an RFC 5322 message from out, with CRLF line endings, and
// returns it with its Message-ID (without brackets).
//
// The message is multipart/alternative: text/plain and text/html, both
// UTF-8 and quoted-printable; the HTML is derived from out.Text when
// out.HTML is empty. Non-ASCII display names and subjects are RFC 2047
// encoded and long header lines folded. Threading: In-Reply-To is
// out.InReplyTo, and References is out.References with out.InReplyTo
// appended when missing. Every message carries LoopHeader with
// opts.LoopID; out.Automatic adds Auto-Submitted: auto-replied,
// X-Auto-Response-Suppress: All and Precedence: auto_reply so other
// robots do not answer.
//
// A Message-ID is generated as <random>@opts.Domain when out.MessageID is
// empty (the From address's domain when opts.Domain is empty too). The
// date is out.Date, else opts.Now(), else the current time.
//
// Compose returns ErrNoRecipients, ErrInvalidAddress or ErrInvalidHeader
// (wrapped with the offending field) for unusable input; nothing is
// written around a bad value.
func Compose(out Outgoing, opts ComposeOptions) (raw []byte, messageID string, err error) {
	if len(out.To)+len(out.Cc) == 0 {
		return nil, "", ErrNoRecipients
	}
	if err := checkHeaderInputs(out, opts); err != nil {
		return nil, "", err
	}
	if opts.LoopID == "" {
		return nil, "", fmt.Errorf("%w: ComposeOptions.LoopID is empty: every message must carry %s", ErrInvalidHeader, LoopHeader)
	}

	from, err := formatAddress("From", out.From)
	if err != nil {
		return nil, "", err
	}
	to, err := formatAddressList("To", out.To)
	if err != nil {
		return nil, "", err
	}
	cc, err := formatAddressList("Cc", out.Cc)
	if err != nil {
		return nil, "", err
	}
	var replyTo string
	if out.ReplyTo != nil {
		if replyTo, err = formatAddress("Reply-To", *out.ReplyTo); err != nil {
			return nil, "", err
		}
	}

	messageID = out.MessageID
	if messageID == "" {
		domain := opts.Domain
		if domain == "" {
			_, domain, _ = strings.Cut(strings.ToLower(out.From.Address), "@")
		}
		if messageID, err = newMessageID(domain); err != nil {
			return nil, "", err
		}
	}
	if err := checkID("Message-ID", messageID); err != nil {
		return nil, "", err
	}

	date := out.Date
	if date.IsZero() {
		if opts.Now != nil {
			date = opts.Now()
		} else {
			date = time.Now()
		}
	}

	var b bytes.Buffer
	writeHeader(&b, "Date", date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	writeHeader(&b, "From", from)
	if replyTo != "" {
		writeHeader(&b, "Reply-To", replyTo)
	}
	if to != "" {
		writeHeader(&b, "To", to)
	}
	if cc != "" {
		writeHeader(&b, "Cc", cc)
	}
	writeHeader(&b, "Subject", encodeText(out.Subject))
	writeHeader(&b, "Message-ID", "<"+messageID+">")
	if out.InReplyTo != "" {
		writeHeader(&b, "In-Reply-To", "<"+out.InReplyTo+">")
	}
	if refs := references(out.References, out.InReplyTo); len(refs) > 0 {
		writeHeader(&b, "References", "<"+strings.Join(refs, "> <")+">")
	}
	writeHeader(&b, LoopHeader, opts.LoopID)
	if out.Automatic {
		writeHeader(&b, "Auto-Submitted", "auto-replied")
		writeHeader(&b, "X-Auto-Response-Suppress", "All")
		writeHeader(&b, "Precedence", "auto_reply")
	}
	writeHeader(&b, "MIME-Version", "1.0")

	boundary, err := randomHex(12)
	if err != nil {
		return nil, "", err
	}
	boundary = "=_helpdesk_" + boundary
	writeHeader(&b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
	b.WriteString("\r\n")

	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, "", err
	}
	text := normalizeNewlines(strings.ToValidUTF8(out.Text, "\uFFFD"))
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	htmlBody := out.HTML
	if htmlBody == "" {
		htmlBody = textToHTML(text)
	}
	htmlBody = normalizeNewlines(strings.ToValidUTF8(htmlBody, "\uFFFD"))
	for _, p := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", text},
		{"text/html; charset=utf-8", htmlBody},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, "", err
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := qw.Write([]byte(p.content)); err != nil {
			return nil, "", err
		}
		if err := qw.Close(); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), messageID, nil
}

// checkHeaderInputs rejects any header input with a control character:
// a CR or LF would let a customer-supplied name or subject start new
// header fields (header injection).
func checkHeaderInputs(out Outgoing, opts ComposeOptions) error {
	fields := []struct{ name, value string }{
		{"From name", out.From.Name}, {"From address", out.From.Address},
		{"Subject", out.Subject}, {"Message-ID", out.MessageID},
		{"In-Reply-To", out.InReplyTo}, {"Domain", opts.Domain}, {"LoopID", opts.LoopID},
	}
	if out.ReplyTo != nil {
		fields = append(fields, struct{ name, value string }{"Reply-To name", out.ReplyTo.Name}, struct{ name, value string }{"Reply-To address", out.ReplyTo.Address})
	}
	for _, list := range []struct {
		name string
		as   []Address
	}{{"To", out.To}, {"Cc", out.Cc}} {
		for _, a := range list.as {
			fields = append(fields, struct{ name, value string }{list.name + " name", a.Name}, struct{ name, value string }{list.name + " address", a.Address})
		}
	}
	for _, r := range out.References {
		fields = append(fields, struct{ name, value string }{"References", r})
	}
	for _, f := range fields {
		if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("%w: %s contains a line break or control character", ErrInvalidHeader, f.name)
		}
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidHeader, f.name)
		}
	}
	for _, id := range append([]string{out.InReplyTo}, out.References...) {
		if id == "" {
			continue
		}
		if err := checkID("References", id); err != nil {
			return err
		}
	}
	return nil
}

// checkID accepts a message id without brackets: printable ASCII, no
// white space or angle brackets.
func checkID(field, id string) error {
	if id == "" || len(id) > 500 || strings.ContainsAny(id, "<> \t\"") || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return fmt.Errorf("%w: %s %q is not a message id without brackets", ErrInvalidHeader, field, id)
	}
	return nil
}

// formatAddress validates a and renders it for a header, encoding a
// non-ASCII display name.
func formatAddress(field string, a Address) (string, error) {
	addr := strings.TrimSpace(a.Address)
	parsed, err := netmail.ParseAddress(addr)
	if err != nil || parsed.Address != addr || parsed.Name != "" {
		return "", fmt.Errorf("%w: %s %q", ErrInvalidAddress, field, a.Address)
	}
	for i := 0; i < len(a.Name); i++ {
		if a.Name[i] >= utf8.RuneSelf {
			return qEncode(a.Name, true) + " <" + addr + ">", nil
		}
	}
	// ASCII: net/mail quotes the name when it has specials.
	return (&netmail.Address{Name: a.Name, Address: addr}).String(), nil
}

func formatAddressList(field string, as []Address) (string, error) {
	out := make([]string, 0, len(as))
	for _, a := range as {
		s, err := formatAddress(field, a)
		if err != nil {
			return "", err
		}
		out = append(out, s)
	}
	return strings.Join(out, ", "), nil
}

// encodeText encodes an unstructured header value (the subject) for the
// wire: words that are plain ASCII stay readable, each run of words that
// is not (or that looks like an encoded word, or is too long to fold) is
// encoded as RFC 2047 Q words. The result folds at its spaces.
func encodeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	words := strings.Split(s, " ")
	needs := func(w string) bool {
		if len(w) > 900 || strings.Contains(w, "=?") {
			return true
		}
		for i := 0; i < len(w); i++ {
			if w[i] >= utf8.RuneSelf {
				return true
			}
		}
		return false
	}
	out := make([]string, 0, len(words))
	for i := 0; i < len(words); {
		if !needs(words[i]) {
			out = append(out, words[i])
			i++
			continue
		}
		// The spaces inside a run are encoded with it: white space between
		// two encoded words is dropped when decoding.
		j := i + 1
		for j < len(words) && needs(words[j]) {
			j++
		}
		out = append(out, qEncode(strings.Join(words[i:j], " "), false))
		i = j
	}
	return strings.Join(out, " ")
}

// maxEncodedWord keeps "Subject: " plus one encoded word within 78
// characters (RFC 2047 allows 75 per word).
const maxEncodedWord = 66

// qEncode encodes s as RFC 2047 Q words of at most maxEncodedWord
// characters, separated by spaces, never splitting a UTF-8 sequence.
// Unlike mime.QEncoding, it encodes ASCII too (a literal "=?" must not
// reach the reader as an encoded word). For a display name (phrase), only
// the characters RFC 2047 §5 allows there are left as they are.
func qEncode(s string, phrase bool) string {
	const prefix, suffix = "=?utf-8?q?", "?="
	room := maxEncodedWord - len(prefix) - len(suffix)
	var b, word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(prefix + word.String() + suffix)
			word.Reset()
		}
	}
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case phrase && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!*+-/", r)):
			enc = string(r)
		case !phrase && r < utf8.RuneSelf && r > ' ' && r <= '~' && !strings.ContainsRune("=?_", r):
			enc = string(r)
		default:
			var buf [utf8.UTFMax]byte
			n := utf8.EncodeRune(buf[:], r)
			for _, c := range buf[:n] {
				enc += fmt.Sprintf("=%02X", c)
			}
		}
		if word.Len()+len(enc) > room {
			flush()
		}
		word.WriteString(enc)
	}
	flush()
	return b.String()
}

// references returns the References list for a reply: refs (oldest first)
// with inReplyTo appended when it is not already there.
func references(refs []string, inReplyTo string) []string {
	out := make([]string, 0, len(refs)+1)
	seen := make(map[string]bool, len(refs)+1)
	for _, r := range refs {
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if inReplyTo != "" && !seen[inReplyTo] {
		out = append(out, inReplyTo)
	}
	return out
}

// maxLine is the folding width for header lines (RFC 5322 recommends 78).
const maxLine = 78

// writeHeader writes "Name: value" folded at spaces so lines stay within
// maxLine characters where the value allows it, ending with CRLF.
func writeHeader(b *bytes.Buffer, name, value string) {
	line := name + ":"
	for i, w := range strings.Fields(value) {
		switch {
		case i == 0:
			line += " " + w
		case len(line)+1+len(w) > maxLine:
			b.WriteString(line)
			b.WriteString("\r\n")
			line = " " + w
		default:
			line += " " + w
		}
	}
	b.WriteString(line)
	b.WriteString("\r\n")
}

func newMessageID(domain string) (string, error) {
	domain = strings.Trim(strings.ToLower(domain), ". ")
	if domain == "" {
		return "", fmt.Errorf("%w: no domain for the Message-ID (set ComposeOptions.Domain)", ErrInvalidHeader)
	}
	r, err := randomHex(16)
	if err != nil {
		return "", err
	}
	return r + "@" + domain, nil
}

func randomHex(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("mail: random id: %w", err)
	}
	return hex.EncodeToString(buf), nil
}

func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}
