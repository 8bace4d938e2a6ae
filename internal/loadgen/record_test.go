package loadgen

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				r.Chat(int64(g+1), int64(i+1), "c1-"+string(rune('a'+g)), "customer")
			}
			r.Mail(MailMessageID("tag", g))
		})
	}
	wg.Wait()
	r.Chat(9, 1, "a2-1", "agent")
	if buf.Len() != 0 && !strings.HasSuffix(buf.String(), "\n") {
		t.Fatal("a line was flushed half-written")
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if c, m := r.Counts(); c != 801 || m != 8 {
		t.Errorf("counts = %d chat, %d mail; want 801, 8", c, m)
	}
	entries, err := ReadRecord(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 809 {
		t.Fatalf("read %d entries, want 809", len(entries))
	}
	last := entries[len(entries)-1]
	if last != (Entry{Kind: KindChat, Conversation: 9, Seq: 1, ClientID: "a2-1", From: "agent"}) {
		t.Errorf("last entry = %+v", last)
	}
	mails := 0
	for _, e := range entries {
		if e.Kind == KindMail {
			mails++
			if !strings.HasPrefix(e.MessageID, "load-tag-") || strings.ContainsAny(e.MessageID, "<>") {
				t.Errorf("mail entry %+v", e)
			}
		}
	}
	if mails != 8 {
		t.Errorf("%d mail entries, want 8", mails)
	}
}

// The file format is what other tools read: keep it stable.
func TestRecordFormat(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf)
	r.Chat(12, 3, "c7-12", "customer")
	r.Mail("load-x-1@loadgen.example")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"chat","conversation":12,"seq":3,"client_id":"c7-12","from":"customer"}
{"kind":"mail","message_id":"load-x-1@loadgen.example"}
`
	if buf.String() != want {
		t.Errorf("record =\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestNilRecorder(t *testing.T) {
	var r *Recorder
	r.Chat(1, 1, "x", "customer")
	r.Mail("x@y")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if c, m := r.Counts(); c != 0 || m != 0 {
		t.Errorf("counts %d %d", c, m)
	}
}

func TestReadRecordRejects(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "torn last line", in: `{"kind":"mail","message_id":"a@b"}` + "\n" + `{"kind":"chat","conv`, want: "line 2"},
		{name: "unknown kind", in: `{"kind":"sms","message_id":"a@b"}`, want: "not a chat or mail"},
		{name: "chat without seq", in: `{"kind":"chat","conversation":1,"client_id":"c","from":"customer"}`, want: "not a chat or mail"},
		{name: "chat from nobody", in: `{"kind":"chat","conversation":1,"seq":1,"client_id":"c","from":"system"}`, want: "not a chat or mail"},
		{name: "mail without id", in: `{"kind":"mail"}`, want: "not a chat or mail"},
		{name: "not json", in: "hello", want: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadRecord(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if got, err := ReadRecord(strings.NewReader("\n\n")); err != nil || len(got) != 0 {
		t.Errorf("blank lines: %v %v", got, err)
	}
}

func TestNewTag(t *testing.T) {
	a, b := NewTag(), NewTag()
	if a == b {
		t.Errorf("two tags alike: %s", a)
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			t.Fatalf("tag %q is not lowercase alphanumeric (it must be one search token)", a)
		}
	}
}
