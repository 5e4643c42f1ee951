-- The fraud register (虚假材料库, internal/fraud): a person who submitted
-- false material, or an employer that helped, is barred from applying
-- (filing) in the decision's year and the next five. An entry is proposed
-- by one officer and takes effect only when another approves it; status and
-- version guard every change so that of two approvers exactly one wins.
-- person_id / employer_id are 0 when the entry is about the other kind.
CREATE TABLE fraud_entries (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL CHECK (kind IN ('person', 'employer')),
    person_id      BIGINT  NOT NULL DEFAULT 0,
    employer_id    BIGINT  NOT NULL DEFAULT 0,
    subject_name   TEXT    NOT NULL,
    district       TEXT    NOT NULL DEFAULT '',
    item           TEXT    NOT NULL DEFAULT '',
    what           TEXT    NOT NULL,
    decided_on     TEXT    NOT NULL,
    ban_from_year  INTEGER NOT NULL,
    ban_to_year    INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'in_force', 'rejected')),
    version        INTEGER NOT NULL DEFAULT 1,
    proposed_by    BIGINT  NOT NULL,
    proposed_at    BIGINT  NOT NULL,
    decided_by     BIGINT  NOT NULL DEFAULT 0,
    decided_at     BIGINT  NOT NULL DEFAULT 0,
    decision_note  TEXT    NOT NULL DEFAULT '',
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX fraud_entries_person ON fraud_entries (person_id, status);
CREATE INDEX fraud_entries_employer ON fraud_entries (employer_id, status);
CREATE INDEX fraud_entries_list ON fraud_entries (district, status, id);
-- One entry awaiting approval per subject: a second proposal is a conflict,
-- even when two officers send theirs at the same moment.
CREATE UNIQUE INDEX fraud_entries_one_pending ON fraud_entries (kind, person_id, employer_id) WHERE status = 'pending';
