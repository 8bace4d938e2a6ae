package faq

// The reference implementation of the executor: the same plan as a tree of
// Bleve queries, searched by Bleve. It is slower (see exec.go) but plainly
// right, so the executor is tested against it.

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/printshop/helpdesk/kb"
)

// bleveQuery turns a plan into a Bleve query. Alternatives inside a clause
// and fields inside an alternative combine as a disjunction max (see
// dismaxQuery); clauses combine as Bleve's disjunction, whose sum times the
// fraction of clauses matched is what ranking by "how much of the question
// does this article answer" wants.
func bleveQuery(p queryPlan) query.Query {
	qs := make([]query.Query, 0, len(p.clauses))
	for _, c := range p.clauses {
		alts := make([]query.Query, 0, len(c.members))
		for _, m := range c.members {
			alts = append(alts, memberQuery(m.member, m.boost, m.noBody))
		}
		qs = append(qs, newDismax(tieAlternatives, alts...))
	}
	if len(qs) == 1 {
		return qs[0]
	}
	dq := bleve.NewDisjunctionQuery(qs...)
	dq.SetMin(float64(minShould(len(qs))))
	return dq
}

// memberQuery searches for one term or phrase in title, tags and body, or
// only title and tags.
func memberQuery(m member, boost float64, noBody bool) query.Query {
	return fieldsQuery(boost, noBody, func(field string) query.Query {
		if m.phrase != "" {
			q := bleve.NewMatchPhraseQuery(m.phrase)
			q.SetField(field)
			q.Analyzer = analyzerText
			return q
		}
		return bleve.NewTermQuery(m.term)
	})
}

// fieldsQuery runs the query mk makes for each searched field, with the
// field's boost times boost, as a disjunction max.
func fieldsQuery(boost float64, noBody bool, mk func(field string) query.Query) query.Query {
	fields := [...]struct {
		name  string
		boost float64
	}{{fieldTitle, boostTitle}, {fieldTags, boostTags}, {fieldBody, boostBody}}
	qs := make([]query.Query, 0, len(fields))
	for _, f := range fields {
		if noBody && f.name == fieldBody {
			continue
		}
		q := mk(f.name)
		if fq, ok := q.(query.FieldableQuery); ok {
			fq.SetField(f.name)
		}
		if bq, ok := q.(query.BoostableQuery); ok {
			bq.SetBoost(f.boost * boost)
		}
		qs = append(qs, q)
	}
	return newDismax(tieFields, qs...)
}

// dismaxQuery matches documents that match any of its children and scores
// them by the best child plus tie times the others: a "disjunction max" as
// in Lucene. Bleve has none, and its disjunction (a sum times the fraction
// of children matched) is wrong for alternatives: it makes a word with
// eight synonyms worth an eighth of a plain word to a document matching one
// of them, and worth more than a plain word to a document that happens to
// use several. With dismax a concept counts about once however it is
// phrased: the same word in title and body is the title match plus a bit,
// and "shipping" is the best of its synonyms plus a bit.
type dismaxQuery struct {
	children []query.Query
	tie      float64
}

func newDismax(tie float64, children ...query.Query) query.Query {
	if len(children) == 1 {
		return children[0]
	}
	return &dismaxQuery{children: children, tie: tie}
}

// Searcher implements query.Query.
func (q *dismaxQuery) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	ss := make([]search.Searcher, 0, len(q.children))
	for _, c := range q.children {
		s, err := c.Searcher(ctx, r, m, options)
		if err != nil {
			for _, s := range ss {
				_ = s.Close()
			}
			return nil, err
		}
		ss = append(ss, s)
	}
	return newDismaxSearcher(ss, q.tie, options), nil
}

// dismaxSearcher walks its children in document order, like Bleve's
// disjunction searchers, and combines the scores of the children positioned
// on the same document.
type dismaxSearcher struct {
	children    []search.Searcher
	currs       []*search.DocumentMatch // each child's current match; nil when exhausted
	tie         float64
	explain     bool
	initialized bool
}

func newDismaxSearcher(children []search.Searcher, tie float64, options search.SearcherOptions) *dismaxSearcher {
	s := &dismaxSearcher{
		children: children,
		currs:    make([]*search.DocumentMatch, len(children)),
		tie:      tie,
		explain:  options.Explain,
	}
	// Normalize like Bleve's own compound searchers do; an enclosing
	// searcher overrides this through SetQueryNorm.
	if w := s.Weight(); w > 0 {
		s.SetQueryNorm(1 / math.Sqrt(w))
	}
	return s
}

