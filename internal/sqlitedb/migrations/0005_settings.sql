-- Settings admins change in the browser. Once saved, a setting overrides
-- the command-line flag it corresponds to. Owned by package
-- internal/settings. (The key/value table "settings" from 0001 is internal
-- state of other packages and is not polled; these tables are.)
--
-- Times are UTC text in a fixed-width form (2006-01-02T15:04:05.000000000Z).

-- One row per setting: 'hours' (support hours, zone and holidays) or
-- 'inbox:<address>' (that inbox's acknowledgement). value is JSON whose
-- shape depends on the key.
CREATE TABLE admin_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    version    INTEGER NOT NULL,   -- admin_settings_version.version after the write that set it
    updated_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES agents (id) ON DELETE SET NULL
);

-- A counter bumped by every write to admin_settings, in the same
-- transaction. Processes sharing the database poll it and reload the
-- settings when it moves; a single row keeps that poll one cheap read.
CREATE TABLE admin_settings_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO admin_settings_version (id, version) VALUES (1, 0);
