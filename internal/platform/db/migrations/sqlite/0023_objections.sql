-- Objections to a published list (异议/举报, internal/objection): anyone may
-- lodge one against a row of the current published list during its notice
-- period and follow it by its receipt number; city officers assign,
-- investigate and answer it. status and version guard every change so that
-- of two officers answering at once exactly one wins. contact_enc is the
-- optional contact sealed with the keyring (SM4, "" when none was given).
-- attachment_key names a file of the objections' own blob store ("" when
-- none); its type is the sniffed one, never the name's.
CREATE TABLE objections (
    id               INTEGER PRIMARY KEY,
    receipt          TEXT    NOT NULL UNIQUE,
    year             INTEGER NOT NULL,
    number           TEXT    NOT NULL,
    grounds          TEXT    NOT NULL,
    contact_enc      TEXT    NOT NULL DEFAULT '',
    attachment_key   TEXT    NOT NULL DEFAULT '',
    attachment_type  TEXT    NOT NULL DEFAULT '',
    attachment_size  BIGINT  NOT NULL DEFAULT 0,
    status           TEXT    NOT NULL CHECK (status IN ('lodged', 'investigating', 'answered')),
    outcome          TEXT    NOT NULL DEFAULT '' CHECK (outcome IN ('', 'upheld', 'dismissed')),
    answer           TEXT    NOT NULL DEFAULT '',
    assigned_to      BIGINT  NOT NULL DEFAULT 0,
    created_at       BIGINT  NOT NULL,
    answered_at      BIGINT  NOT NULL DEFAULT 0,
    answered_by      BIGINT  NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 1,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX objections_queue ON objections (status, year, id);
CREATE INDEX objections_number ON objections (year, number);

-- The timeline of an objection shown in the office: who did what, when,
-- with the officer's note. Internal: the public follow page never reads it.
CREATE TABLE objection_events (
    id            INTEGER PRIMARY KEY,
    objection_id  BIGINT  NOT NULL REFERENCES objections (id),
    kind          TEXT    NOT NULL,
    actor_id      BIGINT  NOT NULL DEFAULT 0,
    note          TEXT    NOT NULL DEFAULT '',
    at            BIGINT  NOT NULL
);
CREATE INDEX objection_events_of ON objection_events (objection_id, id);
