package chat

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func newConv(t *testing.T, st Store, name, email string) Conversation {
	t.Helper()
	_, hash := newVisitorToken()
	v, err := st.CreateVisitor(context.Background(), hash, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.OpenConversation(context.Background(), v, name, email, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAppend(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	st := NewSQLiteStore(db)
	ann := addAgent(t, db, "Ann")
	bob := addAgent(t, db, "Bob")
	c := newConv(t, st, "Pat", "pat@example.com")
	now := time.Now()

	tests := []struct {
		name     string
		in       NewMessage
		wantSeq  int64
		wantDup  bool
		wantQ    bool
		wantErr  error
		setup    func()
		wantText string
	}{
		{name: "customer while unavailable", in: NewMessage{From: FromCustomer, ClientID: "x", Text: "hi"}, wantErr: ErrUnavailable},
		{name: "agent before assignment", in: NewMessage{From: FromAgent, AgentID: ann.ID, ClientID: "a1", Text: "hi"}, wantErr: ErrNotAssigned},
		{name: "first customer message queues", in: NewMessage{From: FromCustomer, ClientID: "c1", Text: "hello", EnterQueue: true}, wantSeq: 1, wantQ: true},
		{name: "same client id is a duplicate", in: NewMessage{From: FromCustomer, ClientID: "c1", Text: "changed"}, wantSeq: 1, wantDup: true, wantText: "hello"},
		{name: "next message", in: NewMessage{From: FromCustomer, ClientID: "c2", Text: "anyone?"}, wantSeq: 2},
		{name: "agent's client id does not clash with the customer's", setup: func() {
			if _, err := db.W.Exec(`UPDATE chat_conversations SET status = 'active', agent_id = ? WHERE id = ?`, ann.ID, c.ID); err != nil {
				t.Fatal(err)
			}
		}, in: NewMessage{From: FromAgent, AgentID: ann.ID, ClientID: "c1", Text: "yes"}, wantSeq: 3},
		{name: "other agent", in: NewMessage{From: FromAgent, AgentID: bob.ID, ClientID: "b1", Text: "me too"}, wantErr: ErrNotAssigned},
		{name: "unknown attachment", in: NewMessage{From: FromCustomer, ClientID: "c3", Text: "see", Attachments: []int64{99}}, wantErr: ErrAttachmentNotFound},
		{name: "after close, a resent message is still re-acked", setup: func() {
			if _, err := st.Close(ctx, c.ID, FromCustomer, AgentRef{}, now); err != nil {
				t.Fatal(err)
			}
		}, in: NewMessage{From: FromCustomer, ClientID: "c2", Text: "anyone?"}, wantSeq: 2, wantDup: true},
		{name: "but a new one is refused", in: NewMessage{From: FromCustomer, ClientID: "c9", Text: "hello?"}, wantErr: ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			in := tt.in
			in.ConversationID = c.ID
			res, err := st.Append(ctx, in, now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Message.Seq != tt.wantSeq || res.Duplicate != tt.wantDup || res.Queued != tt.wantQ {
				t.Fatalf("got seq %d dup %v queued %v, want %d %v %v", res.Message.Seq, res.Duplicate, res.Queued, tt.wantSeq, tt.wantDup, tt.wantQ)
			}
			if tt.wantText != "" && res.Message.Text != tt.wantText {
				t.Errorf("text = %q, want the original %q", res.Message.Text, tt.wantText)
			}
		})
	}
	msgs, err := st.Messages(ctx, c.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// hello, anyone?, yes, and the closing system message.
	if len(msgs) != 4 || msgs[3].From != FromSystem || msgs[3].Seq != 4 {
		t.Fatalf("messages = %+v", msgs)
	}
}

// Two "processes" (two database handles on one file) append to the same
// conversation at once: every message gets its own seq, with no gap.
func TestAppendSeqAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	stores := []Store{NewSQLiteStore(openDB(t, path)), NewSQLiteStore(openDB(t, path))}
	c := newConv(t, stores[0], "Pat", "")
	if _, err := stores[0].Append(ctx, NewMessage{ConversationID: c.ID, From: FromCustomer, ClientID: "first", Text: "x", EnterQueue: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	const perWriter = 50
	var wg sync.WaitGroup
	seqs := make(chan int64, 4*perWriter)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			st := stores[w%2]
			for i := 0; i < perWriter; i++ {
				// Every message is sent twice, as a client resending after a
				// lost ack would.
				for range 2 {
					res, err := st.Append(ctx, NewMessage{ConversationID: c.ID, From: FromCustomer,
						ClientID: fmt.Sprintf("w%d-%d", w, i), Text: "x"}, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if !res.Duplicate {
						seqs <- res.Message.Seq
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(seqs)
	seen := map[int64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("seq %d handed out twice", s)
		}
		seen[s] = true
	}
	for s := int64(2); s <= 1+4*perWriter; s++ {
		if !seen[s] {
			t.Fatalf("seq %d missing", s)
		}
	}
	msgs, _ := stores[1].Messages(ctx, c.ID, 0, 1000)
	if len(msgs) != 1+4*perWriter {
		t.Fatalf("%d messages stored, want %d", len(msgs), 1+4*perWriter)
	}
}

func TestPickAgent(t *testing.T) {
	tests := []struct {
		name   string
		load   map[int64]int
		tried  map[int64]int
		want   int64
		wantOK bool
	}{
		{"fewest chats", map[int64]int{1: 2, 2: 0, 3: 1}, nil, 2, true},
		{"ties go to the lower id", map[int64]int{3: 1, 2: 1}, nil, 2, true},
		{"full agents are skipped", map[int64]int{1: 3, 2: 3, 3: 2}, nil, 3, true},
		{"everyone full", map[int64]int{1: 3, 2: 3}, nil, 0, false},
		{"not yet tried beats less loaded", map[int64]int{1: 0, 2: 2}, map[int64]int{1: 1}, 2, true},
		{"everyone tried: least tried, then least loaded", map[int64]int{1: 0, 2: 1}, map[int64]int{1: 2, 2: 1}, 2, true},
		{"nobody online", map[int64]int{}, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pickAgent(tt.load, tt.tried, 3)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("pickAgent = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	st := NewSQLiteStore(db)
	ann, bob := addAgent(t, db, "Ann"), addAgent(t, db, "Bob")
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var convs []Conversation
	for i := range 4 {
		c := newConv(t, st, fmt.Sprint("Customer ", i), "")
		if _, err := st.Append(ctx, NewMessage{ConversationID: c.ID, From: FromCustomer, ClientID: "1", Text: fmt.Sprint("question ", i), EnterQueue: true}, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
	}
	route := func(now time.Time, online ...int64) []RouteChange {
		t.Helper()
		ch, err := st.Route(ctx, RouteInput{Online: online, Capacity: 2, OfferTimeout: 30 * time.Second, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	describe := func(chs []RouteChange) string {
		s := ""
		for _, c := range chs {
			if c.Offered {
				s += fmt.Sprintf("offer %d->%d; ", c.Offer.ConversationID, c.Offer.AgentID)
			} else {
				s += fmt.Sprintf("withdraw %d from %d (%s); ", c.Offer.ConversationID, c.Offer.AgentID, c.Reason)
			}
		}
		return s
	}
	c0, c1, c2, c3 := convs[0].ID, convs[1].ID, convs[2].ID, convs[3].ID
	steps := []struct {
		name   string
		at     time.Duration
		online []int64
		before func()
		want   string
	}{
		{name: "Ann alone fills her two slots in queue order", online: []int64{ann.ID},
			want: fmt.Sprintf("offer %d->%d; offer %d->%d; ", c0, ann.ID, c1, ann.ID)},
		{name: "Bob comes online and gets the rest", at: time.Second, online: []int64{ann.ID, bob.ID},
			want: fmt.Sprintf("offer %d->%d; offer %d->%d; ", c2, bob.ID, c3, bob.ID)},
		{name: "nothing to do", at: 2 * time.Second, online: []int64{ann.ID, bob.ID}},
		{name: "offers time out and move to someone who has not had them", at: 32 * time.Second, online: []int64{ann.ID, bob.ID},
			before: func() {
				if _, _, err := st.Accept(ctx, c0, ann, t0.Add(3*time.Second)); err != nil {
					t.Fatal(err)
				}
				if _, _, err := st.Accept(ctx, c1, bob, t0.Add(3*time.Second)); !errors.Is(err, ErrOfferGone) {
					t.Fatalf("accepting someone else's offer: %v", err)
				}
			},
			want: fmt.Sprintf("withdraw %d from %d (timeout); withdraw %d from %d (timeout); withdraw %d from %d (timeout); offer %d->%d; offer %d->%d; offer %d->%d; ",
				c1, ann.ID, c2, bob.ID, c3, bob.ID, c1, bob.ID, c2, ann.ID, c3, bob.ID)},
		{name: "Bob goes offline: his offers are withdrawn, Ann is full", at: 33 * time.Second, online: []int64{ann.ID},
			want: fmt.Sprintf("withdraw %d from %d (offline); withdraw %d from %d (offline); ", c1, bob.ID, c3, bob.ID)},
		{name: "a chat sent back to the queue keeps its place; its agent is tried last", at: 41 * time.Second, online: []int64{ann.ID, bob.ID},
			before: func() {
				if _, _, err := st.Accept(ctx, c2, ann, t0.Add(34*time.Second)); err != nil {
					t.Fatal(err)
				}
				if _, _, err := st.Transfer(ctx, c2, ann.ID, AgentRef{}, 2, t0.Add(40*time.Second)); err != nil {
					t.Fatal(err)
				}
				q, _ := st.Queue(ctx)
				if len(q) != 3 || q[0].ConversationID != c1 || q[1].ConversationID != c2 || q[2].ConversationID != c3 {
					t.Fatalf("queue = %+v", q)
				}
			},
			want: fmt.Sprintf("offer %d->%d; offer %d->%d; offer %d->%d; ", c1, bob.ID, c2, bob.ID, c3, ann.ID)},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		in := RouteInput{Online: s.online, Capacity: 2, OfferTimeout: 30 * time.Second, Now: t0.Add(s.at)}
		need, err := st.NeedsRouting(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(route(t0.Add(s.at), s.online...)); got != s.want {
			t.Fatalf("%s:\n got %s\nwant %s", s.name, got, s.want)
		}
		if need != (s.want != "") {
			t.Errorf("%s: NeedsRouting = %v", s.name, need)
		}
	}
}

func TestTransferAndClose(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	st := NewSQLiteStore(db)
	ann, bob := addAgent(t, db, "Ann"), addAgent(t, db, "Bob")
	now := time.Now()
	active := func() Conversation {
		c := newConv(t, st, "Pat", "")
		if _, err := st.Append(ctx, NewMessage{ConversationID: c.ID, From: FromCustomer, ClientID: "1", Text: "hi", EnterQueue: true}, now); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Route(ctx, RouteInput{Online: []int64{ann.ID}, Capacity: 5, OfferTimeout: time.Minute, Now: now}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Accept(ctx, c.ID, ann, now); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := active()
	if _, _, err := st.Transfer(ctx, c.ID, bob.ID, ann, 3, now); !errors.Is(err, ErrNotAssigned) {
		t.Errorf("transfer by a non-assignee: %v", err)
	}
	cv, m, err := st.Transfer(ctx, c.ID, ann.ID, bob, 3, now)
	if err != nil || cv.AgentID != bob.ID || m.From != FromSystem {
		t.Fatalf("transfer = %+v, %+v, %v", cv, m, err)
	}
	if _, _, err := st.Transfer(ctx, active().ID, ann.ID, bob, 1, now); !errors.Is(err, ErrAgentBusy) {
		t.Errorf("transfer to a full agent: %v", err)
	}
	if _, err := st.Close(ctx, c.ID, FromAgent, ann, now); !errors.Is(err, ErrNotAssigned) {
		t.Errorf("close by the former agent: %v", err)
	}
	res, err := st.Close(ctx, c.ID, FromAgent, bob, now)
	if err != nil || res.Conversation.Status != StatusClosed || res.Conversation.Deflected {
		t.Fatalf("close = %+v, %v", res, err)
	}
	if _, err := st.Close(ctx, c.ID, FromCustomer, AgentRef{}, now); !errors.Is(err, ErrClosed) {
		t.Errorf("second close: %v", err)
	}

	// Deflection: an article opened and no agent ever joined.
	tests := []struct {
		name    string
		opened  bool
		agent   bool
		deflect bool
	}{
		{"opened, no agent", true, false, true},
		{"not opened", false, false, false},
		{"opened but an agent joined", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Conversation
			if tt.agent {
				c = active()
			} else {
				c = newConv(t, st, "Pat", "")
			}
			if tt.opened {
				if err := st.ArticleOpened(ctx, c.ID, "track-my-order", now); err != nil {
					t.Fatal(err)
				}
			}
			by, who := FromCustomer, AgentRef{}
			res, err := st.Close(ctx, c.ID, by, who, now)
			if err != nil {
				t.Fatal(err)
			}
			if res.Conversation.Deflected != tt.deflect {
				t.Errorf("deflected = %v, want %v", res.Conversation.Deflected, tt.deflect)
			}
		})
	}
}

func TestEstimateWait(t *testing.T) {
	tests := []struct {
		pos, agents, capacity int
		handle                time.Duration
		want                  int
	}{
		{1, 1, 3, 3 * time.Minute, 60},
		{3, 1, 3, 3 * time.Minute, 180},
		{6, 2, 3, 4 * time.Minute, 240},
		{1, 0, 3, 4 * time.Minute, 80}, // nobody online: as if one agent
		{1, 10, 3, time.Minute, 0},     // rounds to 5 s
	}
	for _, tt := range tests {
		if got := estimateWait(tt.pos, tt.agents, tt.capacity, tt.handle); got != tt.want {
			t.Errorf("estimateWait(%d, %d, %d, %s) = %d, want %d", tt.pos, tt.agents, tt.capacity, tt.handle, got, tt.want)
		}
	}
}

func TestReclaim(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	st := NewSQLiteStore(db)
	ann, bob := addAgent(t, db, "Ann"), addAgent(t, db, "Bob")
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// c1, c2: Ann's active chats. c3: waiting with an offer to Bob. c4:
	// waiting, nobody offered.
	queued := func(name string, d time.Duration) Conversation {
		c := newConv(t, st, name, "")
		if _, err := st.Append(ctx, NewMessage{ConversationID: c.ID, From: FromCustomer, ClientID: "1", Text: "help", EnterQueue: true}, at(d)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := queued("One", 0), queued("Two", time.Second)
	if _, err := st.Route(ctx, RouteInput{Online: []int64{ann.ID}, Capacity: 2, OfferTimeout: time.Minute, Now: at(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Conversation{c1, c2} {
		if _, _, err := st.Accept(ctx, c.ID, ann, at(3*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	c3, c4 := queued("Three", 4*time.Second), queued("Four", 5*time.Second)
	if _, err := st.Route(ctx, RouteInput{Online: []int64{bob.ID}, Capacity: 1, OfferTimeout: time.Hour, Now: at(6 * time.Second)}); err != nil {
		t.Fatal(err)
	}

	describe := func(r ReclaimResult) string {
		s := ""
		for _, q := range r.Requeued {
			s += fmt.Sprintf("requeue %d from %d (%s, %q); ", q.Conversation.ID, q.AgentID, q.Conversation.Status, q.Message.Text)
		}
		for _, a := range r.Abandoned {
			s += fmt.Sprintf("close %d by %s, withdrawn from %d (%q); ", a.Conversation.ID, a.Conversation.ClosedBy, a.WithdrawnTo, a.Message.Text)
		}
		return s
	}
	const agentGone = "Your agent lost their connection, so the chat went back to the queue; the next available agent will join."
	const customerGone = "The customer left before an agent could join."
	steps := []struct {
		name      string
		at        time.Duration
		connected []int64
		before    func()
		want      string
	}{
		{name: "everyone is here", at: 10 * time.Second, connected: []int64{ann.ID, bob.ID}},
		{name: "Ann's connection drops: her chats are marked, nothing moves yet", at: 20 * time.Second, connected: []int64{bob.ID}},
		{name: "she is back within the grace period: the marks go", at: 60 * time.Second, connected: []int64{ann.ID, bob.ID}},
		{name: "she drops again", at: 70 * time.Second, connected: []int64{bob.ID}},
		{name: "still within the grace period (counted from the new drop)", at: 185 * time.Second, connected: []int64{bob.ID}},
		{name: "gone for two minutes: her chats go back to the queue", at: 190 * time.Second, connected: []int64{bob.ID},
			want: fmt.Sprintf("requeue %d from %d (waiting, %q); requeue %d from %d (waiting, %q); ", c1.ID, ann.ID, agentGone, c2.ID, ann.ID, agentGone)},
		{name: "customers seen recently stay", at: 500 * time.Second, connected: []int64{bob.ID},
			before: func() {
				if err := st.SeenCustomers(ctx, []int64{c1.ID, c2.ID, c3.ID}, at(400*time.Second)); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "a waiting customer gone for ten minutes: the chat closes, Bob's offer is withdrawn", at: 605 * time.Second, connected: []int64{bob.ID},
			want: fmt.Sprintf("close %d by system, withdrawn from 0 (%q); ", c4.ID, customerGone)},
		{name: "the others follow ten minutes after they were last seen", at: 1000 * time.Second, connected: []int64{bob.ID},
			want: fmt.Sprintf("close %d by system, withdrawn from 0 (%q); close %d by system, withdrawn from 0 (%q); close %d by system, withdrawn from %d (%q); ",
				c1.ID, customerGone, c2.ID, customerGone, c3.ID, bob.ID, customerGone)},
		{name: "nothing left", at: 2000 * time.Second},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		in := ReclaimInput{Connected: s.connected, AgentGone: 2 * time.Minute, CustomerGone: 10 * time.Minute, Now: at(s.at)}
		need, err := st.NeedsReclaim(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Reclaim(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(res); got != s.want {
			t.Fatalf("%s:\n got %s\nwant %s", s.name, got, s.want)
		}
		marks := func() int {
			var n int
			if err := db.R.QueryRow(`SELECT COUNT(*) FROM chat_conversations WHERE agent_missing_since IS NOT NULL`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// NeedsReclaim may say yes to mark or unmark; it must say yes
		// whenever something moved, and no when nothing is marked and
		// nothing moved.
		if s.want != "" && !need {
			t.Errorf("%s: NeedsReclaim = false", s.name)
		}
		if s.name == "everyone is here" || s.name == "nothing left" {
			if need || marks() != 0 {
				t.Errorf("%s: NeedsReclaim = %v with %d marks", s.name, need, marks())
			}
		}
	}
	// Requeued chats kept their place in the queue before closing.
	var queuedAt1, queuedAt3 string
	if err := db.R.QueryRow(`SELECT queued_at FROM chat_conversations WHERE id = ?`, c1.ID).Scan(&queuedAt1); err != nil {
		t.Fatal(err)
	}
	if err := db.R.QueryRow(`SELECT queued_at FROM chat_conversations WHERE id = ?`, c3.ID).Scan(&queuedAt3); err != nil {
		t.Fatal(err)
	}
	if queuedAt1 >= queuedAt3 {
		t.Errorf("requeued chat lost its place: queued %s, after %s", queuedAt1, queuedAt3)
	}
}

// Concurrent appends are committed in shared transactions: seqs stay
// gapless and unique per conversation, a resent client id is stored once,
// and a refused message (closed chat, agent not assigned) in the same
// batch as good ones leaves no trace and does not fail them.
func TestAppendGroupCommit(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	st := NewSQLiteStore(db)
	ann := addAgent(t, db, "Ann")
	open, closed := newConv(t, st, "Pat", ""), newConv(t, st, "Sam", "")
	if _, err := st.Append(ctx, NewMessage{ConversationID: closed.ID, From: FromCustomer, ClientID: "0", Text: "hi", EnterQueue: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Close(ctx, closed.ID, FromCustomer, AgentRef{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	closedSeq := func() int64 {
		cv, err := st.Conversation(ctx, closed.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cv.LastSeq
	}
	before := closedSeq()

	const workers, each = 40, 25
	type result struct {
		clientID string
		seq      int64
		dup      bool
		err      error
	}
	results := make(chan result, workers*each*3)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				// Every message twice (a resend), plus two that must be refused.
				for range 2 {
					r, err := st.Append(ctx, NewMessage{ConversationID: open.ID, From: FromCustomer, ClientID: id, Text: id, EnterQueue: true}, time.Now())
					results <- result{clientID: id, seq: r.Message.Seq, dup: r.Duplicate, err: err}
				}
				if _, err := st.Append(ctx, NewMessage{ConversationID: closed.ID, From: FromCustomer, ClientID: id, Text: "late"}, time.Now()); !errors.Is(err, ErrClosed) {
					t.Errorf("message to a closed chat: %v", err)
				}
				if _, err := st.Append(ctx, NewMessage{ConversationID: open.ID, From: FromAgent, AgentID: ann.ID, Author: "Ann", ClientID: id, Text: "not mine"}, time.Now()); !errors.Is(err, ErrNotAssigned) {
					t.Errorf("agent message to an unassigned chat: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(results)
	seqOf := map[string]int64{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("%s: %v", r.clientID, r.err)
		}
		if prev, ok := seqOf[r.clientID]; ok {
			if prev != r.seq || !r.dup {
				// The second answer must be the first's seq, marked duplicate.
				t.Errorf("%s: seq %d then %d (duplicate %v)", r.clientID, prev, r.seq, r.dup)
			}
			continue
		}
		seqOf[r.clientID] = r.seq
	}
	msgs, err := st.Messages(ctx, open.ID, 0, 10*workers*each)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != workers*each {
		t.Fatalf("%d messages stored, want %d", len(msgs), workers*each)
	}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d: seqs are not gapless", i, m.Seq)
		}
		if seqOf[m.ClientID] != m.Seq {
			t.Errorf("%s stored as seq %d, acked as %d", m.ClientID, m.Seq, seqOf[m.ClientID])
		}
	}
	if got := closedSeq(); got != before {
		t.Errorf("the closed chat's last seq moved from %d to %d", before, got)
	}
	cv, err := st.Conversation(ctx, open.ID)
	if err != nil || cv.Status != StatusWaiting || cv.LastSeq != int64(workers*each) {
		t.Errorf("conversation after the burst: %+v, %v", cv, err)
	}
}

// When the last agent leaves, their pending offer is stale at once, not
// only once it expires.
func TestNeedsRoutingWithNobodyOnline(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	st := NewSQLiteStore(db)
	ann := addAgent(t, db, "Ann")
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	c := newConv(t, st, "Pat", "")
	if _, err := st.Append(ctx, NewMessage{ConversationID: c.ID, From: FromCustomer, ClientID: "1", Text: "hi", EnterQueue: true}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Route(ctx, RouteInput{Online: []int64{ann.ID}, Capacity: 3, OfferTimeout: 30 * time.Second, Now: now}); err != nil {
		t.Fatal(err)
	}
	in := RouteInput{Capacity: 3, OfferTimeout: 30 * time.Second, Now: now.Add(time.Second)}
	need, err := st.NeedsRouting(ctx, in)
	if err != nil || !need {
		t.Fatalf("NeedsRouting with nobody online and an offer pending = %v, %v", need, err)
	}
	ch, err := st.Route(ctx, in)
	if err != nil || len(ch) != 1 || ch[0].Offered || ch[0].Reason != "offline" {
		t.Fatalf("Route = %+v, %v; want the offer withdrawn as offline", ch, err)
	}
}
