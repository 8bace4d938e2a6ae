package faq

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/printshop/helpdesk/internal/httpapi"
)

// Handlers serves the public FAQ search API. Routes are listed in
// internal/server.
type Handlers struct {
	ix *Index
}

// NewHandlers returns the search API handlers for ix.
func NewHandlers(ix *Index) *Handlers { return &Handlers{ix: ix} }

// Search answers GET /api/faq/search?q=TEXT&limit=N&category=C with
// {"query", "total", "results": [{"slug", "title", "category", "snippet",
// "score", "url"}], "categories": [{"name", "slug", "count"}]}, best match
// first. A blank q, a limit that is not a positive whole number, or a
// malformed category is a 400; a limit over MaxLimit is clamped.
func (h *Handlers) Search(c *fiber.Ctx) error {
	limit, err := httpapi.IntQuery(c, "limit", DefaultLimit, MaxLimit)
	if err != nil {
		return err
	}
	// Fiber reuses the request buffer once the handler returns; the query
	// text is echoed back and may outlive it in logs, so copy it.
	res, err := h.ix.Search(c.UserContext(), Query{
		Text:     utils.CopyString(c.Query("q")),
		Category: utils.CopyString(c.Query("category")),
		Limit:    limit,
	})
	if err != nil {
		return err
	}
	return c.JSON(res)
}
