package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAddAgent(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first := e.addAgent("Ann@Example.com", "Ann", RoleAdmin, adminPassword)
	if first.Email != "ann@example.com" || !first.Active || first.Role != RoleAdmin || first.ID == 0 {
		t.Fatalf("added agent = %+v", first)
	}

	tests := []struct {
		name                  string
		email, agentName      string
		role                  Role
		password              string
		want                  error // nil: succeeds
		wantInMessage         string
		wantKindInvalid       bool
		wantAgentCountChanged bool
	}{
		{name: "ok", email: "bob@example.com", agentName: "Bob", role: RoleAgent, password: agentPassword, wantAgentCountChanged: true},
		{name: "duplicate same case", email: "ann@example.com", agentName: "Ann 2", role: RoleAgent, password: agentPassword, want: ErrEmailTaken, wantInMessage: "already exists"},
		{name: "duplicate other case", email: "ANN@EXAMPLE.COM", agentName: "Ann 3", role: RoleAgent, password: agentPassword, want: ErrEmailTaken, wantInMessage: "already exists"},
		{name: "short password", email: "cy@example.com", agentName: "Cy", role: RoleAgent, password: "tooshort", want: ErrPasswordTooShort, wantInMessage: "at least 12"},
		{name: "common password", email: "cy@example.com", agentName: "Cy", role: RoleAgent, password: "password1234", want: ErrPasswordCommon, wantInMessage: "commonly used"},
		{name: "password is email", email: "cy.longname@example.com", agentName: "Cy", role: RoleAgent, password: "cy.longname@example.com", want: ErrPasswordIsEmail, wantInMessage: "email"},
		{name: "bad email", email: "not-an-email", agentName: "Cy", role: RoleAgent, password: agentPassword, wantKindInvalid: true, wantInMessage: "not a valid address"},
		{name: "bad role", email: "cy@example.com", agentName: "Cy", role: "owner", password: agentPassword, wantKindInvalid: true, wantInMessage: "role"},
		{name: "no name", email: "cy@example.com", agentName: "  ", role: RoleAgent, password: agentPassword, wantKindInvalid: true, wantInMessage: "name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := e.svc.CountAgents(ctx)
			_, err := e.svc.AddAgent(ctx, tt.email, tt.agentName, tt.role, tt.password)
			after, _ := e.svc.CountAgents(ctx)
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("err = %v, want %v", err, tt.want)
			case tt.wantKindInvalid && (err == nil || !strings.Contains(err.Error(), tt.wantInMessage)):
				t.Fatalf("err = %v, want an invalid-input error mentioning %q", err, tt.wantInMessage)
			case tt.want == nil && !tt.wantKindInvalid && err != nil:
				t.Fatalf("err = %v, want success", err)
			}
			if tt.wantInMessage != "" && !strings.Contains(err.Error(), tt.wantInMessage) {
				t.Fatalf("message %q does not say %q", err.Error(), tt.wantInMessage)
			}
			if (after != before) != tt.wantAgentCountChanged {
				t.Fatalf("agents %d -> %d", before, after)
			}
		})
	}
	if n := e.auditCount(ActionAgentAdded); n != 2 {
		t.Fatalf("agent_added audit entries = %d, want 2", n)
	}
}

func TestLoginService(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)

	sess, err := e.svc.Login(ctx, " ANN@example.com ", agentPassword, "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if sess.Agent.ID != a.ID || len(sess.Token) < 22 || sess.CSRFToken == "" {
		t.Fatalf("session = %+v", sess)
	}
	// Stored as a hash only.
	var stored []byte
	if err := e.db.R.QueryRow(`SELECT token_hash FROM sessions WHERE id = ?`, sess.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) == sess.Token || len(stored) != 32 {
		t.Fatalf("stored token_hash is not a SHA-256: %x", stored)
	}
	// A new session every time.
	sess2, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1")
	if err != nil || sess2.Token == sess.Token || sess2.ID == sess.ID {
		t.Fatalf("second Login = %+v, %v; want a new session", sess2, err)
	}

	for _, tc := range []struct{ name, email, password string }{
		{"wrong password", "ann@example.com", "not the right one"},
		{"unknown email", "nobody@example.com", agentPassword},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.svc.Login(ctx, tc.email, tc.password, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v, want ErrBadCredentials", err)
			}
		})
	}
}

