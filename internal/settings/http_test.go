package settings

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
)

// testApp wires the handlers as internal/server does, behind a stand-in
// for the admin guard that lets every request act as one admin.
func testApp(e *env) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			return c.Status(fe.Code).JSON(fiber.Map{"error": fe.Message})
		}
		return c.Status(apperr.KindOf(err).Status()).JSON(fiber.Map{"error": apperr.PublicMessage(err)})
	}})
	admin := func(c *fiber.Ctx) error {
		c.SetUserContext(auth.NewContext(c.UserContext(), auth.Agent{Name: "Ada", Role: auth.RoleAdmin, Active: true}))
		return c.Next()
	}
	h := NewHandlers(e.svc)
	app.Get("/api/admin/hours", admin, h.GetHours)
	app.Put("/api/admin/hours", admin, h.PutHours)
	app.Get("/api/admin/inboxes", admin, h.ListInboxes)
	app.Put("/api/admin/inboxes/:address", admin, h.PutInbox)
	return app
}

func call(t *testing.T, app *fiber.App, method, path, body string, out any) int {
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
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func TestHoursHandlers(t *testing.T) {
	e := newEnv(t, nil)
	app := testApp(e)

	var v HoursView
	if st := call(t, app, "GET", "/api/admin/hours", "", &v); st != 200 || v.Source != SourceFlags || v.Hours.Hours != flagHours {
		t.Fatalf("GET = %d %+v", st, v)
	}
	body := `{"hours":"Mon-Fri 08:00-16:00","timezone":"America/New_York","holidays":["2026-12-25"]}`
	if st := call(t, app, "PUT", "/api/admin/hours", body, &v); st != 200 || v.Source != SourceSaved ||
		v.Hours.Hours != "Mon-Fri 08:00-16:00" || v.Timezone != "America/New_York" || len(v.Holidays) != 1 {
		t.Fatalf("PUT = %d %+v", st, v)
	}
	if e.sched.Location().String() != "America/New_York" {
		t.Errorf("not applied: %s", e.sched.Location())
	}

	tests := []struct {
		name, body, want string
	}{
		{"bad hours", `{"hours":"Mon 9-5","timezone":"UTC","holidays":[]}`, "hours: "},
		{"bad zone", `{"hours":"Mon 09:00-17:00","timezone":"Nowhere/City","holidays":[]}`, "timezone: "},
		{"bad holiday", `{"hours":"Mon 09:00-17:00","timezone":"UTC","holidays":["12/25/2026"]}`, "holidays: "},
		{"unknown field", `{"hours":"Mon 09:00-17:00","timezone":"UTC","days":[]}`, "invalid JSON body: unknown field"},
		{"holidays as a string", `{"hours":"Mon 09:00-17:00","timezone":"UTC","holidays":"2026-12-25"}`, "invalid JSON body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var er struct{ Error string }
			if st := call(t, app, "PUT", "/api/admin/hours", tt.body, &er); st != 400 || !strings.HasPrefix(er.Error, tt.want) {
				t.Errorf("PUT %s = %d %q, want 400 %q…", tt.body, st, er.Error, tt.want)
			}
		})
	}
}

func TestInboxHandlers(t *testing.T) {
	e := newEnv(t, nil)
	app := testApp(e)
	var list struct{ Inboxes []Inbox }
	if st := call(t, app, "GET", "/api/admin/inboxes", "", &list); st != 200 || len(list.Inboxes) != 2 || len(list.Inboxes[0].Placeholders) == 0 {
		t.Fatalf("GET = %d %+v", st, list)
	}
	var ib Inbox
	if st := call(t, app, "PUT", "/api/admin/inboxes/abuse%40example.com", `{"ack_enabled":true,"ack_text":"We read every report. #{{ticket_id}}"}`, &ib); st != 200 ||
		!ib.AckEnabled || ib.AckText != "We read every report. #{{ticket_id}}" || ib.Source != SourceSaved {
		t.Fatalf("PUT = %d %+v", st, ib)
	}
	var er struct{ Error string }
	if st := call(t, app, "PUT", "/api/admin/inboxes/nobody@example.com", `{"ack_enabled":true}`, &er); st != http.StatusNotFound || er.Error == "" {
		t.Errorf("unknown inbox = %d %q", st, er.Error)
	}
	if st := call(t, app, "PUT", "/api/admin/inboxes/support@example.com", `{"ack_text":"x"}`, &er); st != 400 || !strings.Contains(er.Error, "ack_enabled") {
		t.Errorf("missing ack_enabled = %d %q", st, er.Error)
	}
	if st := call(t, app, "PUT", "/api/admin/inboxes/support@example.com", `{"ack_enabled":true,"ack_text":"Hi {{first_name}}"}`, &er); st != 400 || !strings.Contains(er.Error, "{{first_name}}") {
		t.Errorf("unknown placeholder = %d %q", st, er.Error)
	}
}
