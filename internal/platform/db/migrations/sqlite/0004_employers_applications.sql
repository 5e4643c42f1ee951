-- 0004: employers and their operators, applicants, employer links,
-- applications with their timeline, attachments, 复查 requests, and the
-- partner agencies' own records (written by jifen synth, served by agencysim).

-- Staff of a district bureau work on the cases of that district only.
ALTER TABLE users ADD COLUMN district TEXT NOT NULL DEFAULT '';

CREATE TABLE employers (
    id            INTEGER PRIMARY KEY,
    credit_code   TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    district      TEXT    NOT NULL,
    address       TEXT    NOT NULL,
    legal_rep     TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'verified', 'rejected')),
    reg_code      TEXT    UNIQUE,
    reg_code_at   BIGINT  NOT NULL DEFAULT 0,
    decided_at    BIGINT  NOT NULL DEFAULT 0,
    decided_by    BIGINT  NOT NULL DEFAULT 0,
    reject_reason TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX employers_district_status ON employers (district, status);

CREATE TABLE employer_operators (
    user_id     BIGINT  PRIMARY KEY REFERENCES users (id),
    employer_id BIGINT  NOT NULL REFERENCES employers (id),
    is_primary  BOOLEAN NOT NULL DEFAULT FALSE,
    invited_by  BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX employer_operators_employer ON employer_operators (employer_id);

CREATE TABLE employer_invites (
    id          INTEGER PRIMARY KEY,
    employer_id BIGINT NOT NULL REFERENCES employers (id),
    email       TEXT   NOT NULL,
    token_hash  TEXT   NOT NULL UNIQUE,
    expires_at  BIGINT NOT NULL,
    created_by  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    accepted_by BIGINT NOT NULL DEFAULT 0,
    accepted_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE persons (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL UNIQUE REFERENCES users (id),
    id_enc     TEXT   NOT NULL,
    id_idx     TEXT   NOT NULL UNIQUE,
    name       TEXT   NOT NULL,
    birth_date TEXT   NOT NULL,
    sex        TEXT   NOT NULL CHECK (sex IN ('M', 'F')),
    created_at BIGINT NOT NULL
);

CREATE TABLE employer_links (
    id          INTEGER PRIMARY KEY,
    round_id    BIGINT NOT NULL REFERENCES rounds (id),
    person_id   BIGINT NOT NULL REFERENCES persons (id),
    employer_id BIGINT NOT NULL REFERENCES employers (id),
    status      TEXT   NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected', 'unlinked')),
    reason      TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    decided_at  BIGINT NOT NULL DEFAULT 0,
    decided_by  BIGINT NOT NULL DEFAULT 0
);
-- At most one confirmed employer per applicant per round, and one pending
-- request per applicant and employer: constraints, not only checks in code.
CREATE UNIQUE INDEX employer_links_one_confirmed ON employer_links (round_id, person_id) WHERE status = 'confirmed';
CREATE UNIQUE INDEX employer_links_one_pending ON employer_links (round_id, person_id, employer_id) WHERE status = 'pending';
CREATE INDEX employer_links_employer ON employer_links (employer_id, round_id, status);
CREATE INDEX employer_links_person ON employer_links (person_id, round_id);

CREATE TABLE applications (
    id            INTEGER PRIMARY KEY,
    round_id      BIGINT  NOT NULL REFERENCES rounds (id),
    person_id     BIGINT  NOT NULL REFERENCES persons (id),
    employer_id   BIGINT  NOT NULL REFERENCES employers (id),
    status        TEXT    NOT NULL,
    declaration   TEXT    NOT NULL,
    estimate      BIGINT  NOT NULL DEFAULT 0,
    eligible      BOOLEAN NOT NULL DEFAULT FALSE,
    truthful_at   BIGINT  NOT NULL DEFAULT 0,
    submitted_at  BIGINT  NOT NULL DEFAULT 0,
    filed_at      BIGINT  NOT NULL DEFAULT 0,
    return_reason TEXT    NOT NULL DEFAULT '',
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    UNIQUE (round_id, person_id)
);
CREATE INDEX applications_employer ON applications (employer_id, round_id, status);
CREATE INDEX applications_round_status ON applications (round_id, status);

CREATE TABLE application_events (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES applications (id),
    at             BIGINT NOT NULL,
    from_status    TEXT   NOT NULL,
    to_status      TEXT   NOT NULL,
    actor_id       BIGINT NOT NULL DEFAULT 0,
    actor_role     TEXT   NOT NULL DEFAULT '',
    reason         TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX application_events_app ON application_events (application_id, id);

CREATE TABLE attachments (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES applications (id),
    indicator      TEXT   NOT NULL,
    blob_key       TEXT   NOT NULL,
    filename       TEXT   NOT NULL,
    content_type   TEXT   NOT NULL,
    size_bytes     BIGINT NOT NULL,
    uploaded_by    BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    deleted_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX attachments_app ON attachments (application_id, deleted_at);

CREATE TABLE review_requests (
    id             INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL UNIQUE REFERENCES applications (id),
    indicators     TEXT   NOT NULL,
    reason         TEXT   NOT NULL,
    employer_note  TEXT   NOT NULL DEFAULT '',
    status         TEXT   NOT NULL CHECK (status IN ('requested', 'forwarded', 'received')),
    created_at     BIGINT NOT NULL,
    forwarded_at   BIGINT NOT NULL DEFAULT 0,
    received_at    BIGINT NOT NULL DEFAULT 0
);

-- The partner agencies' own records of people and employers, keyed by the
-- SM3 digest of the subject's identity number or credit code. jifen synth
-- writes them; agencysim serves them. jifen itself never reads them.
CREATE TABLE agency_records (
    agency     TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    payload    TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (agency, subject)
);
