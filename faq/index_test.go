package faq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/indexswap"
	"github.com/printshop/helpdesk/kb"
)

// starterArticles is a small knowledge base for index tests.
func starterArticles() []kb.Article {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	arts := []kb.Article{
		article("reset-password", "I can't reset my password", "Your Account",
			"Request a new password once. Each reset email cancels the earlier ones.", "password", "sign in"),
		article("track-my-order", "How do I track my order?", "Order Tracking",
			"Use the tracking number from your shipping email on the carrier's site.", "tracking", "order status"),
		article("return-policy", "How do returns work?", "Returns & Refunds",
			"You can send back any item within one year. Start a return from your account.", "return", "send back"),
		article("refund-timing", "How long does a refund take?", "Returns & Refunds",
			"Refunds reach your card within 7 to 14 days after we receive the item.", "refund"),
		article("free-shipping", "Do you offer free shipping?", "Shipping & Delivery",
			"Orders over $50 ship free within the contiguous United States.", "free shipping"),
	}
	for i := range arts {
		arts[i].CreatedAt, arts[i].UpdatedAt = at, at
	}
	return arts
}

// logBuffer collects an index's log lines so a test can tell whether Open
// rebuilt the index.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *logBuffer) rebuilt() bool { return strings.Contains(b.String(), "building search index") }

func openLogged(t *testing.T, dir string, src Source) (*Index, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	ix, err := Open(dir, src, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix, logs
}

// slugs runs a search and returns the slugs found, best first.
func slugs(t *testing.T, ix *Index, text string) []string {
	t.Helper()
	res, err := ix.Search(context.Background(), Query{Text: text, Limit: MaxLimit})
	if err != nil {
		t.Fatalf("Search(%q): %v", text, err)
	}
	out := make([]string, 0, len(res.Results))
	for _, h := range res.Results {
		out = append(out, h.Slug)
	}
	return out
}

func top(t *testing.T, ix *Index, text string) string {
	t.Helper()
	s := slugs(t, ix, text)
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestOpenBuildsFromSourceAndReopens(t *testing.T) {
	root := t.TempDir()
	dir := indexDir(root)
	src := &memSource{arts: starterArticles()}

	ix, logs := openLogged(t, dir, src)
	if !logs.rebuilt() {
		t.Error("Open on an empty folder did not log a build")
	}
	if n, err := ix.DocCount(); err != nil || n != 5 {
		t.Fatalf("DocCount = %d, %v; want 5", n, err)
	}
	if got := top(t, ix, "reset password"); got != "reset-password" {
		t.Errorf("top hit = %q, want reset-password", got)
	}
	if err := ix.Ping(); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// A healthy, current index is reused, not rebuilt.
	ix2, logs2 := openLogged(t, dir, src)
	if logs2.rebuilt() {
		t.Errorf("reopening a healthy index rebuilt it: %s", logs2)
	}
	if got := top(t, ix2, "refund"); got != "refund-timing" {
		t.Errorf("after reopen, top hit = %q, want refund-timing", got)
	}
	assertNoBuildLeftovers(t, dir)
}

func assertNoBuildLeftovers(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), indexswap.Prefix(dir)+"*"))
	if len(left) > 0 {
		t.Errorf("build folders left behind: %v", left)
	}
}

