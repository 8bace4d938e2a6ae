package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/kb"
	"github.com/printshop/helpdesk/static"
)

type fakeAgents []auth.Agent

func (f fakeAgents) ListAgents(context.Context) ([]auth.Agent, error) { return f, nil }

func testApp(t *testing.T, chat bool) *fiber.App {
	t.Helper()
	c, err := New(Options{SiteName: "Inkshop", Render: kb.NewRenderer(), Queues: []string{"Customer Service", `Quotes "&" <Sales>`}, Chat: chat,
		Agents: fakeAgents{
			{ID: 1, Name: "Ada", Email: "ada@shop.example", Role: auth.RoleAdmin, Active: true},
			{ID: 2, Name: "Gone", Email: "gone@shop.example", Role: auth.RoleAgent, Active: false},
		}})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{ErrorHandler: func(ctx *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			return ctx.Status(fe.Code).JSON(fiber.Map{"error": fe.Message})
		}
		return ctx.Status(apperr.KindOf(err).Status()).JSON(fiber.Map{"error": apperr.PublicMessage(err)})
	}})
	app.Get("/agent", c.Console)
	app.Get("/agent/admin", c.Admin)
	app.Get("/agent/reports", c.Reports)
	app.Get("/api/agents", c.Agents)
	app.Post("/api/kb/preview", c.Preview)
	srv, err := static.NewServer(static.Assets())
	if err != nil {
		t.Fatal(err)
	}
	app.Get("/static/*", srv.Handler)
	return app
}

func do(t *testing.T, app *fiber.App, method, path, body string) (int, string, map[string]string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, string(b), h
}

// TestPages checks each shell: its security headers, one versioned entry
// module that exists, no inline script or style, and escaped data.
func TestPages(t *testing.T) {
	app := testApp(t, false)
	ref := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	for _, tt := range []struct{ path, script, title string }{
		{"/agent", "agent/console.js", "Agent console"},
		{"/agent/admin", "agent/admin.js", "Admin"},
		{"/agent/reports", "agent/reports.js", "Reports"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			st, body, h := do(t, app, "GET", tt.path, "")
			if st != 200 || !strings.HasPrefix(h["Content-Type"], "text/html") {
				t.Fatalf("status %d, type %q", st, h["Content-Type"])
			}
			if h["Content-Security-Policy"] != ContentSecurityPolicy || h["X-Frame-Options"] != "DENY" || h["X-Content-Type-Options"] != "nosniff" {
				t.Errorf("headers = %v", h)
			}
			for _, bad := range []string{"unsafe-inline", "unsafe-eval"} {
				if strings.Contains(ContentSecurityPolicy, bad) {
					t.Errorf("CSP allows %s", bad)
				}
			}
			if strings.Count(body, "<script") != 1 || !strings.Contains(body, `<script type="module" src="/static/`+tt.script+`?v=`) {
				t.Errorf("want exactly one versioned entry module %s:\n%s", tt.script, body)
			}
			if strings.Contains(body, "style=") || strings.Contains(body, "<style") {
				t.Error("inline style in the shell")
			}
			if !strings.Contains(body, "<title>"+tt.title+" · Inkshop Helpdesk</title>") {
				t.Errorf("title missing: %s", body)
			}
			if !strings.Contains(body, `data-queues="[&#34;Customer Service&#34;,&#34;Quotes \&#34;\u0026\&#34; \u003cSales\u003e&#34;]"`) {
				t.Errorf("queues not escaped into the attribute: %s", body)
			}
			if strings.Contains(body, "data-chat") {
				t.Error("chat panel announced without chat")
			}
			for _, m := range ref.FindAllStringSubmatch(body, -1) {
				if st, _, _ := do(t, app, "GET", strings.ReplaceAll(m[1], "&amp;", "&"), ""); st != 200 {
					t.Errorf("%s links %s, which answers %d", tt.path, m[1], st)
				}
			}
		})
	}
	if _, body, _ := do(t, testApp(t, true), "GET", "/agent", ""); !strings.Contains(body, `data-chat="on"`) {
		t.Error("chat panel not announced with chat")
	}
}

// TestModulesResolve follows every relative import of the agent modules,
// so that a renamed module cannot break a page.
func TestModulesResolve(t *testing.T) {
	app := testApp(t, false)
	imp := regexp.MustCompile(`(?:from|import\()\s*'\./([a-z]+\.js)'`)
	seen := map[string]bool{}
	queue := []string{"console.js", "admin.js", "reports.js", "chats.js"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		st, body, h := do(t, app, "GET", "/static/agent/"+name, "")
		if st != 200 || h["Content-Type"] != "text/javascript; charset=utf-8" {
			t.Errorf("%s: status %d, type %q", name, st, h["Content-Type"])
			continue
		}
		if strings.Contains(body, "innerHTML") || strings.Contains(body, "insertAdjacentHTML") || strings.Contains(body, "document.write") {
			t.Errorf("%s assigns HTML; build elements with dom.js instead", name)
		}
		for _, m := range imp.FindAllStringSubmatch(body, -1) {
			queue = append(queue, m[1])
		}
	}
	for _, want := range []string{"api.js", "dom.js", "shell.js", "frame.js", "charts.js"} {
		if !seen[want] {
			t.Errorf("%s is never imported", want)
		}
	}
}

func TestPreview(t *testing.T) {
	app := testApp(t, false)
	st, body, _ := do(t, app, "POST", "/api/kb/preview", `{"body":"Hello **there**\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))"}`)
	var out struct{ HTML string }
	if err := json.Unmarshal([]byte(body), &out); st != 200 || err != nil {
		t.Fatalf("preview = %d %s", st, body)
	}
	if !strings.Contains(out.HTML, "<strong>there</strong>") {
		t.Errorf("html = %q", out.HTML)
	}
	for _, bad := range []string{"<script", "javascript:"} {
		if strings.Contains(out.HTML, bad) {
			t.Errorf("preview kept %s: %q", bad, out.HTML)
		}
	}
	if st, body, _ := do(t, app, "POST", "/api/kb/preview", `{"body":"`+strings.Repeat("x", kb.MaxBodyBytes+1)+`"}`); st != 400 || !strings.Contains(body, "larger than") {
		t.Errorf("large body = %d %s", st, body)
	}
	if st, _, _ := do(t, app, "POST", "/api/kb/preview", `{"text":"x"}`); st != 400 {
		t.Errorf("unknown field = %d", st)
	}
}

func TestAgentsDirectory(t *testing.T) {
	st, body, _ := do(t, testApp(t, false), "GET", "/api/agents", "")
	if st != 200 || body != `{"agents":[{"id":1,"name":"Ada","email":"ada@shop.example"}]}` {
		t.Errorf("agents = %d %s (want active agents only, without roles)", st, body)
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without Render and Agents succeeded")
	}
}
