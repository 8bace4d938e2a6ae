package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/logging"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// The security suite runs against the real program, started in-process on
// a loopback port (startServer), with five principals:
//
//	anonymous   no credentials at all
//	customer A  a chat visitor token (X-Visitor-Token, or the hello frame)
//	customer B  another visitor's token
//	agent       an API token of an agent
//	admin       an API token of an admin
//
// Everything the suite does is logged at debug level into one buffer, and
// the last subtest checks that no secret used along the way (passwords,
// API, session, CSRF, visitor and inbound tokens, the relay password)
// ever reached it.

const (
	secPassword     = "a long enough password for tests"
	secInboundToken = "inbound-SECRET-token-5f1e2d3c4b5a"
	secRelayPass    = "SECRETPW-relay-9a8b7c"
)

// secEnv is the running server and the people using it.
type secEnv struct {
	ts  *testServer
	dir string

	adminTok, agentTok string
	adminID, agentID   int64
	victimEmail        string
	victimID           int64

	// Customers A and B, each chatting: A with the agent, B with the admin.
	custA, custB   *wsClient
	visA, visB     string
	convA, convB   int64
	agentWS, admWS *wsClient
	markerA        string // text only customer A ever sent
	chatAttA       int64  // an attachment of A's conversation

	ticketID  int64 // a ticket from the inbound webhook
	ticketAtt int64 // one of its attachments

	secrets map[string]string // what must never be logged, by what it is
}

func (e *secEnv) ws(path string) string { return wsURL(e.ts.URL, path) }