func TestOpenRebuildsUnusableIndex(t *testing.T) {
	garbage := func(path string) error {
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		b := make([]byte, max(info.Size(), 64))
		r := rand.New(rand.NewPCG(1, 2))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return os.WriteFile(path, b, 0o600)
	}
	eachFile := func(dir string, match func(name string) bool, do func(path string) error) error {
		n := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !match(d.Name()) {
				return err
			}
			n++
			return do(path)
		})
		if err == nil && n == 0 {
			err = errors.New("no file matched")
		}
		return err
	}
	all := func(string) bool { return true }
	segments := func(name string) bool { return strings.HasSuffix(name, ".zap") }

	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, src *memSource)
	}{
		{"folder deleted", func(t *testing.T, dir string, _ *memSource) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage in every file", func(t *testing.T, dir string, _ *memSource) {
			if err := eachFile(dir, all, garbage); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage in the segments", func(t *testing.T, dir string, _ *memSource) {
			if err := eachFile(dir, segments, garbage); err != nil {
				t.Fatal(err)
			}
		}},
		{"segments truncated", func(t *testing.T, dir string, _ *memSource) {
			if err := eachFile(dir, segments, func(p string) error { return os.Truncate(p, 10) }); err != nil {
				t.Fatal(err)
			}
		}},
		{"segments deleted", func(t *testing.T, dir string, _ *memSource) {
			if err := eachFile(dir, segments, os.Remove); err != nil {
				t.Fatal(err)
			}
		}},
		{"root.bolt deleted", func(t *testing.T, dir string, _ *memSource) {
			if err := os.Remove(filepath.Join(dir, "store", "root.bolt")); err != nil {
				t.Fatal(err)
			}
		}},
		{"index_meta.json deleted", func(t *testing.T, dir string, _ *memSource) {
			if err := os.Remove(filepath.Join(dir, "index_meta.json")); err != nil {
				t.Fatal(err)
			}
		}},
		{"older mapping version", func(t *testing.T, dir string, _ *memSource) {
			setVersion(t, dir, fmt.Sprint(MappingVersion-1))
		}},
		{"no version stamp", func(t *testing.T, dir string, _ *memSource) {
			idx, err := bleve.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := idx.DeleteInternal(versionKey); err != nil {
				t.Fatal(err)
			}
			_ = idx.Close()
		}},
		{"article added while the index was closed", func(t *testing.T, _ string, src *memSource) {
			arts := append(starterArticles(), article("pay-by-check", "Can I pay by check?", "Orders & Payment",
				"Mail a check or money order with your order number.", "check"))
			src.set(arts...)
		}},
		{"article edited while the index was closed", func(t *testing.T, _ string, src *memSource) {
			arts := starterArticles()
			arts[0].Title = "Password help and sign-in problems"
			arts[0].UpdatedAt = arts[0].UpdatedAt.Add(time.Minute)
			src.set(arts...)
		}},
		{"article unpublished while the index was closed", func(t *testing.T, _ string, src *memSource) {
			arts := starterArticles()
			arts[1].Published = false
			src.set(arts...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := indexDir(t.TempDir())
			src := &memSource{arts: starterArticles()}
			ix, _ := openLogged(t, dir, src)
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}

			tt.damage(t, dir, src)

			ix2, logs := openLogged(t, dir, src)
			if !logs.rebuilt() {
				t.Errorf("Open did not rebuild; logs: %s", logs)
			}
			want, _ := src.Published(context.Background())
			if n, err := ix2.DocCount(); err != nil || n != uint64(len(want)) {
				t.Errorf("DocCount = %d, %v; want %d", n, err, len(want))
			}
			for _, a := range want {
				if got := slugs(t, ix2, a.Title); !contains(got, a.Slug) {
					t.Errorf("search %q = %v, want %s among them", a.Title, got, a.Slug)
				}
			}
			assertNoBuildLeftovers(t, dir)

			// What was rebuilt is healthy: the next Open keeps it.
			if err := ix2.Close(); err != nil {
				t.Fatal(err)
			}
			_, logs3 := openLogged(t, dir, src)
			if logs3.rebuilt() {
				t.Errorf("the rebuilt index was rebuilt again: %s", logs3)
			}
		})
	}
}

func setVersion(t *testing.T, dir, v string) {
	t.Helper()
	idx, err := bleve.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.SetInternal(versionKey, []byte(v)); err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRemovesLeftoverBuildFolders(t *testing.T) {
	dir := indexDir(t.TempDir())
	if err := os.MkdirAll(filepath.Join(filepath.Dir(dir), indexswap.Prefix(dir)+"123", "index"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A build folder of another index in the same parent is not ours.
	other := filepath.Join(filepath.Dir(dir), indexswap.Prefix(filepath.Join(filepath.Dir(dir), "tickets"))+"456")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	openTestIndex(t, filepath.Dir(filepath.Dir(dir)), &memSource{arts: starterArticles()})
	assertNoBuildLeftovers(t, dir)
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another index's build folder was removed: %v", err)
	}
}

func TestOpenFailsWhenIndexInUse(t *testing.T) {
	root := t.TempDir()
	src := &memSource{arts: starterArticles()}
	ix := openTestIndex(t, root, src)
	_, err := Open(indexDir(root), src, Options{})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open = %v, want an in-use error", err)
	}
	// The first index was not disturbed.
	if got := top(t, ix, "refund"); got != "refund-timing" {
		t.Errorf("top hit = %q, want refund-timing", got)
	}
}

func TestOpenFailsWhenSourceFails(t *testing.T) {
	src := &memSource{err: errors.New("database is down")}
	if _, err := Open(indexDir(t.TempDir()), src, Options{}); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("Open = %v, want the source's error", err)
	}
}

