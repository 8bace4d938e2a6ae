package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
)

// Session is one signed-in browser.
type Session struct {
	ID         int64
	Agent      Agent
	Token      string // the cookie value; set only by Login, never stored
	CSRFToken  string // what the browser must send as X-CSRF-Token
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
}

// LogValue keeps the token and CSRF token out of logs even when a whole
// Session is logged by mistake.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("id", s.ID), slog.Int64("agent_id", s.Agent.ID))
}

// secretBytes is the entropy of session and API tokens: 256 bits.
const secretBytes = 32

// maxTokenLen bounds what we hash from a cookie or header.
const maxTokenLen = 128

func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// csrfToken derives a session's CSRF token from its session token, so it
// needs no storage and cannot be computed without the (HttpOnly) cookie.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("helpdesk csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Login checks an email and password and starts a new session.
//
// clientIP feeds the per-client rate limit and the audit log. Failed
// attempts are counted per email address (known or not) in SQLite: once
// MaxFailures fail within FailureWindow, the address is locked for
// LockoutDuration and every attempt, with the right password or not, gets
// ErrTooManyAttempts. The count is read, checked and written in one
// BEGIN IMMEDIATE transaction, so concurrent attempts cannot race past it.
// Unknown and deactivated accounts are verified against a dummy hash, so
// they answer in about the same time as real ones, with the same error.
//
// It returns ErrBadCredentials or ErrTooManyAttempts.
func (s *Service) Login(ctx context.Context, email, password, clientIP string) (Session, error) {
	if !s.limiter.Allow(clientIP) {
		s.log.WarnContext(ctx, "auth: sign-in rate limited", "client_ip", clientIP)
		return Session{}, ErrTooManyAttempts
	}
	key := strings.ToLower(strings.TrimSpace(email))
	if key == "" || len(key) > MaxEmailLen || !utf8.ValidString(key) || len(password) > MaxPasswordBytes {
		// No account can have these; not worth a throttle row.
		return Session{}, ErrBadCredentials
	}

	a, hash, err := getAgentByEmail(ctx, s.db.R, key)
	switch {
	case errors.Is(err, ErrAgentNotFound):
		a, hash = Agent{}, ""
	case err != nil:
		return Session{}, apperr.Internal("auth: sign in", err)
	case !a.Active:
		hash = ""
	}
	ok, params, err := s.hasher.verify(ctx, hash, password)
	if err != nil {
		if ctx.Err() != nil {
			return Session{}, apperr.Internal("auth: sign in", err)
		}
		// A stored hash we cannot read: refuse, and tell the operator.
		s.log.ErrorContext(ctx, "auth: unreadable password hash", "agent_id", a.ID, "err", err)
		ok = false
	}
	if !ok {
		return Session{}, s.failedSignIn(ctx, key, a.ID, clientIP)
	}

	// Rehash outside the transaction: argon2 is slow and the writer is
	// shared by everyone.
	var rehash string
	if params.below(s.hasher.params) {
		if rehash, err = s.hasher.hash(ctx, password); err != nil {
			s.log.WarnContext(ctx, "auth: rehash password", "agent_id", a.ID, "err", err)
			rehash = ""
		}
	}
	token, err := newSecret()
	if err != nil {
		return Session{}, apperr.Internal("auth: new session token", err)
	}
	now := s.now()
	sess := Session{Agent: a, Token: token, CSRFToken: csrfToken(token), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.opts.SessionLifetime)}
	locked := false
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		t, found, err := getThrottle(ctx, tx, key)
		if err != nil {
			return err
		}
		if found && now.Before(t.lockedUntil) {
			locked = true
			return s.auditAs(ctx, tx, 0, clientIP, Event{Action: ActionLoginFailed, Target: key, Detail: map[string]any{"reason": "locked"}})
		}
		if found {
			if err := deleteThrottle(ctx, tx, key); err != nil {
				return err
			}
		}
		if err := insertSession(ctx, tx, &sess, hashToken(token), clientIP); err != nil {
			return err
		}
		if rehash != "" {
			if err := setPasswordHash(ctx, tx, a.ID, rehash, now); err != nil {
				return err
			}
		}
		if _, err := pruneSessions(ctx, tx, now, s.opts.IdleTimeout); err != nil {
			return err
		}
		return s.auditAs(ctx, tx, a.ID, clientIP, Event{Action: ActionLoginOK, Target: key, Detail: map[string]any{"session_id": sess.ID}})
	})
	if err != nil {
		return Session{}, apperr.Internal("auth: sign in", err)
	}
	if locked {
		s.log.InfoContext(ctx, "auth: sign-in refused, account locked", "email", key, "client_ip", clientIP)
		return Session{}, ErrTooManyAttempts
	}
	if rehash != "" {
		s.log.InfoContext(ctx, "auth: password rehashed with current parameters", "agent_id", a.ID)
	}
	s.log.InfoContext(ctx, "auth: login ok", "agent_id", a.ID, "email", a.Email, "session_id", sess.ID, "client_ip", clientIP)
	return sess, nil
}

