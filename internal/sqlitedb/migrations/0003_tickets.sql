-- The email-to-ticket inbox and the agents' queue. Owned by package tickets.
--
-- Times are UTC text in a fixed-width form (2006-01-02T15:04:05.000000000Z)
-- so that comparing them as strings compares them as times; the list's
-- cursor and sort rely on it.

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY,
    subject           TEXT NOT NULL,                -- without Re:/Fwd: prefixes and [#N] tokens
    status            TEXT NOT NULL DEFAULT 'new'
                      CHECK (status IN ('new', 'open', 'pending', 'solved', 'closed')),
    priority          TEXT NOT NULL DEFAULT 'normal'
                      CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    queue             TEXT NOT NULL,
    inbox             TEXT NOT NULL,                -- inbox address the ticket came in to; replies are sent from it
    requester_email   TEXT NOT NULL,                -- lowercased; '' when the message had no usable From
    requester_name    TEXT NOT NULL DEFAULT '',
    assignee_id       INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    followup_of       INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,                -- last activity: any message, note or change
    sla_due_at        TEXT,                         -- first response due; NULL when the schedule never opens
    first_response_at TEXT,                         -- first agent reply
    solved_at         TEXT,                         -- last time it was solved; cleared on reopen
    closed_at         TEXT
);
CREATE INDEX tickets_activity ON tickets (updated_at, id);
CREATE INDEX tickets_queue_activity ON tickets (queue, updated_at, id);
CREATE INDEX tickets_status_activity ON tickets (status, updated_at, id);
CREATE INDEX tickets_assignee_activity ON tickets (assignee_id, updated_at, id);
CREATE INDEX tickets_sla ON tickets ((first_response_at IS NOT NULL), sla_due_at, id);
CREATE INDEX tickets_requester ON tickets (requester_email);

-- Tags, normalized by the service (lower case, [a-z0-9._:-]).
CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
) WITHOUT ROWID;
CREATE INDEX ticket_tags_tag ON ticket_tags (tag, ticket_id);

-- People copied on the conversation besides the requester: the To and Cc
-- of inbound mail other than our inboxes, and addresses agents add. They
-- are copied on replies and may thread mail into the ticket by its number.
CREATE TABLE ticket_participants (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    email     TEXT NOT NULL, -- lowercased
    name      TEXT NOT NULL DEFAULT '',
    added_at  TEXT NOT NULL,
    PRIMARY KEY (ticket_id, email)
) WITHOUT ROWID;

-- Every message, note and chat line on a ticket, in order of id.
CREATE TABLE ticket_messages (
    id             INTEGER PRIMARY KEY,
    ticket_id      INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('inbound', 'outbound', 'note', 'chat')),
    message_id     TEXT,                       -- RFC 5322 Message-ID without brackets; NULL for notes
    in_reply_to    TEXT NOT NULL DEFAULT '',
    refs           TEXT NOT NULL DEFAULT '[]', -- JSON array of Message-IDs, oldest first
    from_email     TEXT NOT NULL DEFAULT '',
    from_name      TEXT NOT NULL DEFAULT '',
    to_addrs       TEXT NOT NULL DEFAULT '[]', -- JSON array of {name, email}
    cc_addrs       TEXT NOT NULL DEFAULT '[]',
    subject        TEXT NOT NULL DEFAULT '',
    text           TEXT NOT NULL DEFAULT '',
    html           TEXT NOT NULL DEFAULT '',   -- sanitized
    warnings       TEXT NOT NULL DEFAULT '[]', -- JSON array of parse problems
    auto_submitted INTEGER NOT NULL DEFAULT 0 CHECK (auto_submitted IN (0, 1)),
    bounce         INTEGER NOT NULL DEFAULT 0 CHECK (bounce IN (0, 1)),
    agent_id       INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    raw_sha256     TEXT,                       -- inbound: the stored raw message
    created_at     TEXT NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);
-- A Message-ID names one message: inbound duplicates are refused by it and
-- threading looks replies up by it.
CREATE UNIQUE INDEX ticket_messages_message_id ON ticket_messages (message_id) WHERE message_id IS NOT NULL;

-- Attachment files live content-addressed under <data>/attachments.
CREATE TABLE ticket_attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES ticket_messages (id) ON DELETE CASCADE,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    sha256       TEXT NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    inline       INTEGER NOT NULL DEFAULT 0 CHECK (inline IN (0, 1)),
    content_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_attachments_message ON ticket_attachments (message_id);

-- Every raw message received, whatever became of it. The file is
-- <data>/mail/raw/<sha256>.eml. A row whose outcome is 'ticket' points at
-- the ticket message made from it; 'loop' is our own mail coming back;
-- 'duplicate' is a different copy of a Message-ID already ingested.
CREATE TABLE inbound_raw (
    id            INTEGER PRIMARY KEY,
    sha256        TEXT NOT NULL UNIQUE,
    size          INTEGER NOT NULL,
    envelope_from TEXT NOT NULL DEFAULT '',
    rcpts         TEXT NOT NULL DEFAULT '[]', -- JSON array
    message_id    TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL CHECK (outcome IN ('ticket', 'loop', 'duplicate')),
    ticket_id     INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
    received_at   TEXT NOT NULL
);

-- The outbound mail queue. A message is composed when enqueued, in the same
-- transaction as the change that caused it, and sent by the worker:
-- queued -> sending -> sent | failed, back to queued with a later
-- next_attempt_at after a temporary failure. A 'sending' row whose lease
-- has run out belonged to a process that died mid-send and is sent again.
CREATE TABLE outbound_mail (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER REFERENCES tickets (id) ON DELETE SET NULL,
    ticket_message  INTEGER REFERENCES ticket_messages (id) ON DELETE SET NULL, -- the reply it carries; NULL for automatic mail
    message_id      TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('reply', 'ack')),
    automatic       INTEGER NOT NULL DEFAULT 0 CHECK (automatic IN (0, 1)),
    envelope_from   TEXT NOT NULL,
    rcpt_to         TEXT NOT NULL,  -- first recipient, lowercased; automatic-mail caps count by it
    rcpts           TEXT NOT NULL,  -- JSON array of every envelope recipient
    raw             BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbound_mail_due ON outbound_mail (status, next_attempt_at);
CREATE INDEX outbound_mail_automatic ON outbound_mail (rcpt_to, created_at) WHERE automatic = 1;
CREATE INDEX outbound_mail_ticket ON outbound_mail (ticket_id);

-- Canned responses with {{customer_name}}, {{ticket_id}} and {{agent_name}}.
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_by INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
