-- Usage: how many checks each key had per UTC day, by outcome (`valid`, `revoked`,
-- `insufficient_permission`, ... : every outcome of a check whose key was found; a
-- check with no key to count against, `missing`, `malformed` or `unknown`, is counted
-- per server only, in /metrics).
--
-- Checks count in memory; `keyward serve` adds what was counted every 5 seconds in one
-- transaction, together with the keys' last uses, so a check costs no write here. Each
-- batch adds to the rows with `count = count + excluded.count`: a row only ever grows,
-- by whole batches.
--
-- No trigger writes these rows to the change log (0005): a count changes nothing a
-- check decides, so it must not empty any cache.
CREATE TABLE key_usage (
    key_id   TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    -- The key's organization, copied from api_keys when the row is made (a key never
    -- changes organization), so that an organization's usage is read without a join.
    org_id   TEXT NOT NULL,
    day      TEXT NOT NULL CHECK (length(day) = 10),   -- UTC date, YYYY-MM-DD
    -- An outcome's name. Deliberately unchecked: a batch refused for a name added in a
    -- later release would be retried, and refused, forever.
    outcome  TEXT NOT NULL,
    count    INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (key_id, day, outcome)
) WITHOUT ROWID;

-- An organization's usage over a range of days, per day or per key.
CREATE INDEX key_usage_org_day ON key_usage (org_id, day);
