package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

func TestOrigins(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, origins: []string{"https://Shop.Example"}})
	n.agents[fmt.Sprintf("token-%d", ann.ID)] = ann
	bearer := fmt.Sprintf("Bearer token-%d", ann.ID)
	tests := []struct {
		name   string
		path   string
		header http.Header
		want   int
	}{
		{"widget on the shop", "/ws/chat", http.Header{"Origin": {"https://shop.example"}}, 101},
		{"help center (public URL)", "/ws/chat", http.Header{"Origin": {"HTTP://helpdesk.test"}}, 101},
		{"cross-site page", "/ws/chat", http.Header{"Origin": {"https://evil.example"}}, 403},
		{"look-alike origin", "/ws/chat", http.Header{"Origin": {"https://shop.example.evil.example"}}, 403},
		{"other port", "/ws/chat", http.Header{"Origin": {"https://shop.example:8443"}}, 403},
		{"no origin", "/ws/chat", http.Header{}, 403},
		{"agent from the public URL", "/ws/agent", http.Header{"Origin": {testOrigin}, "Authorization": {bearer}}, 101},
		{"agent from the shop's site", "/ws/agent", http.Header{"Origin": {"https://shop.example"}, "Authorization": {bearer}}, 403},
		{"agent without origin", "/ws/agent", http.Header{"Authorization": {bearer}}, 403},
		{"agent not signed in", "/ws/agent", http.Header{"Origin": {testOrigin}}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dial(t, n.ws+tt.path, tt.header)
			got := 0
			if resp != nil {
				got = resp.StatusCode
			}
			if got != tt.want {
				t.Fatalf("status %d (err %v), want %d", got, err, tt.want)
			}
			if c != nil {
				c.conn.Close()
			}
		})
	}
	// A plain GET (no upgrade) is refused before anything else.
	code, _, _ := httpGet(t, n.base+"/ws/chat", map[string]string{"Origin": "https://shop.example"})
	if code != 426 {
		t.Errorf("plain GET: %d", code)
	}
}

func TestConnectionLimits(t *testing.T) {
	t.Run("a frame over 64 KiB closes with 1009", func(t *testing.T) {
		n := startNode(t, nodeConfig{db: newDB(t)})
		cu := n.customer(t)
		cu.hello("", 0)
		cu.send(fmt.Sprintf(`{"type":"message","client_id":"big","text":%q}`, strings.Repeat("x", 64<<10)))
		if code := cu.closed(); code != fws.CloseMessageTooBig {
			t.Fatalf("close code %d", code)
		}
	})
	t.Run("no hello in time closes with 1008", func(t *testing.T) {
		n := startNode(t, nodeConfig{db: newDB(t), opts: Options{Limits: Limits{HelloTimeout: 200 * time.Millisecond}}})
		cu := n.customer(t)
		start := time.Now()
		if code := cu.closed(); code != fws.ClosePolicyViolation {
			t.Fatalf("close code %d", code)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("closed after %s", el)
		}
		eventually(t, "the connection to be forgotten", func() bool { return n.svc.Connections() == 0 })
	})
	t.Run("excess frames get errors, sustained abuse closes with 1008", func(t *testing.T) {
		n := startNode(t, nodeConfig{db: newDB(t), opts: Options{Limits: Limits{CustomerRate: 1, CustomerBurst: 5, AbuseRate: 0.1, AbuseBurst: 10}}})
		cu := n.customer(t)
		cu.hello("", 0)
		for i := range 30 {
			if err := cu.conn.WriteMessage(fws.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
				break // the server may already have closed
			}
			_ = i
		}
		limited := 0
		var got []string
		for f := range cu.frames {
			got = append(got, f.Type+"/"+f.Code)
			if f.Type == "error" && f.Code == codeRateLimited {
				limited++
			}
		}
		var ce *fws.CloseError
		if !errors.As(cu.err, &ce) || ce.Code != fws.ClosePolicyViolation {
			t.Fatalf("ended with %v", cu.err)
		}
		if limited < 5 {
			t.Errorf("%d rate_limited errors before the close: %v", limited, got)
		}
	})
}

