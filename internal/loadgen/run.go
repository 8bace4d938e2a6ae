package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Config is a whole load run: chat, idle sockets, mail and search, all at
// once, against one helpdesk.
type Config struct {
	URL       string   // helpdesk base URL
	Origin    string   // websocket Origin; default: URL's origin
	Customers int      // chatting customers
	Agents    int      // agents online (each needs a token)
	Tokens    []string // agent API tokens
	Rate      float64  // customer chat messages per second, all customers together
	AgentRate float64  // agent chat messages per second, all agents together
	Idle      int      // idle customer sockets to open first, to measure per-socket memory
	Sources   int      // loopback source addresses to spread sockets over
	Warmup    time.Duration
	Duration  time.Duration // the measured window
	Hold      time.Duration // keep the sockets open this long after the report

	SMTPAddr       string // inbound SMTP host:port; empty: no mail stream
	MailTo         string // the inbox mail is sent to
	MailRate       float64
	MailConns      int
	MailPerSession int
	MailSize       int

	SearchRate    float64 // FAQ searches per second; 0: no search stream
	SearchWorkers int

	PID         int           // server process id, for its memory (0: not measured)
	RSSInterval time.Duration // how often RSS is sampled; 250ms

	Record *Recorder // acked chat messages and accepted mail; nil: not recorded
	Tag    string    // marks this run's mail (Message-IDs, subjects); default: NewTag()

	// LimitsKnown says the server's per-socket rate limits are not the
	// defaults (the -self harness), so Run does not warn about them.
	LimitsKnown bool
	// OnStart, when set, is called as the measured window starts (the
	// crash test kills the server a few seconds later).
	OnStart func()
}

// Report is what a run measured. A stream that did not run has a zero
// Stats (empty Name).
type Report struct {
	Chat    Stats // customer messages: send → ack
	Deliver Stats // customer messages: send → received by the assigned agent
	Agent   Stats // agent messages: send → ack
	Mail    Stats
	Search  Stats
	Idle    IdleReport
	Mem     MemReport // PID 0 when not measured
	// Customers and AgentsOnline count the sockets that connected.
	Customers, AgentsOnline int
	Assigned                int64 // customers whose chat an agent accepted during the warm-up
}

// IdleReport is the idle-socket measurement.
type IdleReport struct {
	Requested, Connected int
	Elapsed              time.Duration
	RSSBefore, RSSAfter  int64 // KiB; 0 without a PID
}

// PerSocketKiB is the server's memory per idle socket.
func (r IdleReport) PerSocketKiB() float64 {
	if r.Connected == 0 {
		return 0
	}
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Connected)
}

// Customer and agent rate limits of a helpdesk with default settings
// (docs/chat-protocol.md): a socket over them gets rate_limited errors.
const (
	serverCustomerRate = 5
	serverAgentRate    = 20
)

