package faq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/indexswap"
	"github.com/printshop/helpdesk/kb"
)

// Source supplies the articles an index is built from: every published
// article. *kb.Service implements it.
type Source interface {
	Published(ctx context.Context) ([]kb.Article, error)
}

// Options configures an Index. The zero value is usable.
type Options struct {
	Logger     *slog.Logger          // nil discards logs
	Registerer prometheus.Registerer // nil registers no metrics; one Registerer takes one Index
	Renderer   *kb.Renderer          // turns article Markdown into indexed text; nil means kb.NewRenderer()
	BatchSize  int                   // articles per batch when building; 0 means DefaultBatchSize
}

// DefaultBatchSize is how many articles go into one indexing batch during a
// build. Bigger batches mean fewer, larger segments and less merging.
const DefaultBatchSize = 1000

// ErrClosed is returned by every method of a closed Index. It is also what a
// search answers in the moment after a failed rebuild left no usable index.
var ErrClosed = apperr.New(apperr.KindUnavailable, "search is unavailable")

// versionKey is the Bleve internal key holding the MappingVersion the
// index was built with. It lives inside the index, so it can never disagree
// with the data next to it.
var versionKey = []byte("faq.mapping_version")

// openTimeout bounds the wait for the index's lock file. Another process
// holding it means two servers were pointed at one index folder; waiting
// forever would hang start-up, and rebuilding would pull the index out from
// under the other process.
const openTimeout = "2s"

// Index is the FAQ search index: a Bleve index in one folder, kept in step
// with the knowledge base through Upsert and Remove and rebuilt from its
// Source when needed. It is safe for concurrent use; searches continue
// during Upsert and Rebuild, and pause only for the moment a rebuilt index
// is swapped in.
type Index struct {
	dir       string
	src       Source
	log       *slog.Logger
	render    *kb.Renderer
	batchSize int
	mapping   mapping.IndexMapping
	qb        *queryBuilder
	snapshots snapshotCache
	duration  prometheus.Histogram // nil without a Registerer

	rebuildMu sync.Mutex  // one build at a time
	healing   atomic.Bool // a rebuild after a failed search is running (heal.go)

	// mu guards idx. Everything that uses idx holds it for reading for the
	// whole use; the swap after a rebuild holds it for writing, so it never
	// closes an index under a running search or update.
	mu      sync.RWMutex
	idx     bleve.Index  // nil once closed, or after a swap that failed half-way
	lengths fieldLengths // of idx, read when it was opened
	shut    bool         // Close was called

	// While a rebuild runs, updates go to the live index and are also
	// recorded here, then replayed onto the new index before it is swapped
	// in: the rebuild read its articles at one moment, and nothing changed
	// after that moment may be lost.
	jmu        sync.Mutex
	journaling bool
	journal    []change
}

// The index follows the knowledge base through kb.Service's hooks.
var _ kb.Indexer = (*Index)(nil)

// change is one update recorded during a rebuild; doc is nil for a removal.
type change struct {
	slug string
	doc  *document
}

