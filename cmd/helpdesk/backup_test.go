package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndRestore takes a backup while the server runs, restores it
// into a fresh data folder and checks the restored helpdesk has the data.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	token := newAgentToken(t, dir, "bea@shop.example", "admin")
	ts := startServer(t, dir, nil)
	api := apiClient{t: t, base: ts.URL, token: token}
	if st := api.do("PATCH", "/api/kb/articles/free-shipping", map[string]string{"title": "Free shipping over $50"}, nil); st != 200 {
		t.Fatalf("edit: %d", st)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	if o, _, err := runCmd(t, "", "backup", "--data", dir, "--out", out); err != nil || !strings.Contains(o, "database copied") {
		t.Fatalf("backup while running: %v %s", err, o)
	}
	if _, _, err := runCmd(t, "", "backup", "--data", dir, "--out", out); err == nil {
		t.Error("backup overwrote an existing file")
	}

	restored := t.TempDir()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "helpdesk.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	ts2 := startServer(t, restored, nil)
	var a struct{ Title string }
	getJSON(t, ts2.URL+"/api/kb/articles/free-shipping", http.StatusOK, &a)
	if a.Title != "Free shipping over $50" {
		t.Errorf("restored title %q", a.Title)
	}
	var res struct{ Total int }
	getJSON(t, ts2.URL+"/api/faq/search?q=shipping", http.StatusOK, &res)
	if res.Total == 0 {
		t.Error("restored helpdesk's search finds nothing")
	}
	req, _ := http.NewRequest("GET", ts2.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the restored token: %d", resp.StatusCode)
	}
}
