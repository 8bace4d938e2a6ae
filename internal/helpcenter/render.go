package helpcenter

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/hours"
	"github.com/printshop/helpdesk/kb"
)

// ContentSecurityPolicy is sent with every page. It allows nothing inline
// and nothing from another origin: scripts and styles come from /static/,
// fetches go to our own API (connect-src 'self' also covers a same-origin
// websocket), forms post only to us, and no one may frame the pages.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageNames are the templates under templates/helpcenter/, each combined
// with layout.html.
var pageNames = []string{"home", "article", "category", "search", "error"}

func parseTemplates(fsys fs.FS, funcs template.FuncMap) (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, "helpcenter/layout.html", "helpcenter/"+name+".html")
		if err != nil {
			return nil, err
		}
		if t.Lookup("layout") == nil || t.Lookup("content") == nil {
			return nil, fmt.Errorf("page %s: missing the layout or content template", name)
		}
		out[name] = t
	}
	return out, nil
}

func (p *Pages) templateFuncs() template.FuncMap {
	return template.FuncMap{
		"asset":       p.assets.URL,
		"tel":         telURL,
		"categoryURL": categoryURL,
		"articleURL":  kb.URL,
		"plural":      plural,
	}
}

// layout is what every page template shares.
type layout struct {
	Site         string
	Title        string // page title; the <title> adds the site name
	Description  string
	HeaderSearch bool     // show the compact search form in the header
	Query        string   // pre-fills the search boxes
	Scripts      []string // ES modules under /static/, by asset name
	HoursText    string   // posted support hours, or ""
}

func (p *Pages) layout(title string) layout {
	return layout{Site: p.site, Title: title, HoursText: p.hoursText()}
}

// page renders the named page with status and sends it. The page is
// rendered into a buffer first, so a template failure never sends half a
// page; it is logged and answered with a bare 500.
func (p *Pages) page(c *fiber.Ctx, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		p.log.ErrorContext(c.UserContext(), "helpcenter: render page", "page", name, "err", err)
		setPageHeaders(c)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(fiber.StatusInternalServerError).SendString("Sorry, something went wrong on our side. Please try again in a moment.")
	}
	setPageHeaders(c)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

func setPageHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentSecurityPolicy, ContentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "strict-origin-when-cross-origin")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderCacheControl, "no-cache")
}

// categoryURL is the help-center address of the category with this name.
func categoryURL(name string) string { return "/kb/category/" + kb.CategorySlug(name) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// telURL turns a printed phone number into a tel: link. html/template
// refuses tel: URLs given as strings, so the result is a template.URL; it
// is built only from digits and a leading "+", so it cannot carry anything
// else. Ten-digit numbers are North American and get +1.
func telURL(phone string) template.URL {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	digits := b.String()
	switch {
	case digits == "":
		return ""
	case strings.HasPrefix(strings.TrimSpace(phone), "+"):
		digits = "+" + digits
	case len(digits) == 10:
		digits = "+1" + digits
	}
	return template.URL("tel:" + digits) //nolint:gosec // digits and "+" only
}

// safeSnippet returns a search snippet as HTML. Package faq promises
// escaped text with <mark> and </mark> as the only tags; this checks the
// promise and falls back to escaping the whole snippet if it is broken, so
// a bug there cannot become script here.
func safeSnippet(s string) template.HTML {
	rest := s
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			return template.HTML(s) //nolint:gosec // checked above: no tag but <mark>
		}
		rest = rest[i:]
		switch {
		case strings.HasPrefix(rest, "<mark>"):
			rest = rest[len("<mark>"):]
		case strings.HasPrefix(rest, "</mark>"):
			rest = rest[len("</mark>"):]
		default:
			return template.HTML(template.HTMLEscapeString(s)) //nolint:gosec // escaped
		}
	}
}

var headingTag = regexp.MustCompile(`<(/?)h([1-6])([\s>])`)

