package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	bolt "go.etcd.io/bbolt"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/indexswap"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// IndexMappingVersion identifies the ticket index layout: mapping, analyzers
// and what goes into each field. Bump it whenever any of them changes; the
// index is then rebuilt on start instead of searching terms that were
// analyzed differently.
const IndexMappingVersion = 2

// ErrSearchUnavailable answers a search while the index is closed or could
// not be rebuilt.
var ErrSearchUnavailable = apperr.New(apperr.KindUnavailable, "ticket search is unavailable")

const (
	indexVersionKey  = "tickets.mapping_version"
	indexOpenTimeout = "2s"
	indexBatchSize   = 500
	maxIndexedText   = 256 << 10 // conversation text indexed per ticket
	catchUpOverlap   = time.Minute
	analyzerTicket   = "tickets_en"
)

// Index field names; they are also the JSON keys of ticketDoc.
const (
	fieldSubject   = "subject"
	fieldText      = "text"
	fieldRequester = "requester"
	fieldEmail     = "requester_email"
	fieldTags      = "tags"
	fieldAll       = "all"
	fieldUpdated   = "updated_ms"
)

// ticketDoc is what is indexed for one ticket; the ticket id is the
// document ID.
type ticketDoc struct {
	Subject   string   `json:"subject"`
	Text      string   `json:"text"` // every message and note
	Requester string   `json:"requester"`
	Email     string   `json:"requester_email"`
	Tags      []string `json:"tags"`
	All       string   `json:"all"` // all of the above, for all-words matching across fields
	UpdatedMS float64  `json:"updated_ms"`
}

func newIndexMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomAnalyzer(analyzerTicket, map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []any{en.PossessiveName, lowercase.Name, en.StopName, porter.Name},
	}); err != nil {
		return nil, err
	}
	im.DefaultAnalyzer = analyzerTicket
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	text := func() *mapping.FieldMapping {
		fm := bleve.NewTextFieldMapping()
		fm.Analyzer = analyzerTicket
		fm.Store = false
		fm.IncludeInAll = false
		fm.IncludeTermVectors = false
		fm.DocValues = false
		return fm
	}
	email := bleve.NewKeywordFieldMapping()
	email.Analyzer = keyword.Name
	email.Store = false
	email.DocValues = false
	email.IncludeInAll = false
	updated := bleve.NewNumericFieldMapping()
	updated.Store = true
	updated.DocValues = true
	updated.IncludeInAll = false

	// Searches read "all", the subject (boosted) and the email; the text,
	// requester and tags fields only make up "all" and are not indexed on
	// their own (version 1 indexed them too, analysing every message twice
	// for nothing).
	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(fieldSubject, text())
	dm.AddFieldMappingsAt(fieldAll, text())
	dm.AddFieldMappingsAt(fieldEmail, email)
	dm.AddFieldMappingsAt(fieldUpdated, updated)
	im.DefaultMapping = dm
	if err := im.Validate(); err != nil {
		return nil, err
	}
	return im, nil
}

// searchIndex is the Bleve index of tickets at <data>/index/tickets, a cache
// of SQLite. It mirrors faq.Index: opened or rebuilt on start, updated after
// each commit, rebuilt in a sibling folder and swapped in atomically. In
// addition it catches up with tickets changed by other processes sharing
// the database (catchUp, called from Run). Safe for concurrent use.
type searchIndex struct {
	dir     string
	db      *sqlitedb.DB
	log     *slog.Logger
	mapping mapping.IndexMapping

	rebuildMu sync.Mutex // one build at a time

	// mu guards idx: held for reading for each use, for writing to swap.
	mu   sync.RWMutex
	idx  bleve.Index
	shut bool

	// While a rebuild runs, the ids of tickets updated are recorded and
	// re-read from the database into the new index before it is swapped in.
	jmu        sync.Mutex
	journaling bool
	journal    map[int64]bool

	wmu       sync.Mutex
	watermark string // tickets updated at or after this (less the overlap) may not be indexed yet
}

