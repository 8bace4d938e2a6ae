package faq_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/kb"
)

// seedSource serves the starter knowledge base, as a fresh install has it.
type seedSource []kb.Article

func (s seedSource) Published(context.Context) ([]kb.Article, error) {
	var out []kb.Article
	for _, a := range s {
		if a.Published {
			out = append(out, a)
		}
	}
	return out, nil
}

// FuzzSearch throws what customers (and scanners) type at the search box,
// the category filter and the limit at the real index built from the
// starter articles. Whatever comes in: no panic; bad input is an
// invalid-input error (a 400), never an internal one; and an answer keeps
// the API's promises — the query echoed trimmed, at most limit hits, best
// first, each with a real slug and its URL, snippets that are escaped text
// with <mark> and nothing else, the same answer when asked twice.
func FuzzSearch(f *testing.F) {
	arts, err := kb.Seed()
	if err != nil {
		f.Fatal(err)
	}
	ix, err := faq.Open(filepath.Join(f.TempDir(), "faq"), seedSource(arts), faq.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = ix.Close() })
	slugs := map[string]bool{}
	for _, a := range arts {
		slugs[a.Slug] = true
	}

	for _, seed := range []struct {
		q, cat string
		limit  int
	}{
		{"refund", "", 0},
		{"where is my order", "", 3},
		{"HP 64XL cartridge not recognized", "", 50},
		{"shipping to canada", "Shipping & Delivery", 5},
		{"trakcing nubmer", "shipping-delivery", 1},
		{"  ", "", 0},
		{"", "", 0},
		{"refund", "", -1},
		{"refund", "", 1 << 30},
		{"refund", "no such category!", 10},
		{`"log in" OR password~2 +reset -email *ink* ?`, "", 10},
		{"<script>alert(1)</script> refund", "", 10},
		{"\xff\xfe invalid utf8", "", 10},
		{"ink\x00toner", "", 10},
		{"été 🖨️ imprimante cartouche 墨盒", "", 10},
		{strings.Repeat("toner ", 100), "", 10},
		{strings.Repeat("a", 501), "", 10},
		{"the the the and of how do i", "", 10},
		{"a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh ii jj", "", 10},
	} {
		f.Add(seed.q, seed.cat, seed.limit)
	}

	f.Fuzz(func(t *testing.T, q, cat string, limit int) {
		ctx := context.Background()
		res, err := ix.Search(ctx, faq.Query{Text: q, Category: cat, Limit: limit})
		if err != nil {
			if k := apperr.KindOf(err); k != apperr.KindInvalid {
				t.Fatalf("Search(%q, %q, %d): %v (kind %v), want an invalid-input error or none", q, cat, limit, err, k)
			}
			return
		}
		if want := strings.TrimSpace(q); res.Query != want {
			t.Errorf("query echoed as %q, want %q", res.Query, want)
		}
		most := limit
		if most == 0 {
			most = faq.DefaultLimit
		}
		most = min(most, faq.MaxLimit)
		if res.Results == nil || res.Categories == nil {
			t.Fatalf("nil lists in %+v", res)
		}
		if len(res.Results) > most || res.Total < len(res.Results) {
			t.Errorf("%d results, total %d, limit %d", len(res.Results), res.Total, limit)
		}
		for i, h := range res.Results {
			if !slugs[h.Slug] || h.URL != "/kb/"+h.Slug || h.Title == "" || h.Category == "" {
				t.Errorf("hit %d: %+v", i, h)
			}
			if i > 0 && h.Score > res.Results[i-1].Score {
				t.Errorf("hit %d scores %v, above hit %d's %v", i, h.Score, i-1, res.Results[i-1].Score)
			}
			plain := strings.NewReplacer("<mark>", "", "</mark>", "").Replace(h.Snippet)
			if strings.ContainsAny(plain, "<>") || !utf8.ValidString(h.Snippet) {
				t.Errorf("hit %d: snippet is not escaped text with <mark>: %q", i, h.Snippet)
			}
		}
		for _, c := range res.Categories {
			if c.Count <= 0 || c.Name == "" || c.Slug != kb.CategorySlug(c.Name) {
				t.Errorf("category facet %+v", c)
			}
		}
		again, err := ix.Search(ctx, faq.Query{Text: q, Category: cat, Limit: limit})
		if err != nil {
			t.Fatalf("second search: %v", err)
		}
		if !slices.EqualFunc(res.Results, again.Results, func(a, b faq.Hit) bool { return a.Slug == b.Slug }) || res.Total != again.Total {
			t.Errorf("the same search answered differently:\n%+v\n%+v", res.Results, again.Results)
		}
	})
}
