-- Invitations to join an organization: nobody is added without accepting. The token
-- is never stored, only its keyed hash (as for keys), with the pepper's version.
-- `projects` is a JSON object of project id to level, as a membership would hold.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,                      -- inv_…, the token's public part
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,                         -- lowercased
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    projects        TEXT NOT NULL,
    invited_by      TEXT NOT NULL,                         -- an actor, as in audit_events
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    pepper_version  INTEGER NOT NULL,
    secret_hash     BLOB NOT NULL CHECK (length(secret_hash) = 32),
    accepted_at     INTEGER,
    accepted_by     TEXT REFERENCES users (id),
    revoked_at      INTEGER
);
CREATE INDEX invitations_org ON invitations (org_id, created_at);
