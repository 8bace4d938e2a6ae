package faq

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/printshop/helpdesk/kb"
)

// memSource is an in-memory Source whose articles a test can change.
type memSource struct {
	mu   sync.Mutex
	arts []kb.Article
	err  error
}

func (s *memSource) Published(ctx context.Context) ([]kb.Article, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	var out []kb.Article
	for _, a := range s.arts {
		if a.Published {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *memSource) set(arts ...kb.Article) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arts = arts
}

// openTestIndex opens an index in <root>/index/faq and closes it when the
// test ends.
func openTestIndex(t testing.TB, root string, src Source) *Index {
	t.Helper()
	ix, err := Open(indexDir(root), src, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}

func indexDir(root string) string { return filepath.Join(root, "index", "faq") }

func article(slug, title, category, body string, tags ...string) kb.Article {
	return kb.Article{Slug: slug, Title: title, Category: category, Body: body, Tags: tags, Published: true}
}