// Run puts the configured load on the server, prints progress and the
// report to out, and returns the report. The measured window lasts
// Duration or until ctx ends; an ended ctx is not an error (the crash test
// ends runs that way), so the report covers what happened until then.
// Errors are for runs that could not start: bad configuration, or agents
// that could not connect.
func Run(ctx context.Context, cfg Config, out io.Writer) (Report, error) {
	var rep Report
	if cfg.Agents > len(cfg.Tokens) {
		return rep, fmt.Errorf("%d agents need %d agent tokens, got %d", cfg.Agents, cfg.Agents, len(cfg.Tokens))
	}
	if cfg.Customers+cfg.Agents+cfg.Idle == 0 && cfg.MailRate <= 0 && cfg.SearchRate <= 0 {
		return rep, errors.New("nothing to do: no customers, agents, idle sockets, mail or searches")
	}
	if cfg.MailRate > 0 && (cfg.SMTPAddr == "" || cfg.MailTo == "") {
		return rep, errors.New("a mail rate needs an SMTP address and a recipient inbox")
	}
	if cfg.Tag == "" {
		cfg.Tag = NewTag()
	}
	if cfg.RSSInterval <= 0 {
		cfg.RSSInterval = 250 * time.Millisecond
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 30 * time.Second
	}
	report := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	report("load average at start: %s", loadAverage())
	if !cfg.LimitsKnown {
		if cfg.Customers > 0 && cfg.Rate/float64(cfg.Customers) > 0.9*serverCustomerRate {
			report("warning: %.1f messages/s per customer; the server allows %d frames/s per customer socket: use more customers", cfg.Rate/float64(cfg.Customers), serverCustomerRate)
		}
		if cfg.Agents > 0 && cfg.AgentRate/float64(cfg.Agents) > 0.75*serverAgentRate {
			report("warning: %.1f messages/s per agent; the server allows %d frames/s per agent socket", cfg.AgentRate/float64(cfg.Agents), serverAgentRate)
		}
	}
	if cfg.Customers > 0 && cfg.Agents == 0 {
		report("warning: no agents online, so chat is not available and customers' messages are refused")
	}

	var mem *memSampler
	if cfg.PID != 0 {
		mem = sampleMem(ctx, cfg.PID, cfg.RSSInterval)
		defer mem.cancel() // when Run returns early
		rep.Mem.PID = cfg.PID
		if rss, err := mem.now(); err != nil {
			report("warning: memory of pid %d: %v", cfg.PID, err)
		} else {
			report("server RSS before the load: %s", kib(rss))
		}
	}

	var chat *chatLoad
	if cfg.Customers+cfg.Agents+cfg.Idle > 0 {
		var err error
		chat, err = newChatLoad(ctx, ChatOptions{URL: cfg.URL, Origin: cfg.Origin, Customers: cfg.Customers,
			Agents: cfg.Agents, Tokens: cfg.Tokens, Rate: cfg.Rate, AgentRate: cfg.AgentRate,
			Sources: cfg.Sources, Record: cfg.Record, Tag: cfg.Tag})
		if err != nil {
			return rep, err
		}
		defer chat.close()
		// Agents first, so that chat is available when customers arrive.
		if err := chat.connectAgents(); err != nil {
			return rep, err
		}
		rep.AgentsOnline = cfg.Agents
		if cfg.Agents > 0 {
			report("agents online: %d", cfg.Agents)
		}
		if cfg.Idle > 0 {
			rep.Idle = measureIdle(chat, cfg.Idle, mem)
			report("idle sockets: %d of %d connected in %s", rep.Idle.Connected, cfg.Idle, rep.Idle.Elapsed.Round(time.Millisecond))
			if mem != nil && rep.Idle.Connected > 0 {
				report("server RSS: %s before, %s with the idle sockets: %.1f KiB per socket",
					kib(rep.Idle.RSSBefore), kib(rep.Idle.RSSAfter), rep.Idle.PerSocketKiB())
			}
		}
		if cfg.Customers > 0 {
			t0 := time.Now()
			rep.Customers = chat.connectCustomers()
			chat.warmup(ctx, cfg.Warmup)
			rep.Assigned = chat.assigned.Load()
			report("customers: %d of %d connected, %d first messages stored, %d chats accepted by an agent (%s)",
				rep.Customers, cfg.Customers, chat.warmAcked.Load(), rep.Assigned, time.Since(t0).Round(time.Millisecond))
		}
	}

	if cfg.Customers == 0 && cfg.AgentRate <= 0 && cfg.MailRate <= 0 && cfg.SearchRate <= 0 {
		// Sockets only (-idle): nothing to measure over time.
		cfg.Duration = 0
	}
	// The measured window: every stream at once.
	wctx, wcancel := context.WithTimeout(ctx, cfg.Duration)
	defer wcancel()
	var streams sync.WaitGroup
	start := time.Now()
	if chat != nil {
		chat.start()
	}
	if cfg.MailRate > 0 {
		streams.Go(func() {
			rep.Mail = Mail(wctx, MailOptions{Addr: cfg.SMTPAddr, Rcpt: cfg.MailTo, Rate: cfg.MailRate,
				Connections: cfg.MailConns, PerSession: cfg.MailPerSession, Size: cfg.MailSize, Tag: cfg.Tag, Record: cfg.Record})
		})
	}
	if cfg.SearchRate > 0 {
		streams.Go(func() {
			rep.Search = Search(wctx, SearchOptions{BaseURL: strings.TrimRight(cfg.URL, "/"), Rate: cfg.SearchRate, Workers: cfg.SearchWorkers})
		})
	}
	if cfg.Duration > 0 {
		report("measuring for %s (tag %s)", cfg.Duration, cfg.Tag)
	}
	if cfg.OnStart != nil {
		cfg.OnStart()
	}
	<-wctx.Done()
	elapsed := time.Since(start)
	if chat != nil {
		chat.stop(ctx)
		if cfg.Customers > 0 {
			rep.Chat = chat.cust.stats("chat", "customer send → ack", elapsed)
			rep.Deliver = chat.deliver.stats("deliver", "customer send → agent receives", elapsed)
		}
		if cfg.Agents > 0 {
			rep.Agent = chat.agent.stats("agent", "agent send → ack", elapsed)
		}
	}
	streams.Wait()

	if cfg.Duration > 0 {
		report("results over %s:", elapsed.Round(time.Millisecond))
	}
	for _, s := range []Stats{rep.Chat, rep.Deliver, rep.Agent, rep.Mail, rep.Search} {
		if s.Name != "" {
			report("  %s", s)
		}
	}
	if chat != nil {
		report("sockets: %d agents, %d customers, %d idle", rep.AgentsOnline, rep.Customers, chat.idleOK.Load())
	}
	if mem != nil {
		var err error
		rep.Mem, err = mem.stop()
		if err != nil {
			report("warning: memory of pid %d: %v", cfg.PID, err)
		}
		report("%s", rep.Mem)
	}
	report("load average at end: %s", loadAverage())

	if cfg.Hold > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Hold):
		}
	}
	if chat != nil {
		chat.close() // no ack can arrive after this, so the record is complete
	}
	if cfg.Record != nil {
		if err := cfg.Record.Flush(); err != nil {
			report("warning: record file: %v", err)
		}
		c, m := cfg.Record.Counts()
		report("recorded: %d chat messages, %d emails", c, m)
	}
	return rep, nil
}

// measureIdle opens n idle sockets and measures the server's memory before
// and after, letting the server settle for two seconds first.
func measureIdle(chat *chatLoad, n int, mem *memSampler) IdleReport {
	r := IdleReport{Requested: n}
	if mem != nil {
		r.RSSBefore, _ = mem.now()
	}
	t0 := time.Now()
	r.Connected = int(chat.openIdle(n))
	r.Elapsed = time.Since(t0)
	if mem != nil {
		select {
		case <-chat.ctx.Done():
		case <-time.After(2 * time.Second):
		}
		r.RSSAfter, _ = mem.now()
	}
	return r
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
