package auth

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLoginCookie(t *testing.T) {
	tests := []struct {
		name       string
		secure     bool
		wantName   string
		wantSecure bool
	}{
		{"http", false, "helpdesk_session", false},
		{"https", true, "__Host-helpdesk_session", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.SecureCookies = tt.secure })
			a := e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
			r := e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "Ann@Example.com", "password": agentPassword}})
			wantStatus(t, "login", r, 200)
			var c *http.Cookie
			for _, x := range r.cookies {
				if x.Name == tt.wantName {
					c = x
				}
			}
			if c == nil {
				t.Fatalf("no %s cookie in %v", tt.wantName, r.cookies)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tt.wantSecure || c.Domain != "" {
				t.Fatalf("cookie = %+v", c)
			}
			if len(c.Value) < 22 { // 128 bits in base64
				t.Fatalf("cookie value %q is too short", c.Value)
			}
			if c.MaxAge < int((6 * 24 * time.Hour).Seconds()) {
				t.Fatalf("cookie Max-Age = %d, want about 7 days", c.MaxAge)
			}
			agent, _ := r.body["agent"].(map[string]any)
			if agent["id"] != float64(a.ID) || agent["email"] != "ann@example.com" || agent["role"] != "agent" ||
				agent["active"] != true || agent["name"] != "Ann" || agent["created_at"] == nil || len(agent) != 6 {
				t.Fatalf("agent JSON = %v", agent)
			}
			if r.body["csrf_token"] == "" {
				t.Fatal("no csrf_token")
			}
			me := e.do(request{method: "GET", path: "/api/auth/me", cookie: c.Value})
			wantStatus(t, "me", me, 200)
			if me.body["csrf_token"] != r.body["csrf_token"] {
				t.Fatalf("me csrf_token %v != login csrf_token %v", me.body["csrf_token"], r.body["csrf_token"])
			}
		})
	}
}

func TestSecureCookiesFor(t *testing.T) {
	for url, want := range map[string]bool{
		"https://help.example.com": true,
		"HTTPS://help.example.com": true,
		"http://localhost:8080":    false,
		"":                         false,
	} {
		if got := SecureCookiesFor(url); got != want {
			t.Errorf("SecureCookiesFor(%q) = %v, want %v", url, got, want)
		}
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	e.addAgent("gone@example.com", "Gone", RoleAgent, agentPassword)
	gone, _ := e.svc.AgentByEmail(context.Background(), "gone@example.com")
	e.addAgent("root@example.com", "Root", RoleAdmin, adminPassword)
	if _, err := e.svc.Deactivate(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, password string
	}{
		{"wrong password", "ann@example.com", "wrong-password-here"},
		{"unknown email", "nobody@example.com", agentPassword},
		{"deactivated", "gone@example.com", agentPassword},
		{"malformed email", "not an email", agentPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": tt.email, "password": tt.password}})
			wantStatus(t, "login", r, 401)
			if r.raw != `{"error":"invalid email or password"}` {
				t.Fatalf("body = %s", r.raw)
			}
			if len(r.cookies) != 0 {
				t.Fatalf("cookies set: %v", r.cookies)
			}
		})
	}
	r := e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "ann@example.com"}})
	wantStatus(t, "no password", r, 401)
	r = e.do(request{method: "POST", path: "/api/auth/login", body: map[string]any{"email": "ann@example.com", "password": agentPassword, "remember": true}})
	wantStatus(t, "unknown field", r, 400)
}

