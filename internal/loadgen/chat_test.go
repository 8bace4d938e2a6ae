package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// fakeChat is a tiny chat server speaking the frames loadgen uses: hello →
// welcome, message → ack (per-conversation seq) and the message to the
// conversation's agent, queued chats offered to agents with capacity 2,
// accept → assigned. Every rejectEvery-th customer message gets a
// rate_limited error instead of an ack. It remembers what it acked.
type fakeChat struct {
	t           *testing.T
	origin      string
	tokens      map[string]bool
	rejectEvery int

	mu     sync.Mutex
	convs  map[int64]*fakeConv
	agents []*fakeAgent
	nextID int64
	n      int
	stored map[chatKey]int64 // what was acked: key → seq
}

type fakeConv struct {
	id       int64
	seq      int64
	customer *fakeSock
	agent    *fakeAgent
	queued   bool // waiting for an agent
	offered  bool
}

// route offers queued chats to agents with a free slot. It returns the
// offers to send once f.mu is released.
func (f *fakeChat) route() []func() {
	var sends []func()
	for id := int64(1); id <= f.nextID; id++ {
		c := f.convs[id]
		if c == nil || !c.queued || c.offered {
			continue
		}
		for _, a := range f.agents {
			if a.active < 2 {
				a.active++
				c.offered = true
				sends = append(sends, func() { a.sock.send(map[string]any{"type": "offer", "conversation": c.id}) })
				break
			}
		}
	}
	return sends
}

func sendAll(sends []func()) {
	for _, s := range sends {
		s()
	}
}

type fakeAgent struct {
	sock   *fakeSock
	active int
}

type fakeSock struct {
	mu sync.Mutex
	c  *fws.Conn
}

func (s *fakeSock) send(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.c.WriteJSON(v)
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := fws.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == f.origin }}
	switch r.URL.Path {
	case "/ws/chat":
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		go f.customer(&fakeSock{c: c})
	case "/ws/agent":
		if !f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		a := &fakeAgent{sock: &fakeSock{c: c}}
		f.mu.Lock()
		f.agents = append(f.agents, a)
		offers := f.route()
		f.mu.Unlock()
		sendAll(offers)
		go f.agent(a)
	default:
		http.NotFound(w, r)
	}
}

type inFrame struct {
	Type         string `json:"type"`
	ClientID     string `json:"client_id"`
	Text         string `json:"text"`
	Conversation int64  `json:"conversation"`
}

func (f *fakeChat) customer(s *fakeSock) {
	defer s.c.Close()
	var conv *fakeConv
	for {
		var in inFrame
		if err := s.c.ReadJSON(&in); err != nil {
			return
		}
		switch in.Type {
		case "hello":
			f.mu.Lock()
			f.nextID++
			conv = &fakeConv{id: f.nextID, customer: s}
			f.convs[conv.id] = conv
			f.mu.Unlock()
			s.send(map[string]any{"type": "welcome", "visitor": "v", "conversation": conv.id, "chat_available": true})
		case "message":
			f.mu.Lock()
			f.n++
			if f.rejectEvery > 0 && f.n%f.rejectEvery == 0 {
				f.mu.Unlock()
				s.send(map[string]any{"type": "error", "code": "rate_limited", "client_id": in.ClientID, "ref": "message"})
				continue
			}
			conv.seq++
			seq := conv.seq
			f.stored[chatKey{conv.id, "customer", in.ClientID}] = seq
			agent := conv.agent
			var offers []func()
			if !conv.queued && agent == nil {
				conv.queued = true
				offers = f.route()
			}
			f.mu.Unlock()
			s.send(map[string]any{"type": "ack", "client_id": in.ClientID, "seq": seq})
			msg := map[string]any{"type": "message", "conversation": conv.id, "seq": seq, "from": "customer", "text": in.Text, "client_id": in.ClientID}
			s.send(msg)
			if agent != nil {
				agent.sock.send(msg)
			}
			sendAll(offers)
		case "close":
			s.send(map[string]any{"type": "ended", "conversation": conv.id, "by": "customer"})
			return
		}
	}
}

func (f *fakeChat) agent(a *fakeAgent) {
	defer a.sock.c.Close()
	a.sock.send(map[string]any{"type": "welcome", "agent": map[string]any{"id": 1, "name": "A"}})
	for {
		var in inFrame
		if err := a.sock.c.ReadJSON(&in); err != nil {
			return
		}
		f.mu.Lock()
		conv := f.convs[in.Conversation]
		f.mu.Unlock()
		switch in.Type {
		case "accept":
			f.mu.Lock()
			conv.agent = a
			f.mu.Unlock()
			a.sock.send(map[string]any{"type": "assigned", "conversation": conv.id})
			conv.customer.send(map[string]any{"type": "assigned", "conversation": conv.id, "agent": map[string]any{"name": "A"}})
		case "message":
			f.mu.Lock()
			if conv == nil || conv.agent != a {
				f.mu.Unlock()
				a.sock.send(map[string]any{"type": "error", "code": "not_assigned", "client_id": in.ClientID})
				continue
			}
			conv.seq++
			seq := conv.seq
			f.stored[chatKey{conv.id, "agent", in.ClientID}] = seq
			f.mu.Unlock()
			a.sock.send(map[string]any{"type": "ack", "client_id": in.ClientID, "seq": seq})
			conv.customer.send(map[string]any{"type": "message", "conversation": conv.id, "seq": seq, "from": "agent", "text": in.Text})
		}
	}
}

