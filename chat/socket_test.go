package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/printshop/helpdesk/faq"
	"github.com/printshop/helpdesk/internal/hours"
)

// --- fakes of the consumer-side interfaces ---

type fakeTickets struct {
	mu   sync.Mutex
	msgs []OfflineMessage
}

func (f *fakeTickets) CreateFromChat(ctx context.Context, m OfflineMessage) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	return int64(1000 + len(f.msgs)), nil
}

type fakeMailer struct {
	mu   sync.Mutex
	sent []string
}

func (f *fakeMailer) SendTranscript(ctx context.Context, to string, c Conversation, msgs []Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	f.sent = append(f.sent, to+": "+strings.Join(texts, " | "))
	return nil
}

type fakeSuggester struct{}

func (fakeSuggester) Search(ctx context.Context, q faq.Query) (faq.Results, error) {
	if strings.Contains(q.Text, "track") {
		return faq.Results{Results: []faq.Hit{{Slug: "track-my-order", Title: "Track my order", URL: "/kb/track-my-order"}}}, nil
	}
	return faq.Results{}, nil
}

// --- the conversation, end to end ---

func TestCustomerAgentChat(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	mailer := &fakeMailer{}
	n := startNode(t, nodeConfig{db: db, opts: Options{Mailer: mailer}})

	ag := n.agent(t, ann)
	cu := n.customer(t)
	w := cu.hello("", 0)
	if len(w.Visitor) < 40 || w.Conversation == 0 || !w.ChatAvailable {
		t.Fatalf("welcome = %+v", w)
	}
	if ack := cu.say("c1", "Where is my order?"); ack.Seq != 1 {
		t.Fatalf("ack = %+v", ack)
	}
	if m := cu.expect("message"); m.Seq != 1 || m.From != "customer" || m.Text != "Where is my order?" || m.Conversation != w.Conversation || m.At == "" {
		t.Fatalf("echo = %+v", m)
	}
	q := cu.expect("queue")
	if q.Position != 1 || q.Conversation != w.Conversation {
		t.Fatalf("queue = %+v", q)
	}
	offer := ag.expect("offer")
	if offer.Conversation != w.Conversation || offer.Preview != "Where is my order?" || offer.Customer.Name != "Pat" {
		t.Fatalf("offer = %+v", offer)
	}
	ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	if a := ag.expect("assigned"); a.Conversation != w.Conversation || a.Customer.Email != "pat@example.com" {
		t.Fatalf("assigned = %+v", a)
	}
	ag.expect("message", func(f frame) bool { return f.Seq == 1 })
	ag.expect("message", func(f frame) bool { return f.Seq == 2 && f.From == "system" && f.Text == "Ann joined the chat." })
	cu.expect("assigned", func(f frame) bool { return f.Agent.Name == "Ann" })

	// A second accept of the same chat fails.
	ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	if e := ag.expect("error"); e.Code != codeOfferGone {
		t.Fatalf("second accept: %+v", e)
	}

	if a := ag.agentSay(w.Conversation, "a1", "Let me check."); a.Seq != 3 {
		t.Fatalf("agent ack = %+v", a)
	}
	cu.expect("message", func(f frame) bool { return f.Seq == 3 && f.From == "agent" && f.Author == "Ann" })
	ag.expect("message", func(f frame) bool { return f.Seq == 3 })

	// Typing goes to the other side only.
	cu.send(map[string]any{"type": "typing"})
	if f := ag.expect("typing"); f.From != "customer" || f.Conversation != w.Conversation {
		t.Fatalf("typing = %+v", f)
	}
	ag.send(map[string]any{"type": "typing", "conversation": w.Conversation})
	if f := cu.expect("typing"); f.From != "agent" || f.Author != "Ann" {
		t.Fatalf("agent typing = %+v", f)
	}

	// Read receipts.
	cu.send(map[string]any{"type": "read", "seq": 3})
	if f := ag.expect("read"); f.By != "customer" || f.Seq != 3 {
		t.Fatalf("read = %+v", f)
	}
	ag.send(map[string]any{"type": "read", "conversation": w.Conversation, "seq": 99})
	if f := cu.expect("read"); f.By != "agent" || f.Seq != 3 {
		t.Fatalf("agent read (capped at last seq) = %+v", f)
	}

	// The agent ends it; both see the system message and "ended".
	ag.send(map[string]any{"type": "close", "conversation": w.Conversation})
	cu.expect("message", func(f frame) bool { return f.From == "system" && f.Text == "Ann ended the chat." })
	if f := cu.expect("ended"); f.By != "agent" {
		t.Fatalf("ended = %+v", f)
	}
	ag.expect("ended")
	cu.send(map[string]any{"type": "message", "client_id": "late", "text": "wait"})
	if e := cu.expect("error"); e.Code != codeClosed || e.ClientID != "late" {
		t.Fatalf("message after close: %+v", e)
	}

	cu.send(map[string]any{"type": "rating", "score": 6})
	if e := cu.expect("error"); e.Code != codeInvalid {
		t.Fatalf("bad rating: %+v", e)
	}
	cu.send(map[string]any{"type": "rating", "score": 5, "comment": "Quick and kind."})
	if f := cu.expect("rated"); f.Score != 5 {
		t.Fatalf("rated = %+v", f)
	}
	cu.send(map[string]any{"type": "transcript"})
	if f := cu.expect("transcript_sent"); f.Email != "pat@example.com" {
		t.Fatalf("transcript_sent = %+v", f)
	}
	mailer.mu.Lock()
	sent := fmt.Sprint(mailer.sent)
	mailer.mu.Unlock()
	if !strings.Contains(sent, "pat@example.com: Where is my order? | Ann joined the chat. | Let me check. | Ann ended the chat.") {
		t.Errorf("transcript mail = %s", sent)
	}
	cv, err := n.svc.store.Conversation(context.Background(), w.Conversation)
	if err != nil || cv.Rating != 5 || cv.RatingComment != "Quick and kind." || cv.Status != StatusClosed || cv.ClosedBy != FromAgent {
		t.Fatalf("stored conversation = %+v, %v", cv, err)
	}

	// After a reload the customer is in a new conversation, and can still
	// rate the one that ended, by its id; nobody else can.
	cu.conn.Close()
	again := n.customer(t)
	if w2 := again.hello(w.Visitor, 0); w2.Conversation == w.Conversation {
		t.Fatalf("a new conversation was expected after the ended one, got %d again", w2.Conversation)
	}
	again.send(map[string]any{"type": "rating", "conversation": w.Conversation, "score": 3, "comment": "On second thought"})
	if f := again.expect("rated"); f.Conversation != w.Conversation || f.Score != 3 {
		t.Fatalf("rated after reload = %+v", f)
	}
	stranger := n.customer(t)
	stranger.hello("", 0)
	stranger.send(map[string]any{"type": "rating", "conversation": w.Conversation, "score": 1})
	if e := stranger.expect("error"); e.Code != codeNotFound {
		t.Fatalf("rating someone else's chat: %+v", e)
	}
	stranger.send(map[string]any{"type": "transcript", "conversation": w.Conversation, "email": "thief@example.com"})
	if e := stranger.expect("error"); e.Code != codeNotFound {
		t.Fatalf("transcript of someone else's chat: %+v", e)
	}
	if cv, _ := n.svc.store.Conversation(context.Background(), w.Conversation); cv.Rating != 3 {
		t.Errorf("rating = %d, want the owner's 3", cv.Rating)
	}
}