// secHTTP sends one request and returns the status, headers and body.
func secHTTP(t *testing.T, method, u string, header map[string]string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func bearerHdr(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func visitorHdr(tok string) map[string]string { return map[string]string{"X-Visitor-Token": tok} }

// addAccount adds an agent or admin with secPassword to the data folder.
func addAccount(t *testing.T, dir, email, name, role string) {
	t.Helper()
	if _, _, err := runCmd(t, secPassword+"\n", "agent", "add", "--data", dir, "--email", email, "--name", name, "--role", role, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
}

func createToken(t *testing.T, dir, email string) string {
	t.Helper()
	out, _, err := runCmd(t, "", "token", "create", "--data", dir, "--agent", email, "--name", "security")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func meID(t *testing.T, base, tok string) int64 {
	t.Helper()
	var me struct {
		Agent struct{ ID int64 } `json:"agent"`
	}
	if st := (apiClient{t: t, base: base, token: tok}).do("GET", "/api/auth/me", nil, &me); st != 200 || me.Agent.ID == 0 {
		t.Fatalf("me: %d %+v", st, me)
	}
	return me.Agent.ID
}

// tinyPNG is a real 1×1 PNG.
var tinyPNG = mustB64("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// uploadChat posts a chat attachment as multipart form data.
func uploadChat(t *testing.T, base string, header map[string]string, conv int64, name string, data []byte) (int, []byte) {
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
	st, _, b := secHTTP(t, "POST", base+"/api/chat/attachments", h, &body)
	return st, b
}

// postEmail delivers a raw message through the inbound webhook.
func postEmail(t *testing.T, base, raw string) (int, int64) {
	t.Helper()
	st, _, b := secHTTP(t, "POST", base+"/api/inbound/email", bearerHdr(secInboundToken), strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))
	var res struct {
		TicketID int64 `json:"ticket_id"`
	}
	_ = json.Unmarshal(b, &res)
	return st, res.TicketID
}

// startSecurityEnv starts the server and brings the principals in: the
// agent chats with customer A, the admin with customer B, and a ticket
// with attachments exists.
func startSecurityEnv(t *testing.T) *secEnv {
	t.Helper()
	e := &secEnv{dir: t.TempDir(), victimEmail: "victim@shop.example", secrets: map[string]string{}}
	addAccount(t, e.dir, "ada@shop.example", "Ada Admin", "admin")
	addAccount(t, e.dir, "tess@shop.example", "Tess Agent", "agent")
	addAccount(t, e.dir, e.victimEmail, "Vic Victim", "agent")
	e.adminTok = createToken(t, e.dir, "ada@shop.example")
	e.agentTok = createToken(t, e.dir, "tess@shop.example")
	e.ts = startServer(t, e.dir, nil,
		"--hours", "Mon-Sun 00:00-24:00", "--timezone", "UTC",
		"--inbound-token", secInboundToken,
		"--smtp-relay", "smtp://relayuser:"+secRelayPass+"@127.0.0.1:1",
		"--trusted-proxies", "127.0.0.1",
		"--log-level", "debug")
	e.secrets["password"] = secPassword
	e.secrets["admin API token"] = e.adminTok
	e.secrets["agent API token"] = e.agentTok
	e.secrets["inbound token"] = secInboundToken
	e.secrets["relay password"] = secRelayPass
	e.adminID = meID(t, e.ts.URL, e.adminTok)
	e.agentID = meID(t, e.ts.URL, e.agentTok)
	var agents struct {
		Agents []struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
		} `json:"agents"`
	}
	if st := (apiClient{t: t, base: e.ts.URL, token: e.adminTok}).do("GET", "/api/admin/agents", nil, &agents); st != 200 {
		t.Fatalf("agents: %d", st)
	}
	for _, a := range agents.Agents {
		if a.Email == e.victimEmail {
			e.victimID = a.ID
		}
	}

	origin := http.Header{"Origin": {e.ts.URL}}
	agentHdr := func(tok string) http.Header {
		return http.Header{"Origin": {e.ts.URL}, "Authorization": {"Bearer " + tok}}
	}

	// The agent comes online first and takes customer A's chat.
	e.agentWS = mustDial(t, e.ws("/ws/agent"), agentHdr(e.agentTok))
	e.agentWS.expect("welcome", nil)
	e.custA = mustDial(t, e.ws("/ws/chat"), origin)
	w := e.custA.hello("", "Alice A", "alice@customer.example", 0)
	if !w.ChatAvailable {
		t.Fatal("chat not available with an agent online")
	}
	e.visA, e.convA = w.Visitor, w.Conversation
	e.markerA = fmt.Sprintf("A-private-%d", time.Now().UnixNano())
	e.custA.send(map[string]any{"type": "message", "client_id": "a1", "text": "my order number is " + e.markerA})
	e.custA.expect("ack", func(f wsFrame) bool { return f.ClientID == "a1" })
	e.agentWS.expect("offer", func(f wsFrame) bool { return f.Conversation == e.convA })
	e.agentWS.send(map[string]any{"type": "accept", "conversation": e.convA})
	e.agentWS.expect("assigned", func(f wsFrame) bool { return f.Conversation == e.convA })
	e.custA.expect("assigned", nil)

	// The admin comes online with fewer chats, so B's chat goes to them.
	e.admWS = mustDial(t, e.ws("/ws/agent"), agentHdr(e.adminTok))
	e.admWS.expect("welcome", nil)
	e.custB = mustDial(t, e.ws("/ws/chat"), origin)
	w = e.custB.hello("", "Bob B", "bob@customer.example", 0)
	e.visB, e.convB = w.Visitor, w.Conversation
	if e.convB == e.convA || e.visB == e.visA {
		t.Fatalf("customers share a conversation or token: %d/%d", e.convA, e.convB)
	}
	e.custB.send(map[string]any{"type": "message", "client_id": "b1", "text": "hello from B"})
	e.custB.expect("ack", func(f wsFrame) bool { return f.ClientID == "b1" })
	e.admWS.expect("offer", func(f wsFrame) bool { return f.Conversation == e.convB })
	e.admWS.send(map[string]any{"type": "accept", "conversation": e.convB})
	e.admWS.expect("assigned", func(f wsFrame) bool { return f.Conversation == e.convB })
	e.custB.expect("assigned", nil)
	e.secrets["visitor token A"] = e.visA
	e.secrets["visitor token B"] = e.visB

	// Customer A shares a file in their chat.
	st, body := uploadChat(t, e.ts.URL, visitorHdr(e.visA), e.convA, "receipt.png", tinyPNG)
	var att struct{ ID int64 }
	if st != 201 || json.Unmarshal(body, &att) != nil || att.ID == 0 {
		t.Fatalf("A's upload: %d %s", st, body)
	}
	e.chatAttA = att.ID

	// A ticket with an attachment, through the webhook.
	st, e.ticketID = postEmail(t, e.ts.URL, `From: Carla <carla@customer.example>
To: support@example.com
Subject: Photo of the damaged box
Message-ID: <sec-setup-1@customer.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

See the photo.
--b1
Content-Type: image/png; name="box.png"
Content-Disposition: attachment; filename="box.png"
Content-Transfer-Encoding: base64

`+base64.StdEncoding.EncodeToString(tinyPNG)+`
--b1--
`)
	if st != 202 || e.ticketID == 0 {
		t.Fatalf("webhook: %d", st)
	}
	e.ticketAtt = ticketAttachments(t, e, e.ticketID)["box.png"]
	if e.ticketAtt == 0 {
		t.Fatal("the ticket's attachment is not listed")
	}
	return e
}

type ticketMsgJSON struct {
	Kind        string `json:"kind"`
	Text        string `json:"text"`
	HTML        string `json:"html"`
	Attachments []struct {
		ID          int64  `json:"id"`
		Filename    string `json:"filename"`
		ContentType string `json:"content_type"`
		URL         string `json:"url"`
	} `json:"attachments"`
}

func ticketMessages(t *testing.T, e *secEnv, id int64) []ticketMsgJSON {
	t.Helper()
	var tk struct {
		Messages []ticketMsgJSON `json:"messages"`
	}
	if st := (apiClient{t: t, base: e.ts.URL, token: e.agentTok}).do("GET", fmt.Sprintf("/api/tickets/%d", id), nil, &tk); st != 200 {
		t.Fatalf("ticket %d: %d", id, st)
	}
	return tk.Messages
}

// ticketAttachments maps a ticket's attachment file names to their ids.
func ticketAttachments(t *testing.T, e *secEnv, id int64) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, m := range ticketMessages(t, e, id) {
		for _, a := range m.Attachments {
			out[a.Filename] = a.ID
		}
	}
	return out
}

// chatConversation reads a conversation through the agents' API.
type chatConvJSON struct {
	ID              int64  `json:"id"`
	Status          string `json:"status"`
	AgentID         int64  `json:"agent_id"`
	CustomerEmail   string `json:"customer_email"`
	LastSeq         int64  `json:"last_seq"`
	CustomerReadSeq int64  `json:"customer_read_seq"`
	AgentReadSeq    int64  `json:"agent_read_seq"`
	ArticleOpened   bool   `json:"article_opened"`
	Rating          int    `json:"rating"`
	TicketID        int64  `json:"ticket_id"`
	Messages        []struct {
		Seq  int64  `json:"seq"`
		From string `json:"from"`
		Text string `json:"text"`
	} `json:"messages"`
}

func (e *secEnv) conversation(t *testing.T, id int64) chatConvJSON {
	t.Helper()
	var cv chatConvJSON
	if st := (apiClient{t: t, base: e.ts.URL, token: e.adminTok}).do("GET", fmt.Sprintf("/api/chat/conversations/%d", id), nil, &cv); st != 200 {
		t.Fatalf("conversation %d: %d", id, st)
	}
	return cv
}

func agentsOnline(t *testing.T, base string) int {
	t.Helper()
	var st struct {
		AgentsOnline int `json:"agents_online"`
	}
	getJSON(t, base+"/api/status", 200, &st)
	return st.AgentsOnline
}

func TestSecurity(t *testing.T) {
	e := startSecurityEnv(t)
	t.Run("history and attachments are the visitor's own", e.testVisitorIsolation)
	t.Run("customer socket cannot reach another conversation", e.testCustomerFrames)
	t.Run("agents act only on their own chats", e.testAgentFrames)
	t.Run("cross-site websockets are refused before the upgrade", e.testCrossSiteSockets)
	t.Run("oversized frames and bodies", e.testOversized)
	t.Run("parallel sign-in guessing", e.testSignInGuessing)
	t.Run("script in email HTML", e.testEmailXSS)
	t.Run("attachment type confusion", e.testAttachmentTypes)
	t.Run("authorization matrix over every route", e.testRouteMatrix)
	t.Run("secrets never logged", e.testSecretsNotLogged)
}

// --- visitor isolation over HTTP ---

func (e *secEnv) testVisitorIsolation(t *testing.T) {
	type history struct {
		Conversations []struct {
			ID       int64 `json:"id"`
			Messages []struct {
				Conversation int64  `json:"conversation"`
				Text         string `json:"text"`
			} `json:"messages"`
		} `json:"conversations"`
	}
	read := func(h map[string]string) (int, history, string) {
		st, _, b := secHTTP(t, "GET", e.ts.URL+"/api/chat/history", h, nil)
		var out history
		_ = json.Unmarshal(b, &out)
		return st, out, string(b)
	}
	st, hA, _ := read(visitorHdr(e.visA))
	if st != 200 || len(hA.Conversations) != 1 || hA.Conversations[0].ID != e.convA {
		t.Fatalf("A's history: %d %+v", st, hA)
	}
	st, hB, rawB := read(visitorHdr(e.visB))
	if st != 200 {
		t.Fatalf("B's history: %d", st)
	}
	for _, c := range hB.Conversations {
		if c.ID == e.convA {
			t.Errorf("B's history lists A's conversation %d", e.convA)
		}
		for _, m := range c.Messages {
			if m.Conversation == e.convA {
				t.Errorf("B's history carries a message of A's conversation: %+v", m)
			}
		}
	}
	if strings.Contains(rawB, e.markerA) {
		t.Errorf("B's history contains A's message text")
	}
	for name, h := range map[string]map[string]string{
		"anonymous": nil, "unknown token": visitorHdr("not-a-real-visitor-token"),
		"agent (no visitor token)": bearerHdr(e.agentTok),
	} {
		if st, _, b := read(h); st != 401 || strings.Contains(b, e.markerA) {
			t.Errorf("history as %s: %d %s, want 401", name, st, b)
		}
	}

	// A's attachment: A and any agent may download it; B and strangers not.
	attURL := fmt.Sprintf("%s/api/chat/attachments/%d", e.ts.URL, e.chatAttA)
	for _, tt := range []struct {
		who  string
		h    map[string]string
		want int
	}{
		{"customer A", visitorHdr(e.visA), 200},
		{"customer B", visitorHdr(e.visB), 404},
		{"anonymous", nil, 401},
		{"unknown visitor", visitorHdr("nope"), 401},
		{"agent", bearerHdr(e.agentTok), 200},
		{"admin", bearerHdr(e.adminTok), 200},
	} {
		st, _, body := secHTTP(t, "GET", attURL, tt.h, nil)
		if st != tt.want {
			t.Errorf("A's attachment as %s: %d, want %d", tt.who, st, tt.want)
		}
		if st == 200 && !bytes.Equal(body, tinyPNG) {
			t.Errorf("A's attachment as %s: wrong content", tt.who)
		}
		if st != 200 && bytes.Equal(body, tinyPNG) {
			t.Errorf("A's attachment as %s: refused but the content was sent", tt.who)
		}
	}
	// B cannot add a file to A's conversation.
	if st, b := uploadChat(t, e.ts.URL, visitorHdr(e.visB), e.convA, "x.png", tinyPNG); st != 404 {
		t.Errorf("B uploads into A's conversation: %d %s, want 404", st, b)
	}
	if st, b := uploadChat(t, e.ts.URL, nil, e.convA, "x.png", tinyPNG); st != 401 {
		t.Errorf("anonymous upload into A's conversation: %d %s, want 401", st, b)
	}
	// The agent of another chat may not upload into it (only the assigned one).
	if st, b := uploadChat(t, e.ts.URL, bearerHdr(e.adminTok), e.convA, "x.png", tinyPNG); st != 403 {
		t.Errorf("admin (not assigned) uploads into A's conversation: %d %s, want 403", st, b)
	}
	// A ticket attachment is for agents; a visitor token means nothing there.
	tURL := fmt.Sprintf("%s/api/tickets/%d/attachments/%d", e.ts.URL, e.ticketID, e.ticketAtt)
	for who, h := range map[string]map[string]string{"anonymous": nil, "customer A": visitorHdr(e.visA), "customer B": visitorHdr(e.visB)} {
		if st, _, _ := secHTTP(t, "GET", tURL, h, nil); st != 401 {
			t.Errorf("ticket attachment as %s: %d, want 401", who, st)
		}
	}
}

// --- customer frames ---

// customerFrames are every frame type a customer socket knows, each
// naming A's conversation where a field can carry one.
func (e *secEnv) customerFrames() []map[string]any {
	a := e.convA
	return []map[string]any{
		{"type": "message", "conversation": a, "client_id": "intrude-1", "text": "B writes into A"},
		{"type": "typing", "conversation": a, "text": "typing into A"},
		{"type": "read", "conversation": a, "seq": 999},
		{"type": "rating", "conversation": a, "score": 1, "comment": "B rates A's chat"},
		{"type": "transcript", "conversation": a, "email": "attacker@evil.example"},
		{"type": "leave_message", "conversation": a, "name": "Bob", "email": "bob@customer.example", "text": "left by B", "client_id": "lm-1"},
		{"type": "article_opened", "conversation": a, "slug": "track-my-order"},
		{"type": "sync", "conversation": a, "after_seq": 0},
	}
}

// agentOnlyFrames are the agent socket's own frame types, aimed at A's
// conversation.
func (e *secEnv) agentOnlyFrames() []map[string]any {
	a := e.convA
	return []map[string]any{
		{"type": "status", "status": "offline"},
		{"type": "accept", "conversation": a},
		{"type": "decline", "conversation": a},
		{"type": "transfer", "conversation": a, "queue": true},
		{"type": "transfer", "conversation": a, "to_agent_id": e.adminID},
	}
}

func (e *secEnv) testCustomerFrames(t *testing.T) {
	before := e.conversation(t, e.convA)
	online := agentsOnline(t, e.ts.URL)

	// Anonymous: before hello every frame, agent frames included, is
	// refused; a hello naming A's conversation gets a fresh one.
	anon := mustDial(t, e.ws("/ws/chat"), http.Header{"Origin": {e.ts.URL}})
	for _, f := range append(e.customerFrames(), e.agentOnlyFrames()...) {
		anon.send(f)
		if got := anon.expect("error", nil); got.Code != "hello_required" {
			t.Errorf("anonymous %s before hello: %s", f["type"], got.raw)
		}
	}
	for _, v := range []string{"", "forged-visitor-token", e.visA[:len(e.visA)-1] + "x"} {
		c := mustDial(t, e.ws("/ws/chat"), http.Header{"Origin": {e.ts.URL}})
		c.send(map[string]any{"type": "hello", "visitor": v, "conversation": e.convA, "after_seq": 0})
		w := c.expect("welcome", nil)
		if w.Conversation == e.convA || w.Visitor == e.visA {
			t.Errorf("hello with visitor %q and A's conversation id resumed A's chat: %s", v, w.raw)
		}
		for _, f := range c.roundTrip() {
			if f.Conversation == e.convA || strings.Contains(f.raw, e.markerA) {
				t.Errorf("a stranger got A's frame: %s", f.raw)
			}
		}
	}

	// Customer B: every frame acts on B's own conversation, whatever
	// conversation it names, except rating and transcript, which may name
	// one of the visitor's own earlier chats and are refused (not_found)
	// for anyone else's; agent-only frames are unknown here.
	b := e.custB
	// Customers may send 5 frames a second (bursts of 20): pace the
	// attempts so that none is merely rate limited.
	pace := func() { time.Sleep(150 * time.Millisecond) }
	for _, f := range e.agentOnlyFrames() {
		pace()
		b.send(f)
		if got := b.expect("error", nil); got.Code != "unknown_type" {
			t.Errorf("customer sends %v: %s, want unknown_type", f, got.raw)
		}
	}
	e.custA.send(map[string]any{"type": "transfer", "conversation": e.convA, "queue": true})
	if got := e.custA.expect("error", nil); got.Code != "unknown_type" {
		t.Errorf("customer A transfers own chat: %s", got.raw)
	}
	for _, f := range e.customerFrames() {
		pace()
		b.send(f)
		for _, got := range b.roundTrip() {
			if got.Conversation == e.convA || strings.Contains(got.raw, e.markerA) {
				t.Errorf("B's %s reached A's conversation: %s", f["type"], got.raw)
			}
			if got.Type == "error" && got.Code == "internal" {
				t.Errorf("B's %s: %s", f["type"], got.raw)
			}
			if got.Type == "transcript_sent" && got.Email != "bob@customer.example" {
				t.Errorf("transcript went to %q", got.Email)
			}
			if (f["type"] == "rating" || f["type"] == "transcript") && (got.Type != "error" || got.Code != "not_found") {
				t.Errorf("B's %s naming A's chat: %s, want a not_found error", f["type"], got.raw)
			}
		}
	}
	// A second hello, even with A's own token, does not switch B's socket
	// over to A's conversation.
	pace()
	b.send(map[string]any{"type": "hello", "visitor": e.visA, "conversation": e.convA})
	if got := b.expect("error", nil); got.Code != "bad_frame" {
		t.Errorf("second hello with A's token: %s, want bad_frame", got.raw)
	}
	for _, f := range b.roundTrip() {
		if f.Conversation == e.convA || strings.Contains(f.raw, e.markerA) {
			t.Errorf("B's second hello reached A's conversation: %s", f.raw)
		}
	}
	// Customer A and A's agent saw nothing of B's frames.
	for who, c := range map[string]*wsClient{"customer A": e.custA, "A's agent": e.agentWS} {
		for _, f := range c.roundTrip() {
			if f.Conversation == e.convB || strings.Contains(f.raw, "B writes into A") || strings.Contains(f.raw, "typing into A") {
				t.Errorf("%s got B's frame: %s", who, f.raw)
			}
		}
	}
	// Closing, last: it ends B's chat, not A's.
	b.send(map[string]any{"type": "close", "conversation": e.convA})
	if got := b.expect("ended", nil); got.Conversation != e.convB {
		t.Errorf("B's close ended conversation %d", got.Conversation)
	}

	after := e.conversation(t, e.convA)
	if after.Status != "active" || after.AgentID != e.agentID || after.LastSeq != before.LastSeq ||
		after.CustomerReadSeq != before.CustomerReadSeq || after.Rating != before.Rating ||
		after.ArticleOpened != before.ArticleOpened || after.TicketID != before.TicketID ||
		after.CustomerEmail != before.CustomerEmail {
		t.Errorf("A's conversation changed:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, m := range after.Messages {
		if strings.Contains(m.Text, "B writes into A") || strings.Contains(m.Text, "left by B") {
			t.Errorf("A's conversation holds B's text: %+v", m)
		}
	}
	if n := agentsOnline(t, e.ts.URL); n != online {
		t.Errorf("agents online went from %d to %d after customers sent status frames", online, n)
	}
	bc := e.conversation(t, e.convB)
	if bc.Status != "closed" || bc.Rating != 0 {
		t.Errorf("B's own conversation: %+v (want closed, not rated: the rating named A's)", bc)
	}
}

// --- agent frames ---

func (e *secEnv) testAgentFrames(t *testing.T) {
	// A fresh chat for the admin, so the agent has someone else's active
	// chat to aim at (B's ended in the previous subtest).
	c := mustDial(t, e.ws("/ws/chat"), http.Header{"Origin": {e.ts.URL}})
	w := c.hello("", "Carl C", "carl@customer.example", 0)
	convC := w.Conversation
	c.send(map[string]any{"type": "message", "client_id": "c1", "text": "hi, Carl here"})
	c.expect("ack", nil)
	// Routing offers it to whoever has fewer chats: the admin (0) over the
	// agent (1).
	e.admWS.expect("offer", func(f wsFrame) bool { return f.Conversation == convC })
	e.admWS.send(map[string]any{"type": "accept", "conversation": convC})
	e.admWS.expect("assigned", func(f wsFrame) bool { return f.Conversation == convC })
	c.expect("assigned", nil)
	// What the customers have been sent so far is not the attack's doing.
	c.roundTrip()
	e.custA.roundTrip()

	aimAt := func(conv int64, other int64) []map[string]any {
		return []map[string]any{
			{"type": "message", "conversation": conv, "client_id": "x1", "text": "not my chat"},
			{"type": "typing", "conversation": conv},
			{"type": "read", "conversation": conv, "seq": 999},
			{"type": "sync", "conversation": conv, "after_seq": 0},
			{"type": "close", "conversation": conv},
			{"type": "transfer", "conversation": conv, "queue": true},
			{"type": "transfer", "conversation": conv, "to_agent_id": other},
			{"type": "accept", "conversation": conv},
			{"type": "decline", "conversation": conv},
			// Customer-only frames are unknown on an agent socket.
			{"type": "hello", "visitor": e.visA, "conversation": conv},
			{"type": "rating", "conversation": conv, "score": 1},
			{"type": "transcript", "conversation": conv, "email": "attacker@evil.example"},
			{"type": "leave_message", "conversation": conv, "name": "X", "email": "x@evil.example", "text": "x"},
			{"type": "article_opened", "conversation": conv, "slug": "track-my-order"},
			{"type": "status", "status": "superuser"},
		}
	}
	for _, tt := range []struct {
		who   string
		ws    *wsClient
		conv  int64 // someone else's active chat
		other int64
	}{
		{"agent on the admin's chat", e.agentWS, convC, e.adminID},
		{"admin on the agent's chat", e.admWS, e.convA, e.agentID},
	} {
		before := e.conversation(t, tt.conv)
		for _, f := range aimAt(tt.conv, tt.other) {
			tt.ws.send(f)
			got := tt.ws.roundTrip()
			var errs []string
			for _, g := range got {
				switch {
				case g.Type == "error":
					errs = append(errs, g.Code)
				case g.Conversation == tt.conv && g.Type != "typing":
					t.Errorf("%s: %s answered with %s", tt.who, f["type"], g.raw)
				}
			}
			want := map[string]string{"hello": "unknown_type", "rating": "unknown_type", "transcript": "unknown_type",
				"leave_message": "unknown_type", "article_opened": "unknown_type", "status": "invalid",
				"accept": "offer_gone", "decline": "offer_gone"}[f["type"].(string)]
			if want == "" {
				want = "not_assigned"
			}
			if len(errs) != 1 || errs[0] != want {
				t.Errorf("%s: %v got errors %v, want [%s]", tt.who, f, errs, want)
			}
		}
		after := e.conversation(t, tt.conv)
		if after.Status != "active" || after.AgentID != before.AgentID || after.LastSeq != before.LastSeq ||
			after.AgentReadSeq != before.AgentReadSeq || len(after.Messages) != len(before.Messages) {
			t.Errorf("%s changed the conversation:\nbefore %+v\nafter  %+v", tt.who, before, after)
		}
	}
	// The customers saw nothing of it.
	for _, cu := range []*wsClient{e.custA, c} {
		for _, f := range cu.roundTrip() {
			if f.Type == "message" || f.Type == "ended" || f.Type == "assigned" || f.Type == "typing" {
				t.Errorf("customer got %s", f.raw)
			}
		}
	}

	// Nobody but an agent opens the agent socket.
	for name, h := range map[string]http.Header{
		"anonymous":             {"Origin": {e.ts.URL}},
		"customer A's token":    {"Origin": {e.ts.URL}, "X-Visitor-Token": {e.visA}},
		"visitor as bearer":     {"Origin": {e.ts.URL}, "Authorization": {"Bearer " + e.visA}},
		"revoked-looking token": {"Origin": {e.ts.URL}, "Authorization": {"Bearer hd_notarealtoken"}},
		"inbound token":         {"Origin": {e.ts.URL}, "Authorization": {"Bearer " + secInboundToken}},
	} {
		if _, resp, err := wsDial(t, e.ws("/ws/agent"), h); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("/ws/agent as %s: %v, want 401", name, statusOf(resp))
		}
	}
}

func statusOf(resp *http.Response) any {
	if resp == nil {
		return "no HTTP answer"
	}
	return resp.StatusCode
}

// --- cross-site websockets ---

func (e *secEnv) testCrossSiteSockets(t *testing.T) {
	jar := cookieLogin(t, e.ts.URL, "tess@shop.example", secPassword, "")
	cookie := jar.cookie
	e.secrets["session cookie"] = cookie.Value
	e.secrets["csrf token"] = jar.csrf
	cookieHdr := cookie.Name + "=" + cookie.Value
	host := strings.TrimPrefix(e.ts.URL, "http://")
	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		want   int
	}{
		{"chat from evil.example", "/ws/chat", http.Header{"Origin": {"https://evil.example"}}, 403},
		{"chat without origin", "/ws/chat", http.Header{}, 403},
		{"chat from the null origin", "/ws/chat", http.Header{"Origin": {"null"}}, 403},
		{"chat from a look-alike", "/ws/chat", http.Header{"Origin": {"http://" + host + ".evil.example"}}, 403},
		{"chat from the site itself", "/ws/chat", http.Header{"Origin": {e.ts.URL}}, 101},
		{"agent with cookie from evil.example", "/ws/agent", http.Header{"Origin": {"https://evil.example"}, "Cookie": {cookieHdr}}, 403},
		{"agent with cookie, no origin", "/ws/agent", http.Header{"Cookie": {cookieHdr}}, 403},
		{"agent with cookie from https of the same host", "/ws/agent", http.Header{"Origin": {"https://" + host}, "Cookie": {cookieHdr}}, 403},
		{"agent with token from evil.example", "/ws/agent", http.Header{"Origin": {"https://evil.example"}, "Authorization": {"Bearer " + e.agentTok}}, 403},
		{"agent with cookie from the site", "/ws/agent", http.Header{"Origin": {e.ts.URL}, "Cookie": {cookieHdr}}, 101},
	} {
		c, resp, err := wsDial(t, e.ws(tt.path), tt.header)
		got := 0
		if resp != nil {
			got = resp.StatusCode
		}
		if got != tt.want {
			t.Errorf("%s: HTTP %d (%v), want %d", tt.name, got, err, tt.want)
		}
		if c != nil {
			c.conn.Close()
		}
		if got == 403 && resp != nil && resp.Header.Get("Upgrade") != "" {
			t.Errorf("%s: refused but upgraded", tt.name)
		}
	}
}

type cookieSession struct {
	cookie *http.Cookie
	csrf   string
}

// login signs in with email and password and returns the session cookie
// and CSRF token; xff, when set, is sent as X-Forwarded-For.
func cookieLogin(t *testing.T, base, email, password, xff string) cookieSession {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest("POST", base+"/api/auth/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		t.Fatalf("login %s: %d", email, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			return cookieSession{cookie: c, csrf: out.CSRF}
		}
	}
	t.Fatal("login set no session cookie")
	return cookieSession{}
}

