// Package loadgen drives the helpdesk's email and search entry points for
// the load tool (cmd/chatload, which adds chat): a stream of inbound mail
// over real SMTP, and FAQ searches over HTTP, each at a target rate, with
// latency percentiles and error counts. It only ever talks to the address
// it is given; the tool is meant for loopback.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/smtp"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats summarises one stream.
type Stats struct {
	Name     string
	Sent     int64 // attempts
	OK       int64 // accepted (250 for mail, 200 for search)
	Errors   int64
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	FirstErr string
	Accepted []string // Message-IDs of mail that got a 250, for loss checks
}

// Rate is OK per second over the stream's run.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK) / s.Elapsed.Seconds()
}

func (s Stats) String() string {
	line := fmt.Sprintf("%-7s %7d ok %5d errors %8.1f/s  p50 %-9v p99 %-9v max %v",
		s.Name, s.OK, s.Errors, s.Rate(), s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Max.Round(10*time.Microsecond))
	if s.FirstErr != "" {
		line += "  first error: " + s.FirstErr
	}
	return line
}

// recorder collects latencies from many goroutines.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	ids      []string
	sent, ok atomic.Int64
	errs     atomic.Int64
	firstErr atomic.Value
}

func (r *recorder) done(d time.Duration, id string, err error) {
	r.sent.Add(1)
	if err != nil {
		r.errs.Add(1)
		r.firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	r.ok.Add(1)
	r.mu.Lock()
	r.lat = append(r.lat, d)
	if id != "" {
		r.ids = append(r.ids, id)
	}
	r.mu.Unlock()
}

func (r *recorder) stats(name string, elapsed time.Duration) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Name: name, Sent: r.sent.Load(), OK: r.ok.Load(), Errors: r.errs.Load(), Elapsed: elapsed, Accepted: r.ids}
	if v, ok := r.firstErr.Load().(string); ok {
		s.FirstErr = v
	}
	if n := len(r.lat); n > 0 {
		sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
		s.P50 = r.lat[n/2]
		s.P99 = r.lat[min(n-1, n*99/100)]
		s.Max = r.lat[n-1]
	}
	return s
}

// pace calls fn at about rate per second with up to workers calls in
// flight, until ctx ends or total calls were started (total <= 0: no cap).
func pace(ctx context.Context, rate float64, workers, total int, fn func(i int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				fn(i)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for i := 0; total <= 0 || i < total; i++ {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		next = next.Add(interval)
	}
	close(jobs)
	wg.Wait()
}

// MailOptions configures a mail stream.
type MailOptions struct {
	Addr        string  // SMTP host:port
	Rcpt        string  // an inbox address
	Rate        float64 // messages per second
	Connections int     // concurrent SMTP sessions
	Total       int     // stop after this many (0: until ctx ends)
	Size        int     // approximate message size in bytes (10 KB typical)
	Tag         string  // goes into Message-IDs, to tell runs apart
}

// Mail sends a stream of ~Size-byte customer messages and reports how many
// got a 250, with SMTP transaction latency.
func Mail(ctx context.Context, o MailOptions) Stats {
	if o.Size <= 0 {
		o.Size = 10 << 10
	}
	if o.Connections <= 0 {
		o.Connections = 8
	}
	if o.Tag == "" {
		o.Tag = fmt.Sprintf("%d", time.Now().UnixNano())
	}
	body := fillerText(o.Size)
	rec := &recorder{}
	start := time.Now()
	pace(ctx, o.Rate, o.Connections, o.Total, func(i int) {
		id := fmt.Sprintf("load-%s-%d@loadgen.example", o.Tag, i)
		from := fmt.Sprintf("customer%d@loadgen.example", i%500)
		msg := fmt.Sprintf("From: Customer %d <%s>\r\nTo: %s\r\nSubject: Question about order %d\r\nMessage-ID: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			i%500, from, o.Rcpt, 10000+i, id, time.Now().Format(time.RFC1123Z), body)
		t0 := time.Now()
		err := smtp.SendMail(o.Addr, nil, from, []string{o.Rcpt}, []byte(msg))
		rec.done(time.Since(t0), id, err)
	})
	return rec.stats("smtp", time.Since(start))
}

// SearchOptions configures a search stream.
type SearchOptions struct {
	BaseURL string  // http://127.0.0.1:8080
	Rate    float64 // searches per second
	Workers int
	Total   int
}

// searchQueries is a mix of what customers type, typos included.
var searchQueries = []string{
	"refund", "where is my order", "trackng number", "free shipping", "canada",
	"toner vs ink", "high yield", "pasword locked", "coupon code", "pay by check",
	"remanufactured cartridge", "ink level empty", "how long does shipping take",
	"return policy two years", "government account", "sent my ink back 2 weeks ago still no money",
}

// Search runs FAQ searches and reports latency as seen by the client.
func Search(ctx context.Context, o SearchOptions) Stats {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Workers}}
	rec := &recorder{}
	start := time.Now()
	pace(ctx, o.Rate, o.Workers, o.Total, func(i int) {
		q := searchQueries[rand.IntN(len(searchQueries))]
		t0 := time.Now()
		resp, err := client.Get(o.BaseURL + "/api/faq/search?limit=5&q=" + url.QueryEscape(q))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		rec.done(time.Since(t0), "", err)
	})
	return rec.stats("search", time.Since(start))
}

// fillerText returns about n bytes of plausible text in 72-column lines.
func fillerText(n int) string {
	words := strings.Fields("my printer says the new cartridge is empty although I installed it yesterday and the order arrived on time " +
		"could you tell me whether the high yield toner fits the same model and how long a refund takes to show on my card thanks")
	var b strings.Builder
	col := 0
	for i := 0; b.Len() < n; i++ {
		w := words[i%len(words)]
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteString(w)
		b.WriteByte(' ')
		col += len(w) + 1
	}
	return b.String()
}
