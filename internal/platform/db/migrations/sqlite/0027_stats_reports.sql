-- 0027: saved statistics queries and scheduled reports (docs/statistics.md,
-- "Saved queries and scheduled reports"). Owned by package statsreport.
--
-- A saved query is a pivot query (stats.Query as JSON) or a ready report
-- ({"code":…,"params":{…}}) with a name unique per owner. A scheduled one
-- has next_run_at (UTC microseconds); the sweep claims it by moving
-- next_run_at forward with a conditional update, so two sweeps never both
-- produce the same run.
CREATE TABLE stats_saved (
    id          INTEGER PRIMARY KEY,
    owner_id    BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('query', 'report')),
    spec        TEXT    NOT NULL,
    -- The owner's district when saved ('' for the city); a run uses the
    -- owner's current roles and district.
    scope       TEXT    NOT NULL DEFAULT '',
    schedule    TEXT    NOT NULL DEFAULT '' CHECK (schedule IN ('', 'daily', 'weekly')),
    weekday     INTEGER NOT NULL DEFAULT 1,
    hour        INTEGER NOT NULL DEFAULT 7,
    next_run_at BIGINT  NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX stats_saved_due ON stats_saved (next_run_at) WHERE schedule <> '';

CREATE TABLE stats_subscribers (
    saved_id BIGINT NOT NULL,
    user_id  BIGINT NOT NULL,
    PRIMARY KEY (saved_id, user_id)
);
CREATE INDEX stats_subscribers_user ON stats_subscribers (user_id);

-- A produced report: the Excel file (suppressed for leaving the office) or,
-- for a failed run, the error and no content. One per saved query and due
-- time, so a produce job that runs twice writes one file. Kept 12 months.
CREATE TABLE stats_report_files (
    id               INTEGER PRIMARY KEY,
    saved_id         BIGINT  NOT NULL,
    owner_id         BIGINT  NOT NULL,
    name             TEXT    NOT NULL,
    due_at           BIGINT  NOT NULL,
    produced_at      BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    format           TEXT    NOT NULL,
    content          BLOB    NOT NULL,
    size             BIGINT  NOT NULL,
    sha256           TEXT    NOT NULL,
    rows             INTEGER NOT NULL,
    suppressed_below INTEGER NOT NULL,
    error            TEXT    NOT NULL DEFAULT '',
    UNIQUE (saved_id, due_at)
);
CREATE INDEX stats_report_files_expires ON stats_report_files (expires_at);
CREATE INDEX stats_report_files_owner ON stats_report_files (owner_id, produced_at);