// --- oversized input ---

func (e *secEnv) testOversized(t *testing.T) {
	t.Run("frames over 64 KiB close with 1009", func(t *testing.T) {
		big := strings.Repeat("x", 64<<10)
		cu := mustDial(t, e.ws("/ws/chat"), http.Header{"Origin": {e.ts.URL}})
		cu.hello("", "", "", 0)
		cu.send(map[string]any{"type": "message", "client_id": "big", "text": big})
		if code := cu.closeCode(); code != fws.CloseMessageTooBig {
			t.Errorf("customer: close code %d, want 1009", code)
		}
		// Before hello too.
		cu = mustDial(t, e.ws("/ws/chat"), http.Header{"Origin": {e.ts.URL}})
		cu.send(map[string]any{"type": "hello", "name": big})
		if code := cu.closeCode(); code != fws.CloseMessageTooBig {
			t.Errorf("customer before hello: close code %d, want 1009", code)
		}
		ag := mustDial(t, e.ws("/ws/agent"), http.Header{"Origin": {e.ts.URL}, "Authorization": {"Bearer " + e.agentTok}})
		ag.expect("welcome", nil)
		ag.send(map[string]any{"type": "message", "conversation": e.convA, "client_id": "big", "text": big})
		if code := ag.closeCode(); code != fws.CloseMessageTooBig {
			t.Errorf("agent: close code %d, want 1009", code)
		}
		// A frame just under the limit is an ordinary (invalid) message.
		cu = mustDial(t, e.ws("/ws/chat"), http.Header{"Origin": {e.ts.URL}})
		cu.hello("", "", "", 0)
		cu.send(map[string]any{"type": "message", "client_id": "almost", "text": strings.Repeat("x", 60<<10)})
		if f := cu.expect("error", nil); f.Code != "invalid" {
			t.Errorf("60 KiB frame: %s", f.raw)
		}
		if n := len(e.conversation(t, e.convA).Messages); n == 0 {
			t.Error("A's conversation lost its messages")
		}
	})

	t.Run("JSON bodies over 1 MiB are 413", func(t *testing.T) {
		huge := `{"text":"` + strings.Repeat("a", 1<<20) + `"}`
		for _, tt := range []struct {
			name, method, path string
			h                  map[string]string
		}{
			{"sign-in (anonymous)", "POST", "/api/auth/login", nil},
			{"article feedback (anonymous)", "POST", "/api/kb/articles/track-my-order/feedback", nil},
			{"ticket note (agent)", "POST", fmt.Sprintf("/api/tickets/%d/notes", e.ticketID), bearerHdr(e.agentTok)},
			{"ticket reply (agent)", "POST", fmt.Sprintf("/api/tickets/%d/replies", e.ticketID), bearerHdr(e.agentTok)},
			{"canned (agent)", "POST", "/api/canned", bearerHdr(e.agentTok)},
			{"article (admin)", "POST", "/api/kb/articles", bearerHdr(e.adminTok)},
		} {
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range tt.h {
				h[k] = v
			}
			st, _, b := secHTTP(t, tt.method, e.ts.URL+tt.path, h, strings.NewReader(huge))
			if st != 413 || !json.Valid(b) {
				t.Errorf("%s: %d %.200s, want 413 with a JSON error", tt.name, st, b)
			}
		}
	})

	t.Run("raw email over 25 MiB is 413", func(t *testing.T) {
		head := "From: big@customer.example\r\nTo: support@example.com\r\nSubject: big\r\nMessage-ID: <big-1@customer.example>\r\n\r\n"
		raw := head + strings.Repeat("0123456789abcdef\r\n", (25<<20)/18+1024)
		st, _, b := secHTTP(t, "POST", e.ts.URL+"/api/inbound/email", bearerHdr(secInboundToken), strings.NewReader(raw))
		if st != 413 || !strings.Contains(string(b), "25 MiB") {
			t.Errorf("25 MiB + 1 KiB email: %d %.200s, want 413", st, b)
		}
		// Past the server's 26 MiB body limit the answer comes from the
		// headers alone: no body is sent at all.
		st, b = rawRequestHeadersOnly(t, e.ts.URL, "POST", "/api/inbound/email", 27<<20,
			"Authorization: Bearer "+secInboundToken)
		if st != 413 {
			t.Errorf("27 MiB announced: %d %.200s, want 413", st, b)
		}
	})

	t.Run("attachments over 10 MiB are 413", func(t *testing.T) {
		big := append(bytes.Clone(tinyPNG), make([]byte, 10<<20)...)
		if st, b := uploadChat(t, e.ts.URL, visitorHdr(e.visA), e.convA, "big.png", big); st != 413 {
			t.Errorf("10 MiB + PNG upload: %d %.200s, want 413", st, b)
		}
		st, b := rawRequestHeadersOnly(t, e.ts.URL, "POST", "/api/chat/attachments", 30<<20,
			"X-Visitor-Token: "+e.visA, "Content-Type: multipart/form-data; boundary=x")
		if st != 413 {
			t.Errorf("30 MiB upload announced: %d %.200s, want 413", st, b)
		}
	})
}

