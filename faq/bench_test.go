package faq

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/printshop/helpdesk/kb"
)

// Benchmarks run only with -bench, so the 100,000-article corpus is never
// built by a plain go test. See BENCHMARKS.md for the command and figures.

// syntheticSize is the size of the large benchmark corpus.
const syntheticSize = 100_000

// benchQueries is the query mix: every customer query of the evaluation
// set (one-word, long, with and without typos), plus a few more typos.
func benchQueries(b testing.TB) []string {
	b.Helper()
	raw, err := os.ReadFile("testdata/eval.json")
	if err != nil {
		b.Fatal(err)
	}
	var cases []evalCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		b.Fatal(err)
	}
	qs := make([]string, 0, len(cases)+8)
	for _, c := range cases {
		qs = append(qs, c.Q)
	}
	return append(qs,
		"cartrige yeild", "hp tonner", "shiping to canda", "refnud status",
		"pasword", "trackign number", "remanufacterd ink", "expidited delivary",
	)
}

// runQueries runs b.N searches over qs and reports the median and 99th
// percentile latency of one search, the CPU time per search, the share of
// searches with a result and the average number of matching articles.
func runQueries(b *testing.B, ix *Index, qs []string, category string) {
	b.Helper()
	ctx := context.Background()
	durs := make([]time.Duration, 0, b.N)
	hits, matches := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		start := time.Now()
		res, err := ix.Search(ctx, Query{Text: qs[i%len(qs)], Category: category})
		durs = append(durs, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Results) > 0 {
			hits++
		}
		matches += res.Total
	}
	b.StopTimer()
	reportCPU(b, cpuTime()-cpu)
	reportPercentiles(b, durs)
	b.ReportMetric(100*float64(hits)/float64(b.N), "%answered")
	b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
}

