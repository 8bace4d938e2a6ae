package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

const testOrigin = "http://helpdesk.test"

// --- database ---

func openDB(t testing.TB, path string) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newDB(t testing.TB) *sqlitedb.DB {
	return openDB(t, filepath.Join(t.TempDir(), "helpdesk.db"))
}

func addAgent(t testing.TB, db *sqlitedb.DB, name string) AgentRef {
	t.Helper()
	now := fmtTime(time.Now())
	var id int64
	err := db.W.QueryRow(`INSERT INTO agents (email, name, role, active, password_hash, created_at, updated_at)
		VALUES (?, ?, 'agent', 1, 'x', ?, ?) RETURNING id`, strings.ToLower(name)+"@shop.test", name, now, now).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return AgentRef{ID: id, Name: name}
}

// --- clock ---

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// --- redis ---

// redisFor returns a client for the local Redis and a key prefix of this
// test's own; keys under it are deleted at the end. Without a reachable
// Redis the test is skipped, unless CI is set, when it fails.
func redisFor(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 0})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is required in CI: %v", addr, err)
		}
		t.Skipf("skipping: no Redis reachable at %s (%v); start one or set REDIS_ADDR", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "chattest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// --- nodes ---

// node is one helpdesk process as far as chat goes: a Service, its
// Handlers and a Fiber app on a loopback port.
type node struct {
	svc    *Service
	h      *Handlers
	app    *fiber.App
	base   string // http://127.0.0.1:port
	ws     string // ws://127.0.0.1:port
	agents map[string]AgentRef
}

type nodeConfig struct {
	db       *sqlitedb.DB
	opts     Options
	agents   []AgentRef
	handlers HandlerOptions // PublicURL and AllowedOrigins are set by startNode
	origins  []string
	noClose  bool // the test closes the service itself
	registry bool
}

func discardLogger() *slog.Logger {
	if os.Getenv("CHAT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startNode(t testing.TB, cfg nodeConfig) *node {
	t.Helper()
	opts := cfg.opts
	if opts.Store == nil {
		opts.Store = NewSQLiteStore(cfg.db)
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	if opts.RouteInterval == 0 {
		opts.RouteInterval = 50 * time.Millisecond
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hopts := cfg.handlers
	hopts.PublicURL, hopts.AllowedOrigins = testOrigin+"/", cfg.origins
	h := NewHandlers(svc, hopts)
	n := &node{svc: svc, h: h, agents: map[string]AgentRef{}}
	for _, a := range cfg.agents {
		n.agents["token-"+strconv.FormatInt(a.ID, 10)] = a
	}
	// BodyLimit as internal/server sets it.
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: testErrorHandler, BodyLimit: 26 << 20})
	// A stand-in for internal/auth's middleware: "Bearer token-<id>".
	authn := func(c *fiber.Ctx) error {
		tok := strings.TrimPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if a, ok := n.agents[tok]; ok {
			c.SetUserContext(auth.NewContext(c.UserContext(), auth.Agent{ID: a.ID, Name: a.Name, Active: true, Role: auth.RoleAgent}))
		}
		return c.Next()
	}
	app.Use(authn)
	app.Get("/ws/chat", h.CustomerUpgrade, h.CustomerSocket)
	app.Get("/ws/agent", h.AgentUpgrade, h.AgentSocket)
	app.Get("/api/chat/history", h.History)
	app.Get("/api/chat/conversations", h.Conversations)
	app.Get("/api/chat/conversations/:id", h.Conversation)
	app.Post("/api/chat/attachments", h.Upload)
	app.Get("/api/chat/attachments/:id", h.Attachment)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	n.app = app
	n.base = "http://" + ln.Addr().String()
	n.ws = "ws://" + ln.Addr().String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !cfg.noClose {
			if err := svc.Close(ctx); err != nil {
				t.Errorf("close service: %v", err)
			}
		}
		_ = app.ShutdownWithContext(ctx)
		<-done
	})
	return n
}

// testErrorHandler is a copy of internal/server's boundary, in short.
func testErrorHandler(c *fiber.Ctx, err error) error {
	status, msg := apperr.KindOf(err).Status(), apperr.PublicMessage(err)
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status, msg = fe.Code, fe.Message
	}
	return c.Status(status).JSON(fiber.Map{"error": msg})
}

// --- websocket clients ---

// frame is any server frame; fields of every type.
type frame struct {
	Type                 string           `json:"type"`
	Code                 string           `json:"code"`
	Message              string           `json:"message"`
	ClientID             string           `json:"client_id"`
	Seq                  int64            `json:"seq"`
	LastSeq              int64            `json:"last_seq"`
	Duplicate            bool             `json:"duplicate"`
	Conversation         int64            `json:"conversation"`
	Visitor              string           `json:"visitor"`
	ChatAvailable        bool             `json:"chat_available"`
	From                 string           `json:"from"`
	Author               string           `json:"author"`
	Text                 string           `json:"text"`
	At                   string           `json:"at"`
	Position             int              `json:"position"`
	EstimatedWaitSeconds int              `json:"estimated_wait_seconds"`
	Agent                agentJSON        `json:"agent"`
	Customer             customerJSON     `json:"customer"`
	Preview              string           `json:"preview"`
	Reason               string           `json:"reason"`
	NextOpen             string           `json:"next_open"`
	TicketID             int64            `json:"ticket_id"`
	Articles             []suggestionJSON `json:"articles"`
	Status               string           `json:"status"`
	By                   string           `json:"by"`
	Score                int              `json:"score"`
	Email                string           `json:"email"`
	Attachments          []attachmentJSON `json:"attachments"`
	Ref                  string           `json:"ref"`
	raw                  string
}