// A customer whose socket does not read is dropped when its send queue
// fills; another tab of the same conversation receives every message in
// order, and the agent never waits.
func TestSlowConsumer(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, opts: Options{Limits: Limits{SendQueue: 16, AgentRate: 1e6, AgentBurst: 1e6, WriteTimeout: 30 * time.Second}}})
	ag := n.agent(t, ann)
	fast := n.customer(t)
	w := fast.hello("", 0)
	fast.say("c1", "hi")
	ag.expect("offer")
	ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	ag.expect("assigned")

	// The slow tab: a raw socket with a tiny receive buffer that reads
	// nothing after the welcome.
	d := fws.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := d.Dial(n.ws+"/ws/chat", http.Header{"Origin": {testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	hello, _ := json.Marshal(map[string]any{"type": "hello", "visitor": w.Visitor})
	if err := slow.WriteMessage(fws.TextMessage, hello); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two customer sockets", func() bool { return n.svc.hub.subscribers(convTopic(w.Conversation)) == 3 })

	// 6.4 MB in all: more than the kernel buffers between the server and
	// the slow tab hold (tcp_wmem allows 4 MB).
	const total = 400
	big := strings.Repeat("🖨", MaxTextLen) // 16 KB of UTF-8 per message
	// The agent waits for every fourth ack, so that its own queue (acks
	// and echoes) stays far from the small limit this test sets.
	start := time.Now()
	for i := range total {
		ag.send(map[string]any{"type": "message", "conversation": w.Conversation, "client_id": fmt.Sprint(i), "text": big})
		if i%4 == 3 {
			ag.expect("ack", func(f frame) bool { return f.ClientID == fmt.Sprint(i) })
		}
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("the agent waited %s for acks", el)
	}
	last := int64(0)
	for last < int64(total)+2 {
		f := fast.expect("message")
		if f.Seq != last+1 {
			t.Fatalf("fast tab got seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
	eventually(t, "the slow tab to be dropped", func() bool { return n.svc.hub.subscribers(convTopic(w.Conversation)) == 2 })
	if got := counterValue(t, n.svc.m.slowConsumers); got != 1 {
		t.Errorf("slow consumer metric = %v", got)
	}
}

func TestShutdownAndGoroutines(t *testing.T) {
	time.Sleep(50 * time.Millisecond)
	before, _ := goroutines()
	// Everything the scenario starts (servers, clients, the database) is
	// cleaned up when the subtest ends; then the count must be back.
	t.Run("scenario", func(t *testing.T) {
		db := newDB(t)
		ann := addAgent(t, db, "Ann")
		n := startNode(t, nodeConfig{db: db, noClose: true})
		ag := n.agent(t, ann)
		var customers []*client
		for i := range 5 {
			cu := n.customer(t)
			w := cu.hello("", 0)
			cu.say("c", fmt.Sprint("hello ", i))
			if i == 0 {
				ag.expect("offer")
				ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
				ag.expect("assigned")
				ag.agentSay(w.Conversation, "a", "hi")
			}
			customers = append(customers, cu)
		}
		customers[4].conn.Close() // one leaves on its own
		eventually(t, "the leaver to be forgotten", func() bool { return n.svc.Connections() == 5 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.svc.Close(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(customers[:4], ag) {
			if code := c.closed(); code != fws.CloseGoingAway {
				t.Errorf("close code %d, want 1001", code)
			}
		}
		if n.svc.Connections() != 0 {
			t.Errorf("%d connections left", n.svc.Connections())
		}
		// New sockets are refused while shut down.
		if c, _, err := dial(t, n.ws+"/ws/chat", http.Header{"Origin": {testOrigin}}); err == nil {
			if code := c.closed(); code != fws.CloseGoingAway {
				t.Errorf("socket after shutdown: close code %d", code)
			}
		}
	})
	if after, stacks := settleGoroutines(before); after > before {
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, stacks)
	}
}

func TestAttachments(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db})
	ag := n.agent(t, ann)
	cu := n.customer(t)
	w := cu.hello("", 0)
	cu.say("c1", "here is a photo")
	ag.expect("offer")
	ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	ag.expect("assigned")
	other := n.customer(t)
	wo := other.hello("", 0)

	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	upload := func(header map[string]string, conv int64, name string, data []byte) (int, attachmentJSON, string) {
		t.Helper()
		return n.upload(t, header, conv, name, data)
	}
	visitor := map[string]string{HeaderVisitorToken: w.Visitor}
	agentH := map[string]string{"Authorization": fmt.Sprintf("Bearer token-%d", ann.ID)}
	tests := []struct {
		name   string
		header map[string]string
		conv   int64
		file   string
		data   []byte
		want   int
	}{
		{"customer's png", visitor, w.Conversation, "../../photo.png", png, 201},
		{"pdf from the agent", agentH, w.Conversation, "invoice.pdf", []byte("%PDF-1.4\n%...."), 201},
		{"plain text", visitor, w.Conversation, "notes.txt", []byte("order 4711\n"), 201},
		{"html is refused whatever its name", visitor, w.Conversation, "photo.png", []byte("<html><script>alert(1)</script></html>"), 400},
		{"executable refused", visitor, w.Conversation, "setup.exe", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), 400},
		{"too large", visitor, w.Conversation, "big.txt", bytes.Repeat([]byte("a"), MaxAttachmentSize+1), 413},
		{"someone else's conversation", map[string]string{HeaderVisitorToken: wo.Visitor}, w.Conversation, "x.png", png, 404},
		{"no credentials", nil, w.Conversation, "x.png", png, 401},
		{"agent not assigned", agentH, wo.Conversation, "x.png", png, 403},
	}
	var ids []int64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a, body := upload(tt.header, tt.conv, tt.file, tt.data)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, body)
			}
			if code == 201 {
				if a.ID == 0 || strings.Contains(a.Name, "/") || a.URL != AttachmentURL(a.ID) {
					t.Fatalf("attachment = %+v", a)
				}
				ids = append(ids, a.ID)
			}
		})
	}
	if len(ids) != 3 {
		t.Fatalf("uploaded %v", ids)
	}
	// A message carries attachments; both sides see them.
	cu.send(map[string]any{"type": "message", "client_id": "c2", "text": "", "attachments": []int64{ids[0]}})
	cu.expect("ack", func(f frame) bool { return f.ClientID == "c2" })
	m := ag.expect("message", func(f frame) bool { return len(f.Attachments) == 1 })
	if m.Attachments[0].Name != "photo.png" || m.Attachments[0].ContentType != "image/png" {
		t.Fatalf("message attachments = %+v", m.Attachments)
	}
	// Another visitor cannot attach someone else's file to their chat.
	other.send(map[string]any{"type": "message", "client_id": "o1", "text": "mine now", "attachments": []int64{ids[0]}})
	if e := other.expect("error"); e.Code != codeNotFound {
		t.Fatalf("foreign attachment: %+v", e)
	}

	url := n.base + AttachmentURL(ids[0])
	code, body, hdr := httpGet(t, url, visitor)
	if code != 200 || !bytes.Equal(body, png) {
		t.Fatalf("download = %d", code)
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(hdr.Get("Content-Disposition"), `attachment; filename="photo.png"`) || hdr.Get("Content-Type") != "image/png" {
		t.Fatalf("headers = %v", hdr)
	}
	if code, _, _ := httpGet(t, url, agentH); code != 200 {
		t.Errorf("agent download: %d", code)
	}
	if code, _, _ := httpGet(t, url, map[string]string{HeaderVisitorToken: wo.Visitor}); code != 404 {
		t.Errorf("other visitor download: %d", code)
	}
	if code, _, _ := httpGet(t, url, nil); code != 401 {
		t.Errorf("anonymous download: %d", code)
	}
}

