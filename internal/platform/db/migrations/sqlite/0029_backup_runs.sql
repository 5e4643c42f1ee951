-- 0029: the backups' record (docs/operations.md, "Backups"). Owned by
-- package backup.
--
-- One row per backup attempt, written when it has ended (so the row is not
-- inside the copy it describes): where it went, its size, the SM3 digest of
-- its manifest, whether it was written (status) and what the restore drill
-- into a scratch database found. The monitoring page shows the newest.
CREATE TABLE backup_runs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT   NOT NULL DEFAULT 'full' CHECK (kind IN ('full')),
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT NOT NULL,
    dir             TEXT   NOT NULL DEFAULT '',
    size_bytes      BIGINT NOT NULL DEFAULT 0,
    manifest_sm3    TEXT   NOT NULL DEFAULT '',
    status          TEXT   NOT NULL CHECK (status IN ('ok', 'failed')),
    drill_status    TEXT   NOT NULL DEFAULT '' CHECK (drill_status IN ('', 'ok', 'failed')),
    drill_detail    TEXT   NOT NULL DEFAULT '',
    error           TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX backup_runs_started ON backup_runs (started_at);
