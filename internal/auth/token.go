package auth

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
)

// TokenPrefix starts every API token, so that a leaked one is recognisable
// (and findable by secret scanners).
const TokenPrefix = "hd_"

// displayPrefixLen is how much of a token is kept in clear to tell tokens
// apart in lists: "hd_" and 7 characters, 42 of its 256 bits.
const displayPrefixLen = len(TokenPrefix) + 7

// MaxTokenNameLen bounds an API token's name.
const MaxTokenNameLen = 100

// Token describes an API token. The token itself is shown once, when it is
// created, and never stored.
type Token struct {
	ID         int64      `json:"id"`
	AgentID    int64      `json:"agent_id"`
	AgentEmail string     `json:"agent_email"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"` // the token's first characters
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func validateTokenName(name string) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", apperr.Invalid("token name is required")
	case !utf8.ValidString(n):
		return "", apperr.Invalid("token name is not valid UTF-8")
	case utf8.RuneCountInString(n) > MaxTokenNameLen:
		return "", apperr.Invalid("token name is longer than %d characters", MaxTokenNameLen)
	case strings.ContainsAny(n, "\x00\r\n"):
		return "", apperr.Invalid("token name must be a single line")
	}
	return n, nil
}

// CreateToken creates an API token acting as the agent with the given email
// and returns the token (shown this once) and its description. It is what
// `helpdesk token create` calls. It returns ErrAgentNotFound,
// ErrAgentInactive, ErrTokenNameTaken, or an apperr.KindInvalid error for a
// bad name.
func (s *Service) CreateToken(ctx context.Context, agentEmail, name string) (string, Token, error) {
	a, err := s.AgentByEmail(ctx, agentEmail)
	if err != nil {
		return "", Token{}, err
	}
	return s.createToken(ctx, a.ID, name)
}

// CreateTokenFor is CreateToken for an agent given by id.
func (s *Service) CreateTokenFor(ctx context.Context, agentID int64, name string) (string, Token, error) {
	return s.createToken(ctx, agentID, name)
}

func (s *Service) createToken(ctx context.Context, agentID int64, name string) (string, Token, error) {
	name, err := validateTokenName(name)
	if err != nil {
		return "", Token{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return "", Token{}, apperr.Internal("auth: new API token", err)
	}
	plain := TokenPrefix + secret
	t := Token{AgentID: agentID, Name: name, Prefix: plain[:displayPrefixLen], CreatedAt: s.now()}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		a, _, err := getAgentByID(ctx, tx, agentID)
		if err != nil {
			return err
		}
		if !a.Active {
			return ErrAgentInactive
		}
		t.AgentEmail = a.Email
		if err := insertToken(ctx, tx, &t, hashToken(plain)); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: ActionTokenCreated, Target: "token:" + itoa(t.ID),
			Detail: map[string]any{"agent_id": a.ID, "agent_email": a.Email, "name": t.Name, "prefix": t.Prefix}})
	})
	if err != nil {
		return "", Token{}, internal("auth: create API token", err)
	}
	s.log.InfoContext(ctx, "auth: token created", "token_id", t.ID, "agent_id", t.AgentID, "email", t.AgentEmail, "by", actorID(ctx))
	return plain, t, nil
}

// ListTokens returns every API token, revoked ones included, newest first.
func (s *Service) ListTokens(ctx context.Context) ([]Token, error) {
	ts, err := listTokens(ctx, s.db.R)
	if err != nil {
		return nil, apperr.Internal("auth: list API tokens", err)
	}
	return ts, nil
}

// RevokeToken revokes the API token with the given id; revoking a revoked
// token again is not an error. It returns ErrTokenNotFound.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	var t Token
	changed := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if t, err = getToken(ctx, tx, id); err != nil {
			return err
		}
		if t.RevokedAt != nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ?`, fmtTime(s.now()), id); err != nil {
			return err
		}
		changed = true
		return s.audit(ctx, tx, Event{Action: ActionTokenRevoked, Target: "token:" + itoa(t.ID),
			Detail: map[string]any{"agent_id": t.AgentID, "agent_email": t.AgentEmail, "name": t.Name}})
	})
	if err != nil {
		return internal("auth: revoke API token", err)
	}
	if changed {
		s.log.InfoContext(ctx, "auth: token revoked", "token_id", t.ID, "agent_id", t.AgentID, "by", actorID(ctx))
	}
	return nil
}

// AuthenticateToken returns the agent a live API token acts as, and the
// token. It returns ErrInvalidAPIToken for an unknown or revoked token, or
// one whose agent is deactivated.
func (s *Service) AuthenticateToken(ctx context.Context, plain string) (Agent, Token, error) {
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) > maxTokenLen {
		return Agent{}, Token{}, ErrInvalidAPIToken
	}
	t, a, err := getTokenByHash(ctx, s.db.R, hashToken(plain))
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, Token{}, ErrInvalidAPIToken
	}
	if err != nil {
		return Agent{}, Token{}, apperr.Internal("auth: get API token", err)
	}
	if t.RevokedAt != nil || !a.Active {
		return Agent{}, Token{}, ErrInvalidAPIToken
	}
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchInterval {
		if _, err := s.db.W.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, fmtTime(now), t.ID); err != nil {
			s.log.WarnContext(ctx, "auth: touch API token", "token_id", t.ID, "err", err)
		} else {
			t.LastUsedAt = &now
		}
	}
	return a, t, nil
}
