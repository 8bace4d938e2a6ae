package faq

import (
	"context"
	"fmt"
	"sync"
	"unicode/utf8"

	index "github.com/blevesearch/bleve_index_api"

	"github.com/printshop/helpdesk/kb"
)

// A search needs two things Bleve cannot answer fast, both kept per index
// snapshot: each document's category (for the counts per category) and the
// spelling dictionary (for typo correction). Scorch hands out the same
// snapshot until the index changes, so they are built once per change, not
// once per search.

// snapshotData is what is cached for one snapshot.
type snapshotData struct {
	cats  *categoryTable
	words *spelling
}

// snapshotCache keeps the data of the snapshot searched last.
type snapshotCache struct {
	mu     sync.Mutex
	reader index.IndexReader // the snapshot data was built from; compared by identity only
	data   *snapshotData
}

// get returns the data for snapshot r, building it if r is new.
func (c *snapshotCache) get(ctx context.Context, r index.IndexReader) (*snapshotData, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data != nil && c.reader == r {
		return c.data, nil
	}
	cats, err := buildCategoryTable(ctx, r)
	if err != nil {
		return nil, err
	}
	words, err := buildSpelling(r)
	if err != nil {
		return nil, err
	}
	c.reader, c.data = r, &snapshotData{cats: cats, words: words}
	return c.data, nil
}

// reset drops the cached data, so a closed snapshot is not kept alive.
func (c *snapshotCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reader, c.data = nil, nil
}

// categoryTable maps the documents of one index snapshot to their
// categories. Counting categories over every match is then an array lookup
// per matching document. Bleve's own facets read each match's doc values
// instead, which on a large index costs more than the search itself.
type categoryTable struct {
	names []string            // category names; index 0 is unused (no category)
	slugs map[string][]uint16 // category slug -> indexes of the names with that slug
	byDoc []uint16            // document number -> index into names
}

func buildCategoryTable(ctx context.Context, r index.IndexReader) (*categoryTable, error) {
	t := &categoryTable{names: []string{""}, slugs: map[string][]uint16{}}
	dict, err := r.FieldDict(fieldCategory)
	if err != nil {
		return nil, fmt.Errorf("faq: categories: %w", err)
	}
	var names []string
	for {
		e, err := dict.Next()
		if err != nil {
			_ = dict.Close()
			return nil, fmt.Errorf("faq: categories: %w", err)
		}
		if e == nil {
			break
		}
		names = append(names, e.Term)
	}
	if err := dict.Close(); err != nil {
		return nil, fmt.Errorf("faq: categories: %w", err)
	}
	if len(names) >= 1<<16-1 {
		return nil, fmt.Errorf("faq: %d categories are too many to count", len(names))
	}
	for _, name := range names {
		ci := uint16(len(t.names))
		t.names = append(t.names, name)
		slug := kb.CategorySlug(name)
		t.slugs[slug] = append(t.slugs[slug], ci)
		tfr, err := r.TermFieldReader(ctx, []byte(name), fieldCategory, false, false, false)
		if err != nil {
			return nil, fmt.Errorf("faq: categories: %w", err)
		}
		var d index.TermFieldDoc
		for {
			got, err := tfr.Next(d.Reset())
			if err != nil {
				_ = tfr.Close()
				return nil, fmt.Errorf("faq: categories: %w", err)
			}
			if got == nil {
				break
			}
			n := got.ID.Value()
			if n >= uint64(len(t.byDoc)) {
				t.byDoc = append(t.byDoc, make([]uint16, int(n)+1-len(t.byDoc)+len(t.byDoc)/2)...)
			}
			t.byDoc[n] = ci
		}
		if err := tfr.Close(); err != nil {
			return nil, fmt.Errorf("faq: categories: %w", err)
		}
	}
	return t, nil
}

// of returns the category index of document number n, or 0.
func (t *categoryTable) of(n uint64) uint16 {
	if n >= uint64(len(t.byDoc)) {
		return 0
	}
	return t.byDoc[n]
}

// spelling is the spelling dictionary of a snapshot: every word of every
// article (the words field) with how many articles use it, grouped for
// finding the words within an edit or two of a misspelling.
//
// Why not Bleve's fuzzy term search: it builds a Levenshtein automaton per
// word, up to a millisecond and tens of kilobytes for two edits, and knows
// no swapped letters. Grouping the words by first letter and length leaves a
// few dozen to compare per misspelling, at the price of never correcting
// the first letter (people rarely mistype it, and a swap of the first two
// letters is still found).
type spelling struct {
	df     map[string]uint64
	groups map[spellKey][]string
}

type spellKey struct {
	first rune
	runes int
}

func buildSpelling(r index.IndexReader) (*spelling, error) {
	sp := &spelling{df: map[string]uint64{}, groups: map[spellKey][]string{}}
	dict, err := r.FieldDict(fieldWords)
	if err != nil {
		return nil, fmt.Errorf("faq: spelling dictionary: %w", err)
	}
	for {
		e, err := dict.Next()
		if err != nil {
			_ = dict.Close()
			return nil, fmt.Errorf("faq: spelling dictionary: %w", err)
		}
		if e == nil {
			break
		}
		if e.Count == 0 {
			continue
		}
		sp.df[e.Term] = e.Count
		first, _ := utf8.DecodeRuneInString(e.Term)
		k := spellKey{first, utf8.RuneCountInString(e.Term)}
		sp.groups[k] = append(sp.groups[k], e.Term)
	}
	if err := dict.Close(); err != nil {
		return nil, fmt.Errorf("faq: spelling dictionary: %w", err)
	}
	return sp, nil
}

// near calls f with every word of the dictionary that could be within
// maxDist edits of w without a change to its first letter other than a
// swap with the second: the words starting with w's first or second letter
// whose length is within maxDist of w's.
func (sp *spelling) near(w string, maxDist int, f func(word string)) {
	rs := []rune(w)
	firsts := []rune{rs[0]}
	if len(rs) > 1 && rs[1] != rs[0] {
		firsts = append(firsts, rs[1])
	}
	for _, first := range firsts {
		for n := len(rs) - maxDist; n <= len(rs)+maxDist; n++ {
			for _, word := range sp.groups[spellKey{first, n}] {
				f(word)
			}
		}
	}
}
