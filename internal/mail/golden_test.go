package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current parser output")

// testLoopID is the loop id the corpus messages that come from "us" carry.
const testLoopID = "printshop-helpdesk-test"

// goldenMessage is the reviewed view of a parse result: everything an agent
// or the ticket logic relies on, with long bodies shortened to a prefix
// and a hash so the files stay readable.
type goldenMessage struct {
	Subject       string             `json:"subject"`
	From          Address            `json:"from"`
	ReplyTo       []Address          `json:"reply_to,omitempty"`
	To            []Address          `json:"to,omitempty"`
	Cc            []Address          `json:"cc,omitempty"`
	Date          string             `json:"date,omitempty"`
	MessageID     string             `json:"message_id"`
	InReplyTo     []string           `json:"in_reply_to,omitempty"`
	References    []string           `json:"references,omitempty"`
	Text          string             `json:"text"`
	TextSHA256    string             `json:"text_sha256,omitempty"`
	HTML          *goldenHTML        `json:"html,omitempty"`
	Preview       string             `json:"preview"`
	Attachments   []goldenAttachment `json:"attachments,omitempty"`
	AutoSubmitted bool               `json:"auto_submitted"`
	Bounce        *Bounce            `json:"bounce,omitempty"`
	OurLoop       bool               `json:"our_loop"`
	Warnings      int                `json:"warnings"`
}

type goldenHTML struct {
	Length    int    `json:"length"`
	Sanitized bool   `json:"sanitized"` // no script, event handler or javascript: URL
	Excerpt   string `json:"excerpt"`   // the first 600 bytes
}

type goldenAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
	ContentID   string `json:"content_id,omitempty"`
	SHA256      string `json:"sha256"` // first 16 hex digits
}

const goldenTextLimit = 3000

func toGolden(m *Message) goldenMessage {
	g := goldenMessage{
		Subject: m.Subject, From: m.From, ReplyTo: m.ReplyTo, To: m.To, Cc: m.Cc,
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		Text: m.Text, Preview: m.Preview, AutoSubmitted: m.AutoSubmitted,
		Bounce: m.Bounce, OurLoop: m.OurLoop, Warnings: len(m.Warnings),
	}
	if !m.Date.IsZero() {
		g.Date = m.Date.Format(time.RFC3339)
	}
	if len(g.Text) > goldenTextLimit {
		sum := sha256.Sum256([]byte(m.Text))
		g.TextSHA256 = hex.EncodeToString(sum[:])
		g.Text = truncateRunes(g.Text, goldenTextLimit/2)
	}
	if m.HTML != "" {
		ex := m.HTML
		if len(ex) > 600 {
			ex = strings.ToValidUTF8(ex[:600], "") + "…"
		}
		g.HTML = &goldenHTML{Length: len(m.HTML), Sanitized: htmlIsSafe(m.HTML) == "", Excerpt: ex}
	}
	for _, a := range m.Attachments {
		sum := sha256.Sum256(a.Data)
		g.Attachments = append(g.Attachments, goldenAttachment{
			Filename: a.Filename, ContentType: a.ContentType, Size: len(a.Data),
			Inline: a.Inline, ContentID: a.ContentID, SHA256: hex.EncodeToString(sum[:8]),
		})
	}
	return g
}

// htmlIsSafe returns "" when s has no active content, else a description
// of the first problem found. It checks the literal text — no "<script",
// "javascript:", "vbscript:" or "onerror" in any case — and the parsed
// markup: no script-capable element, no on* or style attribute, no
// javascript:, vbscript: or data: URL once entities are decoded.
func htmlIsSafe(s string) string {
	lower := strings.ToLower(s)
	for _, bad := range []string{"<script", "javascript:", "vbscript:", "onerror"} {
		if strings.Contains(lower, bad) {
			return "contains " + bad
		}
	}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return ""
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, more := z.TagName()
		switch string(name) {
		case "script", "iframe", "object", "embed", "svg", "math", "form", "style", "base", "meta", "link":
			return "element <" + string(name) + ">"
		}
		for more {
			var k, v []byte
			k, v, more = z.TagAttr()
			key := strings.ToLower(string(k))
			if strings.HasPrefix(key, "on") || key == "style" {
				return "attribute " + key
			}
			val := strings.ToLower(strings.Map(func(r rune) rune {
				if r <= ' ' {
					return -1
				}
				return r
			}, string(v)))
			if i := strings.IndexAny(val, ":/?#"); i > 0 && val[i] == ':' {
				switch val[:i] {
				case "javascript", "vbscript", "data":
					return "URL " + val
				}
			}
		}
	}
}

func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("corpus has %d messages, want at least 40", len(files))
	}
	return files
}

// TestGolden parses every corpus message and compares the result with
// testdata/golden/<name>.json. Run with -update to rewrite the files, then
// review the diff: a golden file records correct behaviour, not merely
// current behaviour.
func TestGolden(t *testing.T) {
	for _, file := range corpusFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m := Parse(raw, ParseOptions{LoopID: testLoopID})
			checkInvariants(t, m)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // the files are for reading
			enc.SetIndent("", "  ")
			if err := enc.Encode(toGolden(m)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("parse result differs from %s:\n got: %s\nwant: %s", path, got, want)
			}
		})
	}
}

// checkInvariants asserts what must hold for any input: valid UTF-8
// everywhere, safe HTML, sanitized attachment names, bounded preview.
func checkInvariants(t testing.TB, m *Message) {
	t.Helper()
	if m == nil {
		t.Fatal("Parse returned nil")
	}
	strs := map[string]string{
		"Subject": m.Subject, "Text": m.Text, "HTML": m.HTML, "Preview": m.Preview,
		"MessageID": m.MessageID, "From.Name": m.From.Name, "From.Address": m.From.Address,
	}
	for _, list := range [][]Address{m.To, m.Cc, m.ReplyTo} {
		for _, a := range list {
			strs["address "+a.Address] = a.Name + a.Address
		}
	}
	for _, id := range append(append([]string{}, m.InReplyTo...), m.References...) {
		strs["id "+id] = id
	}
	for _, w := range m.Warnings {
		strs["warning"] = w
	}
	for _, a := range m.Attachments {
		strs["attachment "+a.Filename] = a.Filename + a.ContentType + a.ContentID
		if a.Filename == "" || strings.ContainsAny(a.Filename, "/\\\x00") || strings.ContainsFunc(a.Filename, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("attachment name %q is not sanitized", a.Filename)
		}
		if a.ContentType != strings.ToLower(a.ContentType) || strings.Contains(a.ContentType, ";") {
			t.Errorf("attachment content type %q has upper case or parameters", a.ContentType)
		}
	}
	if m.Bounce != nil {
		strs["bounce"] = m.Bounce.OriginalMessageID + m.Bounce.Action + m.Bounce.Status + strings.Join(m.Bounce.Recipients, ",")
		if !m.AutoSubmitted {
			t.Error("a bounce must be AutoSubmitted")
		}
	}
	for k, v := range strs {
		if !utf8.ValidString(v) {
			t.Errorf("%s is not valid UTF-8: %q", k, v)
		}
	}
	for k, v := range map[string]string{"Subject": m.Subject, "From.Name": m.From.Name} {
		if strings.ContainsAny(v, "\r\n") {
			t.Errorf("%s contains a line break: %q", k, v)
		}
	}
	if problem := htmlIsSafe(m.HTML); problem != "" {
		t.Errorf("HTML is not safe (%s): %.300q", problem, m.HTML)
	}
	if n := utf8.RuneCountInString(m.Preview); n > maxPreview+1 {
		t.Errorf("preview has %d runes", n)
	}
}
