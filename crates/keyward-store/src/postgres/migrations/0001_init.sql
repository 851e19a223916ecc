-- keyward's schema for PostgreSQL: the SQLite schema as its migrations 0001-0011 left
-- it, in one step, with the same tables, columns and meanings. Conventions:
--  * ids are text: random, prefixed (`org_…`), so nodes can create them independently;
--  * times are BIGINT milliseconds since the Unix epoch, UTC, exactly as SQLite keeps
--    them (so the two backends round-trip the same values);
--  * every text column is COLLATE "C": compared and ordered byte by byte, as SQLite
--    does, whatever collation the operator's database was created with, so listings
--    and cursors order the same on both backends;
--  * names are unique ignoring ASCII case (SQLite's lower() folds ASCII only), through
--    unique indexes on keyward_ascii_lower(name);
--  * JSON is kept as text, byte for byte as written.
--
-- Concurrency: PostgreSQL runs writers at once (READ COMMITTED), where SQLite has one
-- writer at a time. What each write does to keep its invariants is said in the store's
-- code (src/postgres/); what the schema itself does is said here.

CREATE FUNCTION keyward_ascii_lower(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

-- The tenants. `plan` names an operator-configured plan.
CREATE TABLE organizations (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    plan        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (keyward_ascii_lower(name));

-- People who sign in to the dashboard: only an Argon2 hash of a password, never one.
CREATE TABLE users (
    id             TEXT COLLATE "C" PRIMARY KEY,
    email          TEXT COLLATE "C" NOT NULL,
    display_name   TEXT COLLATE "C",
    password_hash  TEXT COLLATE "C",
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (keyward_ascii_lower(email));

-- A user's role in an organization. Owners and admins hold manage everywhere in it;
-- members hold what project_access gives them.
CREATE TABLE memberships (
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT COLLATE "C" NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at  BIGINT NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE projects (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_org_name ON projects (org_id, keyward_ascii_lower(name));

-- A member's level on one project.
CREATE TABLE project_access (
    project_id  TEXT COLLATE "C" NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level       TEXT COLLATE "C" NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_access_user ON project_access (user_id);

-- Every project starts with `production` (live) and `preview` (test).
CREATE TABLE environments (
    id          TEXT COLLATE "C" PRIMARY KEY,
    project_id  TEXT COLLATE "C" NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('live', 'test')),
    created_at  BIGINT NOT NULL,
    CONSTRAINT environments_project_name UNIQUE (project_id, name)
);

-- API keys. The secret is never stored: only HMAC-SHA-256(pepper, key) and the
-- version of the pepper, which itself lives outside the database. Deleted keys stay
-- as tombstones (status 'deleted') so audit events keep their subject.
CREATE TABLE api_keys (
    id                 TEXT COLLATE "C" PRIMARY KEY,     -- the public key id
    org_id             TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    name               TEXT COLLATE "C" NOT NULL,
    description        TEXT COLLATE "C",
    kind               TEXT COLLATE "C" NOT NULL CHECK (kind IN ('live', 'test')),
    org_access         TEXT COLLATE "C" NOT NULL
                           CHECK (org_access IN ('none', 'read', 'write', 'manage')),
    owner_user_id      TEXT COLLATE "C" REFERENCES users (id),  -- NULL: a service key
    created_by         TEXT COLLATE "C" NOT NULL,        -- an actor, as in audit_events
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT,
    status             TEXT COLLATE "C" NOT NULL CHECK (status IN ('active', 'revoked', 'deleted')),
    status_changed_at  BIGINT,
    rotated_from       TEXT COLLATE "C" REFERENCES api_keys (id),
    rotated_to         TEXT COLLATE "C" REFERENCES api_keys (id),
    pepper_version     BIGINT NOT NULL,
    secret_hash        BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    revision           BIGINT NOT NULL,                  -- optimistic concurrency
    last_used_at       BIGINT,
    last_used_ip       TEXT COLLATE "C",
    -- Catalog scopes, a JSON array of names such as "forms:read".
    scopes             TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    -- Normalised CIDRs, a JSON array (empty: anywhere).
    ip_allowlist       TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    -- The operator's own data: a JSON object, or NULL.
    metadata           TEXT COLLATE "C",
    -- The key's own rate limits, a JSON array; NULL: its organization's plan's.
    rate_limits        TEXT COLLATE "C"
);
-- Listing an organization's keys, newest first, with a (created_at, id) cursor.
CREATE INDEX api_keys_org_created ON api_keys (org_id, created_at DESC, id DESC);
-- Counting an organization's keys against its plan's limit at every creation.
CREATE INDEX api_keys_org_status ON api_keys (org_id, status);

-- What a key may do in projects. project_id NULL: every project of the key's
-- organization; environment NULL: every environment of the key's kind; resources
-- NULL: every resource, else a JSON array of resource names.
CREATE TABLE key_grants (
    key_id       TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    project_id   TEXT COLLATE "C" REFERENCES projects (id) ON DELETE CASCADE,
    environment  TEXT COLLATE "C",
    level        TEXT COLLATE "C" NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    resources    TEXT COLLATE "C",
    PRIMARY KEY (key_id, position)
);

-- The audit log: append-only (the triggers below refuse changes), written in the same
-- transaction as the change it records, and never holding a secret. org_id NULL: the
-- operator's own stream. Ids come from a sequence: they order events, but (unlike the
-- change log's) are not promised to commit in order; nothing reads "after id N".
CREATE TABLE audit_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    org_id    TEXT COLLATE "C",
    actor     TEXT COLLATE "C" NOT NULL,
    action    TEXT COLLATE "C" NOT NULL,
    key_id    TEXT COLLATE "C",
    details   TEXT COLLATE "C" NOT NULL,   -- JSON
    ip        TEXT COLLATE "C"
);
CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE INDEX audit_events_key ON audit_events (key_id, id);

CREATE FUNCTION keyward_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION keyward_audit_append_only();
-- TRUNCATE fires no row trigger: refused on its own.
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_audit_append_only();

-- Operator credentials: admin tokens, and the one-time token of the first-run setup
-- link. Like keys, only keyed hashes are kept.
CREATE TABLE admin_tokens (
    id              TEXT COLLATE "C" PRIMARY KEY,   -- public token id
    name            TEXT COLLATE "C" NOT NULL,
    pepper_version  BIGINT NOT NULL,
    secret_hash     BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    created_by      TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,                         -- NULL while the token works
    last_used_at    BIGINT
);

-- At most one setup token is ever usable: a new one replaces any unused one (under a
-- table lock, see src/postgres/operator.rs), and using it sets used_at in the same
-- transaction that creates the first owner.
CREATE TABLE setup_tokens (
    id              TEXT COLLATE "C" PRIMARY KEY,
    pepper_version  BIGINT NOT NULL,
    secret_hash     BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    created_at      BIGINT NOT NULL,
    used_at         BIGINT
);

-- Invitations to join an organization. `projects` is a JSON object of project id to
-- level, as a membership would hold.
CREATE TABLE invitations (
    id              TEXT COLLATE "C" PRIMARY KEY,   -- inv_…, the token's public part
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT COLLATE "C" NOT NULL,      -- lowercased
    role            TEXT COLLATE "C" NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    projects        TEXT COLLATE "C" NOT NULL,
    invited_by      TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    pepper_version  BIGINT NOT NULL,
    secret_hash     BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    accepted_at     BIGINT,
    accepted_by     TEXT COLLATE "C" REFERENCES users (id),
    revoked_at      BIGINT
);
CREATE INDEX invitations_org ON invitations (org_id, created_at);

-- Usage: checks per key, UTC day and outcome, added to in batches with
-- `count = count + excluded.count` (an atomic upsert: batches of several nodes add up).
-- Not in the change log: a count changes nothing a check decides.
CREATE TABLE key_usage (
    key_id   TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    org_id   TEXT COLLATE "C" NOT NULL,         -- the key's, copied when the row is made
    day      TEXT COLLATE "C" NOT NULL CHECK (length(day) = 10),   -- YYYY-MM-DD, UTC
    outcome  TEXT COLLATE "C" NOT NULL,         -- deliberately unchecked (see SQLite's 0008)
    count    BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (key_id, day, outcome)
);
CREATE INDEX key_usage_org_day ON key_usage (org_id, day);

-- Monthly quota spending per organization, in cost units, added to atomically by
-- every node (`used = used + delta`, never below zero).
CREATE TABLE quota_usage (
    org_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    month  TEXT COLLATE "C" NOT NULL CHECK (length(month) = 7),   -- YYYY-MM, UTC
    used   BIGINT NOT NULL CHECK (used >= 0),
    PRIMARY KEY (org_id, month)
);

-- People's sessions and password-reset links: only keyed hashes of their tokens.
CREATE TABLE sessions (
    id              TEXT COLLATE "C" PRIMARY KEY,   -- ses_…
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pepper_version  BIGINT NOT NULL,
    secret_hash     BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    ip              TEXT COLLATE "C",
    user_agent      TEXT COLLATE "C"
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE password_resets (
    id              TEXT COLLATE "C" PRIMARY KEY,   -- rst_…
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pepper_version  BIGINT NOT NULL,
    secret_hash     BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT                          -- NULL while usable
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- The change log: every change a check depends on writes a row here in its own
-- transaction (through the triggers below), and caches read "every row after seq N".
-- That read must never miss a row that commits later with a smaller seq, so a plain
-- sequence (whose numbers are handed out at insert, not at commit) will not do: seq
-- comes from the single row of change_seq, incremented in the writing transaction.
-- Its row lock is held until commit, so change-log writers commit one after another,
-- in seq order. The store's logged writes take that lock first (see
-- src/postgres/mod.rs, `begin_logged`), so no lock is ever taken before it.
--
-- Each row also sends NOTIFY keyward_changes with its seq, delivered at commit, for
-- nodes that LISTEN. The log keeps its last 10,000 rows; a cache that fell further
-- behind starts over.
CREATE TABLE change_seq (
    id     SMALLINT PRIMARY KEY CHECK (id = 1),
    value  BIGINT NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

CREATE TABLE change_log (
    seq      BIGINT PRIMARY KEY,
    subject  TEXT COLLATE "C" NOT NULL CHECK (subject IN ('key', 'member', 'org', 'admin')),
    org_id   TEXT COLLATE "C",
    key_id   TEXT COLLATE "C",
    user_id  TEXT COLLATE "C"
);

CREATE FUNCTION keyward_log_change(p_subject text, p_org text, p_key text, p_user text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
BEGIN
    UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value INTO v_seq;
    INSERT INTO change_log (seq, subject, org_id, key_id, user_id)
        VALUES (v_seq, p_subject, p_org, p_key, p_user);
    DELETE FROM change_log WHERE seq <= v_seq - 10000;
    PERFORM pg_notify('keyward_changes', v_seq::text);
END $$;

-- api_keys: usage bookkeeping (last_used_at, last_used_ip) changes nothing a check
-- decides, so it is not logged; every other column is.
CREATE FUNCTION keyward_api_keys_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM keyward_log_change('key', OLD.org_id, OLD.id, NULL);
    ELSE
        PERFORM keyward_log_change('key', NEW.org_id, NEW.id, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_logged_i AFTER INSERT OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION keyward_api_keys_logged();
CREATE TRIGGER api_keys_logged_u AFTER UPDATE OF org_id, name, description, kind, org_access,
    owner_user_id, expires_at, status, rotated_to, pepper_version, secret_hash, revision, scopes,
    ip_allowlist, metadata, rate_limits
    ON api_keys FOR EACH ROW EXECUTE FUNCTION keyward_api_keys_logged();

CREATE FUNCTION keyward_key_grants_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM keyward_log_change('key', NULL, OLD.key_id, NULL);
    ELSE
        PERFORM keyward_log_change('key', NULL, NEW.key_id, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER key_grants_logged AFTER INSERT OR UPDATE OR DELETE ON key_grants
    FOR EACH ROW EXECUTE FUNCTION keyward_key_grants_logged();

CREATE FUNCTION keyward_memberships_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM keyward_log_change('member', OLD.org_id, NULL, OLD.user_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM keyward_log_change('member', NEW.org_id, NULL, NEW.user_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER memberships_logged AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION keyward_memberships_logged();

-- Project levels: the organization comes from the project (NULL once the project is
-- gone, which then means "this person, in any organization").
CREATE FUNCTION keyward_project_access_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM keyward_log_change('member',
            (SELECT org_id FROM projects WHERE id = OLD.project_id), NULL, OLD.user_id);
    ELSE
        PERFORM keyward_log_change('member',
            (SELECT org_id FROM projects WHERE id = NEW.project_id), NULL, NEW.user_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER project_access_logged AFTER INSERT OR UPDATE OR DELETE ON project_access
    FOR EACH ROW EXECUTE FUNCTION keyward_project_access_logged();

CREATE FUNCTION keyward_projects_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM keyward_log_change('org', OLD.org_id, NULL, NULL);
    ELSE
        PERFORM keyward_log_change('org', NEW.org_id, NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER projects_logged AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION keyward_projects_logged();

-- An environment whose project is gone (a cascade) is covered by the project's row.
CREATE FUNCTION keyward_environments_logged() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_org text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT org_id INTO v_org FROM projects WHERE id = OLD.project_id;
    ELSE
        SELECT org_id INTO v_org FROM projects WHERE id = NEW.project_id;
    END IF;
    IF v_org IS NOT NULL THEN
        PERFORM keyward_log_change('org', v_org, NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER environments_logged AFTER INSERT OR UPDATE OR DELETE ON environments
    FOR EACH ROW EXECUTE FUNCTION keyward_environments_logged();

CREATE FUNCTION keyward_organizations_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM keyward_log_change('org', OLD.id, NULL, NULL);
    ELSE
        PERFORM keyward_log_change('org', NEW.id, NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER organizations_logged AFTER UPDATE OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION keyward_organizations_logged();

CREATE FUNCTION keyward_admin_tokens_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM keyward_log_change('admin', NULL, OLD.id, NULL);
    ELSE
        PERFORM keyward_log_change('admin', NULL, NEW.id, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER admin_tokens_logged_i AFTER INSERT OR DELETE ON admin_tokens
    FOR EACH ROW EXECUTE FUNCTION keyward_admin_tokens_logged();
CREATE TRIGGER admin_tokens_logged_u AFTER UPDATE OF name, pepper_version, secret_hash, revoked_at
    ON admin_tokens FOR EACH ROW EXECUTE FUNCTION keyward_admin_tokens_logged();
