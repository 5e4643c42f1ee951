-- The pre-check before submission (预核验, issue 17 item 1). An applicant's
-- consent to it, with the purpose they agreed to; withdrawn_at > 0 is a
-- withdrawn consent, under which nothing is asked. used_at is written by
-- every request so the row is the lock that serialises one person's
-- requests (the daily limit holds under concurrent requests).
CREATE TABLE precheck_consents (
    person_id    BIGINT  PRIMARY KEY REFERENCES persons (id),
    purpose      TEXT    NOT NULL,
    granted_at   BIGINT  NOT NULL,
    withdrawn_at BIGINT  NOT NULL DEFAULT 0,
    used_at      BIGINT  NOT NULL DEFAULT 0
);
-- One pre-check: the declaration as it was checked, what the agencies hold
-- (verified, the facts built from their answers), the outcome of each check
-- item, each agency's state (answered, or unavailable and when to retry),
-- and the counts, the only part an employer sees. day is the Beijing day of
-- the request, counted against the daily limit. status: queued | done |
-- cancelled (the consent was withdrawn before the agencies were asked).
CREATE TABLE prechecks (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT  NOT NULL REFERENCES applications (id),
    person_id      BIGINT  NOT NULL REFERENCES persons (id),
    day            TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    requested_at   BIGINT  NOT NULL,
    finished_at    BIGINT  NOT NULL DEFAULT 0,
    declaration    TEXT    NOT NULL,
    verified       TEXT    NOT NULL DEFAULT '',
    outcomes       TEXT    NOT NULL DEFAULT '',
    agencies       TEXT    NOT NULL DEFAULT '',
    matched        INTEGER NOT NULL DEFAULT 0,
    mismatched     INTEGER NOT NULL DEFAULT 0,
    not_found      INTEGER NOT NULL DEFAULT 0,
    unavailable    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX prechecks_person_day ON prechecks (person_id, day);
CREATE INDEX prechecks_application ON prechecks (application_id, id);
