// Package auth is who may act in the helpdesk: agent and admin accounts,
// password sign-in with sessions, API tokens, the lockout and rate-limit
// policy, the authorization middleware every agent route goes through, and
// the security audit log.
//
// Secrets never rest in plain form: passwords are stored as argon2id hashes,
// session and API tokens as SHA-256 hashes, and CSRF tokens are derived from
// the session token with an HMAC, so they need no storage at all. None of
// them is ever logged.
//
// The Service holds the rules and the storage and never sees a *fiber.Ctx;
// Handlers and the middleware in http.go and middleware.go are the HTTP side.
package auth

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
)

// Role is what an agent may do. Admins manage agents, tokens and the
// knowledge base; agents work tickets and chats.
type Role string

// The roles.
const (
	RoleAdmin Role = "admin"
	RoleAgent Role = "agent"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleAgent }

// Agent is a person who signs in to the helpdesk.
type Agent struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"` // lowercased
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"-"`
}

// IsAdmin reports whether a is an active admin.
func (a Agent) IsAdmin() bool { return a.Active && a.Role == RoleAdmin }

// AgentPatch holds the fields an admin may change on an agent; nil fields
// stay as they are.
type AgentPatch struct {
	Name   *string `json:"name"`
	Role   *Role   `json:"role"`
	Active *bool   `json:"active"`
}

// Limits on agent fields.
const (
	MaxEmailLen = 254
	MaxNameLen  = 100
)

// Errors returned by the service. Callers branch on them with errors.Is.
var (
	ErrAgentNotFound  = apperr.NotFound("agent not found")
	ErrEmailTaken     = apperr.New(apperr.KindConflict, "an agent with this email address already exists")
	ErrLastAdmin      = apperr.New(apperr.KindConflict, "this is the last active admin; make another agent an admin first")
	ErrAgentInactive  = apperr.New(apperr.KindConflict, "this agent is deactivated")
	ErrBadCredentials = apperr.New(apperr.KindUnauthorized, "invalid email or password")
	// ErrTooManyAttempts answers both an account lockout and the per-client
	// rate limit, with one message, so that a locked account looks the same
	// whether or not it exists and whether or not the password was right.
	ErrTooManyAttempts   = apperr.New(apperr.KindTooMany, "too many sign-in attempts; try again later")
	ErrWrongPassword     = apperr.New(apperr.KindForbidden, "current password is incorrect")
	ErrUnauthenticated   = apperr.New(apperr.KindUnauthorized, "sign in required")
	ErrForbidden         = apperr.New(apperr.KindForbidden, "admins only")
	ErrCSRF              = apperr.New(apperr.KindForbidden, "missing or invalid X-CSRF-Token header")
	ErrTokenNotFound     = apperr.NotFound("API token not found")
	ErrTokenNameTaken    = apperr.New(apperr.KindConflict, "this agent already has an API token with this name")
	ErrBadCursor         = apperr.Invalid("cursor is not valid")
	ErrSessionNotFound   = apperr.New(apperr.KindUnauthorized, "session expired or signed out")
	ErrInvalidAPIToken   = apperr.New(apperr.KindUnauthorized, "invalid or revoked API token")
	ErrPasswordTooShort  = apperr.Invalid("password must be at least %d characters", MinPasswordLen)
	ErrPasswordTooLong   = apperr.Invalid("password must be at most %d bytes", MaxPasswordBytes)
	ErrPasswordCommon    = apperr.Invalid("password is on a list of commonly used passwords; choose a less predictable one")
	ErrPasswordIsEmail   = apperr.Invalid("password must not be the email address")
	ErrPasswordNotUTF8   = apperr.Invalid("password is not valid UTF-8 text")
	ErrPasswordUnchanged = apperr.Invalid("new password must differ from the current one")
)

// NormalizeEmail validates an email address and returns it lowercased. The
// address must be a bare addr-spec ("ann@example.com"), not a name-addr
// ("Ann <ann@example.com>").
func NormalizeEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", apperr.Invalid("email is required")
	}
	if len(e) > MaxEmailLen {
		return "", apperr.Invalid("email is longer than %d characters", MaxEmailLen)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return "", apperr.Invalid("email %q is not a valid address like name@example.com", e)
	}
	return strings.ToLower(e), nil
}

func validateName(name string) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", apperr.Invalid("name is required")
	case !utf8.ValidString(n):
		return "", apperr.Invalid("name is not valid UTF-8")
	case utf8.RuneCountInString(n) > MaxNameLen:
		return "", apperr.Invalid("name is longer than %d characters", MaxNameLen)
	case strings.ContainsAny(n, "\x00\r\n"):
		return "", apperr.Invalid("name must be a single line")
	}
	return n, nil
}

func validateRole(r Role) error {
	if !r.Valid() {
		return apperr.Invalid("role must be %q or %q", RoleAdmin, RoleAgent)
	}
	return nil
}