func TestLockoutHTTP(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	for i := range DefaultMaxFailures - 1 {
		r := e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "ann@example.com", "password": "wrong-password-here"}})
		wantStatus(t, fmt.Sprint("attempt ", i+1), r, 401)
	}
	var bodies []string
	for _, pw := range []string{"wrong-password-here", agentPassword} {
		r := e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "ann@example.com", "password": pw}})
		wantStatus(t, "locked", r, 429)
		bodies = append(bodies, r.raw)
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("locked answers differ with the right password: %s vs %s", bodies[0], bodies[1])
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	// Spread over many emails so that the account lockout does not answer first.
	for i := range DefaultLoginPerMinute {
		r := e.do(request{method: "POST", path: "/api/auth/login", ip: "203.0.113.5",
			body: map[string]string{"email": fmt.Sprintf("user%d@example.com", i), "password": "wrong-password-here"}})
		wantStatus(t, fmt.Sprint("attempt ", i+1), r, 401)
	}
	r := e.do(request{method: "POST", path: "/api/auth/login", ip: "203.0.113.5",
		body: map[string]string{"email": "ann@example.com", "password": agentPassword}})
	wantStatus(t, "over the limit", r, 429)
	// Another client is not affected.
	r = e.do(request{method: "POST", path: "/api/auth/login", ip: "203.0.113.6",
		body: map[string]string{"email": "ann@example.com", "password": agentPassword}})
	wantStatus(t, "other client", r, 200)
	// The limit refills.
	e.clock.Advance(time.Minute)
	r = e.do(request{method: "POST", path: "/api/auth/login", ip: "203.0.113.5",
		body: map[string]string{"email": "ann@example.com", "password": agentPassword}})
	wantStatus(t, "after a minute", r, 200)
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	cookie, csrf := e.login("ann@example.com", agentPassword)
	tests := []struct {
		name   string
		req    request
		status int
	}{
		{"GET needs no token", request{method: "GET", path: "/api/auth/me", cookie: cookie}, 200},
		{"POST without token", request{method: "POST", path: "/api/tickets/1/notes", cookie: cookie}, 403},
		{"POST with wrong token", request{method: "POST", path: "/api/tickets/1/notes", cookie: cookie, csrf: csrf[:len(csrf)-1] + "x"}, 403},
		{"POST with token", request{method: "POST", path: "/api/tickets/1/notes", cookie: cookie, csrf: csrf}, 200},
		{"anonymous POST", request{method: "POST", path: "/api/tickets/1/notes", csrf: csrf}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.req)
			wantStatus(t, tt.name, r, tt.status)
			if tt.status == 403 && r.body["error"] != "missing or invalid X-CSRF-Token header" {
				t.Fatalf("body = %s", r.raw)
			}
			if tt.status == 200 && tt.req.method == "POST" && r.body["by"] != "ann@example.com" {
				t.Fatalf("acting agent = %v", r.body["by"])
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("root@example.com", "Root", RoleAdmin, adminPassword)
	e.addAgent("bob@example.com", "Bob", RoleAgent, agentPassword)
	plain, _, err := e.svc.CreateToken(context.Background(), "bob@example.com", "script")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		req    request
		status int
	}{
		{"POST without CSRF", request{method: "POST", path: "/api/tickets/1/notes", bearer: plain}, 200},
		{"me", request{method: "GET", path: "/api/auth/me", bearer: plain}, 200},
		{"not an admin", request{method: "GET", path: "/api/admin/agents", bearer: plain}, 403},
		{"wrong token", request{method: "POST", path: "/api/tickets/1/notes", bearer: plain + "x"}, 401},
		{"foreign bearer is anonymous", request{method: "POST", path: "/api/tickets/1/notes", bearer: "inbound-secret"}, 401},
		{"bad token on a public route", request{method: "GET", path: "/public", bearer: "hd_nope"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.req)
			wantStatus(t, tt.name, r, tt.status)
		})
	}
	r := e.do(request{method: "GET", path: "/api/auth/me", bearer: plain})
	if r.body["csrf_token"] != "" {
		t.Fatalf("csrf_token for a bearer request = %v", r.body["csrf_token"])
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	cookie, csrf := e.login("ann@example.com", agentPassword)
	other, _ := e.login("ann@example.com", agentPassword)

	wantStatus(t, "logout without CSRF", e.do(request{method: "POST", path: "/api/auth/logout", cookie: cookie}), 403)
	r := e.do(request{method: "POST", path: "/api/auth/logout", cookie: cookie, csrf: csrf})
	wantStatus(t, "logout", r, 204)
	cleared := false
	for _, c := range r.cookies {
		cleared = cleared || (c.Name == e.h.CookieName() && c.Value == "" && c.Expires.Before(time.Unix(1, 0)))
	}
	if !cleared {
		t.Fatalf("cookie not cleared: %v", r.cookies)
	}
	wantStatus(t, "me after logout", e.do(request{method: "GET", path: "/api/auth/me", cookie: cookie}), 401)
	// A stale cookie does not break public routes.
	r = e.do(request{method: "GET", path: "/public", cookie: cookie})
	wantStatus(t, "public with stale cookie", r, 200)
	if r.body["signed_in"] != false {
		t.Fatalf("public route sees an agent: %s", r.raw)
	}
	wantStatus(t, "other session", e.do(request{method: "GET", path: "/api/auth/me", cookie: other}), 200)
	if n := e.auditCount(ActionLogout); n != 1 {
		t.Fatalf("logout entries = %d", n)
	}
}

