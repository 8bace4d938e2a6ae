package kb

import (
	"bytes"
	"html"
	"html/template"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// Renderer turns article Markdown into sanitized HTML and plain text. The
// zero value is not usable; use NewRenderer. It is safe for concurrent use.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
	strip  *bluemonday.Policy
}

// NewRenderer returns a Renderer. Raw HTML in Markdown is not rendered
// (goldmark's default), and the output passes through bluemonday's UGC
// policy anyway, so an article can never carry script into a page.
func NewRenderer() *Renderer {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(false) // our own articles link to our own pages
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return &Renderer{
		md:     goldmark.New(goldmark.WithExtensions(extension.Linkify, extension.Table, extension.Strikethrough)),
		policy: p,
		strip:  bluemonday.StrictPolicy(),
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// HTML renders Markdown to sanitized HTML.
func (r *Renderer) HTML(markdown string) template.HTML {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	if err := r.md.Convert([]byte(markdown), buf); err != nil {
		// goldmark only fails on writer errors, which a bytes.Buffer never
		// returns; fall back to escaped text rather than dropping content.
		return template.HTML("<p>" + html.EscapeString(markdown) + "</p>")
	}
	return template.HTML(r.policy.SanitizeBytes(buf.Bytes())) //nolint:gosec // sanitized above
}

// PlainText renders Markdown to plain text (no markup, entities decoded,
// whitespace collapsed), for search indexing and snippets.
func (r *Renderer) PlainText(markdown string) string {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	if err := r.md.Convert([]byte(markdown), buf); err != nil {
		return markdown
	}
	// Keep block boundaries as spaces so words from adjacent blocks don't fuse.
	s := strings.NewReplacer("</p>", " </p>", "</li>", " </li>", "</h1>", " </h1>", "</h2>", " </h2>", "</h3>", " </h3>", "<br>", " ").Replace(buf.String())
	s = html.UnescapeString(r.strip.Sanitize(s))
	return strings.Join(strings.Fields(s), " ")
}
