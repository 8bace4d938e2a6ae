package tickets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
)

// testApp wires the handlers the way internal/server does, with a stand-in
// for the auth middleware: the agent whose id is in X-Test-Agent acts.
func testApp(e *env, token string, agents ...auth.Agent) *fiber.App {
	app := fiber.New(fiber.Config{
		BodyLimit: 26 << 20,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			status, msg := http.StatusInternalServerError, "internal error"
			var fe *fiber.Error
			if errors.As(err, &fe) {
				status, msg = fe.Code, fe.Message
			} else {
				status, msg = apperr.KindOf(err).Status(), apperr.PublicMessage(err)
			}
			return c.Status(status).JSON(fiber.Map{"error": msg})
		},
	})
	h := NewHandlers(e.svc)
	byID := map[string]auth.Agent{}
	for _, a := range agents {
		byID[strconv.FormatInt(a.ID, 10)] = a
	}
	signedIn := func(c *fiber.Ctx) error {
		a, ok := byID[c.Get("X-Test-Agent")]
		if !ok {
			return auth.ErrUnauthenticated
		}
		c.SetUserContext(auth.NewContext(c.UserContext(), a))
		return c.Next()
	}
	api := app.Group("/api")
	api.Post("/inbound/email", InboundGuard(token), h.InboundEmail)
	api.Get("/tickets", signedIn, h.List)
	api.Get("/tickets/:id", signedIn, h.Get)
	api.Patch("/tickets/:id", signedIn, h.Patch)
	api.Post("/tickets/:id/replies", signedIn, h.Reply)
	api.Post("/tickets/:id/notes", signedIn, h.Note)
	api.Post("/tickets/:id/viewing", signedIn, h.Viewing)
	api.Get("/tickets/:id/attachments/:attachmentId", signedIn, h.Attachment)
	api.Get("/tickets/:id/canned/:cid", signedIn, h.CannedRender)
	api.Get("/canned", signedIn, h.CannedList)
	api.Post("/canned", signedIn, h.CannedCreate)
	api.Patch("/canned/:id", signedIn, h.CannedUpdate)
	api.Delete("/canned/:id", signedIn, h.CannedDelete)
	return app
}

type call struct {
	method, path string
	agent        int64
	body         string
	header       map[string]string
}

func do(t *testing.T, app *fiber.App, c call) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, body)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.agent != 0 {
		req.Header.Set("X-Test-Agent", strconv.FormatInt(c.agent, 10))
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("response %q is not a JSON object: %v", b, err)
	}
	return m
}

func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

