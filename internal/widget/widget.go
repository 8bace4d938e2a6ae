// Package widget serves the embeddable live-chat widget and its demo page.
//
// A shop adds chat to its site with one classic script tag,
//
//	<script src="https://helpdesk.example/widget.js" async></script>
//
// and the script does the rest: it finds the helpdesk's address from its own
// src, draws a launcher and a chat panel inside a shadow root (so the shop's
// CSS and ours never meet), and talks to /api/status, /api/faq/search and
// the customer websocket /ws/chat. The sources live in
// static/assets/widget: widget.js, and widget.css which New inlines into the
// served script (the panel's styles are applied from JS as a constructed
// stylesheet, which works under any page's style-src, our strict one
// included). Nothing is built at run time but that one substitution.
//
// GET /demo is a small fake storefront that embeds the widget exactly as a
// shop would, served with the same strict Content-Security-Policy as the
// help center.
//
// The widget also reads two public endpoints from the shop's own origin,
// so CORS lets the allowed site origins (the public URL's and
// --allowed-origins, the same list the chat socket accepts) read them.
package widget

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/static"
)

// ContentSecurityPolicy is sent with the demo page: the help center's
// policy. The widget needs nothing more — its styles are a constructed
// stylesheet (not inline style), and connect-src 'self' covers the
// same-origin websocket.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Cache lifetimes. Shops link /widget.js without a version, so a browser
// may keep it for a few minutes and must then revalidate (cheap with the
// ETag); a fixed widget reaches every shop within that time.
const (
	cacheScript = "public, max-age=300, stale-while-revalidate=86400"
	cacheDemo   = "no-cache"
)

// Source files, relative to static.Assets().
const (
	scriptFile = "widget/widget.js"
	styleFile  = "widget/widget.css"
	demoFile   = "widget/demo.html" // relative to static.Templates()
)

// Placeholders in widget.js replaced by New. Each is a JS string literal,
// so the source file is valid JavaScript as it is.
const (
	placeholderCSS  = `"/*@widget.css*/"`
	placeholderSite = `"/*@site*/"`
)

// Options configures the widget.
type Options struct {
	// SiteName is the shop's name, shown in the panel's heading.
	SiteName string
	// PublicURL is the helpdesk's public address, used in the snippet the
	// demo page shows.
	PublicURL string
	// AllowedOrigins are the site origins ("https://shop.example") allowed
	// to read the widget's public endpoints cross-origin (see CORS).
	AllowedOrigins []string
}

// Handlers serves /widget.js, /demo and the CORS headers the widget needs.
// It is safe for concurrent use; everything is rendered once, in New.
type Handlers struct {
	script  []byte // the served widget.js
	gzipped []byte // script, gzip-compressed
	etag    string // quoted strong ETag of script
	demo    []byte
	origins map[string]struct{}
}

