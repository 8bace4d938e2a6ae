package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/config"
)

// access is who may call a route.
type access int

const (
	public access = iota
	agentRoute
	adminRoute
)

// routeAccess declares every route the server registers and who may call
// it. TestRouteAuthorization fails when a route is missing here, so a new
// endpoint cannot ship without a decision about its guard.
var routeAccess = map[string]access{
	"GET /healthz":                                   public,
	"GET /readyz":                                    public,
	"GET /metrics":                                   public,
	"GET /api/status":                                public,
	"GET /api/faq/search":                            public,
	"GET /api/kb/categories":                         public,
	"GET /api/kb/articles":                           public,
	"GET /api/kb/articles/:slug":                     public,
	"POST /api/kb/articles/:slug/feedback":           public,
	"POST /api/auth/login":                           public,
	"POST /api/auth/logout":                          agentRoute,
	"GET /api/auth/me":                               agentRoute,
	"POST /api/auth/password":                        agentRoute,
	"POST /api/kb/articles":                          adminRoute,
	"PATCH /api/kb/articles/:slug":                   adminRoute,
	"DELETE /api/kb/articles/:slug":                  adminRoute,
	"GET /api/admin/agents":                          adminRoute,
	"POST /api/admin/agents":                         adminRoute,
	"PATCH /api/admin/agents/:id":                    adminRoute,
	"POST /api/admin/agents/:id/password":            adminRoute,
	"GET /api/admin/tokens":                          adminRoute,
	"POST /api/admin/tokens":                         adminRoute,
	"DELETE /api/admin/tokens/:id":                   adminRoute,
	"GET /api/admin/audit":                           adminRoute,
	"POST /api/inbound/email":                        public, // its own bearer token; see TestInboundWebhookGuard
	"GET /api/tickets":                               agentRoute,
	"GET /api/tickets/:id":                           agentRoute,
	"PATCH /api/tickets/:id":                         agentRoute,
	"POST /api/tickets/:id/replies":                  agentRoute,
	"POST /api/tickets/:id/notes":                    agentRoute,
	"POST /api/tickets/:id/viewing":                  agentRoute,
	"GET /api/tickets/:id/attachments/:attachmentId": agentRoute,
	"GET /api/tickets/:id/canned/:cid":               agentRoute,
	"GET /api/canned":                                agentRoute,
	"POST /api/canned":                               agentRoute,
	"PATCH /api/canned/:id":                          agentRoute,
	"DELETE /api/canned/:id":                         agentRoute,
	"GET /api/admin/hours":                           adminRoute,
	"PUT /api/admin/hours":                           adminRoute,
	"GET /api/admin/inboxes":                         adminRoute,
	"PUT /api/admin/inboxes/:address":                adminRoute,
	"GET /api/reports/summary":                       agentRoute,
	"GET /api/reports/summary.csv":                   agentRoute,
	"GET /api/agents":                                agentRoute,
	"POST /api/kb/preview":                           adminRoute,
	"GET /agent":                                     public, // the pages are shells; their APIs are guarded
	"GET /agent/admin":                               public,
	"GET /agent/reports":                             public,
	"GET /ws/chat":                                   public, // visitor token in the hello frame; Origin checked
	"GET /ws/agent":                                  agentRoute,
	"GET /api/chat/history":                          public, // X-Visitor-Token: that visitor's conversations only
	"GET /api/chat/conversations":                    agentRoute,
	"GET /api/chat/conversations/:id":                agentRoute,
	"POST /api/chat/attachments":                     agentRoute, // or a visitor token for the visitor's own conversation
	"GET /api/chat/attachments/:id":                  agentRoute, // likewise
	"GET /":                                          public,
	"GET /search":                                    public,
	"GET /kb/category/:slug":                         public,
	"GET /kb/:slug":                                  public,
	"GET /static/*":                                  public,
	"GET /widget.js":                                 public, // the embeddable chat widget
	"GET /demo":                                      public, // a demo shop page embedding it
}

