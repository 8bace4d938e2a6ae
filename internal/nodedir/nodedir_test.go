package nodedir

import (
	"path/filepath"
	"testing"
)

func TestSlotsAreExclusiveAndReused(t *testing.T) {
	base := t.TempDir()
	a, err := Acquire(base)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(base)
	if err != nil {
		t.Fatal(err)
	}
	if a.Slot != 0 || b.Slot != 1 || a.Path != filepath.Join(base, "node-0") {
		t.Fatalf("slots %d (%s) and %d", a.Slot, a.Path, b.Slot)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	c, err := Acquire(base)
	if err != nil {
		t.Fatal(err)
	}
	if c.Slot != 0 {
		t.Errorf("released slot not reused: got %d", c.Slot)
	}
	b.Release()
	c.Release()
}