// openIndex opens the ticket index in dir, building it from the database
// when it is missing, unreadable, of another mapping version, or visibly
// behind the database (a different ticket count or a newer change). It
// fails if another process has the index open.
func openIndex(dir string, db *sqlitedb.DB, log *slog.Logger) (*searchIndex, error) {
	m, err := newIndexMapping()
	if err != nil {
		return nil, fmt.Errorf("tickets: index mapping: %w", err)
	}
	ix := &searchIndex{dir: filepath.Clean(dir), db: db, log: log, mapping: m}
	if err := os.MkdirAll(filepath.Dir(ix.dir), 0o755); err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	ix.removeLeftovers()
	ctx := context.Background()
	ix.watermark, err = newestUpdate(ctx, db.R)
	if err != nil {
		return nil, fmt.Errorf("tickets: read tickets: %w", err)
	}
	idx, reason, err := ix.openExisting()
	if err != nil {
		return nil, err
	}
	if idx != nil {
		if reason, err = ix.stale(ctx, idx); err != nil {
			reason = "unreadable: " + err.Error()
		}
		if reason != "" {
			_ = idx.Close()
			idx = nil
		}
	}
	ix.idx = idx
	if idx == nil {
		log.Info("tickets: building search index", "dir", ix.dir, "reason", reason)
		if err := ix.rebuild(ctx, nil); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func indexConfig() map[string]any {
	return map[string]any{"bolt_timeout": indexOpenTimeout, "unsafe_batch": false}
}

func (ix *searchIndex) openExisting() (idx bleve.Index, reason string, err error) {
	if _, err := os.Stat(ix.dir); errors.Is(err, fs.ErrNotExist) {
		return nil, "missing", nil
	}
	// A damaged segment can make Bleve panic; a damaged cache must cost a
	// rebuild, not the process.
	defer func() {
		if r := recover(); r != nil {
			if idx != nil {
				_ = idx.Close()
			}
			idx, reason, err = nil, fmt.Sprintf("unreadable: %v", r), nil
		}
	}()
	idx, err = bleve.OpenUsing(ix.dir, indexConfig())
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, "", fmt.Errorf("tickets: index %s is in use by another process: %w", ix.dir, err)
	}
	if err != nil {
		return nil, "unreadable: " + err.Error(), nil
	}
	v, err := idx.GetInternal([]byte(indexVersionKey))
	if err != nil {
		_ = idx.Close()
		return nil, "unreadable: " + err.Error(), nil
	}
	if string(v) != strconv.Itoa(IndexMappingVersion) {
		_ = idx.Close()
		return nil, fmt.Sprintf("built with mapping version %q, want %d", v, IndexMappingVersion), nil
	}
	return idx, "", nil
}

// stale says why idx does not match the database, or "".
func (ix *searchIndex) stale(ctx context.Context, idx bleve.Index) (reason string, err error) {
	defer func() {
		if r := recover(); r != nil {
			reason, err = "", fmt.Errorf("panic: %v", r)
		}
	}()
	var count int
	if err := ix.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM tickets`).Scan(&count); err != nil {
		return "", err
	}
	n, err := idx.DocCount()
	if err != nil {
		return "", err
	}
	if n != uint64(count) {
		return fmt.Sprintf("holds %d tickets, the database has %d", n, count), nil
	}
	if n == 0 {
		return "", nil
	}
	req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), 1, 0, false)
	req.Fields = []string{fieldUpdated}
	req.SortBy([]string{"-" + fieldUpdated})
	res, err := idx.Search(req)
	if err != nil {
		return "", err
	}
	if len(res.Hits) != 1 {
		return "", fmt.Errorf("no document readable among %d", n)
	}
	indexed, _ := res.Hits[0].Fields[fieldUpdated].(float64)
	newest, err := parseTime(ix.watermark)
	if err != nil {
		return "", err
	}
	if float64(newest.UnixMilli()) > indexed {
		return "a ticket changed after the index was last updated", nil
	}
	return "", nil
}

func newestUpdate(ctx context.Context, q querier) (string, error) {
	var s sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT MAX(updated_at) FROM tickets`).Scan(&s); err != nil {
		return "", err
	}
	if !s.Valid {
		return fmtTime(time.Unix(0, 0)), nil
	}
	return s.String, nil
}

