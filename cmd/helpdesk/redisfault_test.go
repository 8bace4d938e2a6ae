package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/printshop/helpdesk/chat"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// TestRedisFaults runs two helpdesk processes sharing one data folder and a
// private Redis, a customer on node A and one on node B, both chatting with
// an agent connected to node B, and then (a) restarts Redis, (b) stops it
// for 30 s (5 s with HELPDESK_REDIS_FAULT_SHORT=1), dropping customer A's
// socket meanwhile, and (c) drops both sockets of A's chat, while everyone
// keeps chatting. It checks that:
//
//   - every message is acknowledged throughout, and chat between the agent
//     and the customer on the agent's own node keeps flowing while Redis is
//     down;
//   - once Redis is back, cross-node delivery resumes and the agent counts
//     as online again on both nodes within the presence TTL;
//   - no acknowledged message is lost or duplicated: every acked client_id
//     is stored exactly once with the acked seq, and every participant saw
//     every seq of its conversations exactly once, in order.
//
// Each node has its own --public-url (its own address): the public URL is
// used for links and the websocket Origin check only, nothing stored in
// the shared database depends on it, so nodes with different public URLs
// can share a data folder.
func TestRedisFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the Redis fault test in -short mode (it takes about a minute)")
	}
	outage := 30 * time.Second
	if os.Getenv("HELPDESK_REDIS_FAULT_SHORT") != "" {
		outage = 5 * time.Second
	}
	began := time.Now()
	rs := startPrivateRedis(t)

	dir := t.TempDir()
	addAccount(t, dir, "ann@shop.example", "Ann Agent", "agent")
	tok := createToken(t, dir, "ann@shop.example")
	args := []string{"--redis", rs.url(), "--hours", "Mon-Sun 00:00-24:00", "--timezone", "UTC"}
	nodeA := startServer(t, dir, nil, args...)
	nodeB := startServer(t, dir, nil, args...)

	h := newChatHarness(t)
	ag := h.agent("agent@B", nodeB, tok)
	ca := h.customer("customer@A", nodeA)
	cb := h.customer("customer@B", nodeB)
	convA := h.startChat(ca, ag)
	convB := h.startChat(cb, ag)
	h.addStream(ca, convA, "CA")
	h.addStream(ag, convA, "AGa")
	h.addStream(cb, convB, "CB")
	h.addStream(ag, convB, "AGb")
	pairs := map[int64][]*chatPeer{convA: {ca, ag}, convB: {cb, ag}}
	stopTraffic := h.run()
	defer stopTraffic()

	// Baseline: both ways, across nodes (A↔B) and within node B.
	h.waitDelivered("baseline", pairs, 10*time.Second)

	// (a) Redis restarts under the chat.
	rs.kill()
	rs.start()
	restarted := time.Now()
	time.Sleep(time.Second) // traffic goes on meanwhile
	h.waitDelivered("after the restart", pairs, 15*time.Second)
	t.Logf("restart: everything acked was delivered %s after Redis came back", time.Since(restarted).Round(time.Millisecond))
	waitPresence(t, "after the restart", restarted, nodeA, nodeB)

	// (b) Redis is down for a while. In the second half the customer on
	// node A only listens: nothing on node A then reads the store for
	// other reasons, so what the agent (on B) writes to them waits for
	// Redis, and its delivery afterwards shows cross-node fan-out resumed.
	rs.kill()
	down := time.Now()
	ackedA := h.acked(convA)
	quietA := false
	for {
		left := outage - time.Since(down)
		if left <= 0 {
			break
		}
		if !quietA && time.Since(down) >= outage/2 {
			if got := h.acked(convA); got <= ackedA {
				t.Errorf("nothing in conversation %d was acked in the first half of the outage (last acked seq %d)", convA, got)
			}
			h.pause("CA", true)
			quietA = true
		}
		time.Sleep(min(2*time.Second, left))
		if time.Since(down) < outage {
			// On node B the agent and its customer keep chatting: what
			// was acked is delivered to both within a few seconds.
			h.waitDelivered(fmt.Sprintf("on node B, %s into the outage", time.Since(down).Round(time.Second)),
				map[int64][]*chatPeer{convB: {cb, ag}}, 5*time.Second)
		}
	}
	// The customer's network blips while Redis is down: reconnecting is
	// refused (close 1013, the server cannot subscribe the socket) until
	// Redis is back, then resumes with after_seq.
	ca.drop()
	time.Sleep(time.Second)
	behind := h.acked(convA) - ca.lastSeen(convA)
	rs.start()
	back := time.Now()
	h.waitDelivered("after the outage", pairs, 15*time.Second)
	t.Logf("outage of %s: the customer on node A was %d messages behind when Redis came back; all delivered %s later",
		outage, behind, time.Since(back).Round(time.Millisecond))
	waitPresence(t, "after the outage", back, nodeA, nodeB)
	h.pause("CA", false)

	// (c) Both sockets of conversation A drop with Redis up: the customer
	// resumes with after_seq, the agent gets its chats again from the
	// start and keeps only what is new; unacked messages are resent with
	// their client_id.
	ca.drop()
	ag.drop()
	time.Sleep(time.Second)
	h.waitDelivered("after the sockets dropped", pairs, 15*time.Second)
	// Cross-node traffic flows live again, not just the catch-up.
	time.Sleep(time.Second)
	h.waitDelivered("live again", pairs, 10*time.Second)

	stopTraffic()
	h.waitDelivered("at the end", pairs, 10*time.Second)
	h.verifyStore(filepath.Join(dir, "helpdesk.db"), pairs)
	for _, p := range h.peers {
		t.Logf("%s: %d connections (%d refused while Redis was down), %d messages seen", p.name, p.dials, p.refused, p.total())
	}
	t.Logf("whole test: %s", time.Since(began).Round(time.Millisecond))
}