// Open opens the index in dir, building it from src when dir holds no
// usable index: when it is missing, cannot be opened or read, was built with
// a different MappingVersion, or visibly disagrees with src (a different
// number of articles, or a newer edit than any it holds, which happens when
// the process stopped between a database commit and the index update). A
// build happens in a sibling folder that replaces dir only once complete.
//
// Open fails if another process has the index open, rather than rebuilding
// it under that process.
func Open(dir string, src Source, opts Options) (*Index, error) {
	if dir == "" {
		return nil, errors.New("faq: index folder is required")
	}
	m, err := newMapping()
	if err != nil {
		return nil, fmt.Errorf("faq: mapping: %w", err)
	}
	qb, err := newQueryBuilder(m, shopSynonyms())
	if err != nil {
		return nil, err
	}
	ix := &Index{
		dir:       filepath.Clean(dir),
		src:       src,
		log:       opts.Logger,
		render:    opts.Renderer,
		batchSize: opts.BatchSize,
		mapping:   m,
		qb:        qb,
	}
	if ix.log == nil {
		ix.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if ix.render == nil {
		ix.render = kb.NewRenderer()
	}
	if ix.batchSize <= 0 {
		ix.batchSize = DefaultBatchSize
	}
	if err := os.MkdirAll(filepath.Dir(ix.dir), 0o755); err != nil {
		return nil, fmt.Errorf("faq: %w", err)
	}
	ix.removeLeftovers()

	// Open does not take a context: it runs once at start-up, and a
	// half-finished build is discarded anyway.
	ctx := context.Background()
	idx, lengths, reason, err := ix.openExisting()
	if err != nil {
		return nil, err
	}
	var arts []kb.Article
	if idx != nil {
		if arts, err = published(ctx, src); err != nil {
			_ = idx.Close()
			return nil, err
		}
		if reason, err = stale(idx, arts); err != nil {
			reason = "unreadable: " + err.Error()
		}
		if reason != "" {
			_ = idx.Close()
			idx = nil
		}
	}
	ix.idx, ix.lengths = idx, lengths
	if idx == nil {
		ix.log.Info("faq: building search index", "dir", ix.dir, "reason", reason)
		if arts == nil {
			if arts, err = published(ctx, src); err != nil {
				return nil, err
			}
		}
		if err := ix.rebuildFrom(ctx, arts, nil); err != nil {
			return nil, err
		}
	}
	if err := ix.register(opts.Registerer); err != nil {
		_ = ix.Close()
		return nil, err
	}
	return ix, nil
}

// openConfig is the runtime configuration of a serving index. unsafe_batch
// is off so an Upsert returns only once it is on disk; builds turn it on.
func openConfig() map[string]any {
	return map[string]any{"bolt_timeout": openTimeout, "unsafe_batch": false}
}

// openExisting opens the index at ix.dir if it is usable. It returns a nil
// index and the reason when it must be rebuilt, and an error only when it
// must not be (another process holds it).
func (ix *Index) openExisting() (idx bleve.Index, lengths fieldLengths, reason string, err error) {
	if _, err := os.Stat(ix.dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, "missing", nil
	}
	// Bleve trusts its files; a damaged segment can make it panic rather
	// than return an error. A damaged cache must cost a rebuild, not the
	// process.
	defer func() {
		if r := recover(); r != nil {
			if idx != nil {
				_ = idx.Close()
			}
			idx, lengths, reason, err = nil, nil, fmt.Sprintf("unreadable: %v", r), nil
		}
	}()
	idx, err = bleve.OpenUsing(ix.dir, openConfig())
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, nil, "", fmt.Errorf("faq: index %s is in use by another process: %w", ix.dir, err)
	}
	if err != nil {
		return nil, nil, "unreadable: " + err.Error(), nil
	}
	v, err := idx.GetInternal(versionKey)
	if err != nil {
		_ = idx.Close()
		return nil, nil, "unreadable: " + err.Error(), nil
	}
	if string(v) != strconv.Itoa(MappingVersion) {
		_ = idx.Close()
		return nil, nil, fmt.Sprintf("built with mapping version %q, want %d", v, MappingVersion), nil
	}
	if lengths, err = readLengths(idx); err != nil {
		_ = idx.Close()
		return nil, nil, "unreadable: " + err.Error(), nil
	}
	return idx, lengths, "", nil
}

// stale compares idx with the articles it should hold and returns why it
// must be rebuilt, or "". Reading the newest article also proves that the
// stored fields and doc values can be read, which a damaged segment fails.
func stale(idx bleve.Index, arts []kb.Article) (reason string, err error) {
	defer func() {
		if r := recover(); r != nil {
			reason, err = "", fmt.Errorf("panic: %v", r)
		}
	}()
	n, err := idx.DocCount()
	if err != nil {
		return "", err
	}
	if n != uint64(len(arts)) {
		return fmt.Sprintf("holds %d articles, the knowledge base has %d", n, len(arts)), nil
	}
	if n == 0 {
		return "", nil
	}
	req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), 1, 0, false)
	req.Fields = []string{fieldTitle, fieldBody, fieldCategory, fieldUpdated}
	req.SortBy([]string{"-" + fieldUpdated})
	res, err := idx.Search(req)
	if err != nil {
		return "", err
	}
	if len(res.Hits) != 1 {
		return "", fmt.Errorf("no document readable among %d", n)
	}
	newestIndexed, _ := res.Hits[0].Fields[fieldUpdated].(float64)
	newest := math.Inf(-1)
	for _, a := range arts {
		newest = max(newest, float64(a.UpdatedAt.UnixMilli()))
	}
	if newest > newestIndexed {
		return "an article changed after the index was last updated", nil
	}
	return "", nil
}

// Rebuild builds a new index from the Source and swaps it in, for the
// reindex command. progress, if not nil, is called after each batch with the
// number of articles indexed so far and the total. Updates that arrive
// during the rebuild are kept. On error the current index stays in
// service; only if it cannot be reopened after a failed swap do searches
// return ErrClosed until a Rebuild succeeds. It returns ErrClosed after
// Close.
func (ix *Index) Rebuild(ctx context.Context, progress func(done, total int)) error {
	ix.rebuildMu.Lock()
	defer ix.rebuildMu.Unlock()
	if ix.closed() {
		return ErrClosed
	}
	// Start recording before reading the articles: a change committed
	// after the read is then certainly in the journal.
	ix.jmu.Lock()
	ix.journaling, ix.journal = true, nil
	ix.jmu.Unlock()
	defer func() {
		ix.jmu.Lock()
		ix.journaling, ix.journal = false, nil
		ix.jmu.Unlock()
	}()
	arts, err := published(ctx, ix.src)
	if err != nil {
		return err
	}
	return ix.rebuildFrom(ctx, arts, progress)
}