// TestRouteAuthorization walks every registered route of the real server:
// anonymous callers get 401 on agent and admin routes, an agent gets 403 on
// admin routes, and an admin is let through everywhere.
func TestRouteAuthorization(t *testing.T) {
	ctx := context.Background()
	fs, load := config.FlagSet("serve", func(string) string { return "" }, io.Discard)
	if err := fs.Parse([]string{"--data", t.TempDir(), "--smtp-addr", "off"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := openCore(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	const pw = "correct horse battery staple 42"
	if _, err := c.auth.AddAgent(ctx, "admin@shop.example", "Ada Admin", auth.RoleAdmin, pw); err != nil {
		t.Fatal(err)
	}
	agent, err := c.auth.AddAgent(ctx, "agent@shop.example", "Al Agent", auth.RoleAgent, pw)
	if err != nil {
		t.Fatal(err)
	}
	adminToken, _, err := c.auth.CreateToken(ctx, "admin@shop.example", "walk")
	if err != nil {
		t.Fatal(err)
	}
	agentToken, _, err := c.auth.CreateToken(ctx, "agent@shop.example", "walk")
	if err != nil {
		t.Fatal(err)
	}
	_, spare, err := c.auth.CreateToken(ctx, "admin@shop.example", "spare")
	if err != nil {
		t.Fatal(err)
	}
	chatSvc, err := openChat(c)
	if err != nil {
		t.Fatal(err)
	}
	defer chatSvc.Close(ctx)
	srv, err := newServer(c, chatSvc)
	if err != nil {
		t.Fatal(err)
	}
	app := srv.App()

	params := strings.NewReplacer(":slug", "track-my-order", ":id", itoa(agent.ID), ":attachmentId", "1", ":cid", "1", ":address", "support@example.com", "*", "helpcenter/helpcenter.css")
	tokenParams := strings.NewReplacer(":id", itoa(spare.ID))
	seen := map[string]bool{}
	var keys []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == http.MethodOptions || r.Method == "CONNECT" || r.Method == "TRACE" {
			continue
		}
		key := r.Method + " " + r.Path
		if seen[key] || r.Path == "/api" || (strings.HasSuffix(r.Path, "*") && r.Path != "/static/*") {
			continue
		}
		seen[key] = true
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		want, ok := routeAccess[key]
		if !ok {
			t.Errorf("route %s is not declared in routeAccess: decide who may call it", key)
			continue
		}
		method, path, _ := strings.Cut(key, " ")
		if strings.HasPrefix(path, "/api/admin/tokens/") {
			path = tokenParams.Replace(path)
		}
		path = params.Replace(path)
		// call reports whether a guard turned the request away. A handler's
		// own 401 or 403 (a wrong password at sign-in) is not a guard's.
		call := func(token string) (denied bool, status int) {
			req := httptest.NewRequest(method, path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := app.Test(req, 10_000)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			msg := string(body)
			denied = resp.StatusCode == 401 && strings.Contains(msg, "sign in required") ||
				resp.StatusCode == 403 && strings.Contains(msg, "admins only")
			return denied, resp.StatusCode
		}
		anonDenied, anon := call("")
		agentDenied, asAgent := call(agentToken)
		adminDenied, asAdmin := call(adminToken)
		switch want {
		case public:
			if anonDenied {
				t.Errorf("%s is public but anonymous got %d", key, anon)
			}
		case agentRoute:
			if anon != 401 || !anonDenied || agentDenied || adminDenied {
				t.Errorf("%s (agent route): anonymous %d, agent %d, admin %d", key, anon, asAgent, asAdmin)
			}
		case adminRoute:
			if anon != 401 || !anonDenied || asAgent != 403 || !agentDenied || adminDenied {
				t.Errorf("%s (admin route): anonymous %d, agent %d, admin %d", key, anon, asAgent, asAdmin)
			}
		}
	}
	for key := range routeAccess {
		if !seen[key] {
			t.Errorf("routeAccess declares %s but the server has no such route", key)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
