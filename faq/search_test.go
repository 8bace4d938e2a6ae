package faq

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/kb"
)

func TestSearchValidation(t *testing.T) {
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()})
	tests := []struct {
		name string
		q    Query
		want error
	}{
		{"empty", Query{Text: ""}, ErrQueryRequired},
		{"blank", Query{Text: " \t\n "}, ErrQueryRequired},
		{"too long", Query{Text: strings.Repeat("a", MaxQueryLen+1)}, ErrQueryTooLong},
		{"not UTF-8", Query{Text: "refund \xff"}, ErrQueryEncoding},
		{"negative limit", Query{Text: "refund", Limit: -1}, ErrLimit},
		{"category without letters", Query{Text: "refund", Category: "&&"}, ErrCategory},
		{"category too long", Query{Text: "refund", Category: strings.Repeat("x", kb.MaxCategoryLen+1)}, ErrCategory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ix.Search(context.Background(), tt.q)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Search = %v, want %v", err, tt.want)
			}
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Errorf("kind = %v, want KindInvalid", apperr.KindOf(err))
			}
		})
	}
	if apperr.PublicMessage(ErrQueryRequired) != "q is required" {
		t.Errorf("ErrQueryRequired message = %q", apperr.PublicMessage(ErrQueryRequired))
	}

	// Exactly MaxQueryLen is fine, and surrounding blanks do not count.
	long := " " + strings.Repeat("refund ", MaxQueryLen/7+1)[:MaxQueryLen] + " "
	if _, err := ix.Search(context.Background(), Query{Text: long}); err != nil {
		t.Errorf("query of MaxQueryLen bytes: %v", err)
	}
}

func TestSearchLimit(t *testing.T) {
	var arts []kb.Article
	for i := range MaxLimit + 10 {
		arts = append(arts, article(fmt.Sprintf("toner-%02d", i), fmt.Sprintf("Toner for printer model %d", i), "Ink & Toner Cartridges", "Toner that fits.", "toner"))
	}
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: arts})
	tests := []struct {
		limit, want int
	}{
		{0, DefaultLimit},
		{1, 1},
		{MaxLimit, MaxLimit},
		{MaxLimit + 1, MaxLimit},
		{1 << 30, MaxLimit},
	}
	for _, tt := range tests {
		res, err := ix.Search(context.Background(), Query{Text: "toner", Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != tt.want || res.Total != len(arts) {
			t.Errorf("limit %d: %d results of %d, want %d of %d", tt.limit, len(res.Results), res.Total, tt.want, len(arts))
		}
	}
}

func TestSearchResultFields(t *testing.T) {
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()})
	res, err := ix.Search(context.Background(), Query{Text: "  refund  "})
	if err != nil {
		t.Fatal(err)
	}
	if res.Query != "refund" {
		t.Errorf("Query = %q, want the trimmed text", res.Query)
	}
	if len(res.Results) == 0 {
		t.Fatal("no results")
	}
	h := res.Results[0]
	want := Hit{Slug: "refund-timing", Title: "How long does a refund take?", Category: "Returns & Refunds", URL: kb.URL("refund-timing")}
	if h.Slug != want.Slug || h.Title != want.Title || h.Category != want.Category || h.URL != want.URL {
		t.Errorf("first hit = %+v, want %+v", h, want)
	}
	if h.Score <= 0 || !strings.Contains(h.Snippet, "<mark>Refunds</mark>") {
		t.Errorf("score %v, snippet %q: want a positive score and a marked match", h.Score, h.Snippet)
	}
	for i := 1; i < len(res.Results); i++ {
		if res.Results[i].Score > res.Results[i-1].Score {
			t.Errorf("results not best first: %v", res.Results)
		}
	}
}

func TestSearchCategoryFilterAndFacets(t *testing.T) {
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()})
	ctx := context.Background()

	all, err := ix.Search(ctx, Query{Text: "return refund shipping"})
	if err != nil {
		t.Fatal(err)
	}
	// track-my-order matches through "shipping email"; ties are by name.
	wantFacets := []FacetCount{
		{Name: "Returns & Refunds", Slug: "returns-refunds", Count: 2},
		{Name: "Order Tracking", Slug: "order-tracking", Count: 1},
		{Name: "Shipping & Delivery", Slug: "shipping-delivery", Count: 1},
	}
	if fmt.Sprint(all.Categories) != fmt.Sprint(wantFacets) {
		t.Errorf("Categories = %v, want %v", all.Categories, wantFacets)
	}
	if all.Total != 4 {
		t.Errorf("Total = %d, want 4", all.Total)
	}

	for _, cat := range []string{"Returns & Refunds", "returns-refunds", "RETURNS & refunds"} {
		res, err := ix.Search(ctx, Query{Text: "return refund shipping", Category: cat})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 2 || len(res.Results) != 2 {
			t.Errorf("category %q: total %d, %d results; want 2", cat, res.Total, len(res.Results))
		}
		for _, h := range res.Results {
			if h.Category != "Returns & Refunds" {
				t.Errorf("category %q: got %s in %s", cat, h.Slug, h.Category)
			}
		}
		// The counts are over all matches, so the UI can offer the others.
		if fmt.Sprint(res.Categories) != fmt.Sprint(wantFacets) {
			t.Errorf("category %q: Categories = %v, want %v", cat, res.Categories, wantFacets)
		}
	}

	for _, cat := range []string{"Your Account", "No Such Category"} {
		res, err := ix.Search(ctx, Query{Text: "refund", Category: cat})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 0 || len(res.Results) != 0 || res.Results == nil || len(res.Categories) == 0 {
			t.Errorf("%s: got %+v, want an empty (non-nil) result list and the counts of all matches", cat, res)
		}
	}
}

