-- The operator's own audit stream: admin tokens created and revoked, and people
-- created, belong to no organization, so audit_events.org_id becomes optional (NULL:
-- the operator's stream, which only the operator reads).
--
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt as its documentation
-- prescribes: a new table, the rows copied with their ids, the old one dropped, the new
-- one renamed, then its indexes and the append-only triggers made again. The triggers
-- go first, since they would refuse the DROP.

DROP TRIGGER audit_events_no_update;
DROP TRIGGER audit_events_no_delete;

CREATE TABLE audit_events_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    org_id    TEXT,            -- NULL: the operator's stream
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    key_id    TEXT,
    details   TEXT NOT NULL,   -- JSON
    ip        TEXT
);
INSERT INTO audit_events_new (id, at, org_id, actor, action, key_id, details, ip)
    SELECT id, at, org_id, actor, action, key_id, details, ip FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;

CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE INDEX audit_events_key ON audit_events (key_id, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
