-- Monthly quotas: what each organization's keys spent per calendar month (UTC), in
-- cost units. Checks spend in memory; `keyward serve` adds what was spent in batches
-- (every few seconds and when it stops) with `used = used + excluded.used`, so several
-- processes on one database add up rather than overwrite one another, and reads the
-- total back to see the others' spending.
--
-- No trigger writes these rows to the change log: spending changes nothing a cache
-- holds.
CREATE TABLE quota_usage (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    month  TEXT NOT NULL CHECK (length(month) = 7),   -- YYYY-MM, UTC
    used   INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (org_id, month)
) WITHOUT ROWID;
