-- People's sign-in. As for keys and invitations, no token is ever stored: only its
-- keyed hash (HMAC-SHA-256 under the pepper) and the pepper's version, so a copy of
-- the database cannot be used to sign in. The token's public part (`ses_…`, `rst_…`)
-- is the id, which finds the row; the hash is then compared in constant time.

-- A signed-in session. It ends at sign-out (the row is deleted), at `expires_at` (the
-- absolute lifetime, from sign-in), or when unused for the idle timeout, measured
-- from `last_seen_at`, which is written back at most once a minute.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,                      -- ses_…
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pepper_version  INTEGER NOT NULL,
    secret_hash     BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ip              TEXT,                                  -- the client at sign-in
    user_agent      TEXT                                   -- at most 200 characters
);
-- Signing a person out everywhere, and listing their sessions.
CREATE INDEX sessions_user ON sessions (user_id);

-- One-time password-reset links, made by the operator. A new link for a person marks
-- their older unused ones used, so only the latest works.
CREATE TABLE password_resets (
    id              TEXT PRIMARY KEY,                      -- rst_…
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pepper_version  INTEGER NOT NULL,
    secret_hash     BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER                                -- NULL while usable
);
CREATE INDEX password_resets_user ON password_resets (user_id);
