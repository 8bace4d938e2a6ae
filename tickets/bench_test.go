package tickets

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkIngest measures Service.Ingest of a typical customer email of
// about 10 KB (headers, a quoted thread, a small attachment) into a real
// SQLite database and Bleve index in a temp folder, each message a new
// ticket with its acknowledgement queued. Reports msgs/s.
func BenchmarkIngest(b *testing.B) {
	e := newEnv(b)
	para := "I have tried the steps in your help center article about smudged prints, cleaning the rollers and " +
		"reinstalling the cartridge, but the pages still come out with a grey band on the left side. "
	body := "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat(para+"\r\n", 40) +
		"--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"scan.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Repeat("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n", 8) +
		"--XX--\r\n"
	msg := func(i int) []byte {
		return []byte(fmt.Sprintf("From: \"Customer %d\" <c%d@customer.example>\r\nTo: support@example.com\r\n"+
			"Subject: Grey band on prints (order %d)\r\nDate: Mon, 01 Jun 2026 10:00:00 +0000\r\nMessage-ID: <bench%d@customer.example>\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n%s", i, i%50, i, i, body))
	}
	size := len(msg(0))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	i := 0
	start := time.Now()
	for b.Loop() {
		i++
		if _, err := e.svc.Ingest(e.ctx, []string{"support@example.com"}, "", msg(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "msgs/s")
}
