-- 0031: the daily digest of the log files (docs/operations.md, "Logs").
-- Owned by package logs. One row per Beijing day, written once by the
-- 07:00 schedule (INSERT ... ON CONFLICT DO NOTHING: a second run or a
-- second worker writes nothing and mails nothing). body is the digest as
-- JSON (counts by message and by security kind).
CREATE TABLE log_digests (
    day        TEXT    NOT NULL PRIMARY KEY,
    created_at BIGINT  NOT NULL,
    warnings   INTEGER NOT NULL,
    errors     INTEGER NOT NULL,
    security   INTEGER NOT NULL,
    body       TEXT    NOT NULL
);
