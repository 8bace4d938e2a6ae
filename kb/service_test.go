package kb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recIndexer records what the service told it.
type recIndexer struct {
	mu      sync.Mutex
	upserts []string
	removes []string
	audits  []string
}

func (r *recIndexer) Upsert(_ context.Context, a Article) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.upserts = append(r.upserts, a.Slug)
	return nil
}

func (r *recIndexer) ArticleChanged(_ context.Context, action, slug string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audits = append(r.audits, action+":"+slug)
}

func (r *recIndexer) Remove(_ context.Context, slug string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removes = append(r.removes, slug)
	return nil
}

func newTestService(t *testing.T) (*Service, *fakeClock, *recIndexer, *sqlitedb.DB) {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "kb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	ix := &recIndexer{}
	s := New(db, clk.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetIndexer(ix)
	s.SetAuditor(ix)
	return s, clk, ix, db
}

func ptr[T any](v T) *T { return &v }

func TestSeedStarterArticles(t *testing.T) {
	arts, err := Seed()
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) < 25 {
		t.Fatalf("starter knowledge base has %d articles, want at least 25", len(arts))
	}
	slugs := map[string]bool{}
	cats := map[string]int{}
	for _, a := range arts {
		slugs[a.Slug] = true
		cats[a.Category]++
	}
	if len(cats) < 5 {
		t.Errorf("only %d categories: %v", len(cats), cats)
	}
	// Every internal link points at an article that exists.
	for _, a := range arts {
		for _, part := range strings.Split(a.Body, "](/kb/")[1:] {
			target, _, _ := strings.Cut(part, ")")
			if !slugs[target] {
				t.Errorf("%s links to missing article %q", a.Slug, target)
			}
		}
	}
}

func TestSeedIfEmptyRunsOnce(t *testing.T) {
	ctx := context.Background()
	s, _, _, _ := newTestService(t)
	n, err := s.SeedIfEmpty(ctx)
	if err != nil || n < 25 {
		t.Fatalf("first seed: n=%d err=%v", n, err)
	}
	all, err := s.List(ctx, "", true)
	if err != nil || len(all) != n {
		t.Fatalf("after seed: %d articles, err %v", len(all), err)
	}
	// An admin deletes one and edits another; a restart must not undo that.
	if err := s.Delete(ctx, all[0].Slug); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, all[1].Slug, Patch{Title: ptr("Edited title")}); err != nil {
		t.Fatal(err)
	}
	n2, err := s.SeedIfEmpty(ctx)
	if err != nil || n2 != 0 {
		t.Fatalf("second seed: n=%d err=%v", n2, err)
	}
	if _, err := s.Get(ctx, all[0].Slug, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted article came back: %v", err)
	}
	a, err := s.Get(ctx, all[1].Slug, true)
	if err != nil || a.Title != "Edited title" {
		t.Errorf("edit lost: %+v %v", a, err)
	}
}

