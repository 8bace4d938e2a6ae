package mail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// msg builds a message from header lines and a body, with CRLF endings.
func msg(headers []string, body string) []byte {
	return []byte(strings.Join(headers, "\r\n") + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n"))
}

func TestParseClassification(t *testing.T) {
	base := []string{"From: Jane <jane@example.org>", "To: support@example.com", "Subject: hi", "Message-ID: <a@example.org>"}
	tests := []struct {
		name     string
		headers  []string
		auto     bool
		bounce   bool
		loop     bool
		loopOpts string
	}{
		{name: "ordinary mail", auto: false},
		{name: "Auto-Submitted auto-replied", headers: []string{"Auto-Submitted: auto-replied"}, auto: true},
		{name: "Auto-Submitted auto-generated with comment", headers: []string{"Auto-Submitted: auto-generated (vacation)"}, auto: true},
		{name: "Auto-Submitted no", headers: []string{"Auto-Submitted: no"}, auto: false},
		{name: "Auto-Submitted No with spaces", headers: []string{"Auto-Submitted:  No "}, auto: false},
		{name: "Precedence bulk", headers: []string{"Precedence: bulk"}, auto: true},
		{name: "Precedence junk", headers: []string{"Precedence: junk"}, auto: true},
		{name: "Precedence list", headers: []string{"Precedence: list"}, auto: true},
		{name: "Precedence auto_reply", headers: []string{"Precedence: auto_reply"}, auto: true},
		{name: "Precedence first-class", headers: []string{"Precedence: first-class"}, auto: false},
		{name: "X-Autoreply", headers: []string{"X-Autoreply: yes"}, auto: true},
		{name: "X-Autorespond", headers: []string{"X-Autorespond: Out of office"}, auto: true},
		{name: "X-Auto-Response-Suppress any value", headers: []string{"X-Auto-Response-Suppress: OOF, AutoReply"}, auto: true},
		{name: "List-Id", headers: []string{"List-Id: <printers.lists.example.org>"}, auto: true},
		{name: "List-Unsubscribe", headers: []string{"List-Unsubscribe: <mailto:leave@example.org>"}, auto: true},
		{name: "null Return-Path", headers: []string{"Return-Path: <>"}, auto: true},
		{name: "ordinary Return-Path", headers: []string{"Return-Path: <jane@example.org>"}, auto: false},
		{name: "our loop header", headers: []string{"X-Helpdesk-Loop: install-1"}, loopOpts: "install-1", loop: true},
		{name: "other installation's loop header", headers: []string{"X-Helpdesk-Loop: install-2"}, loopOpts: "install-1", loop: false},
		{name: "loop header but no LoopID configured", headers: []string{"X-Helpdesk-Loop: install-1"}, loop: false},
		{name: "read receipt", headers: []string{"Content-Type: multipart/report; report-type=disposition-notification; boundary=x"}, auto: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse(msg(append(append([]string{}, base...), tt.headers...), "Hello\n"), ParseOptions{LoopID: tt.loopOpts})
			if m.AutoSubmitted != tt.auto || (m.Bounce != nil) != tt.bounce || m.OurLoop != tt.loop {
				t.Errorf("auto=%v bounce=%v loop=%v, want auto=%v bounce=%v loop=%v", m.AutoSubmitted, m.Bounce != nil, m.OurLoop, tt.auto, tt.bounce, tt.loop)
			}
		})
	}
}

func TestParseDaemonSenders(t *testing.T) {
	for _, from := range []string{"MAILER-DAEMON@mx.example.net", "postmaster@example.net", "Mail Delivery Subsystem <Mailer-Daemon@example.net>"} {
		t.Run(from, func(t *testing.T) {
			m := Parse(msg([]string{"From: " + from, "Subject: Delivery failure"}, "Your message to <gone@example.net> could not be delivered: 550 no such user\n\nMessage-ID: <20260101.abc@helpdesk.example.com>\n"), ParseOptions{})
			if !m.AutoSubmitted || m.Bounce == nil {
				t.Fatalf("auto=%v bounce=%v, want both", m.AutoSubmitted, m.Bounce)
			}
			if m.Bounce.OriginalMessageID != "20260101.abc@helpdesk.example.com" {
				t.Errorf("original id %q", m.Bounce.OriginalMessageID)
			}
			if m.Bounce.Status != "5.0.0" || m.Bounce.Action != "failed" {
				t.Errorf("status %q action %q", m.Bounce.Status, m.Bounce.Action)
			}
		})
	}
}

