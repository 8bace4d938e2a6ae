package settings

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/printshop/helpdesk/internal/httpapi"
)

// Handlers serves the settings API. Routes are listed in internal/server;
// every one is for admins only (auth.RequireAdmin).
//
//	GET /api/admin/hours              GetHours
//	PUT /api/admin/hours              PutHours
//	GET /api/admin/inboxes            ListInboxes
//	PUT /api/admin/inboxes/:address   PutInbox
type Handlers struct {
	svc *Service
}

// NewHandlers returns the settings handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// GetHours answers GET /api/admin/hours: {"hours", "timezone", "holidays",
// "source", "updated_at", "open", "next_change"}.
func (h *Handlers) GetHours(c *fiber.Ctx) error {
	v, err := h.svc.Hours(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

// PutHours answers PUT /api/admin/hours {"hours", "timezone", "holidays":
// ["YYYY-MM-DD", …]}: the saved setting as GetHours shows it, in force at
// once. 400 names the field that is wrong.
func (h *Handlers) PutHours(c *fiber.Ctx) error {
	var in Hours
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	v, err := h.svc.SetHours(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// ListInboxes answers GET /api/admin/inboxes: {"inboxes": [...]}.
func (h *Handlers) ListInboxes(c *fiber.Ctx) error {
	list, err := h.svc.Inboxes(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"inboxes": list})
}

// PutInbox answers PUT /api/admin/inboxes/:address {"ack_text",
// "ack_enabled"}: the inbox as ListInboxes shows it. An empty ack_text
// means the default text. 404 for an address that is not an inbox.
func (h *Handlers) PutInbox(c *fiber.Ctx) error {
	addr, err := url.PathUnescape(utils.CopyString(c.Params("address")))
	if err != nil {
		return ErrUnknownInbox
	}
	var in InboxInput
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	v, err := h.svc.SetInbox(c.UserContext(), addr, in)
	if err != nil {
		return err
	}
	return c.JSON(v)
}