func TestCreateUpdateDelete(t *testing.T) {
	ctx := context.Background()
	s, clk, ix, _ := newTestService(t)
	in := Input{Slug: "toner-care", Title: "Caring for toner", Category: "Ink & Toner Cartridges",
		Body: "Keep it **cool**.", Tags: []string{" Toner ", "care", "toner"}}
	a, err := s.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Published || len(a.Tags) != 2 || a.Tags[0] != "toner" {
		t.Errorf("created %+v", a)
	}
	if _, err := s.Create(ctx, in); !errors.Is(err, ErrSlugTaken) {
		t.Errorf("duplicate slug: %v", err)
	}

	clk.Add(time.Minute)
	a2, err := s.Update(ctx, "toner-care", Patch{Published: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if a2.Published || !a2.UpdatedAt.After(a.CreatedAt) {
		t.Errorf("updated %+v", a2)
	}
	if _, err := s.Get(ctx, "toner-care", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("draft visible to the public: %v", err)
	}
	if _, err := s.Get(ctx, "toner-care", true); err != nil {
		t.Errorf("draft hidden from admins: %v", err)
	}
	if err := s.Delete(ctx, "toner-care"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "toner-care"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if strings.Join(ix.upserts, ",") != "toner-care" || strings.Join(ix.removes, ",") != "toner-care,toner-care" {
		t.Errorf("indexer saw upserts %v removes %v", ix.upserts, ix.removes)
	}
	if got := strings.Join(ix.audits, ","); got != "article_created:toner-care,article_updated:toner-care,article_deleted:toner-care" {
		t.Errorf("audit saw %s", got)
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	s, _, _, _ := newTestService(t)
	good := Input{Slug: "ok", Title: "T", Category: "C", Body: "B"}
	tests := []struct {
		name string
		edit func(*Input)
		want string
	}{
		{name: "bad slug", edit: func(in *Input) { in.Slug = "Not A Slug" }, want: "slug"},
		{name: "empty title", edit: func(in *Input) { in.Title = "  " }, want: "title is required"},
		{name: "long title", edit: func(in *Input) { in.Title = strings.Repeat("x", MaxTitleLen+1) }, want: "title is longer"},
		{name: "multiline category", edit: func(in *Input) { in.Category = "a\nb" }, want: "single line"},
		{name: "empty body", edit: func(in *Input) { in.Body = "" }, want: "body is required"},
		{name: "huge body", edit: func(in *Input) { in.Body = strings.Repeat("x", MaxBodyBytes+1) }, want: "body is larger"},
		{name: "too many tags", edit: func(in *Input) { in.Tags = make([]string, MaxTags+1) }, want: "tags"},
		{name: "invalid utf8", edit: func(in *Input) { in.Body = "\xff" }, want: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.edit(&in)
			_, err := s.Create(ctx, in)
			if apperr.KindOf(err) != apperr.KindInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want invalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestFeedbackLimits(t *testing.T) {
	ctx := context.Background()
	s, clk, _, db := newTestService(t)
	for i := 0; i < FeedbackPerHour+2; i++ {
		if _, err := s.Create(ctx, Input{Slug: "a" + strings.Repeat("b", i), Title: "T", Category: "C", Body: "B"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Feedback(ctx, "a", true, "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	if err := s.Feedback(ctx, "a", false, "203.0.113.7"); !errors.Is(err, ErrVoteTooSoon) {
		t.Errorf("second vote from the same client: %v", err)
	}
	if err := s.Feedback(ctx, "a", false, "198.51.100.1"); err != nil {
		t.Errorf("vote from another client: %v", err)
	}
	if err := s.Feedback(ctx, "missing", true, "203.0.113.7"); !errors.Is(err, ErrNotFound) {
		t.Errorf("vote on a missing article: %v", err)
	}
	a, _ := s.Get(ctx, "a", true)
	if a.HelpfulYes != 1 || a.HelpfulNo != 1 {
		t.Errorf("counts yes=%d no=%d, want 1 and 1", a.HelpfulYes, a.HelpfulNo)
	}
	// The per-hour limit across articles.
	var err error
	for i := 1; i < FeedbackPerHour+2 && err == nil; i++ {
		err = s.Feedback(ctx, "a"+strings.Repeat("b", i), true, "203.0.113.7")
	}
	if !errors.Is(err, ErrVoteLimit) {
		t.Errorf("flood: %v, want ErrVoteLimit", err)
	}
	// A day later the client may vote on the first article again.
	clk.Add(FeedbackWindow + time.Minute)
	if err := s.Feedback(ctx, "a", true, "203.0.113.7"); err != nil {
		t.Errorf("vote a day later: %v", err)
	}
	// The raw address is never stored.
	var leaked int
	if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM article_feedback WHERE client_key LIKE '%203.0.113.7%'`).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("client address stored in clear (%d rows, %v)", leaked, err)
	}
}

func TestRendererSanitizes(t *testing.T) {
	r := NewRenderer()
	got := string(r.HTML("Hi <script>alert(1)</script> [x](javascript:alert(1)) **bold**"))
	if strings.Contains(got, "<script") || strings.Contains(got, "javascript:") || !strings.Contains(got, "<strong>bold</strong>") {
		t.Errorf("HTML = %q", got)
	}
	if pt := r.PlainText("# Title\n\nSome *text* &amp; more\n\n- a\n- b"); pt != "Title Some text & more a b" {
		t.Errorf("PlainText = %q", pt)
	}
}

func TestCategorySlug(t *testing.T) {
	for in, want := range map[string]string{"Shipping & Delivery": "shipping-delivery", "Your Account": "your-account", "  X  ": "x"} {
		if got := CategorySlug(in); got != want {
			t.Errorf("CategorySlug(%q) = %q, want %q", in, got, want)
		}
	}
}