func TestParseBounceWithFailedRecipientsHeader(t *testing.T) {
	raw := msg([]string{
		"From: Mail Delivery System <Mailer-Daemon@mx.example.net>",
		"X-Failed-Recipients: Gone@Example.net, other@example.net",
		"Subject: Mail delivery failed: returning message to sender",
	}, "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered.\n\n------ This is a copy of the message, including all the headers. ------\n\nMessage-Id: <orig.1@helpdesk.example.com>\nSubject: [#1] hello\n")
	m := Parse(raw, ParseOptions{})
	want := &Bounce{OriginalMessageID: "orig.1@helpdesk.example.com", Recipients: []string{"gone@example.net", "other@example.net"}, Action: "failed"}
	if !reflect.DeepEqual(m.Bounce, want) {
		t.Errorf("bounce = %+v, want %+v", m.Bounce, want)
	}
	if strings.Contains(m.Preview, "orig.1") {
		t.Errorf("preview shows the returned copy: %q", m.Preview)
	}
}

func TestParseDeliveryStatusDelayed(t *testing.T) {
	raw := msg([]string{
		"From: postmaster@mx.example.net",
		`Content-Type: multipart/report; report-type=delivery-status; boundary="b"`,
	}, `--b
Content-Type: text/plain

Delivery is delayed.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ok@example.net
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822; Slow@Example.net
Action: delayed
Status: 4.4.1

--b
Content-Type: message/rfc822

Message-ID: <ours.9@helpdesk.example.com>
Subject: hi

body
--b--
`)
	m := Parse(raw, ParseOptions{})
	want := &Bounce{OriginalMessageID: "ours.9@helpdesk.example.com", Recipients: []string{"slow@example.net"}, Action: "delayed", Status: "4.4.1"}
	if !reflect.DeepEqual(m.Bounce, want) {
		t.Errorf("bounce = %+v, want %+v", m.Bounce, want)
	}
}

