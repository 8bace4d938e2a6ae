// Command chatload puts load on the helpdesk's live chat and reports what
// the server sustained.
//
//	chatload -url http://127.0.0.1:8080 -agent-token T1 -agent-token T2 \
//	         -customers 500 -agents 2 -rate 2000 -duration 30s
//	chatload -url http://127.0.0.1:8080 -idle 10000 -pid 1234
//	chatload -self -customers 500 -agents 10 -rate 2000 -duration 30s
//	chatload -serve -listen 127.0.0.1:9000 -agents 10
//
// Customers say hello, wait for an agent and then send -rate messages per
// second between them; each agent accepts every offer and times every
// customer message from send to receipt (the text carries the send time,
// so run the tool on the server's host). Idle sockets say hello and hold.
// It prints connected sockets, stored (acknowledged) messages per second,
// delivery latency p50/p99, errors, and the server's resident memory when
// -pid is given (read from /proc/PID/status).
//
// -self runs a chat server in this process (chat.Service and
// chat.Handlers on loopback, a temporary SQLite database, agents with
// tokens load-1..load-N) and loads it; -serve runs only that server, so
// that its memory can be measured apart (-pid) from the load generator's.
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
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "chatload:", err)
		}
		os.Exit(1)
	}
}

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

type config struct {
	url        string
	origin     string
	customers  int
	agents     int
	tokens     []string
	duration   time.Duration
	rate       float64
	idle       int
	sources    int
	pid        int
	self       bool
	serve      bool
	listen     string
	capacity   int
	limitRate  float64
	readBuffer int
	warmup     time.Duration
	hold       time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var cfg config
	var tokens repeated
	var tokenFile string
	fs := flag.NewFlagSet("chatload", flag.ContinueOnError)
	fs.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "helpdesk base URL")
	fs.StringVar(&cfg.origin, "origin", "", "Origin header to send (default: the URL's origin)")
	fs.IntVar(&cfg.customers, "customers", 0, "customers who chat")
	fs.IntVar(&cfg.agents, "agents", 0, "agents who accept chats and receive messages (needs as many tokens, except with -self)")
	fs.Var(&tokens, "agent-token", "an agent's API token (repeat the flag for several agents)")
	fs.StringVar(&tokenFile, "agent-tokens", "", "file with one agent API token per line")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "how long to send messages")
	fs.Float64Var(&cfg.rate, "rate", 100, "messages per second, across all customers")
	fs.IntVar(&cfg.idle, "idle", 0, "idle customer sockets to open and hold")
	fs.IntVar(&cfg.sources, "sources", 1, "loopback source addresses 127.0.0.1..127.0.0.N to spread sockets over (avoids ephemeral port exhaustion)")
	fs.IntVar(&cfg.pid, "pid", 0, "server process id, to report its resident memory")
	fs.BoolVar(&cfg.self, "self", false, "start a chat server in this process and load it")
	fs.BoolVar(&cfg.serve, "serve", false, "only run the chat server (until interrupted)")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "address of the -self / -serve server")
	fs.IntVar(&cfg.capacity, "capacity", 0, "-self/-serve: chats per agent (default: enough for every customer)")
	fs.Float64Var(&cfg.limitRate, "limit-rate", 20, "-self/-serve: per-connection frame rate limit for customers (agents get 10x)")
	fs.IntVar(&cfg.readBuffer, "read-buffer", 16<<10, "-self/-serve: fasthttp read buffer per connection (internal/server uses 16 KiB)")
	fs.DurationVar(&cfg.warmup, "warmup", 30*time.Second, "longest wait for every customer to be assigned an agent")
	fs.DurationVar(&cfg.hold, "hold", 0, "keep the sockets open this long after the report (or until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.tokens = tokens
	if tokenFile != "" {
		ts, err := readLines(tokenFile)
		if err != nil {
			return err
		}
		cfg.tokens = append(cfg.tokens, ts...)
	}
	if n, err := raiseFileLimit(); err != nil {
		fmt.Fprintf(out, "warning: could not raise the open-file limit: %v\n", err)
	} else {
		fmt.Fprintf(out, "open-file limit: %d\n", n)
	}

	if cfg.self || cfg.serve {
		capacity := cfg.capacity
		if capacity == 0 {
			capacity = 3
			if cfg.agents > 0 {
				capacity = max(3, (cfg.customers+cfg.agents-1)/cfg.agents)
			}
		}
		h, err := startHarness(ctx, harnessConfig{listen: cfg.listen, agents: max(cfg.agents, 1),
			capacity: capacity, rate: cfg.limitRate, readBuffer: cfg.readBuffer})
		if err != nil {
			return fmt.Errorf("start server: %w", err)
		}
		defer h.stop()
		cfg.url, cfg.tokens = h.url, h.tokens
		if cfg.serve {
			fmt.Fprintf(out, "serving %s (pid %d); agent tokens: %s\n", h.url, os.Getpid(), strings.Join(h.tokens, " "))
			memStatsOnSignal(ctx, out)
			<-ctx.Done()
			return nil
		}
		if cfg.pid == 0 {
			cfg.pid = os.Getpid()
		}
	}
	if cfg.agents > len(cfg.tokens) {
		return fmt.Errorf("-agents %d needs %d agent tokens, got %d", cfg.agents, cfg.agents, len(cfg.tokens))
	}
	return load(ctx, cfg, out)
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

// raiseFileLimit lifts the open-file soft limit to the hard limit (and, for
// root, the hard limit too) so that thousands of sockets fit.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	want := lim
	if want.Max < 1<<20 {
		want.Max = 1 << 20
	}
	want.Cur = want.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return want.Cur, nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// memStatsOnSignal, whenever the process gets SIGUSR1, collects garbage,
// returns free memory to the OS and prints the Go runtime's memory figures
// and the resident set size, to see where a socket's memory goes.
func memStatsOnSignal(ctx context.Context, out io.Writer) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				debug.FreeOSMemory() // a GC, and freed memory back to the OS
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				rss, _ := rssKB(os.Getpid())
				fmt.Fprintf(out, "goroutines %d; heap in use %d KiB; stacks %d KiB; other runtime %d KiB; sys %d KiB; RSS %d KiB\n",
					runtime.NumGoroutine(), m.HeapInuse>>10, m.StackInuse>>10,
					(m.MSpanInuse+m.MCacheInuse+m.BuckHashSys+m.GCSys+m.OtherSys)>>10, m.Sys>>10, rss)
				if path := os.Getenv("CHATLOAD_HEAP_PROFILE"); path != "" {
					if f, err := os.Create(path); err == nil {
						_ = pprof.WriteHeapProfile(f)
						f.Close()
						fmt.Fprintf(out, "heap profile written to %s\n", path)
					}
				}
			}
		}
	}()
}
