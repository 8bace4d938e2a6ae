// Package helpcenter serves the customers' self-service help center: the
// server-rendered HTML pages (home, article, category, search, not found)
// and the CSS and ES modules that enhance them.
//
// Every page works without JavaScript: search is a plain GET form answered
// by a server-rendered results page, and the support hours are printed in
// the page. Scripts only add to that: search-as-you-type on the search
// boxes, the live "open now" line, and the "was this helpful?" buttons, all
// talking to the public JSON API (/api/faq/search, /api/status,
// /api/kb/articles/{slug}/feedback), which this package does not implement.
//
// Pages are sent with a strict Content-Security-Policy, so templates and
// assets never use inline script or style. The only HTML that is not
// escaped by html/template is an article body, which kb.Renderer has
// already sanitized, and a search snippet, which package faq has escaped
// apart from its <mark> tags (and which this package checks again).
package helpcenter

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"time"

	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/kb"
	"github.com/printshop/helpdesk/static"
)

// ArticleSource is the part of kb.Service the pages read from.
type ArticleSource interface {
	// Get returns the article with the given slug, or kb.ErrNotFound.
	Get(ctx context.Context, slug string, includeDrafts bool) (kb.Article, error)
	// List returns the articles, optionally only those of one category
	// given by name or slug.
	List(ctx context.Context, category string, includeDrafts bool) ([]kb.Article, error)
	// Categories returns the categories of published articles with counts.
	Categories(ctx context.Context) ([]kb.Category, error)
}

// Searcher is the FAQ search index.
type Searcher interface {
	Search(ctx context.Context, q faq.Query) (faq.Results, error)
}

// Department is one team customers can reach, listed under "Contact us".
type Department struct {
	Name  string
	Phone string // as printed, e.g. "800-465-5387"; may be empty
	Email string // may be empty
	Note  string // one line, e.g. "Orders, returns and product questions"
}

// Options configures the pages. Articles, Search and Render are required.
type Options struct {
	Articles    ArticleSource
	Search      Searcher
	Render      *kb.Renderer
	Departments []Department // listed under "Contact us" in this order

	// Hours and Location are the posted support hours, printed on the
	// page so customers without JavaScript still see them. A zero Hours
	// prints nothing; a nil Location means UTC.
	Hours    hours.Weekly
	Location *time.Location

	SiteName string // the shop's name, e.g. "4inkjets"; pages say "<SiteName> Help Center"
	Logger   *slog.Logger
	Now      func() time.Time // nil means time.Now; used for the time-zone abbreviation
}

// Pages serves the help center. It is safe for concurrent use.
type Pages struct {
	articles ArticleSource
	search   Searcher
	render   *kb.Renderer
	depts    []Department
	hours    hours.Weekly
	loc      *time.Location
	site     string
	log      *slog.Logger
	now      func() time.Time

	tmpl   map[string]*template.Template // page name → layout + page
	assets *static.Server
}

// New parses the templates and loads the assets embedded in package static.
// It fails only if a required option is missing or the embedded files are
// broken, which a test of this package catches.
func New(o Options) (*Pages, error) {
	if o.Articles == nil || o.Search == nil || o.Render == nil {
		return nil, errors.New("helpcenter: Articles, Search and Render are required")
	}
	p := &Pages{
		articles: o.Articles,
		search:   o.Search,
		render:   o.Render,
		depts:    append([]Department(nil), o.Departments...),
		hours:    o.Hours,
		loc:      o.Location,
		site:     o.SiteName,
		log:      o.Logger,
		now:      o.Now,
	}
	if p.loc == nil {
		p.loc = time.UTC
	}
	if p.site == "" {
		p.site = "Our shop"
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	var err error
	if p.assets, err = static.NewServer(static.Assets()); err != nil {
		return nil, fmt.Errorf("helpcenter: %w", err)
	}
	if p.tmpl, err = parseTemplates(static.Templates(), p.templateFuncs()); err != nil {
		return nil, fmt.Errorf("helpcenter: templates: %w", err)
	}
	return p, nil
}
