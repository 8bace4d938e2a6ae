package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/internal/logging"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

type fakePresence struct {
	n   int
	err error
}

func (p fakePresence) AgentsOnline(context.Context) (int, error) { return p.n, p.err }

func newTestServer(t *testing.T, spec string, p Presence, ready ...ReadyCheck) (*Server, *bytes.Buffer) {
	t.Helper()
	w, err := hours.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := hours.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Wednesday 2026-11-25 10:00 PST: inside the default hours.
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	s := New(Deps{
		Config:   config.Config{Hours: w},
		Logger:   logging.New(logs, "debug"),
		Now:      func() time.Time { return now },
		Registry: prometheus.NewRegistry(),
		Ready:    ready,
		Schedule: hours.New(w, loc, nil),
		Presence: p,
		Auth:     auth.NewHandlers(auth.New(db, auth.Options{})),
	})
	s.app.Get("/test/internal", func(c *fiber.Ctx) error {
		return apperr.Internal("store: insert", errors.New("disk /var/secret/path is full"))
	})
	s.app.Get("/test/invalid", func(c *fiber.Ctx) error { return apperr.Invalid("name is required") })
	s.app.Get("/test/panic", func(c *fiber.Ctx) error { panic("kaboom at /var/secret/path") })
	return s, logs
}

func do(t *testing.T, s *Server, method, path string, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, body)
		}
	}
	return resp, m
}

func TestErrorBoundary(t *testing.T) {
	s, logs := newTestServer(t, hours.DefaultSpec, nil)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantError  string
	}{
		{name: "internal", path: "/test/internal", wantStatus: 500, wantError: "internal error"},
		{name: "invalid", path: "/test/invalid", wantStatus: 400, wantError: "name is required"},
		{name: "panic", path: "/test/panic", wantStatus: 500, wantError: "internal error"},
		{name: "unknown api route", path: "/api/nope", wantStatus: 404, wantError: "not found"},
		{name: "unknown route", path: "/nope", wantStatus: 404, wantError: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "req-" + strings.ReplaceAll(tt.name, " ", "-")
			resp, body := do(t, s, "GET", tt.path, map[string]string{"X-Request-ID": id})
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Errorf("got %d %v, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantError)
			}
			if len(body) != 1 {
				t.Errorf("error body has extra fields: %v", body)
			}
			if resp.Header.Get("X-Request-ID") != id {
				t.Errorf("request id not echoed: %q", resp.Header.Get("X-Request-ID"))
			}
		})
	}
	// Causes reach the log, tagged with the request id, never the client.
	out := logs.String()
	for _, want := range []string{"disk /var/secret/path is full", `"request_id":"req-internal"`, "kaboom", `"request_id":"req-panic"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestRequestIDReplacedWhenUnsafe(t *testing.T) {
	s, _ := newTestServer(t, hours.DefaultSpec, nil)
	resp, _ := do(t, s, "GET", "/healthz", map[string]string{"X-Request-ID": "evil\" id with spaces"})
	id := resp.Header.Get("X-Request-ID")
	if id == "" || strings.Contains(id, " ") {
		t.Errorf("request id = %q", id)
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		presence  Presence
		wantOpen  bool
		wantChat  bool
		wantAgent float64
		wantNext  string
	}{
		{name: "open, nobody online", spec: hours.DefaultSpec, presence: fakePresence{}, wantOpen: true, wantNext: "2026-11-25T18:00:00-08:00"},
		{name: "open, agents online", spec: hours.DefaultSpec, presence: fakePresence{n: 2}, wantOpen: true, wantChat: true, wantAgent: 2, wantNext: "2026-11-25T18:00:00-08:00"},
		{name: "closed, agents online", spec: "Sat-Sun 07:00-16:00", presence: fakePresence{n: 1}, wantAgent: 1, wantNext: "2026-11-28T07:00:00-08:00"},
		{name: "presence down", spec: hours.DefaultSpec, presence: fakePresence{err: errors.New("redis down")}, wantOpen: true, wantNext: "2026-11-25T18:00:00-08:00"},
		// No change in the 400 days looked at: the end of them, not "".
		{name: "always open", spec: "Mon-Sun 00:00-24:00", presence: fakePresence{n: 1}, wantOpen: true, wantChat: true, wantAgent: 1, wantNext: "2027-12-30T00:00:00-08:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, tt.spec, tt.presence)
			resp, body := do(t, s, "GET", "/api/status", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if body["open"] != tt.wantOpen || body["chat_available"] != tt.wantChat || body["agents_online"] != tt.wantAgent {
				t.Errorf("body = %v", body)
			}
			if body["next_change"] != tt.wantNext || body["timezone"] != "America/Los_Angeles" || body["now"] != "2026-11-25T10:00:00-08:00" {
				t.Errorf("times = %v", body)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	ok := ReadyCheck{Name: "database", Check: func(context.Context) error { return nil }}
	bad := ReadyCheck{Name: "search index", Check: func(context.Context) error { return errors.New("index at /data/x is torn") }}

	s, _ := newTestServer(t, hours.DefaultSpec, nil, ok)
	if resp, _ := do(t, s, "GET", "/readyz", nil); resp.StatusCode != 200 {
		t.Errorf("ready: %d", resp.StatusCode)
	}
	s, logs := newTestServer(t, hours.DefaultSpec, nil, ok, bad)
	resp, body := do(t, s, "GET", "/readyz", nil)
	if resp.StatusCode != 503 || !strings.Contains(body["error"].(string), "search index") || strings.Contains(body["error"].(string), "/data/x") {
		t.Errorf("not ready: %d %v", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "index at /data/x is torn") {
		t.Error("readiness cause not logged")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s, _ := newTestServer(t, hours.DefaultSpec, nil)
	do(t, s, "GET", "/api/status", nil)
	do(t, s, "GET", "/no/such/page", nil)
	req := httptest.NewRequest("GET", "/metrics", nil)
	resp, err := s.app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`helpdesk_http_requests_total{method="GET",route="/api/status",status="200"} 1`,
		`helpdesk_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s\n%s", want, body)
		}
	}
}
