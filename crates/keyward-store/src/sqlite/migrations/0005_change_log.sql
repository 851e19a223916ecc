-- A log of what changed, in place of the bare change counter of 0004: caches read the
-- rows after the last one they saw and drop exactly the entries those changes touch,
-- instead of starting over whenever anything changed anywhere. Every change a check
-- depends on writes a row here in its own transaction, through the triggers below.
--
-- subject  what changed               columns that say which
-- key      a key or its grants        key_id (and org_id)
-- member   a membership or levels     org_id (NULL: any organization), user_id
-- org      projects, environments,    org_id
--          the organization itself
-- admin    an admin token             key_id
--
-- The log keeps its last 10,000 rows; a cache that fell further behind starts over.

DROP TRIGGER api_keys_changed_i;
DROP TRIGGER api_keys_changed_u;
DROP TRIGGER api_keys_changed_d;
DROP TRIGGER key_grants_changed_i;
DROP TRIGGER key_grants_changed_u;
DROP TRIGGER key_grants_changed_d;
DROP TRIGGER memberships_changed_i;
DROP TRIGGER memberships_changed_u;
DROP TRIGGER memberships_changed_d;
DROP TRIGGER project_access_changed_i;
DROP TRIGGER project_access_changed_u;
DROP TRIGGER project_access_changed_d;
DROP TRIGGER projects_changed_i;
DROP TRIGGER projects_changed_u;
DROP TRIGGER projects_changed_d;
DROP TRIGGER environments_changed_i;
DROP TRIGGER environments_changed_u;
DROP TRIGGER environments_changed_d;
DROP TRIGGER admin_tokens_changed_i;
DROP TRIGGER admin_tokens_changed_u;
DROP TRIGGER admin_tokens_changed_d;
DROP TRIGGER organizations_changed_u;
DROP TABLE change_counter;

-- AUTOINCREMENT: a sequence number is never reused, even after the oldest rows are
-- trimmed, so "after row N" always means the same thing.
CREATE TABLE change_log (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    subject  TEXT NOT NULL CHECK (subject IN ('key', 'member', 'org', 'admin')),
    org_id   TEXT,
    key_id   TEXT,
    user_id  TEXT
);

CREATE TRIGGER change_log_trim AFTER INSERT ON change_log
BEGIN
    DELETE FROM change_log WHERE seq <= NEW.seq - 10000;
END;

CREATE TRIGGER api_keys_logged_i AFTER INSERT ON api_keys
BEGIN INSERT INTO change_log (subject, org_id, key_id) VALUES ('key', NEW.org_id, NEW.id); END;
-- Usage bookkeeping (last_used_at, last_used_ip) changes nothing a check decides, so it
-- is not logged; every other column is.
CREATE TRIGGER api_keys_logged_u AFTER UPDATE OF org_id, name, description, kind, org_access,
    owner_user_id, expires_at, status, rotated_to, pepper_version, secret_hash, revision, scopes
    ON api_keys
BEGIN INSERT INTO change_log (subject, org_id, key_id) VALUES ('key', NEW.org_id, NEW.id); END;
CREATE TRIGGER api_keys_logged_d AFTER DELETE ON api_keys
BEGIN INSERT INTO change_log (subject, org_id, key_id) VALUES ('key', OLD.org_id, OLD.id); END;

-- A key's grants are rewritten as a whole: one row per key is enough, and the
-- key's own row (updated in the same transaction) already says so; these cover a
-- grant changed on its own.
CREATE TRIGGER key_grants_logged_i AFTER INSERT ON key_grants
BEGIN INSERT INTO change_log (subject, key_id) VALUES ('key', NEW.key_id); END;
CREATE TRIGGER key_grants_logged_u AFTER UPDATE ON key_grants
BEGIN INSERT INTO change_log (subject, key_id) VALUES ('key', NEW.key_id); END;
CREATE TRIGGER key_grants_logged_d AFTER DELETE ON key_grants
BEGIN INSERT INTO change_log (subject, key_id) VALUES ('key', OLD.key_id); END;

