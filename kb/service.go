package kb

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// Indexer is told about every committed article change so that a search
// index can follow the database. Package faq implements it. Errors are
// logged, not returned to the editor: the database is the source of truth
// and the index can always be rebuilt from it.
type Indexer interface {
	Upsert(ctx context.Context, a Article) error
	Remove(ctx context.Context, slug string) error
}

// Auditor records who changed which article; internal/auth's audit log
// implements it through an adapter in main. action is article_created,
// article_updated or article_deleted.
type Auditor interface {
	ArticleChanged(ctx context.Context, action, slug string)
}

// Feedback limits per client: one vote per article per FeedbackWindow, and
// at most FeedbackPerHour votes in any hour across all articles.
const (
	FeedbackWindow  = 24 * time.Hour
	FeedbackPerHour = 30
)

// Service manages articles. It is safe for concurrent use.
type Service struct {
	db      *sqlitedb.DB
	indexer Indexer
	auditor Auditor
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Service. indexer may be nil (no search index attached yet);
// call SetIndexer once the index is open.
func New(db *sqlitedb.DB, now func() time.Time, log *slog.Logger) *Service {
	return &Service{db: db, now: now, log: log}
}

// SetIndexer attaches the search index that follows article changes. It must
// be called before the service is shared between goroutines.
func (s *Service) SetIndexer(ix Indexer) { s.indexer = ix }

// SetAuditor attaches the audit log. Like SetIndexer it must be called
// before the service is shared.
func (s *Service) SetAuditor(a Auditor) { s.auditor = a }

func (s *Service) audit(ctx context.Context, action, slug string) {
	if s.auditor != nil {
		s.auditor.ArticleChanged(ctx, action, slug)
	}
}

// Get returns the article with the given slug. Unpublished articles are
// returned only when includeDrafts is set. It returns ErrNotFound.
func (s *Service) Get(ctx context.Context, slug string, includeDrafts bool) (Article, error) {
	if !ValidSlug(slug) {
		return Article{}, ErrNotFound
	}
	a, err := getArticle(ctx, s.db.R, slug)
	if err != nil {
		if err == ErrNotFound {
			return a, err
		}
		return a, apperr.Internal("kb: get article", err)
	}
	if !a.Published && !includeDrafts {
		return Article{}, ErrNotFound
	}
	return a, nil
}

// List returns articles ordered by category and title, optionally only those
// of one category (by name or by slug), and drafts only when includeDrafts.
func (s *Service) List(ctx context.Context, category string, includeDrafts bool) ([]Article, error) {
	where, args := "", []any{}
	if !includeDrafts {
		where = "published = 1"
	}
	all, err := listArticles(ctx, s.db.R, where, args...)
	if err != nil {
		return nil, apperr.Internal("kb: list articles", err)
	}
	if category == "" {
		return all, nil
	}
	out := all[:0]
	for _, a := range all {
		if a.Category == category || CategorySlug(a.Category) == category {
			out = append(out, a)
		}
	}
	return out, nil
}

// Published returns every published article; faq uses it to rebuild its index.
func (s *Service) Published(ctx context.Context) ([]Article, error) {
	return s.List(ctx, "", false)
}

// Categories returns the categories of published articles with their sizes,
// ordered by name.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT category, COUNT(*) FROM articles WHERE published = 1 GROUP BY category ORDER BY category`)
	if err != nil {
		return nil, apperr.Internal("kb: categories", err)
	}
	defer rows.Close()
	var out []Category
	for rows.Next() {
		var c Category
		if err := rows.Scan(&c.Name, &c.Count); err != nil {
			return nil, apperr.Internal("kb: categories", err)
		}
		c.Slug = CategorySlug(c.Name)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal("kb: categories", err)
	}
	return out, nil
}

// Create stores a new article. It returns an apperr.KindInvalid error for bad
// input and ErrSlugTaken when the slug is in use.
func (s *Service) Create(ctx context.Context, in Input) (Article, error) {
	a, err := in.validate()
	if err != nil {
		return Article{}, err
	}
	a.CreatedAt = s.now().UTC()
	a.UpdatedAt = a.CreatedAt
	err = s.db.Tx(ctx, func(tx *sql.Tx) error { return insertArticle(ctx, tx, &a) })
	if err == ErrSlugTaken {
		return Article{}, err
	}
	if err != nil {
		return Article{}, apperr.Internal("kb: create article", err)
	}
	s.audit(ctx, "article_created", a.Slug)
	s.reindex(ctx, a)
	return a, nil
}

