package static

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// contentTypes maps the extensions we ship to their media types. It is a
// fixed table rather than mime.TypeByExtension, whose answers depend on the
// host's mime.types file: a module served as text/plain is refused by
// browsers, and with nosniff there is no second guess.
var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
	".map":   "application/json",
}

// Cache lifetimes. A request whose ?v= matches the file's content hash (the
// URL that Server.URL hands out) can be cached for good, because a change
// to the file changes the URL. Anything else must be revalidated, which the
// ETag makes cheap.
const (
	cacheVersioned   = "public, max-age=31536000, immutable"
	cacheUnversioned = "public, no-cache"
)

type asset struct {
	body    []byte
	ctype   string
	etag    string // quoted strong ETag
	version string // short content hash used in ?v=
}

// Server serves a tree of static files from memory with fixed content
// types, ETags and cache headers. It is safe for concurrent use; the files
// are read once, in NewServer.
type Server struct {
	files map[string]*asset // slash path relative to the root, no leading slash
}

// NewServer reads every file under fsys with a known extension. Files with
// other extensions are not served, so a stray file in the tree is never
// published by accident.
func NewServer(fsys fs.FS) (*Server, error) {
	s := &Server{files: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		s.files[name] = &asset{body: b, ctype: ctype, etag: `"` + h[:32] + `"`, version: h[:12]}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: read assets: %w", err)
	}
	return s, nil
}

// URL returns the versioned address of the named file, such as
// "/static/helpcenter/helpcenter.css?v=1a2b3c4d5e6f", for use in pages. It
// returns an error for a file the server does not have, so that a typo in a
// template fails when the template runs in a test, not in a browser.
func (s *Server) URL(name string) (string, error) {
	a, ok := s.files[name]
	if !ok {
		return "", fmt.Errorf("static: no asset %q", name)
	}
	return "/static/" + name + "?v=" + a.version, nil
}

// Handler serves GET and HEAD /static/* (the route must end in the "*"
// wildcard). Unknown files are the server's JSON 404 (fiber.ErrNotFound,
// rendered by the shared error boundary).
func (s *Server) Handler(c *fiber.Ctx) error {
	name := strings.TrimPrefix(c.Params("*"), "/")
	a, ok := s.files[name]
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderETag, a.etag)
	if c.Query("v") == a.version {
		c.Set(fiber.HeaderCacheControl, cacheVersioned)
	} else {
		c.Set(fiber.HeaderCacheControl, cacheUnversioned)
	}
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), a.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ctype)
	return c.Send(a.body)
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