// TestParallelLockout fires 50 wrong passwords at once: every one is
// counted exactly once, the account locks, and while it is locked even the
// right password is refused.
func TestParallelLockout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LoginPerMinute = -1 })
	ctx := context.Background()
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.svc.Login(ctx, "ann@example.com", "wrong password number", "192.0.2.1")
		}()
	}
	close(start)
	wg.Wait()

	var bad, locked int
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrBadCredentials):
			bad++
		case errors.Is(err, ErrTooManyAttempts):
			locked++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	// The first MaxFailures-1 can only be plain failures; the rest see the lock.
	if bad != DefaultMaxFailures-1 || locked != n-bad {
		t.Fatalf("%d bad credentials, %d locked; want %d and %d", bad, locked, DefaultMaxFailures-1, n-DefaultMaxFailures+1)
	}
	var failures int
	if err := e.db.R.QueryRow(`SELECT failures FROM login_throttle WHERE email = 'ann@example.com'`).Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if failures != n {
		t.Fatalf("recorded failures = %d, want %d", failures, n)
	}
	if got := e.auditCount(ActionLoginFailed); got != n {
		t.Fatalf("login_failed audit entries = %d, want %d", got, n)
	}
	if got := e.auditCount(ActionLockout); got != 1 {
		t.Fatalf("lockout audit entries = %d, want 1", got)
	}

	// The right password is refused with the same error while locked ...
	if _, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("right password while locked: %v, want ErrTooManyAttempts", err)
	}
	e.clock.Advance(DefaultLockoutDuration - time.Second)
	if _, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("right password just before the lock ends: %v, want ErrTooManyAttempts", err)
	}
	// ... and accepted once the cool-down is over, which resets the count.
	e.clock.Advance(time.Second)
	if _, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); err != nil {
		t.Fatalf("right password after the lock: %v", err)
	}
	var rows int
	if err := e.db.R.QueryRow(`SELECT COUNT(*) FROM login_throttle`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("throttle rows after a successful sign-in = %d, want 0", rows)
	}
}

func TestLockoutPolicy(t *testing.T) {
	ctx := context.Background()
	wrong := "definitely-not-it"
	t.Run("success resets the count", func(t *testing.T) {
		e := newEnv(t, nil)
		e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
		for range DefaultMaxFailures - 1 {
			e.svc.Login(ctx, "ann@example.com", wrong, "192.0.2.1")
		}
		if _, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		for range DefaultMaxFailures - 1 {
			if _, err := e.svc.Login(ctx, "ann@example.com", wrong, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v, want ErrBadCredentials (count should have been reset)", err)
			}
		}
	})
	t.Run("failures outside the window do not add up", func(t *testing.T) {
		e := newEnv(t, nil)
		e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
		for range DefaultMaxFailures - 1 {
			e.svc.Login(ctx, "ann@example.com", wrong, "192.0.2.1")
		}
		e.clock.Advance(DefaultFailureWindow)
		if _, err := e.svc.Login(ctx, "ann@example.com", wrong, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("err = %v, want ErrBadCredentials", err)
		}
		if _, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); err != nil {
			t.Fatalf("right password: %v", err)
		}
	})
	t.Run("unknown emails lock the same way", func(t *testing.T) {
		e := newEnv(t, nil)
		var last error
		for range DefaultMaxFailures + 1 {
			_, last = e.svc.Login(ctx, "ghost@example.com", wrong, "192.0.2.1")
		}
		if !errors.Is(last, ErrTooManyAttempts) {
			t.Fatalf("err = %v, want ErrTooManyAttempts", last)
		}
	})
	t.Run("admin reset lifts the lock", func(t *testing.T) {
		e := newEnv(t, nil)
		a := e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
		for range DefaultMaxFailures {
			e.svc.Login(ctx, "ann@example.com", wrong, "192.0.2.1")
		}
		if err := e.svc.ResetPassword(ctx, a.ID, "a-brand-new-password"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Login(ctx, "ann@example.com", "a-brand-new-password", "192.0.2.1"); err != nil {
			t.Fatalf("login after reset: %v", err)
		}
	})
}

