package widget

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/static"
)

// maxGzipped is the widget's size budget: what a shop's visitors download.
const maxGzipped = 30 << 10

func newTestApp(t *testing.T) (*fiber.App, *Handlers) {
	t.Helper()
	h, err := New(Options{SiteName: `Ink "&" Co`, PublicURL: "https://help.shop.example/", AllowedOrigins: []string{"https://help.shop.example", "https://Shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Get("/widget.js", h.Script)
	app.Get("/demo", h.Demo)
	app.Get("/api/status", h.CORS, func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"open": true}) })
	app.Options("/api/chat/attachments", h.VisitorCORS)
	app.Post("/api/chat/attachments", h.VisitorCORS, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusCreated) })
	assets, err := static.NewServer(static.Assets())
	if err != nil {
		t.Fatal(err)
	}
	app.Get("/static/*", assets.Handler)
	return app, h
}

func get(t *testing.T, app *fiber.App, method, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// TestWidgetSize reports the served script's size and keeps it under the
// 30 KB (gzipped) budget.
func TestWidgetSize(t *testing.T) {
	_, h := newTestApp(t)
	raw, gz := h.Size()
	fmt.Printf("widget.js: %d bytes, %d bytes gzipped (budget %d)\n", raw, gz, maxGzipped)
	t.Logf("widget.js: %d bytes, %d bytes gzipped (budget %d)", raw, gz, maxGzipped)
	if gz >= maxGzipped {
		t.Errorf("widget.js is %d bytes gzipped, over the %d-byte budget", gz, maxGzipped)
	}
}

func TestWidgetScript(t *testing.T) {
	app, h := newTestApp(t)

	res, body := get(t, app, http.MethodGet, "/widget.js")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":     "text/javascript; charset=utf-8",
		"Cache-Control":    cacheScript,
		"Vary":             "Accept-Encoding",
		"Content-Encoding": "",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	etag := res.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Errorf("ETag = %q, want a quoted strong hash", etag)
	}
	js := string(body)
	for _, bad := range []string{placeholderCSS, placeholderSite} {
		if strings.Contains(js, bad) {
			t.Errorf("served script still holds the placeholder %s", bad)
		}
	}
	// The stylesheet is inlined as a string, the site name escaped for JS
	// (and for HTML: "&" never appears raw).
	for _, want := range []string{`:host {`, `const SITE = "Ink \"\u0026\" Co";`, `/ws/chat`, `document.currentScript`} {
		if !strings.Contains(js, want) {
			t.Errorf("served script lacks %q", want)
		}
	}

	t.Run("gzip", func(t *testing.T) {
		res, zbody := get(t, app, http.MethodGet, "/widget.js", "Accept-Encoding", "br, gzip;q=0.8")
		if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("ETag") != etag {
			t.Fatalf("Content-Encoding %q, ETag %q", res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zbody))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(plain, body) {
			t.Errorf("gzipped body differs from the plain one (err %v)", err)
		}
		if _, gz := h.Size(); len(zbody) != gz {
			t.Errorf("sent %d gzipped bytes, Size says %d", len(zbody), gz)
		}
		if res, _ := get(t, app, http.MethodGet, "/widget.js", "Accept-Encoding", "gzip;q=0, identity"); res.Header.Get("Content-Encoding") != "" {
			t.Errorf("gzip;q=0 still got Content-Encoding %q", res.Header.Get("Content-Encoding"))
		}
	})
	t.Run("revalidation", func(t *testing.T) {
		res, b := get(t, app, http.MethodGet, "/widget.js", "If-None-Match", `W/`+etag)
		if res.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Errorf("If-None-Match: status %d, %d bytes", res.StatusCode, len(b))
		}
		if res.Header.Get("ETag") != etag || res.Header.Get("Cache-Control") != cacheScript {
			t.Errorf("304 lost its headers: %v", res.Header)
		}
		if res, _ := get(t, app, http.MethodGet, "/widget.js", "If-None-Match", `"stale"`); res.StatusCode != 200 {
			t.Errorf("stale ETag: status %d", res.StatusCode)
		}
	})
	t.Run("head", func(t *testing.T) {
		res, _ := get(t, app, http.MethodHead, "/widget.js")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("HEAD: status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
}

func TestDemo(t *testing.T) {
	app, _ := newTestApp(t)
	res, b := get(t, app, http.MethodGet, "/demo")
	body := string(b)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != fiber.MIMETextHTMLCharsetUTF8 {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	if csp != ContentSecurityPolicy {
		t.Errorf("CSP = %q", csp)
	}
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP allows %s", bad)
		}
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers = %v", res.Header)
	}

	// The shop embeds the widget with exactly the one script tag, and
	// nothing inline that the policy would refuse.
	if strings.Count(body, "<script") != 1 || !strings.Contains(body, `<script src="/widget.js" async></script>`) {
		t.Errorf("want exactly one <script src=\"/widget.js\" async>:\n%s", body)
	}
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`).MatchString(body) {
		t.Errorf("the demo page has inline style or script")
	}
	// The snippet a shop would paste names the public URL, escaped.
	if !strings.Contains(body, `&lt;script src=&#34;https://help.shop.example/widget.js&#34; async&gt;&lt;/script&gt;`) {
		t.Errorf("snippet missing or unescaped")
	}
	if !strings.Contains(body, "Ink &#34;&amp;&#34; Co") {
		t.Errorf("site name missing or unescaped")
	}
	// Every asset it links exists under its versioned URL.
	refs := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(refs) == 0 {
		t.Fatal("the demo page links no stylesheet")
	}
	for _, m := range refs {
		u := strings.ReplaceAll(m[1], "&amp;", "&")
		if !strings.Contains(u, "?v=") {
			t.Errorf("%s is not versioned", u)
		}
		if res, _ := get(t, app, http.MethodGet, u); res.StatusCode != 200 {
			t.Errorf("%s: status %d", u, res.StatusCode)
		}
	}
}

