package faq

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/blevesearch/bleve/v2/search"
	index "github.com/blevesearch/bleve_index_api"
)

// The executor scores a queryPlan straight from Bleve's postings.
//
// Why not a Bleve query: the plan's scoring is a disjunction max inside
// each clause (Bleve has none) and a coordinated sum across clauses, and a
// typical query matches about half of all articles (it does on the starter
// set, and the synthetic benchmark corpus is built the same way). On a large
// index that is tens of thousands of documents per search, and Bleve's
// searcher tree (a searcher per term and field, a DocumentMatch per posting
// per level, byte-wise ID comparisons, term vectors decoded for every match
// of a phrase) spent most of the time on itself, several times what reading
// the postings costs. Here postings are read term by term, a window of
// document numbers at a time, into flat arrays; scores use exactly Bleve's
// BM25 formula and query norm; the document numbers are split across CPUs.
// The scores equal those of the same plan run as Bleve queries, which
// TestExecutorMatchesBleve holds it to.

// Tie-breakers of the disjunction max: how much a second field or a second
// alternative adds to the best one.
const (
	tieFields       = 0.3
	tieAlternatives = 0.1
)

// searchFields are the fields every member is searched in, with boosts.
var searchFields = [...]struct {
	name  string
	boost float64
}{{fieldTitle, boostTitle}, {fieldTags, boostTags}, {fieldBody, boostBody}}

// minDocsPerWorker keeps small indexes on one goroutine: below it, starting
// more costs more than it saves.
const minDocsPerWorker = 20_000

// workersFor is how many goroutines score an index of docs documents: one
// per CPU, as long as each gets minDocsPerWorker documents. A search on a
// large index is then answered about as many times faster as there are idle
// CPUs; under full load it costs the same CPU time as one goroutine.
func workersFor(docs int) int {
	return min(runtime.GOMAXPROCS(0), max(1, docs/minDocsPerWorker))
}

// execLeaf is one member searched in one field: a term read from its
// postings, or a phrase found by reading its terms' postings with their
// positions.
type execLeaf struct {
	slot         int // (clause, member) this leaf scores for
	clause       int
	last         bool // the last leaf of its member
	lastOfClause bool // the last leaf of its clause

	parts   []*postings // the term, or the phrase's terms, rarest first
	offsets []int       // each part's position in the phrase

	cur   uint64 // current document number
	done  bool
	score float64 // score of cur
}

// postings reads one term's postings in one field and scores them.
type postings struct {
	tfr    index.TermFieldReader
	tfd    index.TermFieldDoc
	weight float64 // Bleve's query weight: boost × idf × query norm
	idf    float64
	avgLen float64 // average field length; 0 means TF-IDF scoring
	cur    uint64
	done   bool
}

// compiledPlan is a plan bound to one index snapshot: the statistics every
// worker shares.
type compiledPlan struct {
	clauses  int
	slots    []int // slot -> clause
	min      int   // clauses a document must match
	leafDefs []leafDef
}

type leafDef struct {
	slot, clause int
	field        string
	terms        []string // one term, or a phrase's terms
	offsets      []int    // a phrase's positions
	boost        float64
}

func compilePlan(p queryPlan) *compiledPlan {
	cp := &compiledPlan{clauses: len(p.clauses), min: 1}
	if len(p.clauses) > 1 {
		cp.min = minShould(len(p.clauses))
	}
	for ci, c := range p.clauses {
		for _, m := range c.members {
			slot := len(cp.slots)
			cp.slots = append(cp.slots, ci)
			for _, f := range searchFields {
				if f.name == fieldBody && m.noBody {
					continue
				}
				d := leafDef{slot: slot, clause: ci, field: f.name, boost: f.boost * m.boost,
					terms: []string{m.term}, offsets: []int{0}}
				if m.phrase != "" {
					d.terms, d.offsets = m.terms, m.offsets
				}
				cp.leafDefs = append(cp.leafDefs, d)
			}
		}
	}
	return cp
}

// scored is a matching document and its score.
type scored struct {
	doc   uint64
	score float64
}

// better orders matches: higher score first, then lower document number, so
// that equal scores come out in a stable order.
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.doc < b.doc
}

// topHeap is a min-heap of the best matches so far: the root is the worst
// of them, the one a better match replaces.
type topHeap []scored

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *topHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}

func (h *topHeap) offer(s scored, limit int) {
	switch {
	case h.Len() < limit:
		heap.Push(h, s)
	case better(s, (*h)[0]):
		(*h)[0] = s
		heap.Fix(h, 0)
	}
}

// collected is what one pass over the matches yields.
type collected struct {
	top    []scored // best first
	total  int      // matches in the wanted categories
	counts []int    // matches per category index
}