func TestDuplicateAndUnknownFrames(t *testing.T) {
	db := newDB(t)
	n := startNode(t, nodeConfig{db: db})
	ann := addAgent(t, db, "Ann")
	n.agent(t, ann)
	cu := n.customer(t)

	cu.send(map[string]any{"type": "message", "client_id": "x", "text": "too early"})
	if e := cu.expect("error"); e.Code != codeHelloFirst {
		t.Fatalf("before hello: %+v", e)
	}
	w := cu.hello("", 0)
	tests := []struct {
		name  string
		frame string
		code  string
	}{
		{"unknown type", `{"type":"dance"}`, codeUnknownType},
		{"no type", `{"text":"hi"}`, codeUnknownType},
		{"not JSON", `hello`, codeBadFrame},
		{"wrong field type", `{"type":"read","seq":"three"}`, codeBadFrame},
		{"missing client id", `{"type":"message","text":"hi"}`, codeInvalid},
		{"blank text", `{"type":"message","client_id":"b","text":"  "}`, codeInvalid},
		{"text too long", fmt.Sprintf(`{"type":"message","client_id":"b","text":%q}`, strings.Repeat("x", MaxTextLen+1)), codeInvalid},
		{"second hello", `{"type":"hello"}`, codeBadFrame},
		{"bad slug", `{"type":"article_opened","slug":"../etc"}`, codeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cu.t = t
			cu.send(tt.frame)
			if e := cu.expect("error"); e.Code != tt.code {
				t.Fatalf("got %+v, want code %s", e, tt.code)
			}
		})
	}
	cu.t = t
	// The socket is still open and works; a resent client_id is stored
	// once and re-acked with its seq.
	a1 := cu.say("m1", "first")
	cu.say("m2", "second")
	again := cu.say("m1", "first (resent)")
	if again.Seq != a1.Seq || !again.Duplicate {
		t.Fatalf("resend ack = %+v, first = %+v", again, a1)
	}
	msgs, _ := n.svc.store.Messages(context.Background(), w.Conversation, 0, 10)
	if len(msgs) != 2 {
		t.Fatalf("stored %d messages, want 2", len(msgs))
	}
	cu.send(map[string]any{"type": "ping"})
	cu.expect("pong")
}

