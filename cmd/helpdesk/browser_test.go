package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumPath is Debian's Chromium, which the browser tests drive through
// playwright-core. No test ever downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// requireBrowser skips the test when Chromium or the npm packages of the
// browser suite are missing — unless running in CI (CI is set), where .ci/run
// installs both and a skip would hide a broken suite, so it fails instead.
func requireBrowser(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "static", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	var missing string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = chromiumPath + " (apt-get install chromium)"
	} else if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		missing = "static/e2e/node_modules (cd static/e2e && npm ci)"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests need %s; .ci/run installs it", missing)
		}
		t.Skipf("browser tests skipped: %s is missing", missing)
	}
	return dir
}

// TestBrowser runs the node:test browser suite in static/e2e against a real
// server with the starter knowledge base, an admin and an agent, inbound
// SMTP and the inbound webhook. Screenshots of every step go to
// static/e2e/screenshots (or $SCREENSHOT_DIR).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	dir := requireBrowser(t)

	// The agent suite signs in as an admin and an agent, created here
	// through the real CLI, sends mail to the SMTP port and the inbound
	// webhook, and reads the outbox in the data folder.
	data := t.TempDir()
	accounts := []struct{ email, name, role, password string }{
		{"ada.admin@shop.example", "Ada Admin", "admin", "violet ink on recycled paper 7"},
		{"tess.agent@shop.example", "Tess Agent", "agent", "magenta toner in the warehouse 3"},
	}
	tokens := make([]string, len(accounts)) // API tokens, for the widget suite
	for i, a := range accounts {
		if _, stderr, err := runCmd(t, a.password+"\n", "agent", "add", "--data", data, "--email", a.email, "--name", a.name, "--role", a.role, "--password-stdin"); err != nil {
			t.Fatalf("agent add %s: %v\n%s", a.email, err, stderr)
		}
		out, stderr, err := runCmd(t, "", "token", "create", "--data", data, "--agent", a.email, "--name", "browser suite")
		if err != nil {
			t.Fatalf("token create %s: %v\n%s", a.email, err, stderr)
		}
		tokens[i] = strings.TrimSpace(out)
	}
	smtpAddr := freeAddr(t)
	const inboundToken = "browser-suite-inbound-token-0123456789"
	// The widget suite serves a shop page of its own on shopAddr, another
	// origin, allowed to embed the chat widget.
	shopAddr := freeAddr(t)
	ts := startServer(t, data, nil, "--hours", "Mon-Sun 00:00-24:00", "--smtp-addr", smtpAddr, "--inbound-token", inboundToken,
		"--allowed-origins", "http://"+shopAddr)

	shots := os.Getenv("SCREENSHOT_DIR")
	if shots == "" {
		shots = filepath.Join(dir, "screenshots")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HELPDESK_URL="+ts.URL, "SCREENSHOT_DIR="+shots,
		"HELPDESK_DATA="+data, "HELPDESK_SMTP_ADDR="+smtpAddr, "HELPDESK_INBOUND_TOKEN="+inboundToken,
		"HELPDESK_ADMIN_EMAIL="+accounts[0].email, "HELPDESK_ADMIN_PASSWORD="+accounts[0].password,
		"HELPDESK_AGENT_EMAIL="+accounts[1].email, "HELPDESK_AGENT_PASSWORD="+accounts[1].password,
		"HELPDESK_ADMIN_TOKEN="+tokens[0], "HELPDESK_AGENT_TOKEN="+tokens[1], "HELPDESK_SHOP_ADDR="+shopAddr)
	out, err := cmd.CombinedOutput()
	t.Logf("browser suite output:\n%s", out)
	if err != nil {
		t.Fatalf("browser suite failed: %v\n%s\nserver logs:\n%s", err, out, ts.Logs.String())
	}
}
