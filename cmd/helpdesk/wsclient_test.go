package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// This file holds the websocket client the end-to-end chat tests
// (security_test.go, redisfault_test.go) drive the real server with.

// wsFrame is any frame the server sends, with the fields of every type.
type wsFrame struct {
	Type          string `json:"type"`
	Code          string `json:"code"`
	Message       string `json:"message"`
	Ref           string `json:"ref"`
	ClientID      string `json:"client_id"`
	Visitor       string `json:"visitor"`
	Conversation  int64  `json:"conversation"`
	ChatAvailable bool   `json:"chat_available"`
	Seq           int64  `json:"seq"`
	LastSeq       int64  `json:"last_seq"`
	Duplicate     bool   `json:"duplicate"`
	From          string `json:"from"`
	Author        string `json:"author"`
	Text          string `json:"text"`
	Status        string `json:"status"`
	Email         string `json:"email"`
	Score         int    `json:"score"`
	TicketID      int64  `json:"ticket_id"`
	Agent         struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"agent"`
	raw string
}

// wsClient is one websocket connection. A reader goroutine turns every
// frame into a wsFrame on frames until the socket ends; err then holds the
// read error (a *fws.CloseError when the server closed it).
type wsClient struct {
	t      testing.TB
	conn   *fws.Conn
	frames chan wsFrame
	done   chan struct{}
	err    error // valid once done is closed
}

const wsWait = 10 * time.Second

// wsURL turns a test server's http:// URL into its ws:// one.
func wsURL(httpURL, path string) string {
	return "ws://" + strings.TrimPrefix(httpURL, "http://") + path
}

// wsDial opens a websocket. On a refused upgrade it returns the HTTP answer
// and an error. The connection is closed when the test ends.
func wsDial(t testing.TB, url string, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	d := fws.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: t, conn: conn, frames: make(chan wsFrame, 10000), done: make(chan struct{})}
	go func() { // ends when the socket does; Cleanup closes it
		defer close(c.done)
		defer close(c.frames)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			var f wsFrame
			if err := json.Unmarshal(data, &f); err != nil || f.Type == "" {
				c.err = fmt.Errorf("server sent a frame that is not a typed JSON object: %q", data)
				return
			}
			f.raw = string(data)
			c.frames <- f
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-c.done
	})
	return c, resp, nil
}

// mustDial is wsDial for a connection that must be accepted.
func mustDial(t testing.TB, url string, header http.Header) *wsClient {
	t.Helper()
	c, resp, err := wsDial(t, url, header)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, code)
	}
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.conn.WriteMessage(fws.TextMessage, data); err != nil {
		c.t.Fatalf("send %s: %v", data, err)
	}
}

// expect skips frames until one of type typ that match accepts (nil: any).
func (c *wsClient) expect(typ string, match func(wsFrame) bool) wsFrame {
	c.t.Helper()
	deadline := time.After(wsWait)
	var skipped []string
	for {
		select {
		case f, open := <-c.frames:
			if !open {
				c.t.Fatalf("socket ended waiting for %q (skipped %v): %v", typ, skipped, c.err)
			}
			if f.Type == typ && (match == nil || match(f)) {
				return f
			}
			skipped = append(skipped, f.raw)
		case <-deadline:
			c.t.Fatalf("no %q frame within %s (skipped %v)", typ, wsWait, skipped)
		}
	}
}

// roundTrip sends a ping and returns every frame that arrived before the
// pong: since the server answers a socket's frames in order, that is
// everything the frames sent before it caused directly.
func (c *wsClient) roundTrip() []wsFrame {
	c.t.Helper()
	c.send(map[string]string{"type": "ping"})
	var got []wsFrame
	deadline := time.After(wsWait)
	for {
		select {
		case f, open := <-c.frames:
			if !open {
				c.t.Fatalf("socket ended waiting for pong: %v", c.err)
			}
			if f.Type == "pong" {
				return got
			}
			got = append(got, f)
		case <-deadline:
			c.t.Fatalf("no pong within %s", wsWait)
		}
	}
}

// closeCode waits for the server to end the connection and returns the
// close code (0 when it ended without a close frame).
func (c *wsClient) closeCode() int {
	c.t.Helper()
	deadline := time.After(wsWait)
	for {
		select {
		case _, open := <-c.frames:
			if open {
				continue
			}
			var ce *fws.CloseError
			if errors.As(c.err, &ce) {
				return ce.Code
			}
			return 0
		case <-deadline:
			c.t.Fatalf("socket still open after %s", wsWait)
		}
	}
}

// hello says hello on a customer socket and returns the welcome.
func (c *wsClient) hello(visitor, name, email string, afterSeq int64) wsFrame {
	c.t.Helper()
	c.send(map[string]any{"type": "hello", "visitor": visitor, "name": name, "email": email, "after_seq": afterSeq})
	return c.expect("welcome", nil)
}