// --- a private Redis ---

type redisProc struct {
	t    *testing.T
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// startPrivateRedis runs redis-server on a free loopback port with its own
// folder and no persistence, so that killing it loses everything, as a
// restarted cache would, and disturbs no other Redis. Without redis-server
// the test is skipped, unless CI is set, where it fails.
func startPrivateRedis(t *testing.T) *redisProc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is required in CI (.ci/run installs it)")
		}
		t.Skip("skipping: redis-server is not installed (apt-get install redis-server)")
	}
	_, portStr, _ := net.SplitHostPort(freeAddr(t))
	port, _ := strconv.Atoi(portStr)
	r := &redisProc{t: t, bin: bin, port: port, dir: t.TempDir(), out: &syncBuffer{}}
	r.start()
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			t.Logf("redis-server output:\n%s", r.out.String())
		}
	})
	return r
}

func (r *redisProc) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisProc) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// start launches redis-server and waits (at most 10 s) until it answers.
func (r *redisProc) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		r.t.Fatal("redis-server is already running")
	}
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", r.dir, "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { // reaps the process; ends when it exits (kill)
		_ = cmd.Wait()
		close(done)
	}()
	r.cmd, r.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for !redisPing(r.addr()) {
		select {
		case <-done:
			r.t.Fatalf("redis-server exited at start:\n%s", r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server not answering on %s within 10s:\n%s", r.addr(), r.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops redis-server at once (SIGKILL) and waits for it to exit.
func (r *redisProc) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("redis-server (pid %d) did not exit after SIGKILL", r.cmd.Process.Pid)
	}
	r.cmd = nil
}

func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// waitPresence waits until /api/status on every node counts the agent
// online, and fails when that takes longer than the presence TTL after
// since (when Redis came back).
func waitPresence(t *testing.T, when string, since time.Time, nodes ...*testServer) {
	t.Helper()
	deadline := since.Add(chat.DefaultPresenceTTL)
	for _, n := range nodes {
		for agentsOnline(t, n.URL) < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s still counts no agent online %s after Redis came back (presence TTL %s)",
					when, n.URL, time.Since(since).Round(time.Second), chat.DefaultPresenceTTL)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("%s: agents online on every node %s after Redis came back", when, time.Since(since).Round(time.Millisecond))
}

// --- chat participants that survive dropped sockets ---

// chatPeer is a customer or an agent with the client-side state the
// protocol asks for: the highest seq shown per conversation (to resume
// with after_seq) and the messages not yet acknowledged (to resend with
// their client_id).
type chatPeer struct {
	h     *chatHarness
	name  string
	agent bool
	node  *testServer
	token string // agent's API token
	visit string // customer's visitor token, after the first welcome
	conv  int64  // customer's conversation

	mu      sync.Mutex
	conn    *fws.Conn               // the current connection
	live    bool                    // conn is connected and past its welcome
	offers  map[int64]bool          // agent: conversations offered
	seen    map[int64]map[int64]int // conversation -> seq -> deliveries
	last    map[int64]int64         // conversation -> highest seq seen (in order)
	replay  map[int64]int64         // agent after a reconnect: seqs up to this are resent by design
	acks    map[string]int64        // client_id -> acked seq
	sent    map[string]pendingMsg   // client_id -> message, until acked
	errs    []string                // protocol violations seen by the reader
	dials   int
	refused int // hellos refused because Redis was down
}

type pendingMsg struct {
	conv int64
	text string
	at   time.Time
}

func (p *chatPeer) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.seen {
		n += len(s)
	}
	return n
}

