package mail

import (
	"bytes"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2026, 3, 3, 17, 45, 1, 0, time.UTC) }

func testOutgoing() Outgoing {
	return Outgoing{
		From:       Address{Name: "Printshop Support", Address: "support+t1042@example.com"},
		To:         []Address{{Name: "Margaret O'Brien", Address: "mobrien@contoso-legal.com"}},
		Cc:         []Address{{Name: "Zażółć Gęślą", Address: "zazolc@example.pl"}},
		ReplyTo:    &Address{Name: "Printshop Support", Address: "support+t1042@example.com"},
		Subject:    "Re: [#1042] Cartridge leaking — replacement on its way",
		InReplyTo:  "DM6PR12MB4297A1B2@DM6PR12MB4297.namprd12.prod.outlook.com",
		References: []string{"20260302174501.6f1c2a9e@helpdesk.example.com"},
		Text:       "Hello Margaret,\n\nA new cartridge from a different batch ships today.\nTracking: 1Z999AA10123456784\n\nKind regards,\nPrintshop Customer Service\n",
	}
}

func TestComposeRoundTrip(t *testing.T) {
	out := testOutgoing()
	raw, id, err := Compose(out, ComposeOptions{Domain: "helpdesk.example.com", LoopID: testLoopID, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}@helpdesk\.example\.com$`).MatchString(id) {
		t.Errorf("generated Message-ID %q", id)
	}
	m := Parse(raw, ParseOptions{LoopID: testLoopID})
	checkInvariants(t, m)
	if m.Subject != out.Subject {
		t.Errorf("Subject %q, want %q", m.Subject, out.Subject)
	}
	if m.Text != strings.TrimSpace(out.Text) {
		t.Errorf("Text %q, want %q", m.Text, out.Text)
	}
	if m.From != out.From || !reflect.DeepEqual(m.To, out.To) || !reflect.DeepEqual(m.Cc, out.Cc) || !reflect.DeepEqual(m.ReplyTo, []Address{*out.ReplyTo}) {
		t.Errorf("addresses: from %v to %v cc %v reply-to %v", m.From, m.To, m.Cc, m.ReplyTo)
	}
	if m.MessageID != id {
		t.Errorf("MessageID %q, want %q", m.MessageID, id)
	}
	if !reflect.DeepEqual(m.InReplyTo, []string{out.InReplyTo}) {
		t.Errorf("InReplyTo %q", m.InReplyTo)
	}
	if want := append(out.References, out.InReplyTo); !reflect.DeepEqual(m.References, want) {
		t.Errorf("References %q, want %q", m.References, want)
	}
	if !m.Date.Equal(fixedNow()) {
		t.Errorf("Date %v", m.Date)
	}
	if !m.OurLoop {
		t.Error("our own message is not recognised by its loop header")
	}
	if m.AutoSubmitted {
		t.Error("a normal reply is marked automatic")
	}
	if !strings.Contains(m.HTML, "<p>Hello Margaret,</p>") || !strings.Contains(m.HTML, "ships today.<br>") {
		t.Errorf("derived HTML: %s", m.HTML)
	}
}

func TestComposeWireFormat(t *testing.T) {
	out := testOutgoing()
	out.Subject = strings.Repeat("A fairly long subject that needs folding ", 5)
	for i := range 12 {
		out.References = append(out.References, strings.Repeat("x", 20)+string(rune('a'+i))+"@mail.example.org")
	}
	out.Text = "line one\r\nline two with a very long line " + strings.Repeat("0123456789", 20) + "\n.\nend"
	raw, _, err := Compose(out, ComposeOptions{Domain: "helpdesk.example.com", LoopID: testLoopID, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Error("message has bare LF or CR")
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line longer than 78: %q", line)
		}
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line longer than 998 bytes")
		}
	}
	for _, want := range []string{"MIME-Version: 1.0", "Content-Type: multipart/alternative;", LoopHeader + ": " + testLoopID,
		"Content-Type: text/plain; charset=utf-8", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: quoted-printable",
		"Date: Tue, 03 Mar 2026 17:45:01 +0000", "Cc: =?utf-8?q?Za=C5=BC=C3=B3=C5=82=C4=87_G=C4=99=C5=9Bl=C4=85?=\r\n <zazolc@example.pl>",
		"To: \"Margaret O'Brien\" <mobrien@contoso-legal.com>"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("missing %q", want)
		}
	}
	if bytes.Contains(head, []byte("Auto-Submitted")) || bytes.Contains(head, []byte("Precedence")) {
		t.Error("a normal message carries automatic headers")
	}
	m := Parse(raw, ParseOptions{})
	if m.Subject != strings.TrimSpace(out.Subject) || len(m.References) != 14 {
		t.Errorf("subject %q, %d references", m.Subject, len(m.References))
	}
	if !strings.Contains(m.Text, "\n.\nend") {
		t.Errorf("text %q", m.Text)
	}
}

func TestComposeAutomatic(t *testing.T) {
	out := testOutgoing()
	out.Automatic = true
	out.MessageID = "ack.1@helpdesk.example.com"
	raw, id, err := Compose(out, ComposeOptions{LoopID: testLoopID})
	if err != nil {
		t.Fatal(err)
	}
	if id != out.MessageID {
		t.Errorf("id %q", id)
	}
	for _, want := range []string{"Auto-Submitted: auto-replied\r\n", "X-Auto-Response-Suppress: All\r\n", "Precedence: auto_reply\r\n", "Message-ID: <ack.1@helpdesk.example.com>\r\n"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("missing %q", want)
		}
	}
	if m := Parse(raw, ParseOptions{}); !m.AutoSubmitted {
		t.Error("our automatic message does not parse as automatic")
	}
}

func TestComposeHTMLGiven(t *testing.T) {
	out := testOutgoing()
	out.HTML = "<p>Rich <b>reply</b></p>"
	raw, _, err := Compose(out, ComposeOptions{Domain: "example.com", LoopID: testLoopID})
	if err != nil {
		t.Fatal(err)
	}
	m := Parse(raw, ParseOptions{})
	if m.HTML != out.HTML || !strings.HasPrefix(m.Text, "Hello Margaret") {
		t.Errorf("HTML %q text %q", m.HTML, m.Text)
	}
}

func TestComposeDerivedHTMLEscapes(t *testing.T) {
	out := testOutgoing()
	out.Text = "<script>alert(1)</script> & \"quotes\"\n\nsecond paragraph"
	raw, _, err := Compose(out, ComposeOptions{Domain: "example.com", LoopID: testLoopID})
	if err != nil {
		t.Fatal(err)
	}
	_, htmlPart, _ := bytes.Cut(raw, []byte("Content-Type: text/html"))
	if bytes.Contains(htmlPart, []byte("<script>")) || !bytes.Contains(htmlPart, []byte("&lt;script&gt;")) {
		t.Errorf("text was not escaped in the derived HTML: %s", htmlPart)
	}
}

func TestComposeMessageIDDomainFallback(t *testing.T) {
	_, id, err := Compose(testOutgoing(), ComposeOptions{LoopID: testLoopID})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(id, "@example.com") {
		t.Errorf("id %q does not use the From domain", id)
	}
}

func TestComposeRejects(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Outgoing, *ComposeOptions)
		want   error
	}{
		{"no recipients", func(o *Outgoing, _ *ComposeOptions) { o.To, o.Cc = nil, nil }, ErrNoRecipients},
		{"CRLF in subject", func(o *Outgoing, _ *ComposeOptions) { o.Subject = "Hi\r\nBcc: victim@example.org" }, ErrInvalidHeader},
		{"LF in subject", func(o *Outgoing, _ *ComposeOptions) { o.Subject = "Hi\nX-Evil: 1" }, ErrInvalidHeader},
		{"CR in display name", func(o *Outgoing, _ *ComposeOptions) { o.To[0].Name = "Jane\rBcc: x@example.org" }, ErrInvalidHeader},
		{"LF in address", func(o *Outgoing, _ *ComposeOptions) { o.To[0].Address = "jane@example.org\nBcc: x@example.org" }, ErrInvalidHeader},
		{"LF in cc name", func(o *Outgoing, _ *ComposeOptions) { o.Cc[0].Name = "x\n" }, ErrInvalidHeader},
		{"LF in reply-to", func(o *Outgoing, _ *ComposeOptions) { o.ReplyTo.Name = "x\ny" }, ErrInvalidHeader},
		{"LF in in-reply-to", func(o *Outgoing, _ *ComposeOptions) { o.InReplyTo = "a@b\nX: y" }, ErrInvalidHeader},
		{"LF in references", func(o *Outgoing, _ *ComposeOptions) { o.References = []string{"a@b\r\nX: y"} }, ErrInvalidHeader},
		{"LF in message id", func(o *Outgoing, _ *ComposeOptions) { o.MessageID = "a@b\nX: y" }, ErrInvalidHeader},
		{"LF in loop id", func(_ *Outgoing, c *ComposeOptions) { c.LoopID = "x\nBcc: y" }, ErrInvalidHeader},
		{"LF in domain", func(_ *Outgoing, c *ComposeOptions) { c.Domain = "x\nBcc: y" }, ErrInvalidHeader},
		{"NUL in subject", func(o *Outgoing, _ *ComposeOptions) { o.Subject = "a\x00b" }, ErrInvalidHeader},
		{"message id with brackets", func(o *Outgoing, _ *ComposeOptions) { o.MessageID = "<a@b>" }, ErrInvalidHeader},
		{"reference with space", func(o *Outgoing, _ *ComposeOptions) { o.References = []string{"a b@c"} }, ErrInvalidHeader},
		{"empty loop id", func(_ *Outgoing, c *ComposeOptions) { c.LoopID = "" }, ErrInvalidHeader},
		{"invalid to", func(o *Outgoing, _ *ComposeOptions) { o.To[0].Address = "not an address" }, ErrInvalidAddress},
		{"address with display name", func(o *Outgoing, _ *ComposeOptions) { o.To[0].Address = "Jane <jane@example.org>" }, ErrInvalidAddress},
		{"two addresses in one", func(o *Outgoing, _ *ComposeOptions) { o.To[0].Address = "a@example.org, b@example.org" }, ErrInvalidAddress},
		{"empty from", func(o *Outgoing, _ *ComposeOptions) { o.From.Address = "" }, ErrInvalidAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := testOutgoing()
			rt := *out.ReplyTo
			out.ReplyTo = &rt
			out.To = append([]Address(nil), out.To...)
			out.Cc = append([]Address(nil), out.Cc...)
			opts := ComposeOptions{Domain: "helpdesk.example.com", LoopID: testLoopID}
			tt.modify(&out, &opts)
			raw, _, err := Compose(out, opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if raw != nil {
				t.Error("a message was returned with the error")
			}
		})
	}
}

func TestWriteHeaderFolding(t *testing.T) {
	var b bytes.Buffer
	writeHeader(&b, "References", "<"+strings.Repeat("a", 40)+"@x> <"+strings.Repeat("b", 40)+"@x> <c@x>")
	want := "References: <" + strings.Repeat("a", 40) + "@x>\r\n <" + strings.Repeat("b", 40) + "@x> <c@x>\r\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}

func TestEncodeSubject(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Re: [#1042] Cartridge leaking", "Re: [#1042] Cartridge leaking"},
		{"Re: [#1042] Cartridge leaking — replacement", "Re: [#1042] Cartridge leaking =?utf-8?q?=E2=80=94?= replacement"},
		{"tab\tand_underscore? é", "tab\tand_underscore? =?utf-8?q?=C3=A9?="},
		{"Grüße aus Köln", "=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?utf-8?q?K=C3=B6ln?="},
		{"日本語 の件名", "=?utf-8?q?=E6=97=A5=E6=9C=AC=E8=AA=9E_=E3=81=AE=E4=BB=B6?= =?utf-8?q?=E5=90=8D?="},
		{"literal =?utf-8?q?x?= word", "literal =?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?= word"},
		{"two  spaces", "two  spaces"},
	}
	for _, tt := range tests {
		got := encodeText(tt.in)
		if got != tt.want {
			t.Errorf("encodeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back := decodeHeader(got); back != collapseSpace(tt.in) {
			t.Errorf("decodes back to %q, want %q", back, tt.in)
		}
	}
	long := strings.Repeat("ünïcödé ", 40)
	out := testOutgoing()
	out.Subject = long
	raw, _, err := Compose(out, ComposeOptions{Domain: "example.com", LoopID: testLoopID})
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line longer than 78: %q", line)
		}
	}
	if m := Parse(raw, ParseOptions{}); m.Subject != strings.TrimSpace(long) {
		t.Errorf("subject came back as %q", m.Subject)
	}
}

func TestFormatAddress(t *testing.T) {
	tests := []struct {
		in   Address
		want string
	}{
		{Address{"", "a@example.org"}, "<a@example.org>"},
		{Address{"Jane Doe", "a@example.org"}, `"Jane Doe" <a@example.org>`},
		{Address{"Doe, Jane", "a@example.org"}, `"Doe, Jane" <a@example.org>`},
		{Address{`Say "hi"`, "a@example.org"}, `"Say \"hi\"" <a@example.org>`},
		{Address{"Müller, Jürgen (Einkauf)", "a@example.org"}, "=?utf-8?q?M=C3=BCller=2C_J=C3=BCrgen_=28Einkauf=29?= <a@example.org>"},
	}
	for _, tt := range tests {
		got, err := formatAddress("To", tt.in)
		if err != nil || got != tt.want {
			t.Errorf("formatAddress(%+v) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		m := Parse([]byte("From: "+got+"\r\n\r\nx"), ParseOptions{})
		if m.From != tt.in {
			t.Errorf("%q parses back as %+v", got, m.From)
		}
	}
}