// removeLeftovers deletes build folders a crashed process left behind.
func (ix *searchIndex) removeLeftovers() {
	if failed, err := indexswap.RemoveLeftovers(ix.dir); err != nil {
		ix.log.Warn("tickets: remove leftover index builds", "dirs", failed, "err", err)
	}
}

// Rebuild builds a new index from the database and swaps it in. Updates
// made meanwhile are kept. On error the current index stays in place.
func (ix *searchIndex) Rebuild(ctx context.Context, progress func(done, total int)) error {
	ix.rebuildMu.Lock()
	defer ix.rebuildMu.Unlock()
	if ix.closed() {
		return ErrSearchUnavailable
	}
	return ix.rebuildLocked(ctx, progress)
}

// rebuild is Rebuild for openIndex, before the index is shared.
func (ix *searchIndex) rebuild(ctx context.Context, progress func(done, total int)) error {
	ix.rebuildMu.Lock()
	defer ix.rebuildMu.Unlock()
	return ix.rebuildLocked(ctx, progress)
}

func (ix *searchIndex) rebuildLocked(ctx context.Context, progress func(done, total int)) error {
	// Journal from before the read: a change committed after it is then
	// certainly replayed.
	ix.jmu.Lock()
	ix.journaling, ix.journal = true, map[int64]bool{}
	ix.jmu.Unlock()
	defer func() {
		ix.jmu.Lock()
		ix.journaling, ix.journal = false, nil
		ix.jmu.Unlock()
	}()
	b, err := indexswap.Begin(ix.dir)
	if err != nil {
		return fmt.Errorf("tickets: rebuild index: %w", err)
	}
	defer b.Remove()
	n, err := ix.build(ctx, b.Path(), progress)
	if err != nil {
		return fmt.Errorf("tickets: rebuild index: %w", err)
	}
	if err := ix.swap(ctx, b); err != nil {
		return fmt.Errorf("tickets: rebuild index: %w", err)
	}
	ix.log.Info("tickets: search index built", "dir", ix.dir, "tickets", n)
	return nil
}

// build writes a complete index of every ticket at path, stamped with the
// mapping version, and closes it.
func (ix *searchIndex) build(ctx context.Context, path string, progress func(done, total int)) (n int, err error) {
	idx, err := bleve.NewUsing(path, ix.mapping, scorch.Name, scorch.Name, map[string]any{"unsafe_batch": true})
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := idx.Close(); err == nil {
			err = cerr
		}
	}()
	var total int
	if err := ix.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM tickets`).Scan(&total); err != nil {
		return 0, err
	}
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		docs, last, err := loadDocs(ctx, ix.db.R, `t.id > ? ORDER BY t.id LIMIT ?`, after, indexBatchSize)
		if err != nil {
			return n, err
		}
		b := idx.NewBatch()
		for id, d := range docs {
			if err := b.Index(strconv.FormatInt(id, 10), d); err != nil {
				return n, err
			}
		}
		done := len(docs) < indexBatchSize
		var persisted chan error
		if done {
			b.SetInternal([]byte(indexVersionKey), []byte(strconv.Itoa(IndexMappingVersion)))
			persisted = make(chan error, 1)
			b.SetPersistedCallback(func(err error) { persisted <- err })
		}
		if err := idx.Batch(b); err != nil {
			return n, err
		}
		n += len(docs)
		after = last
		if progress != nil && len(docs) > 0 {
			progress(n, total)
		}
		if done {
			select {
			case err := <-persisted:
				return n, err
			case <-ctx.Done():
				return n, ctx.Err()
			}
		}
	}
}

// swap replaces the live index with the one built in b, adding the
// tickets changed since the build read them (indexswap.Replace makes the
// replacement crash-safe).
func (ix *searchIndex) swap(ctx context.Context, b *indexswap.Build) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	built, err := bleve.OpenUsing(b.Path(), indexConfig())
	if err != nil {
		return err
	}
	ix.jmu.Lock()
	var ids []int64
	for id := range ix.journal {
		ids = append(ids, id)
	}
	ix.journal = map[int64]bool{}
	ix.jmu.Unlock()
	if err := indexIDs(ctx, ix.db.R, built, ids); err != nil {
		_ = built.Close()
		return err
	}
	if err := built.Close(); err != nil {
		return err
	}
	if ix.idx != nil {
		if err := ix.idx.Close(); err != nil {
			ix.log.Warn("tickets: close old index", "err", err)
		}
		ix.idx = nil
	}
	if oldInPlace, err := b.Replace(); err != nil {
		if oldInPlace {
			if idx, oerr := bleve.OpenUsing(ix.dir, indexConfig()); oerr == nil {
				ix.idx = idx
			}
		}
		return err
	}
	idx, err := bleve.OpenUsing(ix.dir, indexConfig())
	if err != nil {
		return err
	}
	ix.idx = idx
	return nil
}

// indexIDs (re)indexes the given tickets from the database into idx, and
// removes those that no longer exist.
func indexIDs(ctx context.Context, q querier, idx bleve.Index, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	docs, _, err := loadDocs(ctx, q, `t.id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return err
	}
	b := idx.NewBatch()
	for _, id := range ids {
		key := strconv.FormatInt(id, 10)
		if d, ok := docs[id]; ok {
			if err := b.Index(key, d); err != nil {
				return err
			}
		} else {
			b.Delete(key)
		}
	}
	return idx.Batch(b)
}

