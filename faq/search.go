package faq

import (
	"context"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	index "github.com/blevesearch/bleve_index_api"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/kb"
)

// Errors Search returns for bad input. All are apperr.KindInvalid.
var (
	ErrQueryRequired = apperr.New(apperr.KindInvalid, "q is required")
	ErrQueryTooLong  = apperr.Invalid("q is longer than %d bytes", MaxQueryLen)
	ErrQueryEncoding = apperr.New(apperr.KindInvalid, "q is not valid UTF-8")
	ErrLimit         = apperr.Invalid("limit must be between 1 and %d", MaxLimit)
	ErrCategory      = apperr.New(apperr.KindInvalid, "category is not a valid category name or slug")
)

// Search runs q and returns the best matches first. Blank text returns
// ErrQueryRequired; over-long or invalid text ErrQueryTooLong or
// ErrQueryEncoding; a negative limit ErrLimit; a category that cannot be a
// name or slug ErrCategory. A limit over MaxLimit is clamped. Text made only
// of stop words, or of words no article uses and nothing close to them,
// returns no results and no error. A closed index returns ErrClosed.
//
// Total counts the matches in the requested category (all matches without
// one). Categories counts all matches per category, before the category
// filter, so a UI can show what each category would give; it is ordered by
// count, then name.
func (ix *Index) Search(ctx context.Context, q Query) (Results, error) {
	text := strings.TrimSpace(q.Text)
	switch {
	case text == "":
		return Results{}, ErrQueryRequired
	case len(text) > MaxQueryLen:
		return Results{}, ErrQueryTooLong
	case !utf8.ValidString(text):
		return Results{}, ErrQueryEncoding
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return Results{}, ErrLimit
	case limit == 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	var catSlug string
	if c := strings.TrimSpace(q.Category); c != "" {
		catSlug = kb.CategorySlug(c)
		if catSlug == "" || utf8.RuneCountInString(c) > kb.MaxCategoryLen {
			return Results{}, ErrCategory
		}
	}

	start := time.Now()
	res, err := ix.guardedSearch(ctx, text, catSlug, limit)
	if ix.duration != nil {
		ix.duration.Observe(time.Since(start).Seconds())
	}
	return res, err
}

func (ix *Index) search(ctx context.Context, text, catSlug string, limit int) (Results, error) {
	out := Results{Query: text, Results: []Hit{}, Categories: []FacetCount{}}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return out, ErrClosed
	}
	adv, err := ix.idx.Advanced()
	if err != nil {
		return out, apperr.Internal("faq: search", err)
	}
	r, err := adv.Reader()
	if err != nil {
		return out, apperr.Internal("faq: search", err)
	}
	defer r.Close()

	snap, err := ix.snapshots.get(ctx, r)
	if err != nil {
		return out, searchError(ctx, err)
	}
	plan, err := ix.qb.plan(ctx, r, snap.words, text)
	if err != nil {
		return out, searchError(ctx, err)
	}
	if len(plan.clauses) == 0 {
		return out, nil
	}
	cats := snap.cats
	var want []uint16
	if catSlug != "" {
		if want = cats.slugs[catSlug]; want == nil {
			want = []uint16{} // no such category: nothing passes the filter
		}
	}
	res, err := execute(ctx, r, ix.lengths, plan, cats, want, limit, workersFor(len(cats.byDoc)))
	if err != nil {
		return out, searchError(ctx, err)
	}

	out.Total = res.total
	m := newMatcher(ix.qb.stem, plan.terms())
	for _, d := range res.top {
		h, err := hit(r, d, m)
		if err != nil {
			return out, searchError(ctx, err)
		}
		out.Results = append(out.Results, h)
	}
	for ci, n := range res.counts {
		if ci > 0 && n > 0 { // 0 is "no category", which articles cannot have
			name := cats.names[ci]
			out.Categories = append(out.Categories, FacetCount{Name: name, Slug: kb.CategorySlug(name), Count: n})
		}
	}
	sort.Slice(out.Categories, func(i, j int) bool {
		a, b := out.Categories[i], out.Categories[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Name < b.Name
	})
	return out, nil
}

// hit loads what a result shows of the matched document d from snapshot r.
func hit(r index.IndexReader, d scored, m *matcher) (Hit, error) {
	slug, err := r.ExternalID(index.NewIndexInternalID(nil, d.doc))
	if err != nil {
		return Hit{}, err
	}
	doc, err := r.Document(slug)
	if err != nil {
		return Hit{}, err
	}
	h := Hit{Slug: slug, Score: d.score, URL: kb.URL(slug)}
	var body string
	if doc != nil {
		doc.VisitFields(func(f index.Field) {
			switch f.Name() {
			case fieldTitle:
				h.Title = string(f.Value())
			case fieldCategory:
				h.Category = string(f.Value())
			case fieldBody:
				body = string(f.Value())
			}
		})
	}
	h.Snippet = m.snippet(h.Title, body)
	return h, nil
}

// searchError keeps a cancelled request from being reported as an internal
// failure.
func searchError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return apperr.New(apperr.KindUnavailable, "search was cancelled").With(err)
	}
	return apperr.Internal("faq: search", err)
}
