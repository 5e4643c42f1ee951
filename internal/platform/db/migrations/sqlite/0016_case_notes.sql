-- 0016: the case view (案件视图). Officers' notes on an application, kept
-- apart from the application's timeline: a note is the office's work, not
-- a change of the application, and the applicant never sees it.
CREATE TABLE case_notes (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES applications (id),
    author_id      BIGINT NOT NULL,
    author_role    TEXT   NOT NULL,
    district       TEXT   NOT NULL DEFAULT '',
    body           TEXT   NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX case_notes_app ON case_notes (application_id, id);

-- Related cases "at the same address" are applications of other employers
-- registered at the employer's address (the only street address jifen
-- keeps: persons have none, a declaration names districts only).
CREATE INDEX employers_address ON employers (address);
