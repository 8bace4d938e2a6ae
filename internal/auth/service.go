package auth

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"time"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/iplimit"
	"github.com/printshop/helpdesk/internal/sqlitedb"
)

// Options configures a Service. Zero fields take the documented defaults.
type Options struct {
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()

	// SecureCookies marks the session cookie Secure and names it
	// "__Host-helpdesk_session"; set it when the public URL is https (see
	// SecureCookiesFor).
	SecureCookies bool

	// Hash is the argon2id cost for new hashes; zero fields take
	// DefaultHashParams' values. Tests lower it for speed.
	Hash HashParams
	// HashConcurrency bounds how many hashes run at once; default GOMAXPROCS.
	HashConcurrency int

	IdleTimeout     time.Duration // default 12h; a session unused this long ends
	SessionLifetime time.Duration // default 7 days; a session ends this long after sign-in regardless

	MaxFailures     int           // default 5 failed sign-ins ...
	FailureWindow   time.Duration // default 15m ... within this window ...
	LockoutDuration time.Duration // default 15m ... lock the account this long

	LoginPerMinute    int // default 20 sign-in attempts per client address per minute; negative disables
	LoginBurst        int // default LoginPerMinute
	MaxTrackedClients int // default 10,000 client addresses remembered by the rate limiter
}

// Defaults for Options.
const (
	DefaultIdleTimeout     = 12 * time.Hour
	DefaultSessionLifetime = 7 * 24 * time.Hour
	DefaultMaxFailures     = 5
	DefaultFailureWindow   = 15 * time.Minute
	DefaultLockoutDuration = 15 * time.Minute
	DefaultLoginPerMinute  = 20

	// touchInterval is how stale a session's last-seen or a token's
	// last-used time may get before a request writes it again; it keeps
	// authenticated reads from turning into one write each.
	touchInterval = time.Minute
)

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := DefaultHashParams
	if o.Hash.Memory == 0 {
		o.Hash.Memory = d.Memory
	}
	if o.Hash.Time == 0 {
		o.Hash.Time = d.Time
	}
	if o.Hash.Threads == 0 {
		o.Hash.Threads = d.Threads
	}
	if o.Hash.KeyLen == 0 {
		o.Hash.KeyLen = d.KeyLen
	}
	if o.Hash.SaltLen == 0 {
		o.Hash.SaltLen = d.SaltLen
	}
	if o.HashConcurrency <= 0 {
		o.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = DefaultSessionLifetime
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = DefaultFailureWindow
	}
	if o.LockoutDuration <= 0 {
		o.LockoutDuration = DefaultLockoutDuration
	}
	if o.LoginPerMinute == 0 {
		o.LoginPerMinute = DefaultLoginPerMinute
	}
	if o.LoginBurst <= 0 {
		o.LoginBurst = max(1, o.LoginPerMinute)
	}
	if o.MaxTrackedClients <= 0 {
		o.MaxTrackedClients = 10_000
	}
	return o
}

// Service manages agents, sign-in, sessions, API tokens and the audit log.
// It is safe for concurrent use.
type Service struct {
	db      *sqlitedb.DB
	opts    Options
	now     func() time.Time
	log     *slog.Logger
	hasher  *hasher
	limiter *iplimit.Limiter
}

// New returns a Service storing its data in db.
func New(db *sqlitedb.DB, opts Options) *Service {
	opts = opts.withDefaults()
	return &Service{
		db:      db,
		opts:    opts,
		now:     func() time.Time { return opts.Now().UTC() },
		log:     opts.Logger,
		hasher:  newHasher(opts.Hash, opts.HashConcurrency),
		limiter: iplimit.New(opts.LoginPerMinute, opts.LoginBurst, opts.MaxTrackedClients, opts.Now),
	}
}

// internal wraps a storage failure unless err already is an apperr with a
// public kind, which passes through unchanged.
func internal(op string, err error) error {
	if apperr.KindOf(err) != apperr.KindInternal {
		return err
	}
	return apperr.Internal(op, err)
}

// --- request context ---

type ctxKey int

const (
	principalCtxKey ctxKey = iota
	clientIPCtxKey
)

// principal is who is acting on a request and how they proved it.
type principal struct {
	agent     Agent
	sessionID int64  // set when signed in with a session cookie
	tokenID   int64  // set when signed in with an API token
	csrf      string // the CSRF token a cookie session must echo
}

// NewContext returns a copy of ctx that carries agent as the acting agent.
// The middleware does this for every authenticated request; tests and
// background jobs may use it directly.
func NewContext(ctx context.Context, agent Agent) context.Context {
	return context.WithValue(ctx, principalCtxKey, &principal{agent: agent})
}

