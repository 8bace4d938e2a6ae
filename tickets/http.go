package tickets

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/httpapi"
)

// Handlers serves the ticket API. Routes are listed in internal/server; the
// route each handler expects is in its doc comment. Every route but
// InboundEmail needs a signed-in agent (the guard is applied in routes.go);
// InboundEmail is guarded by InboundGuard instead.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the ticket API handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

var errInboundToken = apperr.New(apperr.KindUnauthorized, "invalid or missing inbound token")

// actor is the signed-in agent making the request.
func actor(c *fiber.Ctx) (auth.Agent, error) {
	a, ok := auth.FromContext(c.UserContext())
	if !ok {
		return auth.Agent{}, auth.ErrUnauthenticated
	}
	return a, nil
}

// paramID reads a numeric route parameter; anything else is notFound.
func paramID(c *fiber.Ctx, name string, notFound error) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound
	}
	return id, nil
}

// List serves GET /api/tickets. Query parameters: queue, status (one or
// several, comma separated), assignee (agent id or email), unassigned=1,
// mine=1, tag, q (full-text search), sort (activity | sla_due), limit
// (1-100, default 25) and cursor (the previous page's next_cursor).
func (h *Handlers) List(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	limit, err := httpapi.IntQuery(c, "limit", DefaultListLimit, MaxListLimit)
	if err != nil {
		return err
	}
	f := Filter{
		Queue:  strings.TrimSpace(c.Query("queue")),
		Tag:    strings.TrimSpace(c.Query("tag")),
		Query:  c.Query("q"),
		Sort:   c.Query("sort"),
		Limit:  limit,
		Cursor: c.Query("cursor"),
	}
	if raw := c.Query("status"); raw != "" {
		for _, part := range strings.Split(raw, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			st, err := ParseStatus(part)
			if err != nil {
				return err
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if f.Unassigned, err = flagQuery(c, "unassigned"); err != nil {
		return err
	}
	if f.Mine, err = flagQuery(c, "mine"); err != nil {
		return err
	}
	if raw := strings.TrimSpace(c.Query("assignee")); raw != "" {
		if id, err := strconv.ParseInt(raw, 10, 64); err == nil && id > 0 {
			f.AssigneeID = id
		} else if strings.Contains(raw, "@") {
			f.AssigneeEmail = raw
		} else {
			return apperr.Invalid("assignee must be an agent id or email address")
		}
	}
	page, err := h.svc.List(c.UserContext(), a, f)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// flagQuery reads a boolean query parameter written 1/0 or true/false.
func flagQuery(c *fiber.Ctx, name string) (bool, error) {
	switch strings.ToLower(c.Query(name)) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, apperr.Invalid("%s must be 1 or 0", name)
}

// Get serves GET /api/tickets/:id: the ticket, its participants, its
// messages in order and the other agents on it ("viewers"). Loading it
// records the caller as viewing.
func (h *Handlers) Get(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrNotFound)
	if err != nil {
		return err
	}
	d, err := h.svc.Get(c.UserContext(), a, id)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// patchRequest is the body of PATCH /api/tickets/:id. Assignee is an agent
// id (number or digits), an agent email, or null / "" to unassign.
type patchRequest struct {
	Status   *string         `json:"status"`
	Priority *string         `json:"priority"`
	Assignee json.RawMessage `json:"assignee"`
	Tags     *[]string       `json:"tags"`
}

// Patch serves PATCH /api/tickets/:id with any of status, priority,
// assignee and tags; it answers with the updated ticket. A forbidden status
// change is a 409.
func (h *Handlers) Patch(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrNotFound)
	if err != nil {
		return err
	}
	var req patchRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	var p Patch
	if req.Status != nil {
		st, err := ParseStatus(*req.Status)
		if err != nil {
			return err
		}
		p.Status = &st
	}
	if req.Priority != nil {
		pr, err := ParsePriority(*req.Priority)
		if err != nil {
			return err
		}
		p.Priority = &pr
	}
	if req.Assignee != nil {
		ref, err := parseAssignee(req.Assignee)
		if err != nil {
			return err
		}
		p.Assignee = &ref
	}
	p.Tags = req.Tags
	t, err := h.svc.Update(c.UserContext(), a, id, p)
	if err != nil {
		return err
	}
	return c.JSON(t)
}

// parseAssignee reads the assignee of a patch: null, "", an id or an email.
func parseAssignee(raw json.RawMessage) (AssigneeRef, error) {
	bad := apperr.Invalid("assignee must be an agent id, an agent email address, or null to unassign")
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return AssigneeRef{}, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		id, err := n.Int64()
		if err != nil || id <= 0 {
			return AssigneeRef{}, bad
		}
		return AssigneeRef{ID: id}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return AssigneeRef{}, bad
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return AssigneeRef{}, nil
	case strings.Contains(s, "@"):
		return AssigneeRef{Email: s}, nil
	}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
		return AssigneeRef{ID: id}, nil
	}
	return AssigneeRef{}, bad
}

type replyRequest struct {
	Text     string   `json:"text"`
	CannedID int64    `json:"canned_id"`
	Cc       []string `json:"cc"`
	Status   *string  `json:"status"`
}

// Reply serves POST /api/tickets/:id/replies with {"text"} or
// {"canned_id"}, optionally "cc" (addresses to copy from now on) and
// "status" (default pending). It answers 201 with the stored message; the
// email is sent by the outbound worker.
func (h *Handlers) Reply(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrNotFound)
	if err != nil {
		return err
	}
	var req replyRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := ReplyInput{Text: req.Text, CannedID: req.CannedID, Cc: req.Cc}
	if req.Status != nil {
		st, err := ParseStatus(*req.Status)
		if err != nil {
			return err
		}
		in.Status = &st
	}
	m, err := h.svc.Reply(c.UserContext(), a, id, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

type noteRequest struct {
	Text string `json:"text"`
}

// Note serves POST /api/tickets/:id/notes with {"text"}: an internal note.
// It answers 201 with the stored note.
func (h *Handlers) Note(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrNotFound)
	if err != nil {
		return err
	}
	var req noteRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	m, err := h.svc.AddNote(c.UserContext(), a, id, req.Text)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

// Attachment serves GET /api/tickets/:id/attachments/:attachmentId as a
// download: always Content-Disposition: attachment, nosniff, a sandboxing
// CSP, and a Content-Type from SafeContentType, so that an HTML or SVG
// attachment can never run in the helpdesk's origin.
func (h *Handlers) Attachment(c *fiber.Ctx) error {
	if _, err := actor(c); err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrAttachmentNotFound)
	if err != nil {
		return err
	}
	aid, err := paramID(c, "attachmentId", ErrAttachmentNotFound)
	if err != nil {
		return err
	}
	f, err := h.svc.Attachment(c.UserContext(), id, aid)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, SafeContentType(f.ContentType))
	c.Set(fiber.HeaderContentDisposition, contentDisposition(f.Filename))
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; sandbox")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	// fasthttp closes the file once the body is sent.
	return c.SendStream(f.File, int(f.Size))
}

