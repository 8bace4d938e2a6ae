package reports

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
)

// csvHeader is the first line of WriteCSV's output.
var csvHeader = []string{"section", "date", "queue", "metric", "value"}

// WriteCSV writes s as CSV in long form, one number per line: section
// (tickets, chat or report), date (YYYY-MM-DD, empty for range totals),
// queue (empty for all queues), metric and value. Missing medians (no
// values) are written as empty cells. Spreadsheets pivot this form easily,
// and new metrics add lines, never columns.
func WriteCSV(w io.Writer, s Summary) error {
	cw := csv.NewWriter(w)
	row := func(section, date, queue, metric, value string) {
		_ = cw.Write([]string{section, date, queue, metric, value}) // errors surface in Flush/Error
	}
	num := func(n int) string { return strconv.Itoa(n) }
	flt := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	opt := func(f *float64) string {
		if f == nil {
			return ""
		}
		return flt(*f)
	}

	_ = cw.Write(csvHeader)
	row("report", "", s.Queue, "from", s.From)
	row("report", "", s.Queue, "to", s.To)
	row("report", "", s.Queue, "timezone", s.Timezone)

	t := s.Tickets
	row("tickets", "", s.Queue, "created", num(t.Created))
	for _, q := range sortedKeys(t.ByQueue) {
		row("tickets", "", q, "created", num(t.ByQueue[q]))
	}
	for _, d := range t.PerDay {
		row("tickets", d.Date, "", "created", num(d.Total))
		for _, q := range sortedKeys(d.ByQueue) {
			row("tickets", d.Date, q, "created", num(d.ByQueue[q]))
		}
	}
	for _, st := range []struct {
		name string
		s    Stats
	}{{"first_response_minutes", t.FirstResponse}, {"resolution_minutes", t.Resolution}} {
		row("tickets", "", s.Queue, st.name+"_count", num(st.s.Count))
		row("tickets", "", s.Queue, st.name+"_median", opt(st.s.Median))
		row("tickets", "", s.Queue, st.name+"_p90", opt(st.s.P90))
	}
	row("tickets", "", s.Queue, "sla_with_target", num(t.SLA.WithTarget))
	row("tickets", "", s.Queue, "sla_met", num(t.SLA.Met))
	row("tickets", "", s.Queue, "sla_breached", num(t.SLA.Breached))
	row("tickets", "", s.Queue, "sla_breached_late", num(t.SLA.BreachedLate))
	row("tickets", "", s.Queue, "sla_breached_unanswered", num(t.SLA.BreachedUnanswered))
	row("tickets", "", s.Queue, "sla_pending", num(t.SLA.Pending))
	row("tickets", "", s.Queue, "sla_breach_rate", flt(t.SLA.BreachRate))

	if c := s.Chat; c != nil {
		row("chat", "", "", "conversations", num(c.Conversations))
		for _, d := range c.PerDay {
			row("chat", d.Date, "", "conversations", num(d.Count))
		}
		row("chat", "", "", "wait_seconds_count", num(c.Wait.Count))
		row("chat", "", "", "wait_seconds_median", opt(c.Wait.Median))
		row("chat", "", "", "wait_seconds_p90", opt(c.Wait.P90))
		row("chat", "", "", "abandoned", num(c.Abandoned))
		row("chat", "", "", "deflected", num(c.Deflected))
		row("chat", "", "", "deflection_rate", flt(c.DeflectionRate))
		row("chat", "", "", "ratings_count", num(c.Ratings.Count))
		row("chat", "", "", "ratings_average", flt(c.Ratings.Average))
		for i, n := range c.Ratings.Distribution {
			row("chat", "", "", "ratings_"+strconv.Itoa(i+1), num(n))
		}
	}
	cw.Flush()
	return cw.Error()
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
