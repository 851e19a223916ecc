-- keyward's first schema. Conventions:
--  * ids are text: random, prefixed (`org_…`), so nodes can create them independently;
--  * times are INTEGER milliseconds since the Unix epoch, UTC;
--  * names are unique ignoring ASCII case, through unique indexes on lower(name),
--    which PostgreSQL can express the same way.

-- The tenants. `plan` names an operator-configured plan.
CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (lower(name));

-- People who sign in to the dashboard. No password is ever stored in clear: only
-- an Argon2 hash (filled in once sign-in exists).
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    display_name   TEXT,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- A user's role in an organization. Owners and admins hold manage everywhere in it;
-- members hold what project_access gives them.
CREATE TABLE memberships (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX projects_org_name ON projects (org_id, lower(name));

-- A member's level on one project.
CREATE TABLE project_access (
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level       TEXT NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    PRIMARY KEY (project_id, user_id)
);

-- Every project starts with `production` (live) and `preview` (test). A key of one
-- kind only ever works in environments of the same kind.
CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('live', 'test')),
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

-- API keys. The secret is never stored: only HMAC-SHA-256(pepper, key) and the
-- version of the pepper, which itself lives outside the database. Deleted keys stay
-- as tombstones (status 'deleted') so audit events keep their subject.
CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,                 -- the public key id
    org_id             TEXT NOT NULL REFERENCES organizations (id),
    name               TEXT NOT NULL,
    description        TEXT,
    kind               TEXT NOT NULL CHECK (kind IN ('live', 'test')),
    org_access         TEXT NOT NULL CHECK (org_access IN ('none', 'read', 'write', 'manage')),
    owner_user_id      TEXT REFERENCES users (id),       -- NULL: a service key
    created_by         TEXT NOT NULL,                    -- an actor, as in audit_events
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER,
    status             TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'deleted')),
    status_changed_at  INTEGER,
    rotated_from       TEXT REFERENCES api_keys (id),
    rotated_to         TEXT REFERENCES api_keys (id),
    pepper_version     INTEGER NOT NULL,
    secret_hash        BLOB NOT NULL CHECK (length(secret_hash) = 32),
    revision           INTEGER NOT NULL,                 -- optimistic concurrency
    last_used_at       INTEGER,
    last_used_ip       TEXT
);
-- Listing an organization's keys, newest first, with a (created_at, id) cursor.
CREATE INDEX api_keys_org_created ON api_keys (org_id, created_at DESC, id DESC);

-- What a key may do in projects. project_id NULL: every project of the key's
-- organization; environment NULL: every environment of the key's kind; resources
-- NULL: every resource, else a JSON array of resource names.
CREATE TABLE key_grants (
    key_id       TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    project_id   TEXT REFERENCES projects (id) ON DELETE CASCADE,
    environment  TEXT,
    level        TEXT NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    resources    TEXT,
    PRIMARY KEY (key_id, position)
);

-- The audit log: append-only (the triggers below refuse changes), written in the same
-- transaction as the change it records, and never holding a secret.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    org_id    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    key_id    TEXT,
    details   TEXT NOT NULL,   -- JSON
    ip        TEXT
);
CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE INDEX audit_events_key ON audit_events (key_id, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
