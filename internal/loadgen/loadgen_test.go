package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestSearchStreamCountsAndPaces(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%10 == 0 {
			http.Error(w, "boom", 500)
			return
		}
		w.Write([]byte(`{"results":[]}`))
	}))
	defer srv.Close()
	start := time.Now()
	s := Search(context.Background(), SearchOptions{BaseURL: srv.URL, Rate: 200, Workers: 4, Total: 50})
	if s.Sent != 50 || s.OK != 45 || s.Errors != 5 || !strings.Contains(s.FirstErr, "500") {
		t.Errorf("stats = %+v", s)
	}
	// 50 calls at 200/s take about 250 ms; far less means no pacing.
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("50 calls at 200/s took only %v", time.Since(start))
	}
	if s.P50 <= 0 || s.P99 < s.P50 || s.Max < s.P99 {
		t.Errorf("percentiles p50 %v p99 %v max %v", s.P50, s.P99, s.Max)
	}
	if line := s.String(); !strings.Contains(line, "search") || !strings.Contains(line, "status 500 ×5") {
		t.Errorf("report line %q", line)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "empty", sorted: nil, p: 50, want: 0},
		{name: "one", sorted: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "median of two is the lower", sorted: ms(1, 2), p: 50, want: time.Millisecond},
		{name: "p50 of 100", sorted: hundred, p: 50, want: 50 * time.Millisecond},
		{name: "p99 of 100", sorted: hundred, p: 99, want: 99 * time.Millisecond},
		{name: "max", sorted: hundred, p: 100, want: 100 * time.Millisecond},
		{name: "p99 of 10 is the max", sorted: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond},
		{name: "p0 is the min", sorted: ms(3, 4), p: 0, want: 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestCollectorErrorKindsBounded(t *testing.T) {
	var c collector
	for i := range 50 {
		c.done(0, "", errors.New("kind "+string(rune('A'+i))))
	}
	c.done(0, "", errors.New("kind A"))
	s := c.stats("x", "", time.Second)
	if s.Errors != 51 || s.Sent != 51 || len(s.ErrorKinds) != maxErrorKinds || s.ErrorKinds["kind A"] != 2 || s.FirstErr != "kind A" {
		t.Errorf("stats %+v", s)
	}
}

func TestFillerText(t *testing.T) {
	s := fillerText(10 << 10)
	if len(s) < 10<<10 || len(s) > 11<<10 {
		t.Errorf("len = %d", len(s))
	}
	for _, line := range strings.Split(s, "\r\n") {
		if len(line) > 80 {
			t.Fatalf("line of %d bytes", len(line))
		}
	}
}

// fakeMX is an SMTP server that keeps what it accepts and answers every
// fourth message with a temporary failure.
type fakeMX struct {
	mu       sync.Mutex
	got      map[string]int // Message-ID → deliveries
	n        int
	sessions atomic.Int64
}

func (m *fakeMX) NewSession(*smtp.Conn) (smtp.Session, error) {
	m.sessions.Add(1)
	return &fakeSession{m: m}, nil
}

type fakeSession struct{ m *fakeMX }

func (s *fakeSession) Reset()                                    {}
func (s *fakeSession) Logout() error                             { return nil }
func (s *fakeSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *fakeSession) Rcpt(to string, _ *smtp.RcptOptions) error { return nil }
func (s *fakeSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, rest, _ := strings.Cut(string(raw), "Message-ID: <")
	id, _, _ := strings.Cut(rest, ">")
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.n++
	if s.m.n%4 == 0 {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	s.m.got[id]++
	return nil
}

func TestMailStreamRecordsWhatWasAccepted(t *testing.T) {
	mx := &fakeMX{got: map[string]int{}}
	srv := smtp.NewServer(mx)
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	var buf strings.Builder
	rec := NewRecorder(&buf)
	s := Mail(context.Background(), MailOptions{Addr: ln.Addr().String(), Rcpt: "support@example.com",
		Rate: 400, Connections: 2, PerSession: 10, Total: 40, Size: 2000, Tag: "t1", Record: rec})
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.Sent != 40 || s.OK != 30 || s.Errors != 10 || len(s.Accepted) != 30 {
		t.Fatalf("stats = %+v", s)
	}
	if !strings.Contains(s.FirstErr, "451") {
		t.Errorf("first error %q", s.FirstErr)
	}
	entries, err := ReadRecord(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	mx.mu.Lock()
	defer mx.mu.Unlock()
	if len(entries) != 30 || len(mx.got) != 30 {
		t.Fatalf("%d recorded, %d accepted by the server", len(entries), len(mx.got))
	}
	for _, e := range entries {
		if mx.got[e.MessageID] != 1 {
			t.Errorf("recorded %s, which the server accepted %d times", e.MessageID, mx.got[e.MessageID])
		}
	}
	// A failed transaction drops its session; otherwise 10 per session.
	if n := mx.sessions.Load(); n < 4 || n > 16 {
		t.Errorf("%d SMTP sessions for 40 messages at 10 per session with 10 failures", n)
	}
	if MailMessageID("t1", 3) != "load-t1-3@loadgen.example" || !strings.Contains(MailSubject("t1", 3), "10003 loadrunt1") {
		t.Error("Message-ID or subject format changed")
	}
}

func TestMailStreamCountsRefusedConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := Mail(context.Background(), MailOptions{Addr: addr, Rcpt: "support@example.com", Rate: 1000, Total: 5})
	if s.Sent != 5 || s.OK != 0 || s.Errors != 5 || len(s.Accepted) != 0 {
		t.Errorf("stats = %+v", s)
	}
}
