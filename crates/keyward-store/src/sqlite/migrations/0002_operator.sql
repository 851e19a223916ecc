-- Operator credentials: admin tokens for the management and verify APIs, and the
-- one-time token of the first-run setup link. Like keys, only keyed hashes are kept.

CREATE TABLE admin_tokens (
    id              TEXT PRIMARY KEY,   -- public token id, as in kw_admin_<id>_...
    name            TEXT NOT NULL,
    pepper_version  INTEGER NOT NULL,
    secret_hash     BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,            -- NULL while the token works
    last_used_at    INTEGER
);

-- At most one setup token is ever usable: a new one replaces any unused one, and
-- using it sets used_at in the same transaction that creates the first owner.
CREATE TABLE setup_tokens (
    id              TEXT PRIMARY KEY,
    pepper_version  INTEGER NOT NULL,
    secret_hash     BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_at      INTEGER NOT NULL,
    used_at         INTEGER
);
