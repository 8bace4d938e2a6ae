package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// fastHash keeps most tests quick; TestHashRealDefaults uses the real cost.
var fastHash = HashParams{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// Passwords used across tests; all pass the policy.
const (
	adminPassword = "correct horse battery staple"
	agentPassword = "plum-violet-teapot-88"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	db    *sqlitedb.DB
	clock *clock
	svc   *Service
	h     *Handlers
	app   *fiber.App
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openDB(t *testing.T) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "helpdesk.db"))
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newEnv returns a service on a fresh database, with a test clock, fast
// hashing, a debug-level JSON logger into e.logs, and an app wired like the
// real server. edit may change the options.
func newEnv(t *testing.T, edit func(*Options)) *env {
	t.Helper()
	return newEnvOn(t, openDB(t), newClock(), edit)
}

func newEnvOn(t *testing.T, db *sqlitedb.DB, clk *clock, edit func(*Options)) *env {
	t.Helper()
	logs := &syncBuffer{}
	opts := Options{
		Now:    clk.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Hash:   fastHash,
	}
	if edit != nil {
		edit(&opts)
	}
	svc := New(db, opts)
	h := NewHandlers(svc)
	e := &env{t: t, db: db, clock: clk, svc: svc, h: h, logs: logs}
	e.app = newApp(h)
	return e
}

// newApp wires the handlers the way routes.go does. The test connection's
// address is 0.0.0.0; trusting it as a proxy lets tests pick the client
// address with X-Forwarded-For.
func newApp(h *Handlers) *fiber.App {
	app := fiber.New(fiber.Config{
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			return c.Status(apperr.KindOf(err).Status()).JSON(fiber.Map{"error": apperr.PublicMessage(err)})
		},
		EnableTrustedProxyCheck: true,
		TrustedProxies:          []string{"0.0.0.0"},
		ProxyHeader:             fiber.HeaderXForwardedFor,
	})
	app.Use(h.Authenticate)
	app.Post("/api/auth/login", h.Login)
	app.Post("/api/auth/logout", RequireAgent, h.Logout)
	app.Get("/api/auth/me", RequireAgent, h.Me)
	app.Post("/api/auth/password", RequireAgent, h.ChangePassword)

	admin := app.Group("/api/admin", RequireAdmin)
	admin.Get("/agents", h.ListAgents)
	admin.Post("/agents", h.AddAgent)
	admin.Patch("/agents/:id", h.UpdateAgent)
	admin.Post("/agents/:id/password", h.ResetPassword)
	admin.Get("/tokens", h.ListTokens)
	admin.Post("/tokens", h.CreateToken)
	admin.Delete("/tokens/:id", h.RevokeToken)
	admin.Get("/audit", h.Audit)

	// Stand-ins for other packages' routes.
	app.Get("/public", func(c *fiber.Ctx) error {
		_, ok := AgentFrom(c)
		return c.JSON(fiber.Map{"signed_in": ok})
	})
	app.Post("/api/tickets/1/notes", RequireAgent, func(c *fiber.Ctx) error {
		a, _ := FromContext(c.UserContext())
		return c.JSON(fiber.Map{"by": a.Email})
	})
	return app
}

func (e *env) addAgent(email, name string, role Role, password string) Agent {
	e.t.Helper()
	a, err := e.svc.AddAgent(context.Background(), email, name, role, password)
	if err != nil {
		e.t.Fatalf("AddAgent(%s): %v", email, err)
	}
	return a
}

// request describes one HTTP call.
type request struct {
	method, path string
	body         any
	cookie       string // session cookie value
	csrf         string
	bearer       string
	ip           string
}

type response struct {
	status  int
	body    map[string]any
	raw     string
	cookies []*http.Cookie
}

func (e *env) do(r request) response {
	e.t.Helper()
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: e.h.CookieName(), Value: r.cookie})
	}
	if r.csrf != "" {
		req.Header.Set(CSRFHeader, r.csrf)
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	ip := r.ip
	if ip == "" {
		ip = "192.0.2.10"
	}
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := e.app.Test(req, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := response{status: resp.StatusCode, raw: string(raw), cookies: resp.Cookies()}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", r.method, r.path, raw, err)
		}
	}
	return out
}

// login signs in over HTTP and returns the cookie value and CSRF token.
func (e *env) login(email, password string) (cookie, csrf string) {
	e.t.Helper()
	r := e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": email, "password": password}})
	if r.status != 200 {
		e.t.Fatalf("login %s: status %d %s", email, r.status, r.raw)
	}
	for _, c := range r.cookies {
		if c.Name == e.h.CookieName() {
			cookie = c.Value
		}
	}
	csrf, _ = r.body["csrf_token"].(string)
	if cookie == "" || csrf == "" {
		e.t.Fatalf("login %s: no cookie or csrf token in %s", email, r.raw)
	}
	return cookie, csrf
}

func wantStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d (body %s)", what, r.status, want, r.raw)
	}
}

// auditCount returns how many audit entries have the given action.
func (e *env) auditCount(action string) int {
	e.t.Helper()
	var n int
	if err := e.db.R.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE action = ?`, action).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
