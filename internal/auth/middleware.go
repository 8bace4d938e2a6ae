package auth

import (
	"crypto/subtle"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/printshop/helpdesk/internal/apperr"
)

// Session cookie names. The "__Host-" prefix makes browsers insist on
// Secure, Path=/ and no Domain, so a sibling subdomain cannot plant or
// shadow the cookie; it is only usable over https.
const (
	CookieName       = "helpdesk_session"
	SecureCookieName = "__Host-helpdesk_session"
	CSRFHeader       = "X-CSRF-Token"
)

// SecureCookiesFor reports whether cookies for a site served at publicURL
// should be Secure (and so use SecureCookieName): whether it is https.
func SecureCookiesFor(publicURL string) bool {
	u, err := url.Parse(publicURL)
	return err == nil && strings.EqualFold(u.Scheme, "https")
}

type localsKey int

const principalLocalsKey localsKey = 0

func principalFrom(c *fiber.Ctx) *principal {
	p, _ := c.Locals(principalLocalsKey).(*principal)
	return p
}

// Authenticate identifies who makes the request and lets it through either
// way. Routes decide what anonymous requests may do (see RequireAgent and
// RequireAdmin).
//
// Credentials are, in order: an "Authorization: Bearer hd_…" API token, or
// else the session cookie. A bearer value without the hd_ prefix is left for
// the route to interpret (the inbound-email endpoint has its own token) and
// the cookie is then used. Missing, invalid or expired credentials leave the
// request anonymous, so public routes keep working for someone with a stale
// cookie; a stale cookie is cleared. Only a storage failure stops the
// request.
//
// On success the acting agent is in c.Locals (AgentFrom, IsAdmin) and in
// c.UserContext() (FromContext), together with the client address for the
// audit log. The address is c.IP(): behind a reverse proxy the server must
// set Fiber's EnableTrustedProxyCheck, TrustedProxies and ProxyHeader
// ("X-Forwarded-For"), or every client shares the proxy's address (and its
// sign-in rate limit), while trusting the header from anyone would let
// clients pick their own.
func (h *Handlers) Authenticate(c *fiber.Ctx) error {
	ctx := WithClientIP(c.UserContext(), utils.CopyString(c.IP()))
	var p *principal
	if tok, ok := bearerToken(c.Get(fiber.HeaderAuthorization)); ok && strings.HasPrefix(tok, TokenPrefix) {
		a, t, err := h.svc.AuthenticateToken(ctx, tok)
		switch {
		case err == nil:
			p = &principal{agent: a, tokenID: t.ID}
		case apperr.KindOf(err) == apperr.KindInternal:
			return err
		}
	} else if cookie := c.Cookies(h.cookieName); cookie != "" {
		sess, err := h.svc.AuthenticateSession(ctx, cookie)
		switch {
		case err == nil:
			p = &principal{agent: sess.Agent, sessionID: sess.ID, csrf: sess.CSRFToken}
		case errors.Is(err, ErrSessionNotFound):
			h.clearCookie(c)
		default:
			return err
		}
	}
	if p != nil {
		c.Locals(principalLocalsKey, p)
		ctx = withPrincipal(ctx, p)
	}
	c.SetUserContext(ctx)
	return c.Next()
}

func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// RequireAgent lets only signed-in agents through: anonymous requests get
// 401. Requests authenticated by the session cookie with a method other than
// GET, HEAD or OPTIONS must also carry the session's CSRF token in the
// X-CSRF-Token header, or get 403; API-token requests need not, as a browser
// never adds an Authorization header on its own. It must run after
// Authenticate.
func RequireAgent(c *fiber.Ctx) error {
	if _, err := check(c); err != nil {
		return err
	}
	return c.Next()
}

// RequireAdmin is RequireAgent for admins only: 401 when anonymous, 403 for
// agents who are not admins.
func RequireAdmin(c *fiber.Ctx) error {
	p, err := check(c)
	if err != nil {
		return err
	}
	if !p.agent.IsAdmin() {
		return ErrForbidden
	}
	return c.Next()
}

func check(c *fiber.Ctx) (*principal, error) {
	p := principalFrom(c)
	if p == nil {
		return nil, ErrUnauthenticated
	}
	if p.sessionID != 0 && !safeMethod(c.Method()) {
		got := c.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.csrf)) != 1 {
			return nil, ErrCSRF
		}
	}
	return p, nil
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// AgentFrom returns the agent acting on the request, as found by
// Authenticate.
func AgentFrom(c *fiber.Ctx) (Agent, bool) {
	if p := principalFrom(c); p != nil {
		return p.agent, true
	}
	return Agent{}, false
}

// IsAdmin reports whether the request is made by an active admin. It fits
// kb.NewHandlers' isAdmin parameter.
func IsAdmin(c *fiber.Ctx) bool {
	a, ok := AgentFrom(c)
	return ok && a.IsAdmin()
}