func TestChangePasswordHTTP(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	cookie, csrf := e.login("ann@example.com", agentPassword)
	other, _ := e.login("ann@example.com", agentPassword)
	const next = "a whole new passphrase"

	r := e.do(request{method: "POST", path: "/api/auth/password", cookie: cookie, csrf: csrf,
		body: map[string]string{"current_password": "wrong-password-here", "new_password": next}})
	wantStatus(t, "wrong current", r, 403)
	r = e.do(request{method: "POST", path: "/api/auth/password", cookie: cookie, csrf: csrf,
		body: map[string]string{"current_password": agentPassword, "new_password": "short"}})
	wantStatus(t, "weak new", r, 400)
	if !strings.Contains(r.body["error"].(string), "at least 12 characters") {
		t.Fatalf("error = %v", r.body["error"])
	}
	r = e.do(request{method: "POST", path: "/api/auth/password", cookie: cookie, csrf: csrf,
		body: map[string]string{"current_password": agentPassword, "new_password": next}})
	wantStatus(t, "change", r, 204)
	wantStatus(t, "same session", e.do(request{method: "GET", path: "/api/auth/me", cookie: cookie}), 200)
	wantStatus(t, "other session", e.do(request{method: "GET", path: "/api/auth/me", cookie: other}), 401)
	e.login("ann@example.com", next)
}

func TestAdminRoutes(t *testing.T) {
	e := newEnv(t, nil)
	root := e.addAgent("root@example.com", "Root", RoleAdmin, adminPassword)
	e.addAgent("bob@example.com", "Bob", RoleAgent, agentPassword)
	cookie, csrf := e.login("root@example.com", adminPassword)
	bobCookie, bobCSRF := e.login("bob@example.com", agentPassword)
	admin := func(method, path string, body any) response {
		return e.do(request{method: method, path: path, body: body, cookie: cookie, csrf: csrf})
	}

	wantStatus(t, "anonymous", e.do(request{method: "GET", path: "/api/admin/agents"}), 401)
	wantStatus(t, "non-admin", e.do(request{method: "GET", path: "/api/admin/agents", cookie: bobCookie}), 403)
	wantStatus(t, "non-admin POST", e.do(request{method: "POST", path: "/api/admin/agents", cookie: bobCookie, csrf: bobCSRF,
		body: map[string]string{"email": "x@example.com", "name": "X", "password": agentPassword}}), 403)

	r := admin("GET", "/api/admin/agents", nil)
	wantStatus(t, "list", r, 200)
	if list, _ := r.body["agents"].([]any); len(list) != 2 {
		t.Fatalf("agents = %s", r.raw)
	}

	r = admin("POST", "/api/admin/agents", map[string]string{"email": "Cy@Example.com", "name": "Cy", "role": "agent", "password": agentPassword})
	wantStatus(t, "add", r, 201)
	cyID := int64(r.body["id"].(float64))
	if r.body["email"] != "cy@example.com" {
		t.Fatalf("added = %s", r.raw)
	}
	r = admin("POST", "/api/admin/agents", map[string]string{"email": "CY@example.com", "name": "Cy", "role": "agent", "password": agentPassword})
	wantStatus(t, "add duplicate", r, 409)
	r = admin("POST", "/api/admin/agents", map[string]string{"email": "dee@example.com", "name": "Dee", "role": "agent", "password": "qwertyuiop123"})
	wantStatus(t, "add weak", r, 400)

	r = admin("PATCH", fmt.Sprintf("/api/admin/agents/%d", cyID), map[string]any{"role": "admin", "name": "Cy Young"})
	wantStatus(t, "patch", r, 200)
	if r.body["role"] != "admin" || r.body["name"] != "Cy Young" {
		t.Fatalf("patched = %s", r.raw)
	}
	r = admin("PATCH", fmt.Sprintf("/api/admin/agents/%d", cyID), map[string]any{"role": "boss"})
	wantStatus(t, "patch bad role", r, 400)
	wantStatus(t, "patch unknown", admin("PATCH", "/api/admin/agents/999", map[string]any{"active": false}), 404)
	wantStatus(t, "patch bad id", admin("PATCH", "/api/admin/agents/abc", map[string]any{"active": false}), 404)

	// Cy is an admin now, so root may step down; then Cy is the last admin.
	r = admin("PATCH", fmt.Sprintf("/api/admin/agents/%d", cyID), map[string]any{"active": false})
	wantStatus(t, "deactivate cy", r, 200)
	r = admin("PATCH", fmt.Sprintf("/api/admin/agents/%d", root.ID), map[string]any{"role": "agent"})
	wantStatus(t, "last admin demotes self", r, 409)
	if r.body["error"] != "this is the last active admin; make another agent an admin first" {
		t.Fatalf("409 body = %s", r.raw)
	}
	wantStatus(t, "last admin deactivates self", admin("PATCH", fmt.Sprintf("/api/admin/agents/%d", root.ID), map[string]any{"active": false}), 409)

	r = admin("POST", fmt.Sprintf("/api/admin/agents/%d/password", cyID), map[string]string{"password": "short"})
	wantStatus(t, "reset weak", r, 400)
	bob, _ := e.svc.AgentByEmail(context.Background(), "bob@example.com")
	r = admin("POST", fmt.Sprintf("/api/admin/agents/%d/password", bob.ID), map[string]string{"password": "reset-by-the-admin"})
	wantStatus(t, "reset", r, 204)
	wantStatus(t, "bob's session after reset", e.do(request{method: "GET", path: "/api/auth/me", cookie: bobCookie}), 401)
	e.login("bob@example.com", "reset-by-the-admin")
	wantStatus(t, "admin still signed in", admin("GET", "/api/auth/me", nil), 200)
}