func TestRehashOnSignIn(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	ctx := context.Background()
	weak := newEnvOn(t, db, clk, nil) // fastHash: m=64,t=1
	a := weak.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)

	stronger := HashParams{Memory: 256, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}
	strong := newEnvOn(t, db, clk, func(o *Options) { o.Hash = stronger })
	if _, err := strong.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); err != nil {
		t.Fatalf("login: %v", err)
	}
	var enc string
	if err := db.R.QueryRow(`SELECT password_hash FROM agents WHERE id = ?`, a.ID).Scan(&enc); err != nil {
		t.Fatal(err)
	}
	p, _, _, err := parseHash(enc)
	if err != nil {
		t.Fatal(err)
	}
	if p != stronger {
		t.Fatalf("stored params after sign-in = %+v, want %+v", p, stronger)
	}
	// The new hash still verifies, and a failed sign-in never rehashes.
	if _, err := strong.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); err != nil {
		t.Fatalf("login with rehashed password: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		steps []time.Duration // advance, then authenticate; all but the last must succeed
	}{
		{"idle", []time.Duration{DefaultIdleTimeout}},
		{"idle slides with use", []time.Duration{11 * time.Hour, 11 * time.Hour, 11 * time.Hour, DefaultIdleTimeout}},
		// 15 × 11h = 165h of steady use keeps the session alive; 3h more
		// reaches the 7-day absolute limit.
		{"absolute", append(repeat(11*time.Hour, 15), 3*time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
			sess, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range tt.steps {
				e.clock.Advance(d)
				_, err := e.svc.AuthenticateSession(ctx, sess.Token)
				last := i == len(tt.steps)-1
				if last && !errors.Is(err, ErrSessionNotFound) {
					t.Fatalf("step %d: err = %v, want ErrSessionNotFound", i, err)
				}
				if !last && err != nil {
					t.Fatalf("step %d: err = %v, want a live session", i, err)
				}
			}
			// Expired sessions are deleted, not just refused.
			var n int
			if err := e.db.R.QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("%d sessions left after expiry", n)
			}
		})
	}
}

func TestSessionTouchedAtMostOncePerMinute(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	sess, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	lastSeen := func() string {
		var s string
		if err := e.db.R.QueryRow(`SELECT last_seen_at FROM sessions WHERE id = ?`, sess.ID).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	start := lastSeen()
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.AuthenticateSession(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); got != start {
		t.Fatalf("last_seen_at written after 30s: %s -> %s", start, got)
	}
	e.clock.Advance(31 * time.Second)
	if _, err := e.svc.AuthenticateSession(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); got == start {
		t.Fatal("last_seen_at not written after 61s")
	}
}

func TestLastAdmin(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ann := e.addAgent("ann@example.com", "Ann", RoleAdmin, adminPassword)
	bob := e.addAgent("bob@example.com", "Bob", RoleAgent, agentPassword)
	asAnn := NewContext(ctx, ann)

	if _, err := e.svc.ChangeRole(asAnn, ann.ID, RoleAgent); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demote last admin: %v, want ErrLastAdmin", err)
	}
	if _, err := e.svc.Deactivate(asAnn, ann.ID); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("deactivate last admin: %v, want ErrLastAdmin", err)
	}
	if _, err := e.svc.ChangeRole(asAnn, bob.ID, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangeRole(asAnn, ann.ID, RoleAgent); err != nil {
		t.Fatalf("demote with another admin present: %v", err)
	}
	got, err := e.svc.GetAgent(ctx, ann.ID)
	if err != nil || got.Role != RoleAgent {
		t.Fatalf("ann = %+v, %v", got, err)
	}
	if n := e.auditCount(ActionRoleChanged); n != 2 {
		t.Fatalf("role_changed entries = %d, want 2", n)
	}
	// The actor comes from the context.
	var actor int64
	if err := e.db.R.QueryRow(`SELECT actor_id FROM audit_log WHERE action = 'role_changed' ORDER BY id LIMIT 1`).Scan(&actor); err != nil {
		t.Fatal(err)
	}
	if actor != ann.ID {
		t.Fatalf("actor = %d, want %d", actor, ann.ID)
	}
}

