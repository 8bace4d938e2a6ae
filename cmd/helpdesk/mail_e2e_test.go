package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/printshop/helpdesk/internal/mail"
)

// apiClient calls the JSON API with a bearer token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// newAgentToken adds an agent to the data folder and returns a token.
func newAgentToken(t *testing.T, dir, email, role string) string {
	t.Helper()
	if _, _, err := runCmd(t, "a long enough password for tests\n", "agent", "add", "--data", dir, "--email", email, "--name", "Tess Agent", "--role", role, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "token", "create", "--data", dir, "--agent", email, "--name", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type ticketJSON struct {
	ID        int64  `json:"id"`
	Subject   string `json:"subject"`
	Status    string `json:"status"`
	Queue     string `json:"queue"`
	Requester struct {
		Email, Name string
	} `json:"requester"`
	Messages []struct {
		ID   int64  `json:"id"`
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"messages"`
}

// TestEmailRoundTrip is the inbox end to end: a customer's mail arrives over
// real SMTP, an agent replies through the API, the reply lands in the
// outbox with threading headers, and the customer's answer to it lands on
// the same ticket.
func TestEmailRoundTrip(t *testing.T) {
	dir := t.TempDir()
	token := newAgentToken(t, dir, "tess@shop.example", "agent")
	smtpAddr := freeAddr(t)
	ts := startServer(t, dir, nil, "--smtp-addr", smtpAddr)
	api := apiClient{t: t, base: ts.URL, token: token}

	send := func(from, to, msg string) {
		t.Helper()
		if err := smtp.SendMail(smtpAddr, nil, from, []string{to}, []byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
			t.Fatalf("SMTP: %v", err)
		}
	}
	send("carla@customer.example", "Support@Example.com", `From: Carla Customer <carla@customer.example>
To: support@example.com
Subject: Toner arrived damaged
Message-ID: <first-1@customer.example>
Date: Thu, 26 Nov 2026 09:00:00 -0800
Content-Type: text/plain; charset=utf-8

Hello, my TN-450 toner arrived cracked. Can you send a new one?
`)
	// Mail to an address that is not an inbox is refused at RCPT.
	if err := smtp.SendMail(smtpAddr, nil, "x@customer.example", []string{"nobody@example.com"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("mail to an unknown address: %v, want 550", err)
	}

	// The 250 came after the commit: the ticket is listed at once.
	var list struct {
		Tickets []ticketJSON `json:"tickets"`
	}
	if st := api.do("GET", "/api/tickets?queue="+strings.ReplaceAll("Customer Service", " ", "%20"), nil, &list); st != 200 || len(list.Tickets) != 1 {
		t.Fatalf("ticket list: %d %+v", st, list)
	}
	tk := list.Tickets[0]
	if tk.Subject != "Toner arrived damaged" || tk.Requester.Email != "carla@customer.example" || tk.Status != "new" {
		t.Fatalf("ticket = %+v", tk)
	}

	// The acknowledgement and the agent's reply both reach the outbox.
	if st := api.do("POST", fmt.Sprintf("/api/tickets/%d/replies", tk.ID), map[string]string{"text": "Sorry about that! A replacement ships today."}, nil); st/100 != 2 {
		t.Fatalf("reply: %d", st)
	}
	var reply *mail.Message
	waitFor(t, "the reply in the outbox", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			m := mail.Parse(raw, mail.ParseOptions{})
			if strings.Contains(m.Text, "replacement ships today") {
				reply = m
				return true
			}
		}
		return false
	})
	wantToken := fmt.Sprintf("[#%d]", tk.ID)
	if !strings.Contains(reply.Subject, wantToken) || len(reply.To) != 1 || reply.To[0].Address != "carla@customer.example" {
		t.Errorf("reply subject %q to %v", reply.Subject, reply.To)
	}
	if len(reply.InReplyTo) != 1 || reply.InReplyTo[0] != "first-1@customer.example" {
		t.Errorf("reply In-Reply-To = %v", reply.InReplyTo)
	}
	// References end with the message answered (RFC 5322 §3.6.4).
	if n := len(reply.References); n == 0 || reply.References[n-1] != "first-1@customer.example" {
		t.Errorf("reply References = %v", reply.References)
	}

	// The customer answers the reply; it threads onto the same ticket.
	send("carla@customer.example", "support@example.com", fmt.Sprintf(`From: Carla Customer <carla@customer.example>
To: support@example.com
Subject: Re: %s
Message-ID: <second-2@customer.example>
In-Reply-To: <%s>
References: <first-1@customer.example> <%s>
Content-Type: text/plain; charset=utf-8

Thank you, that was quick!
`, reply.Subject, reply.MessageID, reply.MessageID))

	var full ticketJSON
	if st := api.do("GET", fmt.Sprintf("/api/tickets/%d", tk.ID), nil, &full); st != 200 {
		t.Fatalf("get ticket: %d", st)
	}
	var kinds []string
	for _, m := range full.Messages {
		kinds = append(kinds, m.Kind)
	}
	if strings.Join(kinds, ",") != "inbound,outbound,inbound" || !strings.Contains(full.Messages[2].Text, "that was quick") {
		t.Errorf("thread = %v", kinds)
	}
	if full.Status != "open" {
		t.Errorf("status after the customer's answer = %q, want open", full.Status)
	}
	if st := api.do("GET", "/api/tickets", nil, &list); st != 200 || len(list.Tickets) != 1 {
		t.Errorf("the answer made a new ticket: %+v", list.Tickets)
	}
}

// TestInboundWebhookGuard: the webhook is off without a token, refuses a
// wrong one, and ingests with the right one.
func TestInboundWebhookGuard(t *testing.T) {
	raw := "From: a@customer.example\r\nTo: corporate@example.com\r\nSubject: Bulk order\r\nMessage-ID: <w1@customer.example>\r\n\r\nPrices for 500 cartridges?\r\n"
	post := func(base, token string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+"/api/inbound/email", strings.NewReader(raw))
		req.Header.Set("Content-Type", "message/rfc822")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	off := startServer(t, "", nil)
	if st, _ := post(off.URL, "anything-long-enough"); st != 404 {
		t.Errorf("webhook without --inbound-token: %d, want 404", st)
	}
	const secret = "inbound-secret-0123456789"
	on := startServer(t, "", nil, "--inbound-token", secret)
	if st, _ := post(on.URL, "wrong-token-0123456789"); st != 401 {
		t.Errorf("wrong token: %d, want 401", st)
	}
	st, body := post(on.URL, secret)
	if st != 202 || body["ticket_id"].(float64) < 1 || body["duplicate"] != false {
		t.Fatalf("webhook: %d %v", st, body)
	}
	st, body = post(on.URL, secret)
	if st != 202 || body["duplicate"] != true {
		t.Errorf("second delivery: %d %v, want duplicate", st, body)
	}
	if strings.Contains(on.Logs.String(), secret) {
		t.Error("the inbound token was logged")
	}
}