func TestAdminTokenRoutes(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("root@example.com", "Root", RoleAdmin, adminPassword)
	bob := e.addAgent("bob@example.com", "Bob", RoleAgent, agentPassword)
	cookie, csrf := e.login("root@example.com", adminPassword)
	admin := func(method, path string, body any) response {
		return e.do(request{method: method, path: path, body: body, cookie: cookie, csrf: csrf})
	}

	r := admin("POST", "/api/admin/tokens", map[string]any{"agent_id": bob.ID, "name": "deploy"})
	wantStatus(t, "create by id", r, 201)
	plain := r.body["token"].(string)
	info := r.body["info"].(map[string]any)
	if !strings.HasPrefix(plain, "hd_") || info["agent_email"] != "bob@example.com" || info["name"] != "deploy" {
		t.Fatalf("created = %s", r.raw)
	}
	r = admin("POST", "/api/admin/tokens", map[string]any{"agent_email": "BOB@example.com", "name": "backup"})
	wantStatus(t, "create by email", r, 201)
	wantStatus(t, "duplicate name", admin("POST", "/api/admin/tokens", map[string]any{"agent_id": bob.ID, "name": "deploy"}), 409)
	wantStatus(t, "no agent", admin("POST", "/api/admin/tokens", map[string]any{"name": "x"}), 400)
	wantStatus(t, "both", admin("POST", "/api/admin/tokens", map[string]any{"agent_id": bob.ID, "agent_email": "bob@example.com", "name": "x"}), 400)
	wantStatus(t, "unknown agent", admin("POST", "/api/admin/tokens", map[string]any{"agent_id": 999, "name": "x"}), 404)

	wantStatus(t, "use", e.do(request{method: "POST", path: "/api/tickets/1/notes", bearer: plain}), 200)

	r = admin("GET", "/api/admin/tokens", nil)
	wantStatus(t, "list", r, 200)
	if strings.Contains(r.raw, plain) || strings.Contains(r.raw, plain[10:]) {
		t.Fatal("token list shows the token")
	}
	tokens := r.body["tokens"].([]any)
	if len(tokens) != 2 {
		t.Fatalf("tokens = %s", r.raw)
	}
	id := int64(info["id"].(float64))
	wantStatus(t, "revoke", admin("DELETE", fmt.Sprintf("/api/admin/tokens/%d", id), nil), 204)
	wantStatus(t, "revoke unknown", admin("DELETE", "/api/admin/tokens/999", nil), 404)
	wantStatus(t, "use revoked", e.do(request{method: "POST", path: "/api/tickets/1/notes", bearer: plain}), 401)
}

