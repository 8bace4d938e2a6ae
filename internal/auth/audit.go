package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/printshop/helpdesk/internal/apperr"
)

// Audit actions written by this package. Other packages record their own
// (e.g. "article_updated") with Record.
const (
	ActionLoginOK          = "login_ok"
	ActionLoginFailed      = "login_failed"
	ActionLockout          = "lockout"
	ActionLogout           = "logout"
	ActionPasswordChanged  = "password_changed"
	ActionPasswordReset    = "password_reset"
	ActionTokenCreated     = "token_created"
	ActionTokenRevoked     = "token_revoked"
	ActionRoleChanged      = "role_changed"
	ActionAgentAdded       = "agent_added"
	ActionAgentRenamed     = "agent_renamed"
	ActionAgentDeactivated = "agent_deactivated"
	ActionAgentReactivated = "agent_reactivated"
)

// Event is one thing worth auditing.
type Event struct {
	Action string // lowercase name like "article_updated"; required
	Target string // what was acted on, e.g. an email or "article:refund-timing"
	Detail any    // marshalled to a JSON object; nil is {}
	// ActorID is who acted; 0 means the agent in ctx (see FromContext), if any.
	ActorID int64
	// ClientIP is where the request came from; "" means the one in ctx (see
	// WithClientIP), if any.
	ClientIP string
}

// AuditEntry is a stored Event.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	ActorID    *int64          `json:"actor_id"` // null when nobody was signed in
	ActorEmail string          `json:"actor_email,omitempty"`
	Action     string          `json:"action"`
	Target     string          `json:"target"`
	Detail     json.RawMessage `json:"detail"`
	ClientIP   string          `json:"client_ip"`
}

// Limits on audit events.
const (
	MaxAuditTarget = 300
	MaxAuditDetail = 16 << 10
	MaxAuditPage   = 200
)

var actionRE = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)

// Record writes ev to the audit log in its own transaction. Packages that
// change things worth auditing (article edits, ticket deletions) call it
// after their change commits. Never put a secret in Detail. It returns an
// apperr.KindInvalid error for a malformed event.
func (s *Service) Record(ctx context.Context, ev Event) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error { return s.audit(ctx, tx, ev) })
	if err != nil {
		return internal("auth: record audit event", err)
	}
	return nil
}

// audit writes ev inside tx, taking the actor and client address from ctx
// where ev leaves them empty.
func (s *Service) audit(ctx context.Context, tx *sql.Tx, ev Event) error {
	actor := ev.ActorID
	if actor == 0 {
		actor = actorID(ctx)
	}
	ip := ev.ClientIP
	if ip == "" {
		ip = ClientIP(ctx)
	}
	return s.auditAs(ctx, tx, actor, ip, ev)
}

// auditAs writes ev inside tx with exactly the given actor (0: none) and
// client address; it ignores ev.ActorID, ev.ClientIP and ctx. Sign-in uses
// it because the agent in ctx, if any, is not the one signing in.
func (s *Service) auditAs(ctx context.Context, tx *sql.Tx, actorID int64, ip string, ev Event) error {
	if !actionRE.MatchString(ev.Action) {
		return apperr.Invalid("audit action %q must be 1-64 lowercase letters, digits, '_' or '.'", ev.Action)
	}
	if !utf8.ValidString(ev.Target) || len(ev.Target) > MaxAuditTarget {
		return apperr.Invalid("audit target must be valid UTF-8 of at most %d bytes", MaxAuditTarget)
	}
	detail := []byte("{}")
	if ev.Detail != nil {
		b, err := json.Marshal(ev.Detail)
		if err != nil {
			return apperr.Invalid("audit detail cannot be encoded as JSON: %v", err)
		}
		if len(b) > MaxAuditDetail {
			return apperr.Invalid("audit detail is larger than %d KiB", MaxAuditDetail>>10)
		}
		if len(b) == 0 || b[0] != '{' {
			if string(b) != "null" {
				return apperr.Invalid("audit detail must be a JSON object")
			}
		} else {
			detail = b
		}
	}
	return insertAudit(ctx, tx, s.now(), actorID, ev.Action, ev.Target, detail, ip)
}

// Audit returns up to limit audit entries, newest first, starting after
// cursor ("" for the newest), and the cursor for the next page ("" when this
// is the last). It returns ErrBadCursor.
func (s *Service) Audit(ctx context.Context, limit int, cursor string) ([]AuditEntry, string, error) {
	var before int64
	if cursor != "" {
		id, ok := parseID(cursor)
		if !ok {
			return nil, "", ErrBadCursor
		}
		before = id
	}
	limit = min(max(limit, 1), MaxAuditPage)
	// One more than asked tells whether there is a next page.
	es, err := listAudit(ctx, s.db.R, before, limit+1)
	if err != nil {
		return nil, "", apperr.Internal("auth: list audit log", err)
	}
	next := ""
	if len(es) > limit {
		es = es[:limit]
		next = itoa(es[limit-1].ID)
	}
	return es, next, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