// New reads the widget's sources from the embedded assets, builds the
// served script and renders the demo page. It fails when a source or a
// placeholder is missing, so that a broken widget never starts serving.
func New(o Options) (*Handlers, error) {
	if o.SiteName == "" {
		o.SiteName = "Support"
	}
	h := &Handlers{origins: map[string]struct{}{}}
	for _, raw := range o.AllowedOrigins {
		if origin, ok := originOf(raw); ok {
			h.origins[origin] = struct{}{}
		}
	}
	var err error
	if h.script, err = buildScript(static.Assets(), o.SiteName); err != nil {
		return nil, fmt.Errorf("widget: %w", err)
	}
	sum := sha256.Sum256(h.script)
	h.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // the level is valid
	if _, err := zw.Write(h.script); err != nil {
		return nil, fmt.Errorf("widget: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("widget: gzip: %w", err)
	}
	h.gzipped = gz.Bytes()
	if h.demo, err = renderDemo(o); err != nil {
		return nil, fmt.Errorf("widget: demo page: %w", err)
	}
	return h, nil
}

// buildScript inlines the stylesheet and the site name into widget.js.
func buildScript(fsys fs.FS, site string) ([]byte, error) {
	js, err := fs.ReadFile(fsys, scriptFile)
	if err != nil {
		return nil, err
	}
	css, err := fs.ReadFile(fsys, styleFile)
	if err != nil {
		return nil, err
	}
	for _, r := range []struct{ placeholder, value string }{
		{placeholderCSS, string(css)},
		{placeholderSite, site},
	} {
		if bytes.Count(js, []byte(r.placeholder)) != 1 {
			return nil, fmt.Errorf("%s must contain %s exactly once", scriptFile, r.placeholder)
		}
		lit, err := jsString(r.value)
		if err != nil {
			return nil, err
		}
		js = bytes.Replace(js, []byte(r.placeholder), lit, 1)
	}
	return js, nil
}

// jsString quotes s as a JavaScript string literal. JSON is a subset of JS
// for strings once U+2028 and U+2029 are escaped, which encoding/json does;
// SetEscapeHTML keeps "</script>" out of it as well.
func jsString(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

type demoView struct {
	Site    string
	Snippet string // the script tag a shop would paste
}

func renderDemo(o Options) ([]byte, error) {
	assets, err := static.NewServer(static.Assets())
	if err != nil {
		return nil, err
	}
	t, err := template.New("demo.html").Funcs(template.FuncMap{"asset": assets.URL}).ParseFS(static.Templates(), demoFile)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(o.PublicURL, "/")
	if base == "" {
		return nil, errors.New("PublicURL is required")
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, demoView{Site: o.SiteName, Snippet: `<script src="` + base + `/widget.js" async></script>`})
	return buf.Bytes(), err
}

// Size reports the served script's size, raw and gzip-compressed.
func (h *Handlers) Size() (raw, gzipped int) { return len(h.script), len(h.gzipped) }

// Script answers GET /widget.js: the widget as a classic script. It may be
// cached for a short while and revalidated with its ETag, and is sent
// gzip-compressed to clients that accept it. No CORS header is needed: a
// classic <script> from another origin is not a CORS request.
func (h *Handlers) Script(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, cacheScript)
	c.Set(fiber.HeaderETag, h.etag)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	// The global X-Frame-Options and nosniff stay; a script from another
	// site's page must be loadable, which CORP same-origin would forbid.
	c.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), h.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	if acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(h.gzipped)
	}
	return c.Send(h.script)
}

// Demo answers GET /demo: a fake printer-ink shop that embeds the widget
// with the one script tag, under the strict Content-Security-Policy.
func (h *Handlers) Demo(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, ContentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "strict-origin-when-cross-origin")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderCacheControl, cacheDemo)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(h.demo)
}

// CORS lets the shop's pages read a public GET endpoint the widget uses
// (/api/status, /api/faq/search): a request whose Origin is an allowed
// site origin gets Access-Control-Allow-Origin for that origin. No
// credentials are allowed and no preflight is needed (the widget sends
// only simple GETs), so nothing beyond what anyone may fetch is exposed.
func (h *Handlers) CORS(c *fiber.Ctx) error {
	h.allowOrigin(c)
	return c.Next()
}

// allowOrigin sends Access-Control-Allow-Origin when the request comes
// from an allowed site origin, and reports whether it did. The answer
// depends on the Origin header, which Vary says, for any cache.
func (h *Handlers) allowOrigin(c *fiber.Ctx) bool {
	c.Vary(fiber.HeaderOrigin)
	o := c.Get(fiber.HeaderOrigin)
	if _, ok := h.origins[strings.ToLower(o)]; !ok || o == "" {
		return false
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, o)
	return true
}

// VisitorCORS is CORS for the endpoints the widget calls with its visitor
// token in the X-Visitor-Token header (chat history, attachment upload and
// download): an allowed site origin may send that header (the preflight is
// answered here) and read the answer, including the attachment's
// Content-Disposition. Credentials are never allowed, so no cookie (an
// agent's session) is ever used from the shop's pages; the token alone
// reaches only its own conversations.
func (h *Handlers) VisitorCORS(c *fiber.Ctx) error {
	allowed := h.allowOrigin(c)
	if allowed {
		c.Set(fiber.HeaderAccessControlExposeHeaders, fiber.HeaderContentDisposition)
	}
	if c.Method() != fiber.MethodOptions {
		return c.Next()
	}
	if allowed {
		c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST")
		c.Set(fiber.HeaderAccessControlAllowHeaders, "X-Visitor-Token")
		c.Set(fiber.HeaderAccessControlMaxAge, "600")
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// originOf returns the lowercased scheme://host[:port] of a URL or origin.
func originOf(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

// etagMatches reports whether an If-None-Match header lists etag (weak
// comparison, as RFC 9110 prescribes for If-None-Match).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (a
// q=0 refuses it).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