func TestDeactivationEndsSessionsAndTokens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.addAgent("root@example.com", "Root", RoleAdmin, adminPassword)
	bob := e.addAgent("bob@example.com", "Bob", RoleAgent, agentPassword)
	sess, err := e.svc.Login(ctx, "bob@example.com", agentPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := e.svc.CreateToken(ctx, "bob@example.com", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Deactivate(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AuthenticateSession(ctx, sess.Token); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("session after deactivation: %v", err)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, plain); !errors.Is(err, ErrInvalidAPIToken) {
		t.Fatalf("token after deactivation: %v", err)
	}
	if _, err := e.svc.Login(ctx, "bob@example.com", agentPassword, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("login while deactivated: %v, want ErrBadCredentials", err)
	}
	if _, _, err := e.svc.CreateToken(ctx, "bob@example.com", "another"); !errors.Is(err, ErrAgentInactive) {
		t.Fatalf("token for deactivated agent: %v, want ErrAgentInactive", err)
	}
	// Reactivation lets the agent sign in again but does not revive the old
	// credentials.
	if _, err := e.svc.Reactivate(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, plain); !errors.Is(err, ErrInvalidAPIToken) {
		t.Fatalf("token after reactivation: %v", err)
	}
	if _, err := e.svc.AuthenticateSession(ctx, sess.Token); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("session after reactivation: %v", err)
	}
	if _, err := e.svc.Login(ctx, "bob@example.com", agentPassword, "192.0.2.1"); err != nil {
		t.Fatalf("login after reactivation: %v", err)
	}
	for _, action := range []string{ActionAgentDeactivated, ActionAgentReactivated} {
		if n := e.auditCount(action); n != 1 {
			t.Fatalf("%s entries = %d, want 1", action, n)
		}
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.addAgent("ann@example.com", "Ann", RoleAgent, agentPassword)
	s1, _ := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1")
	s2, _ := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.2")
	const next = "a whole new passphrase"

	tests := []struct {
		name, current, next string
		want                error
	}{
		{"wrong current", "nope nope nope", next, ErrWrongPassword},
		{"weak new", agentPassword, "password1234", ErrPasswordCommon},
		{"unchanged", agentPassword, agentPassword, ErrPasswordUnchanged},
		{"ok", agentPassword, next, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.svc.ChangePassword(ctx, a.ID, s1.ID, tt.current, tt.next)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := e.svc.AuthenticateSession(ctx, s1.Token); err != nil {
		t.Fatalf("the changing session ended: %v", err)
	}
	if _, err := e.svc.AuthenticateSession(ctx, s2.Token); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("other session: %v, want ErrSessionNotFound", err)
	}
	if _, err := e.svc.Login(ctx, "ann@example.com", agentPassword, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, err := e.svc.Login(ctx, "ann@example.com", next, "192.0.2.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	bob := e.addAgent("bob@example.com", "Bob", RoleAgent, agentPassword)

	plain, tok, err := e.svc.CreateToken(ctx, "BOB@example.com", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "hd_") || len(plain) < len("hd_")+22 || tok.Prefix != plain[:10] || tok.AgentID != bob.ID {
		t.Fatalf("token %q, %+v", plain, tok)
	}
	var stored []byte
	if err := e.db.R.QueryRow(`SELECT token_hash FROM api_tokens WHERE id = ?`, tok.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), plain[3:]) || len(stored) != 32 {
		t.Fatal("token stored in clear")
	}

	for _, tc := range []struct {
		name, email, tokenName string
		want                   error
		wantMsg                string
	}{
		{name: "duplicate name", email: "bob@example.com", tokenName: "ci", want: ErrTokenNameTaken},
		{name: "empty name", email: "bob@example.com", tokenName: " ", wantMsg: "required"},
		{name: "long name", email: "bob@example.com", tokenName: strings.Repeat("n", 101), wantMsg: "longer than 100"},
		{name: "unknown agent", email: "ghost@example.com", tokenName: "x", want: ErrAgentNotFound},
		{name: "max name", email: "bob@example.com", tokenName: strings.Repeat("n", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.svc.CreateToken(ctx, tc.email, tc.tokenName)
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("err = %v, want %v", err, tc.want)
			case tc.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.wantMsg)):
				t.Fatalf("err = %v, want one saying %q", err, tc.wantMsg)
			case tc.want == nil && tc.wantMsg == "" && err != nil:
				t.Fatalf("err = %v", err)
			}
		})
	}

	// Use records last_used_at at most once a minute.
	a, _, err := e.svc.AuthenticateToken(ctx, plain)
	if err != nil || a.ID != bob.ID {
		t.Fatalf("AuthenticateToken = %+v, %v", a, err)
	}
	first := e.clock.Now()
	e.clock.Advance(20 * time.Second)
	e.svc.AuthenticateToken(ctx, plain)
	list, err := e.svc.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got Token
	for _, x := range list {
		if x.ID == tok.ID {
			got = x
		}
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(first) {
		t.Fatalf("last_used_at = %v, want %v", got.LastUsedAt, first)
	}
	e.clock.Advance(time.Minute)
	e.svc.AuthenticateToken(ctx, plain)
	list, _ = e.svc.ListTokens(ctx)
	for _, x := range list {
		if x.ID == tok.ID && !x.LastUsedAt.Equal(e.clock.Now()) {
			t.Fatalf("last_used_at = %v after a minute, want %v", x.LastUsedAt, e.clock.Now())
		}
	}

	for _, bad := range []string{"", "hd_", "hd_nottherealtoken", plain + "x", strings.ToUpper(plain)} {
		if _, _, err := e.svc.AuthenticateToken(ctx, bad); !errors.Is(err, ErrInvalidAPIToken) {
			t.Fatalf("AuthenticateToken(%q) err = %v", bad, err)
		}
	}

	if err := e.svc.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if err := e.svc.RevokeToken(ctx, 9999); !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, plain); !errors.Is(err, ErrInvalidAPIToken) {
		t.Fatalf("revoked token: %v", err)
	}
	// The name of a revoked token may be used again.
	if _, _, err := e.svc.CreateToken(ctx, "bob@example.com", "ci"); err != nil {
		t.Fatalf("reuse name of revoked token: %v", err)
	}
	if n := e.auditCount(ActionTokenRevoked); n != 1 {
		t.Fatalf("token_revoked entries = %d, want 1", n)
	}
}

