// Package faq is the customers' self-service search over the knowledge base:
// a Bleve index of published articles with English stemming, shop-specific
// synonyms, typo tolerance, field boosts, highlighted snippets and category
// facets, plus the public search API.
//
// The index is a cache of the articles in SQLite (package kb). It is kept in
// step through kb.Indexer and rebuilt from the database whenever it is
// missing, unreadable, or was built with an older mapping version.
package faq

// Query is one customer search.
type Query struct {
	Text     string // what the customer typed; required, at most MaxQueryLen bytes
	Category string // optional category name or slug to filter by
	Limit    int    // 1..MaxLimit; 0 means DefaultLimit
}

// Limits on a query.
const (
	MaxQueryLen  = 500
	DefaultLimit = 10
	MaxLimit     = 50
)

// Results is the answer to a Query, best match first.
type Results struct {
	Query      string       `json:"query"`      // the text searched for, trimmed
	Total      int          `json:"total"`      // matches in the requested category, or all matches
	Results    []Hit        `json:"results"`    // at most Limit, best first; never nil
	Categories []FacetCount `json:"categories"` // all matches per category, before the category filter; never nil
}

// Hit is one matching article.
type Hit struct {
	Slug     string  `json:"slug"`
	Title    string  `json:"title"`
	Category string  `json:"category"`
	Snippet  string  `json:"snippet"` // HTML: escaped text with <mark> around matches, nothing else
	Score    float64 `json:"score"`
	URL      string  `json:"url"`
}

// FacetCount is how many matching articles fall in one category.
type FacetCount struct {
	Name  string `json:"name"`
	Slug  string `json:"slug"`
	Count int    `json:"count"`
}