func (s *dismaxSearcher) init(ctx *search.SearchContext) error {
	for i, c := range s.children {
		var err error
		if s.currs[i], err = c.Next(ctx); err != nil {
			return err
		}
	}
	s.initialized = true
	return nil
}

// Next returns the next document any child matches.
func (s *dismaxSearcher) Next(ctx *search.SearchContext) (*search.DocumentMatch, error) {
	if !s.initialized {
		if err := s.init(ctx); err != nil {
			return nil, err
		}
	}
	var first *search.DocumentMatch
	for _, d := range s.currs {
		if d != nil && (first == nil || d.IndexInternalID.Compare(first.IndexInternalID) < 0) {
			first = d
		}
	}
	if first == nil {
		return nil, nil
	}
	id := first.IndexInternalID
	var best, sum float64
	var expl []*search.Explanation
	var rv *search.DocumentMatch
	for i, d := range s.currs {
		if d == nil || d.IndexInternalID.Compare(id) != 0 {
			continue
		}
		best = max(best, d.Score)
		sum += d.Score
		if s.explain {
			expl = append(expl, d.Expl)
		}
		if rv == nil {
			rv = d
		} else {
			// Keep every child's term locations: the highlighter marks
			// all words that matched, not only the best child's.
			rv.FieldTermLocations = search.MergeFieldTermLocations(rv.FieldTermLocations, []*search.DocumentMatch{d})
			ctx.DocumentMatchPool.Put(d)
		}
		next, err := s.children[i].Next(ctx)
		if err != nil {
			return nil, err
		}
		s.currs[i] = next
	}
	rv.Score = best + s.tie*(sum-best)
	if s.explain {
		rv.Expl = &search.Explanation{
			Value:    rv.Score,
			Message:  fmt.Sprintf("max plus %g times others of:", s.tie),
			Children: expl,
		}
	}
	return rv, nil
}

// Advance returns the first match at or after id.
func (s *dismaxSearcher) Advance(ctx *search.SearchContext, id index.IndexInternalID) (*search.DocumentMatch, error) {
	if !s.initialized {
		if err := s.init(ctx); err != nil {
			return nil, err
		}
	}
	for i, d := range s.currs {
		if d == nil || d.IndexInternalID.Compare(id) >= 0 {
			continue
		}
		ctx.DocumentMatchPool.Put(d)
		var err error
		if s.currs[i], err = s.children[i].Advance(ctx, id); err != nil {
			return nil, err
		}
	}
	return s.Next(ctx)
}

// Close closes every child.
func (s *dismaxSearcher) Close() error {
	var first error
	for _, c := range s.children {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Weight is the sum of the children's squared weights, as for Bleve's
// disjunctions, so query normalization treats both alike.
func (s *dismaxSearcher) Weight() float64 {
	var w float64
	for _, c := range s.children {
		w += c.Weight()
	}
	return w
}

// SetQueryNorm passes the norm on to the children.
func (s *dismaxSearcher) SetQueryNorm(n float64) {
	for _, c := range s.children {
		c.SetQueryNorm(n)
	}
}

// Count is an upper bound: the children's counts added up.
func (s *dismaxSearcher) Count() uint64 {
	var n uint64
	for _, c := range s.children {
		n += c.Count()
	}
	return n
}

// Min is zero: one matching child is enough.
func (s *dismaxSearcher) Min() int { return 0 }

// Size estimates the memory held, for Bleve's accounting.
func (s *dismaxSearcher) Size() int {
	n := 64 + 8*len(s.currs)
	for _, c := range s.children {
		n += c.Size()
	}
	return n
}

// DocumentMatchPoolSize is how many matches the searcher may hold at once.
func (s *dismaxSearcher) DocumentMatchPoolSize() int {
	n := len(s.currs)
	for _, c := range s.children {
		n += c.DocumentMatchPoolSize()
	}
	return n
}

// scoringContext tells Bleve's searchers what Index.Search would: the
// scoring model, and the BM25 statistics to use, here the index's measured
// field lengths. Bleve takes a field's average length to be its
// "cardinality" over the document count.
func scoringContext(ctx context.Context, docTotal uint64, lengths fieldLengths) context.Context {
	ctx = context.WithValue(ctx, search.GetScoringModelCallbackKey,
		search.GetScoringModelCallbackFn(func() string { return scoringModel }))
	card := map[string]int{}
	for _, f := range searchFields {
		card[f.name] = int(lengths[f.name] * float64(docTotal))
	}
	return context.WithValue(ctx, search.BM25StatsKey, &search.BM25Stats{DocCount: float64(docTotal), FieldCardinality: card})
}

// referenceSearch runs plan as a Bleve query on snapshot r and returns
// the slugs and scores of the limit best matches and the total, optionally
// only in category. It drives the searcher itself, because Index.Search
// would open a newer snapshot, and Bleve's BM25 statistics change when
// segments are merged in the background.
func referenceSearch(t testing.TB, ix *Index, r index.IndexReader, plan queryPlan, category string, limit int) ([]string, []float64, int) {
	t.Helper()
	var q query.Query = bleveQuery(plan)
	if category != "" {
		f := bleve.NewTermQuery(category)
		f.SetField(fieldCategory)
		bq := bleve.NewBooleanQuery()
		bq.AddMust(q)
		bq.AddFilter(f)
		q = bq
	}
	docTotal, err := r.DocCount()
	if err != nil {
		t.Fatal(err)
	}
	ctx := scoringContext(context.Background(), docTotal, ix.lengths)
	// The category filter is a term search too, and Bleve wants
	// statistics for every field it searches; filters are not scored.
	stats := ctx.Value(search.BM25StatsKey).(*search.BM25Stats)
	stats.FieldCardinality[fieldCategory] = int(docTotal)
	s, err := q.Searcher(ctx, r, ix.idx.Mapping(), search.SearcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sctx := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize()+1, 0), IndexReader: r}
	var all []scored
	for {
		d, err := s.Next(sctx)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			break
		}
		all = append(all, scored{d.IndexInternalID.Value(), d.Score})
		sctx.DocumentMatchPool.Put(d)
	}
	sort.Slice(all, func(i, j int) bool { return better(all[i], all[j]) })
	var slugs []string
	var scores []float64
	for _, m := range all[:min(limit, len(all))] {
		slug, err := r.ExternalID(index.NewIndexInternalID(nil, m.doc))
		if err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, slug)
		scores = append(scores, m.score)
	}
	return slugs, scores, len(all)
}

