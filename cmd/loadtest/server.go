package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/chat"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/loadgen"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// harness is the chat server of -self and -serve: chat.Service and
// chat.Handlers on a Fiber app configured like internal/server, a fresh
// SQLite database in a temporary folder, in-process broker and presence,
// and agents whose bearer tokens are "load-<n>" (a stand-in for
// internal/auth's middleware). It isolates chat from the rest of the
// helpdesk, for profiling it and measuring what a socket costs; set
// LOADTEST_LOG=1 to see its log.
type harness struct {
	url    string
	tokens []string
	svc    *chat.Service
	app    *fiber.App
	ln     net.Listener
	db     *sqlitedb.DB
	dir    string
	done   chan error
}

type harnessConfig struct {
	listen     string
	agents     int
	capacity   int
	rate       float64 // per-connection frame rate limit
	readBuffer int     // fasthttp read buffer per connection
}

func startHarness(ctx context.Context, cfg harnessConfig) (*harness, error) {
	dir, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return nil, err
	}
	h := &harness{dir: dir, done: make(chan error, 1)}
	if h.db, err = sqlitedb.Open(ctx, filepath.Join(dir, "helpdesk.db")); err != nil {
		h.cleanup()
		return nil, err
	}
	agents := map[string]auth.Agent{}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	for i := 1; i <= cfg.agents; i++ {
		var id int64
		name := fmt.Sprintf("Load Agent %d", i)
		err := h.db.W.QueryRowContext(ctx, `INSERT INTO agents (email, name, role, active, password_hash, created_at, updated_at)
			VALUES (?, ?, 'agent', 1, 'not-a-password', ?, ?) RETURNING id`, fmt.Sprintf("load%d@load.test", i), name, now, now).Scan(&id)
		if err != nil {
			h.cleanup()
			return nil, fmt.Errorf("add agent: %w", err)
		}
		tok := fmt.Sprintf("load-%d", i)
		agents[tok] = auth.Agent{ID: id, Name: name, Role: auth.RoleAgent, Active: true}
		h.tokens = append(h.tokens, tok)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("LOADTEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h.svc, err = chat.New(chat.Options{
		Store:    chat.NewSQLiteStore(h.db),
		Logger:   log,
		Capacity: cfg.capacity,
		Limits: chat.Limits{
			CustomerRate: cfg.rate, CustomerBurst: 2 * cfg.rate,
			AgentRate: 10 * cfg.rate, AgentBurst: 20 * cfg.rate,
		},
	})
	if err != nil {
		h.cleanup()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		h.cleanup()
		return nil, err
	}
	h.ln = ln
	h.url = "http://" + ln.Addr().String()
	handlers := chat.NewHandlers(h.svc, chat.HandlerOptions{PublicURL: h.url})
	h.app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ReadBufferSize:        cfg.readBuffer,
		IdleTimeout:           120 * time.Second,
		ReduceMemoryUsage:     true, // as internal/server
	})
	h.app.Use(func(c *fiber.Ctx) error {
		tok := strings.TrimPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if a, ok := agents[tok]; ok {
			c.SetUserContext(auth.NewContext(c.UserContext(), a))
		}
		return c.Next()
	})
	h.app.Get("/ws/chat", handlers.CustomerUpgrade, handlers.CustomerSocket)
	h.app.Get("/ws/agent", handlers.AgentUpgrade, handlers.AgentSocket)
	h.app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	go func() { h.done <- h.app.Listener(ln) }()
	return h, nil
}

// stop closes the sockets (1001), the server and the database.
func (h *harness) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.svc.Close(ctx)
	_ = h.app.ShutdownWithContext(ctx)
	// Shutdown finds nothing to stop when it runs before the serving
	// goroutine got going; closing the listener ends Listener then too.
	_ = h.ln.Close()
	<-h.done
	h.cleanup()
}

func (h *harness) cleanup() {
	if h.db != nil {
		h.db.Close()
	}
	os.RemoveAll(h.dir)
}

// memStatsOnSignal, whenever the process gets SIGUSR1, collects garbage,
// returns free memory to the OS and prints the Go runtime's memory figures
// and the resident set size, to see where a socket's memory goes. With
// LOADTEST_HEAP_PROFILE=FILE it also writes a heap profile there. Its
// goroutine ends with ctx.
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
				pm, _ := loadgen.ReadProcMem(os.Getpid())
				fmt.Fprintf(out, "goroutines %d; heap in use %d KiB; stacks %d KiB; other runtime %d KiB; sys %d KiB; RSS %d KiB\n",
					runtime.NumGoroutine(), m.HeapInuse>>10, m.StackInuse>>10,
					(m.MSpanInuse+m.MCacheInuse+m.BuckHashSys+m.GCSys+m.OtherSys)>>10, m.Sys>>10, pm.RSS)
				if path := os.Getenv("LOADTEST_HEAP_PROFILE"); path != "" {
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
