package reports

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/printshop/helpdesk/internal/apperr"
)

// MaxQueueLen bounds the queue filter.
const MaxQueueLen = 200

// Handlers serves the reports API. Routes are listed in internal/server;
// both need a signed-in agent (auth.RequireAgent).
//
//	GET /api/reports/summary      Summary
//	GET /api/reports/summary.csv  SummaryCSV
type Handlers struct {
	svc *Service
}

// NewHandlers returns the reports handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// query reads ?from=YYYY-MM-DD&to=YYYY-MM-DD&queue=NAME.
func (h *Handlers) query(c *fiber.Ctx) (Query, error) {
	from, to, err := ParseRange(c.Query("from"), c.Query("to"), h.svc.Now(), h.svc.Location())
	if err != nil {
		return Query{}, err
	}
	q := strings.TrimSpace(utils.CopyString(c.Query("queue")))
	if len(q) > MaxQueueLen || !utf8.ValidString(q) {
		return Query{}, apperr.Invalid("queue: at most %d characters of UTF-8 text", MaxQueueLen)
	}
	return Query{From: from, To: to, Queue: q}, nil
}

// Summary answers GET /api/reports/summary?from=&to=&queue= with the
// report as JSON (see Summary). Without from and to it covers the last 30
// days. 400 for a bad date, to before from, or more than MaxDays days.
func (h *Handlers) Summary(c *fiber.Ctx) error {
	q, err := h.query(c)
	if err != nil {
		return err
	}
	s, err := h.svc.Summary(c.UserContext(), q)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(s)
}

// SummaryCSV answers GET /api/reports/summary.csv with the same report as
// CSV (see WriteCSV), as a download named report-FROM-to-TO.csv.
func (h *Handlers) SummaryCSV(c *fiber.Ctx) error {
	q, err := h.query(c)
	if err != nil {
		return err
	}
	s, err := h.svc.Summary(c.UserContext(), q)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, s); err != nil {
		return apperr.Internal("reports: write csv", err)
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="report-`+s.From+`-to-`+s.To+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}
