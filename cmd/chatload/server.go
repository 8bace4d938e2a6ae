package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/chat"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// harness is a chat server for load tests, until the helpdesk binary
// serves chat: chat.Service and chat.Handlers on a Fiber app configured
// like internal/server, a fresh SQLite database in a temporary folder,
// in-process broker and presence, and agents whose bearer tokens are
// "load-<n>" (a stand-in for internal/auth's middleware).
type harness struct {
	url    string
	tokens []string
	svc    *chat.Service
	app    *fiber.App
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
	dir, err := os.MkdirTemp("", "chatload-")
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
	if os.Getenv("CHATLOAD_LOG") != "" {
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
	h.url = "http://" + ln.Addr().String()
	handlers := chat.NewHandlers(h.svc, chat.HandlerOptions{PublicURL: h.url})
	h.app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ReadBufferSize:        cfg.readBuffer,
		IdleTimeout:           120 * time.Second,
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
	<-h.done
	h.cleanup()
}

func (h *harness) cleanup() {
	if h.db != nil {
		h.db.Close()
	}
	os.RemoveAll(h.dir)
}
