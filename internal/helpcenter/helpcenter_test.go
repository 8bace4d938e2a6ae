package helpcenter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/kb"
)

// fakeArticles is an in-memory ArticleSource. err, when set, is returned
// by every method.
type fakeArticles struct {
	arts []kb.Article
	err  error
}

func (f *fakeArticles) Get(_ context.Context, slug string, _ bool) (kb.Article, error) {
	if f.err != nil {
		return kb.Article{}, f.err
	}
	for _, a := range f.arts {
		if a.Slug == slug {
			return a, nil
		}
	}
	return kb.Article{}, kb.ErrNotFound
}

func (f *fakeArticles) List(_ context.Context, category string, _ bool) ([]kb.Article, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []kb.Article
	for _, a := range f.arts {
		if category == "" || a.Category == category || kb.CategorySlug(a.Category) == category {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeArticles) Categories(context.Context) ([]kb.Category, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []kb.Category
	for _, a := range f.arts {
		i := slices.IndexFunc(out, func(c kb.Category) bool { return c.Name == a.Category })
		if i < 0 {
			out = append(out, kb.Category{Name: a.Category, Slug: kb.CategorySlug(a.Category)})
			i = len(out) - 1
		}
		out[i].Count++
	}
	slices.SortFunc(out, func(a, b kb.Category) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// fakeSearch answers every query with the hits whose title or slug
// contains the query's first word, filtered by category; it records the
// queries it was asked.
type fakeSearch struct {
	arts    []kb.Article
	snippet func(a kb.Article) string
	err     error
	asked   []faq.Query
}

func (f *fakeSearch) Search(_ context.Context, q faq.Query) (faq.Results, error) {
	f.asked = append(f.asked, q)
	if f.err != nil {
		return faq.Results{}, f.err
	}
	word := strings.ToLower(strings.Fields(q.Text)[0])
	res := faq.Results{Query: q.Text, Results: []faq.Hit{}}
	for _, a := range f.arts {
		if !strings.Contains(strings.ToLower(a.Title), word) && !strings.Contains(a.Slug, word) {
			continue
		}
		slug := kb.CategorySlug(a.Category)
		i := slices.IndexFunc(res.Categories, func(c faq.FacetCount) bool { return c.Slug == slug })
		if i < 0 {
			res.Categories = append(res.Categories, faq.FacetCount{Name: a.Category, Slug: slug})
			i = len(res.Categories) - 1
		}
		res.Categories[i].Count++
		if q.Category != "" && q.Category != slug && q.Category != a.Category {
			continue
		}
		s := "About <mark>" + word + "</mark> &amp; more"
		if f.snippet != nil {
			s = f.snippet(a)
		}
		res.Results = append(res.Results, faq.Hit{Slug: a.Slug, Title: a.Title, Category: a.Category, Snippet: s, URL: kb.URL(a.Slug)})
	}
	res.Total = len(res.Results)
	return res, nil
}

var testArticles = []kb.Article{
	{Slug: "return-policy", Title: "How do returns work?", Category: "Returns & Refunds",
		Body: "Returning is easy.\n\n### The basics\n\nYou have **2 years**.\n\n### How to start\n\nCall us.\n", Published: true,
		UpdatedAt: time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)},
	{Slug: "refund-timing", Title: "When will I get my refund?", Category: "Returns & Refunds", Body: "Refunds take 7 to 14 days.", Published: true},
	{Slug: "restocking-fee", Title: "Is there a restocking fee?", Category: "Returns & Refunds", Body: "No.", Published: true},
	{Slug: "track-my-order", Title: "How do I track my order?", Category: "Order Tracking", Body: "Use the link in your email.", Published: true},
}

var testDepartments = []Department{
	{Name: "Customer Service", Phone: "800-465-5387", Email: "support@example.com", Note: "Orders, shipping, returns and product questions."},
	{Name: "Corporate Sales", Phone: "866-465-2583", Email: "corporate@example.com", Note: "Volume pricing and business accounts."},
}

type harness struct {
	app      *fiber.App
	articles *fakeArticles
	search   *fakeSearch
	pages    *Pages
}

func newHarness(t *testing.T, arts []kb.Article) *harness {
	t.Helper()
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	weekly, err := hours.Parse(hours.DefaultSpec)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{articles: &fakeArticles{arts: arts}, search: &fakeSearch{arts: arts}}
	h.pages, err = New(Options{
		Articles:    h.articles,
		Search:      h.search,
		Render:      kb.NewRenderer(),
		Departments: testDepartments,
		Hours:       weekly,
		Location:    la,
		SiteName:    "4inkjets",
		Logger:      slog.New(slog.DiscardHandler),
		Now:         func() time.Time { return time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.app = fiber.New()
	h.app.Get("/", h.pages.Home)
	h.app.Get("/search", h.pages.Search)
	h.app.Get("/kb/category/:slug", h.pages.Category)
	h.app.Get("/kb/:slug", h.pages.Article)
	h.app.Get("/static/*", h.pages.Assets)
	return h
}

func (h *harness) get(t *testing.T, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := h.app.Test(req, -1)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestPages(t *testing.T) {
	h := newHarness(t, testArticles)
	tests := []struct {
		name       string
		target     string
		wantStatus int
		want       []string
		wantNot    []string
	}{
		{
			name: "home", target: "/", wantStatus: 200,
			want: []string{
				"<h1 id=\"hero-title\">How can we help?</h1>",
				`<a href="/kb/category/returns-refunds">Returns &amp; Refunds</a>`, "3 articles",
				`<a href="/kb/category/order-tracking">Order Tracking</a>`, "1 article<",
				`id="contact"`, "Customer Service", `href="tel:&#43;18004655387"`, `href="mailto:support@example.com"`,
				"Corporate Sales", "866-465-2583",
				"Customer service hours: Mon–Fri 6:00\u00a0AM–6:00\u00a0PM; Sat–Sun 7:00\u00a0AM–4:00\u00a0PM PT",
				`data-status hidden`, `data-suggest`, `action="/search"`,
				"helpcenter/suggest.js?v=", "helpcenter/status.js?v=",
			},
			// The home page has the big search box, not the header one.
			wantNot: []string{`id="header-q"`},
		},
		{
			name: "article", target: "/kb/return-policy", wantStatus: 200,
			want: []string{
				"<title>How do returns work? · 4inkjets Help Center</title>",
				`<nav class="breadcrumb" aria-label="Breadcrumb">`,
				`<a href="/kb/category/returns-refunds">Returns &amp; Refunds</a>`,
				`<span aria-current="page">How do returns work?</span>`,
				"<h1>How do returns work?</h1>",
				"<strong>2 years</strong>",
				"Updated March 2, 2026",
				`data-feedback data-slug="return-policy" hidden`, ">Yes</button>", ">No</button>",
				"Related articles", `<a href="/kb/refund-timing">When will I get my refund?</a>`,
				`id="header-q"`, "helpcenter/feedback.js?v=",
			},
			// Related articles are from the same category, never the article itself.
			wantNot: []string{`<a href="/kb/track-my-order">`, `<li><a href="/kb/return-policy">`},
		},
		{
			name: "category", target: "/kb/category/returns-refunds", wantStatus: 200,
			want: []string{
				"<h1>Returns &amp; Refunds</h1>", "3 articles",
				`<a href="/kb/return-policy">How do returns work?</a>`,
				`<a href="/kb/restocking-fee">Is there a restocking fee?</a>`,
				"Refunds take 7 to 14 days.",
			},
			wantNot: []string{"How do I track my order?"},
		},
		{
			name: "search", target: "/search?q=refund", wantStatus: 200,
			want: []string{
				`value="refund"`, "1 article matches “refund”",
				`<a href="/kb/refund-timing">When will I get my refund?</a>`,
				"About <mark>refund</mark> &amp; more",
				`<a href="/search?q=refund" aria-current="page">All topics`,
				`<a href="/search?category=returns-refunds&amp;q=refund">Returns &amp; Refunds <span class="count">1</span>`,
			},
		},
		{
			name: "search filtered by category", target: "/search?q=how&category=order-tracking", wantStatus: 200,
			want: []string{
				"1 article in Order Tracking matches “how”",
				`<a href="/search?category=order-tracking&amp;q=how" aria-current="page">Order Tracking <span class="count">1</span>`,
				// Other categories stay on offer with their unfiltered counts.
				`<a href="/search?category=returns-refunds&amp;q=how">Returns &amp; Refunds <span class="count">1</span>`,
				`<a href="/search?q=how">All topics <span class="count">2</span>`,
				`<a href="/kb/track-my-order">`,
			},
			wantNot: []string{`<a href="/kb/return-policy">How do returns work?`},
		},
		{
			name: "search without results", target: "/search?q=zebra", wantStatus: 200,
			want: []string{"No articles match “zebra”", `<a href="/#contact">contact our support team</a>`, "tel:&#43;18004655387", "Browse by topic"},
		},
		{
			name: "blank search asks for a query", target: "/search?q=++", wantStatus: 200,
			want:    []string{"Search the help center", "Type a question", "Or browse by topic"},
			wantNot: []string{"match"},
		},
		{
			name: "search with no parameters", target: "/search", wantStatus: 200,
			want: []string{"Search the help center"},
		},
		{
			name: "too long a query", target: "/search?q=" + strings.Repeat("a", faq.MaxQueryLen+1), wantStatus: 400,
			want: []string{"That search is too long"},
		},
		{
			name: "unknown article", target: "/kb/no-such-article", wantStatus: 404,
			want: []string{"We couldn’t find that page", `role="search"`, "Browse by topic"},
		},
		{
			name: "unknown category", target: "/kb/category/no-such-topic", wantStatus: 404,
			want: []string{"We couldn’t find that page"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := h.get(t, tt.target)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
			checkAccessible(t, body)
			checkNoInlineCode(t, body)
		})
	}
}

var (
	headingRE  = regexp.MustCompile(`<h([1-6])[\s>]`)
	inlineJSRE = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|javascript:`)
	inlineCSRE = regexp.MustCompile(`(?i)<style|\sstyle\s*=`)
)

// checkAccessible checks what every page must have: a language, a
// viewport, a skip link to the main landmark, a labelled search form, and
// headings that start at one <h1> and never skip a level on the way down.
func checkAccessible(t *testing.T, body string) {
	t.Helper()
	for _, w := range []string{
		`<html lang="en">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<a class="skip-link" href="#main">`, `<main id="main"`,
		`role="search"`, `aria-label="Search help articles"`, `<label class="visually-hidden" for="`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	var levels []int
	for _, m := range headingRE.FindAllStringSubmatch(body, -1) {
		levels = append(levels, int(m[1][0]-'0'))
	}
	if len(levels) == 0 || levels[0] != 1 {
		t.Fatalf("headings %v: want the first to be h1", levels)
	}
	for i := 1; i < len(levels); i++ {
		if levels[i] == 1 {
			t.Errorf("headings %v: more than one h1", levels)
		}
		if levels[i] > levels[i-1]+1 {
			t.Errorf("headings %v: h%d follows h%d", levels, levels[i], levels[i-1])
		}
	}
}

// checkNoInlineCode fails on anything the Content-Security-Policy would
// block: inline scripts, event-handler attributes, javascript: URLs, and
// inline styles.
func checkNoInlineCode(t *testing.T, body string) {
	t.Helper()
	if m := inlineJSRE.FindString(body); m != "" {
		t.Errorf("page has inline script %q", m)
	}
	if m := inlineCSRE.FindString(body); m != "" {
		t.Errorf("page has inline style %q", m)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t, testArticles)
	for _, target := range []string{"/", "/kb/return-policy", "/kb/category/order-tracking", "/search?q=refund", "/search", "/kb/missing"} {
		res, _ := h.get(t, target)
		for name, want := range map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "strict-origin-when-cross-origin",
			"X-Frame-Options":         "DENY",
		} {
			if got := res.Header.Get(name); got != want {
				t.Errorf("GET %s: %s = %q, want %q", target, name, got, want)
			}
		}
	}
	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, directive+";") && !strings.HasSuffix(ContentSecurityPolicy, directive) {
			t.Errorf("policy lacks %q", directive)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Errorf("policy allows something unsafe: %s", ContentSecurityPolicy)
	}
}

func TestEscaping(t *testing.T) {
	evil := []kb.Article{{
		Slug:     "evil",
		Title:    `<script>alert("title")</script>`,
		Category: `Bad <script>alert("category")</script>`,
		Body:     "Hello <script>alert('body')</script> <img src=x onerror=alert(1)>\n\n[click](javascript:alert(1))\n",
	}}
	h := newHarness(t, evil)
	h.search.snippet = func(kb.Article) string { return `safe <mark>evil</mark> text &lt;b&gt;` }
	catSlug := kb.CategorySlug(evil[0].Category)
	for _, target := range []string{"/", "/kb/evil", "/kb/category/" + catSlug, "/search?q=evil", `/search?q=<script>alert("q")</script>`} {
		t.Run(target, func(t *testing.T) {
			res, body := h.get(t, target)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "onerror") || strings.Contains(body, "javascript:") {
				t.Errorf("unescaped markup in page:\n%s", body)
			}
			if !strings.Contains(body, "&lt;script&gt;alert(") {
				t.Errorf("page does not show the escaped text")
			}
		})
	}
	_, body := h.get(t, "/search?q=evil")
	if !strings.Contains(body, `safe <mark>evil</mark> text &lt;b&gt;`) {
		t.Errorf("the snippet's <mark> did not survive:\n%s", body)
	}

	// A snippet that breaks faq's promise is escaped whole.
	h.search.snippet = func(kb.Article) string { return `<mark>evil</mark><img src=x onerror=alert(1)>` }
	_, body = h.get(t, "/search?q=evil")
	if strings.Contains(body, "<img") || !strings.Contains(body, "&lt;mark&gt;evil&lt;/mark&gt;&lt;img") {
		t.Errorf("a bad snippet was not escaped:\n%s", body)
	}
}

func TestSearchQueries(t *testing.T) {
	h := newHarness(t, testArticles)
	h.get(t, "/search?q=++refund+&category=returns-refunds")
	want := []faq.Query{
		{Text: "refund", Limit: searchLimit},
		{Text: "refund", Category: "returns-refunds", Limit: searchLimit},
	}
	if !slices.Equal(h.search.asked, want) {
		t.Errorf("searched %+v, want %+v", h.search.asked, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		articleErr error
		searchErr  error
		target     string
		wantStatus int
		want       string
	}{
		{name: "database down on home", articleErr: apperr.Internal("kb: categories", errors.New("disk on fire")), target: "/", wantStatus: 500, want: "Something went wrong on our side"},
		{name: "database down on article", articleErr: apperr.Internal("kb: get", errors.New("disk on fire")), target: "/kb/return-policy", wantStatus: 500, want: "Something went wrong on our side"},
		{name: "index down", searchErr: errors.New("bleve: disk on fire"), target: "/search?q=refund", wantStatus: 500, want: "Something went wrong on our side"},
		{name: "index rejects the query", searchErr: apperr.Invalid("query has too many words"), target: "/search?q=refund", wantStatus: 400, want: "query has too many words"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testArticles)
			h.articles.err, h.search.err = tt.articleErr, tt.searchErr
			res, body := h.get(t, tt.target)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if !strings.Contains(body, tt.want) {
				t.Errorf("page lacks %q", tt.want)
			}
			if strings.Contains(body, "disk on fire") {
				t.Errorf("page leaks the internal cause")
			}
			if res.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("error page has no CSP")
			}
		})
	}
}

func TestAssets(t *testing.T) {
	h := newHarness(t, testArticles)
	tests := []struct {
		path     string
		wantType string
	}{
		{"helpcenter/helpcenter.css", "text/css; charset=utf-8"},
		{"helpcenter/suggest.js", "text/javascript; charset=utf-8"},
		{"helpcenter/status.js", "text/javascript; charset=utf-8"},
		{"helpcenter/feedback.js", "text/javascript; charset=utf-8"},
		{"helpcenter/favicon.svg", "image/svg+xml"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			versioned, err := h.pages.assets.URL(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			res, body := h.get(t, versioned)
			if res.StatusCode != 200 || body == "" {
				t.Fatalf("GET %s: status %d, %d bytes", versioned, res.StatusCode, len(body))
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
				t.Errorf("versioned Cache-Control = %q, want immutable", got)
			}

			res, _ = h.get(t, "/static/"+tt.path)
			if got := res.Header.Get("Cache-Control"); got != "public, no-cache" {
				t.Errorf("unversioned Cache-Control = %q", got)
			}
			etag := res.Header.Get("ETag")
			res, _ = h.get(t, "/static/"+tt.path, "If-None-Match", etag)
			if res.StatusCode != http.StatusNotModified {
				t.Errorf("revalidation: status %d, want 304", res.StatusCode)
			}
		})
	}
	for _, missing := range []string{"/static/helpcenter/nope.js", "/static/../templates/helpcenter/layout.html", "/static/", "/static/helpcenter"} {
		if res, _ := h.get(t, missing); res.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 404", missing, res.StatusCode)
		}
	}
}

// TestPageAssetsResolve follows every /static/ link in every page, so a
// renamed file cannot leave a page without its CSS or scripts.
func TestPageAssetsResolve(t *testing.T) {
	h := newHarness(t, testArticles)
	ref := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	seen := map[string]bool{}
	for _, target := range []string{"/", "/kb/return-policy", "/kb/category/order-tracking", "/search?q=refund", "/kb/missing"} {
		_, body := h.get(t, target)
		for _, m := range ref.FindAllStringSubmatch(body, -1) {
			u := strings.ReplaceAll(m[1], "&amp;", "&")
			if seen[u] {
				continue
			}
			seen[u] = true
			if res, _ := h.get(t, u); res.StatusCode != 200 {
				t.Errorf("%s links %s, which answers %d", target, u, res.StatusCode)
			}
		}
	}
	if len(seen) < 5 {
		t.Errorf("found only %d asset links: %v", len(seen), seen)
	}
}

func TestSafeSnippet(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a <mark>b</mark> c &amp; d", "a <mark>b</mark> c &amp; d"},
		{"&lt;script&gt; <mark>x</mark>", "&lt;script&gt; <mark>x</mark>"},
		{"<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"},
		{"<mark>ok</mark><script>x</script>", "&lt;mark&gt;ok&lt;/mark&gt;&lt;script&gt;x&lt;/script&gt;"},
		{"<mark onclick=x>a</mark>", "&lt;mark onclick=x&gt;a&lt;/mark&gt;"},
		{"a < b", "a &lt; b"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(safeSnippet(tt.in)); got != tt.want {
			t.Errorf("safeSnippet(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTelURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"800-465-5387", "tel:+18004655387"},
		{"(866) 465-2583", "tel:+18664652583"},
		{"+44 20 7946 0958", "tel:+442079460958"},
		{"1-800-465-5387", "tel:18004655387"},
		{"call us", ""},
		{`800"><script>`, "tel:800"},
	}
	for _, tt := range tests {
		if got := string(telURL(tt.in)); got != tt.want {
			t.Errorf("telURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHoursText(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	tests := []struct {
		spec string
		loc  *time.Location
		want string
	}{
		{hours.DefaultSpec, la, "Mon–Fri 6:00\u00a0AM–6:00\u00a0PM; Sat–Sun 7:00\u00a0AM–4:00\u00a0PM PT"},
		{"Mon-Sun 00:00-24:00", time.UTC, "24 hours a day, 7 days a week"},
		{"Mon-Fri 00:00-24:00", time.UTC, "Mon–Fri 24 hours UTC"},
		{"Mon-Fri 09:00-12:00, Mon-Fri 13:30-17:00", tokyo, "Mon–Fri 9:00\u00a0AM–noon, 1:30\u00a0PM–5:00\u00a0PM JST"},
		{"Tue 08:00-20:00, Thu 08:00-20:00", la, "Tue 8:00\u00a0AM–8:00\u00a0PM; Thu 8:00\u00a0AM–8:00\u00a0PM PT"},
		{"", la, ""},
	}
	for _, tt := range tests {
		var w hours.Weekly
		if tt.spec != "" {
			var err error
			if w, err = hours.Parse(tt.spec); err != nil {
				t.Fatal(err)
			}
		}
		p := &Pages{hours: w, loc: tt.loc, now: func() time.Time { return time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC) }}
		if got := p.hoursText(); got != tt.want {
			t.Errorf("hoursText(%q) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

func TestArticleBodyHeadings(t *testing.T) {
	p := &Pages{render: kb.NewRenderer()}
	tests := []struct{ md, want string }{
		{"### A\n\ntext\n\n#### B\n", "<h2 id=\"a\">A</h2>|<h3 id=\"b\">B</h3>"},
		{"# Top\n\n## Sub\n", "<h2 id=\"top\">Top</h2>|<h3 id=\"sub\">Sub</h3>"},
		{"## Already\n", "<h2 id=\"already\">Already</h2>"},
		{"no headings, 1 < 3 <h3>", "<p>no headings, 1 &lt; 3"},
	}
	for _, tt := range tests {
		got := string(p.articleBody(tt.md))
		for _, w := range strings.Split(tt.want, "|") {
			// The renderer may or may not add ids; compare tags only.
			w = regexp.MustCompile(` id="[^"]*"`).ReplaceAllString(w, "")
			g := regexp.MustCompile(` id="[^"]*"`).ReplaceAllString(got, "")
			if !strings.Contains(g, w) {
				t.Errorf("articleBody(%q) = %q, want it to contain %q", tt.md, got, w)
			}
		}
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without dependencies succeeded")
	}
}

func ExamplePages_routes() {
	// How the pages are meant to be routed (the real list is in
	// internal/server/routes.go).
	app := fiber.New()
	pages, err := New(Options{Articles: &fakeArticles{}, Search: &fakeSearch{}, Render: kb.NewRenderer()})
	if err != nil {
		panic(err)
	}
	app.Get("/", pages.Home)
	app.Get("/search", pages.Search)
	app.Get("/kb/category/:slug", pages.Category)
	app.Get("/kb/:slug", pages.Article)
	app.Get("/static/*", pages.Assets)
	fmt.Println(len(app.GetRoutes()) > 0)
	// Output: true
}
