// Package server assembles the helpdesk's single Fiber application: the
// middleware every request passes through (request id, access log, metrics,
// panic recovery), the one error boundary, the health and status endpoints,
// and — in routes.go — the list of every route.
//
// Domain packages (kb, faq, tickets, chat, internal/auth, internal/helpcenter)
// provide handlers; this package only decides which URL reaches which
// handler and behind which guard.
package server

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/printshop/helpdesk/chat"
	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/console"
	"github.com/printshop/helpdesk/internal/helpcenter"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/internal/reports"
	"github.com/printshop/helpdesk/internal/settings"
	"github.com/printshop/helpdesk/internal/widget"
	"github.com/printshop/helpdesk/kb"
	"github.com/printshop/helpdesk/tickets"
)

// MaxBodySize bounds every request body. It is sized for the largest input we
// accept (a raw email on the inbound webhook, 25 MiB plus headers); JSON
// routes enforce their own, much smaller limit in httpapi.DecodeJSON.
const MaxBodySize = 26 << 20

// Presence reports how many agents are available for chat right now.
type Presence interface {
	AgentsOnline(ctx context.Context) (int, error)
}

// ReadyCheck is one dependency /readyz verifies.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Deps is everything the HTTP server serves. Fields left nil are features
// not wired in this process; their routes are not registered.
type Deps struct {
	Config   config.Config
	Logger   *slog.Logger
	Now      func() time.Time
	Registry *prometheus.Registry
	Ready    []ReadyCheck
	Schedule *hours.Schedule
	Presence Presence

	Auth *auth.Handlers // required: every request passes its Authenticate
	KB   *kb.Handlers
	FAQ  *faq.Handlers

	Tickets *tickets.Handlers

	Chat     *chat.Handlers     // live chat: websockets and the chat HTTP API
	Settings *settings.Handlers // admin settings: support hours, inbox acknowledgements
	Reports  *reports.Handlers  // support reports for managers
	Console  *console.Console   // the agents' pages (/agent…) and their helper endpoints

	Pages  *helpcenter.Pages // the customers' help center (HTML)
	Widget *widget.Handlers  // the embeddable chat widget (/widget.js) and its demo shop (/demo)
}

// Server is the HTTP side of a helpdesk process.
type Server struct {
	app  *fiber.App
	deps Deps
	log  *slog.Logger
	m    *httpMetrics
}

// New builds the Fiber application with every route registered.
func New(d Deps) *Server {
	s := &Server{deps: d, log: d.Logger, m: newHTTPMetrics(d.Registry)}
	s.app = fiber.New(fiber.Config{
		AppName:               "helpdesk",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		BodyLimit:             MaxBodySize,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// fasthttp's default 4 KiB header buffer: ample for our cookie and
		// token headers. ReduceMemoryUsage hands it back to fasthttp's pool
		// once a request has been read, instead of keeping it for the
		// connection's life: a chat socket is a connection that lives for
		// hours and reads through the websocket's own buffer, so this is
		// what keeps an idle socket small (BENCHMARKS.md), for the price
		// of a pool round trip per request.
		ReadBufferSize:          4 << 10,
		ReduceMemoryUsage:       true,
		ProxyHeader:             fiber.HeaderXForwardedFor,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          d.Config.TrustedProxies,
		EnableIPValidation:      true,
	})
	s.routes()
	return s
}

// App exposes the Fiber application, for tests that call app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Serve serves HTTP on ln until Shutdown is called.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }
