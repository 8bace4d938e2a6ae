package faq

import (
	"context"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
)

// Typo tolerance. A query word is checked against the spelling dictionary
// (the words field) only when it is rare there: a word many articles use is
// spelled right, and skipping the dictionary walk for it keeps common
// queries fast on a large index. Corrections are searched with a lower
// boost than the typed word, so an article containing exactly what the
// customer typed outranks one that only matches a correction.
const (
	rareDocFreq      = 2   // words in fewer articles than this get spelling candidates
	minFuzzyLen      = 4   // shorter words are left alone: "ups" is not a typo of "up"
	fuzzy2Len        = 8   // words this long may be two edits off
	maxCorrections   = 3   // candidates searched per misspelled word
	boostCorrection1 = 0.5 // one edit (or one swap of adjacent letters) away
	boostCorrection2 = 0.3 // two edits away
	boostSynonym     = 0.5 // a synonym, relative to the word the customer typed
	maxQueryWords    = 32  // content words considered; a longer ramble adds noise, not signal
)

// queryStopWords are words customers type that the English stop list misses
// because the apostrophe was left out ("cant" for "can't"). They carry no
// topic; searched, they would be "corrected" into unrelated words.
func queryStopWords() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		"im", "ive", "id", "ill", "youre", "youve", "isnt", "arent", "wasnt", "werent",
		"dont", "doesnt", "didnt", "cant", "couldnt", "wont", "wouldnt", "shouldnt",
		"hasnt", "havent", "hadnt", "whats", "wheres", "hows", "thats", "theres", "lets",
		"please", "thanks", "thank", "hi", "hello",
	} {
		m[w] = true
	}
	return m
}

// queryBuilder turns what a customer typed into a queryPlan: stop words
// dropped, spelling corrected against the index's own vocabulary, synonym
// groups expanded. It holds no mutable state after construction and is
// safe for concurrent use.
type queryBuilder struct {
	words     analysis.Analyzer // surface forms
	text      analysis.Analyzer // index-time analysis (stems, no stop words)
	extraStop map[string]bool
	synonyms  []compiledGroup
	byFirst   map[string][]synPhrase // first match key -> phrases starting with it, longest first
}

// compiledGroup is a synonymGroup after analysis.
type compiledGroup struct {
	members []member // what the group searches for
}

// member is one thing a clause searches for: a single index term, or a
// phrase.
type member struct {
	term   string // analyzed term, for single words
	phrase string // text of a multi-word phrase
	label  string // identity, for de-duplication
	// A phrase's terms and their positions relative to the first; a phrase
	// whose other words are stop words ("log in") is searched as its one
	// term, which needs no positions and is much cheaper.
	terms   []string
	offsets []int
}

// synPhrase is a synonym term or cue as a sequence of match keys.
type synPhrase struct {
	keys   []string
	group  int
	member int // index into the group's members, or -1 for a cue
}

func newQueryBuilder(m mapping.IndexMapping, groups []synonymGroup) (*queryBuilder, error) {
	qb := &queryBuilder{
		words:     m.AnalyzerNamed(analyzerWords),
		text:      m.AnalyzerNamed(analyzerText),
		extraStop: queryStopWords(),
		byFirst:   map[string][]synPhrase{},
	}
	if qb.words == nil || qb.text == nil {
		return nil, fmt.Errorf("faq: analyzers %s and %s must be registered", analyzerWords, analyzerText)
	}
	for gi, g := range groups {
		var cg compiledGroup
		seen := map[string]bool{}
		add := func(text string, cue bool) error {
			words := qb.surface(text)
			if len(words) == 0 {
				return fmt.Errorf("faq: synonym %q has no words", text)
			}
			keys := make([]string, len(words))
			var content []string
			for i, w := range words {
				keys[i] = qb.matchKey(w)
				if st := qb.stem(w); st != "" {
					content = append(content, st)
				}
			}
			p := synPhrase{keys: keys, group: gi, member: -1}
			if !cue && len(content) > 0 {
				mb := member{term: content[0], label: content[0]}
				if toks := qb.text.Analyze([]byte(text)); len(toks) > 1 {
					mb = member{phrase: text, label: fmt.Sprint(content)}
					for _, t := range toks {
						mb.terms = append(mb.terms, string(t.Term))
						mb.offsets = append(mb.offsets, t.Position-toks[0].Position)
					}
				}
				if !seen[mb.label] {
					seen[mb.label] = true
					cg.members = append(cg.members, mb)
				}
				for i := range cg.members {
					if cg.members[i].label == mb.label {
						p.member = i
					}
				}
			}
			qb.byFirst[keys[0]] = append(qb.byFirst[keys[0]], p)
			return nil
		}
		for _, t := range g.terms {
			if err := add(t, false); err != nil {
				return nil, err
			}
		}
		for _, t := range g.cues {
			if err := add(t, true); err != nil {
				return nil, err
			}
		}
		qb.synonyms = append(qb.synonyms, cg)
	}
	for k, ps := range qb.byFirst {
		sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].keys) > len(ps[j].keys) })
		qb.byFirst[k] = ps
	}
	return qb, nil
}

// surface returns the lower-cased words of s, possessives removed.
func (qb *queryBuilder) surface(s string) []string {
	ts := qb.words.Analyze([]byte(s))
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, string(t.Term))
	}
	return out
}

// stem returns the index term for one surface word, or "" for a stop word.
func (qb *queryBuilder) stem(word string) string {
	if qb.extraStop[word] {
		return ""
	}
	ts := qb.text.Analyze([]byte(word))
	if len(ts) == 0 {
		return ""
	}
	return string(ts[0].Term)
}

// matchKey is what synonym matching compares: the stem of a content word,
// the word itself for a stop word (so "where is my order" can be a cue
// although every word but "order" is a stop word).
func (qb *queryBuilder) matchKey(word string) string {
	if st := qb.stem(word); st != "" {
		return st
	}
	return "=" + word
}

// queryWord is one word of the customer's text after analysis.
type queryWord struct {
	surface string
	stem    string // "" for a stop word
	key     string // for synonym matching; the best correction's stem for an unknown word
	known   bool   // the index has this word
	fixes   []correction
}

// correction is a spelling candidate for a query word.
type correction struct {
	surface string
	stem    string
	dist    int
	df      uint64
}

// clause is one concept of the query: a word (with its spelling
// candidates) or a synonym group. A document's score sums its clauses, and
// the fraction of clauses it matches multiplies that sum.
type clause struct {
	key     string
	members []weighted
}

type weighted struct {
	member
	boost   float64
	synonym bool // a synonym of what the customer typed, not the word itself
	// noBody: search title and tags only. A synonym counts where an
	// article says what it is about; in the body it is as often incidental
	// ("we ship your refund check"). A word most articles have in their
	// body says nothing there about which one answers. And on a large
	// index, the body postings of such words and of every synonym of every
	// word are most of a search's work.
	noBody bool
}

// queryPlan is a customer's text after analysis.
type queryPlan struct {
	clauses []clause
}

// terms returns every index term the plan searches for, with the boost of
// its strongest member, for marking the words that matched in snippets.
func (p queryPlan) terms() map[string]float64 {
	out := map[string]float64{}
	for _, c := range p.clauses {
		for _, m := range c.members {
			if m.phrase == "" {
				out[m.term] = max(out[m.term], m.boost)
			}
			for _, t := range m.terms {
				out[t] = max(out[t], m.boost)
			}
		}
	}
	return out
}

// plan analyzes text. r is the index snapshot the plan will run on and sp
// its spelling dictionary.
func (qb *queryBuilder) plan(ctx context.Context, r index.IndexReader, sp *spelling, text string) (queryPlan, error) {
	var p queryPlan
	words := qb.analyzeWords(sp, text)

	byKey := map[string]int{}
	addClause := func(c clause) {
		if i, ok := byKey[c.key]; ok {
			// The same concept twice ("ink ink", or two synonyms of one
			// group): merge, keeping the strongest boost per member.
			p.clauses[i].members = mergeMembers(p.clauses[i].members, c.members)
			return
		}
		byKey[c.key] = len(p.clauses)
		p.clauses = append(p.clauses, c)
	}

	for i := 0; i < len(words) && len(p.clauses) < maxQueryWords; {
		if sp, ok := qb.matchSynonym(words[i:]); ok {
			addClause(qb.groupClause(sp))
			i += len(sp.keys)
			continue
		}
		w := words[i]
		i++
		if w.stem == "" {
			continue
		}
		c := clause{key: "w:" + w.key}
		if w.known {
			c.members = append(c.members, weighted{member: member{term: w.stem, label: w.stem}, boost: 1})
		}
		for _, f := range w.fixes {
			b := boostCorrection1
			if f.dist > 1 {
				b = boostCorrection2
			}
			c.members = append(c.members, weighted{member: member{term: f.stem, label: f.stem}, boost: b})
		}
		if len(c.members) == 0 {
			continue // a word no article uses and nothing close to it: no evidence either way
		}
		addClause(c)
	}
	if err := qb.markBodies(ctx, r, p.clauses); err != nil {
		return p, err
	}
	return p, nil
}

// commonInBody is the share of articles above which a word's presence in a
// body is no evidence; commonMinDocs is the index size below which shares
// say too little to act on.
const (
	commonInBody  = 0.5
	commonMinDocs = 20
)

// markBodies sets noBody on the members not searched in article bodies.
func (qb *queryBuilder) markBodies(ctx context.Context, r index.IndexReader, clauses []clause) error {
	docs, err := r.DocCount()
	if err != nil {
		return err
	}
	for _, c := range clauses {
		for i := range c.members {
			m := &c.members[i]
			if m.synonym {
				m.noBody = true
				continue
			}
			if m.phrase != "" {
				continue
			}
			tfr, err := r.TermFieldReader(ctx, []byte(m.term), fieldBody, false, false, false)
			if err != nil {
				return fmt.Errorf("faq: look up %q: %w", m.term, err)
			}
			m.noBody = docs >= commonMinDocs && float64(tfr.Count()) > commonInBody*float64(docs)
			if err := tfr.Close(); err != nil {
				return fmt.Errorf("faq: look up %q: %w", m.term, err)
			}
		}
	}
	return nil
}