// articleBody renders an article and renumbers its headings so that the
// highest one is an <h2>: the page's <h1> is the article title, and
// authors write "###" for sections, which would otherwise skip a level.
// Matching tags in sanitized HTML is safe: the sanitizer escapes every "<"
// that is not the start of a tag.
func (p *Pages) articleBody(markdown string) template.HTML {
	h := string(p.render.HTML(markdown))
	top := 7
	for _, m := range headingTag.FindAllStringSubmatch(h, -1) {
		top = min(top, int(m[2][0]-'0'))
	}
	if top == 7 || top == 2 {
		return template.HTML(h) //nolint:gosec // sanitized by kb.Renderer
	}
	shift := 2 - top
	h = headingTag.ReplaceAllStringFunc(h, func(tag string) string {
		m := headingTag.FindStringSubmatch(tag)
		level := min(max(int(m[2][0]-'0')+shift, 2), 6)
		return "<" + m[1] + "h" + strconv.Itoa(level) + m[3]
	})
	return template.HTML(h) //nolint:gosec // sanitized by kb.Renderer; only tag names changed
}

// summary is the start of an article's text, cut at a word boundary.
func (p *Pages) summary(markdown string, maxLen int) string {
	s := p.render.PlainText(markdown)
	if utf8.RuneCountInString(s) <= maxLen {
		return s
	}
	cut := 0
	for i := range s {
		if utf8.RuneCountInString(s[:i]) > maxLen {
			break
		}
		if s[i] == ' ' {
			cut = i
		}
	}
	if cut == 0 {
		return s
	}
	return strings.TrimRight(s[:cut], " ,;:.-–—") + "…"
}

// weekOrder lists days the way the shop posts its hours, Monday first.
var weekOrder = [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// hoursText formats the posted hours for people, for example
// "Mon–Fri 6:00 AM–6:00 PM, Sat–Sun 7:00 AM–4:00 PM PT". Days closed all day
// are left out. It returns "" when no hours are configured.
func (p *Pages) hoursText() string {
	var groups []string
	for i := 0; i < len(weekOrder); {
		ranges := p.hours.Ranges(weekOrder[i])
		j := i + 1
		for j < len(weekOrder) && equalRanges(p.hours.Ranges(weekOrder[j]), ranges) {
			j++
		}
		if len(ranges) > 0 {
			days := weekOrder[i].String()[:3]
			if j-1 > i {
				days += "–" + weekOrder[j-1].String()[:3]
			}
			var rs []string
			for _, r := range ranges {
				if r.Start == 0 && r.End == 24*60 {
					rs = append(rs, "24 hours")
					continue
				}
				rs = append(rs, clock(r.Start)+"–"+clock(r.End))
			}
			groups = append(groups, days+" "+strings.Join(rs, ", "))
		}
		i = j
	}
	switch {
	case len(groups) == 0:
		return ""
	case len(groups) == 1 && groups[0] == "Mon–Sun 24 hours":
		return "24 hours a day, 7 days a week"
	}
	return strings.Join(groups, "; ") + " " + zoneName(p.now().In(p.loc))
}

func equalRanges(a, b []hours.Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clock formats minutes since midnight as "6:00 AM" (with a no-break
// space); 0 and 24:00 are
// "midnight", 12:00 is "noon".
func clock(m int) string {
	switch m {
	case 0, 24 * 60:
		return "midnight"
	case 12 * 60:
		return "noon"
	}
	h, suffix := m/60, "AM"
	if h >= 12 {
		suffix = "PM"
	}
	if h = h % 12; h == 0 {
		h = 12
	}
	return fmt.Sprintf("%d:%02d\u00a0%s", h, m%60, suffix) // no line break before AM/PM
}

// zoneName is a short name for t's zone. North American zones get their
// season-neutral name ("PT" rather than PST or PDT) so that the printed
// hours are right all year; others keep their abbreviation, and zones
// without a letter abbreviation are written as an offset from UTC.
func zoneName(t time.Time) string {
	abbr := t.Format("MST")
	switch abbr {
	case "PST", "PDT":
		return "PT"
	case "MST", "MDT":
		return "MT"
	case "CST", "CDT":
		return "CT"
	case "EST", "EDT":
		return "ET"
	case "AKST", "AKDT":
		return "AKT"
	}
	if abbr != "" && (abbr[0] == '+' || abbr[0] == '-') {
		return "(UTC" + abbr + ")"
	}
	return abbr
}