func TestHTTPTicketAPI(t *testing.T) {
	e := newEnv(t)
	bob := e.agent("bob@example.com", "Bob")
	cy := e.agent("cy@example.com", "Cy")
	app := testApp(e, "", bob, cy)
	res := e.ingest(testMail{From: "ann@customer.example", FromName: "Ann", Subject: "API", MessageID: "api1@x"})
	id := strconv.FormatInt(res.TicketID, 10)

	// Not signed in.
	if resp, _ := do(t, app, call{method: "GET", path: "/api/tickets"}); resp.StatusCode != 401 {
		t.Errorf("anonymous list: %d", resp.StatusCode)
	}

	resp, b := do(t, app, call{method: "GET", path: "/api/tickets?queue=Customer%20Service&status=new,open&limit=10", agent: bob.ID})
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	list := decode(t, b)
	hasKeys(t, "list", list, "tickets", "next_cursor")
	tickets := list["tickets"].([]any)
	if len(tickets) != 1 {
		t.Fatalf("tickets = %v", tickets)
	}
	tk := tickets[0].(map[string]any)
	hasKeys(t, "ticket", tk, "id", "subject", "status", "queue", "priority", "requester", "assignee", "created_at", "updated_at", "tags", "sla_due_at", "first_response_at")
	if tk["id"].(float64) != float64(res.TicketID) || tk["assignee"] != nil || tk["status"] != "new" {
		t.Errorf("ticket = %v", tk)
	}
	if r := tk["requester"].(map[string]any); r["email"] != "ann@customer.example" || r["name"] != "Ann" {
		t.Errorf("requester = %v", r)
	}

	// Cy is replying; Bob opens the ticket and sees it.
	if resp, b := do(t, app, call{method: "POST", path: "/api/tickets/" + id + "/viewing", agent: cy.ID, body: `{"activity":"replying"}`}); resp.StatusCode != 200 {
		t.Fatalf("viewing: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, app, call{method: "GET", path: "/api/tickets/" + id, agent: bob.ID})
	if resp.StatusCode != 200 {
		t.Fatalf("get: %d %s", resp.StatusCode, b)
	}
	d := decode(t, b)
	hasKeys(t, "ticket", d, "id", "subject", "status", "messages", "viewers", "participants")
	msgs := d["messages"].([]any)
	m0 := msgs[0].(map[string]any)
	hasKeys(t, "message", m0, "id", "kind", "from", "text", "html", "attachments", "created_at")
	if m0["kind"] != "inbound" {
		t.Errorf("kind = %v", m0["kind"])
	}
	vs := d["viewers"].([]any)
	if len(vs) != 1 || vs[0].(map[string]any)["agent_id"].(float64) != float64(cy.ID) || vs[0].(map[string]any)["activity"] != "replying" {
		t.Errorf("viewers = %v", vs)
	}
	hasKeys(t, "viewer", vs[0].(map[string]any), "agent_id", "name", "activity", "since")

	tests := []struct {
		name   string
		c      call
		status int
		check  func(map[string]any)
	}{
		{"patch", call{method: "PATCH", path: "/api/tickets/" + id, body: `{"status":"open","priority":"urgent","assignee":"cy@example.com","tags":["Billing"]}`}, 200,
			func(m map[string]any) {
				if m["status"] != "open" || m["priority"] != "urgent" || m["assignee"].(map[string]any)["name"] != "Cy" || m["tags"].([]any)[0] != "billing" {
					t.Errorf("patched = %v", m)
				}
			}},
		{"patch assignee by id", call{method: "PATCH", path: "/api/tickets/" + id, body: fmt.Sprintf(`{"assignee":%d}`, bob.ID)}, 200, nil},
		{"patch unassign", call{method: "PATCH", path: "/api/tickets/" + id, body: `{"assignee":null}`}, 200,
			func(m map[string]any) {
				if m["assignee"] != nil {
					t.Errorf("assignee = %v", m["assignee"])
				}
			}},
		{"patch bad status", call{method: "PATCH", path: "/api/tickets/" + id, body: `{"status":"done"}`}, 400, nil},
		{"patch to new", call{method: "PATCH", path: "/api/tickets/" + id, body: `{"status":"new"}`}, 409, nil},
		{"patch bad assignee", call{method: "PATCH", path: "/api/tickets/" + id, body: `{"assignee":true}`}, 400, nil},
		{"patch unknown field", call{method: "PATCH", path: "/api/tickets/" + id, body: `{"colour":"red"}`}, 400, nil},
		{"patch nothing", call{method: "PATCH", path: "/api/tickets/" + id, body: `{}`}, 400, nil},
		{"patch missing ticket", call{method: "PATCH", path: "/api/tickets/999999", body: `{"status":"open"}`}, 404, nil},
		{"get bad id", call{method: "GET", path: "/api/tickets/abc"}, 404, nil},
		{"note", call{method: "POST", path: "/api/tickets/" + id + "/notes", body: `{"text":"internal"}`}, 201,
			func(m map[string]any) {
				if m["kind"] != "note" {
					t.Errorf("note = %v", m)
				}
			}},
		{"empty note", call{method: "POST", path: "/api/tickets/" + id + "/notes", body: `{"text":""}`}, 400, nil},
		{"reply", call{method: "POST", path: "/api/tickets/" + id + "/replies", body: `{"text":"On it.","cc":["dee@customer.example"]}`}, 201,
			func(m map[string]any) {
				if m["kind"] != "outbound" || m["delivery"] != "queued" {
					t.Errorf("reply = %v", m)
				}
			}},
		{"reply too long", call{method: "POST", path: "/api/tickets/" + id + "/replies", body: `{"text":"` + strings.Repeat("x", MaxTextBytes+1) + `"}`}, 400, nil},
		{"reply not json", call{method: "POST", path: "/api/tickets/" + id + "/replies", body: `text=hi`}, 400, nil},
		{"viewing bad activity", call{method: "POST", path: "/api/tickets/" + id + "/viewing", body: `{"activity":"typing"}`}, 400, nil},
		{"list bad status", call{method: "GET", path: "/api/tickets?status=new,lost"}, 400, nil},
		{"list bad limit", call{method: "GET", path: "/api/tickets?limit=x"}, 400, nil},
		{"list bad cursor", call{method: "GET", path: "/api/tickets?cursor=zzz"}, 400, nil},
		{"list mine", call{method: "GET", path: "/api/tickets?mine=1"}, 200, nil},
		{"list sla", call{method: "GET", path: "/api/tickets?sort=sla_due&unassigned=1&tag=billing&q=api"}, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.agent = bob.ID
			resp, b := do(t, app, tt.c)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			m := decode(t, b)
			if resp.StatusCode >= 400 {
				if msg, _ := m["error"].(string); msg == "" {
					t.Errorf("error body = %s", b)
				}
				return
			}
			if tt.check != nil {
				tt.check(m)
			}
		})
	}

	// Canned responses over HTTP.
	resp, b = do(t, app, call{method: "POST", path: "/api/canned", agent: bob.ID, body: `{"title":"Hi","body":"Hello {{customer_name}}, #{{ticket_id}}"}`})
	if resp.StatusCode != 201 {
		t.Fatalf("create canned: %d %s", resp.StatusCode, b)
	}
	cid := strconv.FormatFloat(decode(t, b)["id"].(float64), 'f', 0, 64)
	resp, b = do(t, app, call{method: "GET", path: "/api/tickets/" + id + "/canned/" + cid, agent: bob.ID})
	if want := fmt.Sprintf("Hello Ann, #%s", id); resp.StatusCode != 200 || decode(t, b)["text"] != want {
		t.Errorf("render: %d %s, want %q", resp.StatusCode, b, want)
	}
	if resp, b = do(t, app, call{method: "PATCH", path: "/api/canned/" + cid, agent: bob.ID, body: `{"title":"Hello"}`}); resp.StatusCode != 200 {
		t.Errorf("update canned: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, app, call{method: "GET", path: "/api/canned", agent: bob.ID})
	if l := decode(t, b)["canned"].([]any); resp.StatusCode != 200 || len(l) != 1 || l[0].(map[string]any)["title"] != "Hello" {
		t.Errorf("list canned: %s", b)
	}
	if resp, b = do(t, app, call{method: "POST", path: "/api/tickets/" + id + "/replies", agent: bob.ID, body: `{"canned_id":` + cid + `}`}); resp.StatusCode != 201 {
		t.Errorf("reply with canned: %d %s", resp.StatusCode, b)
	}
	if resp, _ = do(t, app, call{method: "DELETE", path: "/api/canned/" + cid, agent: bob.ID}); resp.StatusCode != 204 {
		t.Errorf("delete canned: %d", resp.StatusCode)
	}
	if resp, _ = do(t, app, call{method: "DELETE", path: "/api/canned/" + cid, agent: bob.ID}); resp.StatusCode != 404 {
		t.Errorf("delete canned again: %d", resp.StatusCode)
	}
}

func TestHTTPAttachmentHeaders(t *testing.T) {
	e := newEnv(t)
	bob := e.agent("bob@example.com", "Bob")
	app := testApp(e, "", bob)
	part := func(ctype, name, body string) string {
		return "--XX\r\nContent-Type: " + ctype + "\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n\r\n" + body + "\r\n"
	}
	raw := "From: ann@customer.example\r\nTo: support@example.com\r\nSubject: Files\r\nMessage-ID: <files1@x>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain\r\n\r\nFiles attached.\r\n" +
		part("image/svg+xml", "logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`) +
		part("text/html", "page.html", "<script>alert(document.cookie)</script>") +
		part("text/plain", "notes résumé.txt", "plain notes") +
		"--XX--\r\n"
	res := e.ingest(testMail{Raw: []byte(raw)})
	d := e.ticket(res.TicketID)
	atts := d.Messages[0].Attachments
	if len(atts) != 3 {
		t.Fatalf("attachments = %+v", atts)
	}
	tests := []struct {
		name     string
		att      Attachment
		wantType string
		wantBody string
	}{
		{"svg is not served as an image", atts[0], "application/octet-stream", "<script>alert(1)</script>"},
		{"html is not served as a page", atts[1], "application/octet-stream", "alert(document.cookie)"},
		{"text keeps its type", atts[2], "text/plain; charset=utf-8", "plain notes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := do(t, app, call{method: "GET", path: tt.att.URL, agent: bob.ID})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			cd := resp.Header.Get("Content-Disposition")
			if !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "filename=") {
				t.Errorf("Content-Disposition = %q", cd)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
			if !bytes.Contains(b, []byte(tt.wantBody)) {
				t.Errorf("body = %q", b)
			}
		})
	}
	if cd := contentDisposition("notes résumé.txt"); cd != `attachment; filename="notes r_sum_.txt"; filename*=UTF-8''notes%20r%C3%A9sum%C3%A9.txt` {
		t.Errorf("contentDisposition = %s", cd)
	}
	// An attachment asked for under another ticket does not exist.
	other := e.ingest(testMail{From: "bo@customer.example", Subject: "Other", MessageID: "oth1@x"})
	if resp, _ := do(t, app, call{method: "GET", path: fmt.Sprintf("/api/tickets/%d/attachments/%d", other.TicketID, atts[0].ID), agent: bob.ID}); resp.StatusCode != 404 {
		t.Errorf("cross-ticket attachment: %d", resp.StatusCode)
	}
	for ct, want := range map[string]string{
		"image/png": "image/png", "IMAGE/JPEG; name=x": "image/jpeg", "application/pdf": "application/pdf",
		"image/svg+xml": "application/octet-stream", "text/html": "application/octet-stream",
		"application/xhtml+xml": "application/octet-stream", "text/javascript": "application/octet-stream", "": "application/octet-stream",
	} {
		if got := SafeContentType(ct); got != want {
			t.Errorf("SafeContentType(%q) = %q, want %q", ct, got, want)
		}
	}
}

func TestHTTPInboundWebhook(t *testing.T) {
	e := newEnv(t)
	msg := testMail{From: "ann@customer.example", To: "Sales <corporate@example.com>, someone@else.example", Subject: "Webhook", MessageID: "wh1@x"}.bytes()
	post := func(app *fiber.App, auth string, body []byte) (*http.Response, []byte) {
		req := httptest.NewRequest("POST", "/api/inbound/email", bytes.NewReader(body))
		req.Header.Set("Content-Type", "message/rfc822")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := app.Test(req, 30_000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	off := testApp(e, "")
	if resp, b := post(off, "Bearer anything", msg); resp.StatusCode != 404 {
		t.Errorf("endpoint without a token: %d %s, want 404", resp.StatusCode, b)
	}

	app := testApp(e, "s3cret-token")
	for name, h := range map[string]string{"missing": "", "wrong": "Bearer nope", "not bearer": "Basic s3cret-token", "prefix": "Bearer s3cret-toke"} {
		if resp, b := post(app, h, msg); resp.StatusCode != 401 || decode(t, b)["error"] == "" {
			t.Errorf("%s token: %d %s, want 401", name, resp.StatusCode, b)
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM tickets`); n != 0 {
		t.Fatalf("refused requests created %d tickets", n)
	}

	resp, b := post(app, "Bearer s3cret-token", msg)
	if resp.StatusCode != 202 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, b)
	}
	got := decode(t, b)
	if len(got) != 2 || got["duplicate"] != false || got["ticket_id"].(float64) <= 0 {
		t.Fatalf("webhook answer = %s, want exactly ticket_id and duplicate", b)
	}
	id := int64(got["ticket_id"].(float64))
	if q := e.ticket(id).Queue; q != "Corporate Sales" {
		t.Errorf("queue from To = %q, want Corporate Sales", q)
	}
	resp, b = post(app, "bearer s3cret-token", msg)
	if got := decode(t, b); resp.StatusCode != 202 || got["duplicate"] != true || int64(got["ticket_id"].(float64)) != id {
		t.Errorf("resend: %d %s, want a duplicate of %d", resp.StatusCode, b, id)
	}
	// No inbox among the recipients: the first inbox.
	stray := testMail{From: "bo@customer.example", To: "list@lists.example", Subject: "Fwd", MessageID: "wh2@x"}.bytes()
	_, b = post(app, "Bearer s3cret-token", stray)
	if q := e.ticket(int64(decode(t, b)["ticket_id"].(float64))).Queue; q != "Customer Service" {
		t.Errorf("queue without an inbox recipient = %q", q)
	}
	// Too large, and empty.
	big := append(bytes.Clone(msg), bytes.Repeat([]byte("x"), MaxMessageSize)...)
	if resp, b := post(app, "Bearer s3cret-token", big); resp.StatusCode != 413 {
		t.Errorf("oversized: %d %s, want 413", resp.StatusCode, b)
	}
	if resp, _ := post(app, "Bearer s3cret-token", nil); resp.StatusCode != 400 {
		t.Errorf("empty: %d, want 400", resp.StatusCode)
	}
}
