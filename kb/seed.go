package kb

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// The starter knowledge base: one Markdown file per article, named
// <slug>.md, with a front matter block of title, category and tags.
//
//go:embed articles/*.md
var seedFS embed.FS

const seededKey = "kb.seeded"

// Seed returns the starter articles embedded in the binary, sorted by slug.
func Seed() ([]Article, error) {
	return parseDir(seedFS, "articles")
}

func parseDir(fsys fs.FS, dir string) ([]Article, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Article
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		a, err := ParseMarkdownFile(strings.TrimSuffix(e.Name(), ".md"), b)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out, nil
}

// ParseMarkdownFile parses an article file: a front matter block between two
// "---" lines holding "title:", "category:" and "tags:" (comma separated),
// then the Markdown body. The result is validated like an admin's input.
func ParseMarkdownFile(slug string, b []byte) (Article, error) {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	rest, ok := bytes.CutPrefix(b, []byte("---\n"))
	if !ok {
		return Article{}, fmt.Errorf("article %s: missing front matter", slug)
	}
	head, body, ok := bytes.Cut(rest, []byte("\n---\n"))
	if !ok {
		return Article{}, fmt.Errorf("article %s: unterminated front matter", slug)
	}
	in := Input{Slug: slug, Body: strings.TrimSpace(string(body)) + "\n"}
	for _, line := range strings.Split(string(head), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return Article{}, fmt.Errorf("article %s: front matter line %q has no colon", slug, line)
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "title":
			in.Title = v
		case "category":
			in.Category = v
		case "tags":
			in.Tags = strings.Split(v, ",")
		default:
			return Article{}, fmt.Errorf("article %s: unknown front matter key %q", slug, k)
		}
	}
	a, err := in.validate()
	if err != nil {
		return Article{}, fmt.Errorf("article %s: %w", slug, err)
	}
	return a, nil
}

// SeedIfEmpty loads the starter articles the first time the helpdesk starts
// on a database. It records that it did so, and never imports again, so an
// admin's later edits and deletions are never overwritten. It reports how
// many articles it imported.
func (s *Service) SeedIfEmpty(ctx context.Context) (int, error) {
	arts, err := Seed()
	if err != nil {
		return 0, fmt.Errorf("kb: starter articles: %w", err)
	}
	n := 0
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, done, err := getSetting(ctx, tx, seededKey)
		if err != nil || done {
			return err
		}
		var existing int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM articles`).Scan(&existing); err != nil {
			return err
		}
		now := s.now().UTC()
		if existing == 0 {
			for i := range arts {
				arts[i].CreatedAt, arts[i].UpdatedAt = now, now
				if err := insertArticle(ctx, tx, &arts[i]); err != nil {
					return fmt.Errorf("insert %s: %w", arts[i].Slug, err)
				}
			}
			n = len(arts)
		}
		return setSetting(ctx, tx, seededKey, fmt.Sprint(n), now)
	})
	if err != nil {
		return 0, fmt.Errorf("kb: seed: %w", err)
	}
	return n, nil
}
