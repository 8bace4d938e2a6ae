package mail

import (
	"regexp"
	"strings"
	"testing"
)

// endsWithAttributionVerb says what the regexp it replaced said.
func TestEndsWithAttributionVerb(t *testing.T) {
	re := regexp.MustCompile(`(?i)(wrote|writes|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev|napsal|kirjoitti)\s*:?\s*$`)
	for _, s := range []string{
		"", ":", "wrote", "wrote:", " wrote : ", "On Mon, Pat <pat@example.com> wrote:", "WROTE:", "Wrote :  ",
		"rewrote:", "wrote::", "wrote: x", "writes", "Am Montag schrieb Pat:", "Le lundi, Pat a écrit :",
		"Le lundi, Pat A ÉCRIT :", "El lunes, Pat escribió:", "Il giorno lunedì, Pat ha scritto:", "Pat skrev:",
		"Pat napsal:", "Pat kirjoitti:", "Op maandag schreef Pat:", "Em segunda, Pat escreveu:", "on time",
		"on my card thanks", "written:", "wrote\t:\t", "ha  scritto:", "écrit:", strings.Repeat("x", 100) + " wrote:",
	} {
		if got, want := endsWithAttributionVerb(s), re.MatchString(s); got != want {
			t.Errorf("endsWithAttributionVerb(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
