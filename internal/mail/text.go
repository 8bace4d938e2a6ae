package mail

import (
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// cleanText turns text of uncertain encoding into valid UTF-8 with LF line
// endings. It keeps every character it can:
//
//   - bytes that do not form UTF-8 are read as windows-1252 when the text
//     has no valid multi-byte UTF-8 sequence at all (an undeclared or
//     mis-declared Western text), else replaced by U+FFFD;
//   - C1 control characters (U+0080–U+009F) are read as the windows-1252
//     characters they almost always are (smart quotes, dashes, €) — they
//     come from ISO-8859-1 declarations of windows-1252 text;
//   - NUL and other C0 controls except tab and newline are dropped, as are
//     byte-order marks.
func cleanText(s string) string {
	if !utf8.ValidString(s) {
		if hasMultibyteUTF8(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		} else if d, err := charmap.Windows1252.NewDecoder().String(s); err == nil {
			s = d
		} else {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
	}
	if strings.Contains(s, "\uFEFF") {
		// A byte-order mark is noise, wherever a mailer pasted it.
		s = strings.ReplaceAll(s, "\uFEFF", "")
	}
	if !needsCleaning(s) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\r':
			b.WriteByte('\n')
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			// dropped: NUL, escape sequences and friends have no meaning in text
		case r >= 0x80 && r <= 0x9f:
			if c := c1ToWindows1252[r-0x80]; c != 0 {
				b.WriteRune(c)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// needsCleaning reports whether s contains anything cleanText's loop would
// change, so the common case allocates nothing.
func needsCleaning(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return true
		}
		// U+0080–U+009F are encoded as C2 80 – C2 9F.
		if c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f {
			return true
		}
	}
	return false
}

// hasMultibyteUTF8 reports whether s holds at least one valid multi-byte
// UTF-8 sequence.
func hasMultibyteUTF8(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			return true
		}
		i += size
	}
	return false
}

// c1ToWindows1252 maps U+0080+i to the windows-1252 character at byte
// 0x80+i; 0 where windows-1252 leaves the byte undefined (then dropped).
var c1ToWindows1252 = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

// cleanHeader is cleanText for a header value: raw ISO-2022-JP (sent
// without RFC 2047 by some Japanese mailers) is decoded, and line breaks and
// runs of white space become one space.
func cleanHeader(s string) string {
	if strings.Contains(s, "\x1b$B") || strings.Contains(s, "\x1b(J") {
		if d, err := japanese.ISO2022JP.NewDecoder().String(s); err == nil {
			s = d
		}
	}
	return collapseSpace(cleanText(s))
}

// collapseSpace replaces every run of white space by one space and trims.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sanitizer returns the HTML policy for message bodies: bluemonday's UGC
// policy (no scripts, no event handlers, no javascript: URLs, no styles),
// plus cid: URLs so inline images can be shown by rewriting them. A
// bluemonday.Policy is safe for concurrent use once built.
var sanitizer = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowURLSchemes("mailto", "http", "https", "cid")
	return p
})

// sanitizeHTML returns the body HTML made safe to show to agents.
//
// After bluemonday, the words that filters and reviewers look for —
// "javascript:", "vbscript:", "onerror", "onload" — are left only in
// harmless places (text, a URL fragment, a title). They are still written
// with a character reference, which renders and resolves to the same
// text, so a plain substring check of the result finds none of them.
func sanitizeHTML(s string) string {
	return defang.Replace(strings.TrimSpace(sanitizer().Sanitize(s)))
}

var defang = newCaseInsensitiveReplacer(
	"javascript:", "javascript&#58;",
	"vbscript:", "vbscript&#58;",
	"onerror", "on&#101;rror",
	"onload", "on&#108;oad",
)

// caseInsensitiveReplacer replaces ASCII words whatever their case,
// keeping the case of the text.
type caseInsensitiveReplacer struct {
	pairs []string // lower-case word, replacement of its tail
	re    *regexp.Regexp
}

