package auth

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/httpapi"
)

// Handlers serves the sign-in and admin API. Routes are listed in the
// server's routes.go; each handler's comment names its route and the guard
// it needs. Authenticate runs before all of them.
//
//	POST   /api/auth/login                Login           (public)
//	POST   /api/auth/logout               Logout          RequireAgent
//	GET    /api/auth/me                   Me              RequireAgent
//	POST   /api/auth/password             ChangePassword  RequireAgent
//	GET    /api/admin/agents              ListAgents      RequireAdmin
//	POST   /api/admin/agents              AddAgent        RequireAdmin
//	PATCH  /api/admin/agents/:id          UpdateAgent     RequireAdmin
//	POST   /api/admin/agents/:id/password ResetPassword   RequireAdmin
//	GET    /api/admin/tokens              ListTokens      RequireAdmin
//	POST   /api/admin/tokens              CreateToken     RequireAdmin
//	DELETE /api/admin/tokens/:id          RevokeToken     RequireAdmin
//	GET    /api/admin/audit               Audit           RequireAdmin
type Handlers struct {
	svc        *Service
	cookieName string
	secure     bool
}

// NewHandlers returns the handlers for svc. Cookies are Secure and named
// SecureCookieName when svc was built with Options.SecureCookies.
func NewHandlers(svc *Service) *Handlers {
	h := &Handlers{svc: svc, cookieName: CookieName, secure: svc.opts.SecureCookies}
	if h.secure {
		h.cookieName = SecureCookieName
	}
	return h
}

// CookieName returns the name of the session cookie these handlers set.
func (h *Handlers) CookieName() string { return h.cookieName }

func (h *Handlers) setCookie(c *fiber.Ctx, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name:     h.cookieName,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(expires.Sub(h.svc.now()).Seconds()),
		Secure:   h.secure,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (h *Handlers) clearCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{
		Name:     h.cookieName,
		Value:    "",
		Path:     "/",
		Expires:  time.Unix(0, 0),
		MaxAge:   -1,
		Secure:   h.secure,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
}

type meJSON struct {
	Agent     Agent  `json:"agent"`
	CSRFToken string `json:"csrf_token"`
}

// Login answers POST /api/auth/login {"email","password"}: 200 with the
// session cookie and {"agent": {...}, "csrf_token": "..."}, 401 for a wrong
// email or password (the same answer whether or not the email exists), 429
// when the account is locked or the client sent too many attempts. The
// client is c.IP(); see Authenticate for the proxy settings it relies on.
func (h *Handlers) Login(c *fiber.Ctx) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	ctx := c.UserContext()
	ip := ClientIP(ctx)
	if ip == "" {
		ip = utils.CopyString(c.IP())
	}
	sess, err := h.svc.Login(ctx, in.Email, in.Password, ip)
	if err != nil {
		return err
	}
	h.setCookie(c, sess.Token, sess.ExpiresAt)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(meJSON{Agent: sess.Agent, CSRFToken: sess.CSRFToken})
}

// Logout answers POST /api/auth/logout (RequireAgent): it ends the current
// session and clears the cookie. With an API token it does nothing (revoke
// tokens with DELETE /api/admin/tokens/:id). 204.
func (h *Handlers) Logout(c *fiber.Ctx) error {
	if p := principalFrom(c); p != nil && p.sessionID != 0 {
		if err := h.svc.Logout(c.UserContext(), p.sessionID); err != nil {
			return err
		}
	}
	h.clearCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// Me answers GET /api/auth/me (RequireAgent): {"agent": {...},
// "csrf_token": "..."}; the CSRF token is empty for API-token requests.
func (h *Handlers) Me(c *fiber.Ctx) error {
	p := principalFrom(c)
	if p == nil {
		return ErrUnauthenticated
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(meJSON{Agent: p.agent, CSRFToken: p.csrf})
}

// ChangePassword answers POST /api/auth/password (RequireAgent)
// {"current_password","new_password"}: 204, and every other session of the
// agent is ended. 403 for a wrong current password, 400 when the new one
// breaks the policy, 429 when locked out.
func (h *Handlers) ChangePassword(c *fiber.Ctx) error {
	p := principalFrom(c)
	if p == nil {
		return ErrUnauthenticated
	}
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	if err := h.svc.ChangePassword(c.UserContext(), p.agent.ID, p.sessionID, in.Current, in.New); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// ListAgents answers GET /api/admin/agents: {"agents": [...]}.
func (h *Handlers) ListAgents(c *fiber.Ctx) error {
	as, err := h.svc.ListAgents(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"agents": as})
}

// AddAgent answers POST /api/admin/agents {"email","name","role","password"}:
// 201 with the agent; 409 for a duplicate email, 400 for bad input or a weak
// password.
func (h *Handlers) AddAgent(c *fiber.Ctx) error {
	var in struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     Role   `json:"role"`
		Password string `json:"password"`
	}
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	if in.Role == "" {
		in.Role = RoleAgent
	}
	a, err := h.svc.AddAgent(c.UserContext(), in.Email, in.Name, in.Role, in.Password)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a)
}

