package tickets

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzIngest drives arbitrary bytes through the whole ingestion pipeline —
// raw storage, parsing, threading, attachments, the ticket transaction and
// the acknowledgement — and checks the promise the SMTP server relies on:
// any message up to the size limit is accepted (never an error, never a
// panic), and accepting it again is a duplicate, not a second ticket.
func FuzzIngest(f *testing.F) {
	corpus, _ := filepath.Glob(filepath.Join("..", "internal", "mail", "testdata", "corpus", "*.eml"))
	for i, p := range corpus {
		if i >= 20 {
			break
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Subject: [#1] hi\r\nFrom: a@b.example\r\n\r\nbody"))
	f.Add([]byte(""))
	f.Add([]byte("\x00\xff\r\n\r\n"))
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := e.svc.Ingest(e.ctx, []string{"support@example.com"}, "fuzz@customer.example", raw)
		if err != nil {
			t.Fatalf("Ingest refused %d bytes: %v", len(raw), err)
		}
		if !res.Loop && !res.Duplicate && res.TicketID == 0 {
			t.Fatalf("accepted without a ticket: %+v", res)
		}
		again, err := e.svc.Ingest(e.ctx, []string{"support@example.com"}, "fuzz@customer.example", raw)
		if err != nil {
			t.Fatalf("second delivery: %v", err)
		}
		if !res.Loop && (!again.Duplicate || again.TicketID != res.TicketID) {
			t.Fatalf("second delivery = %+v, first %+v", again, res)
		}
	})
}
