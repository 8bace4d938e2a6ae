package helpcenter

import (
	"html/template"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/kb"
)

// Page sizes.
const (
	searchLimit  = 20 // results on the search page
	relatedLimit = 5  // related articles under an article
	summaryLen   = 160
)

type homeView struct {
	layout
	Categories  []kb.Category
	Departments []Department
}

type articleView struct {
	layout
	Article     kb.Article
	Body        template.HTML
	CategoryURL string
	Updated     string
	Related     []kb.Article
}

type categoryView struct {
	layout
	Category kb.Category
	Articles []articleSummary
}

type articleSummary struct {
	Title, URL, Summary string
}

type searchView struct {
	layout
	Blank        bool   // no query: ask for one
	Problem      string // a query we could not run, said for the customer
	Category     string // the filter as given
	CategoryName string // the filter's display name, when it matched a facet
	Total        int    // results for the current filter
	AllTotal     int    // results across all categories
	AllURL       string // the query without a filter
	Hits         []hitView
	Facets       []facetView
	Categories   []kb.Category // for the blank and no-results states
	Departments  []Department
}

type hitView struct {
	Title, URL, Category, CategoryURL string
	Snippet                           template.HTML
}

type facetView struct {
	Name    string
	Count   int
	URL     string
	Current bool
}

type errorView struct {
	layout
	Heading, Message string
	Categories       []kb.Category
}

// Home answers GET /: the search box, the topics and the contact section.
func (p *Pages) Home(c *fiber.Ctx) error {
	cats, err := p.articles.Categories(c.UserContext())
	if err != nil {
		return p.fail(c, "list categories", err)
	}
	v := homeView{layout: p.layout(""), Categories: cats, Departments: p.depts}
	v.Description = "Answers about orders, shipping, returns and ink cartridges, and how to reach our support team."
	v.Scripts = []string{"helpcenter/suggest.js", "helpcenter/status.js"}
	return p.page(c, fiber.StatusOK, "home", v)
}

// Article answers GET /kb/:slug. An unknown or unpublished slug is the
// not-found page.
func (p *Pages) Article(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := p.articles.Get(ctx, utils.CopyString(c.Params("slug")), false)
	if apperr.KindOf(err) == apperr.KindNotFound {
		return p.NotFound(c)
	}
	if err != nil {
		return p.fail(c, "get article", err)
	}
	same, err := p.articles.List(ctx, a.Category, false)
	if err != nil {
		return p.fail(c, "list related articles", err)
	}
	v := articleView{
		layout:      p.layout(a.Title),
		Article:     a,
		Body:        p.articleBody(a.Body),
		CategoryURL: categoryURL(a.Category),
	}
	if !a.UpdatedAt.IsZero() {
		v.Updated = a.UpdatedAt.In(p.loc).Format("January 2, 2006")
	}
	for _, r := range same {
		if r.Slug != a.Slug && len(v.Related) < relatedLimit {
			v.Related = append(v.Related, r)
		}
	}
	v.Description = p.summary(a.Body, summaryLen)
	v.HeaderSearch = true
	v.Scripts = []string{"helpcenter/feedback.js"}
	return p.page(c, fiber.StatusOK, "article", v)
}

// Category answers GET /kb/category/:slug with the category's articles. An
// unknown category is the not-found page.
func (p *Pages) Category(c *fiber.Ctx) error {
	ctx := c.UserContext()
	slug := c.Params("slug")
	cats, err := p.articles.Categories(ctx)
	if err != nil {
		return p.fail(c, "list categories", err)
	}
	var cat kb.Category
	for _, k := range cats {
		if k.Slug == slug {
			cat = k
			break
		}
	}
	if cat.Slug == "" {
		return p.NotFound(c)
	}
	arts, err := p.articles.List(ctx, cat.Name, false)
	if err != nil {
		return p.fail(c, "list articles", err)
	}
	v := categoryView{layout: p.layout(cat.Name), Category: cat}
	for _, a := range arts {
		v.Articles = append(v.Articles, articleSummary{Title: a.Title, URL: kb.URL(a.Slug), Summary: p.summary(a.Body, summaryLen)})
	}
	v.Category.Count = len(v.Articles)
	v.Description = "Help articles about " + cat.Name + "."
	v.HeaderSearch = true
	return p.page(c, fiber.StatusOK, "category", v)
}