// A customer who reconnects with after_seq gets every later message
// exactly once, while the agent keeps writing during the reconnects.
func TestResumeExactlyOnce(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, opts: Options{Limits: Limits{AgentRate: 10000, AgentBurst: 10000}}})
	ag := n.agent(t, ann)
	cu := n.customer(t)
	w := cu.hello("", 0)
	cu.say("c1", "hi")
	ag.expect("offer")
	ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	ag.expect("assigned")

	// The message frame of "hi" may come before or after its ack (the
	// backlog read after hello can pick it up first), so start from a
	// clean connection.
	cu.conn.Close()
	cu = n.customer(t)
	cu.hello(w.Visitor, 0)

	const total = 300
	done := make(chan error, 1)
	go func() {
		for i := range total {
			data, _ := json.Marshal(map[string]any{"type": "message", "conversation": w.Conversation, "client_id": fmt.Sprint("a", i), "text": fmt.Sprint("m", i)})
			if err := ag.conn.WriteMessage(fws.TextMessage, data); err != nil {
				done <- err
				return
			}
			if i%50 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		done <- nil
	}()
	want := int64(2 + total) // the customer's message, "Ann joined", the agent's
	var last int64
	reconnects := 0
	for last < want {
		// Read a few messages, then drop the connection and resume.
		for range 20 {
			if last == want {
				break
			}
			f := cu.expect("message")
			if f.Seq != last+1 {
				t.Fatalf("after seq %d got seq %d (reconnect %d)", last, f.Seq, reconnects)
			}
			last = f.Seq
		}
		cu.conn.Close()
		cu = n.customer(t)
		cu.hello(w.Visitor, last)
		reconnects++
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cu.quiet("message", 200*time.Millisecond)
	if reconnects < 5 {
		t.Errorf("only %d reconnects", reconnects)
	}
	// A fresh connection with after_seq 0 gets the whole conversation.
	cu2 := n.customer(t)
	cu2.hello(w.Visitor, 0)
	for i := int64(1); i <= want; i++ {
		if f := cu2.expect("message"); f.Seq != i {
			t.Fatalf("full replay: got seq %d, want %d", f.Seq, i)
		}
	}
}

func alwaysOpen() *hours.Schedule {
	w, _ := hours.Parse("Mon-Sun 00:00-24:00")
	return hours.New(w, time.UTC, nil)
}

func TestAvailability(t *testing.T) {
	weekdays, err := hours.Parse("Mon-Fri 09:00-17:00")
	if err != nil {
		t.Fatal(err)
	}
	sched := hours.New(weekdays, time.UTC, nil)
	saturday := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	monday := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		now       time.Time
		agent     bool
		available bool
		reason    string
		nextOpen  string
	}{
		{"open with an agent online", monday, true, true, "", ""},
		{"open but nobody online", monday, false, false, "no_agents", ""},
		{"closed with an agent online", saturday, true, false, "outside_hours", "2026-03-09T09:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			tk := &fakeTickets{}
			clk := newFakeClock(tt.now)
			n := startNode(t, nodeConfig{db: db, opts: Options{Schedule: sched, Now: clk.Now, Tickets: tk}})
			if tt.agent {
				n.agent(t, addAgent(t, db, "Ann"))
			}
			cu := n.customer(t)
			w := cu.hello("", 0)
			if w.ChatAvailable != tt.available {
				t.Fatalf("chat_available = %v", w.ChatAvailable)
			}
			if tt.available {
				cu.quiet("closed", 100*time.Millisecond)
				return
			}
			f := cu.expect("closed")
			if f.Reason != tt.reason || f.NextOpen != tt.nextOpen {
				t.Fatalf("closed = %+v", f)
			}
			cu.send(map[string]any{"type": "message", "client_id": "c1", "text": "hello?"})
			if e := cu.expect("error"); e.Code != codeUnavailable || e.ClientID != "c1" {
				t.Fatalf("message while closed: %+v", e)
			}
			cu.send(map[string]any{"type": "leave_message", "name": "Pat", "email": "not-an-email", "text": "Call me"})
			if e := cu.expect("error"); e.Code != codeInvalid {
				t.Fatalf("bad email: %+v", e)
			}
			for range 2 { // a resend with the same client_id makes one ticket
				cu.send(map[string]any{"type": "leave_message", "client_id": "lm1", "name": "Pat", "email": "Pat@Example.com", "text": "My order #123 never came."})
				if f := cu.expect("message_left"); f.TicketID != 1001 {
					t.Fatalf("message_left = %+v", f)
				}
			}
			tk.mu.Lock()
			defer tk.mu.Unlock()
			if len(tk.msgs) != 1 || tk.msgs[0].Email != "pat@example.com" || tk.msgs[0].ConversationID != w.Conversation {
				t.Fatalf("tickets = %+v", tk.msgs)
			}
		})
	}
}

