-- Knowledge-base articles and their "was this helpful?" feedback.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE articles (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    body        TEXT NOT NULL,               -- Markdown source
    tags        TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    published   INTEGER NOT NULL DEFAULT 1 CHECK (published IN (0, 1)),
    helpful_yes INTEGER NOT NULL DEFAULT 0,
    helpful_no  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX articles_category ON articles (category, title);

-- One row per vote; client_key is a salted hash of the client address, used
-- to limit votes per client and article without storing the address itself.
CREATE TABLE article_feedback (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    helpful    INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    client_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX article_feedback_client ON article_feedback (article_id, client_key, created_at);