// Search answers GET /search?q=TEXT[&category=SLUG], the results page that
// makes search work without JavaScript. A blank query asks for one (200);
// a query the index rejects, such as one that is too long, explains why
// (400).
func (p *Pages) Search(c *fiber.Ctx) error {
	ctx := c.UserContext()
	q := strings.TrimSpace(utils.CopyString(c.Query("q")))
	cat := strings.TrimSpace(utils.CopyString(c.Query("category")))
	v := searchView{layout: p.layout("Search"), Category: cat, Departments: p.depts}
	v.Query = q
	v.Scripts = []string{"helpcenter/suggest.js"}

	if q == "" {
		v.Blank = true
		cats, err := p.articles.Categories(ctx)
		if err != nil {
			return p.fail(c, "list categories", err)
		}
		v.Categories = cats
		return p.page(c, fiber.StatusOK, "search", v)
	}
	v.Title = "Search results for “" + q + "”"
	if len(q) > faq.MaxQueryLen {
		v.Problem = "That search is too long. Please use a few words, at most " + strconv.Itoa(faq.MaxQueryLen) + " characters."
		return p.page(c, fiber.StatusBadRequest, "search", v)
	}

	// Facets come from the unfiltered search, so that every category
	// stays on offer while a filter is applied.
	all, err := p.search.Search(ctx, faq.Query{Text: q, Limit: searchLimit})
	if err != nil {
		return p.searchFailed(c, v, err)
	}
	res := all
	if cat != "" {
		if res, err = p.search.Search(ctx, faq.Query{Text: q, Category: cat, Limit: searchLimit}); err != nil {
			return p.searchFailed(c, v, err)
		}
	}
	v.Total, v.AllTotal = res.Total, all.Total
	v.AllURL = searchURL(q, "")
	for _, f := range all.Categories {
		current := cat != "" && (f.Slug == cat || f.Name == cat)
		if current {
			v.CategoryName = f.Name
		}
		v.Facets = append(v.Facets, facetView{Name: f.Name, Count: f.Count, URL: searchURL(q, f.Slug), Current: current})
	}
	for _, h := range res.Results {
		v.Hits = append(v.Hits, hitView{
			Title:       h.Title,
			URL:         kb.URL(h.Slug),
			Category:    h.Category,
			CategoryURL: categoryURL(h.Category),
			Snippet:     safeSnippet(h.Snippet),
		})
	}
	if len(v.Hits) == 0 {
		cats, err := p.articles.Categories(ctx)
		if err != nil {
			return p.fail(c, "list categories", err)
		}
		v.Categories = cats
	}
	return p.page(c, fiber.StatusOK, "search", v)
}

// searchFailed shows the customer why a search could not run when the
// index rejected it, and treats anything else as our failure.
func (p *Pages) searchFailed(c *fiber.Ctx, v searchView, err error) error {
	if apperr.KindOf(err) == apperr.KindInvalid {
		v.Problem = apperr.PublicMessage(err)
		return p.page(c, fiber.StatusBadRequest, "search", v)
	}
	return p.fail(c, "search", err)
}

// NotFound renders the friendly not-found page with status 404. It is the
// handler for unknown articles and categories, and can serve as the
// fallback for any unknown non-API path.
func (p *Pages) NotFound(c *fiber.Ctx) error {
	v := errorView{
		layout:  p.layout("Page not found"),
		Heading: "We couldn’t find that page",
		Message: "The page you asked for may have moved or been retired. Try searching, or pick a topic below.",
	}
	if cats, err := p.articles.Categories(c.UserContext()); err == nil {
		v.Categories = cats
	}
	v.Scripts = []string{"helpcenter/suggest.js"}
	return p.page(c, fiber.StatusNotFound, "error", v)
}

// fail logs an unexpected error with the request's context and answers with
// the friendly error page, status 500. The cause never reaches the page.
func (p *Pages) fail(c *fiber.Ctx, op string, err error) error {
	p.log.ErrorContext(c.UserContext(), "helpcenter: "+op, "path", c.Path(), "err", err)
	v := errorView{
		layout:  p.layout("Something went wrong"),
		Heading: "Something went wrong on our side",
		Message: "Sorry about that. Please try again in a moment, or contact us below and we’ll help you directly.",
	}
	return p.page(c, fiber.StatusInternalServerError, "error", v)
}

// Assets answers GET /static/*: every file embedded under static/assets
// (not only the help center's), with a fixed content type, an ETag,
// nosniff, and a year-long cache for the versioned URLs the pages use.
func (p *Pages) Assets(c *fiber.Ctx) error { return p.assets.Handler(c) }

func searchURL(q, category string) string {
	v := url.Values{"q": {q}}
	if category != "" {
		v.Set("category", category)
	}
	return "/search?" + v.Encode()
}