func newCaseInsensitiveReplacer(oldnew ...string) *caseInsensitiveReplacer {
	r := &caseInsensitiveReplacer{pairs: oldnew}
	var alts []string
	for i := 0; i < len(oldnew); i += 2 {
		alts = append(alts, regexp.QuoteMeta(oldnew[i]))
	}
	r.re = regexp.MustCompile("(?i)" + strings.Join(alts, "|"))
	return r
}

func (r *caseInsensitiveReplacer) Replace(s string) string {
	return r.re.ReplaceAllStringFunc(s, func(m string) string {
		lm := strings.ToLower(m)
		for i := 0; i < len(r.pairs); i += 2 {
			if r.pairs[i] == lm {
				// Keep the original spelling up to where the replacement
				// differs from the word.
				repl := r.pairs[i+1]
				n := 0
				for n < len(lm) && n < len(repl) && lm[n] == repl[n] {
					n++
				}
				return m[:n] + repl[n:]
			}
		}
		return m
	})
}

// blockElements start and end a line when HTML is turned into text.
var blockElements = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Center: true, atom.Dd: true, atom.Details: true, atom.Div: true, atom.Dl: true,
	atom.Dt: true, atom.Fieldset: true, atom.Figcaption: true, atom.Figure: true,
	atom.Footer: true, atom.Form: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Header: true, atom.Hr: true,
	atom.Li: true, atom.Main: true, atom.Nav: true, atom.Ol: true, atom.P: true,
	atom.Pre: true, atom.Section: true, atom.Table: true, atom.Tbody: true,
	atom.Thead: true, atom.Tfoot: true, atom.Tr: true, atom.Ul: true, atom.Caption: true,
	atom.Body: true, atom.Html: true,
}

// paragraphElements are separated from their neighbours by a blank line.
var paragraphElements = map[atom.Atom]bool{
	atom.P: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
	atom.H5: true, atom.H6: true, atom.Table: true, atom.Ul: true, atom.Ol: true,
	atom.Pre: true, atom.Blockquote: true, atom.Hr: true,
}

// skippedElements have content that is not text to read.
var skippedElements = map[atom.Atom]bool{
	atom.Head: true, atom.Script: true, atom.Style: true, atom.Title: true,
	atom.Noscript: true, atom.Template: true, atom.Object: true, atom.Svg: true,
	atom.Math: true, atom.Iframe: true, atom.Select: true, atom.Textarea: true,
}

// htmlToText renders HTML as readable plain text: block elements become
// line breaks, paragraphs blank lines, list items "- " lines, blockquotes
// "> " quoted lines (so Preview can trim quoted history), links keep their
// http(s) target in angle brackets when it differs from the link text.
// Script, style and head content is skipped. It never fails: the
// tokenizer accepts any input.
func htmlToText(src string) string {
	w := &textWriter{}
	z := html.NewTokenizer(strings.NewReader(src))
	var skip []atom.Atom // stack of open skipped elements
	type link struct {
		href  string
		start int
	}
	var links []link
	pre := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return w.String()
		case html.TextToken:
			if len(skip) > 0 {
				continue
			}
			if pre > 0 {
				w.writePre(string(z.Text()))
			} else {
				w.writeText(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			end := tt == html.EndTagToken
			if skippedElements[a] {
				if tt == html.StartTagToken && !isVoid(a) {
					skip = append(skip, a)
				} else if end {
					for i := len(skip) - 1; i >= 0; i-- {
						if skip[i] == a {
							skip = skip[:i]
							break
						}
					}
				}
				continue
			}
			if len(skip) > 0 {
				continue
			}
			var attrs map[string]string
			if hasAttr && !end {
				attrs = make(map[string]string)
				for {
					k, v, more := z.TagAttr()
					attrs[string(k)] = string(v)
					if !more {
						break
					}
				}
			}
			switch {
			case a == atom.Br:
				w.newline()
			case a == atom.Blockquote:
				w.block(true)
				if end {
					if w.quote > 0 {
						w.quote--
					}
				} else {
					w.quote++
				}
			case a == atom.Pre:
				w.block(true)
				if end {
					if pre > 0 {
						pre--
					}
				} else if tt == html.StartTagToken {
					pre++
				}
			case a == atom.Li && !end:
				w.block(false)
				w.writeText("- ")
			case a == atom.Td || a == atom.Th:
				if !end {
					w.space()
				}
			case a == atom.Img && !end:
				if alt := strings.TrimSpace(attrs["alt"]); alt != "" {
					w.writeText("[" + alt + "]")
				}
			case a == atom.A:
				if !end {
					links = append(links, link{href: strings.TrimSpace(attrs["href"]), start: w.len()})
				} else if n := len(links); n > 0 {
					l := links[n-1]
					links = links[:n-1]
					text := strings.TrimSpace(w.since(l.start))
					if isWebURL(l.href) && text != "" && !strings.Contains(text, strings.TrimPrefix(strings.TrimPrefix(l.href, "https://"), "http://")) {
						w.writeText(" <" + l.href + ">")
					}
				}
			case blockElements[a]:
				w.block(paragraphElements[a])
			}
		}
	}
}