// rawRequestHeadersOnly sends a request line and headers announcing a body
// of n bytes, sends no body, and reads the answer.
func rawRequestHeadersOnly(t *testing.T, base, method, path string, n int, headers ...string) (int, []byte) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, u.Host, n)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s with %d bytes announced: %v", method, path, n, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, body
}

// --- sign-in guessing ---

func (e *secEnv) testSignInGuessing(t *testing.T) {
	const attempts = 50
	// guess makes attempts parallel sign-ins with a wrong password, each
	// from its own client address (through the trusted proxy), so the
	// per-address rate limit never applies and only the account lockout
	// stands between the guesses and the password check.
	guess := func(email string, net byte) map[string]int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		out := map[string]int{}
		start := make(chan struct{})
		for i := range attempts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				body := fmt.Sprintf(`{"email":%q,"password":"wrong guess number %d"}`, email, i)
				req, _ := http.NewRequest("POST", e.ts.URL+"/api/auth/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", net, i/250, i%250+1))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				out[fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		return out
	}
	start := time.Now()
	known := guess(e.victimEmail, 1)
	unknown := guess("nobody-here@shop.example", 2)
	t.Logf("%d parallel guesses twice in %s: %v", attempts, time.Since(start).Round(time.Millisecond), known)

	// 4 failures answer 401, the fifth locks (429), and every other
	// attempt, however concurrent, is refused by the lock.
	const bad, locked = `401 {"error":"invalid email or password"}`, `429 {"error":"too many sign-in attempts; try again later"}`
	want := map[string]int{bad: auth.DefaultMaxFailures - 1, locked: attempts - auth.DefaultMaxFailures + 1}
	if fmt.Sprint(known) != fmt.Sprint(want) {
		t.Errorf("guesses at an existing account: %v, want %v", known, want)
	}
	if fmt.Sprint(unknown) != fmt.Sprint(known) {
		t.Errorf("an unknown email answers differently from a known one:\nknown   %v\nunknown %v", known, unknown)
	}

	// The right password is refused too while the lock holds, from an
	// address that never guessed, with the same answer.
	b, _ := json.Marshal(map[string]string{"email": e.victimEmail, "password": secPassword})
	st, _, body := secHTTP(t, "POST", e.ts.URL+"/api/auth/login",
		map[string]string{"Content-Type": "application/json", "X-Forwarded-For": "192.0.2.77"}, bytes.NewReader(b))
	if got := fmt.Sprintf("%d %s", st, bytes.TrimSpace(body)); got != locked {
		t.Errorf("right password while locked: %s", got)
	}

	// Exactly one lockout was recorded for the account.
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
			Target string `json:"target"`
		} `json:"entries"`
	}
	if st := (apiClient{t: t, base: e.ts.URL, token: e.adminTok}).do("GET", "/api/admin/audit?limit=200", nil, &audit); st != 200 {
		t.Fatalf("audit: %d", st)
	}
	lockouts := 0
	for _, en := range audit.Entries {
		if en.Action == "lockout" && en.Target == e.victimEmail {
			lockouts++
		}
	}
	if lockouts != 1 {
		t.Errorf("%d lockout entries for %s, want 1", lockouts, e.victimEmail)
	}

	// The lock is in the shared database and ends on time: a process
	// whose clock is 14 minutes on still refuses the right password, one
	// whose clock is past the 15 minutes lets it in.
	db, err := sqlitedb.Open(context.Background(), filepath.Join(e.dir, "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		ahead time.Duration
		ok    bool
	}{{14 * time.Minute, false}, {auth.DefaultLockoutDuration + time.Minute, true}} {
		now := time.Now().Add(tt.ahead)
		svc := auth.New(db, auth.Options{Now: func() time.Time { return now }, Logger: logging.New(io.Discard, "error")})
		_, err := svc.Login(context.Background(), e.victimEmail, secPassword, "192.0.2.78")
		if (err == nil) != tt.ok {
			t.Errorf("right password %s later: err %v, want success %v", tt.ahead, err, tt.ok)
		}
	}
}

