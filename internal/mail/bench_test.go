package mail

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse parses a typical ~10 KB reply: multipart/alternative,
// quoted-printable, with five levels of quoted history in both parts.
func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "corpus", "bench-thread.eml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if m := Parse(raw, ParseOptions{LoopID: testLoopID}); m.Preview == "" {
			b.Fatal("empty preview")
		}
	}
}