func TestOfferTimeoutMovesOn(t *testing.T) {
	db := newDB(t)
	ann, bob := addAgent(t, db, "Ann"), addAgent(t, db, "Bob")
	clk := newFakeClock(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	// Presence keeps real time: in this test nobody sends heartbeats.
	n := startNode(t, nodeConfig{db: db, opts: Options{Now: clk.Now, OfferTimeout: 30 * time.Second, Presence: NewMemoryPresence(time.Now, 0)}})
	a := n.agent(t, ann)
	b := n.agent(t, bob)
	cu := n.customer(t)
	w := cu.hello("", 0)
	cu.say("c1", "help")
	first, other := a, b
	o := a.expect("offer")
	if o.Conversation != w.Conversation {
		t.Fatalf("offer = %+v", o)
	}
	b.quiet("offer", 200*time.Millisecond)
	clk.Advance(29 * time.Second)
	first.quiet("offer_withdrawn", 200*time.Millisecond)
	clk.Advance(2 * time.Second)
	if f := first.expect("offer_withdrawn"); f.Reason != "timeout" {
		t.Fatalf("withdrawn = %+v", f)
	}
	other.expect("offer", func(f frame) bool { return f.Conversation == w.Conversation })
	// Ann can no longer take it; Bob can.
	first.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	first.expect("error", func(f frame) bool { return f.Code == codeOfferGone })
	other.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	other.expect("assigned")
	cu.expect("assigned", func(f frame) bool { return f.Agent.Name == "Bob" })

	// Bob declines nothing, but a declined offer moves on at once.
	cu2 := n.customer(t)
	w2 := cu2.hello("", 0)
	cu2.say("c1", "me too")
	a.expect("offer", func(f frame) bool { return f.Conversation == w2.Conversation })
	a.send(map[string]any{"type": "decline", "conversation": w2.Conversation})
	a.expect("offer_withdrawn", func(f frame) bool { return f.Reason == "declined" })
	b.expect("offer", func(f frame) bool { return f.Conversation == w2.Conversation })
}

func TestTransfer(t *testing.T) {
	db := newDB(t)
	ann, bob := addAgent(t, db, "Ann"), addAgent(t, db, "Bob")
	n := startNode(t, nodeConfig{db: db})
	a := n.agent(t, ann)
	cu := n.customer(t)
	w := cu.hello("", 0)
	cu.say("c1", "help")
	a.expect("offer")
	a.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	a.expect("assigned")

	a.send(map[string]any{"type": "transfer", "conversation": w.Conversation, "to_agent_id": bob.ID})
	if e := a.expect("error"); e.Code != codeNotFound {
		t.Fatalf("transfer to an offline colleague: %+v", e)
	}
	b := n.agent(t, bob)
	b.send(map[string]any{"type": "status", "status": "away"})
	b.expect("status")
	a.send(map[string]any{"type": "transfer", "conversation": w.Conversation, "to_agent_id": bob.ID})
	if f := a.expect("unassigned"); f.Reason != "transferred" {
		t.Fatalf("unassigned = %+v", f)
	}
	if f := b.expect("assigned"); f.Conversation != w.Conversation {
		t.Fatalf("assigned = %+v", f)
	}
	// Bob gets the history, including the transfer note.
	b.expect("message", func(f frame) bool { return f.Seq == 1 })
	b.expect("message", func(f frame) bool { return strings.Contains(f.Text, "transferred to Bob") })
	cu.expect("assigned", func(f frame) bool { return f.Agent.Name == "Bob" })
	a.send(map[string]any{"type": "message", "conversation": w.Conversation, "client_id": "x", "text": "still here?"})
	if e := a.expect("error"); e.Code != codeNotAssigned {
		t.Fatalf("old agent writes: %+v", e)
	}
	b.agentSay(w.Conversation, "b1", "Hi, Bob here.")
	cu.expect("message", func(f frame) bool { return f.Author == "Bob" })

	// Back to the queue: Ann is online and gets the offer.
	b.send(map[string]any{"type": "transfer", "conversation": w.Conversation, "queue": true})
	b.expect("unassigned")
	if f := cu.expect("unassigned"); f.Conversation != w.Conversation || f.Reason != "transferred" {
		t.Fatalf("customer's unassigned = %+v", f)
	}
	cu.expect("queue", func(f frame) bool { return f.Position == 1 })
	a.expect("offer", func(f frame) bool { return f.Conversation == w.Conversation })
}

func TestDeflection(t *testing.T) {
	db := newDB(t)
	reg := prometheus.NewRegistry()
	n := startNode(t, nodeConfig{db: db, opts: Options{Suggester: fakeSuggester{}, Registerer: reg}})
	n.agent(t, addAgent(t, db, "Ann"))
	cu := n.customer(t)
	w := cu.hello("", 0)
	cu.send(map[string]any{"type": "typing", "text": "how do I tr"})
	cu.send(map[string]any{"type": "typing", "text": "how do I track"}) // within a second: not searched
	cu.quiet("suggestions", 300*time.Millisecond)
	time.Sleep(time.Second)
	cu.send(map[string]any{"type": "typing", "text": "how do I track my parcel"})
	f := cu.expect("suggestions")
	if len(f.Articles) != 1 || f.Articles[0].Slug != "track-my-order" || f.Articles[0].URL != "/kb/track-my-order" {
		t.Fatalf("suggestions = %+v", f)
	}
	cu.say("c1", "how do I track my parcel")
	cu.expect("suggestions") // again as the chat enters the queue
	cu.send(map[string]any{"type": "article_opened", "slug": "track-my-order"})
	cu.send(map[string]any{"type": "close"})
	cu.expect("ended", func(f frame) bool { return f.By == "customer" })
	cv, err := n.svc.store.Conversation(context.Background(), w.Conversation)
	if err != nil || !cv.Deflected || !cv.ArticleOpened || cv.AgentJoined {
		t.Fatalf("conversation = %+v, %v", cv, err)
	}
	if got := counterValue(t, n.svc.m.deflected); got != 1 {
		t.Errorf("deflected metric = %v", got)
	}
}

// --- HTTP API and isolation between visitors ---

func httpGet(t *testing.T, url string, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	return httpDo(t, http.MethodGet, url, header, nil)
}

// httpDo sends one request and returns the status, the body and the headers.
func httpDo(t *testing.T, method, url string, header map[string]string, body io.Reader) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

func TestVisitorIsolation(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db})
	n.agent(t, ann)

	alice := n.customer(t)
	wa := alice.hello("", 0)
	alice.say("a1", "Alice's secret order number 4711")
	mallory := n.customer(t)
	wm := mallory.hello("", 0)
	mallory.say("m1", "hi")

	// Over the websocket a customer has no way to name another
	// conversation: a "conversation" field is ignored.
	mallory.send(map[string]any{"type": "message", "conversation": wa.Conversation, "client_id": "m2", "text": "injected"})
	mallory.expect("ack", func(f frame) bool { return f.ClientID == "m2" })
	mallory.send(map[string]any{"type": "sync", "conversation": wa.Conversation, "after_seq": 0})
	mallory.send(map[string]any{"type": "read", "conversation": wa.Conversation, "seq": 1})
	time.Sleep(100 * time.Millisecond)
	msgs, _ := n.svc.store.Messages(context.Background(), wa.Conversation, 0, 10)
	if len(msgs) != 1 {
		t.Fatalf("Alice's conversation has %d messages: %+v", len(msgs), msgs)
	}
	for {
		select {
		case f := <-mallory.frames:
			if strings.Contains(f.raw, "4711") || f.Conversation == wa.Conversation {
				t.Fatalf("Mallory saw %s", f.raw)
			}
			continue
		default:
		}
		break
	}
	// A guessed token is a new, empty visitor.
	guess := n.customer(t)
	wg := guess.hello("guessed-token", 0)
	if wg.Conversation == wa.Conversation || wg.Visitor == "guessed-token" {
		t.Fatalf("guess = %+v", wg)
	}

	// Over HTTP: history shows only the token's own conversations.
	code, body, _ := httpGet(t, n.base+"/api/chat/history", map[string]string{HeaderVisitorToken: wm.Visitor})
	if code != 200 || strings.Contains(string(body), "4711") || !strings.Contains(string(body), "injected") {
		t.Fatalf("history = %d %s", code, body)
	}
	var hist struct {
		Conversations []struct {
			ID       int64 `json:"id"`
			Messages []frame
		} `json:"conversations"`
	}
	_ = json.Unmarshal(body, &hist)
	if len(hist.Conversations) != 1 || hist.Conversations[0].ID != wm.Conversation {
		t.Fatalf("history = %s", body)
	}
	for _, tt := range []struct {
		name   string
		url    string
		header map[string]string
		want   int
	}{
		{"history without token", "/api/chat/history", nil, 401},
		{"history with a wrong token", "/api/chat/history", map[string]string{HeaderVisitorToken: "nope"}, 401},
		{"agent API with a visitor token", fmt.Sprintf("/api/chat/conversations/%d", wa.Conversation), map[string]string{HeaderVisitorToken: wm.Visitor}, 401},
		{"agent API for an agent", fmt.Sprintf("/api/chat/conversations/%d", wa.Conversation), map[string]string{"Authorization": fmt.Sprintf("Bearer token-%d", ann.ID)}, 200},
		{"agent API, unknown conversation", "/api/chat/conversations/999", map[string]string{"Authorization": fmt.Sprintf("Bearer token-%d", ann.ID)}, 404},
		{"by email", "/api/chat/conversations?email=PAT@example.com", map[string]string{"Authorization": fmt.Sprintf("Bearer token-%d", ann.ID)}, 200},
		{"by email, no email", "/api/chat/conversations", map[string]string{"Authorization": fmt.Sprintf("Bearer token-%d", ann.ID)}, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := httpGet(t, n.base+tt.url, tt.header)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, body)
			}
			if strings.Contains(tt.url, "email=") {
				var out struct{ Conversations []Conversation }
				_ = json.Unmarshal(body, &out)
				if len(out.Conversations) != 3 { // Alice, Mallory and the guess all said they were Pat
					t.Fatalf("by email: %s", body)
				}
			}
		})
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Waiting customers see their place and an estimate, and both move as the
// queue does.
func TestQueuePositions(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, opts: Options{Capacity: 1, DefaultHandle: 3 * time.Minute}})
	ag := n.agent(t, ann)
	var cs []*client
	var ws []frame
	for i := range 3 {
		cu := n.customer(t)
		ws = append(ws, cu.hello("", 0))
		cu.say("c1", fmt.Sprint("question ", i))
		q := cu.expect("queue")
		if q.Position != i+1 || q.EstimatedWaitSeconds != (i+1)*180 {
			t.Fatalf("customer %d: queue = %+v", i, q)
		}
		cs = append(cs, cu)
	}
	ag.expect("offer", func(f frame) bool { return f.Conversation == ws[0].Conversation })
	ag.send(map[string]any{"type": "accept", "conversation": ws[0].Conversation})
	for i, cu := range cs[1:] {
		if q := cu.expect("queue"); q.Position != i+1 {
			t.Fatalf("after the first was taken, customer %d: %+v", i+1, q)
		}
	}
	// A reconnecting customer learns their place at once.
	again := n.customer(t)
	again.hello(ws[2].Visitor, 0)
	if q := again.expect("queue"); q.Position != 2 {
		t.Fatalf("on reconnect: %+v", q)
	}
}

