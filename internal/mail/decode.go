package mail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gogs/chardet"
	"github.com/jhillyerd/enmime"
	"golang.org/x/net/html/charset"
)

// enmime parses the MIME tree with RawContent; decodeTransfer and
// decodeCharset do the transfer and charset decoding. Two reasons: enmime runs a charset
// detector over every text part even when told to trust declarations
// (three quarters of the time of Parse), and the declarations that are
// most often wrong — US-ASCII and Latin-1 labels on UTF-8 text — are
// better handled by trying UTF-8 first.

// decodeTransfer replaces p.Content, raw as enmime read it, by the bytes
// the transfer encoding carried. Charsets are left alone: body parts are
// converted by decodeCharset, attachments are kept as the sender's file.
// It reports whether bytes may have been lost, and a warning when
// something was wrong.
func decodeTransfer(p *enmime.Part) (lost bool, warning string) {
	cte := strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")))
	switch cte {
	case "base64":
		var bad bool
		p.Content, bad = decodeBase64(p.Content)
		if bad {
			lost, warning = true, fmt.Sprintf("part %s: malformed base64, decoded what could be", partName(p))
		}
	case "quoted-printable":
		p.Content = decodeQuotedPrintable(p.Content)
	case "", "7bit", "8bit", "binary":
	default:
		// x-uuencode and inventions: keep the bytes as they came.
		warning = fmt.Sprintf("part %s: unknown Content-Transfer-Encoding %q, kept as is", partName(p), cte)
	}
	return lost, warning
}

func partName(p *enmime.Part) string {
	if p.FileName != "" {
		return fmt.Sprintf("%q", sanitizeFilename(p.FileName))
	}
	if p.ContentType != "" {
		return p.ContentType
	}
	return p.PartID
}

// decodeBase64 decodes leniently: line breaks and white space are
// skipped, other stray characters dropped (bad is then true), padding in
// the middle (concatenated encodings) restarts decoding, and a dangling
// last character is dropped.
func decodeBase64(src []byte) (out []byte, bad bool) {
	clean := make([]byte, 0, len(src))
	for _, c := range src {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+') // URL-safe alphabet
		case c == '_':
			clean = append(clean, '/')
		case c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			bad = true
		}
	}
	out = make([]byte, 0, base64.RawStdEncoding.DecodedLen(len(clean)))
	for _, seg := range bytes.Split(clean, []byte("=")) {
		if len(seg)%4 == 1 {
			seg = seg[:len(seg)-1]
			bad = true
		}
		buf := make([]byte, base64.RawStdEncoding.DecodedLen(len(seg)))
		n, err := base64.RawStdEncoding.Decode(buf, seg)
		if err != nil {
			bad = true
		}
		out = append(out, buf[:n]...)
	}
	return out, bad
}

// decodeQuotedPrintable decodes leniently: "=XX" in either case, soft
// line breaks with LF or CRLF, white space before a line break dropped
// (RFC 2045 §6.7), and any "=" that starts no valid sequence kept as is.
func decodeQuotedPrintable(src []byte) []byte {
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '=' && i+2 < len(src) && src[i+1] == '\r' && src[i+2] == '\n':
			i += 2
		case c == '=' && i+1 < len(src) && src[i+1] == '\n':
			i++
		case c == '=' && i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]):
			out = append(out, unhex(src[i+1])<<4|unhex(src[i+2]))
			i += 2
		case c == '=' && i+1 == len(src):
			// a soft break at the very end
		case c == ' ' || c == '\t':
			j := i
			for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
				j++
			}
			if j < len(src) && (src[j] == '\r' || src[j] == '\n') || j == len(src) {
				i = j - 1 // trailing white space: transport padding
				continue
			}
			out = append(out, src[i:j]...)
			i = j - 1
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// utf8First are the labels under which text is kept as bytes, for
// cleanText to read as UTF-8 when it is valid UTF-8 and as windows-1252
// otherwise. For US-ASCII and ISO-8859-1 labels this repairs the common
// mislabelling of UTF-8 text and reads windows-1252 punctuation right (as
// browsers do), and it costs nothing when the label is right: Latin-1
// text with accents is practically never valid UTF-8.
var utf8First = map[string]bool{
	"": true, "utf-8": true, "utf8": true, "unicode-1-1-utf-8": true,
	"us-ascii": true, "ascii": true, "ansi_x3.4-1968": true, "iso646-us": true,
	"iso-8859-1": true, "iso8859-1": true, "iso_8859-1": true, "latin1": true, "l1": true,
	"windows-1252": true, "cp1252": true, "x-cp1252": true,
}

var metaCharset = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.-]+)`)

// decodeCharset converts a text part to UTF-8 according to its declared
// charset (for HTML without one, its <meta> tag). Undeclared text that is
// not UTF-8 is given to a charset detector, and kept for cleanText's
// windows-1252 reading when the detector is not confident. It returns a
// warning for an unknown charset.
func decodeCharset(p *enmime.Part) string {
	label := strings.ToLower(strings.Trim(p.Charset, " \t\"'"))
	label = strings.TrimPrefix(label, "charset=")
	if label == "" && p.ContentType == "text/html" {
		if m := metaCharset.FindSubmatch(p.Content[:min(len(p.Content), 4096)]); m != nil {
			label = strings.ToLower(string(m[1]))
		}
	}
	if label == "" && (bytes.Contains(p.Content, []byte("\x1b$B")) || bytes.Contains(p.Content, []byte("\x1b$@"))) {
		label = "iso-2022-jp" // 7-bit, so it passes for ASCII
	}
	if utf8First[label] {
		if label == "" && !utf8.Valid(p.Content) {
			if cs := detectCharset(p.Content); cs != "" {
				label = cs
			}
		}
		if utf8First[label] {
			return ""
		}
	}
	enc, _ := charset.Lookup(label)
	if enc == nil {
		return fmt.Sprintf("part %s: unknown charset %q, read as UTF-8", partName(p), p.Charset)
	}
	if d, err := enc.NewDecoder().Bytes(p.Content); err == nil {
		p.Content = d
		return ""
	}
	return fmt.Sprintf("part %s: text is not valid %s, read as UTF-8", partName(p), label)
}

// detectCharset guesses the charset of undeclared, non-UTF-8 text with
// enough letters to go on; "" when unsure.
func detectCharset(b []byte) string {
	if len(b) < 100 {
		return ""
	}
	r, err := chardet.NewTextDetector().DetectBest(b)
	if err != nil || r.Confidence < 85 {
		return ""
	}
	return strings.ToLower(r.Charset)
}