// failedSignIn counts one failed attempt for email and returns the error to
// answer it with: ErrTooManyAttempts when the address is (now) locked, else
// ErrBadCredentials. agentID is 0 for unknown addresses.
func (s *Service) failedSignIn(ctx context.Context, email string, agentID int64, clientIP string) error {
	var wasLocked, lockedNow bool
	var failures int
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		// No actor: nobody has proved who they are.
		wasLocked, lockedNow, failures, err = s.countFailure(ctx, tx, email, 0, clientIP, "bad_credentials")
		return err
	})
	if err != nil {
		return apperr.Internal("auth: record failed sign-in", err)
	}
	s.log.InfoContext(ctx, "auth: login failed", "email", email, "agent_id", agentID, "failures", failures, "client_ip", clientIP)
	if lockedNow {
		s.log.WarnContext(ctx, "auth: account locked", "email", email, "agent_id", agentID, "for", s.opts.LockoutDuration.String())
	}
	if wasLocked || lockedNow {
		return ErrTooManyAttempts
	}
	return ErrBadCredentials
}

// countFailure is the read-check-increment of the lockout policy; it must
// run inside a write transaction. actorID goes into the audit entries.
func (s *Service) countFailure(ctx context.Context, tx *sql.Tx, email string, actorID int64, clientIP, reason string) (wasLocked, lockedNow bool, failures int, err error) {
	now := s.now()
	t, found, err := getThrottle(ctx, tx, email)
	if err != nil {
		return false, false, 0, err
	}
	if !found || !now.Before(t.windowStart.Add(s.opts.FailureWindow)) {
		t.failures, t.windowStart = 0, now
	}
	t.failures++
	wasLocked = now.Before(t.lockedUntil)
	if wasLocked {
		reason = "locked"
	} else if t.failures >= s.opts.MaxFailures {
		t.lockedUntil = now.Add(s.opts.LockoutDuration)
		lockedNow = true
	}
	if err := putThrottle(ctx, tx, email, t, now); err != nil {
		return false, false, 0, err
	}
	if err := s.auditAs(ctx, tx, actorID, clientIP, Event{Action: ActionLoginFailed, Target: email,
		Detail: map[string]any{"reason": reason, "failures": t.failures}}); err != nil {
		return false, false, 0, err
	}
	if lockedNow {
		if err := s.auditAs(ctx, tx, actorID, clientIP, Event{Action: ActionLockout, Target: email,
			Detail: map[string]any{"failures": t.failures, "locked_until": t.lockedUntil}}); err != nil {
			return false, false, 0, err
		}
	}
	keep := max(s.opts.FailureWindow, s.opts.LockoutDuration)
	if err := pruneThrottle(ctx, tx, now, keep); err != nil {
		return false, false, 0, err
	}
	return wasLocked, lockedNow, t.failures, nil
}

// AuthenticateSession returns the live session whose cookie value is token.
// A session ends after IdleTimeout without requests, SessionLifetime after
// sign-in, at logout, or when its agent is deactivated. It returns
// ErrSessionNotFound for any session that is not live.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > maxTokenLen {
		return Session{}, ErrSessionNotFound
	}
	sess, err := getSession(ctx, s.db.R, hashToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrSessionNotFound
	}
	if err != nil {
		return Session{}, apperr.Internal("auth: get session", err)
	}
	now := s.now()
	if !sess.Agent.Active {
		return Session{}, ErrSessionNotFound
	}
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.opts.IdleTimeout {
		if err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := deleteSession(ctx, tx, sess.ID)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		}); err != nil {
			s.log.WarnContext(ctx, "auth: delete expired session", "session_id", sess.ID, "err", err)
		}
		return Session{}, ErrSessionNotFound
	}
	if now.Sub(sess.LastSeenAt) >= touchInterval {
		if _, err := s.db.W.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, fmtTime(now), sess.ID); err != nil {
			// The session stays valid; it just may end a minute early.
			s.log.WarnContext(ctx, "auth: touch session", "session_id", sess.ID, "err", err)
		} else {
			sess.LastSeenAt = now
		}
	}
	sess.CSRFToken = csrfToken(token)
	return sess, nil
}

