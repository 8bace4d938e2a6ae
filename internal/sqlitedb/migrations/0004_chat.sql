-- Live chat: visitors, conversations (which are also the routing queue),
-- messages, offers made to agents, attachments, suggested articles the
-- customer opened, and messages left while chat was closed. Owned by
-- package chat.
--
-- Times are UTC text in a fixed-width form (2006-01-02T15:04:05.000000000Z)
-- so that comparing them as strings compares them as times.

-- A visitor is a browser that said hello. Its token is random (256 bits)
-- and only its SHA-256 is stored; the token is the only thing that lets a
-- customer read or write their conversations.
CREATE TABLE chat_visitors (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- status: open (hello, no message yet) -> waiting (in the queue, possibly
-- offered to one agent) -> active (an agent accepted) -> closed. The queue
-- is the waiting rows ordered by (queued_at, id). last_seq is the highest
-- message seq; it is incremented inside the transaction that inserts the
-- message, which BEGIN IMMEDIATE serialises across processes.
CREATE TABLE chat_conversations (
    id                INTEGER PRIMARY KEY,
    visitor_id        INTEGER NOT NULL REFERENCES chat_visitors (id) ON DELETE CASCADE,
    customer_name     TEXT NOT NULL DEFAULT '',
    customer_email    TEXT NOT NULL DEFAULT '', -- lowercased
    status            TEXT NOT NULL CHECK (status IN ('open', 'waiting', 'active', 'closed')),
    agent_id          INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    offered_to        INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    offer_expires_at  TEXT,
    last_seq          INTEGER NOT NULL DEFAULT 0,
    customer_read_seq INTEGER NOT NULL DEFAULT 0,
    agent_read_seq    INTEGER NOT NULL DEFAULT 0,
    agent_joined      INTEGER NOT NULL DEFAULT 0 CHECK (agent_joined IN (0, 1)),
    article_opened    INTEGER NOT NULL DEFAULT 0 CHECK (article_opened IN (0, 1)),
    deflected         INTEGER NOT NULL DEFAULT 0 CHECK (deflected IN (0, 1)),
    rating            INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment    TEXT NOT NULL DEFAULT '',
    ticket_id         INTEGER,
    closed_by         TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    queued_at         TEXT,
    assigned_at       TEXT, -- first acceptance; with queued_at gives the wait
    closed_at         TEXT
);
CREATE INDEX chat_conversations_visitor ON chat_conversations (visitor_id, id);
CREATE INDEX chat_conversations_email ON chat_conversations (customer_email, id) WHERE customer_email <> '';
CREATE INDEX chat_conversations_queue ON chat_conversations (queued_at, id) WHERE status = 'waiting';
CREATE INDEX chat_conversations_agent ON chat_conversations (agent_id) WHERE status = 'active';
CREATE INDEX chat_conversations_closed ON chat_conversations (closed_at) WHERE status = 'closed';

-- sender is who may reuse a client_id ('customer', 'agent:<id>', 'system');
-- the unique key makes a resent message a no-op that is re-acked with its
-- original seq. System messages have no client_id (NULLs never collide).
CREATE TABLE chat_messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    sender          TEXT NOT NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('customer', 'agent', 'system')),
    agent_id        INTEGER,
    author          TEXT NOT NULL,
    client_id       TEXT,
    text            TEXT NOT NULL,
    attachments     TEXT NOT NULL DEFAULT '[]', -- JSON [{id,name,content_type,size}]
    created_at      TEXT NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, sender, client_id)
);

-- Every offer of a waiting conversation to an agent. Routing prefers agents
-- who have not yet been offered the conversation.
CREATE TABLE chat_offers (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    agent_id        INTEGER NOT NULL,
    offered_at      TEXT NOT NULL,
    outcome         TEXT NOT NULL DEFAULT 'pending'
                    CHECK (outcome IN ('pending', 'accepted', 'expired', 'declined', 'withdrawn', 'transferred')),
    resolved_at     TEXT
);
CREATE INDEX chat_offers_conversation ON chat_offers (conversation_id, agent_id);

CREATE TABLE chat_attachments (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    uploader        TEXT NOT NULL, -- 'customer' or 'agent:<id>'
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    data            BLOB NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX chat_attachments_conversation ON chat_attachments (conversation_id);

-- Suggested FAQ articles the customer opened; a conversation that ends
-- after one of these without an agent ever joining counts as deflected.
CREATE TABLE chat_article_opens (
    conversation_id INTEGER NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    slug            TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    PRIMARY KEY (conversation_id, slug)
);

-- Messages left while chat was closed, one per client_id, so a resent
-- leave_message returns the ticket made the first time.
CREATE TABLE chat_offline_messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    ticket_id       INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (conversation_id, client_id)
);