// reportCPU reports the process's CPU time per operation, all goroutines
// (searches, garbage collection, Bleve's background work) together.
func reportCPU(b *testing.B, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

// reportPercentiles reports the median and 99th percentile of durs.
func reportPercentiles(b *testing.B, durs []time.Duration) {
	slices.Sort(durs)
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func BenchmarkSearchStarter(b *testing.B) {
	arts, err := kb.Seed()
	if err != nil {
		b.Fatal(err)
	}
	ix := openTestIndex(b, b.TempDir(), &memSource{arts: arts})
	runQueries(b, ix, benchQueries(b), "")
}

// BenchmarkSearch100k builds the synthetic index once, untimed, and runs
// the query mix against it in sub-benchmarks.
func BenchmarkSearch100k(b *testing.B) {
	src := &memSource{arts: syntheticArticles(syntheticSize, 1)}
	start := time.Now()
	ix := openTestIndex(b, b.TempDir(), src)
	b.Logf("built %d articles in %s", syntheticSize, time.Since(start).Round(time.Millisecond))
	qs := benchQueries(b)
	b.Run("mix", func(b *testing.B) { runQueries(b, ix, qs, "") })
	b.Run("category", func(b *testing.B) { runQueries(b, ix, qs, "shipping-delivery") })
	b.Run("bleve-tree", func(b *testing.B) { runReference(b, ix, qs) })
}

// runReference runs b.N searches over qs the way the executor's reference
// does, as a tree of Bleve queries (ranking and total only: no category
// counts, no snippets), for comparison with the executor.
func runReference(b *testing.B, ix *Index, qs []string) {
	ctx := context.Background()
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		start := time.Now()
		ix.mu.RLock()
		adv, err := ix.idx.Advanced()
		if err != nil {
			b.Fatal(err)
		}
		r, err := adv.Reader()
		if err != nil {
			b.Fatal(err)
		}
		snap, err := ix.snapshots.get(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		plan, err := ix.qb.plan(ctx, r, snap.words, qs[i%len(qs)])
		if err != nil {
			b.Fatal(err)
		}
		if len(plan.clauses) > 0 {
			referenceSearch(b, ix, r, plan, "", DefaultLimit)
		}
		_ = r.Close()
		ix.mu.RUnlock()
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	reportCPU(b, cpuTime()-cpu)
	reportPercentiles(b, durs)
}

// BenchmarkIndex100k measures building the index of 100,000 articles from
// scratch, as Open does on an empty folder: rendering, analysis, batches,
// and the final swap.
func BenchmarkIndex100k(b *testing.B) {
	src := &memSource{arts: syntheticArticles(syntheticSize, 1)}
	b.ResetTimer()
	for range b.N {
		dir := b.TempDir()
		start, cpu := time.Now(), cpuTime()
		ix, err := Open(indexDir(dir), src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		el, used := time.Since(start), cpuTime()-cpu
		b.StopTimer()
		if n, err := ix.DocCount(); err != nil || n != syntheticSize {
			b.Fatalf("DocCount = %d, %v", n, err)
		}
		if err := ix.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(el.Seconds(), "s/build")
		b.ReportMetric(used.Seconds(), "cpu-s/build")
		b.ReportMetric(float64(syntheticSize)/el.Seconds(), "articles/s")
		b.StartTimer()
	}
}

// syntheticArticles generates n help-center-like articles, the same for the
// same seed. Words are drawn from a Zipf distribution over a vocabulary of
// everyday English, product codes and generated filler, so term
// frequencies look like real text: a few words everywhere, a long tail of
// rare ones. One word in six, half the title words and all tags come from
// the shop's own vocabulary (in the starter articles, 18% of the words are
// such shop words). The query mix matches 32% of the starter articles on
// average and 47% of these, so this corpus is, if anything, the harder
// case: most of a search's work is reading the postings of every match.
func syntheticArticles(n int, seed uint64) []kb.Article {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	vocab := syntheticVocabulary(r)
	zipf := rand.NewZipf(rand.New(rand.NewPCG(seed+1, seed)), 1.07, 8, uint64(len(vocab)-1))
	word := func() string { return vocab[zipf.Uint64()] }
	shop := shopWords()
	categories := []string{
		"Shipping & Delivery", "Order Tracking", "Returns & Refunds", "Orders & Payment",
		"Ink & Toner Cartridges", "Your Account", "Privacy & Security", "Contact Us",
	}
	sentence := func(words int) string {
		ws := make([]string, words)
		for i := range ws {
			if r.IntN(6) == 0 {
				ws[i] = shop[r.IntN(len(shop))]
			} else {
				ws[i] = word()
			}
		}
		s := strings.Join(ws, " ")
		return strings.ToUpper(s[:1]) + s[1:] + "."
	}
	arts := make([]kb.Article, n)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range arts {
		title := make([]string, 3+r.IntN(6))
		for j := range title {
			if j%2 == 0 {
				title[j] = shop[r.IntN(len(shop))]
			} else {
				title[j] = word()
			}
		}
		tags := make([]string, 2+r.IntN(5))
		for j := range tags {
			tags[j] = shop[r.IntN(len(shop))]
			if r.IntN(2) == 0 {
				tags[j] += " " + shop[r.IntN(len(shop))]
			}
		}
		var body strings.Builder
		for p := 0; p < 2+r.IntN(4); p++ {
			if r.IntN(3) == 0 {
				fmt.Fprintf(&body, "### %s\n\n", strings.TrimSuffix(sentence(3+r.IntN(4)), "."))
			}
			if r.IntN(3) == 0 {
				for k := 0; k < 2+r.IntN(3); k++ {
					fmt.Fprintf(&body, "- %s **%s** %s\n", sentence(4+r.IntN(6)), shop[r.IntN(len(shop))], word())
				}
				body.WriteString("\n")
				continue
			}
			for k := 0; k < 2+r.IntN(4); k++ {
				body.WriteString(sentence(6 + r.IntN(14)))
				body.WriteString(" ")
			}
			body.WriteString("\n\n")
		}
		arts[i] = kb.Article{
			Slug:      fmt.Sprintf("synthetic-%06d", i),
			Title:     strings.ToUpper(title[0][:1]) + strings.Join(title, " ")[1:] + "?",
			Category:  categories[r.IntN(len(categories))],
			Body:      body.String(),
			Tags:      tags,
			Published: true,
			CreatedAt: at,
			UpdatedAt: at.Add(time.Duration(i) * time.Second),
		}
	}
	return arts
}

// shopWords are the words of an ink-and-toner shop's help center.
func shopWords() []string {
	return strings.Fields(`cartridge cartridges toner ink printer refund refunds return returns
		shipping ship shipped delivery deliver arrive package parcel order orders tracking track
		number email confirmation password account login locked coupon discount promo code
		voucher price cost fee charge check money payment paypal card credit store yield pages
		high standard compatible remanufactured oem genuine original brand warranty guarantee
		defective replacement canada international customs hawaii alaska apo overnight expedited
		rush business days same day cutoff carrier ups usps fedex privacy spam abuse secure
		corporate school government contact phone chat hours support receipt invoice restocking`)
}

// syntheticVocabulary returns about 30,000 words: everyday English first
// (they get the high Zipf ranks), then product codes and generated words.
func syntheticVocabulary(r *rand.Rand) []string {
	words := strings.Fields(`the be to of and a in that have it for not on with he as you do at this
		but his by from they we say her she or an will my one all would there their what so up out if
		about who get which go me when make can like time no just him know take people into year your
		good some could them see other than then now look only come its over think also back after use
		two how our work first well way even new want because any these give day most us is was are
		been has had were said did may should must help need find keep tell ask show try leave call
		put mean become turn start might seem feel while each here where why much many such again more
		very still own long little great right big high small large next early young important few
		public bad same able last late hard best better sure free full special easy clear recent
		certain personal open red difficult available likely short single medical current wrong
		private past foreign fine common poor natural significant similar hot dead central happy
		serious ready simple left physical general environmental financial blue democratic dark
		various entire close legal religious cold final main green nice huge popular traditional
		week month home page site web website form field button link click select choose enter
		submit save cancel update change add remove delete item items product products model series
		black color colour cyan magenta yellow photo laser inkjet office home family student quality
		print prints printing printed document documents paper sheet sheets tray jam error message
		light blinking install installed installing remove removed chip sensor level levels empty
		low full half reset reboot restart turn power cable cover door lid slot`)
	for _, brand := range []string{"hp", "canon", "epson", "brother", "lexmark", "samsung", "xerox", "dell"} {
		for k := 0; k < 120; k++ {
			words = append(words, fmt.Sprintf("%s%d", brand, 10+r.IntN(990)))
		}
	}
	const letters = "etaoinshrdlcumwfgypbvkjxqz"
	for len(words) < 30_000 {
		n := 4 + r.IntN(7)
		var b strings.Builder
		for range n {
			// Skewed towards frequent letters, like English.
			b.WriteByte(letters[min(r.IntN(26), r.IntN(26))])
		}
		words = append(words, b.String())
	}
	return words
}
