package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/tickets"
)

// Guards, named for reading the route list below:
//
//	(none)        anyone, including anonymous customers
//	agentOnly     a signed-in agent or admin (session cookie + CSRF, or API token)
//	adminOnly     a signed-in admin
var (
	agentOnly = auth.RequireAgent
	adminOnly = auth.RequireAdmin
)

// routes lists every endpoint the helpdesk serves. Guards are applied here,
// per route or group, so who may call what is visible in one place.
func (s *Server) routes() {
	app := s.app
	app.Use(s.recoverPanic, s.requestID, s.observe, securityHeaders, s.deps.Auth.Authenticate)

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.metricsHandler())

	// The chat widget reads these two from the shop's pages, so allowed
	// site origins get CORS on them; visitorCORS also lets them send the
	// visitor token to the chat endpoints that take it.
	widgetCORS := func(c *fiber.Ctx) error { return c.Next() }
	visitorCORS := widgetCORS
	if h := s.deps.Widget; h != nil {
		widgetCORS, visitorCORS = h.CORS, h.VisitorCORS
	}

	api := app.Group("/api")
	api.Get("/status", widgetCORS, s.status)

	a := s.deps.Auth
	api.Post("/auth/login", a.Login)
	api.Post("/auth/logout", agentOnly, a.Logout)
	api.Get("/auth/me", agentOnly, a.Me)
	api.Post("/auth/password", agentOnly, a.ChangePassword)

	api.Get("/admin/agents", adminOnly, a.ListAgents)
	api.Post("/admin/agents", adminOnly, a.AddAgent)
	api.Patch("/admin/agents/:id", adminOnly, a.UpdateAgent)
	api.Post("/admin/agents/:id/password", adminOnly, a.ResetPassword)
	api.Get("/admin/tokens", adminOnly, a.ListTokens)
	api.Post("/admin/tokens", adminOnly, a.CreateToken)
	api.Delete("/admin/tokens/:id", adminOnly, a.RevokeToken)
	api.Get("/admin/audit", adminOnly, a.Audit)

	if h := s.deps.FAQ; h != nil {
		api.Get("/faq/search", widgetCORS, h.Search)
	}
	if h := s.deps.KB; h != nil {
		api.Get("/kb/categories", h.Categories)
		api.Get("/kb/articles", h.List)
		api.Get("/kb/articles/:slug", h.Get)
		api.Post("/kb/articles/:slug/feedback", h.Feedback)
		api.Post("/kb/articles", adminOnly, h.Create)
		api.Patch("/kb/articles/:slug", adminOnly, h.Update)
		api.Delete("/kb/articles/:slug", adminOnly, h.Delete)
	}

	if h := s.deps.Tickets; h != nil {
		api.Post("/inbound/email", tickets.InboundGuard(s.deps.Config.InboundToken), h.InboundEmail)

		api.Get("/tickets", agentOnly, h.List)
		api.Get("/tickets/:id", agentOnly, h.Get)
		api.Patch("/tickets/:id", agentOnly, h.Patch)
		api.Post("/tickets/:id/replies", agentOnly, h.Reply)
		api.Post("/tickets/:id/notes", agentOnly, h.Note)
		api.Post("/tickets/:id/viewing", agentOnly, h.Viewing)
		api.Get("/tickets/:id/attachments/:attachmentId", agentOnly, h.Attachment)
		api.Get("/tickets/:id/canned/:cid", agentOnly, h.CannedRender)
		api.Get("/canned", agentOnly, h.CannedList)
		api.Post("/canned", agentOnly, h.CannedCreate)
		api.Patch("/canned/:id", agentOnly, h.CannedUpdate)
		api.Delete("/canned/:id", agentOnly, h.CannedDelete)
	}

	if h := s.deps.Settings; h != nil {
		api.Get("/admin/hours", adminOnly, h.GetHours)
		api.Put("/admin/hours", adminOnly, h.PutHours)
		api.Get("/admin/inboxes", adminOnly, h.ListInboxes)
		api.Put("/admin/inboxes/:address", adminOnly, h.PutInbox)
	}
	if h := s.deps.Reports; h != nil {
		api.Get("/reports/summary", agentOnly, h.Summary)
		api.Get("/reports/summary.csv", agentOnly, h.SummaryCSV)
	}
	if h := s.deps.Console; h != nil {
		api.Get("/agents", agentOnly, h.Agents)
		api.Post("/kb/preview", adminOnly, h.Preview)
	}

	if h := s.deps.Chat; h != nil {
		// The customer socket authenticates with its visitor token in the
		// hello frame; the agent socket with the session or API token
		// before the upgrade. Both check the Origin before upgrading.
		app.Get("/ws/chat", h.CustomerUpgrade, h.CustomerSocket)
		app.Get("/ws/agent", agentOnly, h.AgentUpgrade, h.AgentSocket)
		api.Get("/chat/history", visitorCORS, h.History) // X-Visitor-Token: only that visitor's conversations
		api.Get("/chat/conversations", agentOnly, h.Conversations)
		api.Get("/chat/conversations/:id", agentOnly, h.Conversation)
		api.Post("/chat/attachments", visitorCORS, h.RequireVisitorOrAgent, h.Upload)
		api.Get("/chat/attachments/:id", visitorCORS, h.RequireVisitorOrAgent, h.Attachment)
		// Preflights of the shop's pages for the three above.
		api.Options("/chat/history", visitorCORS)
		api.Options("/chat/attachments", visitorCORS)
		api.Options("/chat/attachments/:id", visitorCORS)
	}

	// Anything else under /api is a JSON 404, not a help-center page.
	api.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })

	// The chat widget a shop embeds with one script tag, and a demo shop
	// page that does so.
	if h := s.deps.Widget; h != nil {
		app.Get("/widget.js", h.Script)
		app.Get("/demo", h.Demo)
	}

	// The agents' pages are served to anyone; their APIs are guarded.
	if h := s.deps.Console; h != nil {
		app.Get("/agent", h.Console)
		app.Get("/agent/admin", h.Admin)
		app.Get("/agent/reports", h.Reports)
	}

	if p := s.deps.Pages; p != nil {
		app.Get("/", p.Home)
		app.Get("/search", p.Search)
		app.Get("/kb/category/:slug", p.Category)
		app.Get("/kb/:slug", p.Article)
		app.Get("/static/*", p.Assets)
		// A browser (which asks for text/html by name) following a broken
		// link gets the help center's not-found page; every other client
		// gets the JSON error, as for any other error.
		app.Use(func(c *fiber.Ctx) error {
			if c.Method() == fiber.MethodGet && strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMETextHTML) {
				return p.NotFound(c)
			}
			return fiber.ErrNotFound
		})
	}
}
