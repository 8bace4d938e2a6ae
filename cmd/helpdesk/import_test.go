package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/internal/sqlitedb"
)

func TestImportMboxAndMaildir(t *testing.T) {
	dir := t.TempDir()
	mbox := filepath.Join(t.TempDir(), "old.mbox")
	content := "From dora@customer.example Mon Nov 02 09:00:00 2026\n" +
		"From: Dora <dora@customer.example>\nTo: support@example.com\nSubject: Where is my order?\nMessage-ID: <old-1@customer.example>\n\nOrder 5531 has not arrived.\n\n" +
		"From dora@customer.example Mon Nov 02 11:00:00 2026\n" +
		"From: Dora <dora@customer.example>\nTo: support@example.com\nSubject: Re: Where is my order?\nMessage-ID: <old-2@customer.example>\nIn-Reply-To: <old-1@customer.example>\n\nFound it, thanks.\n\n" +
		"From ed@school.example Tue Nov 03 08:00:00 2026\n" +
		"From: Ed <ed@school.example>\nTo: gov@example.com\nSubject: District pricing\nMessage-ID: <old-3@school.example>\n\nDo you offer contract pricing?\n"
	if err := os.WriteFile(mbox, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "import", "--data", dir, "--mbox", mbox)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "imported 3 messages: 2 new tickets, 1 added to existing tickets, 0 already imported, 0 skipped") {
		t.Errorf("first import said:\n%s", out)
	}
	out, _, err = runCmd(t, "", "import", "--data", dir, "--mbox", mbox)
	if err != nil || !strings.Contains(out, "0 new tickets, 0 added to existing tickets, 3 already imported") {
		t.Errorf("second import said (err %v):\n%s", err, out)
	}

	md := t.TempDir()
	os.MkdirAll(filepath.Join(md, "cur"), 0o700)
	os.MkdirAll(filepath.Join(md, "new"), 0o700)
	os.WriteFile(filepath.Join(md, "cur", "1.eml:2,S"), []byte("From: f@customer.example\nTo: corporate@example.com\nSubject: Quote\nMessage-ID: <md-1@customer.example>\n\n100 toners please\n"), 0o600)
	out, _, err = runCmd(t, "", "import", "--data", dir, "--maildir", md)
	if err != nil || !strings.Contains(out, "1 new tickets") {
		t.Errorf("maildir import said (err %v):\n%s", err, out)
	}

	// Imported mail is not acknowledged: old customers get no surprise mail.
	db, err := sqlitedb.Open(context.Background(), filepath.Join(dir, "helpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var queued, tickets int
	if err := db.R.QueryRow(`SELECT (SELECT COUNT(*) FROM outbound_mail), (SELECT COUNT(*) FROM tickets)`).Scan(&queued, &tickets); err != nil {
		t.Fatal(err)
	}
	if queued != 0 || tickets != 3 {
		t.Errorf("after import: %d emails queued (want 0), %d tickets (want 3)", queued, tickets)
	}
	if _, _, err := runCmd(t, "", "import", "--data", dir); err == nil {
		t.Error("import with neither --mbox nor --maildir succeeded")
	}
}
