package faq

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/blevesearch/bleve/v2"
	index "github.com/blevesearch/bleve_index_api"
)

// BM25 needs the average length of each field. Bleve derives it from the
// number of distinct terms in the field's dictionary, which is not a
// length (at 100,000 articles it makes the body's "average length" one
// word) and changes as segments are merged in the background, so the same
// query would rank differently from minute to minute and from one server
// to the next. The real averages are measured when the index is built and
// stored in it; updates between two builds shift them too little to
// matter.

// lengthsKey is the Bleve internal key holding the fieldLengths.
var lengthsKey = []byte("faq.field_lengths")

// fieldLengths maps a searched field to its average length in terms over
// the articles that have it, rounded up to a whole term as Bleve rounds.
type fieldLengths map[string]float64

// maxLengthTerms bounds the postings read to measure a field: the most
// used terms of a field are in nearly every article that has the field.
const maxLengthTerms = 200

// measureLengths reads the average field lengths from r: every posting
// carries its field's length (as a norm, one over the root of it), so the
// postings of the most used terms reach nearly every article cheaply.
func measureLengths(ctx context.Context, r index.IndexReader) (fieldLengths, error) {
	out := fieldLengths{}
	for _, f := range searchFields {
		dict, err := r.FieldDict(f.name)
		if err != nil {
			return nil, err
		}
		var terms []index.DictEntry
		for {
			e, err := dict.Next()
			if err != nil {
				_ = dict.Close()
				return nil, err
			}
			if e == nil {
				break
			}
			terms = append(terms, *e)
		}
		if err := dict.Close(); err != nil {
			return nil, err
		}
		sort.Slice(terms, func(i, j int) bool { return terms[i].Count > terms[j].Count })

		seen := map[uint64]bool{}
		var sum float64
		for _, e := range terms[:min(len(terms), maxLengthTerms)] {
			tfr, err := r.TermFieldReader(ctx, []byte(e.Term), f.name, false, true, false)
			if err != nil {
				return nil, err
			}
			var d index.TermFieldDoc
			for {
				got, err := tfr.Next(d.Reset())
				if err != nil {
					_ = tfr.Close()
					return nil, err
				}
				if got == nil {
					break
				}
				if n := got.ID.Value(); !seen[n] && got.Norm > 0 {
					seen[n] = true
					sum += 1 / (got.Norm * got.Norm)
				}
			}
			if err := tfr.Close(); err != nil {
				return nil, err
			}
		}
		if len(seen) > 0 {
			out[f.name] = math.Ceil(sum / float64(len(seen)))
		}
	}
	return out, nil
}

// readLengths loads the averages stored in idx.
func readLengths(idx bleve.Index) (fieldLengths, error) {
	b, err := idx.GetInternal(lengthsKey)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("no field lengths stored")
	}
	var l fieldLengths
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("field lengths: %w", err)
	}
	return l, nil
}