func withPrincipal(ctx context.Context, p *principal) context.Context {
	return context.WithValue(ctx, principalCtxKey, p)
}

func principalFromContext(ctx context.Context) *principal {
	p, _ := ctx.Value(principalCtxKey).(*principal)
	return p
}

// FromContext returns the acting agent stored in ctx by the middleware or
// NewContext.
func FromContext(ctx context.Context) (Agent, bool) {
	if p := principalFromContext(ctx); p != nil {
		return p.agent, true
	}
	return Agent{}, false
}

// WithClientIP returns a copy of ctx that carries the client address, which
// Record writes into audit entries.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPCtxKey, ip)
}

// ClientIP returns the client address stored by WithClientIP, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPCtxKey).(string)
	return ip
}

func actorID(ctx context.Context) int64 {
	if a, ok := FromContext(ctx); ok {
		return a.ID
	}
	return 0
}

// --- agents ---

// AddAgent creates an active agent. It is what `helpdesk agent add` and
// POST /api/admin/agents call. It returns an apperr.KindInvalid error for a
// bad email, name, role or a password the policy rejects (see
// CheckPassword), and ErrEmailTaken when an agent already has the email
// (compared case-insensitively).
func (s *Service) AddAgent(ctx context.Context, email, name string, role Role, password string) (Agent, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Agent{}, err
	}
	if name, err = validateName(name); err != nil {
		return Agent{}, err
	}
	if err := validateRole(role); err != nil {
		return Agent{}, err
	}
	if err := CheckPassword(password, email); err != nil {
		return Agent{}, err
	}
	// Answer a duplicate before spending a hash on it; the unique index
	// still decides when two requests race.
	if _, _, err := getAgentByEmail(ctx, s.db.R, email); err == nil {
		return Agent{}, ErrEmailTaken
	} else if !errors.Is(err, ErrAgentNotFound) {
		return Agent{}, apperr.Internal("auth: add agent", err)
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return Agent{}, apperr.Internal("auth: hash password", err)
	}
	now := s.now()
	a := Agent{Email: email, Name: name, Role: role, Active: true, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertAgent(ctx, tx, &a, hash); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: ActionAgentAdded, Target: a.Email, Detail: map[string]any{"agent_id": a.ID, "role": a.Role}})
	})
	if err != nil {
		return Agent{}, internal("auth: add agent", err)
	}
	s.log.InfoContext(ctx, "auth: agent added", "agent_id", a.ID, "email", a.Email, "role", a.Role, "by", actorID(ctx))
	return a, nil
}

// ListAgents returns every agent, active or not, ordered by email.
func (s *Service) ListAgents(ctx context.Context) ([]Agent, error) {
	as, err := listAgents(ctx, s.db.R)
	if err != nil {
		return nil, apperr.Internal("auth: list agents", err)
	}
	return as, nil
}

// GetAgent returns the agent with the given id. It returns ErrAgentNotFound.
func (s *Service) GetAgent(ctx context.Context, id int64) (Agent, error) {
	a, _, err := getAgentByID(ctx, s.db.R, id)
	if err != nil {
		return Agent{}, internal("auth: get agent", err)
	}
	return a, nil
}

// AgentByEmail returns the agent with the given email, compared
// case-insensitively. It returns ErrAgentNotFound.
func (s *Service) AgentByEmail(ctx context.Context, email string) (Agent, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return Agent{}, ErrAgentNotFound
	}
	a, _, err := getAgentByEmail(ctx, s.db.R, e)
	if err != nil {
		return Agent{}, internal("auth: get agent", err)
	}
	return a, nil
}

