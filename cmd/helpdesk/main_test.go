package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes and the
// test's reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testServer struct {
	URL  string
	Data string
	Logs *syncBuffer
	stop func() error
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs the real program in-process on a free port with data in
// dir (a new temp dir when empty) and waits for /healthz.
func startServer(t *testing.T, dir string, env map[string]string, args ...string) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	addr := freeAddr(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	// The public URL is the address really served, as in production, so
	// the websocket Origin checks see the pages' own origin.
	all := append([]string{"serve", "--addr", addr, "--data", dir, "--smtp-addr", "off", "--public-url", "http://" + addr}, args...)
	getenv := func(k string) string { return env[k] }
	done := make(chan error, 1)
	go func() { done <- run(ctx, all, getenv, strings.NewReader(""), io.Discard, logs) }()

	ts := &testServer{URL: "http://" + addr, Data: dir, Logs: logs}
	var once sync.Once
	var stopErr error
	ts.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = fmt.Errorf("server did not stop within 15s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("server stop: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("server exited early: %v\nlogs:\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(ts.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return ts
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy within 30s\nlogs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(t *testing.T, u string, wantStatus int, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d; body %s", u, resp.StatusCode, wantStatus, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q, want JSON", u, ct)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, body)
		}
	}
}

func TestServeEndToEnd(t *testing.T) {
	ts := startServer(t, "", nil)

	getJSON(t, ts.URL+"/readyz", http.StatusOK, nil)

	var status struct {
		Open          *bool  `json:"open"`
		ChatAvailable *bool  `json:"chat_available"`
		AgentsOnline  *int   `json:"agents_online"`
		Now           string `json:"now"`
		NextChange    string `json:"next_change"`
		Timezone      string `json:"timezone"`
	}
	getJSON(t, ts.URL+"/api/status", http.StatusOK, &status)
	if status.Open == nil || status.ChatAvailable == nil || status.AgentsOnline == nil {
		t.Fatalf("status is missing fields: %+v", status)
	}
	if *status.ChatAvailable {
		t.Error("chat_available with no agents online")
	}
	if status.Timezone != "America/Los_Angeles" {
		t.Errorf("timezone = %q", status.Timezone)
	}
	now, err := time.Parse(time.RFC3339, status.Now)
	if err != nil {
		t.Fatalf("now: %v", err)
	}
	next, err := time.Parse(time.RFC3339, status.NextChange)
	if err != nil || !next.After(now) || next.Sub(now) > 4*24*time.Hour {
		t.Errorf("next_change = %q (now %q): want a time within days after now", status.NextChange, status.Now)
	}

	var arts struct {
		Articles []struct {
			Slug, Title, Category, Body string
		} `json:"articles"`
	}
	getJSON(t, ts.URL+"/api/kb/articles", http.StatusOK, &arts)
	if len(arts.Articles) < 25 {
		t.Fatalf("starter knowledge base has %d articles, want at least 25", len(arts.Articles))
	}
	first := arts.Articles[0]
	var one struct{ Slug, Title, Category, Body string }
	getJSON(t, ts.URL+"/api/kb/articles/"+first.Slug, http.StatusOK, &one)
	if one.Slug != first.Slug || one.Body == "" || one.Title == "" || one.Category == "" {
		t.Errorf("article %s = %+v", first.Slug, one)
	}
	var nf struct{ Error string }
	getJSON(t, ts.URL+"/api/kb/articles/no-such-article", http.StatusNotFound, &nf)
	if nf.Error == "" {
		t.Error("404 without an error message")
	}

	var res struct {
		Query   string `json:"query"`
		Total   int    `json:"total"`
		Results []struct {
			Slug, Title, Category, Snippet, URL string
			Score                               float64
		} `json:"results"`
	}
	getJSON(t, ts.URL+"/api/faq/search?q="+url.QueryEscape("refund")+"&limit=3", http.StatusOK, &res)
	if res.Query != "refund" || res.Total == 0 || len(res.Results) == 0 || len(res.Results) > 3 {
		t.Fatalf("search refund = %+v", res)
	}
	for _, r := range res.Results {
		if r.Slug == "" || r.URL != "/kb/"+r.Slug || r.Title == "" {
			t.Errorf("search hit %+v", r)
		}
	}
	for _, q := range []string{"", "%20%20"} {
		var e struct{ Error string }
		getJSON(t, ts.URL+"/api/faq/search?q="+q, http.StatusBadRequest, &e)
		if e.Error == "" {
			t.Errorf("q=%q: 400 without an error message", q)
		}
	}

	// Errors are JSON for programs; a browser following a broken link gets
	// the help center's page.
	for _, path := range []string{"/no/such/page", "/static/helpcenter/missing.css", "/api/nope"} {
		var e struct{ Error string }
		getJSON(t, ts.URL+path, http.StatusNotFound, &e)
		if e.Error != "not found" {
			t.Errorf("%s: error %q", path, e.Error)
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/no/such/page", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("browser 404: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}

	// Admin routes are guarded even before anyone signs in.
	resp, err := http.Post(ts.URL+"/api/kb/articles", "application/json", strings.NewReader(`{"slug":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous article create: status %d, want 401", resp.StatusCode)
	}

	resp, err = http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`helpdesk_http_requests_total{method="GET",route="/api/faq/search",status="200"}`,
		"helpdesk_http_request_duration_seconds_bucket",
		"helpdesk_faq_search_duration_seconds",
		"helpdesk_faq_indexed_documents",
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s\n%s", want, grepLines(metrics, "helpdesk_http_requests_total"))
		}
	}

	if err := ts.stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	logs := ts.Logs.String()
	for _, want := range []string{"helpdesk is serving", `"request_id"`, "shutting down"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

func TestBadFlagValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "hours", args: []string{"--hours", "Mon-Fry 06:00-18:00"}, want: "--hours"},
		{name: "hours env", env: map[string]string{"HELPDESK_HOURS": "whenever"}, want: "--hours"},
		{name: "timezone", args: []string{"--timezone", "Mars/Olympus"}, want: "--timezone"},
		{name: "holidays", args: []string{"--holidays", "2026-02-30"}, want: "--holidays"},
		{name: "addr", args: []string{"--addr", "nonsense"}, want: "--addr"},
		{name: "public url", args: []string{"--public-url", "ftp://x"}, want: "--public-url"},
		{name: "inboxes", args: []string{"--inboxes", "not-an-address=Queue"}, want: "--inboxes"},
		{name: "redis", args: []string{"--redis", "http://x"}, want: "--redis"},
		{name: "origins", args: []string{"--allowed-origins", "shop.example"}, want: "--allowed-origins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--smtp-addr", "off"}, tt.args...)
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, strings.NewReader(""), io.Discard, &stderr)
			if err == nil {
				t.Fatal("run accepted a bad value")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s", msg, tt.want)
			}
		})
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	// A bad environment value is overridden by a good flag.
	env := map[string]string{"HELPDESK_HOURS": "garbage", "HELPDESK_TIMEZONE": "Nowhere/Else"}
	ts := startServer(t, "", env, "--hours", "Mon-Sun 00:00-24:00", "--timezone", "UTC")
	var status struct {
		Open     bool   `json:"open"`
		Timezone string `json:"timezone"`
	}
	getJSON(t, ts.URL+"/api/status", http.StatusOK, &status)
	if !status.Open || status.Timezone != "UTC" {
		t.Errorf("status = %+v, want always open in UTC", status)
	}
}

// TestIndexRebuiltWhenBroken deletes, then corrupts, the FAQ index between
// runs and checks that search works after each restart.
func TestIndexRebuiltWhenBroken(t *testing.T) {
	dir := t.TempDir()
	search := func(ts *testServer) int {
		var res struct{ Total int }
		getJSON(t, ts.URL+"/api/faq/search?q=tracking", http.StatusOK, &res)
		return res.Total
	}
	ts := startServer(t, dir, nil)
	want := search(ts)
	if want == 0 {
		t.Fatal("no results for tracking")
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	indexDir := filepath.Join(dir, "index", "node-0", "faq")

	if err := os.RemoveAll(indexDir); err != nil {
		t.Fatal(err)
	}
	ts = startServer(t, dir, nil)
	if got := search(ts); got != want {
		t.Errorf("after deleting the index: %d results, want %d", got, want)
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}

	// Overwrite every file of the index with garbage.
	err := filepath.WalkDir(indexDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.WriteFile(p, []byte("not an index"), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	ts = startServer(t, dir, nil)
	if got := search(ts); got != want {
		t.Errorf("after corrupting the index: %d results, want %d", got, want)
	}
}

func TestReindexCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"reindex", "--data", dir}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err != nil {
		t.Fatalf("reindex: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "faq:") || !strings.Contains(out.String(), "done: faq index holds") {
		t.Errorf("reindex output lacks progress:\n%s", out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
	if err == nil || !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Errorf("err = %v, stderr = %q", err, stderr.String())
	}
}

// grepLines returns the lines of b that contain s, for failure messages.
func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