// Logout ends the session with the given id. Ending a session that has
// already ended is not an error.
func (s *Service) Logout(ctx context.Context, sessionID int64) error {
	var agentID int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		agentID, err = deleteSession(ctx, tx, sessionID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.auditAs(ctx, tx, agentID, ClientIP(ctx), Event{Action: ActionLogout, Target: "session:" + itoa(sessionID)})
	})
	if err != nil {
		return apperr.Internal("auth: logout", err)
	}
	if agentID != 0 {
		s.log.InfoContext(ctx, "auth: logout", "agent_id", agentID, "session_id", sessionID)
	}
	return nil
}

// ChangePassword replaces agentID's password after checking the current
// one, and ends every other session of the agent (keepSession, the one making
// the change, stays; 0 keeps none). A wrong current password counts as a
// failed sign-in toward the lockout. It returns ErrWrongPassword,
// ErrTooManyAttempts, ErrPasswordUnchanged, a password policy error, or
// ErrAgentNotFound.
func (s *Service) ChangePassword(ctx context.Context, agentID, keepSession int64, current, next string) error {
	a, hash, err := getAgentByID(ctx, s.db.R, agentID)
	if err != nil {
		return internal("auth: change password", err)
	}
	if !a.Active {
		return ErrUnauthenticated
	}
	ok := false
	if len(current) <= MaxPasswordBytes {
		ok, _, err = s.hasher.verify(ctx, hash, current)
		if err != nil {
			return apperr.Internal("auth: verify password", err)
		}
	}
	ip := ClientIP(ctx)
	if !ok {
		var locked bool
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			was, now, _, err := s.countFailure(ctx, tx, a.Email, a.ID, ip, "wrong_current_password")
			locked = was || now
			return err
		})
		if err != nil {
			return apperr.Internal("auth: record failed password check", err)
		}
		s.log.InfoContext(ctx, "auth: password change refused, wrong current password", "agent_id", a.ID)
		if locked {
			return ErrTooManyAttempts
		}
		return ErrWrongPassword
	}
	if err := CheckPassword(next, a.Email); err != nil {
		return err
	}
	if next == current {
		return ErrPasswordUnchanged
	}
	newHash, err := s.hasher.hash(ctx, next)
	if err != nil {
		return apperr.Internal("auth: hash password", err)
	}
	locked := false
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		t, found, err := getThrottle(ctx, tx, a.Email)
		if err != nil {
			return err
		}
		if found && now.Before(t.lockedUntil) {
			locked = true
			return nil
		}
		if err := deleteThrottle(ctx, tx, a.Email); err != nil {
			return err
		}
		if err := setPasswordHash(ctx, tx, a.ID, newHash, now); err != nil {
			return err
		}
		n, err := deleteAgentSessions(ctx, tx, a.ID, keepSession)
		if err != nil {
			return err
		}
		return s.auditAs(ctx, tx, a.ID, ip, Event{Action: ActionPasswordChanged, Target: a.Email,
			Detail: map[string]any{"other_sessions_ended": n}})
	})
	if err != nil {
		return apperr.Internal("auth: change password", err)
	}
	if locked {
		return ErrTooManyAttempts
	}
	s.log.InfoContext(ctx, "auth: password changed", "agent_id", a.ID, "email", a.Email)
	return nil
}

// PruneSessions deletes sessions past their idle or absolute expiry and
// returns how many. Expired sessions are already refused; this only reclaims
// space, and sign-in does it too.
func (s *Service) PruneSessions(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = pruneSessions(ctx, tx, s.now(), s.opts.IdleTimeout)
		return err
	})
	if err != nil {
		return 0, apperr.Internal("auth: prune sessions", err)
	}
	return n, nil
}