// CountAgents returns how many agents exist, active or not. The server uses
// it to tell whoever starts it how to create the first admin.
func (s *Service) CountAgents(ctx context.Context) (int, error) {
	var n int
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM agents`).Scan(&n); err != nil {
		return 0, apperr.Internal("auth: count agents", err)
	}
	return n, nil
}

// UpdateAgent applies p to the agent with the given id in one transaction.
// Deactivating an agent ends all of its sessions and revokes all of its API
// tokens. It returns ErrAgentNotFound, an apperr.KindInvalid error for a bad
// name or role, and ErrLastAdmin when the change would leave no active admin
// (so the last admin can neither demote nor deactivate themselves).
func (s *Service) UpdateAgent(ctx context.Context, id int64, p AgentPatch) (Agent, error) {
	if p.Name != nil {
		n, err := validateName(*p.Name)
		if err != nil {
			return Agent{}, err
		}
		p.Name = &n
	}
	if p.Role != nil {
		if err := validateRole(*p.Role); err != nil {
			return Agent{}, err
		}
	}
	var a Agent
	var events []Event
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		before, _, err := getAgentByID(ctx, tx, id)
		if err != nil {
			return err
		}
		a = before
		if p.Name != nil {
			a.Name = *p.Name
		}
		if p.Role != nil {
			a.Role = *p.Role
		}
		if p.Active != nil {
			a.Active = *p.Active
		}
		if a == before {
			return nil
		}
		if before.IsAdmin() && !a.IsAdmin() {
			n, err := countActiveAdmins(ctx, tx)
			if err != nil {
				return err
			}
			if n <= 1 {
				return ErrLastAdmin
			}
		}
		a.UpdatedAt = s.now()
		if err := updateAgent(ctx, tx, a); err != nil {
			return err
		}
		if a.Name != before.Name {
			events = append(events, Event{Action: ActionAgentRenamed, Target: a.Email,
				Detail: map[string]any{"agent_id": a.ID, "from": before.Name, "to": a.Name}})
		}
		if a.Role != before.Role {
			events = append(events, Event{Action: ActionRoleChanged, Target: a.Email,
				Detail: map[string]any{"agent_id": a.ID, "from": before.Role, "to": a.Role}})
		}
		switch {
		case before.Active && !a.Active:
			sessions, err := deleteAgentSessions(ctx, tx, a.ID, 0)
			if err != nil {
				return err
			}
			tokens, err := revokeAgentTokens(ctx, tx, a.ID, a.UpdatedAt)
			if err != nil {
				return err
			}
			events = append(events, Event{Action: ActionAgentDeactivated, Target: a.Email,
				Detail: map[string]any{"agent_id": a.ID, "sessions_ended": sessions, "tokens_revoked": tokens}})
		case !before.Active && a.Active:
			events = append(events, Event{Action: ActionAgentReactivated, Target: a.Email, Detail: map[string]any{"agent_id": a.ID}})
		}
		for _, ev := range events {
			if err := s.audit(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Agent{}, internal("auth: update agent", err)
	}
	for _, ev := range events {
		s.log.InfoContext(ctx, "auth: "+ev.Action, "agent_id", a.ID, "email", a.Email, "by", actorID(ctx))
	}
	return a, nil
}

// Deactivate marks the agent inactive, ends its sessions and revokes its API
// tokens. Errors are those of UpdateAgent.
func (s *Service) Deactivate(ctx context.Context, id int64) (Agent, error) {
	f := false
	return s.UpdateAgent(ctx, id, AgentPatch{Active: &f})
}

// Reactivate marks the agent active again. Its old sessions and tokens stay
// ended: it signs in afresh and needs new tokens.
func (s *Service) Reactivate(ctx context.Context, id int64) (Agent, error) {
	t := true
	return s.UpdateAgent(ctx, id, AgentPatch{Active: &t})
}

// ChangeRole sets the agent's role. Errors are those of UpdateAgent.
func (s *Service) ChangeRole(ctx context.Context, id int64, role Role) (Agent, error) {
	return s.UpdateAgent(ctx, id, AgentPatch{Role: &role})
}

// ResetPassword sets a new password for the agent with the given id, chosen
// by an admin. It ends the agent's sessions (except the caller's own, when
// admins reset their own password) and lifts a lockout. It returns
// ErrAgentNotFound or a password policy error.
func (s *Service) ResetPassword(ctx context.Context, id int64, password string) error {
	a, _, err := getAgentByID(ctx, s.db.R, id)
	if err != nil {
		return internal("auth: reset password", err)
	}
	if err := CheckPassword(password, a.Email); err != nil {
		return err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return apperr.Internal("auth: hash password", err)
	}
	var keep int64
	if p := principalFromContext(ctx); p != nil && p.agent.ID == id {
		keep = p.sessionID
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if err := setPasswordHash(ctx, tx, id, hash, now); err != nil {
			return err
		}
		n, err := deleteAgentSessions(ctx, tx, id, keep)
		if err != nil {
			return err
		}
		if err := deleteThrottle(ctx, tx, a.Email); err != nil {
			return err
		}
		return s.audit(ctx, tx, Event{Action: ActionPasswordReset, Target: a.Email,
			Detail: map[string]any{"agent_id": a.ID, "sessions_ended": n}})
	})
	if err != nil {
		return internal("auth: reset password", err)
	}
	s.log.InfoContext(ctx, "auth: password reset", "agent_id", a.ID, "email", a.Email, "by", actorID(ctx))
	return nil
}

func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
