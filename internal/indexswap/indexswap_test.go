package indexswap

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReplace(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "faq")
	write(t, filepath.Join(dir, "segment"), "old")

	b, err := Begin(dir)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(b.Path(), "segment"), "new")
	if old, err := b.Replace(); err != nil || old {
		t.Fatalf("Replace = %v, %v", old, err)
	}
	if got := read(t, filepath.Join(dir, "segment")); got != "new" {
		t.Errorf("index holds %q", got)
	}
	if err := b.Remove(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(base)
	if len(entries) != 1 || entries[0].Name() != "faq" {
		t.Errorf("left in the parent folder: %v", entries)
	}
}

func TestReplaceWithoutOldIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tickets")
	b, err := Begin(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Remove()
	write(t, filepath.Join(b.Path(), "segment"), "first")
	if _, err := b.Replace(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "segment")); got != "first" {
		t.Errorf("index holds %q", got)
	}
}

// A build that produced nothing cannot replace the index, and the old one
// is back in place.
func TestFailedReplaceKeepsOld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "faq")
	write(t, filepath.Join(dir, "segment"), "old")
	b, err := Begin(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Remove()
	old, err := b.Replace()
	if err == nil || !old {
		t.Fatalf("Replace without a build = %v, %v; want an error with the old index in place", old, err)
	}
	if got := read(t, filepath.Join(dir, "segment")); got != "old" {
		t.Errorf("index holds %q", got)
	}
}

func TestRemoveLeftoversOnlyOwn(t *testing.T) {
	base := t.TempDir()
	faq, tickets := filepath.Join(base, "faq"), filepath.Join(base, "tickets")
	mine, err := Begin(faq)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := Begin(tickets)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(mine.Path(), "segment"), "partial")
	if failed, err := RemoveLeftovers(faq); err != nil || len(failed) > 0 {
		t.Fatalf("RemoveLeftovers = %v, %v", failed, err)
	}
	if _, err := os.Stat(mine.work); !os.IsNotExist(err) {
		t.Errorf("own leftover still there: %v", err)
	}
	if _, err := os.Stat(theirs.work); err != nil {
		t.Errorf("the other index's build folder was touched: %v", err)
	}
}