// --- HTML email ---

// unsafeHTML lists what in s a browser could run: elements that hold or
// load script, event-handler and style attributes, and URLs with a
// script-capable scheme. It parses s as a browser would (entities decoded),
// so escaped text that merely mentions a tag does not count.
func unsafeHTML(s string) []string {
	var out []string
	low := strings.ToLower(s)
	for _, tag := range []string{"<script", "<svg", "<math", "<iframe", "<frame", "<object", "<embed", "<applet",
		"<form", "<base", "<meta", "<link", "<style", "<template"} {
		if strings.Contains(low, tag) {
			out = append(out, "contains "+tag)
		}
	}
	nodes, err := html.ParseFragment(strings.NewReader(s), &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body})
	if err != nil {
		return append(out, "does not parse: "+err.Error())
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				val := strings.Map(func(r rune) rune {
					if r <= ' ' || r == 0x7f {
						return -1
					}
					return r
				}, strings.ToLower(a.Val))
				switch {
				case strings.HasPrefix(key, "on"), key == "style", key == "srcdoc", key == "formaction":
					out = append(out, fmt.Sprintf("<%s %s=%q>", n.Data, a.Key, a.Val))
				case strings.HasPrefix(val, "javascript:"), strings.HasPrefix(val, "vbscript:"),
					strings.HasPrefix(val, "data:") && key != "alt" && key != "title":
					out = append(out, fmt.Sprintf("<%s %s=%q>", n.Data, a.Key, a.Val))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return out
}

func (e *secEnv) testEmailXSS(t *testing.T) {
	html := `<p>Hello, my order is late.</p>
<script>alert('s1')</script>
<img src=x onerror="alert('s2')">
<IMG SRC=x OnError=alert('s3')>
<a href="javascript:alert('s4')">click</a>
<a href="JaVaScRiPt:alert('s5')">click</a>
<a href="&#106;avascript:alert('s6')">click</a>
<a href=" javascript:alert('s7')">click</a>
<svg onload="alert('s8')"><circle r="5"/></svg>
<svg><script>alert('s9')</script></svg>
<iframe src="javascript:alert('s10')"></iframe>
<iframe srcdoc="<script>alert('s11')</script>"></iframe>
<object data="javascript:alert('s12')"></object>
<embed src="javascript:alert('s13')">
<math><mtext><img src=x onerror=alert('s14')></mtext></math>
<form action="javascript:alert('s15')"><button>go</button></form>
<div style="background:url(javascript:alert('s16'))">styled</div>
<body onload="alert('s17')">
<meta http-equiv="refresh" content="0;url=javascript:alert('s18')">
<base href="javascript:alert('s19')//">
<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>
<noscript><p title="</noscript><img src=x onerror=alert('s20')>"></noscript>
`
	raw := `From: Mallory <mallory@evil.example>
To: support@example.com
Subject: My order
Message-ID: <xss-1@evil.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Hello, my order is late.
--alt
Content-Type: text/html; charset=utf-8

` + html + `
--alt--
`
	st, id := postEmail(t, e.ts.URL, raw)
	if st != 202 || id == 0 {
		t.Fatalf("webhook: %d", st)
	}
	// The same HTML as the only body, and as a quoted-printable part.
	raw2 := strings.Replace(strings.Replace(raw, "xss-1@", "xss-2@", 1), `multipart/alternative; boundary="alt"`, "text/html; charset=utf-8", 1)
	raw2 = raw2[:strings.Index(raw2, "--alt")] + html
	st, id2 := postEmail(t, e.ts.URL, raw2)
	if st != 202 || id2 == 0 {
		t.Fatalf("webhook: %d", st)
	}
	checked := 0
	for _, tid := range []int64{id, id2} {
		for _, m := range ticketMessages(t, e, tid) {
			if m.Kind != "inbound" {
				continue
			}
			checked++
			if !strings.Contains(m.HTML, "order is late") {
				t.Errorf("ticket %d: sanitized HTML lost the text: %q", tid, m.HTML)
			}
			for _, p := range unsafeHTML(m.HTML) {
				t.Errorf("ticket %d: html field %s:\n%s", tid, p, m.HTML)
			}
		}
	}
	if checked != 2 {
		t.Errorf("checked %d inbound messages, want 2", checked)
	}
}

// --- attachment type confusion ---

// gifPolyglot is a valid GIF header followed by an HTML page.
var gifPolyglot = append([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xfe"), []byte("<html><body><script>alert(document.domain)</script></body></html>")...)

func (e *secEnv) testAttachmentTypes(t *testing.T) {
	type file struct {
		name, ctype string
		data        []byte
	}
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`)
	page := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	files := []file{
		{"evil.svg", "image/svg+xml", svg},
		{"page.html", "text/html; charset=utf-8", page},
		{"cat.gif", "image/gif", gifPolyglot},
		{"label.png", "image/png", page},             // lies about its type
		{"invoice.htm", "TEXT/HTML", page},           // other spelling
		{"doc.xhtml", "application/xhtml+xml", page}, // XHTML
		{"run.js", "application/javascript", []byte("alert(1)")},
		{"pic.svgz", "image/svg+xml; charset=utf-8", svg},
	}
	var b strings.Builder
	b.WriteString("From: Mallory <mallory@evil.example>\nTo: support@example.com\nSubject: files\nMessage-ID: <files-1@evil.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"mix\"\n\n--mix\nContent-Type: text/plain\n\nsee attached\n")
	for _, f := range files {
		fmt.Fprintf(&b, "--mix\nContent-Type: %s; name=%q\nContent-Disposition: attachment; filename=%q\nContent-Transfer-Encoding: base64\n\n%s\n",
			f.ctype, f.name, f.name, base64.StdEncoding.EncodeToString(f.data))
	}
	b.WriteString("--mix--\n")
	st, id := postEmail(t, e.ts.URL, b.String())
	if st != 202 {
		t.Fatalf("webhook: %d", st)
	}
	atts := ticketAttachments(t, e, id)
	// An attachment is only served under its own ticket's id.
	foreign := fmt.Sprintf("%s/api/tickets/%d/attachments/%d", e.ts.URL, e.ticketID, atts["page.html"])
	if st, _, b := secHTTP(t, "GET", foreign, bearerHdr(e.agentTok), nil); st != 404 || bytes.Contains(b, []byte("<script")) {
		t.Errorf("ticket %d's attachment under ticket %d: %d, want 404", id, e.ticketID, st)
	}
	for _, f := range files {
		aid, ok := atts[f.name]
		if !ok {
			t.Errorf("%s: not stored (have %v)", f.name, atts)
			continue
		}
		u := fmt.Sprintf("%s/api/tickets/%d/attachments/%d", e.ts.URL, id, aid)
		st, hdr, body := secHTTP(t, "GET", u, bearerHdr(e.agentTok), nil)
		if st != 200 || !bytes.Equal(body, f.data) {
			t.Errorf("%s: download %d", f.name, st)
		}
		checkDownloadHeaders(t, f.name, hdr)
	}

	// Chat uploads: the allowlist judges the content, so markup is refused
	// whatever the name, and a polyglot is refused although its header
	// is an image's.
	for _, tt := range []struct {
		name string
		data []byte
		want int
	}{
		{"real.png", tinyPNG, 201},
		{"notes.txt", []byte("Order 4711: 3 x HP 64XL, 2 x Brother TN-450.\nPrice < 50 USD each.\n"), 201},
		{"invoice.pdf", []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"), 201},
		{"evil.svg", svg, 400},
		{"evil.png", svg, 400},
		{"bare.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 400},
		{"page.html", page, 400},
		{"page.txt", page, 400},
		{"notes.txt", []byte("hi there\n<img src=x onerror=alert(1)>\n"), 400},
		{"notes2.txt", []byte("see below\n<script>alert(1)</script>\n"), 400},
		{"cat.gif", gifPolyglot, 400},
		{"png-polyglot.png", append(bytes.Clone(tinyPNG), []byte("<html><script>alert(1)</script></html>")...), 400},
		{"pdf-polyglot.pdf", []byte("%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n%%EOF\n"), 400},
	} {
		st, body := uploadChat(t, e.ts.URL, visitorHdr(e.visA), e.convA, tt.name, tt.data)
		if st != tt.want {
			t.Errorf("chat upload %s: %d %s, want %d", tt.name, st, body, tt.want)
			continue
		}
		if st != 201 {
			continue
		}
		var a struct {
			URL string `json:"url"`
		}
		_ = json.Unmarshal(body, &a)
		st, hdr, got := secHTTP(t, "GET", e.ts.URL+a.URL, visitorHdr(e.visA), nil)
		if st != 200 || !bytes.Equal(got, tt.data) {
			t.Errorf("chat download %s: %d", tt.name, st)
		}
		checkDownloadHeaders(t, "chat "+tt.name, hdr)
	}
}

// checkDownloadHeaders asserts an attachment is only ever a download that
// no browser renders as a page.
func checkDownloadHeaders(t *testing.T, what string, hdr http.Header) {
	t.Helper()
	ct := strings.ToLower(hdr.Get("Content-Type"))
	for _, bad := range []string{"html", "svg", "xml", "javascript", "ecmascript"} {
		if strings.Contains(ct, bad) {
			t.Errorf("%s: served as %q", what, ct)
		}
	}
	if ct == "" {
		t.Errorf("%s: no Content-Type", what)
	}
	if cd := hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("%s: Content-Disposition %q", what, cd)
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: no nosniff", what)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
}

// --- every route, every principal ---

// registeredRoutes lists "METHOD /path" for every route the real server
// registers, built the way serve builds it (openCore, openChat, newServer).
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	fs, load := config.FlagSet("serve", func(string) string { return "" }, io.Discard)
	if err := fs.Parse([]string{"--data", t.TempDir(), "--smtp-addr", "off"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := openCore(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	chatSvc, err := openChat(c)
	if err != nil {
		t.Fatal(err)
	}
	defer chatSvc.Close(ctx)
	srv, err := newServer(c, chatSvc)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var keys []string
	for _, r := range srv.App().GetRoutes(true) {
		switch r.Method {
		case http.MethodHead, http.MethodOptions, "CONNECT", "TRACE":
			continue
		}
		key := r.Method + " " + r.Path
		if seen[key] || r.Path == "/api" || (strings.HasSuffix(r.Path, "*") && r.Path != "/static/*") {
			continue
		}
		seen[key] = true
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// visitorRoutes are agent routes a visitor token may also use, for the
// visitor's own conversation (RequireVisitorOrAgent).
var visitorRoutes = map[string]bool{
	"POST /api/chat/attachments":    true,
	"GET /api/chat/attachments/:id": true,
}

func (e *secEnv) testRouteMatrix(t *testing.T) {
	routes := registeredRoutes(t)
	if len(routes) < len(routeAccess) {
		t.Fatalf("%d routes registered, %d declared", len(routes), len(routeAccess))
	}
	// Ids of real things, so a request that passes a guard reaches real
	// data rather than a cheap 404.
	api := apiClient{t: t, base: e.ts.URL, token: e.adminTok}
	var canned struct{ ID int64 }
	if st := api.do("POST", "/api/canned", map[string]string{"title": "Matrix", "body": "Hi {{customer_name}}"}, &canned); st != 201 {
		t.Fatalf("canned: %d", st)
	}
	var tok struct {
		Token string `json:"token"`
		Info  struct{ ID int64 }
	}
	if st := api.do("POST", "/api/admin/tokens", map[string]any{"agent_email": e.victimEmail, "name": "matrix-spare"}, &tok); st != 201 {
		t.Fatalf("spare token: %d", st)
	}
	e.secrets["spare API token"] = tok.Token
	fill := func(path string) string {
		r := strings.NewReplacer(":slug", "ink-level-shows-empty", ":attachmentId", fmt.Sprint(e.ticketAtt),
			":cid", fmt.Sprint(canned.ID), ":address", "support@example.com", "*", "helpcenter/helpcenter.css")
		switch {
		case strings.HasPrefix(path, "/api/tickets/"):
			path = strings.Replace(path, ":id", fmt.Sprint(e.ticketID), 1)
		case strings.HasPrefix(path, "/api/canned/"):
			path = strings.Replace(path, ":id", fmt.Sprint(canned.ID), 1)
		case strings.HasPrefix(path, "/api/admin/agents/"):
			path = strings.Replace(path, ":id", fmt.Sprint(e.victimID), 1)
		case strings.HasPrefix(path, "/api/admin/tokens/"):
			path = strings.Replace(path, ":id", fmt.Sprint(tok.Info.ID), 1)
		case strings.HasPrefix(path, "/api/chat/conversations/"):
			path = strings.Replace(path, ":id", fmt.Sprint(e.convA), 1)
		case strings.HasPrefix(path, "/api/chat/attachments/"):
			path = strings.Replace(path, ":id", fmt.Sprint(e.chatAttA), 1)
		}
		return r.Replace(path)
	}
	queries := map[string]string{
		"GET /api/faq/search":         "?q=refund",
		"GET /search":                 "?q=refund",
		"GET /api/chat/conversations": "?email=alice@customer.example",
		"GET /api/tickets":            "?limit=5",
	}
	principals := []struct {
		name string
		h    map[string]string
	}{
		{"anonymous", nil},
		{"customer A", visitorHdr(e.visA)},
		{"customer B", visitorHdr(e.visB)},
		{"agent", bearerHdr(e.agentTok)},
		{"admin", bearerHdr(e.adminTok)},
	}
	// Writes go last, deletes very last, so every read sees the data.
	rank := func(key string) int {
		switch {
		case strings.HasPrefix(key, "GET "):
			return 0
		case strings.HasPrefix(key, "DELETE "):
			return 2
		}
		return 1
	}
	slices.SortStableFunc(routes, func(a, b string) int { return rank(a) - rank(b) })
	for _, key := range routes {
		want, ok := routeAccess[key]
		if !ok {
			t.Errorf("route %s is not declared in routeAccess (routes_test.go): decide who may call it", key)
			continue
		}
		method, path, _ := strings.Cut(key, " ")
		u := e.ts.URL + fill(path) + queries[key]
		row := make([]string, 0, len(principals))
		for _, p := range principals {
			h := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
			for k, v := range p.h {
				h[k] = v
			}
			var body io.Reader
			if method != "GET" {
				body = strings.NewReader("{}")
			}
			st, _, b := secHTTP(t, method, u, h, body)
			row = append(row, fmt.Sprintf("%s=%d", p.name, st))
			denied := st == 401 && strings.Contains(string(b), "sign in required") ||
				st == 403 && strings.Contains(string(b), "admins only")
			if st >= 500 {
				t.Errorf("%s as %s: %d %s", key, p.name, st, b)
			}
			customer := strings.HasPrefix(p.name, "customer")
			var wantDenied bool
			switch want {
			case public:
				wantDenied = false
			case agentRoute:
				wantDenied = p.name == "anonymous" || customer && !visitorRoutes[key]
			case adminRoute:
				wantDenied = p.name == "anonymous" || customer || p.name == "agent"
			}
			if denied != wantDenied {
				t.Errorf("%s as %s: %d %.120s (denied %v, want denied %v)", key, p.name, st, b, denied, wantDenied)
			}
			if wantDenied && (p.name == "anonymous" || customer) && st != 401 {
				t.Errorf("%s as %s: %d, want 401", key, p.name, st)
			}
			if wantDenied && p.name == "agent" && st != 403 {
				t.Errorf("%s as agent: %d, want 403", key, st)
			}
			// Nothing of customer A's leaks to anyone else, on any route.
			if p.name != "customer A" && p.name != "agent" && p.name != "admin" &&
				(strings.Contains(string(b), e.markerA) || bytes.Equal(b, tinyPNG)) {
				t.Errorf("%s as %s leaks customer A's data", key, p.name)
			}
		}
		t.Logf("%-52s %s", key, strings.Join(row, " "))
	}

	// With a session cookie, every state-changing guarded route also wants
	// the CSRF header: a cross-site form post carries the cookie but not
	// the header.
	s := cookieLogin(t, e.ts.URL, "ada@shop.example", secPassword, "")
	e.secrets["admin session cookie"] = s.cookie.Value
	e.secrets["admin csrf token"] = s.csrf
	for _, key := range routes {
		method, path, _ := strings.Cut(key, " ")
		if method == "GET" || routeAccess[key] == public {
			continue
		}
		h := map[string]string{"Content-Type": "application/json", "Cookie": s.cookie.Name + "=" + s.cookie.Value}
		st, _, b := secHTTP(t, method, e.ts.URL+fill(path), h, strings.NewReader("{}"))
		if st != 403 || !strings.Contains(string(b), "X-CSRF-Token") {
			t.Errorf("%s with the admin's cookie and no CSRF header: %d %.120s, want 403", key, st, b)
		}
	}
}

// --- secrets in logs ---

func (e *secEnv) testSecretsNotLogged(t *testing.T) {
	// Make sure the relay (with its password) was actually tried: the
	// acknowledgements of the webhook's tickets go out through it.
	waitFor(t, "an outbound attempt through the relay", func() bool {
		return strings.Contains(e.ts.Logs.String(), "tickets: outbound mail")
	})
	// One more use of each credential, at debug level.
	apiClient{t: t, base: e.ts.URL, token: e.agentTok}.do("GET", "/api/tickets", nil, nil)
	apiClient{t: t, base: e.ts.URL, token: e.adminTok}.do("GET", "/api/admin/agents", nil, nil)
	secHTTP(t, "GET", e.ts.URL+"/api/chat/history", visitorHdr(e.visA), nil)
	secHTTP(t, "GET", e.ts.URL+"/api/faq/search?q=refund&token="+e.agentTok, nil, nil)
	// A failed sign-in: the password tried is not logged either.
	secHTTP(t, "POST", e.ts.URL+"/api/auth/login", map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"email":"tess@shop.example","password":"`+secPassword+` but wrong"}`))

	logs := e.ts.Logs.String()
	names := make([]string, 0, len(e.secrets))
	for name := range e.secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := e.secrets[name]
		if s == "" {
			t.Errorf("secret %s was never captured", name)
			continue
		}
		if strings.Contains(logs, s) {
			t.Errorf("the %s appears in the server log:\n%s", name, grepLines([]byte(logs), s))
		}
		// Half of a token is as good as a leak for guessing the rest.
		if len(s) >= 24 && strings.Contains(logs, s[:len(s)/2]) {
			t.Errorf("half of the %s appears in the server log", name)
		}
	}

	// Configuration errors name the flag but never echo a password.
	for _, tt := range []struct{ flag, value string }{
		{"--redis", "redis://user:" + secRelayPass + "@127.0.0.1:notaport/0"},
		{"--redis", "redis://user:" + secRelayPass + "@127.0.0.1:6379/0%zz"},
		{"--redis", "redis://user:" + secRelayPass + "@ho st:6379/0"},
		{"--smtp-relay", "smtp://user:" + secRelayPass + "@127.0.0.1:notaport"},
		{"--smtp-relay", "ftp://user:" + secRelayPass + "@127.0.0.1:25"},
		{"--imap", "support@example.com=imaps://user:" + secRelayPass + "@mail.example:bad/INBOX"},
		{"--imap", "support@example.com=imaps://user:" + secRelayPass + "@mail.example:993/INBOX?after=bogus"},
		{"--inbound-token", "short" + secRelayPass[:3]},
	} {
		var stderr bytes.Buffer
		args := []string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--smtp-addr", "off", tt.flag, tt.value}
		err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
		if err == nil {
			t.Errorf("%s %q was accepted", tt.flag, tt.value)
			continue
		}
		if !strings.Contains(err.Error(), tt.flag) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line naming the flag", tt.flag, err)
		}
		secret := secRelayPass
		if tt.flag == "--inbound-token" {
			secret = tt.value
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(stderr.String(), secret) {
			t.Errorf("%s: the error repeats the secret: %q", tt.flag, err)
		}
	}
}