// execute scores plan over snapshot r and returns the limit best matches in
// the wanted categories (all when want is nil), how many matches those
// categories have, and how many each category has.
//
// The document numbers are split into workers ranges, scored concurrently.
func execute(ctx context.Context, r index.IndexReader, lengths fieldLengths, plan queryPlan, cats *categoryTable, want []uint16, limit, workers int) (collected, error) {
	docTotal, err := r.DocCount()
	if err != nil {
		return collected{}, err
	}
	if docTotal == 0 {
		// Nothing to find, and Bleve's postings readers cannot even be
		// positioned in a snapshot without segments.
		return collected{counts: make([]int, len(cats.names))}, nil
	}
	cp := compilePlan(plan)
	stats, readers, err := leafStats(ctx, r, cp, docTotal, lengths)
	if err != nil {
		return collected{}, err
	}

	docs := uint64(len(cats.byDoc))
	results := make([]collected, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := docs*uint64(w)/uint64(workers), docs*uint64(w+1)/uint64(workers)
		if w == workers-1 {
			hi = math.MaxUint64
		}
		var own [][]index.TermFieldReader // nil: open new ones
		if w == 0 {
			own = readers
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w], errs[w] = runRange(ctx, r, cp, stats, own, cats, want, limit, lo, hi)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return collected{}, err
		}
	}

	out := collected{counts: make([]int, len(cats.names))}
	h := &topHeap{}
	for _, res := range results {
		out.total += res.total
		for i, n := range res.counts {
			out.counts[i] += n
		}
		for _, s := range res.top {
			h.offer(s, limit)
		}
	}
	out.top = make([]scored, h.Len())
	for i := len(out.top) - 1; i >= 0; i-- {
		out.top[i] = heap.Pop(h).(scored)
	}
	return out, nil
}

// partStat is what scoring one term of a leaf needs besides its postings.
type partStat struct {
	weight, idf, avgLen float64
	df                  uint64
}

// leafStats computes the BM25 statistics of every term of every leaf, and
// Bleve's query norm over all of them (one over the root of the sum of the
// squared weights), as Bleve's searchers would. A phrase weighs and scores
// as the sum of its terms, as in Bleve.
//
// The postings readers opened for the document frequencies are returned
// too, ready for the first worker: opening a reader costs about as much as
// reading a short postings list.
func leafStats(ctx context.Context, r index.IndexReader, cp *compiledPlan, docTotal uint64, avg fieldLengths) ([][]partStat, [][]index.TermFieldReader, error) {
	stats := make([][]partStat, len(cp.leafDefs))
	readers := make([][]index.TermFieldReader, len(cp.leafDefs))
	var sumSquares float64
	for i, d := range cp.leafDefs {
		for _, term := range d.terms {
			tfr, err := r.TermFieldReader(ctx, []byte(term), d.field, true, true, len(d.terms) > 1)
			if err != nil {
				closeReaders(readers)
				return nil, nil, err
			}
			readers[i] = append(readers[i], tfr)
			st := partStat{avgLen: avg[d.field], df: tfr.Count()}
			st.idf = idf(st.avgLen, docTotal, st.df)
			st.weight = d.boost * st.idf
			sumSquares += st.weight * st.weight
			stats[i] = append(stats[i], st)
		}
	}
	if sumSquares > 0 {
		norm := 1 / math.Sqrt(sumSquares)
		for _, ps := range stats {
			for j := range ps {
				ps[j].weight *= norm
			}
		}
	}
	return stats, readers, nil
}

func closeReaders(readers [][]index.TermFieldReader) {
	for _, rs := range readers {
		for _, r := range rs {
			_ = r.Close()
		}
	}
}

// idf is Bleve's inverse document frequency: BM25's when the field has an
// average length, TF-IDF's otherwise.
func idf(avgLen float64, docTotal, docTerm uint64) float64 {
	if avgLen > 0 {
		return math.Log(1 + (float64(docTotal)-float64(docTerm)+0.5)/(float64(docTerm)+0.5))
	}
	return 1 + math.Log(float64(docTotal)/float64(docTerm+1))
}