func TestUpsertAndRemove(t *testing.T) {
	ctx := context.Background()
	src := &memSource{arts: starterArticles()}
	ix := openTestIndex(t, t.TempDir(), src)

	a := article("pay-by-check", "Can I pay by check?", "Orders & Payment", "Mail a check or money order.", "check")
	if err := ix.Upsert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := top(t, ix, "money order"); got != "pay-by-check" {
		t.Errorf("after Upsert, top hit = %q, want pay-by-check", got)
	}

	a.Title, a.Body = "Paying with a cheque", "We take cheques by mail."
	if err := ix.Upsert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := slugs(t, ix, "mail cheques"); !contains(got, "pay-by-check") {
		t.Errorf("after update, search = %v, want pay-by-check", got)
	}
	if got := slugs(t, ix, "money"); contains(got, "pay-by-check") {
		t.Errorf("old text still found after update: %v", got)
	}
	if n, _ := ix.DocCount(); n != 6 {
		t.Errorf("DocCount = %d, want 6 (an update must not duplicate)", n)
	}

	// Unpublishing (saving as a draft) takes the article out of search.
	a.Published = false
	if err := ix.Upsert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := slugs(t, ix, "cheques"); contains(got, "pay-by-check") {
		t.Errorf("draft still found: %v", got)
	}

	if err := ix.Remove(ctx, "refund-timing"); err != nil {
		t.Fatal(err)
	}
	if got := slugs(t, ix, "refund"); contains(got, "refund-timing") {
		t.Errorf("removed article still found: %v", got)
	}
	if err := ix.Remove(ctx, "no-such-article"); err != nil {
		t.Errorf("Remove of a missing article: %v", err)
	}
	if n, _ := ix.DocCount(); n != 4 {
		t.Errorf("DocCount = %d, want 4", n)
	}
}