func TestAuditRecordAndList(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ann := e.addAgent("ann@example.com", "Ann", RoleAdmin, adminPassword)
	actx := WithClientIP(NewContext(ctx, ann), "198.51.100.7")
	for i := range 5 {
		e.clock.Advance(time.Second)
		if err := e.svc.Record(actx, Event{Action: "article_updated", Target: "article:refund-timing", Detail: map[string]int{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []Event{
		{Action: ""},
		{Action: "Has Spaces"},
		{Action: "ok", Detail: []string{"not an object"}},
		{Action: "ok", Target: strings.Repeat("t", MaxAuditTarget+1)},
	} {
		if err := e.svc.Record(ctx, bad); err == nil {
			t.Fatalf("Record(%+v) succeeded", bad)
		}
	}

	// 6 entries: agent_added + 5 article_updated; page through 4 at a time.
	page1, next, err := e.svc.Audit(ctx, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page1) != 4 || next == "" {
		t.Fatalf("page 1: %d entries, next %q", len(page1), next)
	}
	if page1[0].Action != "article_updated" || string(page1[0].Detail) != `{"n":4}` ||
		page1[0].ActorID == nil || *page1[0].ActorID != ann.ID || page1[0].ActorEmail != "ann@example.com" ||
		page1[0].ClientIP != "198.51.100.7" || page1[0].Target != "article:refund-timing" {
		t.Fatalf("newest entry = %+v", page1[0])
	}
	for i := 1; i < len(page1); i++ {
		if page1[i].ID >= page1[i-1].ID {
			t.Fatal("entries not newest first")
		}
	}
	page2, next2, err := e.svc.Audit(ctx, 4, next)
	if err != nil {
		t.Fatal(err)
	}
	if len(page2) != 2 || next2 != "" || page2[1].Action != ActionAgentAdded || page2[1].ActorID != nil {
		t.Fatalf("page 2 = %+v, next %q", page2, next2)
	}
	if _, _, err := e.svc.Audit(ctx, 4, "abc"); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