// UpdateAgent answers PATCH /api/admin/agents/:id with any of
// {"name","role","active"}: the updated agent. 409 when the change would
// leave no active admin.
func (h *Handlers) UpdateAgent(c *fiber.Ctx) error {
	id, err := paramID(c, ErrAgentNotFound)
	if err != nil {
		return err
	}
	var p AgentPatch
	if err := httpapi.DecodeJSON(c, &p); err != nil {
		return err
	}
	a, err := h.svc.UpdateAgent(c.UserContext(), id, p)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

// ResetPassword answers POST /api/admin/agents/:id/password {"password"}:
// 204; the agent's sessions end and any lockout is lifted.
func (h *Handlers) ResetPassword(c *fiber.Ctx) error {
	id, err := paramID(c, ErrAgentNotFound)
	if err != nil {
		return err
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	if err := h.svc.ResetPassword(c.UserContext(), id, in.Password); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// ListTokens answers GET /api/admin/tokens: {"tokens": [...]}, revoked ones
// included, newest first. The tokens themselves are never shown again.
func (h *Handlers) ListTokens(c *fiber.Ctx) error {
	ts, err := h.svc.ListTokens(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"tokens": ts})
}

// CreateToken answers POST /api/admin/tokens {"agent_id" or
// "agent_email", "name"}: 201 {"token": "hd_…", "info": {...}}. The token
// is in this answer only.
func (h *Handlers) CreateToken(c *fiber.Ctx) error {
	var in struct {
		AgentID    int64  `json:"agent_id"`
		AgentEmail string `json:"agent_email"`
		Name       string `json:"name"`
	}
	if err := httpapi.DecodeJSON(c, &in); err != nil {
		return err
	}
	var (
		plain string
		t     Token
		err   error
	)
	ctx := c.UserContext()
	switch {
	case in.AgentID != 0 && in.AgentEmail != "":
		return apperr.Invalid("give agent_id or agent_email, not both")
	case in.AgentID != 0:
		plain, t, err = h.svc.CreateTokenFor(ctx, in.AgentID, in.Name)
	case in.AgentEmail != "":
		plain, t, err = h.svc.CreateToken(ctx, in.AgentEmail, in.Name)
	default:
		return apperr.Invalid("agent_id or agent_email is required")
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"token": plain, "info": t})
}

// RevokeToken answers DELETE /api/admin/tokens/:id: 204.
func (h *Handlers) RevokeToken(c *fiber.Ctx) error {
	id, err := paramID(c, ErrTokenNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.RevokeToken(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Audit answers GET /api/admin/audit?limit=N&cursor=C: {"entries": [...],
// "next_cursor": string}, newest first; next_cursor is "" on the last page.
func (h *Handlers) Audit(c *fiber.Ctx) error {
	limit, err := httpapi.IntQuery(c, "limit", 50, MaxAuditPage)
	if err != nil {
		return err
	}
	es, next, err := h.svc.Audit(c.UserContext(), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"entries": es, "next_cursor": next})
}

// paramID parses the :id route parameter; anything but a positive integer
// cannot name a row, so it is notFound.
func paramID(c *fiber.Ctx, notFound error) (int64, error) {
	id, ok := parseID(c.Params("id"))
	if !ok {
		return 0, notFound
	}
	return id, nil
}