type client struct {
	t      testing.TB
	conn   *fws.Conn
	frames chan frame
	done   chan struct{}
	err    error // the read error that ended the client; valid after done
}

func dial(t testing.TB, url string, header http.Header) (*client, *http.Response, error) {
	t.Helper()
	d := fws.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: t, conn: conn, frames: make(chan frame, 10000), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.frames)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			var f frame
			if err := json.Unmarshal(data, &f); err != nil {
				c.err = fmt.Errorf("bad frame %q: %w", data, err)
				return
			}
			f.raw = string(data)
			c.frames <- f
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-c.done
	})
	return c, resp, nil
}

func (n *node) customer(t testing.TB) *client {
	t.Helper()
	c, _, err := dial(t, n.ws+"/ws/chat", http.Header{"Origin": {testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (n *node) agent(t testing.TB, a AgentRef) *client {
	t.Helper()
	n.agents["token-"+strconv.FormatInt(a.ID, 10)] = a
	c, _, err := dial(t, n.ws+"/ws/agent", http.Header{"Origin": {testOrigin}, "Authorization": {"Bearer token-" + strconv.FormatInt(a.ID, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	c.expect("welcome")
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	var data []byte
	switch v := v.(type) {
	case string:
		data = []byte(v)
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.conn.WriteMessage(fws.TextMessage, data); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

const waitTimeout = 5 * time.Second

// next returns the next frame.
func (c *client) next() frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection ended: %v", c.err)
		}
		return f
	case <-time.After(waitTimeout):
		c.t.Fatalf("no frame within %s", waitTimeout)
	}
	return frame{}
}

// expect skips frames until one of type typ (and matching ok, if given).
func (c *client) expect(typ string, ok ...func(frame) bool) frame {
	c.t.Helper()
	deadline := time.After(waitTimeout)
	var skipped []string
	for {
		select {
		case f, open := <-c.frames:
			if !open {
				c.t.Fatalf("connection ended waiting for %q (skipped %v): %v", typ, skipped, c.err)
			}
			if f.Type == typ && (len(ok) == 0 || ok[0](f)) {
				return f
			}
			skipped = append(skipped, f.raw)
		case <-deadline:
			if os.Getenv("CHAT_TEST_DUMP") != "" {
				_, stacks := goroutines()
				c.t.Log(stacks)
			}
			c.t.Fatalf("no %q frame within %s (skipped %v)", typ, waitTimeout, skipped)
		}
	}
}

// quiet checks that no frame of type typ arrives within d.
func (c *client) quiet(typ string, d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f, open := <-c.frames:
			if !open {
				return
			}
			if f.Type == typ {
				c.t.Fatalf("unexpected %s frame: %s", typ, f.raw)
			}
		case <-deadline:
			return
		}
	}
}

// closed waits for the server to end the connection and returns the close
// code (0 without a close frame).
func (c *client) closed() int {
	c.t.Helper()
	for {
		select {
		case _, open := <-c.frames:
			if open {
				continue
			}
			var ce *fws.CloseError
			if errors.As(c.err, &ce) {
				return ce.Code
			}
			return 0
		case <-time.After(waitTimeout):
			c.t.Fatal("connection still open")
		}
	}
}

func (c *client) hello(visitor string, afterSeq int64) frame {
	c.t.Helper()
	c.send(map[string]any{"type": "hello", "visitor": visitor, "name": "Pat", "email": "pat@example.com", "after_seq": afterSeq})
	return c.expect("welcome")
}

func (c *client) say(clientID, text string) frame {
	c.t.Helper()
	c.send(map[string]any{"type": "message", "client_id": clientID, "text": text})
	return c.expect("ack", func(f frame) bool { return f.ClientID == clientID })
}

func (c *client) agentSay(conv int64, clientID, text string) frame {
	c.t.Helper()
	c.send(map[string]any{"type": "message", "conversation": conv, "client_id": clientID, "text": text})
	return c.expect("ack", func(f frame) bool { return f.ClientID == clientID })
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutines counts live goroutines, leaving out fasthttp's idle-worker
// cleaner, which sleeps up to 10 s after its server shut down before it
// notices (it is fasthttp's, and it does end), and fasthttp's clock for
// the Date header, which the first server of the process starts for good.
func goroutines() (int, string) {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var kept []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fasthttp.(*workerPool).Start.func2") || strings.Contains(g, "fasthttp.updateServerDate") {
			continue
		}
		n++
		kept = append(kept, g)
	}
	return n, strings.Join(kept, "\n\n")
}

// settleGoroutines waits (up to 4 s) for the goroutine count to fall to at
// most want, and returns the count and the stacks.
func settleGoroutines(want int) (int, string) {
	n, stacks := goroutines()
	for i := 0; i < 200 && n > want; i++ {
		time.Sleep(20 * time.Millisecond)
		n, stacks = goroutines()
	}
	return n, stacks
}