// An idle connection holds one goroutine (its reader): the writer runs
// only while something is queued, pings included, and comes back for the
// next frame.
func TestIdleConnectionHoldsNoWriter(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, agents: []AgentRef{ann}, opts: Options{Limits: Limits{PingInterval: 50 * time.Millisecond}}})
	n.agent(t, ann) // chat is available: messages are stored and acked
	type idle struct {
		conn  *fws.Conn
		pings atomic.Int32
		msgs  chan frame
	}
	var socks []*idle
	for range 3 {
		conn, _, err := (&fws.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(n.ws+"/ws/chat", http.Header{"Origin": {testOrigin}})
		if err != nil {
			t.Fatal(err)
		}
		s := &idle{conn: conn, msgs: make(chan frame, 16)}
		conn.SetPingHandler(func(data string) error {
			s.pings.Add(1)
			return conn.WriteControl(fws.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				_, data, err := conn.ReadMessage()
				if err != nil {
					return
				}
				f := frame{raw: string(data)}
				if err := json.Unmarshal(data, &f); err != nil {
					t.Errorf("bad frame %q", data)
					return
				}
				s.msgs <- f
			}
		}()
		t.Cleanup(func() { conn.Close(); <-done })
		if err := conn.WriteJSON(map[string]any{"type": "hello", "name": "Idle"}); err != nil {
			t.Fatal(err)
		}
		if f := <-s.msgs; f.Type != "welcome" {
			t.Fatalf("got %q, want welcome", f.Type)
		}
		socks = append(socks, s)
	}
	writers := func() int {
		_, stacks := goroutines()
		return strings.Count(stacks, "chat.(*conn).writeLoop(")
	}
	// Pings start a writer every 50 ms for a moment; between them none runs.
	eventually(t, "no writer goroutine on idle sockets", func() bool { return writers() == 0 })
	for i, s := range socks {
		eventually(t, "three pings", func() bool { return s.pings.Load() >= 3 })
		if err := s.conn.WriteJSON(map[string]any{"type": "message", "client_id": "m1", "text": "still there?"}); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(5 * time.Second)
		for acked := false; !acked; {
			select {
			case f := <-s.msgs:
				acked = f.Type == "ack" && f.ClientID == "m1"
			case <-deadline:
				t.Fatalf("socket %d: no ack after idling", i)
			}
		}
	}
}

// The writer comes and goes with the queue; a frame queued just as it
// leaves must start the next one, never wait for a later frame. Pings
// every millisecond keep writers starting and stopping while each message
// waits for its ack.
func TestWriterHandOffLosesNothing(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, agents: []AgentRef{ann}, opts: Options{Limits: Limits{
		PingInterval: time.Millisecond, CustomerRate: 10000, CustomerBurst: 10000}}})
	n.agent(t, ann)
	cu := n.customer(t)
	cu.hello("", 0)
	for i := range 500 {
		id := fmt.Sprint("m", i)
		cu.send(map[string]any{"type": "message", "client_id": id, "text": "ping-pong " + id})
		deadline := time.After(2 * time.Second)
		for acked := false; !acked; {
			select {
			case f := <-cu.frames:
				acked = f.Type == "ack" && f.ClientID == id // the echo and system messages pass by
			case <-deadline:
				t.Fatalf("message %d: no ack within 2s", i)
			}
		}
	}
}