// chatHarness drives the peers: one goroutine sends every stream's next
// message once the previous one is acked (as a chat client does) and
// reconnects peers whose socket dropped; one reader goroutine per socket
// records what arrives.
type chatHarness struct {
	t       *testing.T
	peers   []*chatPeer
	streams []*chatStream
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

type chatStream struct {
	paused atomic.Bool
	p      *chatPeer
	conv   int64
	prefix string
	n      int
	cur    string // client_id in flight
}

func newChatHarness(t *testing.T) *chatHarness {
	h := &chatHarness{t: t, stop: make(chan struct{}), stopped: make(chan struct{})}
	t.Cleanup(func() { // after the traffic stopped (cleanups run last first)
		for _, p := range h.peers {
			p.mu.Lock()
			if p.conn != nil {
				p.conn.Close()
			}
			p.mu.Unlock()
		}
	})
	return h
}

func (h *chatHarness) newPeer(name string, node *testServer, agent bool) *chatPeer {
	p := &chatPeer{h: h, name: name, agent: agent, node: node, seen: map[int64]map[int64]int{},
		last: map[int64]int64{}, replay: map[int64]int64{}, acks: map[string]int64{}, sent: map[string]pendingMsg{},
		offers: map[int64]bool{}}
	h.peers = append(h.peers, p)
	return p
}

func (h *chatHarness) agent(name string, node *testServer, token string) *chatPeer {
	h.t.Helper()
	p := h.newPeer(name, node, true)
	p.token = token
	if err := p.connect(); err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	return p
}

func (h *chatHarness) customer(name string, node *testServer) *chatPeer {
	h.t.Helper()
	p := h.newPeer(name, node, false)
	if err := p.connect(); err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	return p
}

// connect dials the peer's node and says hello (customers resume their
// conversation after the last seq seen); it starts the reader. It does not
// use t.Fatal: the traffic goroutine reconnects with it.
func (p *chatPeer) connect() error {
	u := wsURL(p.node.URL, "/ws/chat")
	header := http.Header{"Origin": {p.node.URL}}
	if p.agent {
		u = wsURL(p.node.URL, "/ws/agent")
		header.Set("Authorization", "Bearer "+p.token)
	}
	d := fws.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(u, header)
	if err != nil {
		return fmt.Errorf("dial %s: %v (%v)", u, err, statusOf(resp))
	}
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	p.mu.Lock()
	if !p.agent {
		hello := map[string]any{"type": "hello", "visitor": p.visit, "name": p.name, "email": "c@customer.example",
			"after_seq": p.last[p.conv], "conversation": p.conv}
		data, _ := json.Marshal(hello)
		if err := conn.WriteMessage(fws.TextMessage, data); err != nil {
			p.mu.Unlock()
			conn.Close()
			return err
		}
	} else {
		// The server sends each active chat from its first message
		// again; a client drops what it already showed.
		for conv, last := range p.last {
			p.replay[conv] = last
		}
	}
	p.dials++
	p.conn, p.live = conn, false
	p.mu.Unlock()
	welcome := make(chan error, 1)
	go p.read(conn, welcome) // ends when the socket does; the harness closes it at the end
	select {
	case err := <-welcome:
		return err
	case <-time.After(10 * time.Second):
		conn.Close()
		return fmt.Errorf("%s: no welcome within 10s", p.name)
	}
}

// read records every frame of one connection until it ends.
func (p *chatPeer) read(conn *fws.Conn, welcome chan<- error) {
	greeted := false
	for {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		_, data, err := conn.ReadMessage()
		if err != nil {
			p.mu.Lock()
			if p.conn == conn {
				p.live = false
			}
			p.mu.Unlock()
			if !greeted {
				welcome <- err
			}
			conn.Close()
			return
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			p.violation("undecodable frame %q", data)
			continue
		}
		p.mu.Lock()
		switch f.Type {
		case "welcome":
			if !p.agent {
				if p.visit != "" && (f.Visitor != p.visit || f.Conversation != p.conv) {
					p.errs = append(p.errs, fmt.Sprintf("resumed into conversation %d, want %d", f.Conversation, p.conv))
				}
				p.visit, p.conv = f.Visitor, f.Conversation
			}
		case "message":
			p.message(f)
		case "offer":
			p.offers[f.Conversation] = true
		case "ack":
			if seq, ok := p.acks[f.ClientID]; ok && seq != f.Seq {
				p.errs = append(p.errs, fmt.Sprintf("%s acked as seq %d and again as %d", f.ClientID, seq, f.Seq))
			}
			p.acks[f.ClientID] = f.Seq
			delete(p.sent, f.ClientID)
		case "error":
			if f.Code == "internal" && f.Ref == "hello" {
				// The documented refusal while Redis is down (close
				// 1013 follows); the client reconnects shortly.
				p.refused++
				break
			}
			if f.Code != "rate_limited" {
				p.errs = append(p.errs, "error frame: "+string(data))
			}
		}
		if f.Type == "welcome" && !greeted {
			greeted = true
			p.live = true
			p.mu.Unlock()
			welcome <- nil
			continue
		}
		p.mu.Unlock()
	}
}

// message records one delivery; p.mu is held.
func (p *chatPeer) message(f wsFrame) {
	conv, seq := f.Conversation, f.Seq
	if seq <= p.replay[conv] {
		// A replay the agent protocol sends after a reconnect: it must
		// repeat exactly what was seen.
		if p.seen[conv][seq] == 0 {
			p.errs = append(p.errs, fmt.Sprintf("conversation %d: replayed seq %d was never delivered before", conv, seq))
		}
		if seq == p.replay[conv] {
			delete(p.replay, conv)
		}
		return
	}
	if p.seen[conv] == nil {
		p.seen[conv] = map[int64]int{}
	}
	p.seen[conv][seq]++
	if n := p.seen[conv][seq]; n > 1 {
		p.errs = append(p.errs, fmt.Sprintf("conversation %d: seq %d delivered %d times", conv, seq, n))
	}
	if seq != p.last[conv]+1 {
		p.errs = append(p.errs, fmt.Sprintf("conversation %d: seq %d after %d", conv, seq, p.last[conv]))
	}
	p.last[conv] = max(p.last[conv], seq)
}

// drop closes the peer's socket, as a network failure would; the traffic
// goroutine reconnects it.
func (p *chatPeer) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close()
	}
}