// contentDisposition builds an attachment disposition with an ASCII
// fallback name and the exact UTF-8 name (RFC 6266, RFC 5987).
func contentDisposition(name string) string {
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '/' || r == ';' {
			return '_'
		}
		return r
	}, name)
	if strings.TrimSpace(fallback) == "" {
		fallback = "attachment"
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, fallback, url.PathEscape(name))
}

type viewingRequest struct {
	Activity string `json:"activity"`
}

// Viewing serves POST /api/tickets/:id/viewing with {"activity": "viewing"
// | "replying"}, sent by the agent UI every ~15 s while a ticket is open. It
// answers {"viewers": [...]} with the other agents on the ticket.
func (h *Handlers) Viewing(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrNotFound)
	if err != nil {
		return err
	}
	var req viewingRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	vs, err := h.svc.SetViewing(c.UserContext(), a, id, req.Activity)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"viewers": vs})
}

// CannedList serves GET /api/canned: {"canned": [...]}.
func (h *Handlers) CannedList(c *fiber.Ctx) error {
	if _, err := actor(c); err != nil {
		return err
	}
	list, err := h.svc.ListCanned(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"canned": list})
}

type cannedRequest struct {
	Title *string `json:"title"`
	Body  *string `json:"body"`
}

// CannedCreate serves POST /api/canned with {"title", "body"}; 201 with the
// canned response.
func (h *Handlers) CannedCreate(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var req cannedRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	cr, err := h.svc.CreateCanned(c.UserContext(), a, CannedInput(req))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(cr)
}

// CannedUpdate serves PATCH /api/canned/:id with any of title and body.
func (h *Handlers) CannedUpdate(c *fiber.Ctx) error {
	if _, err := actor(c); err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrCannedNotFound)
	if err != nil {
		return err
	}
	var req cannedRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	cr, err := h.svc.UpdateCanned(c.UserContext(), id, CannedInput(req))
	if err != nil {
		return err
	}
	return c.JSON(cr)
}

// CannedDelete serves DELETE /api/canned/:id; 204.
func (h *Handlers) CannedDelete(c *fiber.Ctx) error {
	if _, err := actor(c); err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrCannedNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteCanned(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// CannedRender serves GET /api/tickets/:id/canned/:cid: {"text"} with the
// canned response filled in for the ticket and the caller.
func (h *Handlers) CannedRender(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	id, err := paramID(c, "id", ErrNotFound)
	if err != nil {
		return err
	}
	cid, err := paramID(c, "cid", ErrCannedNotFound)
	if err != nil {
		return err
	}
	text, err := h.svc.RenderCanned(c.UserContext(), a, id, cid)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"text": text})
}

// InboundEmail serves POST /api/inbound/email: the body is one raw RFC 5322
// message (at most MaxMessageSize, else 413). Recipients come from the
// message's To and Cc (see Service.IngestRaw). It answers 202
// {"ticket_id": N, "duplicate": bool} once the message is committed;
// ticket_id is 0 for our own mail coming back, which is recorded and
// dropped. Guard it with InboundGuard.
func (h *Handlers) InboundEmail(c *fiber.Ctx) error {
	body := c.Body()
	if len(body) > MaxMessageSize {
		return ErrTooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Invalid("request body is empty; expected a raw RFC 5322 message")
	}
	// Fiber reuses the request buffer after the handler returns; the
	// message is kept, so it is copied.
	raw := bytes.Clone(body)
	res, err := h.svc.IngestRaw(c.UserContext(), raw)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"ticket_id": res.TicketID, "duplicate": res.Duplicate})
}

// InboundGuard protects the inbound webhook with a bearer token compared in
// constant time (401 when wrong or missing). With an empty token the
// endpoint is off and answers 404, as if it did not exist.
func InboundGuard(token string) fiber.Handler {
	want := sha256.Sum256([]byte(token))
	return func(c *fiber.Ctx) error {
		if token == "" {
			return fiber.ErrNotFound
		}
		h := strings.TrimSpace(c.Get(fiber.HeaderAuthorization))
		scheme, got, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="inbound"`)
			return errInboundToken
		}
		// Comparing digests keeps the time independent of the length too.
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="inbound"`)
			return errInboundToken
		}
		return c.Next()
	}
}