CREATE TRIGGER memberships_logged_i AFTER INSERT ON memberships
BEGIN INSERT INTO change_log (subject, org_id, user_id) VALUES ('member', NEW.org_id, NEW.user_id); END;
CREATE TRIGGER memberships_logged_u AFTER UPDATE ON memberships
BEGIN
    INSERT INTO change_log (subject, org_id, user_id) VALUES ('member', OLD.org_id, OLD.user_id);
    INSERT INTO change_log (subject, org_id, user_id) VALUES ('member', NEW.org_id, NEW.user_id);
END;
CREATE TRIGGER memberships_logged_d AFTER DELETE ON memberships
BEGIN INSERT INTO change_log (subject, org_id, user_id) VALUES ('member', OLD.org_id, OLD.user_id); END;

-- Project levels: the organization comes from the project (NULL once the project is
-- gone, which then means "this person, in any organization").
CREATE TRIGGER project_access_logged_i AFTER INSERT ON project_access
BEGIN INSERT INTO change_log (subject, org_id, user_id)
    VALUES ('member', (SELECT org_id FROM projects WHERE id = NEW.project_id), NEW.user_id); END;
CREATE TRIGGER project_access_logged_u AFTER UPDATE ON project_access
BEGIN INSERT INTO change_log (subject, org_id, user_id)
    VALUES ('member', (SELECT org_id FROM projects WHERE id = NEW.project_id), NEW.user_id); END;
CREATE TRIGGER project_access_logged_d AFTER DELETE ON project_access
BEGIN INSERT INTO change_log (subject, org_id, user_id)
    VALUES ('member', (SELECT org_id FROM projects WHERE id = OLD.project_id), OLD.user_id); END;

CREATE TRIGGER projects_logged_i AFTER INSERT ON projects
BEGIN INSERT INTO change_log (subject, org_id) VALUES ('org', NEW.org_id); END;
CREATE TRIGGER projects_logged_u AFTER UPDATE ON projects
BEGIN INSERT INTO change_log (subject, org_id) VALUES ('org', NEW.org_id); END;
CREATE TRIGGER projects_logged_d AFTER DELETE ON projects
BEGIN INSERT INTO change_log (subject, org_id) VALUES ('org', OLD.org_id); END;

-- An environment whose project is gone (a cascade) is covered by the project's row.
CREATE TRIGGER environments_logged_i AFTER INSERT ON environments
BEGIN INSERT INTO change_log (subject, org_id)
    SELECT 'org', org_id FROM projects WHERE id = NEW.project_id; END;
CREATE TRIGGER environments_logged_u AFTER UPDATE ON environments
BEGIN INSERT INTO change_log (subject, org_id)
    SELECT 'org', org_id FROM projects WHERE id = NEW.project_id; END;
CREATE TRIGGER environments_logged_d AFTER DELETE ON environments
BEGIN INSERT INTO change_log (subject, org_id)
    SELECT 'org', org_id FROM projects WHERE id = OLD.project_id; END;

CREATE TRIGGER organizations_logged_u AFTER UPDATE ON organizations
BEGIN INSERT INTO change_log (subject, org_id) VALUES ('org', NEW.id); END;
CREATE TRIGGER organizations_logged_d AFTER DELETE ON organizations
BEGIN INSERT INTO change_log (subject, org_id) VALUES ('org', OLD.id); END;

CREATE TRIGGER admin_tokens_logged_i AFTER INSERT ON admin_tokens
BEGIN INSERT INTO change_log (subject, key_id) VALUES ('admin', NEW.id); END;
CREATE TRIGGER admin_tokens_logged_u AFTER UPDATE OF name, pepper_version, secret_hash, revoked_at
    ON admin_tokens
BEGIN INSERT INTO change_log (subject, key_id) VALUES ('admin', NEW.id); END;
CREATE TRIGGER admin_tokens_logged_d AFTER DELETE ON admin_tokens
BEGIN INSERT INTO change_log (subject, key_id) VALUES ('admin', OLD.id); END;