func TestAuditRoute(t *testing.T) {
	e := newEnv(t, nil)
	e.addAgent("root@example.com", "Root", RoleAdmin, adminPassword)
	e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "root@example.com", "password": "wrong-password-here"}})
	cookie, _ := e.login("root@example.com", adminPassword)

	r := e.do(request{method: "GET", path: "/api/admin/audit?limit=2", cookie: cookie})
	wantStatus(t, "page 1", r, 200)
	entries := r.body["entries"].([]any)
	next := r.body["next_cursor"].(string)
	if len(entries) != 2 || next == "" {
		t.Fatalf("page 1 = %s", r.raw)
	}
	newest := entries[0].(map[string]any)
	if newest["action"] != ActionLoginOK || newest["client_ip"] != "192.0.2.10" || newest["actor_email"] != "root@example.com" {
		t.Fatalf("newest = %v", newest)
	}
	if failed := entries[1].(map[string]any); failed["action"] != ActionLoginFailed || failed["actor_id"] != nil || failed["target"] != "root@example.com" {
		t.Fatalf("second = %v", failed)
	}
	r = e.do(request{method: "GET", path: "/api/admin/audit?limit=2&cursor=" + next, cookie: cookie})
	wantStatus(t, "page 2", r, 200)
	if entries := r.body["entries"].([]any); len(entries) != 1 || r.body["next_cursor"] != "" {
		t.Fatalf("page 2 = %s", r.raw)
	}
	wantStatus(t, "bad cursor", e.do(request{method: "GET", path: "/api/admin/audit?cursor=x", cookie: cookie}), 400)
	wantStatus(t, "bad limit", e.do(request{method: "GET", path: "/api/admin/audit?limit=-1", cookie: cookie}), 400)
}

// TestNoSecretsInLogs runs the flows that handle secrets with a debug-level
// JSON logger and checks that none of the secrets reach the log.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.addAgent("root@example.com", "Root", RoleAdmin, adminPassword)
	e.addAgent("bob@example.com", "Bob", RoleAgent, agentPassword)
	const wrongPassword = "Sup3r-Secret-Wrong-Guess"

	r := e.do(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "bob@example.com", "password": wrongPassword}})
	wantStatus(t, "failed login", r, 401)
	cookie, csrf := e.login("root@example.com", adminPassword)
	r = e.do(request{method: "POST", path: "/api/admin/tokens", cookie: cookie, csrf: csrf, body: map[string]any{"agent_email": "bob@example.com", "name": "ci"}})
	wantStatus(t, "create token", r, 201)
	apiToken := r.body["token"].(string)
	plainCLI, _, err := e.svc.CreateToken(ctx, "bob@example.com", "cli")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "use token", e.do(request{method: "POST", path: "/api/tickets/1/notes", bearer: apiToken}), 200)
	wantStatus(t, "use cli token", e.do(request{method: "GET", path: "/api/auth/me", bearer: plainCLI}), 200)
	wantStatus(t, "logout", e.do(request{method: "POST", path: "/api/auth/logout", cookie: cookie, csrf: csrf}), 204)
	// A whole Session logged by mistake shows no secret either.
	sess, err := e.svc.Login(ctx, "bob@example.com", agentPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.log.Info("oops", "session", sess)

	logs := e.logs.String()
	if !strings.Contains(logs, "auth: login ok") || !strings.Contains(logs, "auth: login failed") || !strings.Contains(logs, "auth: token created") || !strings.Contains(logs, "auth: logout") {
		t.Fatalf("expected events missing from the log:\n%s", logs)
	}
	secrets := map[string]string{
		"admin password":   adminPassword,
		"agent password":   agentPassword,
		"wrong password":   wrongPassword,
		"session cookie":   cookie,
		"csrf token":       csrf,
		"api token":        apiToken,
		"api token secret": apiToken[len(TokenPrefix):],
		"cli token":        plainCLI,
		"session token":    sess.Token,
		"session csrf":     sess.CSRFToken,
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", name)
		}
	}
	// Nor does the audit log.
	rows, err := e.db.R.Query(`SELECT target || ' ' || detail FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		for name, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("audit entry %q contains the %s", s, name)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
