package httpapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
)

func TestDecodeJSON(t *testing.T) {
	type in struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(apperr.KindOf(err).Status()).SendString(apperr.PublicMessage(err))
	}})
	app.Post("/", func(c *fiber.Ctx) error {
		var v in
		if err := DecodeJSON(c, &v); err != nil {
			return err
		}
		return c.SendString("ok " + v.Name)
	})
	tests := []struct {
		name, ct, body string
		wantStatus     int
		wantBody       string
	}{
		{name: "ok", ct: "application/json", body: `{"name":"ann","n":2}`, wantStatus: 200, wantBody: "ok ann"},
		{name: "ok with charset", ct: "application/json; charset=utf-8", body: `{"name":"bo"}`, wantStatus: 200, wantBody: "ok bo"},
		{name: "empty", ct: "application/json", body: ``, wantStatus: 400, wantBody: "request body is empty"},
		{name: "unknown field", ct: "application/json", body: `{"nme":"x"}`, wantStatus: 400, wantBody: `unknown field "nme"`},
		{name: "wrong type", ct: "application/json", body: `{"n":"two"}`, wantStatus: 400, wantBody: `field "n" must be int`},
		{name: "syntax", ct: "application/json", body: `{"name":`, wantStatus: 400, wantBody: "invalid JSON body"},
		{name: "trailing", ct: "application/json", body: `{"name":"a"} {}`, wantStatus: 400, wantBody: "trailing data"},
		{name: "not an object", ct: "application/json", body: `[1]`, wantStatus: 400, wantBody: "expected a JSON object"},
		{name: "form content type", ct: "application/x-www-form-urlencoded", body: `name=a`, wantStatus: 400, wantBody: "Content-Type must be application/json"},
		{name: "too large", ct: "application/json", body: `{"name":"` + strings.Repeat("a", MaxJSONBody) + `"}`, wantStatus: 413, wantBody: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ct)
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestIntQuery(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(apperr.KindOf(err).Status()).SendString(apperr.PublicMessage(err))
	}})
	app.Get("/", func(c *fiber.Ctx) error {
		n, err := IntQuery(c, "limit", 10, 50)
		if err != nil {
			return err
		}
		return c.JSON(n)
	})
	for q, want := range map[string]string{"": "10", "?limit=5": "5", "?limit=500": "50", "?limit=0": "limit must be", "?limit=x": "limit must be"} {
		resp, err := app.Test(httptest.NewRequest("GET", "/"+q, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), want) {
			t.Errorf("%q: got %q, want %q", q, b, want)
		}
	}
}
