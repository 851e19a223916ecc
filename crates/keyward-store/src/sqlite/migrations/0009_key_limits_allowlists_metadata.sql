-- What issue 9 adds to keys: the networks a key may be used from (a JSON array of
-- normalised CIDRs; empty: anywhere), the operator's own data about it (a JSON object,
-- or NULL), and its own rate limits (a JSON array of {name, limit, period}; NULL: its
-- organization's plan's). Checks depend on all three, so the change log must see them:
-- the update trigger is made again with the new columns.
ALTER TABLE api_keys ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN metadata TEXT;
ALTER TABLE api_keys ADD COLUMN rate_limits TEXT;

DROP TRIGGER api_keys_logged_u;
CREATE TRIGGER api_keys_logged_u AFTER UPDATE OF org_id, name, description, kind, org_access,
    owner_user_id, expires_at, status, rotated_to, pepper_version, secret_hash, revision, scopes,
    ip_allowlist, metadata, rate_limits
    ON api_keys
BEGIN INSERT INTO change_log (subject, org_id, key_id) VALUES ('key', NEW.org_id, NEW.id); END;

-- Counting an organization's keys against its plan's limit at every creation.
CREATE INDEX api_keys_org_status ON api_keys (org_id, status);