func (p *chatPeer) violation(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

// send writes a frame on the current connection; a failure drops it.
func (p *chatPeer) send(v any) bool {
	p.mu.Lock()
	conn, live := p.conn, p.live
	p.mu.Unlock()
	if !live {
		return false
	}
	data, _ := json.Marshal(v)
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMessage(fws.TextMessage, data); err != nil {
		conn.Close()
		return false
	}
	return true
}

// startChat has customer cu ask for a chat and agent ag accept it, and
// returns the conversation. It runs before the traffic goroutine.
func (h *chatHarness) startChat(cu, ag *chatPeer) int64 {
	h.t.Helper()
	cu.mu.Lock()
	conv := cu.conv
	cu.mu.Unlock()
	id := fmt.Sprintf("hello-%d", conv)
	cu.mu.Lock()
	cu.sent[id] = pendingMsg{conv: conv, text: "hello, I need help", at: time.Now()}
	cu.mu.Unlock()
	cu.send(map[string]any{"type": "message", "client_id": id, "text": "hello, I need help"})
	// The offer reaches the agent's node through Redis.
	h.until(fmt.Sprintf("the offer of conversation %d", conv), func() bool {
		ag.mu.Lock()
		defer ag.mu.Unlock()
		return ag.offers[conv]
	})
	ag.send(map[string]any{"type": "accept", "conversation": conv})
	h.until(fmt.Sprintf("the agent to see conversation %d", conv), func() bool {
		ag.mu.Lock()
		defer ag.mu.Unlock()
		return ag.last[conv] >= 2 // the customer's message and "Ann joined the chat."
	})
	return conv
}

// until polls cond for at most 10 s.
func (h *chatHarness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		h.checkViolations()
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pause stops (or restarts) the stream with this prefix from sending.
func (h *chatHarness) pause(prefix string, on bool) {
	for _, s := range h.streams {
		if s.prefix == prefix {
			s.paused.Store(on)
		}
	}
}

func (p *chatPeer) lastSeen(conv int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last[conv]
}

func (h *chatHarness) addStream(p *chatPeer, conv int64, prefix string) {
	h.streams = append(h.streams, &chatStream{p: p, conv: conv, prefix: prefix})
}

// run starts the traffic goroutine and returns the function that stops it
// (idempotent; also called at cleanup).
func (h *chatHarness) run() func() {
	go h.traffic() // ends when stop is closed
	stop := func() {
		h.once.Do(func() {
			close(h.stop)
			<-h.stopped
		})
	}
	h.t.Cleanup(stop)
	return stop
}

func (h *chatHarness) traffic() {
	defer close(h.stopped)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		for _, p := range h.peers {
			p.mu.Lock()
			live := p.live
			p.mu.Unlock()
			if live {
				continue
			}
			if err := p.connect(); err != nil {
				continue // retried at the next tick
			}
			// Resend what was never acked, with its client_id.
			p.mu.Lock()
			var resend []string
			for id := range p.sent {
				resend = append(resend, id)
			}
			pend := maps.Clone(p.sent)
			p.mu.Unlock()
			sort.Strings(resend)
			for _, id := range resend {
				m := pend[id]
				p.send(map[string]any{"type": "message", "conversation": m.conv, "client_id": id, "text": m.text})
			}
		}
		for _, s := range h.streams {
			if s.paused.Load() {
				continue
			}
			s.p.mu.Lock()
			_, inFlight := s.p.sent[s.cur]
			s.p.mu.Unlock()
			if s.cur != "" && inFlight {
				continue // one message in flight per stream
			}
			s.n++
			s.cur = fmt.Sprintf("%s-%d", s.prefix, s.n)
			text := fmt.Sprintf("%s says %d", s.prefix, s.n)
			s.p.mu.Lock()
			s.p.sent[s.cur] = pendingMsg{conv: s.conv, text: text, at: time.Now()}
			s.p.mu.Unlock()
			s.p.send(map[string]any{"type": "message", "conversation": s.conv, "client_id": s.cur, "text": text})
		}
	}
}

// acked is the highest seq acknowledged in conv, to any peer.
func (h *chatHarness) acked(conv int64) int64 {
	var top int64
	for _, p := range h.peers {
		p.mu.Lock()
		for id, seq := range p.acks {
			_ = id
			if seq > top && h.streamConv(p, id) == conv {
				top = seq
			}
		}
		p.mu.Unlock()
	}
	return top
}

// streamConv is the conversation a client_id was sent to.
func (h *chatHarness) streamConv(p *chatPeer, clientID string) int64 {
	for _, s := range h.streams {
		if s.p == p && strings.HasPrefix(clientID, s.prefix+"-") {
			return s.conv
		}
	}
	if conv, ok := strings.CutPrefix(clientID, "hello-"); ok {
		n, _ := strconv.ParseInt(conv, 10, 64)
		return n
	}
	return 0
}

// waitDelivered takes the highest acked seq of each conversation now and
// waits until each of its participants has seen every seq up to it; it
// also fails on any protocol violation a reader recorded.
func (h *chatHarness) waitDelivered(when string, convs map[int64][]*chatPeer, within time.Duration) {
	h.t.Helper()
	targets := map[int64]int64{}
	for conv := range convs {
		targets[conv] = h.acked(conv)
	}
	deadline := time.Now().Add(within)
	for {
		var missing []string
		for conv, peers := range convs {
			for _, p := range peers {
				p.mu.Lock()
				if p.last[conv] < targets[conv] {
					missing = append(missing, fmt.Sprintf("%s has conversation %d up to seq %d of %d", p.name, conv, p.last[conv], targets[conv]))
				}
				p.mu.Unlock()
			}
		}
		h.checkViolations()
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not delivered within %s: %s", when, within, strings.Join(missing, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *chatHarness) checkViolations() {
	h.t.Helper()
	for _, p := range h.peers {
		p.mu.Lock()
		errs := p.errs
		p.errs = nil
		p.mu.Unlock()
		for _, e := range errs {
			h.t.Errorf("%s: %s", p.name, e)
		}
	}
}

// verifyStore compares what the clients saw with the database: every acked
// client_id is stored exactly once with the acked seq, no message is
// pending, and each participant saw exactly the stored seqs.
func (h *chatHarness) verifyStore(path string, convs map[int64][]*chatPeer) {
	h.t.Helper()
	db, err := sqlitedb.Open(context.Background(), path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	acked := 0
	for _, p := range h.peers {
		p.mu.Lock()
		if len(p.sent) > 0 {
			h.t.Errorf("%s: %d messages never acknowledged: %v", p.name, len(p.sent), p.sent)
		}
		acks := maps.Clone(p.acks)
		p.mu.Unlock()
		for id, seq := range acks {
			conv := h.streamConv(p, id)
			rows, err := db.R.Query(`SELECT seq FROM chat_messages WHERE conversation_id = ? AND client_id = ?`, conv, id)
			if err != nil {
				h.t.Fatal(err)
			}
			var seqs []int64
			for rows.Next() {
				var s int64
				if err := rows.Scan(&s); err != nil {
					h.t.Fatal(err)
				}
				seqs = append(seqs, s)
			}
			rows.Close()
			if len(seqs) != 1 || seqs[0] != seq {
				h.t.Errorf("%s: %s acked as seq %d, stored as %v", p.name, id, seq, seqs)
			}
			acked++
		}
	}
	for conv, peers := range convs {
		var last int64
		var n int
		if err := db.R.QueryRow(`SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM chat_messages WHERE conversation_id = ?`, conv).Scan(&last, &n); err != nil {
			h.t.Fatal(err)
		}
		if int64(n) != last {
			h.t.Errorf("conversation %d: %d messages stored, last seq %d", conv, n, last)
		}
		for _, p := range peers {
			p.mu.Lock()
			seen := p.seen[conv]
			var bad []string
			for seq := int64(1); seq <= last; seq++ {
				if seen[seq] != 1 {
					bad = append(bad, fmt.Sprintf("seq %d seen %d times", seq, seen[seq]))
				}
			}
			if int64(len(seen)) != last {
				bad = append(bad, fmt.Sprintf("%d seqs seen, %d stored", len(seen), last))
			}
			p.mu.Unlock()
			if len(bad) > 0 {
				h.t.Errorf("%s, conversation %d: %s", p.name, conv, strings.Join(bad, "; "))
			}
		}
		h.t.Logf("conversation %d: %d messages, all seen exactly once by each participant", conv, last)
	}
	if acked == 0 {
		h.t.Error("no message was acked")
	}
	h.checkViolations()
}
