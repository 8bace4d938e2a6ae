package static

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"
)

func TestEmbeddedFiles(t *testing.T) {
	for _, name := range []string{"helpcenter/helpcenter.css", "helpcenter/suggest.js", "helpcenter/status.js", "helpcenter/feedback.js"} {
		if _, err := fs.Stat(Assets(), name); err != nil {
			t.Errorf("assets: %v", err)
		}
	}
	for _, name := range []string{"helpcenter/layout.html", "helpcenter/home.html"} {
		if _, err := fs.Stat(Templates(), name); err != nil {
			t.Errorf("templates: %v", err)
		}
	}
	// The browser tests and their node_modules must never be embedded.
	err := fs.WalkDir(files, ".", func(name string, _ fs.DirEntry, err error) error {
		if strings.Contains(name, "node_modules") || strings.HasPrefix(name, "e2e") {
			t.Errorf("embedded %s", name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestServer(t *testing.T) {
	s, err := NewServer(fstest.MapFS{
		"app/site.css":   {Data: []byte("body{}")},
		"app/main.js":    {Data: []byte("export {}")},
		"app/logo.svg":   {Data: []byte("<svg/>")},
		"app/notes.md":   {Data: []byte("private")},
		"app/deep/x.mjs": {Data: []byte("export {}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Get("/static/*", s.Handler)
	get := func(target string, header ...string) (*http.Response, string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	tests := []struct {
		name      string
		wantType  string
		wantBody  string
		wantFound bool
	}{
		{name: "app/site.css", wantType: "text/css; charset=utf-8", wantBody: "body{}", wantFound: true},
		{name: "app/main.js", wantType: "text/javascript; charset=utf-8", wantBody: "export {}", wantFound: true},
		{name: "app/deep/x.mjs", wantType: "text/javascript; charset=utf-8", wantBody: "export {}", wantFound: true},
		{name: "app/logo.svg", wantType: "image/svg+xml", wantBody: "<svg/>", wantFound: true},
		{name: "app/notes.md"}, // unknown extension: never published
		{name: "app/missing.css"},
		{name: "../static.go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.URL(tt.name)
			if (err == nil) != tt.wantFound {
				t.Fatalf("URL(%q) error = %v", tt.name, err)
			}
			res, body := get("/static/" + tt.name)
			if !tt.wantFound {
				if res.StatusCode != 404 {
					t.Errorf("status %d, want 404", res.StatusCode)
				}
				return
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
			if res.StatusCode != 200 || body != tt.wantBody {
				t.Errorf("status %d body %q", res.StatusCode, body)
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := res.Header.Get("Cache-Control"); got != cacheUnversioned {
				t.Errorf("unversioned Cache-Control = %q", got)
			}
			res, _ = get(u)
			if got := res.Header.Get("Cache-Control"); got != cacheVersioned {
				t.Errorf("versioned Cache-Control = %q", got)
			}
			res, _ = get(u, "If-None-Match", `W/`+res.Header.Get("ETag"))
			if res.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d, want 304", res.StatusCode)
			}
			res, _ = get("/static/"+tt.name+"?v=stale", "If-None-Match", `"other"`)
			if res.StatusCode != 200 || res.Header.Get("Cache-Control") != cacheUnversioned {
				t.Errorf("stale version: status %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
			}
		})
	}
}