func TestParseCharsets(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		body    []byte
		want    string
	}{
		{"utf-8 declared", []string{"Content-Type: text/plain; charset=utf-8"}, []byte("caf\xc3\xa9"), "café"},
		{"windows-1252 undeclared", nil, []byte("\x93quoted\x94 \x96 dash"), "“quoted” – dash"},
		{"windows-1252 declared as iso-8859-1", []string{"Content-Type: text/plain; charset=iso-8859-1"}, []byte("it\x92s \x80 5"), "it’s € 5"},
		{"utf-8 declared as us-ascii", []string{"Content-Type: text/plain; charset=us-ascii"}, []byte("Gr\xc3\xbc\xc3\x9fe"), "Grüße"},
		{"utf-8 declared as iso-8859-1", []string{"Content-Type: text/plain; charset=ISO-8859-1"}, []byte("na\xc3\xafve"), "naïve"},
		{"iso-8859-1 correct", []string{"Content-Type: text/plain; charset=iso-8859-1"}, []byte("na\xefve"), "naïve"},
		{"iso-8859-15", []string{"Content-Type: text/plain; charset=iso-8859-15"}, []byte("\xa4 10"), "€ 10"},
		{"koi8-r", []string{"Content-Type: text/plain; charset=koi8-r"}, []byte("\xf0\xd2\xc9\xd7\xc5\xd4"), "Привет"},
		{"utf-8 with stray invalid byte", []string{"Content-Type: text/plain; charset=utf-8"}, []byte("caf\xc3\xa9 \xff ok"), "café \uFFFD ok"},
		{"unknown charset", []string{"Content-Type: text/plain; charset=x-unknown-42"}, []byte("plain \xe9"), "plain é"},
		{"NUL and escape dropped", nil, []byte("a\x00b\x1b[31mc"), "ab[31mc"},
		{"iso-2022-jp", []string{"Content-Type: text/plain; charset=iso-2022-jp"}, []byte("\x1b$B$3$s$K$A$O\x1b(B"), "こんにちは"},
		{"shift_jis", []string{"Content-Type: text/plain; charset=shift_jis"}, []byte("\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd"), "こんにちは"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := append([]string{"From: a@example.org", "Subject: s"}, tt.headers...)
			raw := append([]byte(strings.Join(h, "\r\n")+"\r\n\r\n"), tt.body...)
			m := Parse(raw, ParseOptions{})
			if m.Text != tt.want {
				t.Errorf("Text = %q, want %q (warnings %q)", m.Text, tt.want, m.Warnings)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name   string
		header string
		check  func(*Message) string
	}{
		{"encoded subject split over words", "Subject: =?UTF-8?B?w4lt?= =?UTF-8?Q?ile_?=\r\n =?ISO-8859-1?Q?=E0_Paris?=",
			func(m *Message) string { return m.Subject }},
		{"raw 8-bit utf-8 subject", "Subject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln",
			func(m *Message) string { return m.Subject }},
		{"raw 8-bit latin-1 subject", "Subject: Gr\xfc\xdfe",
			func(m *Message) string { return m.Subject }},
		{"raw iso-2022-jp subject", "Subject: \x1b$B$3$s$K$A$O\x1b(B",
			func(m *Message) string { return m.Subject }},
		{"folded subject", "Subject: a very\r\n\tlong\r\n  subject",
			func(m *Message) string { return m.Subject }},
		{"encoded name with comma", "From: =?UTF-8?Q?M=C3=BCller=2C_J=C3=BCrgen?= <J.Mueller@Example.DE>",
			func(m *Message) string { return m.From.Name + "|" + m.From.Address }},
		{"address without name", "From: Jane@Example.ORG",
			func(m *Message) string { return m.From.Name + "|" + m.From.Address }},
		{"comment-style name", "From: jane@example.org (Jane Doe)",
			func(m *Message) string { return m.From.Name + "|" + m.From.Address }},
		{"date with comment", "Date: Tue, 3 Mar 2026 16:12:41 +0000 (UTC)",
			func(m *Message) string { return m.Date.UTC().Format(time.RFC3339) }},
		{"date without weekday and seconds", "Date: 3 Mar 2026 16:12 +0100",
			func(m *Message) string { return m.Date.UTC().Format(time.RFC3339) }},
		{"date with two-digit year", "Date: Tue, 3 Mar 26 16:12:41 -0500",
			func(m *Message) string { return m.Date.UTC().Format(time.RFC3339) }},
		{"message-id without brackets", "Message-ID: bare.id@example.org",
			func(m *Message) string { return m.MessageID }},
		{"in-reply-to with trailing comment", `In-Reply-To: <x.1@example.org> (Jane's message of "Tue, 3 Mar 2026")`,
			func(m *Message) string { return strings.Join(m.InReplyTo, ",") }},
		{"references run together", "References: <a@x><b@x>,<c@x>\r\n\t<a@x>",
			func(m *Message) string { return strings.Join(m.References, ",") }},
		{"message-id with plus is not unescaped", "Message-ID: <a+b%40c@example.org>",
			func(m *Message) string { return m.MessageID }},
	}
	want := map[string]string{
		"encoded subject split over words":      "Émile à Paris",
		"raw 8-bit utf-8 subject":               "Grüße aus Köln",
		"raw 8-bit latin-1 subject":             "Grüße",
		"raw iso-2022-jp subject":               "こんにちは",
		"folded subject":                        "a very long subject",
		"encoded name with comma":               "Müller, Jürgen|j.mueller@example.de",
		"address without name":                  "|jane@example.org",
		"comment-style name":                    "Jane Doe|jane@example.org",
		"date with comment":                     "2026-03-03T16:12:41Z",
		"date without weekday and seconds":      "2026-03-03T15:12:00Z",
		"date with two-digit year":              "2026-03-03T21:12:41Z",
		"message-id without brackets":           "bare.id@example.org",
		"in-reply-to with trailing comment":     "x.1@example.org",
		"references run together":               "a@x,b@x,c@x",
		"message-id with plus is not unescaped": "a+b%40c@example.org",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse([]byte(tt.header+"\r\n\r\nbody\r\n"), ParseOptions{})
			if got := tt.check(m); got != want[tt.name] {
				t.Errorf("got %q, want %q", got, want[tt.name])
			}
		})
	}
}

func TestParseReferencesCapped(t *testing.T) {
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("<r%d@example.org>", i))
	}
	m := Parse([]byte("References: "+strings.Join(ids, "\r\n ")+"\r\n\r\nx"), ParseOptions{})
	if len(m.References) != maxReferences || m.References[0] != "r0@example.org" || m.References[maxReferences-1] != "r299@example.org" {
		t.Errorf("got %d references, first %q last %q", len(m.References), m.References[0], m.References[len(m.References)-1])
	}
}