func TestRebuild(t *testing.T) {
	ctx := context.Background()
	src := &memSource{arts: starterArticles()}
	ix := openTestIndex(t, t.TempDir(), src)

	// Articles changed behind the index's back (another process, say).
	arts := starterArticles()[1:]
	arts = append(arts, article("pay-by-check", "Can I pay by check?", "Orders & Payment", "Mail a check.", "check"))
	src.set(arts...)

	var calls []string
	err := ix.Rebuild(ctx, func(done, total int) { calls = append(calls, fmt.Sprintf("%d/%d", done, total)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 || calls[len(calls)-1] != "5/5" {
		t.Errorf("progress calls = %v, want to end with 5/5", calls)
	}
	if got := top(t, ix, "check"); got != "pay-by-check" {
		t.Errorf("top hit = %q, want pay-by-check", got)
	}
	if got := slugs(t, ix, "password"); contains(got, "reset-password") {
		t.Errorf("article gone from the source still found: %v", got)
	}
	assertNoBuildLeftovers(t, ix.dir)
}

// blockingSource lets a test act while a rebuild is between reading the
// articles and swapping the new index in. It blocks only once armed.
type blockingSource struct {
	memSource
	reading chan struct{} // closed when an armed Published is called
	release chan struct{} // an armed Published returns once this is closed
}

func (s *blockingSource) Published(ctx context.Context) ([]kb.Article, error) {
	arts, err := s.memSource.Published(ctx)
	if s.reading != nil {
		close(s.reading)
		<-s.release
	}
	return arts, err
}

func TestRebuildKeepsUpdatesMadeDuringIt(t *testing.T) {
	ctx := context.Background()
	src := &blockingSource{memSource: memSource{arts: starterArticles()}}
	ix := openTestIndex(t, t.TempDir(), src)
	src.reading, src.release = make(chan struct{}), make(chan struct{})

	done := make(chan error, 1)
	go func() { done <- ix.Rebuild(ctx, nil) }()
	<-src.reading
	// The rebuild has read its articles; these changes come after.
	if err := ix.Upsert(ctx, article("pay-by-check", "Can I pay by check?", "Orders & Payment", "Mail a check.", "check")); err != nil {
		t.Fatal(err)
	}
	if err := ix.Remove(ctx, "free-shipping"); err != nil {
		t.Fatal(err)
	}
	// Searches keep working while the rebuild runs.
	if got := top(t, ix, "check"); got != "pay-by-check" {
		t.Errorf("during rebuild, top hit = %q, want pay-by-check", got)
	}
	close(src.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := top(t, ix, "check"); got != "pay-by-check" {
		t.Errorf("an Upsert made during the rebuild was lost: top hit = %q", got)
	}
	if got := slugs(t, ix, "free shipping"); contains(got, "free-shipping") {
		t.Errorf("a Remove made during the rebuild was lost: %v", got)
	}
}

func TestClosedIndex(t *testing.T) {
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()})
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := ix.Search(ctx, Query{Text: "refund"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Search = %v, want ErrClosed", err)
	}
	if err := ix.Ping(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping = %v, want ErrClosed", err)
	}
	if err := ix.Upsert(ctx, starterArticles()[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Upsert = %v, want ErrClosed", err)
	}
	if err := ix.Remove(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Remove = %v, want ErrClosed", err)
	}
	if err := ix.Rebuild(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Rebuild = %v, want ErrClosed", err)
	}
	if apperr.KindOf(ErrClosed) != apperr.KindUnavailable {
		t.Errorf("ErrClosed kind = %v, want KindUnavailable (503)", apperr.KindOf(ErrClosed))
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ix, err := Open(indexDir(t.TempDir()), &memSource{arts: starterArticles()}, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for _, q := range []string{"refund", "password"} {
		if _, err := ix.Search(context.Background(), Query{Text: q}); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var samples uint64
	var docs float64
	for _, mf := range mfs {
		switch mf.GetName() {
		case "helpdesk_faq_search_duration_seconds":
			samples = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		case "helpdesk_faq_indexed_documents":
			docs = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if samples != 2 {
		t.Errorf("search duration histogram has %d samples, want 2", samples)
	}
	if docs != 5 {
		t.Errorf("indexed documents gauge = %v, want 5", docs)
	}
}

func TestConcurrentSearchDuringUpdates(t *testing.T) {
	ctx := context.Background()
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()})

	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 100)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			queries := []string{"refund", "pasword reset", "where is my order", "free shipping over 50"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ix.Search(ctx, Query{Text: queries[i%len(queries)]}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		a := article(fmt.Sprintf("toner-%d", i), fmt.Sprintf("Toner model %d", i), "Ink & Toner Cartridges", "A toner cartridge.", "toner")
		if err := ix.Upsert(ctx, a); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := ix.Remove(ctx, a.Slug); err != nil {
				t.Fatal(err)
			}
		}
		if i == 10 {
			if err := ix.Rebuild(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Search: %v", err)
	}
}

func TestEmptyKnowledgeBase(t *testing.T) {
	ctx := context.Background()
	src := &memSource{}
	dir := indexDir(t.TempDir())
	ix, _ := openLogged(t, dir, src)
	res, err := ix.Search(ctx, Query{Text: "refund"})
	if err != nil || res.Total != 0 || len(res.Results) != 0 || len(res.Categories) != 0 {
		t.Fatalf("search of an empty index = %+v, %v", res, err)
	}
	if err := ix.Upsert(ctx, starterArticles()[3]); err != nil {
		t.Fatal(err)
	}
	if got := top(t, ix, "refund"); got != "refund-timing" {
		t.Errorf("after the first Upsert, top hit = %q, want refund-timing", got)
	}
	// An index that was empty when built is healthy, not rebuilt on every
	// start (it now disagrees with the source, which is still empty).
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	src.set(starterArticles()[3])
	_, logs := openLogged(t, dir, src)
	if logs.rebuilt() {
		t.Errorf("reopening rebuilt the index: %s", logs)
	}
}

func TestSourceDraftsAreNotIndexed(t *testing.T) {
	arts := starterArticles()
	arts[0].Published = false
	// A Source that returns drafts too (memSource filters them out).
	ix := openTestIndex(t, t.TempDir(), sourceFunc(func(context.Context) ([]kb.Article, error) { return arts, nil }))
	if n, _ := ix.DocCount(); n != 4 {
		t.Errorf("DocCount = %d, want 4 published articles", n)
	}
	if got := slugs(t, ix, "password"); contains(got, "reset-password") {
		t.Errorf("draft found: %v", got)
	}
}

type sourceFunc func(context.Context) ([]kb.Article, error)

func (f sourceFunc) Published(ctx context.Context) ([]kb.Article, error) { return f(ctx) }

func TestSnapshotCacheFollowsChanges(t *testing.T) {
	ctx := context.Background()
	ix := openTestIndex(t, t.TempDir(), &memSource{arts: starterArticles()})
	table := func() *categoryTable {
		t.Helper()
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		adv, err := ix.idx.Advanced()
		if err != nil {
			t.Fatal(err)
		}
		r, err := adv.Reader()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		snap, err := ix.snapshots.get(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return snap.cats
	}
	first := table()
	if again := table(); again != first {
		t.Error("the table was rebuilt for an unchanged index")
	}
	if err := ix.Upsert(ctx, article("pay-by-check", "Pay by check", "Orders & Payment", "Mail a check.")); err != nil {
		t.Fatal(err)
	}
	after := table()
	if after == first {
		t.Fatal("the table was not rebuilt after an update")
	}
	if got := fmt.Sprint(after.names[1:]); !strings.Contains(got, "Orders & Payment") {
		t.Errorf("categories after update = %s, want Orders & Payment among them", got)
	}
}

func TestReopenWithUndatedArticles(t *testing.T) {
	// The starter articles carry no times until they are stored.
	arts, err := kb.Seed()
	if err != nil {
		t.Fatal(err)
	}
	dir := indexDir(t.TempDir())
	src := &memSource{arts: arts}
	ix, _ := openLogged(t, dir, src)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if _, logs := openLogged(t, dir, src); logs.rebuilt() {
		t.Errorf("a current index of undated articles was rebuilt: %s", logs)
	}
}
