package faq

import (
	"context"
	"fmt"
	"sync"

	index "github.com/blevesearch/bleve_index_api"

	"github.com/printshop/helpdesk/kb"
)

// categoryTable maps the documents of one index snapshot to their
// categories. Counting categories over every match is then an array lookup
// per matching document. Bleve's own facets read each match's doc values
// instead, which on a large index costs more than the search itself.
type categoryTable struct {
	names []string            // category names; index 0 is unused (no category)
	slugs map[string][]uint16 // category slug -> indexes of the names with that slug
	byDoc []uint16            // document number -> index into names
}

// categoryCache keeps the table of the snapshot searched last. Scorch hands
// out the same snapshot until the index changes, so the table is built once
// per change, not once per search.
type categoryCache struct {
	mu     sync.Mutex
	reader index.IndexReader // the snapshot table was built from; compared by identity only
	table  *categoryTable
}

// get returns the table for snapshot r, building it if r is new.
func (c *categoryCache) get(ctx context.Context, r index.IndexReader) (*categoryTable, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.table != nil && c.reader == r {
		return c.table, nil
	}
	t, err := buildCategoryTable(ctx, r)
	if err != nil {
		return nil, err
	}
	c.reader, c.table = r, t
	return t, nil
}

// reset drops the cached table, so a closed snapshot is not kept alive.
func (c *categoryCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reader, c.table = nil, nil
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