// loadDocs builds index documents for the tickets matching where (a clause
// on tickets t, with its args), and returns the largest id seen.
func loadDocs(ctx context.Context, q querier, where string, args ...any) (map[int64]ticketDoc, int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.id, t.subject, t.requester_email, t.requester_name, t.updated_at FROM tickets t WHERE `+where, args...)
	if err != nil {
		return nil, 0, err
	}
	docs := map[int64]ticketDoc{}
	var ids []any
	var last int64
	for rows.Next() {
		var (
			id      int64
			d       ticketDoc
			updated string
		)
		if err := rows.Scan(&id, &d.Subject, &d.Email, &d.Requester, &updated); err != nil {
			rows.Close()
			return nil, 0, err
		}
		t, err := parseTime(updated)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		d.UpdatedMS = float64(t.UnixMilli())
		d.Tags = []string{}
		docs[id] = d
		ids = append(ids, id)
		last = max(last, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(ids) == 0 {
		return docs, last, nil
	}
	in := `(` + placeholders(len(ids)) + `)`
	texts := map[int64]*strings.Builder{}
	mrows, err := q.QueryContext(ctx, `SELECT ticket_id, subject, text FROM ticket_messages WHERE ticket_id IN `+in+` ORDER BY ticket_id, id`, ids...)
	if err != nil {
		return nil, 0, err
	}
	for mrows.Next() {
		var id int64
		var subject, text string
		if err := mrows.Scan(&id, &subject, &text); err != nil {
			mrows.Close()
			return nil, 0, err
		}
		b := texts[id]
		if b == nil {
			b = &strings.Builder{}
			texts[id] = b
		}
		if b.Len() < maxIndexedText {
			b.WriteString(subject)
			b.WriteString("\n")
			b.WriteString(truncate(text, maxIndexedText-b.Len()))
			b.WriteString("\n")
		}
	}
	mrows.Close()
	if err := mrows.Err(); err != nil {
		return nil, 0, err
	}
	tags := map[int64][]string{}
	trows, err := q.QueryContext(ctx, `SELECT ticket_id, tag FROM ticket_tags WHERE ticket_id IN `+in, ids...)
	if err != nil {
		return nil, 0, err
	}
	for trows.Next() {
		var id int64
		var tag string
		if err := trows.Scan(&id, &tag); err != nil {
			trows.Close()
			return nil, 0, err
		}
		tags[id] = append(tags[id], tag)
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return nil, 0, err
	}
	for id, d := range docs {
		if b := texts[id]; b != nil {
			d.Text = b.String()
		}
		if tg := tags[id]; tg != nil {
			d.Tags = tg
		}
		d.All = strings.Join([]string{d.Subject, d.Requester, d.Email, strings.Join(d.Tags, " "), d.Text}, "\n")
		docs[id] = d
	}
	return docs, last, nil
}

func (ix *searchIndex) closed() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.shut
}

// update reindexes the given tickets from the database after a commit.
func (ix *searchIndex) update(ctx context.Context, ids ...int64) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return ErrSearchUnavailable
	}
	ix.jmu.Lock()
	if ix.journaling {
		for _, id := range ids {
			ix.journal[id] = true
		}
	}
	ix.jmu.Unlock()
	return indexIDs(ctx, ix.db.R, ix.idx, ids)
}

// catchUp indexes tickets changed since the last catch-up, which includes
// changes committed by other processes sharing the database and changes
// whose index update was lost. A minute of overlap covers transactions that
// took their timestamp before a concurrent one but committed after it.
func (ix *searchIndex) catchUp(ctx context.Context) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	since, err := parseTime(ix.watermark)
	if err != nil {
		return err
	}
	newest, err := newestUpdate(ctx, ix.db.R)
	if err != nil {
		return err
	}
	rows, err := ix.db.R.QueryContext(ctx, `SELECT id FROM tickets WHERE updated_at >= ? ORDER BY updated_at LIMIT 5000`, fmtTime(since.Add(-catchUpOverlap)))
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for start := 0; start < len(ids); start += indexBatchSize {
		if err := ix.update(ctx, ids[start:min(start+indexBatchSize, len(ids))]...); err != nil {
			return err
		}
	}
	if len(ids) < 5000 {
		ix.watermark = newest
	}
	return nil
}

// search returns the ids of tickets matching text, at most limit of them,
// best match first. "#1234" or "1234" also finds ticket 1234 itself.
func (ix *searchIndex) search(ctx context.Context, text string, limit int) ([]int64, error) {
	text = strings.TrimSpace(text)
	var qs []query.Query
	all := bleve.NewMatchQuery(text)
	all.SetField(fieldAll)
	all.SetOperator(query.MatchQueryOperatorAnd)
	qs = append(qs, all)
	subject := bleve.NewMatchQuery(text)
	subject.SetField(fieldSubject)
	subject.SetBoost(3)
	subject.SetOperator(query.MatchQueryOperatorAnd)
	qs = append(qs, subject)
	email := bleve.NewTermQuery(strings.ToLower(text))
	email.SetField(fieldEmail)
	email.SetBoost(5)
	qs = append(qs, email)
	if id, err := strconv.ParseInt(strings.TrimPrefix(text, "#"), 10, 64); err == nil && id > 0 {
		qs = append(qs, bleve.NewDocIDQuery([]string{strconv.FormatInt(id, 10)}))
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDisjunctionQuery(qs...), limit, 0, false)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return nil, ErrSearchUnavailable
	}
	res, err := ix.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("tickets: search: %w", err)
	}
	ids := make([]int64, 0, len(res.Hits))
	for _, h := range res.Hits {
		if id, err := strconv.ParseInt(h.ID, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Ping reports whether the index can serve searches.
func (ix *searchIndex) Ping() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return ErrSearchUnavailable
	}
	_, err := ix.idx.DocCount()
	return err
}

// Close closes the index; later calls fail with ErrSearchUnavailable.
func (ix *searchIndex) Close() error {
	ix.rebuildMu.Lock()
	defer ix.rebuildMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.shut = true
	if ix.idx == nil {
		return nil
	}
	err := ix.idx.Close()
	ix.idx = nil
	if err != nil {
		return fmt.Errorf("tickets: close index: %w", err)
	}
	return nil
}

// reindex updates the index after a commit. Failures are logged, not
// returned: the database is the truth and catchUp or a rebuild repairs the
// index.
func (s *Service) reindex(ctx context.Context, ids ...int64) {
	if s.iq.add(ids) {
		return
	}
	if err := s.index.update(context.WithoutCancel(ctx), ids...); err != nil {
		s.log.ErrorContext(ctx, "tickets: search index update", "tickets", ids, "err", err)
	}
}