// runRange scores the documents numbered lo up to hi. It reads postings
// with readers if not nil, else with readers of its own; it closes them.
func runRange(ctx context.Context, r index.IndexReader, cp *compiledPlan, stats [][]partStat, readers [][]index.TermFieldReader, cats *categoryTable, want []uint16, limit int, lo, hi uint64) (res collected, err error) {
	leaves := make([]*execLeaf, 0, len(cp.leafDefs))
	defer func() {
		for _, l := range leaves {
			for _, p := range l.parts {
				_ = p.tfr.Close()
			}
		}
		if readers != nil {
			// Close those not handed to a leaf before an error.
			for i := len(leaves); i < len(readers); i++ {
				for _, tfr := range readers[i] {
					_ = tfr.Close()
				}
			}
		}
	}()
	for i, d := range cp.leafDefs {
		l := &execLeaf{slot: d.slot, clause: d.clause,
			last:         i+1 == len(cp.leafDefs) || cp.leafDefs[i+1].slot != d.slot,
			lastOfClause: i+1 == len(cp.leafDefs) || cp.leafDefs[i+1].clause != d.clause}
		leaves = append(leaves, l)
		phrase := len(d.terms) > 1
		for j, term := range d.terms {
			st := stats[i][j]
			p := &postings{weight: st.weight, idf: st.idf, avgLen: st.avgLen}
			if readers != nil {
				p.tfr = readers[i][j]
			} else if p.tfr, err = r.TermFieldReader(ctx, []byte(term), d.field, true, true, phrase); err != nil {
				return res, err
			}
			l.parts = append(l.parts, p)
			l.offsets = append(l.offsets, d.offsets[j])
		}
		if phrase {
			// Walk the rarest term's postings and skip the others ahead.
			sort.Sort(byDocFreq{l, slices.Clone(stats[i])})
		}
		if err := l.start(lo); err != nil {
			return res, err
		}
	}

	res.counts = make([]int, len(cats.names))
	best := &topHeap{}
	// A small index needs a small window: the arrays are cleared by the
	// garbage collector, not by us, and need not outsize the index.
	size := uint64(windowSize)
	if docs := uint64(len(cats.byDoc)); docs > lo && docs-lo < size {
		size = max(docs-lo, 64)
	}
	acc := newWindow(cp, int(size))
	for w0 := lo; w0 < hi; {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		w1 := w0 + size
		if w1 > hi || w1 < w0 {
			w1 = hi
		}
		next := uint64(math.MaxUint64) // the first document any leaf has after this window
		for _, l := range leaves {
			for !l.done && l.cur < w1 {
				acc.add(l, int(l.cur-w0))
				if err := l.next(); err != nil {
					return res, err
				}
			}
			if !l.done {
				next = min(next, l.cur)
			}
			if l.last {
				acc.endSlot()
				if l.lastOfClause {
					acc.endClause()
				}
			}
		}
		for _, i := range acc.docs {
			score, ok := acc.finish(i)
			if !ok {
				continue
			}
			doc := w0 + uint64(i)
			ci := cats.of(doc)
			res.counts[ci]++
			if want != nil && !containsU16(want, ci) {
				continue
			}
			res.total++
			best.offer(scored{doc, score}, limit)
		}
		acc.docs = acc.docs[:0]
		if next == math.MaxUint64 {
			break
		}
		w0 = max(w1, next) // no leaf has a document before next
	}
	res.top = *best
	return res, nil
}