// markupFree reports whether s contains no markup but <mark> and </mark>.
func markupFree(s string) bool {
	s = strings.ReplaceAll(s, "<mark>", "")
	s = strings.ReplaceAll(s, "</mark>", "")
	return !strings.ContainsAny(s, "<>\"")
}

func TestSnippetEscapesHTML(t *testing.T) {
	// The Markdown puts the markup in code spans, so it survives as text
	// in the indexed plain text: exactly what a snippet must not let
	// through as markup.
	arts := []kb.Article{
		article("script-body", "Toner safety", "Ink & Toner Cartridges",
			"Never paste `<script>alert(\"toner\")</script>` or `<img src=x onerror=alert(1)>` into the toner form. Fish & chips.", "toner"),
		article("script-title", "Why <b>bold</b> & toner titles?", "Ink & Toner Cartridges",
			"Nothing about that here.", "misc"),
		article("tag-only", "Something else", "Ink & Toner Cartridges",
			"Text with `<script>` first, and then more words to fill the snippet.", "gizmo"),
	}
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: arts})
	tests := []struct {
		query, slug string
		want        []string // substrings of the snippet
	}{
		{"alert toner", "script-body", []string{"&lt;script&gt;", "<mark>toner</mark>", "&amp;", "&lt;img"}},
		{"bold titles", "script-title", []string{"&lt;b&gt;<mark>bold</mark>&lt;/b&gt;", "&amp;"}},
		{"gizmo", "tag-only", []string{"&lt;script&gt;"}}, // matched by a tag only: the start of the body
	}
	for _, tt := range tests {
		res, err := ix.Search(context.Background(), Query{Text: tt.query})
		if err != nil {
			t.Fatal(err)
		}
		var hit *Hit
		for i := range res.Results {
			if res.Results[i].Slug == tt.slug {
				hit = &res.Results[i]
			}
		}
		if hit == nil {
			t.Fatalf("%q: %s not found in %+v", tt.query, tt.slug, res.Results)
		}
		if !markupFree(hit.Snippet) {
			t.Errorf("%q: snippet %q has markup other than <mark>", tt.query, hit.Snippet)
		}
		for _, w := range tt.want {
			if !strings.Contains(hit.Snippet, w) {
				t.Errorf("%q: snippet %q lacks %q", tt.query, hit.Snippet, w)
			}
		}
		// Unescaped, the snippet is the article's own text.
		plain := html.UnescapeString(strings.NewReplacer("<mark>", "", "</mark>", "", "…", "").Replace(hit.Snippet))
		src := kb.NewRenderer().PlainText(arts[0].Body) + arts[1].Title + kb.NewRenderer().PlainText(arts[2].Body)
		if !strings.Contains(src, strings.TrimSpace(plain)) {
			t.Errorf("%q: snippet text %q is not from the article", tt.query, plain)
		}
	}
}

func TestSearchTypos(t *testing.T) {
	arts := append(starterArticles(),
		article("recycling", "Recycling empty cartridges", "Ink & Toner Cartridges", "We take empties back for recycling.", "recycle"),
		article("confirmation", "Order confirmation email", "Orders & Payment", "The confirmation arrives within minutes.", "receipt"),
	)
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: arts})
	tests := []struct {
		query, want string
	}{
		{"pasword", "reset-password"},         // deletion
		{"passwrod", "reset-password"},        // swapped letters count as one edit
		{"retrun", "return-policy"},           // swap
		{"refnud", "refund-timing"},           // swap
		{"trackign number", "track-my-order"}, // swap, with a correct word
		{"confirmaton", "confirmation"},       // corrected before stemming: "confirm" is four edits away
		{"recycilnig", "recycling"},           // two mistakes in the second half of a long word
		{"freee shiping over 50", "free-shipping"},
	}
	for _, tt := range tests {
		got := slugs(t, ix, tt.query)
		if len(got) == 0 || got[0] != tt.want {
			t.Errorf("%q = %v, want %s first", tt.query, got, tt.want)
		}
	}
}

