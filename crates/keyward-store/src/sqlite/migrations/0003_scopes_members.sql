-- Catalog scopes on keys (a JSON array of names such as "forms:read"), kept as
-- given: the operator's catalog, not the database, says what each one means, so a
-- scope the catalog drops stops granting anything.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';

-- Looking up a user's memberships quickly at every check of a user-bound key.
CREATE INDEX project_access_user ON project_access (user_id);