func containsU16(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// byDocFreq sorts a phrase leaf's parts, rarest first.
type byDocFreq struct {
	l     *execLeaf
	stats []partStat
}

func (b byDocFreq) Len() int           { return len(b.l.parts) }
func (b byDocFreq) Less(i, j int) bool { return b.stats[i].df < b.stats[j].df }
func (b byDocFreq) Swap(i, j int) {
	b.l.parts[i], b.l.parts[j] = b.l.parts[j], b.l.parts[i]
	b.l.offsets[i], b.l.offsets[j] = b.l.offsets[j], b.l.offsets[i]
	b.stats[i], b.stats[j] = b.stats[j], b.stats[i]
}

func (p *postings) set(d *index.TermFieldDoc, err error) error {
	if err != nil {
		return fmt.Errorf("faq: postings: %w", err)
	}
	if d == nil {
		p.done = true
		return nil
	}
	p.cur = d.ID.Value()
	return nil
}

func (p *postings) next() error { return p.set(p.tfr.Next(p.tfd.Reset())) }

func (p *postings) advance(id index.IndexInternalID) error {
	return p.set(p.tfr.Advance(id, p.tfd.Reset()))
}

func (p *postings) score() float64 {
	return p.weight * bm25(p.idf, p.avgLen, p.tfd.Freq, p.tfd.Norm)
}

// start positions l at its first match at or after document number lo.
func (l *execLeaf) start(lo uint64) error {
	id := index.NewIndexInternalID(nil, lo)
	for _, p := range l.parts {
		var err error
		if lo == 0 {
			err = p.next()
		} else {
			err = p.advance(id)
		}
		if err != nil {
			return err
		}
	}
	return l.settle()
}

// next moves l to its next match.
func (l *execLeaf) next() error {
	if err := l.parts[0].next(); err != nil {
		return err
	}
	return l.settle()
}

// settle moves l's parts forward until they agree on a document where the
// leaf matches, and scores it: a term matches wherever it occurs; a phrase
// where its terms occur at their relative positions.
func (l *execLeaf) settle() error {
	for {
		target := uint64(0)
		for _, p := range l.parts {
			if p.done {
				l.done = true
				return nil
			}
			target = max(target, p.cur)
		}
		agree := true
		for _, p := range l.parts {
			if p.cur < target {
				agree = false
				if err := p.advance(index.NewIndexInternalID(nil, target)); err != nil {
					return err
				}
			}
		}
		if !agree {
			continue
		}
		if len(l.parts) == 1 || l.phraseAt() {
			l.cur = target
			l.score = 0
			for _, p := range l.parts {
				l.score += p.score()
			}
			return nil
		}
		if err := l.parts[0].next(); err != nil {
			return err
		}
	}
}

// phraseAt reports whether the parts, all on one document, occur at their
// relative positions in the same value of the field (tags are a list).
func (l *execLeaf) phraseAt() bool {
	for _, v := range l.parts[0].tfd.Vectors {
		base := int(v.Pos) - l.offsets[0]
		found := true
		for j := 1; j < len(l.parts) && found; j++ {
			found = false
			for _, w := range l.parts[j].tfd.Vectors {
				if int(w.Pos)-l.offsets[j] == base && slices.Equal(w.ArrayPositions, v.ArrayPositions) {
					found = true
					break
				}
			}
		}
		if found {
			return true
		}
	}
	return false
}

// bm25 is Bleve's per-posting score (before the query weight), so results
// rank exactly as the equivalent Bleve query would rank them.
func bm25(idf, avgLen float64, freq uint64, norm float64) float64 {
	tf := math.Sqrt(float64(freq))
	if avgLen > 0 {
		fieldLen := 1 / (norm * norm)
		return idf * (tf * search.BM25_k1) / (tf + search.BM25_k1*(1-search.BM25_b+search.BM25_b*fieldLen/avgLen))
	}
	return tf * norm * idf
}

// windowSize is how many document numbers are scored at a time: postings
// are read leaf by leaf within a window into flat arrays, which avoids a
// priority queue over the leaves and stays in the CPU caches.
const windowSize = 4096

// window accumulates the leaf scores of the documents of one window: within
// a member, the best field plus tieFields times the others; within a
// clause, the best member plus tieAlternatives times the others; across
// clauses, the sum times the fraction of clauses matched. Leaves arrive
// grouped by member and members by clause, so one member's and one
// clause's arrays are reused for all of them.
type window struct {
	clauses, min int

	slotBest, slotSum     []float64
	slotDocs              []int
	clauseBest, clauseSum []float64
	clauseDocs            []int
	total                 []float64
	matched               []int
	docs                  []int // documents with any match, in arrival order
}

func newWindow(cp *compiledPlan, size int) *window {
	return &window{
		clauses: cp.clauses, min: cp.min,
		slotBest: make([]float64, size), slotSum: make([]float64, size),
		clauseBest: make([]float64, size), clauseSum: make([]float64, size),
		total: make([]float64, size), matched: make([]int, size),
	}
}

// add records leaf l's score for the document at offset i. Scores are
// positive, so a zero sum means "not seen yet".
func (w *window) add(l *execLeaf, i int) {
	if w.slotSum[i] == 0 {
		w.slotDocs = append(w.slotDocs, i)
		w.slotBest[i], w.slotSum[i] = l.score, l.score
		return
	}
	w.slotBest[i] = max(w.slotBest[i], l.score)
	w.slotSum[i] += l.score
}

// endSlot folds the member just read into its clause.
func (w *window) endSlot() {
	for _, i := range w.slotDocs {
		v := w.slotBest[i] + tieFields*(w.slotSum[i]-w.slotBest[i])
		w.slotBest[i], w.slotSum[i] = 0, 0
		if w.clauseSum[i] == 0 {
			w.clauseDocs = append(w.clauseDocs, i)
			w.clauseBest[i], w.clauseSum[i] = v, v
			continue
		}
		w.clauseBest[i] = max(w.clauseBest[i], v)
		w.clauseSum[i] += v
	}
	w.slotDocs = w.slotDocs[:0]
}

// endClause folds the clause just read into the documents' totals.
func (w *window) endClause() {
	for _, i := range w.clauseDocs {
		if w.matched[i] == 0 {
			w.docs = append(w.docs, i)
		}
		w.total[i] += w.clauseBest[i] + tieAlternatives*(w.clauseSum[i]-w.clauseBest[i])
		w.matched[i]++
		w.clauseBest[i], w.clauseSum[i] = 0, 0
	}
	w.clauseDocs = w.clauseDocs[:0]
}

// finish returns the score of the document at offset i and whether it
// matches enough clauses, and resets its entry.
func (w *window) finish(i int) (float64, bool) {
	sum, matched := w.total[i], w.matched[i]
	w.total[i], w.matched[i] = 0, 0
	if matched < w.min {
		return 0, false
	}
	if w.clauses > 1 {
		sum *= float64(matched) / float64(w.clauses)
	}
	return sum, true
}