// published reads the articles to index from src, keeping only published
// ones whatever src returns.
func published(ctx context.Context, src Source) ([]kb.Article, error) {
	arts, err := src.Published(ctx)
	if err != nil {
		return nil, fmt.Errorf("faq: read articles: %w", err)
	}
	out := arts[:0:0]
	for _, a := range arts {
		if a.Published {
			out = append(out, a)
		}
	}
	return out, nil
}

func (ix *Index) rebuildFrom(ctx context.Context, arts []kb.Article, progress func(done, total int)) error {
	b, err := indexswap.Begin(ix.dir)
	if err != nil {
		return fmt.Errorf("faq: rebuild: %w", err)
	}
	defer b.Remove()
	if err := ix.build(ctx, b.Path(), arts, progress); err != nil {
		return fmt.Errorf("faq: rebuild: %w", err)
	}
	if err := ix.swap(b); err != nil {
		return fmt.Errorf("faq: rebuild: %w", err)
	}
	ix.log.Info("faq: search index built", "dir", ix.dir, "articles", len(arts))
	return nil
}

// removeLeftovers deletes build folders a crashed process left behind.
// Only this index's own are touched: a sibling index may be building.
func (ix *Index) removeLeftovers() {
	if failed, err := indexswap.RemoveLeftovers(ix.dir); err != nil {
		ix.log.Warn("faq: remove leftover build folders", "dirs", failed, "err", err)
	}
}

// build writes a complete index of arts at path, stamped with the mapping
// version, and closes it.
func (ix *Index) build(ctx context.Context, path string, arts []kb.Article, progress func(done, total int)) (err error) {
	// Batches are not synced one by one (unsafe_batch): only the finished
	// index counts, and the last batch waits until everything is on disk.
	// The option is given when opening, not when creating, because Bleve
	// stores creation options in the index and the serving index must not
	// inherit it.
	idx, err := bleve.NewUsing(path, ix.mapping, scorch.Name, scorch.Name, nil)
	if err != nil {
		return err
	}
	if err := idx.Close(); err != nil {
		return err
	}
	if idx, err = bleve.OpenUsing(path, map[string]any{"unsafe_batch": true}); err != nil {
		return err
	}
	defer func() {
		if cerr := idx.Close(); err == nil {
			err = cerr
		}
	}()
	if err := ix.indexAll(ctx, idx, arts, progress); err != nil {
		return err
	}

	// The statistics and the version stamp come last, in a batch of their
	// own: a stamped index is a complete one.
	lengths, err := indexLengths(ctx, idx)
	if err != nil {
		return fmt.Errorf("measure field lengths: %w", err)
	}
	stamp := idx.NewBatch()
	stamp.SetInternal(lengthsKey, lengths)
	stamp.SetInternal(versionKey, []byte(strconv.Itoa(MappingVersion)))
	persisted := make(chan error, 1)
	stamp.SetPersistedCallback(func(err error) { persisted <- err })
	if err := idx.Batch(stamp); err != nil {
		return err
	}
	select {
	case err := <-persisted:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// indexAll indexes arts into idx in batches, calling progress after each
// with the number of articles indexed so far.
func (ix *Index) indexAll(ctx context.Context, idx bleve.Index, arts []kb.Article, progress func(done, total int)) error {
	total := len(arts)
	for start := 0; start < total; start += ix.batchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+ix.batchSize, total)
		b := idx.NewBatch()
		for _, a := range arts[start:end] {
			if err := b.Index(a.Slug, newDocument(a, ix.render)); err != nil {
				return fmt.Errorf("article %s: %w", a.Slug, err)
			}
		}
		if err := idx.Batch(b); err != nil {
			return err
		}
		if progress != nil {
			progress(end, total)
		}
	}
	return nil
}

