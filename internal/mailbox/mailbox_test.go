package mailbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mbox = "From alice@example.com Thu Nov 26 09:00:00 2026\n" +
	"From: alice@example.com\nSubject: one\n\nHello\n>From the start, quoted\n>>From twice quoted\n\n" +
	"From bob@example.com Thu Nov 26 10:00:00 2026\n" +
	"From: bob@example.com\nSubject: two\n\nFrom inside a line is fine\nbye\n"

func TestReadMbox(t *testing.T) {
	var got []string
	n, err := ReadMbox(strings.NewReader(mbox), Visitor{Message: func(raw []byte) error {
		got = append(got, string(raw))
		return nil
	}})
	if err != nil || n != 2 || len(got) != 2 {
		t.Fatalf("n=%d err=%v got %q", n, err, got)
	}
	if !strings.Contains(got[0], "\nFrom the start, quoted\n>From twice quoted\n") {
		t.Errorf("quoting not undone: %q", got[0])
	}
	if !strings.HasPrefix(got[1], "From: bob@example.com\nSubject: two") || !strings.Contains(got[1], "From inside a line") {
		t.Errorf("second message: %q", got[1])
	}
	if c, err := CountMbox(strings.NewReader(mbox)); err != nil || c != 2 {
		t.Errorf("CountMbox = %d, %v", c, err)
	}
}

func TestReadMaildir(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "cur", "1700000002.b:2,S"), []byte("Subject: b\n\nb\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "new", "1700000001.a"), []byte("Subject: a\n\na\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "tmp", "1700000003.c"), []byte("Subject: c\n\nc\n"), 0o600)
	var subjects []string
	n, err := ReadMaildir(dir, Visitor{Message: func(raw []byte) error {
		subjects = append(subjects, strings.SplitN(string(raw), "\n", 2)[0])
		return nil
	}})
	if err != nil || n != 2 || strings.Join(subjects, ",") != "Subject: a,Subject: b" {
		t.Fatalf("n=%d err=%v subjects=%v", n, err, subjects)
	}
	if _, err := ReadMaildir(t.TempDir(), Visitor{Message: func([]byte) error { return nil }}); err == nil {
		t.Error("a folder that is not a Maildir was accepted")
	}
}
