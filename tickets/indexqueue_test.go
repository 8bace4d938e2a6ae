package tickets

import (
	"context"
	"testing"
	"time"
)

// TestIndexQueueWhileRunning: with Run active, index updates happen in the
// background and still reach the index; after Run ends they are
// synchronous again.
func TestIndexQueueWhileRunning(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	waitUntil(t, func() bool { e.svc.iq.mu.Lock(); defer e.svc.iq.mu.Unlock(); return e.svc.iq.running })

	res := e.ingest(testMail{From: "zelda@customer.example", Subject: "Magenta streaks on every page", Body: "The new magenta cartridge leaves streaks."})
	waitUntil(t, func() bool {
		ids, err := e.svc.index.search(e.ctx, "streaks", 10)
		return err == nil && len(ids) == 1 && ids[0] == res.TicketID
	})

	cancel()
	<-done
	res2 := e.ingest(testMail{From: "yuri@customer.example", Subject: "Cyan smudges", Body: "Smudges everywhere."})
	ids, err := e.svc.index.search(e.ctx, "smudges", 10)
	if err != nil || len(ids) != 1 || ids[0] != res2.TicketID {
		t.Errorf("after Run: search = %v, %v; want the new ticket at once", ids, err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