// TestExecutorMatchesBleve checks that the executor finds the same
// documents with the same scores as the plan run as Bleve queries, and
// counts the same totals per category, on one goroutine and split over
// several.
func TestExecutorMatchesBleve(t *testing.T) {
	seed, err := kb.Seed()
	if err != nil {
		t.Fatal(err)
	}
	evalQueries := benchQueries(t)
	synthetic := syntheticArticles(5000, 7) // two windows of documents for one worker
	tests := []struct {
		name    string
		arts    []kb.Article
		queries []string
	}{
		{"starter articles", seed, evalQueries},
		{"synthetic articles", synthetic, evalQueries[:40]},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := openTestIndex(t, t.TempDir(), &memSource{arts: tt.arts})
			ix.mu.RLock()
			defer ix.mu.RUnlock()
			adv, _ := ix.idx.Advanced()
			r, err := adv.Reader()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			snap, err := ix.snapshots.get(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			cats := snap.cats
			for _, text := range tt.queries {
				plan, err := ix.qb.plan(ctx, r, snap.words, text)
				if err != nil {
					t.Fatal(err)
				}
				if len(plan.clauses) == 0 {
					continue
				}
				wantSlugs, wantScores, wantTotal := referenceSearch(t, ix, r, plan, "", 20)
				for _, workers := range []int{1, 3} {
					got, err := execute(ctx, r, ix.lengths, plan, cats, nil, 20, workers)
					if err != nil {
						t.Fatal(err)
					}
					if got.total != wantTotal {
						t.Errorf("%q, %d workers: total %d, Bleve %d", text, workers, got.total, wantTotal)
					}
					for i, s := range got.top {
						slug, _ := r.ExternalID(index.NewIndexInternalID(nil, s.doc))
						if i >= len(wantSlugs) || slug != wantSlugs[i] && math.Abs(s.score-wantScores[i]) > 1e-9*wantScores[i] {
							t.Errorf("%q, %d workers: #%d is %s (%g), Bleve has %v %v", text, workers, i+1, slug, s.score, wantSlugs, wantScores)
							break
						}
						if math.Abs(s.score-wantScores[i]) > 1e-9*wantScores[i] {
							t.Errorf("%q, %d workers: %s scores %g, Bleve %g", text, workers, slug, s.score, wantScores[i])
						}
					}
					for ci := 1; ci < len(cats.names); ci++ {
						_, _, n := referenceSearch(t, ix, r, plan, cats.names[ci], 0)
						if got.counts[ci] != n {
							t.Errorf("%q, %d workers: %d matches in %s, Bleve %d", text, workers, got.counts[ci], cats.names[ci], n)
						}
					}
				}
			}
		})
	}
}