// The FAQ index is a Suggester as it is.
var _ Suggester = (*faq.Index)(nil)

// People who leave do not hold chats: an agent whose connection is gone
// past the grace period loses their chats to the queue (and a colleague),
// and a waiting customer who left is closed out, while one who is still
// connected keeps waiting however long it takes.
func TestGonePeopleReleaseChats(t *testing.T) {
	db := newDB(t)
	ann, bob := addAgent(t, db, "Ann"), addAgent(t, db, "Bob")
	n := startNode(t, nodeConfig{db: db, opts: Options{Capacity: 1,
		AgentGone: 300 * time.Millisecond, CustomerGone: 1500 * time.Millisecond}})
	status := func(conv int64) (st, closedBy string) {
		t.Helper()
		if err := db.R.QueryRow(`SELECT status, closed_by FROM chat_conversations WHERE id = ?`, conv).Scan(&st, &closedBy); err != nil {
			t.Fatal(err)
		}
		return st, closedBy
	}

	a := n.agent(t, ann)
	cu := n.customer(t)
	w := cu.hello("", 0)
	cu.say("c1", "my order is late")
	a.expect("offer")
	a.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	a.expect("assigned")
	cu.expect("assigned")

	// Ann's only tab closes. A reload inside the grace period would keep
	// the chat (the store test covers it); she does not come back.
	a.conn.Close()
	start := time.Now()
	cu.expect("message", func(f frame) bool { return f.From == "system" && strings.Contains(f.Text, "lost their connection") })
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("chat requeued after %s, before the grace period", waited)
	}
	if f := cu.expect("unassigned"); f.Reason != "agent_gone" {
		t.Fatalf("customer's unassigned = %+v", f)
	}
	cu.expect("queue", func(f frame) bool { return f.Position == 1 })
	if st, _ := status(w.Conversation); st != "waiting" {
		t.Fatalf("status after the agent left = %s", st)
	}
	// Bob comes online and is offered it, with the history.
	b := n.agent(t, bob)
	b.expect("offer", func(f frame) bool { return f.Conversation == w.Conversation })
	b.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	b.expect("assigned")
	b.expect("message", func(f frame) bool { return f.Seq == 1 && f.Text == "my order is late" })
	cu.expect("assigned", func(f frame) bool { return f.Agent.Name == "Bob" })

	// Bob is full (capacity 1): the next customer waits, still connected,
	// for several grace periods, and is not closed out.
	cu2 := n.customer(t)
	w2 := cu2.hello("", 0)
	cu2.say("c1", "is anyone there?")
	cu2.expect("queue")
	time.Sleep(3500 * time.Millisecond) // over twice CustomerGone
	if st, _ := status(w2.Conversation); st != "waiting" {
		t.Fatalf("a connected customer's chat is %s after 3.5s", st)
	}
	// They give up and close the tab: the chat is closed for them.
	cu2.conn.Close()
	eventually(t, "the abandoned chat to close", func() bool { st, _ := status(w2.Conversation); return st == "closed" })
	if _, by := status(w2.Conversation); by != "system" {
		t.Errorf("closed by %q, want system", by)
	}
	// Bob's chat with a customer who is still there is untouched.
	if st, _ := status(w.Conversation); st != "active" {
		t.Errorf("Bob's chat is %s", st)
	}
	if got := counterValue(t, n.svc.m.reclaimed.WithLabelValues("agent_gone")); got != 1 {
		t.Errorf("agent_gone metric = %v", got)
	}
	// The counter follows the commit the status check saw.
	eventually(t, "the customer_gone metric", func() bool {
		return counterValue(t, n.svc.m.reclaimed.WithLabelValues("customer_gone")) == 1
	})
}
