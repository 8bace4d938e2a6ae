package chat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/printshop/helpdesk/tickets"
)

// viewersSuite runs the same scenario against tickets' in-process Viewers
// and the Redis one, so that swapping them changes nothing.
func viewersSuite(t *testing.T, v tickets.Viewers, clk *fakeClock) {
	ctx := context.Background()
	touch := func(ticket, agent int64, activity string) {
		t.Helper()
		if err := v.Touch(ctx, ticket, tickets.Viewer{AgentID: agent, Name: fmt.Sprint("agent ", agent), Activity: activity}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(ticket int64) []tickets.Viewer {
		t.Helper()
		vs, err := v.List(ctx, ticket)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	touch(1, 1, tickets.ActivityViewing)
	clk.Advance(time.Second)
	touch(1, 2, tickets.ActivityReplying)
	touch(2, 3, "")
	vs := list(1)
	if len(vs) != 2 || vs[0].AgentID != 1 || vs[1].Activity != tickets.ActivityReplying || vs[0].Name != "agent 1" {
		t.Fatalf("viewers = %+v", vs)
	}
	if vs := list(2); len(vs) != 1 || vs[0].Activity != tickets.ActivityViewing {
		t.Fatalf("ticket 2 viewers = %+v", vs)
	}
	since := vs[1].Since
	clk.Advance(20 * time.Second)
	touch(1, 2, "") // a reload keeps "replying" and its start
	if vs := list(1); vs[1].Activity != tickets.ActivityReplying || !vs[1].Since.Equal(since) {
		t.Errorf("after a reload: %+v (since %v)", vs[1], since)
	}
	clk.Advance(11 * time.Second)
	if vs := list(1); len(vs) != 1 || vs[0].AgentID != 2 {
		t.Errorf("after expiry: %+v", vs)
	}
	touch(1, 2, tickets.ActivityViewing)
	if vs := list(1); vs[0].Activity != tickets.ActivityViewing || !vs[0].Since.Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Errorf("after changing activity: %+v", vs[0])
	}
	clk.Advance(tickets.ViewerTTL)
	if vs := list(1); len(vs) != 0 {
		t.Errorf("after everyone left: %+v", vs)
	}
	if err := v.Touch(ctx, 1, tickets.Viewer{AgentID: 1, Activity: "typing"}); err == nil {
		t.Error("unknown activity accepted")
	}
}

func TestViewers(t *testing.T) {
	start := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	t.Run("memory", func(t *testing.T) {
		clk := newFakeClock(start)
		viewersSuite(t, tickets.NewMemoryViewers(clk.Now), clk)
	})
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := redisFor(t)
		clk := newFakeClock(start)
		viewersSuite(t, NewRedisViewers(rdb, prefix, clk.Now), clk)
	})
}