func TestSearchExactOutranksFuzzy(t *testing.T) {
	// Two articles alike but for one word, one of them misspelled.
	arts := []kb.Article{
		article("right", "Empty cartridges", "Ink & Toner Cartridges", "We take empties back for recycling.", "empties"),
		article("typo", "Empty cartridges", "Ink & Toner Cartridges", "We take empties back for recyclng.", "empties"),
	}
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: arts})
	for _, tt := range []struct{ query, first, second string }{
		{"recyclng", "typo", "right"},
		{"recycling", "right", "typo"},
		{"empties recyclng", "typo", "right"},
	} {
		got := slugs(t, ix, tt.query)
		if fmt.Sprint(got) != fmt.Sprint([]string{tt.first, tt.second}) {
			t.Errorf("%q = %v, want [%s %s]: both found, the exact spelling first", tt.query, got, tt.first, tt.second)
		}
	}
}

func TestSearchSynonyms(t *testing.T) {
	arts := []kb.Article{
		article("refunds", "When you get your refund", "Returns & Refunds", "Refunds are issued within 14 days.", "refund"),
		article("tracking", "Following your parcel", "Order Tracking", "Use the tracking number from the email.", "tracking"),
		article("password", "Forgot your password?", "Your Account", "Request a new password from the account page.", "password"),
		article("coupons", "Coupons", "Orders & Payment", "Subscribe to the newsletter for a coupon.", "coupon"),
		article("cartridges", "Which cartridge fits?", "Ink & Toner Cartridges", "Pick the cartridge for your printer model.", "cartridge"),
		article("costs", "Prices", "Orders & Payment", "Our price list is on the product page.", "price"),
		article("checks", "Paying by cheque", "Orders & Payment", "Mail a cheque to our address.", "cheque"),
		article("yield", "Page yield explained", "Ink & Toner Cartridges", "Yield is measured by an ISO standard.", "yield"),
		article("shipping", "Shipping times", "Shipping & Delivery", "Most orders ship the same day.", "ship"),
	}
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: arts})
	tests := []struct {
		query, want string
	}{
		{"money back", "refunds"},
		{"can i get reimbursed", "refunds"},
		{"where is my order", "tracking"},
		{"where's my package", "tracking"},
		{"can't log in", "password"},
		{"locked out", "password"},
		{"promo code", "coupons"},
		{"voucher", "coupons"},
		{"toner", "cartridges"},
		{"how much does it cost", "costs"},
		{"fee", "costs"},
		{"money order", "checks"},
		{"how many pages", "yield"},
		{"when will it arrive", "shipping"},
		{"delivery", "shipping"},
	}
	for _, tt := range tests {
		if got := top(t, ix, tt.query); got != tt.want {
			t.Errorf("%q: top hit %q, want %s", tt.query, got, tt.want)
		}
	}
}

func TestSearchQueryShapes(t *testing.T) {
	arts, err := kb.Seed()
	if err != nil {
		t.Fatal(err)
	}
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: arts})
	ctx := context.Background()
	tests := []struct {
		name, query, want string
	}{
		{"one word", "refund", "refund-timing"},
		{"one word, upper case", "CANADA", "shipping-to-canada"},
		{"rambling", "hi there so i ordered some toner from you guys like two weeks ago and it still has not arrived, " +
			"how can i track my package", "track-my-order"},
		{"rambling", "hello, I bought a couple of toner cartridges last month and one of them is defective, it streaks " +
			"on every page, can I get a replacement under your guarantee or do I need to send it back", "satisfaction-guarantee"},
		{"rambling", "so my printer keeps telling me the brand new cartridge i put in is empty even though i literally " +
			"just installed it yesterday what do i do", "ink-level-shows-empty"},
		{"punctuation", "refund?!... (how long)", "refund-timing"},
	}
	for _, tt := range tests {
		if got := top(t, ix, tt.query); got != tt.want {
			t.Errorf("%s: %q: top hit %q, want %s", tt.name, tt.query, got, tt.want)
		}
	}

	// Stop words alone, or words no article uses, find nothing, quietly.
	for _, q := range []string{"the", "how do i", "zzzzqqq", "!!!"} {
		res, err := ix.Search(ctx, Query{Text: q})
		if err != nil || res.Total != 0 || len(res.Results) != 0 {
			t.Errorf("%q: %+v, %v; want no results and no error", q, res, err)
		}
	}
}

func TestOSADistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"abc", "", 3},
		{"pasword", "password", 1},
		{"retrun", "return", 1},
		{"yeild", "yield", 1},
		{"cupon", "coupon", 1},
		{"confirmaton", "confirmation", 1},
		{"remanufacterd", "remanufactured", 2},
		{"ca", "abc", 3}, // OSA, not full Damerau: no edits inside a swap
		{"café", "cafe", 1},
	}
	for _, tt := range tests {
		if got := osaDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("osaDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
