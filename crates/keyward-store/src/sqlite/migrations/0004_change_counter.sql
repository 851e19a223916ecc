-- A counter that every change to what a check depends on increments, in the same
-- transaction as the change. Caches compare it (once a second by default) instead of
-- expiring every entry: unchanged, everything they hold is still true; changed, they
-- start over. Writes that a check does not depend on (the audit log, and later usage)
-- do not touch it.
CREATE TABLE change_counter (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    value  INTEGER NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);

CREATE TRIGGER api_keys_changed_i AFTER INSERT ON api_keys BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER api_keys_changed_u AFTER UPDATE ON api_keys BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER api_keys_changed_d AFTER DELETE ON api_keys BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER key_grants_changed_i AFTER INSERT ON key_grants BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER key_grants_changed_u AFTER UPDATE ON key_grants BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER key_grants_changed_d AFTER DELETE ON key_grants BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER memberships_changed_i AFTER INSERT ON memberships BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER memberships_changed_u AFTER UPDATE ON memberships BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER memberships_changed_d AFTER DELETE ON memberships BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER project_access_changed_i AFTER INSERT ON project_access BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER project_access_changed_u AFTER UPDATE ON project_access BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER project_access_changed_d AFTER DELETE ON project_access BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER projects_changed_i AFTER INSERT ON projects BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER projects_changed_u AFTER UPDATE ON projects BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER projects_changed_d AFTER DELETE ON projects BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER environments_changed_i AFTER INSERT ON environments BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER environments_changed_u AFTER UPDATE ON environments BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER environments_changed_d AFTER DELETE ON environments BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER admin_tokens_changed_i AFTER INSERT ON admin_tokens BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER admin_tokens_changed_u AFTER UPDATE ON admin_tokens BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER admin_tokens_changed_d AFTER DELETE ON admin_tokens BEGIN UPDATE change_counter SET value = value + 1; END;
CREATE TRIGGER organizations_changed_u AFTER UPDATE ON organizations BEGIN UPDATE change_counter SET value = value + 1; END;
