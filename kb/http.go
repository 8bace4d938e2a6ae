package kb

import (
	"html/template"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/httpapi"
)

// Handlers serves the article API. Routes are listed in internal/server.
type Handlers struct {
	svc     *Service
	render  *Renderer
	isAdmin func(c *fiber.Ctx) bool
}

// NewHandlers returns the article API handlers. isAdmin reports whether the
// request is made by a signed-in admin; admins also see drafts and feedback
// counts. Write routes must additionally be guarded by the admin middleware.
func NewHandlers(svc *Service, render *Renderer, isAdmin func(c *fiber.Ctx) bool) *Handlers {
	return &Handlers{svc: svc, render: render, isAdmin: isAdmin}
}

type articleJSON struct {
	Slug      string        `json:"slug"`
	Title     string        `json:"title"`
	Category  string        `json:"category"`
	Body      string        `json:"body"`
	HTML      template.HTML `json:"html"`
	Tags      []string      `json:"tags"`
	Published bool          `json:"published"`
	URL       string        `json:"url"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	Feedback  *feedbackJSON `json:"feedback,omitempty"`
}

type feedbackJSON struct {
	Helpful    int `json:"helpful"`
	NotHelpful int `json:"not_helpful"`
}

// URL is the public help-center address of the article with the given slug.
func URL(slug string) string { return "/kb/" + slug }

func (h *Handlers) toJSON(a Article, admin bool) articleJSON {
	out := articleJSON{
		Slug: a.Slug, Title: a.Title, Category: a.Category, Body: a.Body,
		HTML: h.render.HTML(a.Body), Tags: nonNil(a.Tags), Published: a.Published,
		URL: URL(a.Slug), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
	if admin {
		out.Feedback = &feedbackJSON{Helpful: a.HelpfulYes, NotHelpful: a.HelpfulNo}
	}
	return out
}

// List answers GET /api/kb/articles[?category=NAME_OR_SLUG].
func (h *Handlers) List(c *fiber.Ctx) error {
	admin := h.isAdmin(c)
	arts, err := h.svc.List(c.UserContext(), c.Query("category"), admin)
	if err != nil {
		return err
	}
	out := make([]articleJSON, 0, len(arts))
	for _, a := range arts {
		out = append(out, h.toJSON(a, admin))
	}
	return c.JSON(fiber.Map{"articles": out})
}

// Categories answers GET /api/kb/categories.
func (h *Handlers) Categories(c *fiber.Ctx) error {
	cats, err := h.svc.Categories(c.UserContext())
	if err != nil {
		return err
	}
	if cats == nil {
		cats = []Category{}
	}
	return c.JSON(fiber.Map{"categories": cats})
}

// Get answers GET /api/kb/articles/:slug.
func (h *Handlers) Get(c *fiber.Ctx) error {
	admin := h.isAdmin(c)
	a, err := h.svc.Get(c.UserContext(), c.Params("slug"), admin)
	if err != nil {
		return err
	}
	return c.JSON(h.toJSON(a, admin))
}

// Create answers POST /api/kb/articles (admins only).
func (h *Handlers) Create(c *fiber.Ctx) error {
	var in Input
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	a, err := h.svc.Create(c.UserContext(), in)
	if err != nil {
		return err
	}
	c.Location(URL(a.Slug))
	return c.Status(fiber.StatusCreated).JSON(h.toJSON(a, true))
}

// Update answers PATCH /api/kb/articles/:slug (admins only).
func (h *Handlers) Update(c *fiber.Ctx) error {
	var p Patch
	if err := httpapi.DecodeJSON(c, &p); err != nil {
		return err
	}
	a, err := h.svc.Update(c.UserContext(), utils.CopyString(c.Params("slug")), p)
	if err != nil {
		return err
	}
	return c.JSON(h.toJSON(a, true))
}

// Delete answers DELETE /api/kb/articles/:slug (admins only).
func (h *Handlers) Delete(c *fiber.Ctx) error {
	if err := h.svc.Delete(c.UserContext(), utils.CopyString(c.Params("slug"))); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Feedback answers POST /api/kb/articles/:slug/feedback with {"helpful": bool}.
func (h *Handlers) Feedback(c *fiber.Ctx) error {
	var in struct {
		Helpful *bool `json:"helpful"`
	}
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	if in.Helpful == nil {
		return apperr.Invalid("helpful is required (true or false)")
	}
	if err := h.svc.Feedback(c.UserContext(), utils.CopyString(c.Params("slug")), *in.Helpful, c.IP()); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"recorded": true})
}