func isVoid(a atom.Atom) bool {
	switch a {
	case atom.Br, atom.Img, atom.Hr, atom.Meta, atom.Link, atom.Input, atom.Wbr, atom.Col, atom.Area, atom.Base, atom.Embed, atom.Source, atom.Track, atom.Param:
		return true
	}
	return false
}

func isWebURL(s string) bool {
	l := strings.ToLower(s)
	return (strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")) && len(s) <= 300
}

// textWriter accumulates text lines for htmlToText, collapsing white space
// and prefixing quoted lines.
type textWriter struct {
	line      []byte // current line, without the quote prefix
	lines     []string
	quote     int  // blockquote depth
	lineQuote int  // quote depth the current line started at
	prevQuote int  // quote depth of the last line written
	pendSpace bool // a space is due before the next word
	blankDue  bool // a blank line is due before the next text
}

func (w *textWriter) len() int { return len(w.line) }

func (w *textWriter) since(i int) string {
	if i > len(w.line) {
		return ""
	}
	return string(w.line[i:])
}

func (w *textWriter) startText() {
	if len(w.line) == 0 {
		if w.blankDue && len(w.lines) > 0 {
			// The blank line belongs to the shallower of its neighbours.
			w.lines = append(w.lines, strings.Repeat("> ", min(w.quote, w.prevQuote)))
		}
		w.blankDue = false
		w.lineQuote = w.quote
		w.pendSpace = false
	}
}

func (w *textWriter) writeText(s string) {
	if s == "" {
		return
	}
	if r, _ := utf8.DecodeRuneInString(s); unicode.IsSpace(r) {
		w.pendSpace = true
	}
	for _, f := range strings.FieldsFunc(s, unicode.IsSpace) {
		w.startText()
		if w.pendSpace && len(w.line) > 0 {
			w.line = append(w.line, ' ')
		}
		w.line = append(w.line, f...)
		w.pendSpace = true
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	w.pendSpace = unicode.IsSpace(r)
}

// space separates table cells.
func (w *textWriter) space() {
	if len(w.line) > 0 {
		w.pendSpace = true
	}
}

func (w *textWriter) writePre(s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for i, part := range strings.Split(s, "\n") {
		if i > 0 {
			w.newline()
		}
		if part != "" {
			w.startText()
			w.line = append(w.line, part...)
		}
	}
}

// newline ends the current line (a <br>).
func (w *textWriter) newline() {
	w.flush(true)
}

// block ends the current line at a block boundary; para asks for a blank
// line before the next text.
func (w *textWriter) block(para bool) {
	w.flush(false)
	if para {
		w.blankDue = true
	}
}

func (w *textWriter) flush(force bool) {
	if len(w.line) == 0 && !force {
		return
	}
	q := w.lineQuote
	if len(w.line) == 0 {
		q = w.quote
	}
	w.lines = append(w.lines, strings.Repeat("> ", q)+string(w.line))
	w.prevQuote = q
	w.line = w.line[:0]
	w.pendSpace = false
}

func (w *textWriter) String() string {
	w.flush(false)
	out := make([]string, 0, len(w.lines))
	blank := 0
	for _, l := range w.lines {
		l = strings.TrimRight(l, " ")
		if strings.Trim(l, "> ") == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
			l = strings.TrimRight(l, " ")
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	for len(out) > 0 && strings.Trim(out[len(out)-1], "> ") == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

// textToHTML renders plain text as simple HTML: escaped, blank-line
// separated paragraphs, line breaks kept.
func textToHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n")
	for _, para := range splitParagraphs(text) {
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			b.WriteString(html.EscapeString(line))
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

var blankLines = regexp.MustCompile(`\n[ \t]*\n\s*`)

func splitParagraphs(text string) []string {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if text == "" {
		return nil
	}
	return blankLines.Split(text, -1)
}

// maxPreview is the length of Message.Preview, in runes.
const maxPreview = 500

var (
	// "On Tue, Mar 3, 2026 at 10:15 AM Jane <jane@example.com> wrote:" and
	// its translations; the header may wrap over up to three lines.
	attributionStart = regexp.MustCompile(`(?i)^(on|am|le|el|op|il|em|den|på|dne)\b`)
	attributionVerb  = regexp.MustCompile(`(?i)\b(` + strings.Join(attributionVerbs[:], "|") + `)\b`)
	// Outlook's separator and header block.
	originalMessage = regexp.MustCompile(`(?i)^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}$`)
	// qmail and Exim bounces quote the returned message after these.
	returnedCopy   = regexp.MustCompile(`(?i)^-+\s*(below this line is a copy of the message|this is a copy of the message)`)
	outlookFrom    = regexp.MustCompile(`(?i)^\*?(from|von|de|van)\s*:\*?\s`)
	outlookSent    = regexp.MustCompile(`(?i)^\*?(sent|date|gesendet|envoyé|enviado|verzonden)\s*:\*?\s`)
	underscoreRule = regexp.MustCompile(`^_{20,}$`)
	// Forward markers: what follows is the forwarded message, which is the
	// content of a forward, so only its header block is skipped.
	forwardMarker   = regexp.MustCompile(`(?i)^-*\s*(forwarded message|begin forwarded message:?|weitergeleitete nachricht|message transféré|mensaje reenviado)\s*-*$`)
	headerLine      = regexp.MustCompile(`^\*?[A-Za-z][A-Za-z-]{0,30}\s?:\*?(\s|$)`)
	mobileSignature = regexp.MustCompile(`(?i)^(sent from my (iphone|ipad|android|phone|mobile)|get outlook for (ios|android)|sent from (mail|yahoo mail|outlook) for)`)
)

// preview returns the first words of the new part of a message: quoted
// lines are dropped and the text is cut at a quoted-reply header ("On …
// wrote:", Outlook's "-----Original Message-----" or "From:/Sent:" block),
// a signature delimiter ("-- ") or a mobile signature. A forward keeps the
// forwarded text, without its header block. White space is collapsed; the
// result has at most maxPreview runes.
func preview(text string) string {
	lines := strings.Split(text, "\n")
	kept := make([]string, 0, 32)
	keptBytes := 0
	inForwardHeader := false
cut:
	for i, line := range lines {
		if keptBytes > 4*maxPreview*utf8.UTFMax {
			break // far more than the preview shows
		}
		t := strings.TrimSpace(line)
		if inForwardHeader {
			if t == "" || headerLine.MatchString(t) {
				continue
			}
			inForwardHeader = false
		}
		switch {
		case forwardMarker.MatchString(t):
			inForwardHeader = true
			continue
		case strings.HasPrefix(t, ">"):
			continue
		case line == "-- " || t == "--":
			break cut
		case originalMessage.MatchString(t), mobileSignature.MatchString(t), returnedCopy.MatchString(t):
			break cut
		case underscoreRule.MatchString(t) && i+1 < len(lines) && outlookFrom.MatchString(nextNonBlank(lines[i+1:])):
			break cut
		case outlookFrom.MatchString(t) && isOutlookHeader(lines[i+1:]):
			break cut
		case attributionStart.MatchString(t) && isAttribution(lines[i:]):
			break cut
		}
		kept = append(kept, t)
		keptBytes += len(t)
	}
	p := collapseSpace(strings.Join(kept, " "))
	if p == "" {
		// Everything was quoted (or a bare signature): show the start anyway.
		head := text
		if n := 4 * maxPreview * utf8.UTFMax; len(head) > n {
			for n > 0 && !utf8.RuneStart(head[n]) {
				n--
			}
			head = head[:n]
		}
		p = collapseSpace(head)
	}
	return truncateRunes(p, maxPreview)
}

func nextNonBlank(lines []string) string {
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			return t
		}
	}
	return ""
}

// isOutlookHeader reports whether a "From:" line is followed by a "Sent:"
// or "Date:" line within the next few lines.
func isOutlookHeader(rest []string) bool {
	for i, l := range rest {
		if i >= 4 {
			break
		}
		if outlookSent.MatchString(strings.TrimSpace(l)) {
			return true
		}
	}
	return false
}

// attributionVerbs are "wrote" in the languages whose replies we see,
// lowercase, with no regexp metacharacters (attributionVerb is built from
// them).
var attributionVerbs = [...]string{"wrote", "writes", "schrieb", "a écrit", "escribió", "schreef", "ha scritto", "escreveu", "skrev", "napsal", "kirjoitti"}

// endsWithAttributionVerb reports whether s ends with one of
// attributionVerbs, then optional spaces, a colon and spaces, ignoring
// case: what the regexp `(?i)(wrote|…)\s*:?\s*$` says, without trying a
// match at every position of s (preview calls it for every line that
// starts like an attribution, which made it a tenth of the CPU of a
// server taking in mail).
func endsWithAttributionVerb(s string) bool {
	const space = " \t\n\v\f\r"
	s = strings.TrimRight(s, space)
	s = strings.TrimSuffix(s, ":")
	s = strings.TrimRight(s, space)
	if len(s) > 24 {
		s = s[len(s)-24:] // longer than any verb; a rune cut at the front does not matter
	}
	s = strings.ToLower(s)
	for _, v := range attributionVerbs {
		if strings.HasSuffix(s, v) {
			return true
		}
	}
	return false
}

// isAttribution reports whether lines start with an "On … wrote:" header
// wrapped over at most three lines.
func isAttribution(lines []string) bool {
	var joined string
	for i := 0; i < len(lines) && i < 3; i++ {
		t := strings.TrimSpace(lines[i])
		if i > 0 && (t == "" || strings.HasPrefix(t, ">")) {
			break
		}
		joined += " " + t
		// "… wrote:" or, in German and others, "… schrieb Name:".
		if endsWithAttributionVerb(joined) || (strings.HasSuffix(joined, ":") && attributionVerb.MatchString(joined)) {
			return len(joined) < 300
		}
	}
	return false
}

// truncateRunes cuts s to at most n runes, at a word boundary when one is
// near, and marks the cut with an ellipsis.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if n == 0 {
			cut = i
			break
		}
		n--
	}
	t := s[:cut]
	if sp := strings.LastIndexByte(t, ' '); sp > len(t)*3/4 {
		t = t[:sp]
	}
	return strings.TrimRight(t, " ") + "…"
}