func TestCORS(t *testing.T) {
	app, _ := newTestApp(t)
	tests := []struct {
		name, origin, want string
	}{
		{name: "allowed site", origin: "https://shop.example", want: "https://shop.example"},
		{name: "allowed, other case", origin: "https://SHOP.example", want: "https://SHOP.example"},
		{name: "the helpdesk itself", origin: "https://help.shop.example", want: "https://help.shop.example"},
		{name: "another site", origin: "https://evil.example"},
		{name: "another port", origin: "https://shop.example:8443"},
		{name: "no origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.origin != "" {
				header = []string{"Origin", tt.origin}
			}
			res, _ := get(t, app, http.MethodGet, "/api/status", header...)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.want)
			}
			if res.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials must never be allowed")
			}
			if !strings.Contains(res.Header.Get("Vary"), "Origin") {
				t.Errorf("Vary = %q, want Origin", res.Header.Get("Vary"))
			}
		})
	}
}

// The chat endpoints that take a visitor token: allowed sites may send it
// (preflight) and read the answer; nobody gets credentials.
func TestVisitorCORS(t *testing.T) {
	app, _ := newTestApp(t)
	tests := []struct {
		name, origin string
		allowed      bool
	}{
		{name: "allowed site", origin: "https://shop.example", allowed: true},
		{name: "the helpdesk itself", origin: "https://help.shop.example", allowed: true},
		{name: "another site", origin: "https://evil.example"},
		{name: "no origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var origin []string
			if tt.origin != "" {
				origin = []string{"Origin", tt.origin}
			}
			pre, _ := get(t, app, http.MethodOptions, "/api/chat/attachments",
				append(origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-visitor-token")...)
			if pre.StatusCode != http.StatusNoContent {
				t.Fatalf("preflight status %d", pre.StatusCode)
			}
			post, _ := get(t, app, http.MethodPost, "/api/chat/attachments", origin...)
			if post.StatusCode != http.StatusCreated {
				t.Fatalf("the handler did not run: status %d", post.StatusCode)
			}
			wantOrigin := ""
			if tt.allowed {
				wantOrigin = tt.origin
			}
			for _, res := range []*http.Response{pre, post} {
				if got := res.Header.Get("Access-Control-Allow-Origin"); got != wantOrigin {
					t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", res.Request.Method, got, wantOrigin)
				}
				if res.Header.Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("%s: credentials must never be allowed", res.Request.Method)
				}
				if !strings.Contains(res.Header.Get("Vary"), "Origin") {
					t.Errorf("%s: Vary = %q, want Origin", res.Request.Method, res.Header.Get("Vary"))
				}
			}
			allowHeaders := pre.Header.Get("Access-Control-Allow-Headers")
			if tt.allowed != strings.EqualFold(allowHeaders, "X-Visitor-Token") {
				t.Errorf("Access-Control-Allow-Headers = %q", allowHeaders)
			}
			if tt.allowed && post.Header.Get("Access-Control-Expose-Headers") != "Content-Disposition" {
				t.Errorf("Access-Control-Expose-Headers = %q", post.Header.Get("Access-Control-Expose-Headers"))
			}
		})
	}
}

func TestBuildScript(t *testing.T) {
	tests := []struct {
		name    string
		js      string
		wantErr string
		want    string
	}{
		{name: "both placeholders", js: `const CSS = "/*@widget.css*/"; const SITE = "/*@site*/";`,
			want: `const CSS = "a{content:\"\u003c/style\u003e\"}\u2028"; const SITE = "Shop\u003c/script\u003e";`},
		{name: "no css placeholder", js: `const SITE = "/*@site*/";`, wantErr: `"/*@widget.css*/" exactly once`},
		{name: "twice", js: `"/*@widget.css*/" "/*@widget.css*/" "/*@site*/"`, wantErr: "exactly once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				scriptFile: {Data: []byte(tt.js)},
				styleFile:  {Data: []byte("a{content:\"</style>\"}\u2028")},
			}
			got, err := buildScript(fsys, "Shop</script>")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s (err %v)\nwant %s", got, err, tt.want)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                    false,
		"gzip":                true,
		"GZIP":                true,
		"gzip, deflate, br":   true,
		"br;q=1.0, gzip;q=.5": true,
		"gzip;q=0":            false,
		"gzip; q=0.0":         false,
		"identity":            false,
		"*":                   true,
		"x-gzip2":             false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