// Update applies p to the article with the given slug. It returns
// ErrNotFound, or an apperr.KindInvalid error for bad input.
func (s *Service) Update(ctx context.Context, slug string, p Patch) (Article, error) {
	var a Article
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = getArticle(ctx, tx, slug); err != nil {
			return err
		}
		if err := p.apply(&a); err != nil {
			return err
		}
		a.UpdatedAt = s.now().UTC()
		return updateArticle(ctx, tx, a)
	})
	if err != nil {
		if apperr.KindOf(err) != apperr.KindInternal {
			return Article{}, err
		}
		return Article{}, apperr.Internal("kb: update article", err)
	}
	s.audit(ctx, "article_updated", a.Slug)
	s.reindex(ctx, a)
	return a, nil
}

// Delete removes the article with the given slug and its feedback. It
// returns ErrNotFound.
func (s *Service) Delete(ctx context.Context, slug string) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM articles WHERE slug = ?`, slug)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err == ErrNotFound {
		return err
	}
	if err != nil {
		return apperr.Internal("kb: delete article", err)
	}
	s.audit(ctx, "article_deleted", slug)
	if s.indexer != nil {
		if err := s.indexer.Remove(ctx, slug); err != nil {
			s.log.ErrorContext(ctx, "search index: remove article", "slug", slug, "err", err)
		}
	}
	return nil
}

// reindex tells the indexer about a committed change: published articles are
// (re)indexed, drafts removed from the index.
func (s *Service) reindex(ctx context.Context, a Article) {
	if s.indexer == nil {
		return
	}
	var err error
	if a.Published {
		err = s.indexer.Upsert(ctx, a)
	} else {
		err = s.indexer.Remove(ctx, a.Slug)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "search index: update article", "slug", a.Slug, "err", err)
	}
}

// Feedback records a "was this helpful?" vote on a published article from the
// client identified by client (its address). The address itself is not
// stored, only a keyed hash of it. It returns ErrNotFound, ErrVoteTooSoon
// when this client already voted on the article within FeedbackWindow, and
// ErrVoteLimit when the client sent FeedbackPerHour votes in the last hour.
func (s *Service) Feedback(ctx context.Context, slug string, helpful bool, client string) error {
	now := s.now().UTC()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		a, err := getArticle(ctx, tx, slug)
		if err != nil {
			return err
		}
		if !a.Published {
			return ErrNotFound
		}
		key, err := s.clientKey(ctx, tx, client)
		if err != nil {
			return err
		}
		var recent, onThis int
		if err := tx.QueryRowContext(ctx, `SELECT
				COUNT(*) FILTER (WHERE created_at >= ?),
				COUNT(*) FILTER (WHERE article_id = ? AND created_at >= ?)
			FROM article_feedback WHERE client_key = ?`,
			fmtTime(now.Add(-time.Hour)), a.ID, fmtTime(now.Add(-FeedbackWindow)), key).Scan(&recent, &onThis); err != nil {
			return err
		}
		if onThis > 0 {
			return ErrVoteTooSoon
		}
		if recent >= FeedbackPerHour {
			return ErrVoteLimit
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO article_feedback (article_id, helpful, client_key, created_at) VALUES (?, ?, ?, ?)`,
			a.ID, helpful, key, fmtTime(now)); err != nil {
			return err
		}
		col := "helpful_no"
		if helpful {
			col = "helpful_yes"
		}
		_, err = tx.ExecContext(ctx, `UPDATE articles SET `+col+` = `+col+` + 1 WHERE id = ?`, a.ID)
		return err
	})
	if err != nil {
		if apperr.KindOf(err) != apperr.KindInternal {
			return err
		}
		return apperr.Internal("kb: record feedback", err)
	}
	return nil
}

const feedbackSaltKey = "kb.feedback_salt"

// clientKey returns an HMAC of the client address under a random salt kept in
// the settings table, created on first use.
func (s *Service) clientKey(ctx context.Context, tx *sql.Tx, client string) (string, error) {
	salt, ok, err := getSetting(ctx, tx, feedbackSaltKey)
	if err != nil {
		return "", err
	}
	if !ok {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		salt = hex.EncodeToString(b)
		if err := setSetting(ctx, tx, feedbackSaltKey, salt, s.now()); err != nil {
			return "", err
		}
	}
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(client))
	return hex.EncodeToString(m.Sum(nil)[:16]), nil
}