// analyzeWords splits text into words and looks each content word up.
func (qb *queryBuilder) analyzeWords(sp *spelling, text string) []queryWord {
	var out []queryWord
	content := 0
	for _, s := range qb.surface(text) {
		w := queryWord{surface: s, stem: qb.stem(s)}
		w.key = qb.matchKey(s)
		if w.stem != "" {
			content++
			if content > maxQueryWords {
				break
			}
			df := sp.df[s]
			w.known = df > 0
			if df < rareDocFreq && utf8.RuneCountInString(s) >= minFuzzyLen {
				w.fixes = qb.corrections(sp, s, w.known)
				if !w.known && len(w.fixes) > 0 {
					w.key = w.fixes[0].stem
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// matchSynonym reports the longest synonym term or cue that starts words.
func (qb *queryBuilder) matchSynonym(words []queryWord) (synPhrase, bool) {
	for _, p := range qb.byFirst[words[0].key] {
		if len(p.keys) > len(words) {
			continue
		}
		ok := true
		for j, k := range p.keys {
			if words[j].key != k {
				ok = false
				break
			}
		}
		if ok {
			return p, true
		}
	}
	return synPhrase{}, false
}

// groupClause searches for every member of p's group, the one the customer
// typed at full weight and the others at boostSynonym. A cue stands for the
// group's first term, which gets full weight.
func (qb *queryBuilder) groupClause(p synPhrase) clause {
	g := qb.synonyms[p.group]
	c := clause{key: fmt.Sprintf("g:%d", p.group)}
	typed := max(p.member, 0)
	for i, m := range g.members {
		b := boostSynonym
		if i == typed {
			b = 1
		}
		c.members = append(c.members, weighted{member: m, boost: b, synonym: i != typed})
	}
	return c
}

func mergeMembers(a, b []weighted) []weighted {
	for _, m := range b {
		found := false
		for i := range a {
			if a[i].label == m.label {
				a[i].boost = max(a[i].boost, m.boost)
				a[i].synonym = a[i].synonym && m.synonym
				found = true
				break
			}
		}
		if !found {
			a = append(a, m)
		}
	}
	return a
}

// corrections returns up to maxCorrections words of the dictionary within
// the allowed edit distance of w (known: w itself is in the index), best
// first: fewest edits, then the same first letter, then the most used. An
// adjacent swap ("retrun") counts as one edit.
func (qb *queryBuilder) corrections(sp *spelling, w string, known bool) []correction {
	maxDist := 1
	if utf8.RuneCountInString(w) >= fuzzy2Len && !known {
		// A word some article uses is less likely to be a typo: only its
		// nearest neighbours are worth searching too.
		maxDist = 2
	}
	var cands []correction
	sp.near(w, maxDist, func(s string) {
		d := osaDistance(w, s)
		if d == 0 || d > maxDist {
			return
		}
		st := qb.stem(s)
		if st == "" {
			return // "thw" is not worth correcting to "the"
		}
		cands = append(cands, correction{surface: s, stem: st, dist: d, df: sp.df[s]})
	})

	first, _ := utf8.DecodeRuneInString(w)
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.dist != b.dist {
			return a.dist < b.dist
		}
		af, _ := utf8.DecodeRuneInString(a.surface)
		bf, _ := utf8.DecodeRuneInString(b.surface)
		if (af == first) != (bf == first) {
			return af == first
		}
		if a.df != b.df {
			return a.df > b.df
		}
		return a.surface < b.surface
	})
	// Several surface forms can share a stem ("shipping", "shipped").
	var out []correction
	stems := map[string]bool{}
	for _, c := range cands {
		if stems[c.stem] {
			continue
		}
		stems[c.stem] = true
		out = append(out, c)
		if len(out) == maxCorrections {
			break
		}
	}
	return out
}

// osaDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent letters each
// cost one.
func osaDistance(a, b string) int {
	// Words are short: fixed buffers keep the many comparisons of a
	// spelling lookup from allocating.
	var bufA, bufB [32]rune
	var rows [3][33]int
	ra, rb := appendRunes(bufA[:0], a), appendRunes(bufB[:0], b)
	if len(rb) >= len(rows[0]) {
		return max(len(ra), len(rb)) // longer than any word worth correcting
	}
	prev2, prev, cur := rows[0][:len(rb)+1], rows[1][:len(rb)+1], rows[2][:len(rb)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func appendRunes(dst []rune, s string) []rune {
	for _, r := range s {
		dst = append(dst, r)
	}
	return dst
}

// minShould is how many clauses a document must match. Short queries need
// one: every word may be the one that matters. Long, rambling queries need
// a few, so an article sharing one incidental word with them is not a hit;
// never all, since customers add words no article uses.
func minShould(n int) int {
	switch {
	case n <= 3:
		return 1
	case n <= 6:
		return 2
	default:
		return 2 + (n-6)/4
	}
}