// The widget on the shop's own site (another origin than the helpdesk)
// uses its visitor token cross-origin: the preflight is answered, the
// upload, the history and the download are readable by that site, and by
// no other.
func TestWidgetEndpointsFromShopSite(t *testing.T) {
	const shop, evil = "https://shop.example", "https://evil.example"
	ts := startServer(t, t.TempDir(), nil, "--allowed-origins", shop)
	cu := mustDial(t, wsURL(ts.URL, "/ws/chat"), http.Header{"Origin": {shop}})
	w := cu.hello("", "Sam Shopper", "sam@customer.example", 0)
	tok := map[string]string{"X-Visitor-Token": w.Visitor}
	from := func(origin string, h map[string]string) map[string]string {
		out := map[string]string{"Origin": origin}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	acao := func(h http.Header) string { return h.Get("Access-Control-Allow-Origin") }

	st, h, _ := secHTTP(t, "OPTIONS", ts.URL+"/api/chat/attachments",
		map[string]string{"Origin": shop, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-visitor-token"}, nil)
	if st != http.StatusNoContent || acao(h) != shop || !strings.EqualFold(h.Get("Access-Control-Allow-Headers"), "X-Visitor-Token") {
		t.Fatalf("preflight: %d %v", st, h)
	}
	if h.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("preflight allows credentials")
	}
	if st, h, _ := secHTTP(t, "OPTIONS", ts.URL+"/api/chat/attachments", map[string]string{"Origin": evil, "Access-Control-Request-Method": "POST"}, nil); acao(h) != "" {
		t.Errorf("preflight from another site: %d, Access-Control-Allow-Origin %q", st, acao(h))
	}

	st, b := uploadChat(t, ts.URL, from(shop, tok), w.Conversation, "label.png", tinyPNG)
	if st != http.StatusCreated {
		t.Fatalf("upload from the shop's site: %d %s", st, b)
	}
	var att struct {
		ID  int64  `json:"id"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(b, &att); err != nil || att.ID == 0 {
		t.Fatalf("upload answer %s: %v", b, err)
	}
	st, h, _ = secHTTP(t, "GET", ts.URL+"/api/chat/history", from(shop, tok), nil)
	if st != 200 || acao(h) != shop {
		t.Errorf("history from the shop's site: %d, Access-Control-Allow-Origin %q", st, acao(h))
	}
	st, h, body := secHTTP(t, "GET", fmt.Sprintf("%s/api/chat/attachments/%d", ts.URL, att.ID), from(shop, tok), nil)
	if st != 200 || acao(h) != shop || h.Get("Access-Control-Expose-Headers") != "Content-Disposition" || !bytes.Equal(body, tinyPNG) {
		t.Errorf("download from the shop's site: %d %v", st, h)
	}
	// Another site with a stolen token is still served (the token is the
	// secret), but its page may not read the answer.
	if st, h, _ := secHTTP(t, "GET", ts.URL+"/api/chat/history", from(evil, tok), nil); acao(h) != "" {
		t.Errorf("history for another site: %d, Access-Control-Allow-Origin %q", st, acao(h))
	}
}