func TestChatLoadRecordsEveryAck(t *testing.T) {
	fc := &fakeChat{t: t, tokens: map[string]bool{"tok-1": true, "tok-2": true}, rejectEvery: 25,
		convs: map[int64]*fakeConv{}, stored: map[chatKey]int64{}}
	srv := httptest.NewServer(fc)
	defer srv.Close()
	fc.origin = srv.URL

	var buf strings.Builder
	rec := NewRecorder(&buf)
	var out strings.Builder
	started := false
	rep, err := Run(context.Background(), Config{
		URL: srv.URL, Customers: 6, Agents: 2, Tokens: []string{"tok-1", "tok-2"},
		Rate: 120, AgentRate: 40, Warmup: 5 * time.Second, Duration: 1500 * time.Millisecond,
		Record: rec, LimitsKnown: true, OnStart: func() { started = true },
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !started {
		t.Error("OnStart was not called")
	}
	t.Log(out.String())
	// Capacity 2 per agent: 4 of 6 chats are accepted.
	if rep.Customers != 6 || rep.AgentsOnline != 2 || rep.Assigned != 4 {
		t.Errorf("customers %d, agents %d, assigned %d", rep.Customers, rep.AgentsOnline, rep.Assigned)
	}
	if rep.Chat.OK < 20 || rep.Chat.Errors == 0 || rep.Chat.ErrorKinds["customer error frame: rate_limited"] != int(rep.Chat.Errors) {
		t.Errorf("chat stats %+v", rep.Chat)
	}
	if rep.Chat.OK+rep.Chat.Errors != rep.Chat.Sent {
		t.Errorf("chat: %d sent, %d acked, %d refused", rep.Chat.Sent, rep.Chat.OK, rep.Chat.Errors)
	}
	if rep.Deliver.OK == 0 || rep.Deliver.P50 <= 0 || rep.Agent.OK == 0 || rep.Agent.Errors != 0 {
		t.Errorf("deliver %+v\nagent %+v", rep.Deliver, rep.Agent)
	}

	entries, err := ReadRecord(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(entries) != len(fc.stored) {
		t.Errorf("recorded %d messages, the server acked %d", len(entries), len(fc.stored))
	}
	agentMsgs := 0
	for _, e := range entries {
		if e.Kind != KindChat {
			t.Fatalf("entry %+v", e)
		}
		seq, ok := fc.stored[chatKey{e.Conversation, e.From, e.ClientID}]
		if !ok || seq != e.Seq {
			t.Errorf("recorded %+v; the server acked seq %d (found %v)", e, seq, ok)
		}
		if e.From == "agent" {
			agentMsgs++
		}
	}
	if agentMsgs == 0 {
		t.Error("no agent message recorded")
	}
	for _, want := range []string{"chat ", "deliver ", "agent ", "recorded: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestChatLoadAgentTokenRefused(t *testing.T) {
	fc := &fakeChat{t: t, tokens: map[string]bool{"good": true}, convs: map[int64]*fakeConv{}, stored: map[chatKey]int64{}}
	srv := httptest.NewServer(fc)
	defer srv.Close()
	fc.origin = srv.URL
	_, err := Run(context.Background(), Config{URL: srv.URL, Customers: 1, Agents: 1, Tokens: []string{"bad"}, Rate: 1, Duration: time.Second}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("err = %v, want the agent's 401", err)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "nothing", cfg: Config{URL: "http://127.0.0.1:1"}, want: "nothing to do"},
		{name: "tokens", cfg: Config{URL: "http://127.0.0.1:1", Agents: 2, Tokens: []string{"x"}}, want: "2 agent tokens"},
		{name: "mail without smtp", cfg: Config{URL: "http://127.0.0.1:1", MailRate: 5, MailTo: "a@b"}, want: "SMTP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cfg, &strings.Builder{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A cancelled context ends the window early without an error: the crash
// test relies on it.
func TestRunEndsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"results":[]}`)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	t0 := time.Now()
	rep, err := Run(ctx, Config{URL: srv.URL, SearchRate: 50, Duration: time.Hour,
		OnStart: func() { time.AfterFunc(300*time.Millisecond, cancel) }}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(t0) > 10*time.Second || rep.Search.OK == 0 {
		t.Errorf("took %v; search %+v", time.Since(t0), rep.Search)
	}
}
