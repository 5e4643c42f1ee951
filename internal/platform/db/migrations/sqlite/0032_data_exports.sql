-- 0032: the applicant's whole-file download (PIPL art. 45; docs/api.md,
-- "Whole-file download"). Owned by package dataexport. A row is queued by
-- the applicant, made ready by its River job (the archive in the exports
-- blob store under blob_key) and purged with its file 7 days after it was
-- ready. At most one queued request per person at a time.
CREATE TABLE data_exports (
    id           INTEGER PRIMARY KEY,
    person_id    BIGINT  NOT NULL REFERENCES persons (id),
    user_id      BIGINT  NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'ready', 'failed')),
    requested_at BIGINT  NOT NULL,
    ready_at     BIGINT  NOT NULL DEFAULT 0,
    expires_at   BIGINT  NOT NULL DEFAULT 0,
    size_bytes   BIGINT  NOT NULL DEFAULT 0,
    sha256       TEXT    NOT NULL DEFAULT '',
    blob_key     TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX data_exports_person ON data_exports (person_id, id);
CREATE UNIQUE INDEX data_exports_one_queued ON data_exports (person_id) WHERE status = 'queued';
