package faq

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/printshop/helpdesk/kb"
)

// TestSearchHealsDamagedSegment tears the middle of the index's segment
// files — damage Open's cheap checks do not see — and checks that a search
// that runs into it starts a rebuild, after which search works again.
func TestSearchHealsDamagedSegment(t *testing.T) {
	arts, err := kb.Seed()
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{}
	src.set(arts...)
	root := t.TempDir()
	ix, err := Open(indexDir(root), src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()

	segs, _ := filepath.Glob(filepath.Join(indexDir(root), "store", "*.zap"))
	if len(segs) == 0 {
		t.Skip("no segment files to damage in this index layout")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, seg := range segs {
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		mid := len(b) / 2
		for i := mid; i < min(len(b), mid+4096); i++ {
			b[i] = byte(rng.IntN(256))
		}
		if err := os.WriteFile(seg, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	ix = openTestIndex(t, root, src)
	queries := []string{"refund", "tracking", "toner", "password locked", "free shipping", "canada", "coupon", "high yield"}
	failed := false
	for _, q := range queries {
		if _, err := ix.Search(context.Background(), Query{Text: q}); err != nil {
			if !errors.Is(err, ErrRebuilding) {
				t.Fatalf("search %q failed with %v, want ErrRebuilding", q, err)
			}
			failed = true
		}
	}
	if !failed {
		t.Skip("the damage did not reach any query (Open may have rebuilt the index)")
	}
	deadline := time.Now().Add(30 * time.Second)
	for ix.healing.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the rebuild did not finish within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, q := range queries {
		if _, err := ix.Search(context.Background(), Query{Text: q}); err != nil {
			t.Errorf("after the rebuild, search %q: %v", q, err)
		}
	}
}
