package faq

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Snippets are built here rather than by Bleve's highlighter. Bleve's HTML
// formatter does escape text, but it needs term vectors for every matching
// document of the search (a cost that dominates on a large index, where a
// query can match most articles) when only the few shown need a snippet. Here
// the stored text of a shown article is analyzed again and every word whose
// index term the query searched for is marked. Escaping is done in one
// place, so the only markup a snippet can carry is <mark> and </mark>.
// Possessives ("customer's") are matched as their word, as in the index.

const (
	snippetLen     = 200 // characters, roughly: a few lines under a result title
	snippetContext = 40  // characters of text kept before the first match
)

// markedText is a span of text with the byte ranges of its matched words.
type markedText struct {
	text    string
	matches []span
}

type span struct {
	start, end int
	term       string
	weight     float64
}

// matcher finds the words of a text that the query searched for. It is
// built once per search from the plan's index terms and used by one
// goroutine.
type matcher struct {
	stem  func(word string) string // the index-time analysis of one word
	terms map[string]float64       // term -> weight; what the customer typed outweighs its synonyms
	// Stemming is the expensive step, so only words that begin like a
	// searched term are stemmed. The Porter stemmer only rewrites endings
	// and keeps at least two letters, so a word can only stem to a term of
	// four or more letters if it shares the term's first three, and to a
	// shorter term if it shares the first two.
	prefix3 map[[3]byte]bool
	prefix2 map[[2]byte]bool
	stems   map[string]string // words already stemmed
}

func newMatcher(stem func(string) string, terms map[string]float64) *matcher {
	m := &matcher{stem: stem, terms: terms, prefix3: map[[3]byte]bool{}, prefix2: map[[2]byte]bool{}, stems: map[string]string{}}
	for t := range terms {
		if len(t) >= 4 {
			m.prefix3[[3]byte([]byte(t[:3]))] = true
		} else {
			var k [2]byte
			copy(k[:], t)
			m.prefix2[k] = true
		}
	}
	return m
}

// candidate reports whether the lower-cased word could stem to a term.
func (m *matcher) candidate(lower []byte) bool {
	if len(lower) >= 3 && m.prefix3[[3]byte(lower[:3])] {
		return true
	}
	var k [2]byte
	copy(k[:], lower)
	return m.prefix2[k]
}

// maxSnippetScan bounds the text examined for a snippet; articles may be
// long, and the answer is rarely only at the end.
const maxSnippetScan = 20_000

// find returns text with the byte ranges of its words whose index terms
// are searched for. Words are split on anything but letters, digits and
// inner apostrophes, which is close enough to the index's tokenizer for
// marking.
func (m *matcher) find(text string) markedText {
	mt := markedText{text: text}
	scan := text[:prefixEnd(text, maxSnippetScan)]
	var lower []byte
	for i := 0; i < len(scan); {
		if wordRune(scan, i) == 0 {
			i += runeLen(scan, i)
			continue
		}
		start := i
		for i < len(scan) {
			if n := wordRune(scan, i); n > 0 {
				i += n
			} else if scan[i] == '\'' && i+1 < len(scan) && wordRune(scan, i+1) > 0 {
				i++
			} else {
				break
			}
		}
		lower = appendLower(lower[:0], scan[start:i])
		if !m.candidate(lower) {
			continue
		}
		t, ok := m.stems[string(lower)]
		if !ok {
			t = m.stem(string(lower))
			m.stems[string(lower)] = t
		}
		if w := m.terms[t]; t != "" && w > 0 {
			mt.matches = append(mt.matches, span{start, i, t, w})
		}
	}
	return mt
}

// wordRune returns the length of the letter or digit at s[i], or 0.
func wordRune(s string, i int) int {
	if c := s[i]; c < utf8.RuneSelf {
		if l := c | 0x20; 'a' <= l && l <= 'z' || '0' <= c && c <= '9' {
			return 1
		}
		return 0
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return size
	}
	return 0
}

// runeLen returns the length of the character at s[i].
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, size := utf8.DecodeRuneInString(s[i:])
	return size
}

// appendLower appends the lower case of s to b.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				b = utf8.AppendRune(b, unicode.ToLower(r))
			}
			return b
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// prefixEnd returns the largest rune boundary of s at or below n.
func prefixEnd(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// snippet picks the text shown under a result: the passage of the body
// with the most different matched words (the words typed counting more than
// their synonyms), else the title if that is where the words matched, else
// the start of the body.
func (m *matcher) snippet(title, body string) string {
	if b := m.find(body); len(b.matches) > 0 {
		return b.window(snippetLen)
	}
	if t := m.find(title); len(t.matches) > 0 {
		return t.render(0, len(title))
	}
	return html.EscapeString(truncate(body, snippetLen))
}

// window renders about n characters around the best cluster of matches.
func (mt markedText) window(n int) string {
	// Slide over the matches: the window starting at match i reaches every
	// match ending within n-snippetContext bytes of it. Pick the one whose
	// different terms weigh most; the earliest wins ties.
	best, bestScore := 0, -1.0
	for i := range mt.matches {
		seen := map[string]bool{}
		score := 0.0
		for j := i; j < len(mt.matches) && mt.matches[j].end-mt.matches[i].start <= n-snippetContext; j++ {
			if !seen[mt.matches[j].term] {
				seen[mt.matches[j].term] = true
				score += mt.matches[j].weight
			}
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	first := mt.matches[best].start
	start := 0
	if first > snippetContext {
		// Start at a word boundary within the context before the match.
		start = first - snippetContext
		if i := strings.IndexByte(mt.text[start:first], ' '); i >= 0 {
			start += i + 1
		} else {
			start = first
		}
	}
	end := len(mt.text)
	if end-start > n {
		end = start + n
		// End at a word boundary, and never inside a match.
		for _, m := range mt.matches {
			if m.start < end && m.end > end {
				end = m.end
			}
		}
		if i := strings.LastIndexByte(mt.text[start:end], ' '); i > 0 && start+i > first {
			end = start + i
		}
		for end < len(mt.text) && !utf8.RuneStart(mt.text[end]) {
			end++
		}
	}
	return mt.render(start, end)
}

// render escapes text[start:end] and marks the matches inside it, with an
// ellipsis where text was cut off.
func (mt markedText) render(start, end int) string {
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	at := start
	for _, m := range mt.matches {
		if m.start < at || m.end > end {
			continue
		}
		b.WriteString(html.EscapeString(mt.text[at:m.start]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(mt.text[m.start:m.end]))
		b.WriteString("</mark>")
		at = m.end
	}
	b.WriteString(html.EscapeString(mt.text[at:end]))
	if end < len(mt.text) {
		b.WriteString("…")
	}
	return b.String()
}

// truncate shortens s to at most n characters, at a word boundary when
// there is one, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := string([]rune(s)[:n])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
