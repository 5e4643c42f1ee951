-- 0003 annual rounds (年度积分落户批次): the year, the rulebook version that
-- scores it, the quota, and the dated windows of the procedure. A window is
-- open from opens_at (inclusive) to closes_at (exclusive); the application
-- compares them with its clock on every action, so no job opens or closes
-- anything. Times are UTC Unix microseconds (BIGINT).

CREATE TABLE rounds (
    id         INTEGER PRIMARY KEY,
    year       INTEGER NOT NULL UNIQUE CHECK (year BETWEEN 2018 AND 2100),
    rulebook   TEXT    NOT NULL,
    quota      INTEGER NOT NULL CHECK (quota > 0),
    title      TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    created_by BIGINT  NOT NULL DEFAULT 0
);

-- One row per window kind of a round, in the procedure's order:
-- employer_registration, application, employer_submission, crosscheck,
-- result_viewing, review, publication, public_notice, settlement.
CREATE TABLE round_windows (
    round_id  BIGINT NOT NULL REFERENCES rounds (id),
    kind      TEXT   NOT NULL CHECK (kind IN ('employer_registration', 'application', 'employer_submission',
                  'crosscheck', 'result_viewing', 'review', 'publication', 'public_notice', 'settlement')),
    opens_at  BIGINT NOT NULL,
    closes_at BIGINT NOT NULL,
    PRIMARY KEY (round_id, kind),
    CHECK (opens_at < closes_at)
);
