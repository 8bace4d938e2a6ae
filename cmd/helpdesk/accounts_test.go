package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestAgentAddAndToken(t *testing.T) {
	dir := t.TempDir()
	const pw = "violet ink on recycled paper"
	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
		wantOut string
	}{
		{name: "admin", stdin: pw + "\n", args: []string{"--email", "Boss@Shop.example", "--name", "Bo Boss", "--role", "admin", "--password-stdin"}, wantOut: "added admin Bo Boss <boss@shop.example>"},
		{name: "agent", stdin: pw, args: []string{"--email", "al@shop.example", "--name", "Al", "--role", "agent", "--password-stdin"}, wantOut: "added agent Al"},
		{name: "duplicate email, other case", stdin: pw, args: []string{"--email", "BOSS@shop.example", "--name", "X", "--role", "agent", "--password-stdin"}, wantErr: "already exists"},
		{name: "weak password", stdin: "password1234\n", args: []string{"--email", "w@shop.example", "--name", "W", "--role", "agent", "--password-stdin"}, wantErr: "commonly used"},
		{name: "short password", stdin: "short\n", args: []string{"--email", "s@shop.example", "--name", "S", "--role", "agent", "--password-stdin"}, wantErr: "at least 12"},
		{name: "no stdin flag", stdin: pw, args: []string{"--email", "n@shop.example", "--name", "N", "--role", "agent"}, wantErr: "--password-stdin is required"},
		{name: "bad role", stdin: pw, args: []string{"--email", "r@shop.example", "--name", "R", "--role", "root", "--password-stdin"}, wantErr: "--role"},
		{name: "empty stdin", stdin: "", args: []string{"--email", "e@shop.example", "--name", "E", "--role", "agent", "--password-stdin"}, wantErr: "no password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"agent", "add", "--data", dir}, tt.args...)
			out, _, err := runCmd(t, tt.stdin, args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.stdin)) && tt.stdin != "" {
					t.Errorf("error %q echoes the password", err)
				}
				return
			}
			if err != nil || !strings.Contains(out, tt.wantOut) {
				t.Fatalf("out %q err %v, want %q", out, err, tt.wantOut)
			}
		})
	}

	out, _, err := runCmd(t, "", "token", "create", "--data", dir, "--agent", "al@shop.example", "--name", "zapier")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "hd_") {
		t.Fatalf("token create printed %q, want the token alone on its line", out)
	}
	token := lines[0]
	if _, _, err := runCmd(t, "", "token", "create", "--data", dir, "--agent", "nobody@shop.example", "--name", "x"); err == nil {
		t.Error("token for an unknown agent was created")
	}

	// The token and a password sign-in both work against the running server.
	ts := startServer(t, dir, nil)
	req, _ := http.NewRequest("GET", ts.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct {
		Agent struct{ Email string } `json:"agent"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me.Agent.Email != "al@shop.example" {
		t.Fatalf("me with token: %d %+v", resp.StatusCode, me)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err = client.Post(ts.URL+"/api/auth/login", "application/json", strings.NewReader(`{"email":"boss@shop.example","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || login.CSRF == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	// A cookie-authenticated change without the CSRF header is refused;
	// with it, allowed.
	patch := func(csrf string) int {
		req, _ := http.NewRequest("PATCH", ts.URL+"/api/kb/articles/track-my-order", strings.NewReader(`{"title":"Where is my order?"}`))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := patch(""); got != 403 {
		t.Errorf("PATCH without CSRF token: %d, want 403", got)
	}
	if got := patch(login.CSRF); got != 200 {
		t.Errorf("PATCH with CSRF token: %d, want 200", got)
	}
	// The edit is audited.
	req, _ = http.NewRequest("GET", ts.URL+"/api/admin/audit", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "article_updated") || !strings.Contains(string(body), "article:track-my-order") {
		t.Errorf("audit log lacks the article edit: %s", body)
	}
	if strings.Contains(ts.Logs.String(), pw) || strings.Contains(ts.Logs.String(), token) {
		t.Error("server logs contain a password or token")
	}
}