func TestParseFallbacks(t *testing.T) {
	t.Run("no headers at all", func(t *testing.T) {
		m := Parse([]byte("just some text\nwithout any header\n"), ParseOptions{})
		if !strings.Contains(m.Text, "just some text") || len(m.Warnings) == 0 {
			t.Errorf("Text %q warnings %q", m.Text, m.Warnings)
		}
	})
	t.Run("mbox From_ line", func(t *testing.T) {
		m := Parse([]byte("From jane@example.org Tue Mar  3 10:00:00 2026\nFrom: Jane <jane@example.org>\nSubject: mbox\n\nhello\n"), ParseOptions{})
		if m.Subject != "mbox" || m.From.Address != "jane@example.org" || m.Text != "hello" {
			t.Errorf("got %+v", m)
		}
	})
	t.Run("empty input", func(t *testing.T) {
		m := Parse(nil, ParseOptions{})
		if m == nil || m.Text != "" {
			t.Errorf("got %+v", m)
		}
	})
	t.Run("invalid bytes in the raw fallback", func(t *testing.T) {
		m := Parse([]byte("no header line \xff\xfe here\n\n\x93text\x94"), ParseOptions{})
		if !utf8.ValidString(m.Text) || !strings.Contains(m.Text, "“text”") {
			t.Errorf("Text %q", m.Text)
		}
	})
}

func TestParseKeepsLostPartsAsOriginal(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "corpus", "malformed-base64.eml"))
	if err != nil {
		t.Fatal(err)
	}
	m := Parse(raw, ParseOptions{})
	last := m.Attachments[len(m.Attachments)-1]
	if last.Filename != "original-message.eml" || !bytes.Equal(last.Data, raw) {
		t.Errorf("last attachment %q (%d bytes), want the original message", last.Filename, len(last.Data))
	}
}

