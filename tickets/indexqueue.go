package tickets

import (
	"context"
	"sync"
	"time"
)

// indexQueue moves search-index updates off the write path while Run is
// active. Committing a ticket change only records its id here; one
// goroutine indexes the recorded ids in batches, which costs Bleve far less
// than one update per message and keeps analysis CPU out of the SMTP
// transaction. Without Run (tests, one-off commands) updates stay
// synchronous, so nothing depends on the goroutine being there.
//
// The index is a cache: an id recorded here and not yet indexed when the
// process dies is picked up by the next start's catch-up (updated_at
// watermark), so nothing is lost, only delayed.
type indexQueue struct {
	mu      sync.Mutex
	running bool
	ids     map[int64]struct{}
	wake    chan struct{}
}

// add records ids for the indexer and reports whether it took them; false
// means no indexer is running and the caller must index them itself.
func (q *indexQueue) add(ids []int64) bool {
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return false
	}
	for _, id := range ids {
		q.ids[id] = struct{}{}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns the recorded ids and forgets them; stop also ends queueing,
// so that later changes are indexed synchronously again.
func (q *indexQueue) take(stop bool) []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if stop {
		q.running = false
	}
	out := make([]int64, 0, len(q.ids))
	for id := range q.ids {
		out = append(out, id)
	}
	clear(q.ids)
	return out
}

// indexLoop is Run's indexing goroutine. It exits when ctx ends, after
// indexing what was recorded up to then.
func (s *Service) indexLoop(ctx context.Context) {
	q := &s.iq
	q.mu.Lock()
	q.running, q.ids, q.wake = true, map[int64]struct{}{}, make(chan struct{}, 1)
	q.mu.Unlock()
	flush := func(stop bool) {
		ids := q.take(stop)
		for start := 0; start < len(ids); start += indexBatchSize {
			batch := ids[start:min(start+indexBatchSize, len(ids))]
			if err := s.index.update(context.WithoutCancel(ctx), batch...); err != nil {
				s.log.Error("tickets: search index update", "tickets", len(batch), "err", err)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			flush(true)
			return
		case <-q.wake:
			flush(false)
		}
		// At most one batch per indexPace: under a stream of mail, every
		// flush of a handful of tickets makes a new Bleve segment that must
		// later be merged, which cost more CPU than the indexing itself
		// (BENCHMARKS.md). Waiting lets ids gather into fewer, larger
		// batches; a change becomes searchable within about a second.
		select {
		case <-ctx.Done():
		case <-time.After(indexPace):
		}
	}
}

// indexPace is the shortest time between two index batches.
const indexPace = time.Second
