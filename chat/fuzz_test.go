package chat

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// lockedBuffer collects a service's log for the fuzz target to inspect.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns what was logged since the last call.
func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// errorCodes are the codes docs/chat-protocol.md lists.
var errorCodes = map[string]bool{
	codeUnknownType: true, codeBadFrame: true, codeHelloFirst: true, codeInvalid: true, codeRateLimited: true,
	codeUnavailable: true, codeClosed: true, codeNotAssigned: true, codeOfferGone: true, codeNotFound: true,
	codeAgentBusy: true, codeNotSupported: true,
}

// FuzzFrame sends one arbitrary client frame (the raw bytes of a websocket
// text message, which the server decodes as JSON) over a real socket: to
// a customer before hello, to a customer after hello, and to an agent.
// Whatever the bytes: no panic in the socket handler, no internal error,
// the socket stays open and answers the next ping in order, every frame the
// server sends is a JSON object with a type, and errors carry a documented
// code.
func FuzzFrame(f *testing.F) {
	db := newDB(f)
	ann := addAgent(f, db, "Ann")
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n := startNode(f, nodeConfig{db: db, agents: []AgentRef{ann},
		opts: Options{Logger: log, Limits: Limits{HelloTimeout: 5 * time.Second}}})
	agentHeader := http.Header{"Origin": {testOrigin}, "Authorization": {"Bearer token-" + strconv.FormatInt(ann.ID, 10)}}

	for _, s := range []string{
		`{"type":"hello","visitor":"","name":"Pat","email":"pat@example.com","after_seq":0}`,
		`{"type":"hello","visitor":"x","after_seq":-1,"conversation":99}`,
		`{"type":"message","client_id":"c1","text":"hello","attachments":[1,2,3]}`,
		`{"type":"message","conversation":1,"client_id":"a1","text":"hi"}`,
		`{"type":"typing","text":"where is my order"}`,
		`{"type":"read","seq":9223372036854775807}`,
		`{"type":"close","conversation":1}`,
		`{"type":"rating","score":6,"comment":"x"}`,
		`{"type":"transcript","email":"a@b.c"}`,
		`{"type":"leave_message","name":"A","email":"a@example.com","text":"call me","client_id":"x"}`,
		`{"type":"article_opened","slug":"../../etc/passwd"}`,
		`{"type":"sync","after_seq":-5,"conversation":1}`,
		`{"type":"status","status":"online"}`,
		`{"type":"accept","conversation":1}`,
		`{"type":"decline","conversation":-1}`,
		`{"type":"transfer","conversation":1,"to_agent_id":1,"queue":true}`,
		`{"type":"ping"}`,
		`{"type":"PING"}`,
		`{"type":""}`,
		`{"type":null}`,
		`{"type":["message"]}`,
		`{"type":"message","client_id":1}`,
		`{"type":"read","seq":1e400}`,
		`{"type":"read","seq":"1"}`,
		`{"type":"message","client_id":"\u0000","text":"\ud800"}`,
		`{"type":"message","type":"hello"}`,
		`{}`, `[]`, `null`, `"hello"`, `42`, ``, `{`, `{"type":"hello"} trailing`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		"\xff\xfe{\"type\":\"ping\"}",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 60<<10 {
			t.Skip("frames over 64 KiB close the socket by design (TestConnectionLimits)")
		}
		check := func(who string, c *client, then ...string) {
			t.Helper()
			if err := c.conn.WriteMessage(fws.TextMessage, data); err != nil {
				t.Fatalf("%s: send: %v", who, err)
			}
			for _, s := range then {
				c.send(s)
			}
			c.send(`{"type":"ping"}`)
			deadline := time.After(waitTimeout)
			for {
				select {
				case fr, open := <-c.frames:
					if !open {
						t.Fatalf("%s: frame %.200q ended the socket: %v", who, data, c.err)
					}
					if fr.Type == "" {
						t.Fatalf("%s: untyped frame %s", who, fr.raw)
					}
					if fr.Type == "error" && !errorCodes[fr.Code] {
						t.Fatalf("%s: frame %.200q answered %s", who, data, fr.raw)
					}
					if fr.Type == "pong" {
						return
					}
				case <-deadline:
					t.Fatalf("%s: no pong within %s after frame %.200q", who, waitTimeout, data)
				}
			}
		}

		// Before hello every frame but hello is refused (ping included),
		// so the fresh socket says hello after the fuzzed frame.
		fresh := n.customer(t)
		check("customer before hello", fresh, `{"type":"hello"}`)

		cu := n.customer(t)
		cu.hello("", 0)
		check("customer", cu)

		ag, _, err := dial(t, n.ws+"/ws/agent", agentHeader)
		if err != nil {
			t.Fatal(err)
		}
		ag.expect("welcome")
		check("agent", ag)

		for _, c := range []*client{fresh, cu, ag} {
			c.conn.Close()
		}
		if l := logs.take(); strings.Contains(l, "panic") || strings.Contains(l, "frame failed") {
			t.Fatalf("frame %.200q:\n%s", data, l)
		}
	})
}

// TestSniffTypeMarkup pins the attachment allowlist's content rule: markup
// a browser would act on is refused in any file, by content, while the
// ordinary text, pictures and PDFs customers send pass.
func TestSniffTypeMarkup(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00")
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n")
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("Order 4711: 3 x HP 64XL.\nPrice < 50 USD, qty<3, a<b.\n"), "text/plain; charset=utf-8"},
		{"text with a tag-like word", []byte("ref <ABC123> and <order 4711>"), "text/plain; charset=utf-8"},
		{"png", png, "image/png"},
		{"gif", gif, "image/gif"},
		{"pdf", pdf, "application/pdf"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), ""},
		{"svg after text", []byte("look:\n<SVG onload=alert(1)>"), ""},
		{"xml", []byte(`<?xml version="1.0"?><x/>`), ""},
		{"html fragment", []byte("hi <img src=x onerror=alert(1)>"), ""},
		{"link", []byte("click <a href=javascript:alert(1)>here</a>"), ""},
		{"doctype", []byte("<!DOCTYPE html><p>x"), ""},
		{"gif polyglot", append(bytes.Clone(gif), "<script>alert(1)</script>"...), ""},
		{"png polyglot", append(bytes.Clone(png), "<html><body>"...), ""},
		{"pdf polyglot", append(bytes.Clone(pdf), "<iframe src=x>"...), ""},
		{"image with an <a in it", append(bytes.Clone(png), "<a x"...), "image/png"},
	}
	for _, tt := range tests {
		if got := sniffType(tt.data); got != tt.want {
			t.Errorf("%s: sniffType = %q, want %q", tt.name, got, tt.want)
		}
	}
}
