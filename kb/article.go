// Package kb is the shop's knowledge base: help-center articles stored in
// SQLite, with a starter set embedded in the binary, the public and admin
// article API, and "was this helpful?" feedback.
//
// Articles are written in Markdown. The Markdown is the source of truth;
// HTML is rendered on the way out and always passes through a sanitizer.
// Search over articles lives in package faq, which keeps its index in step
// through the Indexer interface declared here.
package kb

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
)

// Article is one help-center article.
type Article struct {
	ID         int64     `json:"-"`
	Slug       string    `json:"slug"`
	Title      string    `json:"title"`
	Category   string    `json:"category"`
	Body       string    `json:"body"` // Markdown
	Tags       []string  `json:"tags"`
	Published  bool      `json:"published"`
	HelpfulYes int       `json:"-"`
	HelpfulNo  int       `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Category is a browseable group of published articles.
type Category struct {
	Name  string `json:"name"`
	Slug  string `json:"slug"`
	Count int    `json:"count"`
}

// Input holds the fields an admin sets when creating an article.
type Input struct {
	Slug      string   `json:"slug"`
	Title     string   `json:"title"`
	Category  string   `json:"category"`
	Body      string   `json:"body"`
	Tags      []string `json:"tags"`
	Published *bool    `json:"published"` // nil means published
}

// Patch holds the fields an admin may change; nil fields stay as they are.
type Patch struct {
	Title     *string   `json:"title"`
	Category  *string   `json:"category"`
	Body      *string   `json:"body"`
	Tags      *[]string `json:"tags"`
	Published *bool     `json:"published"`
}

// Limits on article fields. They keep one article small enough to index and
// render quickly, and bound what an admin request can make us store.
const (
	MaxSlugLen     = 100
	MaxTitleLen    = 200
	MaxCategoryLen = 80
	MaxBodyBytes   = 100 << 10
	MaxTags        = 20
	MaxTagLen      = 40
)

// Errors returned by the service.
var (
	ErrNotFound    = apperr.NotFound("article not found")
	ErrSlugTaken   = apperr.New(apperr.KindConflict, "an article with this slug already exists")
	ErrVoteTooSoon = apperr.New(apperr.KindTooMany, "feedback for this article was already recorded from this client")
	ErrVoteLimit   = apperr.New(apperr.KindTooMany, "too much feedback from this client; try again later")
)

var slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// ValidSlug reports whether s is a well-formed article slug.
func ValidSlug(s string) bool {
	return len(s) <= MaxSlugLen && slugRE.MatchString(s)
}

// CategorySlug turns a category name into its URL form:
// "Shipping & Delivery" becomes "shipping-delivery".
func CategorySlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func validateText(field, v string, maxLen int) error {
	if strings.TrimSpace(v) == "" {
		return apperr.Invalid("%s is required", field)
	}
	if !utf8.ValidString(v) {
		return apperr.Invalid("%s is not valid UTF-8", field)
	}
	if utf8.RuneCountInString(v) > maxLen {
		return apperr.Invalid("%s is longer than %d characters", field, maxLen)
	}
	if strings.ContainsAny(v, "\x00\r\n") {
		return apperr.Invalid("%s must be a single line", field)
	}
	return nil
}

func validateBody(v string) error {
	if strings.TrimSpace(v) == "" {
		return apperr.Invalid("body is required")
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return apperr.Invalid("body is not valid UTF-8 text")
	}
	if len(v) > MaxBodyBytes {
		return apperr.Invalid("body is larger than %d KiB", MaxBodyBytes>>10)
	}
	return nil
}

// normalizeTags lower-cases, trims and de-duplicates tags, keeping order.
func normalizeTags(in []string) ([]string, error) {
	if len(in) > MaxTags {
		return nil, apperr.Invalid("at most %d tags", MaxTags)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		if err := validateText("tag", t, MaxTagLen); err != nil {
			return nil, err
		}
		seen[t] = true
		out = append(out, t)
	}
	return out, nil
}

func (in *Input) validate() (Article, error) {
	a := Article{
		Slug:      strings.TrimSpace(in.Slug),
		Title:     strings.TrimSpace(in.Title),
		Category:  strings.TrimSpace(in.Category),
		Body:      in.Body,
		Published: in.Published == nil || *in.Published,
	}
	if !ValidSlug(a.Slug) {
		return a, apperr.Invalid("slug must be 1-%d lowercase letters, digits and single hyphens", MaxSlugLen)
	}
	if err := validateText("title", a.Title, MaxTitleLen); err != nil {
		return a, err
	}
	if err := validateText("category", a.Category, MaxCategoryLen); err != nil {
		return a, err
	}
	if err := validateBody(a.Body); err != nil {
		return a, err
	}
	tags, err := normalizeTags(in.Tags)
	if err != nil {
		return a, err
	}
	a.Tags = tags
	return a, nil
}

// apply validates p and applies it to a.
func (p *Patch) apply(a *Article) error {
	if p.Title != nil {
		t := strings.TrimSpace(*p.Title)
		if err := validateText("title", t, MaxTitleLen); err != nil {
			return err
		}
		a.Title = t
	}
	if p.Category != nil {
		c := strings.TrimSpace(*p.Category)
		if err := validateText("category", c, MaxCategoryLen); err != nil {
			return err
		}
		a.Category = c
	}
	if p.Body != nil {
		if err := validateBody(*p.Body); err != nil {
			return err
		}
		a.Body = *p.Body
	}
	if p.Tags != nil {
		tags, err := normalizeTags(*p.Tags)
		if err != nil {
			return err
		}
		a.Tags = tags
	}
	if p.Published != nil {
		a.Published = *p.Published
	}
	return nil
}