// indexLengths measures idx's average field lengths, encoded for storing.
func indexLengths(ctx context.Context, idx bleve.Index) ([]byte, error) {
	adv, err := idx.Advanced()
	if err != nil {
		return nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	l, err := measureLengths(ctx, r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(l)
}

// swap replaces the live index with the one built in b, replaying the
// changes journaled since the build read its articles (indexswap.Replace
// makes the replacement crash-safe).
func (ix *Index) swap(b *indexswap.Build) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()

	built, err := bleve.OpenUsing(b.Path(), openConfig())
	if err != nil {
		return err
	}
	ix.jmu.Lock()
	journal := ix.journal
	ix.journal = nil
	ix.jmu.Unlock()
	if len(journal) > 0 {
		batch := built.NewBatch()
		for _, c := range journal {
			if c.doc == nil {
				batch.Delete(c.slug)
			} else if err := batch.Index(c.slug, *c.doc); err != nil {
				_ = built.Close()
				return err
			}
		}
		if err := built.Batch(batch); err != nil {
			_ = built.Close()
			return err
		}
	}
	if err := built.Close(); err != nil {
		return err
	}

	if ix.idx != nil {
		if err := ix.idx.Close(); err != nil {
			ix.log.Warn("faq: close old index", "err", err)
		}
		ix.idx = nil
		ix.snapshots.reset()
	}
	if oldInPlace, err := b.Replace(); err != nil {
		if oldInPlace {
			ix.reopenAfterFailedSwap()
		}
		return err
	}
	idx, err := bleve.OpenUsing(ix.dir, openConfig())
	if err != nil {
		return err
	}
	lengths, err := readLengths(idx)
	if err != nil {
		_ = idx.Close()
		return err
	}
	ix.idx, ix.lengths = idx, lengths
	return nil
}

// reopenAfterFailedSwap puts the old index back in service when the new
// one could not be moved into place. Called with mu held.
func (ix *Index) reopenAfterFailedSwap() {
	idx, err := bleve.OpenUsing(ix.dir, openConfig())
	if err == nil {
		var lengths fieldLengths
		if lengths, err = readLengths(idx); err == nil {
			ix.idx, ix.lengths = idx, lengths
			return
		}
		_ = idx.Close()
	}
	ix.log.Error("faq: reopen index after failed rebuild", "err", err)
}

func (ix *Index) closed() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.shut
}

// record journals c if a rebuild is running. Called with mu held for reading.
func (ix *Index) record(c change) {
	ix.jmu.Lock()
	defer ix.jmu.Unlock()
	if ix.journaling {
		ix.journal = append(ix.journal, c)
	}
}

// Upsert adds or replaces a published article; an unpublished one is
// removed instead. It implements kb.Indexer.
func (ix *Index) Upsert(ctx context.Context, a kb.Article) error {
	if !a.Published {
		return ix.Remove(ctx, a.Slug)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d := newDocument(a, ix.render)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return ErrClosed
	}
	if err := ix.idx.Index(a.Slug, d); err != nil {
		return fmt.Errorf("faq: index article %s: %w", a.Slug, err)
	}
	ix.record(change{slug: a.Slug, doc: &d})
	return nil
}

// Remove deletes the article with the given slug from the index; removing
// an article that is not there is not an error. It implements kb.Indexer.
func (ix *Index) Remove(ctx context.Context, slug string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return ErrClosed
	}
	if err := ix.idx.Delete(slug); err != nil {
		return fmt.Errorf("faq: remove article %s: %w", slug, err)
	}
	ix.record(change{slug: slug})
	return nil
}

// DocCount returns the number of indexed articles.
func (ix *Index) DocCount() (uint64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return 0, ErrClosed
	}
	n, err := ix.idx.DocCount()
	if err != nil {
		return 0, fmt.Errorf("faq: count documents: %w", err)
	}
	return n, nil
}

// Ping reports whether the index can serve searches, for readiness checks.
func (ix *Index) Ping() error {
	_, err := ix.DocCount()
	return err
}

// Close closes the index. It waits for running searches and updates; later
// calls of any method return ErrClosed. Close is idempotent.
func (ix *Index) Close() error {
	ix.rebuildMu.Lock() // a rebuild must not swap an index in after Close
	defer ix.rebuildMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.shut = true
	if ix.idx == nil {
		return nil
	}
	err := ix.idx.Close()
	ix.idx = nil
	ix.snapshots.reset()
	if err != nil {
		return fmt.Errorf("faq: close index: %w", err)
	}
	return nil
}

// register creates the index's metrics when reg is not nil.
func (ix *Index) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "helpdesk_faq_search_duration_seconds",
		Help:    "Time to answer one FAQ search, validation failures excluded.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "helpdesk_faq_indexed_documents",
		Help: "Articles in the FAQ search index.",
	}, func() float64 {
		n, err := ix.DocCount()
		if err != nil {
			return 0
		}
		return float64(n)
	})
	if err := reg.Register(h); err != nil {
		return fmt.Errorf("faq: register metrics: %w", err)
	}
	if err := reg.Register(g); err != nil {
		reg.Unregister(h)
		return fmt.Errorf("faq: register metrics: %w", err)
	}
	ix.duration = h
	return nil
}
