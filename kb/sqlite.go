package kb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

const articleCols = `id, slug, title, category, body, tags, published, helpful_yes, helpful_no, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanArticle(r rowScanner) (Article, error) {
	var (
		a                Article
		tags             string
		created, updated string
	)
	if err := r.Scan(&a.ID, &a.Slug, &a.Title, &a.Category, &a.Body, &tags, &a.Published,
		&a.HelpfulYes, &a.HelpfulNo, &created, &updated); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(tags), &a.Tags); err != nil {
		return a, fmt.Errorf("article %s: tags: %w", a.Slug, err)
	}
	var err error
	if a.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return a, fmt.Errorf("article %s: created_at: %w", a.Slug, err)
	}
	if a.UpdatedAt, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return a, fmt.Errorf("article %s: updated_at: %w", a.Slug, err)
	}
	return a, nil
}

// timeLayout is fixed-width so that times stored as text compare correctly
// as strings (RFC3339Nano drops trailing zeros and would not).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getArticle(ctx context.Context, q querier, slug string) (Article, error) {
	a, err := scanArticle(q.QueryRowContext(ctx, `SELECT `+articleCols+` FROM articles WHERE slug = ?`, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

func listArticles(ctx context.Context, q querier, where string, args ...any) ([]Article, error) {
	query := `SELECT ` + articleCols + ` FROM articles`
	if where != "" {
		query += " WHERE " + where
	}
	query += " ORDER BY category, title"
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Article
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func insertArticle(ctx context.Context, tx *sql.Tx, a *Article) error {
	tags, err := json.Marshal(nonNil(a.Tags))
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO articles (slug, title, category, body, tags, published, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Slug, a.Title, a.Category, a.Body, string(tags), a.Published, fmtTime(a.CreatedAt), fmtTime(a.UpdatedAt))
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique {
			return ErrSlugTaken
		}
		return err
	}
	a.ID, err = res.LastInsertId()
	return err
}

func updateArticle(ctx context.Context, tx *sql.Tx, a Article) error {
	tags, err := json.Marshal(nonNil(a.Tags))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE articles SET title = ?, category = ?, body = ?, tags = ?, published = ?, updated_at = ?
		WHERE id = ?`, a.Title, a.Category, a.Body, string(tags), a.Published, fmtTime(a.UpdatedAt), a.ID)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func getSetting(ctx context.Context, q querier, key string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

func setSetting(ctx context.Context, tx *sql.Tx, key, value string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, fmtTime(now))
	return err
}
