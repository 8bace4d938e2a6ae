// Command loadtest puts load on a running helpdesk — live chat, inbound
// mail over SMTP and FAQ searches, all at once — and reports what the
// server sustained: per stream the throughput, latency p50/p99/max and
// errors, and the server's memory (RSS, and its peak sampled during the
// run, from /proc/PID/status) when -pid is given. The engine is package
// internal/loadgen; the crash test (test/crash) runs the same code.
//
// Against a real server (helpdesk serve --public-url http://127.0.0.1:8080
// --hours "Mon-Sun 00:00-24:00"), with agents and tokens made by
// `helpdesk agent add` and `helpdesk token create`:
//
//	loadtest -url http://127.0.0.1:8080 -agent-tokens-file tokens.txt -agents 10 \
//	         -customers 500 -rate 2000 -agent-rate 50 \
//	         -smtp 127.0.0.1:2525 -mail-rate 300 -mail-to support@example.com \
//	         -search-rate 50 -duration 30s -pid $(pidof helpdesk) -record run.jsonl
//	loadtest -url http://127.0.0.1:8080 -idle 10000 -sources 16 -pid 1234
//	loadtest -url http://127.0.0.1:8080 -smtp 127.0.0.1:2525 -mail-rate 300 -mail-to support@example.com
//	loadtest -self -customers 500 -agents 10 -rate 2000 -duration 30s -cpuprofile cpu.out
//	loadtest -serve -listen 127.0.0.1:9000 -agents 10
//
// Chat: agents (-agents, each with a token from -agent-token, repeatable,
// or -agent-tokens-file, one per line) go online and accept every offer;
// customers say hello and send one message, which queues their chat; after
// a warm-up (every first message stored, and the agents took what chats
// they will) customers send -rate messages per second between them for
// -duration, and agents answer in their chats at -agent-rate. A real
// server limits a customer socket to 5 frames/s and an agent socket to 20,
// and gives an agent 3 chats at a time: use at least -rate/4 customers;
// chats beyond the agents' capacity wait in the queue and keep chatting
// there. Reported: "chat" is customer send → ack (the message is stored),
// "deliver" is customer send → the assigned agent receives it (the text
// carries the send time, so run the tool on the server's host), "agent"
// is agent send → ack. The websocket Origin is the -url's origin unless
// -origin says otherwise; it must match the server's --public-url.
//
// Idle sockets (-idle N) say hello and hold; with -pid the server's RSS
// before and after gives the memory per socket. -sources N spreads sockets
// over 127.0.0.1..127.0.0.N so that tens of thousands fit in the ephemeral
// ports; the tool raises its own open-file limit.
//
// Mail (-smtp, -mail-rate, -mail-to): ~10 KiB customer messages, up to
// -mail-conns sessions at once, 100 messages per session; each Message-ID
// and subject carries the run's tag. Search (-search-rate): a mix of
// customer queries against /api/faq/search.
//
// -record FILE writes, as JSON lines, every chat message acknowledged
// (conversation, seq, client_id, from) and every email answered 250
// (message_id): the proof to check the database against after a crash.
//
// -verify FILE -data DIR checks a record against the database in DIR
// (opened read-only; the server may be running): every acked chat message
// stored exactly once with its seq, every conversation numbered without
// gaps, every 250'd email in inbound_raw and ticket_messages exactly once
// with its raw file. It exits 1 on any loss.
//
//	loadtest -verify run.jsonl -data ./data
//
// -self runs a chat server in this process (chat.Service and its handlers
// on loopback, a temporary SQLite database, agents with tokens
// load-1..load-N, rate limits from -limit-rate) and loads its chat; -serve
// runs only that server, so that its memory can be measured apart (-pid)
// from the load generator's. -cpuprofile profiles this process (in -self
// mode: server and load together).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/printshop/helpdesk/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
		os.Exit(1)
	}
}

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// options are the tool's own settings around a loadgen.Config.
type options struct {
	self, serve bool
	listen      string
	capacity    int
	limitRate   float64
	readBuffer  int
	record      string
	cpuProfile  string
	verify      string
	data        string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg loadgen.Config
	var o options
	var tokens repeated
	var tokenFile string
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "helpdesk base URL")
	fs.StringVar(&cfg.Origin, "origin", "", "websocket Origin header (default: the URL's origin; must match the server's --public-url)")
	fs.IntVar(&cfg.Customers, "customers", 0, "customers who chat")
	fs.IntVar(&cfg.Agents, "agents", 0, "agents who go online, accept chats and answer (each needs a token, except with -self)")
	fs.Var(&tokens, "agent-token", "an agent's API token (repeat the flag for several agents)")
	fs.StringVar(&tokenFile, "agent-tokens-file", "", "file with one agent API token per line")
	fs.StringVar(&tokenFile, "agent-tokens", "", "same as -agent-tokens-file")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to measure")
	fs.Float64Var(&cfg.Rate, "rate", 100, "customer chat messages per second, across all customers")
	fs.Float64Var(&cfg.AgentRate, "agent-rate", 0, "agent chat messages per second, across all agents")
	fs.IntVar(&cfg.Idle, "idle", 0, "idle customer sockets to open and hold")
	fs.IntVar(&cfg.Sources, "sources", 1, "loopback source addresses 127.0.0.1..127.0.0.N to spread sockets over (avoids ephemeral port exhaustion)")
	fs.IntVar(&cfg.PID, "pid", 0, "server process id, to report its resident memory")
	fs.DurationVar(&cfg.RSSInterval, "rss-interval", 250*time.Millisecond, "how often the server's RSS is sampled")
	fs.DurationVar(&cfg.Warmup, "warmup", 30*time.Second, "longest wait for customers' first messages and for agents to take chats")
	fs.DurationVar(&cfg.Hold, "hold", 0, "keep the sockets open this long after the report (or until interrupted)")
	fs.StringVar(&cfg.SMTPAddr, "smtp", "", "inbound SMTP host:port of the helpdesk, for the mail stream")
	fs.Float64Var(&cfg.MailRate, "mail-rate", 0, "emails per second over SMTP")
	fs.StringVar(&cfg.MailTo, "mail-to", "support@example.com", "inbox address the mail is sent to")
	fs.IntVar(&cfg.MailConns, "mail-conns", 16, "concurrent SMTP sessions")
	fs.IntVar(&cfg.MailPerSession, "mail-per-session", 100, "messages per SMTP session (1: a new connection per message)")
	fs.IntVar(&cfg.MailSize, "mail-size", 10<<10, "approximate email size in bytes")
	fs.Float64Var(&cfg.SearchRate, "search-rate", 0, "FAQ searches per second")
	fs.IntVar(&cfg.SearchWorkers, "search-workers", 8, "FAQ searches in flight at most")
	fs.StringVar(&cfg.Tag, "tag", "", "tag for this run's Message-IDs and subjects (default: random)")
	fs.StringVar(&o.record, "record", "", "write every acked chat message and every 250'd email to this file, as JSON lines")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process to this file")
	fs.StringVar(&o.verify, "verify", "", "check this record file against the database in -data instead of loading; exit 1 on a loss")
	fs.StringVar(&o.data, "data", "", "-verify: the helpdesk's data folder")
	fs.BoolVar(&o.self, "self", false, "start a chat server in this process and load it")
	fs.BoolVar(&o.serve, "serve", false, "only run the chat server (until interrupted)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address of the -self / -serve server")
	fs.IntVar(&o.capacity, "capacity", 0, "-self/-serve: chats per agent (default: enough for every customer)")
	fs.Float64Var(&o.limitRate, "limit-rate", 20, "-self/-serve: per-connection frame rate limit for customers (agents get 10x)")
	fs.IntVar(&o.readBuffer, "read-buffer", 4<<10, "-self/-serve: fasthttp read buffer per connection (internal/server uses 4 KiB)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.verify != "" {
		return verify(ctx, o.verify, o.data, stdout)
	}
	cfg.Tokens = tokens
	if tokenFile != "" {
		ts, err := readLines(tokenFile)
		if err != nil {
			return err
		}
		cfg.Tokens = append(cfg.Tokens, ts...)
	}
	if n, err := loadgen.RaiseFileLimit(); err != nil {
		fmt.Fprintf(stdout, "warning: could not raise the open-file limit: %v\n", err)
	} else {
		fmt.Fprintf(stdout, "open-file limit: %d\n", n)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if o.self || o.serve {
		capacity := o.capacity
		if capacity == 0 {
			capacity = 3
			if cfg.Agents > 0 {
				capacity = max(3, (cfg.Customers+cfg.Agents-1)/cfg.Agents)
			}
		}
		h, err := startHarness(ctx, harnessConfig{listen: o.listen, agents: max(cfg.Agents, 1),
			capacity: capacity, rate: o.limitRate, readBuffer: o.readBuffer})
		if err != nil {
			return fmt.Errorf("start server: %w", err)
		}
		defer h.stop()
		cfg.URL, cfg.Tokens, cfg.Origin, cfg.LimitsKnown = h.url, h.tokens, "", true
		if o.serve {
			fmt.Fprintf(stdout, "serving %s (pid %d); agent tokens: %s\n", h.url, os.Getpid(), strings.Join(h.tokens, " "))
			memStatsOnSignal(ctx, stdout)
			<-ctx.Done()
			return nil
		}
		if cfg.MailRate > 0 || cfg.SearchRate > 0 {
			return errors.New("-self serves chat only: mail and search need a real helpdesk (-url, -smtp)")
		}
		if cfg.PID == 0 {
			cfg.PID = os.Getpid()
		}
	}

	if o.record != "" {
		f, err := os.OpenFile(o.record, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.Record = loadgen.NewRecorder(f)
	}
	_, err := loadgen.Run(ctx, cfg, stdout)
	return err
}

// verify checks the record file against the database of the data folder.
func verify(ctx context.Context, record, data string, out io.Writer) error {
	if data == "" {
		return errors.New("-verify needs -data, the helpdesk's data folder")
	}
	f, err := os.Open(record)
	if err != nil {
		return err
	}
	entries, err := loadgen.ReadRecord(f)
	f.Close()
	if err != nil {
		return err
	}
	db, err := loadgen.OpenReadOnly(filepath.Join(data, "helpdesk.db"))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	v, err := loadgen.Verify(ctx, db, data, entries)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, v)
	if !v.OK() {
		return errors.New("the database does not hold every acknowledged message exactly once")
	}
	return nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
