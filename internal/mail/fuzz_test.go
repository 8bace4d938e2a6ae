package mail

import (
	"os"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with the corpus: it must
// not panic, must return valid UTF-8 everywhere and never let active
// content through into HTML (see checkInvariants and htmlIsSafe).
func FuzzParse(f *testing.F) {
	for _, file := range corpusFiles(f) {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Content-Type: text/html\r\n\r\n<a href=\"jav&#x09;ascript:alert(1)\">x</a><img src=x onerror=alert(1)><scr<script>ipt>alert(1)</script>"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<svg><script>alert(1)</script></svg>\r\n--x"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Parse(raw, ParseOptions{LoopID: testLoopID})
		checkInvariants(t, m)
	})
}
