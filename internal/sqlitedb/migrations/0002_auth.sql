-- Agent accounts, their sign-in sessions and API tokens, the per-email
-- sign-in throttle, and the security audit log. Owned by internal/auth.
--
-- Times are UTC text in a fixed-width form (2006-01-02T15:04:05.000000000Z)
-- so that comparing them as strings compares them as times.

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE, -- stored lowercased
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    password_hash TEXT NOT NULL,                       -- PHC string: $argon2id$v=19$m=..,t=..,p=..$salt$hash
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- One row per signed-in browser. The cookie carries a random token; only its
-- SHA-256 is stored, so a copy of the database cannot be used to sign in.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    agent_id     INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL, -- idle expiry slides from here; written at most once a minute
    expires_at   TEXT NOT NULL, -- absolute expiry
    client_ip    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_agent ON sessions (agent_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- API tokens act as their agent. Only the SHA-256 of the token is stored;
-- prefix keeps its first characters so people can tell tokens apart.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,          -- written at most once a minute
    revoked_at   TEXT
);
-- A name is unique among an agent's live tokens; a revoked token's name may
-- be reused.
CREATE UNIQUE INDEX api_tokens_agent_name ON api_tokens (agent_id, name) WHERE revoked_at IS NULL;

-- Failed sign-in attempts per email address, known or not (so that a lockout
-- does not reveal whether an account exists). Read, checked and incremented
-- inside one BEGIN IMMEDIATE transaction; a successful sign-in deletes the row.
CREATE TABLE login_throttle (
    email        TEXT PRIMARY KEY, -- lowercased, as typed
    failures     INTEGER NOT NULL, -- failed attempts since window_start
    window_start TEXT NOT NULL,
    locked_until TEXT,
    updated_at   TEXT NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);

-- Security-relevant events, newest last. actor_id is NULL for events with no
-- signed-in actor (failed sign-ins, the command line).
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor_id  INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '{}', -- JSON object
    client_ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON audit_log (actor_id);