// upload posts a file to /api/chat/attachments and returns the status, the
// decoded answer and its raw text.
func (n *node) upload(t *testing.T, header map[string]string, conv int64, name string, data []byte) (int, attachmentJSON, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("conversation", fmt.Sprint(conv))
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	h := map[string]string{"Content-Type": mw.FormDataContentType()}
	for k, v := range header {
		h[k] = v
	}
	st, raw, _ := httpDo(t, http.MethodPost, n.base+"/api/chat/attachments", h, &body)
	var a attachmentJSON
	_ = json.Unmarshal(raw, &a)
	return st, a, string(raw)
}

// A customer's uploads are capped per conversation (files and bytes, in
// the same transaction as the insert) and paced per client address; the
// assigned agent is held to neither.
func TestUploadLimits(t *testing.T) {
	db := newDB(t)
	ann := addAgent(t, db, "Ann")
	n := startNode(t, nodeConfig{db: db, handlers: HandlerOptions{UploadsPerMinute: 1000, UploadBurst: 1000}})
	ag := n.agent(t, ann)
	cu := n.customer(t)
	w := cu.hello("", 0)
	cu.say("c1", "photos of the smudges coming")
	ag.expect("offer")
	ag.send(map[string]any{"type": "accept", "conversation": w.Conversation})
	ag.expect("assigned")
	visitor := map[string]string{HeaderVisitorToken: w.Visitor}
	agentH := map[string]string{"Authorization": fmt.Sprintf("Bearer token-%d", ann.ID)}
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)

	for i := range MaxCustomerFiles {
		if st, _, body := n.upload(t, visitor, w.Conversation, fmt.Sprintf("p%d.png", i), png); st != http.StatusCreated {
			t.Fatalf("upload %d: %d %s", i+1, st, body)
		}
	}
	if st, _, body := n.upload(t, visitor, w.Conversation, "one-more.png", png); st != http.StatusTooManyRequests || !strings.Contains(body, "20") {
		t.Errorf("file %d: %d %s, want 429 saying the limit", MaxCustomerFiles+1, st, body)
	}
	if st, _, body := n.upload(t, agentH, w.Conversation, "agent.png", png); st != http.StatusCreated {
		t.Errorf("the agent's upload after the customer's cap: %d %s", st, body)
	}

	// Bytes: checked by the store, so no 50 MiB has to travel here.
	ctx := context.Background()
	c2 := newConv(t, n.svc.store, "Big", "")
	big := bytes.Repeat([]byte{'x'}, MaxAttachmentSize)
	for i := range MaxCustomerBytes / MaxAttachmentSize {
		if _, err := n.svc.store.SaveAttachment(ctx, Attachment{ConversationID: c2.ID, Uploader: string(FromCustomer),
			AttachmentRef: AttachmentRef{Name: "scan.txt", ContentType: "text/plain"}, Data: big, CreatedAt: time.Now()}); err != nil {
			t.Fatalf("file %d within 50 MiB: %v", i+1, err)
		}
	}
	_, err := n.svc.store.SaveAttachment(ctx, Attachment{ConversationID: c2.ID, Uploader: string(FromCustomer),
		AttachmentRef: AttachmentRef{Name: "one-byte.txt", ContentType: "text/plain"}, Data: []byte("x"), CreatedAt: time.Now()})
	if !errors.Is(err, ErrFilesTooLarge) {
		t.Errorf("a byte past 50 MiB: %v, want ErrFilesTooLarge", err)
	}
}

func TestUploadRate(t *testing.T) {
	n := startNode(t, nodeConfig{db: newDB(t), handlers: HandlerOptions{UploadsPerMinute: 1, UploadBurst: 3}})
	cu := n.customer(t)
	w := cu.hello("", 0)
	visitor := map[string]string{HeaderVisitorToken: w.Visitor}
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	for i := range 3 {
		if st, _, body := n.upload(t, visitor, w.Conversation, "p.png", png); st != http.StatusCreated {
			t.Fatalf("upload %d within the burst: %d %s", i+1, st, body)
		}
	}
	if st, _, body := n.upload(t, visitor, w.Conversation, "p.png", png); st != http.StatusTooManyRequests || !strings.Contains(body, "wait a minute") {
		t.Errorf("upload past the burst: %d %s, want 429", st, body)
	}
}
