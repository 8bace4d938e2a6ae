package faq

import (
	"context"
	"errors"
	"fmt"

	"github.com/printshop/helpdesk/internal/apperr"
)

// ErrRebuilding is returned by Search while the index is being rebuilt
// after it was found damaged.
var ErrRebuilding = apperr.New(apperr.KindUnavailable, "search is being rebuilt; try again in a moment")

// guardedSearch runs search and treats a failure inside the index as
// damage: Open checks what it cheaply can (version stamp, document count,
// the newest stored document), but a segment torn in the middle can pass
// those checks and only fail — or make Bleve panic — when a query reaches
// it. The index is a cache, so the cure is a rebuild from the database,
// started here in the background; until the new index is swapped in, the
// searches that run into the damage answer ErrRebuilding.
func (ix *Index) guardedSearch(ctx context.Context, text, catSlug string, limit int) (res Results, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = Results{}, apperr.Internal("faq: search", fmt.Errorf("panic: %v", r))
		}
		if err != nil && apperr.KindOf(err) == apperr.KindInternal && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			ix.log.ErrorContext(ctx, "faq: search failed inside the index; rebuilding it", "err", err)
			ix.heal()
			err = ErrRebuilding.With(err)
		}
	}()
	// While a rebuild runs, the damaged index still answers the queries
	// that do not touch the damage; those that do get ErrRebuilding.
	return ix.search(ctx, text, catSlug, limit)
}

// heal starts one background rebuild; a rebuild already running is enough.
// The goroutine ends when the rebuild does (or fails, logged).
func (ix *Index) heal() {
	if !ix.healing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer ix.healing.Store(false)
		defer func() {
			if r := recover(); r != nil {
				ix.log.Error("faq: rebuild after a failed search panicked", "panic", fmt.Sprint(r))
			}
		}()
		if err := ix.Rebuild(context.Background(), nil); err != nil {
			ix.log.Error("faq: rebuild after a failed search", "err", err)
			return
		}
		ix.log.Info("faq: search index rebuilt after a failed search")
	}()
}
