// Package console serves the agents' side of the helpdesk in the browser:
// the HTML shells of the agent console (/agent), the admin pages
// (/agent/admin) and the reports (/agent/reports), plus the two small
// endpoints that exist only for them — the knowledge-base Markdown preview
// and the directory of agents to assign tickets to.
//
// The pages are shells: static HTML with a sign-in form and the landmarks
// of the page, enhanced by ES modules under static/assets/agent that talk
// to the JSON API. Sign-in state lives in the HttpOnly session cookie; the
// CSRF token is only ever held in the page's memory and fetched again from
// /api/auth/me on load. A shell is served to anyone: what an agent may see
// and do is decided by the API's guards, and the pages show an "admins
// only" state when the API says 403.
//
// Pages are sent with a strict Content-Security-Policy: no inline script
// or style anywhere. Email HTML is shown in <iframe sandbox srcdoc>, which
// runs no script and has an opaque origin; such a frame inherits this
// policy, which blocks anything the sanitizer might have missed.
package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/httpapi"
	"github.com/printshop/helpdesk/kb"
	"github.com/printshop/helpdesk/static"
)

// ContentSecurityPolicy is sent with every console page. It is the help
// center's policy plus frame-src 'self' (sandboxed email frames) and blob:
// images; connect-src 'self' covers the agent websocket.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; media-src 'self'; object-src 'none'; " +
	"frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// AgentDirectory lists agents; *auth.Service implements it.
type AgentDirectory interface {
	ListAgents(ctx context.Context) ([]auth.Agent, error)
}

// Options configures the console.
type Options struct {
	SiteName string
	Render   *kb.Renderer   // for the article preview; required
	Agents   AgentDirectory // required
	Queues   []string       // the ticket queues, offered as a filter
	Chat     bool           // the agent websocket /ws/agent is served: show the chats panel
	Logger   *slog.Logger
}

// Console serves the console pages and endpoints. It is safe for
// concurrent use.
type Console struct {
	o      Options
	tmpl   *template.Template
	assets *static.Server
	log    *slog.Logger
}

// page is one console page.
type page struct {
	Name   string // console, admin or reports
	Title  string
	Script string // the page's one entry module, by asset name
}

var (
	pageConsole = page{Name: "console", Title: "Agent console", Script: "agent/console.js"}
	pageAdmin   = page{Name: "admin", Title: "Admin", Script: "agent/admin.js"}
	pageReports = page{Name: "reports", Title: "Reports", Script: "agent/reports.js"}
)

// New parses the shell template and indexes the embedded assets.
func New(o Options) (*Console, error) {
	if o.Render == nil || o.Agents == nil {
		return nil, errors.New("console: Render and Agents are required")
	}
	if o.SiteName == "" {
		o.SiteName = "Helpdesk"
	}
	c := &Console{o: o, log: o.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.assets, err = static.NewServer(static.Assets()); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if c.tmpl, err = parse(static.Templates(), c.assets.URL); err != nil {
		return nil, fmt.Errorf("console: template: %w", err)
	}
	// Render every page once, so that a missing asset fails here (and in
	// tests), not in a browser.
	for _, p := range []page{pageConsole, pageAdmin, pageReports} {
		if _, err := c.render(p); err != nil {
			return nil, fmt.Errorf("console: page %s: %w", p.Name, err)
		}
	}
	return c, nil
}

func parse(fsys fs.FS, asset func(string) (string, error)) (*template.Template, error) {
	return template.New("shell.html").Funcs(template.FuncMap{"asset": asset}).ParseFS(fsys, "agent/shell.html")
}

type shellView struct {
	Page   page
	Site   string
	Chat   bool
	Queues string // JSON array, for the page's scripts
}

func (c *Console) render(p page) ([]byte, error) {
	queues, err := json.Marshal(append([]string{}, c.o.Queues...))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = c.tmpl.Execute(&buf, shellView{Page: p, Site: c.o.SiteName, Chat: c.o.Chat, Queues: string(queues)})
	return buf.Bytes(), err
}

func (c *Console) serve(ctx *fiber.Ctx, p page) error {
	b, err := c.render(p)
	if err != nil {
		c.log.ErrorContext(ctx.UserContext(), "console: render page", "page", p.Name, "err", err)
		return err
	}
	ctx.Set(fiber.HeaderContentSecurityPolicy, ContentSecurityPolicy)
	ctx.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	ctx.Set(fiber.HeaderReferrerPolicy, "same-origin")
	ctx.Set(fiber.HeaderXFrameOptions, "DENY")
	ctx.Set(fiber.HeaderCacheControl, "no-cache")
	ctx.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return ctx.Send(b)
}

// Console answers GET /agent: the ticket queue, ticket view and chats.
func (c *Console) Console(ctx *fiber.Ctx) error { return c.serve(ctx, pageConsole) }

// Admin answers GET /agent/admin: agents, tokens, hours, inboxes, canned
// responses, knowledge base and audit log. Its APIs are for admins only.
func (c *Console) Admin(ctx *fiber.Ctx) error { return c.serve(ctx, pageAdmin) }

// Reports answers GET /agent/reports.
func (c *Console) Reports(ctx *fiber.Ctx) error { return c.serve(ctx, pageReports) }

// Preview answers POST /api/kb/preview {"body": MARKDOWN} (admins only)
// with {"html": …}: the body rendered and sanitized exactly as the help
// center will show it. 400 for a body larger than an article may be.
func (c *Console) Preview(ctx *fiber.Ctx) error {
	var in struct {
		Body string `json:"body"`
	}
	if err := httpapi.DecodeJSON(ctx, &in); err != nil {
		return err
	}
	if len(in.Body) > kb.MaxBodyBytes {
		return errPreviewTooLarge
	}
	return ctx.JSON(fiber.Map{"html": c.o.Render.HTML(in.Body)})
}

// directoryEntry is what every agent may know about a colleague.
type directoryEntry struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Agents answers GET /api/agents (any signed-in agent) with {"agents":
// [{"id","name","email"}]}: the active agents, to assign tickets and
// transfer chats to. Roles and account details stay on the admin API.
func (c *Console) Agents(ctx *fiber.Ctx) error {
	as, err := c.o.Agents.ListAgents(ctx.UserContext())
	if err != nil {
		return err
	}
	out := make([]directoryEntry, 0, len(as))
	for _, a := range as {
		if a.Active {
			out = append(out, directoryEntry{ID: a.ID, Name: a.Name, Email: a.Email})
		}
	}
	ctx.Set(fiber.HeaderCacheControl, "no-store")
	return ctx.JSON(fiber.Map{"agents": out})
}

var errPreviewTooLarge = apperr.Invalid("body is larger than %d KiB", kb.MaxBodyBytes>>10)