func TestParseLargeMessage(t *testing.T) {
	// ~5 MB: a text body and a 3 MB attachment, generated rather than
	// committed.
	var b strings.Builder
	b.WriteString("From: big@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BIG\r\n\r\n--BIG\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	line := strings.Repeat("All work and no play makes Jack a dull boy. ", 2) + "\r\n"
	for b.Len() < 2<<20 {
		b.WriteString(line)
	}
	data := bytes.Repeat([]byte{0, 1, 2, 3, 254, 255}, 500_000)
	b.WriteString("--BIG\r\nContent-Type: application/octet-stream; name=blob.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for i := 0; i < len(enc); i += 76 {
		b.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	b.WriteString("--BIG--\r\n")
	raw := []byte(b.String())
	if len(raw) < 5<<20 {
		t.Fatalf("generated only %d bytes", len(raw))
	}
	start := time.Now()
	m := Parse(raw, ParseOptions{})
	t.Logf("parsed %d bytes in %v", len(raw), time.Since(start))
	checkInvariants(t, m)
	wantText := strings.TrimSpace(strings.ReplaceAll(b.String()[strings.Index(b.String(), line):strings.Index(b.String(), "--BIG\r\nContent-Type: application")], "\r\n", "\n"))
	if m.Text != wantText || len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, data) {
		t.Errorf("text %d bytes, %d attachments", len(m.Text), len(m.Attachments))
	}
	if n := utf8.RuneCountInString(m.Preview); n > maxPreview+1 {
		t.Errorf("preview %d runes", n)
	}
}

func TestParseManyParts(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: many@example.org\r\nSubject: many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=MANY\r\n\r\n")
	b.WriteString("--MANY\r\nContent-Type: text/plain\r\n\r\nTwo hundred parts follow.\r\n")
	for i := range 199 {
		fmt.Fprintf(&b, "--MANY\r\nContent-Type: text/plain; name=\"part-%03d.txt\"\r\nContent-Disposition: attachment; filename=\"part-%03d.txt\"\r\n\r\ncontent %d\r\n", i, i, i)
	}
	b.WriteString("--MANY--\r\n")
	m := Parse([]byte(b.String()), ParseOptions{})
	checkInvariants(t, m)
	if m.Text != "Two hundred parts follow." || len(m.Attachments) != 199 {
		t.Fatalf("text %q, %d attachments", m.Text, len(m.Attachments))
	}
	if a := m.Attachments[198]; a.Filename != "part-198.txt" || string(a.Data) != "content 198" {
		t.Errorf("last attachment %q %q", a.Filename, a.Data)
	}
}

func TestParseDeepNesting(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: deep@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	const depth = 80
	for i := range depth {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n", depth)
	for i := depth; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	m := Parse([]byte(b.String()), ParseOptions{})
	checkInvariants(t, m)
	found := strings.Contains(m.Text, "deep text")
	for _, a := range m.Attachments {
		found = found || strings.Contains(string(a.Data), "deep text")
	}
	if !found {
		t.Errorf("the deep text was dropped: %+v", m)
	}
}

func TestSanitizeFilename(t *testing.T) {
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\jane\Desktop\invoice.pdf`, "invoice.pdf"},
		{"..", ""},
		{"/", ""},
		{"   ", ""},
		{"a\x00b\x1fc.txt", "abc.txt"},
		{"invoice\u202efdp.exe", "invoicefdp.exe"},
		{`what?<is>:this*|".txt`, "what__is__this___.txt"},
		{"=?UTF-8?Q?R=C3=A9sum=C3=A9.pdf?=", "Résumé.pdf"},
		{"trailing dots...", "trailing dots"},
		{strings.Repeat("é", 150) + ".pdf", strings.Repeat("é", 98) + ".pdf"},
	}
	for _, tt := range tests {
		if got := sanitizeFilename(tt.in); got != tt.want {
			t.Errorf("sanitizeFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"paragraphs and breaks", "<p>One<br>Two</p><p>Three</p>", "One\nTwo\n\nThree"},
		{"inline elements keep spaces", "<p>Hello <b>big</b> <i>world</i>!</p>", "Hello big world!"},
		{"divs are lines", "<div>a</div><div>b</div><div><br></div><div>c</div>", "a\nb\n\nc"},
		{"lists", "<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
		{"blockquote is quoted", "<p>Yes.</p><blockquote><p>Can you?</p><blockquote>Deeper</blockquote></blockquote>", "Yes.\n\n> Can you?\n>\n> > Deeper"},
		{"script and style skipped", "<style>p{}</style><script>alert(1)</script><p>text</p>", "text"},
		{"head skipped", "<html><head><title>T</title></head><body>B</body></html>", "B"},
		{"link with different text", `<a href="https://x.example/a">here</a>`, "here <https://x.example/a>"},
		{"link with url text", `<a href="https://x.example/a">https://x.example/a</a>`, "https://x.example/a"},
		{"javascript link shows no url", `<a href="javascript:alert(1)">click</a>`, "click"},
		{"entities", "<p>&lt;tag&gt; &amp; &quot;q&quot; &nbsp;x</p>", `<tag> & "q" x`},
		{"pre keeps lines", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"whitespace collapsed", "<p>a\n   b\t\tc</p>", "a b c"},
		{"image alt", `<p>see <img src="cid:x" alt="photo"></p>`, "see [photo]"},
		{"broken markup", "<p>unclosed <b>bold <div>block", "unclosed bold\nblock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := htmlToText(tt.in); got != tt.want {
				t.Errorf("htmlToText(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPreview(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Hello\nthere", "Hello there"},
		{"quoted lines dropped", "Answer one\n> question one\nAnswer two\n> question two", "Answer one Answer two"},
		{"gmail attribution wrapped", "Thanks!\n\nOn Tue, Mar 3, 2026 at 10:15 AM Support <support@example.com>\nwrote:\n\n> old", "Thanks!"},
		{"attribution without quote marks", "Thanks!\nOn Mon, Jane wrote:\nold text without quotes", "Thanks!"},
		{"german attribution", "Danke.\nAm 22.03.2026 um 17:00 schrieb Printshop Support:\nalt", "Danke."},
		{"french attribution", "Merci.\nLe 3 mars 2026 à 10:15, Support a écrit :\nancien", "Merci."},
		{"outlook original message", "New text\n-----Original Message-----\nFrom: a\nold", "New text"},
		{"outlook header block", "New text\n\nFrom: Support <s@example.com>\nSent: Monday\nTo: x\nold", "New text"},
		{"outlook web rule", "New text\n________________________________\nFrom: Support\nSent: Monday\nold", "New text"},
		{"signature", "Body\n-- \nJane Doe\nACME", "Body"},
		{"mobile signature", "Ok\n\nSent from my iPhone", "Ok"},
		{"a From: line alone is not a quote header", "From: my office we see the error\nagain and again", "From: my office we see the error again and again"},
		{"a sentence starting with On is kept", "On Monday the printer broke.\nPlease help.", "On Monday the printer broke. Please help."},
		{"all quoted falls back to everything", "> only quoted", "> only quoted"},
		{"forward keeps forwarded body", "FYI\n\n---------- Forwarded message ---------\nFrom: A <a@x>\nDate: Mon\nSubject: S\nTo: b@x\n\nThe original text", "FYI The original text"},
		{"apple forward", "Begin forwarded message:\n\nFrom: A <a@x>\nSubject: S\n\nOriginal", "Original"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := preview(tt.in); got != tt.want {
				t.Errorf("preview(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if p := preview("> " + strings.Repeat("é", 5000)); !utf8.ValidString(p) {
		t.Errorf("preview of a long quoted text is not valid UTF-8")
	}
	long := strings.Repeat("word ", 300)
	p := preview(long)
	if n := utf8.RuneCountInString(p); n > maxPreview+1 || !strings.HasSuffix(p, "…") {
		t.Errorf("long preview has %d runes: %q", n, p[len(p)-20:])
	}
}

func TestSplitPlus(t *testing.T) {
	tests := []struct{ in, base, tag string }{
		{"support+t1234@Example.com", "support@example.com", "t1234"},
		{"Support@Example.com", "support@example.com", ""},
		{"<support+T99@example.com>", "support@example.com", "t99"},
		{"support+@example.com", "support@example.com", ""},
		{"a+b+c@example.com", "a@example.com", "b+c"},
		{"not-an-address", "not-an-address", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		base, tag := SplitPlus(tt.in)
		if base != tt.base || tag != tt.tag {
			t.Errorf("SplitPlus(%q) = (%q, %q), want (%q, %q)", tt.in, base, tag, tt.base, tt.tag)
		}
	}
}

func TestParseAddressWarnings(t *testing.T) {
	m := Parse([]byte("From: a@example.org\r\nTo: ok@example.org, broken@, \"Unclosed <x@example.org>\r\n\r\nbody"), ParseOptions{})
	var got []string
	for _, a := range m.To {
		got = append(got, a.Address)
	}
	if !reflect.DeepEqual(got, []string{"ok@example.org", "x@example.org"}) {
		t.Errorf("To = %q", got)
	}
	if len(m.Warnings) == 0 {
		t.Error("no warning for a malformed To header")
	}
}

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"<a@x>", []string{"a@x"}},
		{")<a@x>", []string{"a@x"}},
		{"((<c@x>)) <a@x>", []string{"a@x"}},
		{`"quoted <q@x>" <a@x>`, []string{"a@x"}},
		{`"unterminated <a@x>`, nil},
		{"<unterminated@x", []string{"unterminated@x"}},
		{"<a@x> bare@y, <a@x>", []string{"a@x", "bare@y"}},
		{"<has space@x> <ok@x>", []string{"ok@x"}},
		{"no ids here", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := parseIDs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseIDs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitizeHTML(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"script removed", `<p>hi</p><script>alert(1)</script>`, `<p>hi</p>`},
		{"event handler removed", `<img src="https://x.example/a.png" onerror="alert(1)">`, `<img src="https://x.example/a.png">`},
		{"javascript URL removed", `<a href="javascript:alert(1)">x</a>`, `x`},
		{"entity-encoded javascript URL removed", `<a href="jav&#x09;ascript&#58;alert(1)">x</a>`, `x`},
		{"cid image kept", `<img src="cid:logo@x" alt="logo">`, `<img src="cid:logo@x" alt="logo">`},
		{"words in text defanged, same rendering", `<p>Type JavaScript: or onError</p>`, `<p>Type JavaScript&#58; or on&#101;rror</p>`},
		{"fragment defanged", `<a href="#javascript:x">y</a>`, `<a href="#javascript&#58;x" rel="nofollow">y</a>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sanitizeHTML(tt.in)
			if got != tt.want {
				t.Errorf("sanitizeHTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if p := htmlIsSafe(got); p != "" {
				t.Errorf("unsafe: %s", p)
			}
		})
	}
}
