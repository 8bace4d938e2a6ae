package faq

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/printshop/helpdesk/kb"
)

// evalCase is one customer query with the article that answers it.
type evalCase struct {
	Q    string `json:"q"`
	Want string `json:"want"`
}

// Accuracy the starter set must reach on testdata/eval.json.
const (
	minTop1 = 0.80
	minTop3 = 0.95
)

// TestSearchQuality runs every query of testdata/eval.json against the
// starter articles and checks how often the expected article is first and
// in the top three. The figures are always printed, so a change to the
// engine shows its effect even when the test passes.
func TestSearchQuality(t *testing.T) {
	raw, err := os.ReadFile("testdata/eval.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []evalCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("testdata/eval.json: %v", err)
	}
	if len(cases) == 0 {
		t.Fatal("testdata/eval.json has no queries")
	}
	arts, err := kb.Seed()
	if err != nil {
		t.Fatal(err)
	}
	slugs := map[string]bool{}
	for _, a := range arts {
		slugs[a.Slug] = true
	}
	for _, c := range cases {
		if !slugs[c.Want] {
			t.Errorf("eval query %q wants %q, which is not a starter article", c.Q, c.Want)
		}
	}

	ix := openTestIndex(t, t.TempDir(), &memSource{arts: arts})
	ctx := context.Background()
	var top1, top3 int
	var failures []string
	for _, c := range cases {
		res, err := ix.Search(ctx, Query{Text: c.Q, Limit: 3})
		if err != nil {
			t.Errorf("search %q: %v", c.Q, err)
			continue
		}
		rank := 0
		var got []string
		for i, h := range res.Results {
			got = append(got, h.Slug)
			if h.Slug == c.Want && rank == 0 {
				rank = i + 1
			}
		}
		switch {
		case rank == 1:
			top1++
			top3++
		case rank > 1:
			top3++
			failures = append(failures, fmt.Sprintf("  #%d  %-60q want %s, got %s", rank, c.Q, c.Want, strings.Join(got, ", ")))
		default:
			failures = append(failures, fmt.Sprintf("  --  %-60q want %s, got %s", c.Q, c.Want, strings.Join(got, ", ")))
		}
	}
	n := float64(len(cases))
	p1, p3 := float64(top1)/n, float64(top3)/n
	fmt.Fprintf(os.Stdout, "faq search quality: %d queries, %d articles: top-1 %.1f%% (%d), top-3 %.1f%% (%d)\n",
		len(cases), len(arts), 100*p1, top1, 100*p3, top3)
	if len(failures) > 0 {
		fmt.Fprintf(os.Stdout, "not first (#rank, -- = not in top 3):\n%s\n", strings.Join(failures, "\n"))
	}
	if p1 < minTop1 {
		t.Errorf("top-1 accuracy %.1f%%, want at least %.0f%%", 100*p1, 100*minTop1)
	}
	if p3 < minTop3 {
		t.Errorf("top-3 accuracy %.1f%%, want at least %.0f%%", 100*p3, 100*minTop3)
	}
}
