package faq

import (
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/printshop/helpdesk/kb"
)

// MappingVersion identifies the index layout: the mapping, the analyzers and
// what goes into each field. Bump it whenever any of them changes; Open then
// rebuilds an index built by an older version instead of searching terms
// that were analyzed differently.
const MappingVersion = 1

// Index field names. They are also the keys of the JSON-ish document handed
// to Bleve, so they must match the tags on document.
const (
	fieldTitle    = "title"
	fieldTags     = "tags"
	fieldBody     = "body"
	fieldWords    = "words"
	fieldCategory = "category"
	fieldUpdated  = "updated_ms"
)

// Analyzer names registered in the index mapping.
const (
	// analyzerText is Bleve's "en" chain (possessives, lower case, stop
	// words, Porter stemming), declared here by its parts so that the
	// mapping records exactly what was used and MappingVersion covers it.
	analyzerText = "faq_en"
	// analyzerWords keeps surface forms (lower-cased, no stemming, no stop
	// words). The words field built with it is the spelling dictionary for
	// typo correction: correcting against real words and stemming the
	// correction works far better than fuzzy-matching stems ("confirmaton"
	// is one edit from "confirmation" but four from its stem "confirm").
	analyzerWords = "faq_words"
)

// scoringModel is BM25 rather than Bleve's default TF-IDF: its saturation
// of repeated words and its length normalization suit articles of very
// different lengths. The executor computes it (see exec.go); the mapping
// records it for Bleve's own searchers.
const scoringModel = index.BM25Scoring

// Field boosts: a word in the title says more about what an article answers
// than the same word in the body; tags are the editor's list of what
// customers call the topic.
const (
	boostTitle = 3.0
	boostTags  = 2.0
	boostBody  = 1.0
)

// document is what is indexed for one article. The slug is the document ID.
type document struct {
	Title     string   `json:"title"`
	Tags      []string `json:"tags"`
	Body      string   `json:"body"`  // plain text, stored for snippets
	Words     string   `json:"words"` // title, tags and body again, for the spelling dictionary
	Category  string   `json:"category"`
	UpdatedMS float64  `json:"updated_ms"` // numeric, not datetime: zero times must index too
}

func newDocument(a kb.Article, r *kb.Renderer) document {
	body := r.PlainText(a.Body)
	return document{
		Title:     a.Title,
		Tags:      a.Tags,
		Body:      body,
		Words:     a.Title + "\n" + strings.Join(a.Tags, "\n") + "\n" + body,
		Category:  a.Category,
		UpdatedMS: float64(a.UpdatedAt.UnixMilli()),
	}
}

// newMapping returns the index mapping. Only the fields listed here are
// indexed; there is no _all field, which keeps the index small and every
// query explicit about the fields it searches.
func newMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomAnalyzer(analyzerText, map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []any{en.PossessiveName, lowercase.Name, en.StopName, porter.Name},
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer(analyzerWords, map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []any{en.PossessiveName, lowercase.Name},
	}); err != nil {
		return nil, err
	}
	im.DefaultAnalyzer = analyzerText
	im.ScoringModel = scoringModel
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false

	text := func(store bool) *mapping.FieldMapping {
		fm := bleve.NewTextFieldMapping()
		fm.Analyzer = analyzerText
		fm.Store = store
		fm.IncludeTermVectors = true // phrases (multi-word synonyms) need positions
		fm.IncludeInAll = false
		fm.DocValues = false
		return fm
	}
	words := bleve.NewTextFieldMapping()
	words.Analyzer = analyzerWords
	words.Store = false
	words.IncludeTermVectors = false
	words.IncludeInAll = false
	words.DocValues = false
	words.SkipFreqNorm = true // only the dictionary and document counts are used

	category := bleve.NewKeywordFieldMapping()
	category.Analyzer = keyword.Name
	category.Store = true
	category.DocValues = false // counted through its postings, see categoryTable
	category.IncludeInAll = false

	updated := bleve.NewNumericFieldMapping()
	updated.Store = true
	updated.DocValues = true // sorted on by the staleness check
	updated.IncludeInAll = false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(fieldTitle, text(true))
	dm.AddFieldMappingsAt(fieldTags, text(false))
	dm.AddFieldMappingsAt(fieldBody, text(true))
	dm.AddFieldMappingsAt(fieldWords, words)
	dm.AddFieldMappingsAt(fieldCategory, category)
	dm.AddFieldMappingsAt(fieldUpdated, updated)
	im.DefaultMapping = dm

	if err := im.Validate(); err != nil {
		return nil, err
	}
	return im, nil
}
